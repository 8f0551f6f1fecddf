"""Text generation on each runtime: one timed greedy generation per call, every token's time stamped.

``--mode generate`` loads one of these instead of an inference model (the torch, OpenVINO and ONNX Runtime
adapters dispatch here from ``load``). Each :class:`~workbench_engines.base.GenerativeModel` takes token ids (fed
directly on every engine: no engine's tokenizer decides what the prompt is) and returns a
:class:`~workbench_engines.base.GenerationTrace`: the ids it generated and, per output token, the nanoseconds it
took — the first one is the time to first token (the prompt's prefill plus picking the first token), each later
one a decode step.

* **torch** — a manual KV-cache loop over transformers' ``AutoModelForCausalLM`` (``DynamicCache``, prefill with
  ``logits_to_keep=1``, then one forward per token), every step timed with ``perf_counter_ns``; int8 is
  ``torch.ao.quantization.quantize_dynamic`` on the Linear layers (dynamic int8 activations, int8 weights).
* **OpenVINO GenAI** — ``LLMPipeline`` with prefix caching off, the precision properties set explicitly and read
  back, a streamer stamping each token; its own ``perf_metrics`` (TTFT, TPOT) are kept beside ours.
* **ONNX Runtime GenAI** — ``og.Generator``: ``append_tokens`` (prefill) and each ``generate_next_token`` timed;
  threads through ``og.Config.overlay`` (it has no affinity setting: the benchmark child is pinned before it
  imports anything).

Greedy by default, seeded sampling (:class:`~workbench_engines.base.Sampling`: temperature, top-k, top-p, the
generator seeded at the start of every call) as an option; a batch of prompts of one length on torch and ONNX
Runtime GenAI (OpenVINO's LLMPipeline streams only batch 1: :data:`BATCH_REFUSAL`); torch also on CUDA. The
end-of-sequence token does not stop a generation (every engine generates exactly ``new_tokens`` tokens, without
masking EOS, so greedy ids stay comparable). ``kv_cache`` says how big the KV cache was and whether that was read
or computed.

Heavy imports happen inside the functions: this module is imported by the adapters only in ``load``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError

from .base import Effective, GenerationTrace, GenerativeModel, LoadSettings, ModelArtifact, Sampling
from .llamacpp_engine import BATCH_REFUSAL as LLAMACPP_BATCH_REFUSAL

#: The precisions a generation can run at per engine (weights for int8/int4).
GENERATE_PRECISIONS = {
    "torch": ("fp32", "bf16", "int8"),
    "openvino": ("fp32", "bf16", "int8", "int4"),
    "onnxruntime": ("fp32", "int8", "int4"),
}


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 arithmetic (AVX-512 BF16 or AMX BF16), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def check_precision(engine: str, precision: str, device: str = "cpu") -> None:
    """``precision`` is one ``engine`` generates at; bf16 on the CPU only where the CPU has it natively (on CUDA
    the torch loader asks the GPU)."""
    allowed = GENERATE_PRECISIONS[engine]
    if precision not in allowed:
        raise UnsupportedError(
            f"{engine} generates at {', '.join(allowed)}, not {precision}"
            + (" (ONNX Runtime GenAI's CPU builder has no bf16 model)" if engine == "onnxruntime" else "")
        )
    if precision == "bf16" and device == "cpu" and not cpu_has_bf16():
        raise UnsupportedError(
            f"{engine} bf16: this CPU has no native bf16 (no avx512_bf16 / amx_bf16 flag in /proc/cpuinfo); "
            "bf16 would be emulated in fp32 arithmetic, not measured as bf16"
        )


def _folder(artifact: ModelArtifact, fmt: str, precision: str) -> Path:
    variant = artifact.variants.get(precision) if precision in ("int8", "int4") else None
    if variant is not None and fmt in variant.files:
        return Path(variant.files[fmt])
    if precision in ("int8", "int4") and fmt != "hf-causal-lm":
        why = variant.errors.get(fmt) if variant is not None else None
        raise UnsupportedError(f"no {precision} {fmt} model was prepared" + (f": {why}" if why else ""))
    if fmt not in artifact.files:
        raise UnsupportedError(f"{artifact.name!r} has no {fmt} folder (it has {', '.join(sorted(artifact.files))})")
    return Path(artifact.files[fmt])


# ---- torch -------------------------------------------------------------------------------------------------------
def cache_keyword(model: Any) -> str:
    """The keyword a transformers model's ``forward`` takes the KV cache by: ``cache`` (transformers >= 5.2x,
    where ``past_key_values`` is deprecated) or ``past_key_values``."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def kv_bytes(layers: int, kv_heads: int, head_dim: int, tokens: int, batch: int, item_bytes: int) -> int:
    """Bytes of a KV cache holding ``tokens`` positions of ``batch`` sequences: a key and a value per layer."""
    return 2 * layers * kv_heads * head_dim * tokens * batch * item_bytes


