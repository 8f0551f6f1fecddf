"""llama.cpp adapter (through ``llama-cpp-python``): ``--mode generate`` of a causal LM from a GGUF file.

An optional engine: ``pip install llama-cpp-python gguf`` (llama-cpp-python is a source build — minutes of C++
compiling; build it with ``CMAKE_ARGS="-DGGML_NATIVE=OFF"`` inside a VM whose CPU flags differ from the host's).
Without it, ``-e llamacpp`` is one line naming what to install. The GGUF file is written by the workbench from the
same weights as the other engines' folders (:mod:`workbench.models.gguf_export`).

The loop is ours, so every output token is timed: ``Llama.eval(prompt)`` (the prefill) and the first greedy pick
are the time to first token, then each ``Llama.eval([token])`` (one decode step with llama.cpp's KV cache) and its
pick. Greedy is the argmax of the last position's logits (EOS does not stop a generation), which is what the
other engines do; ``Llama.reset()`` between generations, so no prompt prefix is reused. Threads: ``n_threads``
and ``n_threads_batch`` = the run's threads (the benchmark process is pinned before this module imports llama.cpp).
Precision: the GGUF's weights — F32 (fp32), Q8_0 (int8) or Q4_0 (int4) — read back from the loaded file's type.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError

from .base import (
    Effective,
    Engine,
    GenerationTrace,
    GenerativeModel,
    LoadedModel,
    LoadSettings,
    ModelArtifact,
    Sampling,
)

#: what a GGUF file's weights are called here, by ``--precision``
GGML_TYPES = {"fp32": "F32", "int8": "Q8_0", "int4": "Q4_0"}
#: llama.cpp's ``general.file_type`` numbers (LLAMA_FTYPE) of those files
_FILE_TYPES = {0: "F32", 7: "Q8_0", 2: "Q4_0"}
INSTALL = 'pip install gguf llama-cpp-python (a source build: CMAKE_ARGS="-DGGML_NATIVE=OFF" inside a VM)'
#: llama.cpp pads its context to a multiple of this many positions
CTX_PAD = 256
#: the context when the generation's length is not known (a hand-made load)
DEFAULT_CTX = 4096


#: one line for a batch (also :data:`workbench_engines.generate.BATCH_REFUSAL`, which the run's check reads)
BATCH_REFUSAL = "llamacpp generates batch 1 only here (one sequence per llama.cpp context); run --batch 1 on llamacpp"


def sample_token(logits: Any, sampling: Sampling, rng: Any) -> int:
    """One token from ``logits`` ``[vocab]`` as the torch path draws it: temperature, then top-k, then top-p (at
    least one token kept), drawn with the seeded numpy ``rng``."""
    import numpy as np

    scores = np.asarray(logits, dtype=np.float64) / max(sampling.temperature, 1e-6)
    if 0 < sampling.top_k < scores.size:
        kth = np.partition(scores, -sampling.top_k)[-sampling.top_k]
        scores = np.where(scores < kth, -np.inf, scores)
    if sampling.top_p < 1.0:
        order = np.argsort(-scores, kind="stable")
        probs = np.exp(scores[order] - scores[order[0]])
        probs /= probs.sum()
        drop = np.cumsum(probs) - probs > sampling.top_p
        scores[order[drop]] = -np.inf
    probs = np.exp(scores - scores.max())
    return int(rng.choice(scores.size, p=probs / probs.sum()))


class LlamaCppGenerator(GenerativeModel):
    """``logits()``: the last evaluated position's logits (a numpy view of llama.cpp's buffer: llama-cpp-python's
    ``Llama.scores`` is filled only with ``logits_all``, which would compute the LM head for every prompt position)."""

    def __init__(
        self, llm: Any, precision: str, threads: int, extra: dict[str, Any], logits: Callable[[], Any]
    ) -> None:
        super().__init__(())
        self._llm = llm
        self._logits = logits
        self._precision = precision
        self._threads = threads
        self._extra = extra

    def generate(self, prompts: list[list[int]], new_tokens: int, sampling: Sampling | None = None) -> GenerationTrace:
        if len(prompts) != 1:
            raise UnsupportedError(BATCH_REFUSAL)
        import numpy as np

        rng = np.random.default_rng(sampling.seed) if sampling is not None else None

        def pick(logits: Any) -> int:
            return int(logits.argmax()) if sampling is None or rng is None else sample_token(logits, sampling, rng)

        llm = self._llm
        perf = time.perf_counter_ns
        llm.reset()  # no reuse of an earlier prompt's cache
        times: list[int] = []
        tokens: list[int] = []
        t0 = perf()
        llm.eval(list(prompts[0]))
        logits = self._logits()
        tok = pick(logits)
        t1 = perf()
        times.append(t1 - t0)
        tokens.append(tok)
        first_logits = logits.astype(np.float32).copy()
        for _ in range(new_tokens - 1):
            t0 = perf()
            llm.eval([tok])
            tok = pick(self._logits())
            t1 = perf()
            times.append(t1 - t0)
            tokens.append(tok)
        return GenerationTrace(tokens=tokens, step_ns=times, prefill_logits=first_logits, sequences=[tokens])

    def kv_cache(self, prompt_tokens: int, new_tokens: int, batch: int) -> dict[str, Any]:
        """llama.cpp allocates its K and V caches for the whole context at load (f16 by default): their size
        follows from the file's shape and ``n_ctx``, not from the generation's length."""
        meta = self._extra.get("shape") or {}
        try:
            layers, kv_heads, head_dim = int(meta["layers"]), int(meta["kv_heads"]), int(meta["head_dim"])
        except (KeyError, TypeError, ValueError):
            return {"mb": None, "source": "not reported by llama.cpp"}
        n_ctx = int(self._extra.get("n_ctx") or 0)
        mb = 2 * layers * n_ctx * kv_heads * head_dim * 2 / 1e6
        return {"mb": mb, "source": f"computed: f16 K and V for all n_ctx={n_ctx} positions, allocated at load"}

    def effective(self) -> Effective:
        return Effective(device="cpu", precision=self._precision, threads=self._threads, extra=dict(self._extra))

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()


class LlamaCppEngine(Engine):
    name = "llamacpp"
    display_name = "llama.cpp (llama-cpp-python)"
    module = "llama_cpp"
    distribution = "llama_cpp_python"
    formats = ("gguf",)
    modes = ("generate",)
    #: opt-in: named with ``-e llamacpp`` (an optional source build that runs one mode), not among the engines
    #: every run, matrix and the UI offer by default
    hidden = True

    @classmethod
    def alt_distributions(cls) -> tuple[str, ...]:
        return ("llama-cpp-python",)

    @classmethod
    def precisions(cls, device: str = "cpu") -> tuple[str, ...]:
        return ("fp32", "int8", "int4") if device == "cpu" else ()

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        if s.mode != "generate":
            raise UnsupportedError("llamacpp runs --mode generate (a causal LM from a GGUF file) only")
        if s.device != "cpu":
            raise UnsupportedError(f"llamacpp runs on the cpu here, not {s.device} (a CPU build of llama-cpp-python)")
        if s.precision not in GGML_TYPES:
            raise UnsupportedError(f"llamacpp generates at fp32 (F32), int8 (Q8_0) or int4 (Q4_0), not {s.precision}")
        path = _gguf_file(artifact, s.precision)
        try:
            import llama_cpp
        except ImportError as exc:
            raise EngineUnavailable(f"llamacpp is not installed ({exc}): {INSTALL}") from None
        threads = int(s.threads) if s.threads else len(os.sched_getaffinity(0))
        # the KV cache is allocated for all n_ctx positions at load: as many as the generation needs (to llama.cpp's
        # 256-position padding), so its memory compares with the other engines'; 4096 when the length is unknown
        n_ctx = -(-int(s.context_tokens) // CTX_PAD) * CTX_PAD if s.context_tokens else DEFAULT_CTX
        t0 = time.perf_counter_ns()
        try:
            llm = llama_cpp.Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_batch=min(512, n_ctx),
                n_threads=threads,
                n_threads_batch=threads,
                seed=s.seed,
                logits_all=False,
                verbose=False,
            )
        except Exception as exc:
            raise ModelError(f"llama.cpp could not load {path.name}: {str(exc).strip() or type(exc).__name__}") from exc
        load_ms = (time.perf_counter_ns() - t0) / 1e6
        file_type = _FILE_TYPES.get(
            int(llm.metadata.get("general.file_type", -1)), llm.metadata.get("general.file_type")
        )
        if file_type != GGML_TYPES[s.precision]:
            raise ModelError(f"{path.name} holds {file_type} weights, not the {GGML_TYPES[s.precision]} asked for")
        extra = {
            "runtime": "llama_cpp.Llama: eval(prompt) then eval([token]) per step, greedy argmax, reset() each time",
            "weights": f"GGUF {file_type}",
            "llama_cpp_python": getattr(llama_cpp, "__version__", "unknown"),
            "n_threads": threads,
            "n_ctx": llm.n_ctx(),
            "shape": _shape(llm.metadata),
        }
        import numpy as np

        n_vocab = llm.n_vocab()

        def logits() -> Any:
            return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))

        gen = LlamaCppGenerator(llm, s.precision, threads, extra, logits)
        gen.load_ms = load_ms
        return gen


def _shape(meta: dict[str, Any]) -> dict[str, int] | None:
    """Layers, KV heads and head size from a GGUF's metadata (its architecture's keys), or None."""
    arch = meta.get("general.architecture")
    try:
        heads = int(meta[f"{arch}.attention.head_count"])
        return {
            "layers": int(meta[f"{arch}.block_count"]),
            "kv_heads": int(meta.get(f"{arch}.attention.head_count_kv", heads)),
            "head_dim": int(meta[f"{arch}.embedding_length"]) // heads,
        }
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


def _gguf_file(artifact: ModelArtifact, precision: str) -> Path:
    """The GGUF file of ``precision`` (the fp32 folder, or the int8/int4 variant's)."""
    if artifact.task != "text-generation":
        raise UnsupportedError(f"llamacpp generates text from a causal LM; {artifact.name!r} is {artifact.task}")
    folder: str | None
    if precision == "fp32":
        folder = artifact.files.get("gguf")
    else:
        variant = artifact.variants.get(precision)
        folder = variant.files.get("gguf") if variant is not None else None
        if folder is None and variant is not None and variant.errors.get("gguf"):
            raise UnsupportedError(variant.errors["gguf"])
    if folder is None:
        raise UnsupportedError(f"no {precision} GGUF file was prepared for {artifact.name!r}")
    path = Path(folder) / "model.gguf"
    if not path.is_file():
        raise ModelError(f"{path} is missing: the GGUF export did not complete")
    return path