def _config_kv_bytes(cfg: dict[str, Any], tokens: int, batch: int, item_bytes: int) -> int | None:
    """:func:`kv_bytes` from a Hugging Face ``config.json``'s fields (None when they are missing)."""
    try:
        layers = int(cfg["num_hidden_layers"])
        heads = int(cfg["num_attention_heads"])
        kv_heads = int(cfg.get("num_key_value_heads") or heads)
        head_dim = int(cfg.get("head_dim") or int(cfg["hidden_size"]) // heads)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    return kv_bytes(layers, kv_heads, head_dim, tokens, batch, item_bytes)


def torch_sample(torch: Any, logits: Any, sampling: Sampling, generator: Any) -> Any:
    """One token per row of ``logits`` ``[batch, vocab]``: temperature, then top-k, then top-p (nucleus, at least
    one token kept), drawn with ``generator`` (``torch.multinomial``)."""
    scores = logits.float() / max(sampling.temperature, 1e-6)
    if 0 < sampling.top_k < scores.shape[-1]:
        kth = torch.topk(scores, sampling.top_k, dim=-1).values[:, -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if sampling.top_p < 1.0:
        ordered, order = torch.sort(scores, dim=-1, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        drop = probs.cumsum(-1) - probs > sampling.top_p  # the mass before a token already reaches top_p
        ordered = ordered.masked_fill(drop, float("-inf"))
        scores = torch.full_like(scores, float("-inf")).scatter(-1, order, ordered)
    return torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator).squeeze(-1)


class TorchGenerator(GenerativeModel):
    def __init__(
        self,
        model: Any,
        torch: Any,
        precision: str,
        detail: dict[str, Any],
        threads: int | None,
        device: str = "cpu",
    ) -> None:
        super().__init__(())
        self._model = model
        self._torch = torch
        self._precision = precision
        self._detail = detail
        self._threads = threads
        self._device = device
        self._cache_kw = cache_keyword(model)
        self._kv_bytes: int | None = None
        self.loop = "manual"

    def _now(self) -> int:
        """``perf_counter_ns`` after the GPU finished what was queued (on CUDA kernels run asynchronously: a
        timestamp without a synchronize would time their launch, not their work)."""
        if self._device.startswith("cuda"):
            self._torch.cuda.synchronize()
        return time.perf_counter_ns()

    def generate(self, prompts: list[list[int]], new_tokens: int, sampling: Sampling | None = None) -> GenerationTrace:
        if self.loop == "hf":
            return self._hf_generate(prompts, new_tokens, sampling)
        torch = self._torch
        from transformers import DynamicCache

        now = self._now
        model = self._model
        ids = torch.tensor([list(p) for p in prompts], dtype=torch.long, device=self._device)
        gen = torch.Generator(device=self._device).manual_seed(sampling.seed) if sampling else None

        def pick(logits: Any) -> Any:
            return torch_sample(torch, logits, sampling, gen) if sampling else logits.argmax(-1)

        times: list[int] = []
        rows: list[Any] = []
        kv = self._cache_kw
        with torch.inference_mode():
            cache = DynamicCache(config=model.config)
            t0 = now()
            out = model(input_ids=ids, **{kv: cache}, use_cache=True, logits_to_keep=1)
            nxt = pick(out.logits[:, -1, :])
            rows.append(nxt.cpu())
            t1 = now()
            times.append(t1 - t0)
            logits = out.logits[0, -1, :].float().cpu().numpy().copy()
            for _ in range(new_tokens - 1):
                t0 = now()
                out = model(input_ids=nxt[:, None], **{kv: cache}, use_cache=True)
                nxt = pick(out.logits[:, -1, :])
                rows.append(nxt.cpu())
                t1 = now()
                times.append(t1 - t0)
            self._kv_bytes = _cache_bytes(cache)
        sequences = torch.stack(rows, dim=1).tolist()
        return GenerationTrace(tokens=sequences[0], step_ns=times, prefill_logits=logits, sequences=sequences)

    def _hf_generate(self, prompts: list[list[int]], new_tokens: int, sampling: Sampling | None) -> GenerationTrace:
        """transformers' ``generate`` (greedy, or sampling seeded with ``torch.manual_seed``), each step stamped
        when its streamer receives the batch's tokens."""
        torch = self._torch
        from transformers.generation.streamers import BaseStreamer

        now = self._now
        stamps: list[int] = []
        rows: list[list[int]] = []

        class Stamp(BaseStreamer):
            prompt_seen = False

            def put(self, value: Any) -> None:
                if not self.prompt_seen:  # the first put is the prompt
                    self.prompt_seen = True
                    return
                stamps.append(now())
                rows.append([int(t) for t in value.reshape(-1).tolist()])

            def end(self) -> None:
                pass

        ids = torch.tensor([list(p) for p in prompts], dtype=torch.long, device=self._device)
        kw: dict[str, Any] = {"do_sample": False}
        if sampling:
            torch.manual_seed(sampling.seed)
            kw = {
                "do_sample": True,
                "temperature": sampling.temperature,
                "top_k": sampling.top_k,
                "top_p": sampling.top_p,
            }
        with torch.inference_mode():
            t0 = now()
            self._model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                streamer=Stamp(),
                pad_token_id=0,
                **kw,
            )
        times = [stamps[0] - t0] + [b - a for a, b in zip(stamps, stamps[1:])] if stamps else []
        sequences = [list(col) for col in zip(*rows)] if rows else [[] for _ in prompts]
        self._kv_bytes = None
        return GenerationTrace(tokens=sequences[0], step_ns=times, sequences=sequences)

    def kv_cache(self, prompt_tokens: int, new_tokens: int, batch: int) -> dict[str, Any]:
        if self._kv_bytes is None:
            return {"mb": None, "source": "not read: transformers generate keeps its cache inside the call"}
        return {
            "mb": self._kv_bytes / 2**20,
            "source": "read: bytes of the DynamicCache's key and value tensors after the generation",
        }

    def effective(self) -> Effective:
        loop = (
            "torch eager, manual KV-cache loop (DynamicCache; prefill with logits_to_keep=1)"
            if self.loop == "manual"
            else "transformers generate (min_new_tokens=new tokens), tokens stamped by a streamer"
        )
        extra = {
            "runtime": loop,
            "attention": getattr(self._model.config, "_attn_implementation", None),
            **self._detail,
        }
        if self._device.startswith("cuda"):
            extra["gpu"] = self._torch.cuda.get_device_name(self._torch.device(self._device))
            extra["timing"] = "torch.cuda.synchronize() before every timestamp"
        threads = self._torch.get_num_threads()
        return Effective(device=self._device, precision=self._precision, threads=threads, extra=extra)


def _cache_bytes(cache: Any) -> int | None:
    """Bytes of a transformers cache's key and value tensors (``layers[i].keys/values`` in transformers 5,
    ``key_cache``/``value_cache`` lists before); None when neither layout is there."""
    tensors: list[Any] = []
    for layer in getattr(cache, "layers", None) or []:
        tensors += [getattr(layer, "keys", None), getattr(layer, "values", None)]
    if not tensors:
        tensors = list(getattr(cache, "key_cache", []) or []) + list(getattr(cache, "value_cache", []) or [])
    found = [t for t in tensors if t is not None and hasattr(t, "element_size")]
    return sum(int(t.numel()) * int(t.element_size()) for t in found) if found else None


def load_torch(artifact: ModelArtifact, s: LoadSettings) -> GenerativeModel:
    device = s.device or "cpu"
    check_precision("torch", s.precision, device)
    if str(s.options.get("compile") or "off") != "off":
        raise UnsupportedError("torch.compile is not applied in --mode generate (the loop runs eager)")
    if str(s.options.get("int8_path") or "auto") not in ("auto", "dynamic"):
        raise UnsupportedError("torch int8 generation is quantize_dynamic on the Linear layers (int8_path=dynamic)")
    if device.startswith("cuda") and s.precision == "int8":
        raise UnsupportedError(
            "torch int8 generation is quantize_dynamic, whose kernels are CPU ones; use fp32 or bf16"
        )
    folder = _folder(artifact, "hf-causal-lm", "fp32")
    t0 = time.perf_counter_ns()
    import torch

    if s.threads:
        torch.set_num_threads(int(s.threads))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise EngineUnavailable(
            "torch: no CUDA device available (this torch build or machine has no GPU); use --device cpu"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise UnsupportedError(f"torch: unknown device {device!r}; use cpu or cuda")
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 (TF32 matmuls are a different function)
        if s.precision == "bf16" and not torch.cuda.is_bf16_supported():
            raise UnsupportedError(f"torch: {torch.cuda.get_device_name()} does not support bf16")
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)
    from transformers import AutoModelForCausalLM

    dtype = torch.bfloat16 if s.precision == "bf16" else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, local_files_only=True).eval()
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"torch could not load the causal LM in {folder}: {str(exc).splitlines()[0]}") from exc
    detail: dict[str, Any] = {"weights_dtype": str(next(model.parameters()).dtype).removeprefix("torch.")}
    if s.precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        model = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        n = sum(1 for m in model.modules() if type(m).__name__ == "Linear" and "quantized" in type(m).__module__)
        detail["int8"] = f"torch.ao.quantization.quantize_dynamic: {n} Linear layers int8 (dynamic activations)"
        if n == 0:
            raise UnsupportedError("torch int8: quantize_dynamic replaced no Linear layer")
    if device.startswith("cuda"):
        model = model.to(device)
        detail["weights_device"] = str(next(model.parameters()).device)
    gen = TorchGenerator(model, torch, s.precision, detail, s.threads, device)
    gen.loop = str(s.options.get("generate_loop") or "manual")
    gen.load_ms = (time.perf_counter_ns() - t0) / 1e6
    return gen


# ---- OpenVINO GenAI ----------------------------------------------------------------------------------------------
_OV_HINT = {"fp32": "f32", "int8": "f32", "int4": "f32", "bf16": "bf16"}
#: GB of paged KV-cache blocks OpenVINO GenAI's scheduler is given (its default takes a share of the RAM)
KV_POOL_GB = 1

#: the line for a runtime that cannot generate a batch of token-id prompts with every step timed
BATCH_REFUSAL = {
    "openvino": "openvino generates batch 1 only here: LLMPipeline takes a batch only as text (its tokenizer would "
    "decide the prompts) and streams, so times each step, only at batch 1; run --batch 1 on openvino",
    "llamacpp": LLAMACPP_BATCH_REFUSAL,
}

#: the line for a GenAI runtime asked to generate off the CPU (``{device}``: the device asked for)
CPU_ONLY_REFUSAL = {
    "openvino": "openvino generates on the CPU only here (OpenVINO GenAI's CPU plugin); --device {device} "
    "generates with -e torch",
    "onnxruntime": "onnxruntime generates on the CPU only here (the CPU build of ONNX Runtime GenAI); --device "
    "{device} generates with -e torch",
}

_OV_KV = {"fp32": "f32", "int8": "f32", "int4": "f32", "bf16": "bf16"}


class OvGenAIGenerator(GenerativeModel):
    def __init__(self, pipe: Any, genai: Any, readback: dict[str, Any], precision: str, folder: Path) -> None:
        super().__init__(())
        self._folder = folder
        self._pipe = pipe
        self._genai = genai
        self._readback = readback
        self._precision = precision
        # LLMPipeline gives no logits: parity is on the greedy tokens (a compiled copy for the prompt's logits
        # would sit beside the pipeline and inflate its peak RSS)

    def generate(self, prompts: list[list[int]], new_tokens: int, sampling: Sampling | None = None) -> GenerationTrace:
        import numpy as np
        import openvino as ov

        if len(prompts) != 1:
            raise UnsupportedError(BATCH_REFUSAL["openvino"])
        genai = self._genai
        perf = time.perf_counter_ns
        stamps: list[int] = []
        tokens: list[int] = []

        class Stamp(genai.StreamerBase):  # type: ignore[name-defined]
            def write(self, token: Any) -> Any:
                stamps.append(perf())
                tokens.extend([int(t) for t in token] if isinstance(token, list) else [int(token)])
                return genai.StreamingStatus.RUNNING

            def end(self) -> None:
                pass

        cfg = genai.GenerationConfig()
        cfg.max_new_tokens = new_tokens
        cfg.min_new_tokens = 0
        cfg.ignore_eos = True
        cfg.do_sample = sampling is not None
        if sampling is not None:
            cfg.temperature = sampling.temperature
            cfg.top_k = sampling.top_k
            cfg.top_p = sampling.top_p
            cfg.rng_seed = sampling.seed
        ids = ov.Tensor(np.array([list(prompts[0])], dtype=np.int64))
        t0 = perf()
        res = self._pipe.generate(ids, cfg, Stamp())
        times = [stamps[0] - t0] + [b - a for a, b in zip(stamps, stamps[1:])] if stamps else []
        own: dict[str, Any] = {}
        try:
            pm = res.perf_metrics
            own = {
                "ttft_ms": float(pm.get_ttft().mean),
                "tpot_ms": float(pm.get_tpot().mean),
                "throughput_tokens_per_s": float(pm.get_throughput().mean),
                "generate_ms": float(pm.get_generate_duration().mean),
                "token_times": len(list(pm.raw_metrics.m_new_token_times)),
            }
        except Exception as exc:  # advisory: our own timing stands
            own = {"error": f"{type(exc).__name__}: {exc}"}
        tokens = tokens[:new_tokens]
        return GenerationTrace(tokens=tokens, step_ns=times[:new_tokens], engine_metrics=own, sequences=[tokens])

    def kv_cache(self, prompt_tokens: int, new_tokens: int, batch: int) -> dict[str, Any]:
        """LLMPipeline reports no KV usage: computed from the IR folder's ``config.json`` at the KV-cache
        precision read back; the paged pool it may fill is the configured ``SchedulerConfig.cache_size``."""
        kv = str(self._readback.get("KV_CACHE_PRECISION") or "").lower()
        item = {"f32": 4, "bf16": 2, "f16": 2, "u8": 1, "i8": 1}.get(kv)
        cfg = _read_json(self._folder / "config.json")
        size = _config_kv_bytes(cfg, prompt_tokens + new_tokens, batch, item) if item and cfg else None
        return {
            "mb": size / 2**20 if size is not None else None,
            "source": f"computed: 2 x layers x KV heads x head dim x {prompt_tokens + new_tokens} positions x "
            f"{batch} sequence(s) x {item or '?'} bytes (KV_CACHE_PRECISION {kv or 'unknown'} read back); not "
            f"reported by LLMPipeline, whose paged pool is configured at SchedulerConfig.cache_size="
            f"{self._readback.get('kv_pool_gb')} GB",
        }

    def effective(self) -> Effective:
        rb = self._readback
        hint = str(rb.get("INFERENCE_PRECISION_HINT", "")).lower()
        precision = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}.get(hint, hint or "unknown")
        if self._precision in ("int8", "int4") and precision == "fp32":
            precision = self._precision  # int8/int4 weights (NNCF), f32 activations: said in extra
        threads = rb.get("INFERENCE_NUM_THREADS")
        return Effective(
            device="cpu",
            precision=precision,
            threads=int(threads) if threads else None,
            extra={"runtime": "openvino_genai.LLMPipeline (continuous batching, paged attention)", **rb},
        )


def load_openvino(artifact: ModelArtifact, s: LoadSettings) -> GenerativeModel:
    check_precision("openvino", s.precision)
    folder = _folder(artifact, "openvino-genai", s.precision)
    try:
        import openvino as ov
        import openvino_genai as genai
    except ImportError as exc:
        raise EngineUnavailable(
            f"openvino generate needs openvino-genai: pip install openvino-genai=={_ov_version()} ({exc})"
        ) from None
    threads = int(s.threads) if s.threads else None
    props: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": _OV_HINT[s.precision],
        "KV_CACHE_PRECISION": _OV_KV[s.precision],
        "DYNAMIC_QUANTIZATION_GROUP_SIZE": 0,  # off: its default on this CPU quantizes activations (no parity)
    }
    if threads:
        props["INFERENCE_NUM_THREADS"] = threads
    sched = genai.SchedulerConfig()
    sched.enable_prefix_caching = False  # on by default: a repeated prompt would show a cached, fake TTFT
    sched.cache_size = KV_POOL_GB  # GB of KV cache blocks (the default takes a share of RAM)
    # LLMPipeline does not expose its compiled model: compile the same IR with the same properties first, read
    # back what the CPU plugin resolves them to, and free it before the pipeline loads (so the copy is not held
    # beside the pipeline; the peak RSS is the larger of the two, see docs/engines.md)
    core = ov.Core()
    compiled = core.compile_model(str(folder / "openvino_model.xml"), "CPU", props)
    readback: dict[str, Any] = {}
    for key in ("INFERENCE_PRECISION_HINT", "KV_CACHE_PRECISION", "DYNAMIC_QUANTIZATION_GROUP_SIZE"):
        try:
            value = compiled.get_property(key)
            readback[key] = value.to_string() if hasattr(value, "to_string") else str(value)
        except Exception:
            readback[key] = None
    try:
        readback["INFERENCE_NUM_THREADS"] = int(compiled.get_property("INFERENCE_NUM_THREADS"))
    except Exception:
        readback["INFERENCE_NUM_THREADS"] = threads
    del compiled, core
    t0 = time.perf_counter_ns()
    try:
        pipe = genai.LLMPipeline(str(folder), "CPU", scheduler_config=sched, **props)
    except RuntimeError as exc:
        raise ModelError(f"openvino_genai could not load {folder}: {_last_line(exc)}") from exc
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    readback["requested"] = {k: str(v) for k, v in props.items()}
    readback["prefix_caching"] = False
    readback["kv_pool_gb"] = KV_POOL_GB
    readback["readback"] = "compiled copy of openvino_model.xml with the same properties (LLMPipeline hides its own)"
    weights = (artifact.export.get("openvino-genai") or {}).get("weights") if s.precision == "fp32" else None
    variant = artifact.variants.get(s.precision)
    if variant is not None:
        weights = (variant.details.get("openvino-genai") or {}).get("weights")
    readback["weights"] = weights
    gen = OvGenAIGenerator(pipe, genai, readback, s.precision, folder)
    gen.load_ms = load_ms
    return gen


def _ov_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("openvino")
    except importlib.metadata.PackageNotFoundError:
        return "<your openvino version>"


def _last_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__


# ---- ONNX Runtime GenAI ------------------------------------------------------------------------------------------
class OrtGenAIGenerator(GenerativeModel):
    def __init__(
        self, model: Any, og: Any, precision: str, extra: dict[str, Any], threads: int | None, gconf: dict[str, Any]
    ) -> None:
        super().__init__(())
        self._gconf = gconf
        self.kv_item_bytes: int | None = None  # bytes per element of the KV cache (its past-key input's type)
        self._model = model
        self._og = og
        self._precision = precision
        self._extra = extra
        self._threads = threads

    def generate(self, prompts: list[list[int]], new_tokens: int, sampling: Sampling | None = None) -> GenerationTrace:
        import numpy as np

        og = self._og
        perf = time.perf_counter_ns
        batch = len(prompts)
        params = og.GeneratorParams(self._model)
        search: dict[str, Any] = {"do_sample": False}
        if sampling is not None:
            search = {
                "do_sample": True,
                "temperature": sampling.temperature,
                "top_k": sampling.top_k,
                "top_p": sampling.top_p,
                "random_seed": sampling.seed,
            }
        params.set_search_options(max_length=len(prompts[0]) + new_tokens, batch_size=batch, **search)
        gen = og.Generator(self._model, params)
        times: list[int] = []
        rows: list[list[int]] = []
        t0 = perf()
        gen.append_tokens(np.array([list(p) for p in prompts], dtype=np.int32))
        for i in range(new_tokens):
            if i == 1:
                t0 = perf()
            gen.generate_next_token()
            row = [int(t) for t in gen.get_next_tokens()]
            t1 = perf()
            times.append(t1 - t0)
            rows.append(row)
            t0 = t1
            if gen.is_done() and i < new_tokens - 1:
                break
        sequences = [list(col) for col in zip(*rows)] if rows else [[] for _ in prompts]
        return GenerationTrace(tokens=sequences[0], step_ns=times, sequences=sequences)

    def kv_cache(self, prompt_tokens: int, new_tokens: int, batch: int) -> dict[str, Any]:
        """ONNX Runtime GenAI reports no cache size: computed from ``genai_config.json`` (layers, KV heads, head
        size; with ``past_present_share_buffer`` the buffer is allocated for ``max_length`` = prompt + new tokens)
        and the element type of the model's past-key input."""
        d = self._gconf.get("model", {}).get("decoder", {})
        item = self.kv_item_bytes
        if item is None:
            return {"mb": None, "source": "not computed: the model's past-key input type was not readable"}
        try:
            size = kv_bytes(
                int(d["num_hidden_layers"]),
                int(d.get("num_key_value_heads") or d["num_attention_heads"]),
                int(d["head_size"]),
                prompt_tokens + new_tokens,
                batch,
                item,
            )
        except (KeyError, TypeError, ValueError):
            return {"mb": None, "source": "not computed: genai_config.json lacks the cache's dimensions"}
        return {
            "mb": size / 2**20,
            "source": f"computed from genai_config.json: 2 x layers x KV heads x head size x {prompt_tokens + new_tokens}"
            f" positions (max_length, past_present_share_buffer) x {batch} sequence(s) x {item} bytes "
            "(the past-key input's element type)",
        }

    def prefill_logits(self, prompt_ids: list[int]) -> Any:
        """The prompt's last-position logits — and how many positions the model computed logits for."""
        import numpy as np

        og = self._og
        params = og.GeneratorParams(self._model)
        params.set_search_options(max_length=len(prompt_ids) + 1, do_sample=False)
        gen = og.Generator(self._model, params)
        gen.append_tokens(np.array([list(prompt_ids)], dtype=np.int32))
        out = np.asarray(gen.get_output("logits"))
        if out.ndim == 2:  # [batch, vocab]: already the last position only
            out = out[:, None, :]
        self._extra["prefill_logits_positions"] = int(out.shape[1]) if out.ndim == 3 else 1
        return out.reshape(-1, out.shape[-1])[-1].astype(np.float32)

    def effective(self) -> Effective:
        return Effective(device="cpu", precision=self._precision, threads=self._threads, extra=dict(self._extra))


def load_onnxruntime(artifact: ModelArtifact, s: LoadSettings) -> GenerativeModel:
    check_precision("onnxruntime", s.precision)
    folder = _folder(artifact, "onnxruntime-genai", s.precision)
    try:
        import onnxruntime_genai as og
    except ImportError as exc:
        raise EngineUnavailable(
            f"onnxruntime generate needs onnxruntime-genai: pip install onnxruntime-genai ({exc})"
        ) from None
    threads = int(s.threads) if s.threads else len(os.sched_getaffinity(0))
    t0 = time.perf_counter_ns()
    try:
        cfg = og.Config(str(folder))
        overlay = {
            "model": {"decoder": {"session_options": {"intra_op_num_threads": threads, "inter_op_num_threads": 1}}}
        }
        cfg.overlay(json.dumps(overlay))
        model = og.Model(cfg)
    except Exception as exc:
        raise ModelError(f"onnxruntime_genai could not load {folder}: {_last_line(exc)}") from exc
    load_ms = (time.perf_counter_ns() - t0) / 1e6
    gconf = json.loads((folder / "genai_config.json").read_text())
    decoder = gconf.get("model", {}).get("decoder", {})
    extra: dict[str, Any] = {
        "runtime": "onnxruntime_genai.Generator (append_tokens, generate_next_token)",
        "threads_from": "og.Config.overlay session_options intra_op_num_threads / inter_op_num_threads=1",
        "session_options": decoder.get("session_options"),
        "weights": _ort_weights(folder),
    }
    gen = OrtGenAIGenerator(model, og, s.precision, extra, threads, gconf)
    gen.kv_item_bytes = _ort_kv_item_bytes(folder)
    gen.load_ms = load_ms
    # does the model compute logits for every prompt position (the builder's graph) or only the last? Two tokens
    # in, the logits' sequence axis says — one reason its time to first token is longer than torch's, which keeps
    # only the last position's (logits_to_keep=1)
    gen.prefill_logits([0, 0])
    positions = extra.pop("prefill_logits_positions", None)
    extra["logits_all_positions"] = positions == 2 if positions is not None else None
    return gen


def _ort_kv_item_bytes(folder: Path) -> int | None:
    """Bytes per element of the GenAI model's past-key input (the KV cache's type), from its graph."""
    try:
        import onnx

        m = onnx.load(str(folder / "model.onnx"), load_external_data=False)
        past = next(i for i in m.graph.input if i.name.startswith("past_key_values"))
        return int(onnx.helper.tensor_dtype_to_np_dtype(past.type.tensor_type.elem_type).itemsize)
    except Exception:
        return None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _ort_weights(folder: Path) -> str:
    """What the weights of the GenAI model are, from its graph: MatMulNBits (block-quantized, with bits) or
    float MatMul."""
    try:
        import onnx

        m = onnx.load(str(folder / "model.onnx"), load_external_data=False)
        nbits = [n for n in m.graph.node if n.op_type == "MatMulNBits"]
        if nbits:
            bits = {a.i for n in nbits for a in n.attribute if a.name == "bits"}
            return f"{len(nbits)} MatMulNBits nodes, bits={sorted(bits)}"
        return f"float ({sum(1 for n in m.graph.node if n.op_type == 'MatMul')} MatMul nodes)"
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


LOADERS = {"torch": load_torch, "openvino": load_openvino, "onnxruntime": load_onnxruntime}


def load(engine: str, artifact: ModelArtifact, settings: LoadSettings) -> GenerativeModel:
    if artifact.task != "text-generation":
        raise UnsupportedError(
            f"--mode generate needs a causal language model; {artifact.name!r} is {artifact.task} "
            "(built-ins: workbench models --task text-generation)"
        )
    device = settings.device or "cpu"
    if device != "cpu" and engine in CPU_ONLY_REFUSAL:  # the parent refused it already; a hand-made job too
        raise UnsupportedError(CPU_ONLY_REFUSAL[engine].format(device=device))
    return LOADERS[engine](artifact, settings)
