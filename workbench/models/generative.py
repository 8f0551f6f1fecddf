"""Built-in generative (causal-LM) models: seeded random weights, a locally trained BPE tokenizer, and the folders
each generation runtime reads, built once into the cache.

Nothing is downloaded. A built-in is a transformers ``LlamaForCausalLM`` / ``Qwen2ForCausalLM`` made from a config
after ``torch.manual_seed(seed)`` plus a byte-level BPE tokenizer trained with ``tokenizers`` on :data:`CORPUS`.
The Hugging Face folder (``save_pretrained``) is what torch runs; from it:

* **OpenVINO GenAI** (:func:`export_openvino_genai`): the model traced with explicit past-key-value inputs and
  outputs (``ov.convert_model``), made stateful (``apply_make_stateful_transformation``, with the ``beam_idx``
  input ``LLMPipeline`` expects), plus tokenizer and detokenizer IRs from ``openvino_tokenizers`` — the layout
  ``optimum-cli export openvino`` writes. int8/int4 weights through NNCF ``compress_weights``.
* **ONNX Runtime GenAI** (:func:`export_ort_genai`): the GenAI model builder (``onnxruntime_genai.models.builder``)
  at fp32, int8 or int4, which writes ``model.onnx`` and ``genai_config.json``.

This module imports torch, transformers, openvino and onnxruntime_genai only inside its functions: it is model
preparation (the prepare child), one of the two places allowed to import an engine package.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from workbench.errors import ModelError
from workbench.models.gguf_export import GGUF_FILE, export_gguf

if TYPE_CHECKING:  # pragma: no cover - typing only
    from workbench_engines.base import ModelArtifact

#: What the tokenizer is trained on (a few public-domain-style sentences, repeated; the vocabulary of a random
#: model does not need to mean anything, only to segment text the way a real BPE does).
CORPUS = (
    "The quick brown fox jumps over the lazy dog. "
    "Inference engines turn a trained network into answers on the machine you have. "
    "A benchmark that does not say what ran is a rumour; one that shows its samples is a measurement. "
    "Time to first token is the prefill of the prompt; every later token is one decode step with the cache. "
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore. "
    "Numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 and punctuation , . ; : ! ? ( ) [ ] { } \" ' - + * / = < >. "
)
SPECIAL_TOKENS = ("<unk>", "<s>", "</s>")
BOS_ID, EOS_ID = 1, 2


@dataclass(frozen=True)
class GenerativeModel:
    """One built-in causal LM: its architecture and config fields (readable without torch)."""

    name: str
    description: str
    architecture: str  # "llama" | "qwen2"
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    @property
    def params(self) -> int:
        c = self.config
        h, inter, layers, vocab = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
        kv = h // c["num_attention_heads"] * c["num_key_value_heads"]
        per_layer = h * h * 2 + h * kv * 2 + 3 * h * inter
        return layers * per_layer + vocab * h * (1 if c.get("tie_word_embeddings") else 2)


def _llama(hidden: int, layers: int, heads: int, kv_heads: int, inter: int, vocab: int, **extra: Any) -> dict:
    return {
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "intermediate_size": inter,
        "vocab_size": vocab,
        "max_position_embeddings": 2048,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "tie_word_embeddings": False,
        **extra,
    }


GENERATIVE: dict[str, GenerativeModel] = {
    m.name: m
    for m in (
        GenerativeModel(
            "tiny-llama",
            "Llama-shaped causal LM, hidden 64, 2 layers, vocab 1000 (tests: builds and exports in seconds)",
            "llama",
            _llama(64, 2, 4, 2, 128, 1000),
        ),
        GenerativeModel(
            "llama-512",
            "Llama-shaped causal LM, hidden 512, 4 layers, 8 heads, vocab 32000 (the issue's reference shape)",
            "llama",
            _llama(512, 4, 8, 8, 1376, 32000),
        ),
        GenerativeModel(
            "qwen2-512",
            "Qwen2-shaped causal LM, hidden 512, 4 layers, 8 heads / 2 KV heads, vocab 32000, tied embeddings",
            "qwen2",
            _llama(512, 4, 8, 2, 1376, 32000, tie_word_embeddings=True),
        ),
        GenerativeModel(
            "llama-1b",
            "Llama-shaped causal LM, hidden 2048, 22 layers, 32 heads / 4 KV heads, vocab 32000 (TinyLlama-1.1B shape)",
            "llama",
            _llama(2048, 22, 32, 4, 5632, 32000),
        ),
    )
}


def is_generative(name: str) -> bool:
    return name in GENERATIVE


def get(name: str) -> GenerativeModel:
    try:
        return GENERATIVE[name]
    except KeyError:
        raise ModelError(f"unknown generative model {name!r}; built-ins: {', '.join(GENERATIVE)}") from None


# ---- the Hugging Face folder ---------------------------------------------------------------------------------------
def train_tokenizer(vocab_size: int, folder: Path) -> None:
    """A byte-level BPE tokenizer trained on :data:`CORPUS` (deterministic), saved as a transformers fast tokenizer.

    The corpus cannot fill a 32000-token vocabulary with merges; the model's vocabulary stays ``vocab_size`` (the
    embedding and LM head are that size, which is what costs time), the tokenizer just uses the ids it learned."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([CORPUS] * 20, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", BOS_ID)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", model_max_length=2048
    )
    fast.save_pretrained(str(folder))


def build_hf_folder(name: str, folder: Path, seed: int = 0) -> None:
    """Write built-in ``name`` (seeded weights, fp32, safetensors) and its tokenizer into ``folder``."""
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)  # transformers imports torchvision; the CPU-torch shim applies
    import torch
    import transformers

    info = get(name)
    config_cls = {"llama": transformers.LlamaConfig, "qwen2": transformers.Qwen2Config}[info.architecture]
    model_cls = {"llama": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM}[info.architecture]
    config = config_cls(**dict(info.config), torch_dtype="float32")
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    model.generation_config.do_sample = False
    model.save_pretrained(str(folder), safe_serialization=True)
    train_tokenizer(info.vocab_size, folder)


# ---- OpenVINO GenAI ------------------------------------------------------------------------------------------------
#: How the OpenVINO GenAI folder is made (recorded in the artifact's ``export``).
OPENVINO_RECIPE = (
    "ov.convert_model(torch, explicit past key/values, SDPA attention), fuse beam_idx reorder, "
    "apply_make_stateful_transformation; openvino_tokenizers.convert_tokenizer(with_detokenizer=True)"
)


def _flat_kv_module(model: Any, layers: int) -> Any:
    """``model`` as a module taking and returning the cache as flat tensors (what a traced graph has as ports)."""
    import torch
    from transformers import DynamicCache

    from workbench_engines.generate import cache_keyword

    class FlatKV(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, position_ids, *past):
            cache = DynamicCache(config=model.config)
            layer: Any
            for i, layer in enumerate(cache.layers[:layers]):  # set, not update(): no cat with an empty tensor
                layer.lazy_initialization(past[2 * i], past[2 * i + 1])
                layer.keys, layer.values = past[2 * i], past[2 * i + 1]
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                use_cache=True,
                **{cache_keyword(self.model): cache},
            )
            flat = []
            for layer in cache.layers[:layers]:  # updated in place by the forward
                flat += [layer.keys, layer.values]
            return (out.logits, *flat)

    return FlatKV().eval()


def _kv_names(layers: int) -> tuple[list[str], list[str]]:
    ins, outs = [], []
    for i in range(layers):
        ins += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        outs += [f"present.{i}.key", f"present.{i}.value"]
    return ins, outs


def _make_stateful(ov_model: Any, kv_in: list[str], kv_out: list[str]) -> None:
    """What optimum-intel does to an exported decoder for ``LLMPipeline``: a ``beam_idx`` input that reorders the
    cache (Gather on the batch axis), the cache moved into model state, and state initialisers shaped by the batch
    of ``input_ids``."""
    import numpy as np
    import openvino as ov
    from openvino import opset13
    from openvino._offline_transformations import apply_make_stateful_transformation

    batch = ov_model.input("input_ids").get_partial_shape()[0]
    beam_idx = opset13.parameter(name="beam_idx", dtype=ov.Type.i32, shape=ov.PartialShape([batch]))
    beam_idx.output(0).get_tensor().add_names({"beam_idx"})
    ov_model.add_parameters([beam_idx])
    for name in kv_in:
        port = ov_model.input(name)
        consumers = port.get_target_inputs()
        gather = opset13.gather(port, beam_idx, opset13.constant(0))
        for consumer in consumers:
            consumer.replace_source_output(gather.output(0))
    ov_model.validate_nodes_and_infer_types()
    apply_make_stateful_transformation(ov_model, dict(zip(kv_in, kv_out)))
    ids = ov_model.input("input_ids")
    n = opset13.gather(opset13.shape_of(ids, output_type="i64"), opset13.constant([0]), opset13.constant(0))
    for op in ov_model.get_ops():
        if op.get_type_name() == "ReadValue":
            dims: list[Any] = [d.min_length for d in list(op.get_output_partial_shape(0))]
            dims[0] = n
            parts = [opset13.constant(np.array([d], dtype=np.int64)) if isinstance(d, int) else d for d in dims]
            zeros = opset13.broadcast(
                opset13.constant(0.0, dtype=op.get_output_element_type(0)), opset13.concat(parts, 0)
            )
            op.set_arguments([zeros])
    ov_model.validate_nodes_and_infer_types()


def export_openvino_genai(hf_dir: Path, out_dir: Path, weights: str = "fp32") -> dict[str, Any]:
    """The OpenVINO GenAI folder for the Hugging Face folder ``hf_dir``: ``openvino_model.xml`` (stateful),
    ``openvino_tokenizer.xml``, ``openvino_detokenizer.xml`` and the configs. ``weights`` ``int8``/``int4``
    compress the weights with NNCF (``int8_asym`` / ``int4_sym`` group 128, ratio 1.0). Returns the export record."""
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)
    import openvino as ov
    import torch
    from openvino_tokenizers import convert_tokenizer
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), attn_implementation="sdpa", dtype=torch.float32).eval()
    cfg = model.config
    layers = cfg.num_hidden_layers
    kv_heads = getattr(cfg, "num_key_value_heads", cfg.num_attention_heads)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    past = 2
    example: list[Any] = [
        torch.ones(1, 3, dtype=torch.int64),
        torch.ones(1, past + 3, dtype=torch.int64),
        torch.arange(past, past + 3, dtype=torch.int64).unsqueeze(0),
    ]
    example += [torch.zeros(1, kv_heads, past, head_dim) for _ in range(2 * layers)]
    kv_in, kv_out = _kv_names(layers)
    in_names = ["input_ids", "attention_mask", "position_ids", *kv_in]
    shapes = [[-1, -1], [-1, -1], [-1, -1]] + [[-1, kv_heads, -1, head_dim]] * (2 * layers)
    with torch.no_grad():
        ov_model = ov.convert_model(
            _flat_kv_module(model, layers),
            example_input=tuple(example),
            input=[ov.PartialShape(s) for s in shapes],
        )
    for port, name in zip(ov_model.inputs, in_names):
        port.get_tensor().set_names({name})
    for port, name in zip(ov_model.outputs, ["logits", *kv_out]):
        port.get_tensor().set_names({name})
    _make_stateful(ov_model, kv_in, kv_out)
    record: dict[str, Any] = {"converter": OPENVINO_RECIPE, "weights": "fp32"}
    if weights in ("int8", "int4"):
        import nncf

        mode = nncf.CompressWeightsMode.INT8_ASYM if weights == "int8" else nncf.CompressWeightsMode.INT4_SYM
        kwargs: dict[str, Any] = {"mode": mode}
        if weights == "int4":  # group 128 as optimum does, smaller where a layer's input size is not a multiple
            sizes = (cfg.hidden_size, cfg.intermediate_size)
            group = next((g for g in (128, 64, 32, 16) if all(n % g == 0 for n in sizes)), -1)
            kwargs.update(group_size=group, ratio=1.0)
        ov_model = nncf.compress_weights(ov_model, **kwargs)
        record["weights"] = f"{weights} (nncf.compress_weights {mode.value}"
        record["weights"] += f", group {kwargs['group_size']})" if weights == "int4" else ", per channel)"
        if weights == "int4" and kwargs["group_size"] == -1:
            record["weights"] = record["weights"].replace("group -1", "per channel")
    out_dir.mkdir(parents=True, exist_ok=True)
    ov.save_model(ov_model, str(out_dir / "openvino_model.xml"), compress_to_fp16=False)
    tok = AutoTokenizer.from_pretrained(str(hf_dir))
    ov_tok, ov_detok = convert_tokenizer(tok, with_detokenizer=True)
    ov.save_model(ov_tok, str(out_dir / "openvino_tokenizer.xml"))
    ov.save_model(ov_detok, str(out_dir / "openvino_detokenizer.xml"))
    for f in ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        if (hf_dir / f).is_file():
            shutil.copy2(hf_dir / f, out_dir / f)
    return record


# ---- ONNX Runtime GenAI --------------------------------------------------------------------------------------------
ORT_RECIPE = "onnxruntime_genai.models.builder.create_model(input_path=HF folder, execution_provider=cpu)"


def export_ort_genai(hf_dir: Path, out_dir: Path, weights: str = "fp32") -> dict[str, Any]:
    """The ONNX Runtime GenAI folder for ``hf_dir`` (``model.onnx``, ``genai_config.json``, tokenizer files) from
    the GenAI model builder at ``weights`` ``fp32`` / ``int8`` / ``int4`` (the builder's own block-wise
    MatMulNBits quantizer). Returns the export record. The builder needs ``onnx-ir`` and ``onnxscript`` (declared
    in our dependencies: it does not declare them)."""
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)  # the builder imports transformers
    import runpy
    import sys

    out_dir.mkdir(parents=True, exist_ok=True)
    cache = out_dir.parent / (out_dir.name + ".builder-cache")
    argv = ["builder", "-i", str(hf_dir), "-o", str(out_dir), "-p", weights, "-e", "cpu", "-c", str(cache)]
    if weights == "int4":
        argv += ["--extra_options", "int4_accuracy_level=4"]  # int8 activations in MatMulNBits, the CPU default
    saved = sys.argv
    sys.argv = argv
    try:
        runpy.run_module("onnxruntime_genai.models.builder", run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise ModelError(f"the ONNX Runtime GenAI builder failed (exit {exc.code})") from exc
    finally:
        sys.argv = saved
        shutil.rmtree(cache, ignore_errors=True)
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (hf_dir / f).is_file() and not (out_dir / f).exists():
            shutil.copy2(hf_dir / f, out_dir / f)
    return {"converter": ORT_RECIPE, "weights": weights}


# ---- resolving: built-ins and folders into an artifact -----------------------------------------------------------
#: The folder format each engine generates from.
FORMAT_OF: dict[str, str] = {
    "torch": "hf-causal-lm",
    "openvino": "openvino-genai",
    "onnxruntime": "onnxruntime-genai",
    "llamacpp": "gguf",
}
#: Packages whose versions key the cache of generative exports.
GEN_PACKAGES = ("torch", "transformers", "tokenizers", "openvino", "openvino-tokenizers", "onnxruntime-genai", "nncf")
#: Bumped when a recipe here changes.
GEN_CACHE_FORMAT = 1
_EXPORTERS = {"openvino-genai": export_openvino_genai, "onnxruntime-genai": export_ort_genai, "gguf": export_gguf}
_MARKERS = {
    "hf-causal-lm": "model.safetensors",
    "openvino-genai": "openvino_model.xml",
    "onnxruntime-genai": "genai_config.json",
    "gguf": GGUF_FILE,
}


def formats_for_engines(engines: tuple[str, ...] | list[str]) -> set[str]:
    return {FORMAT_OF[e] for e in engines if e in FORMAT_OF}


def is_generative_source(model: str) -> bool:
    """Whether ``model`` names a generative built-in or a folder of a causal LM (by content)."""
    from workbench_engines.formats import generative_folder

    return is_generative(model) or generative_folder(Path(model).expanduser()) is not None


def _done(folder: Path, fmt: str) -> bool:
    return (folder / _MARKERS[fmt]).is_file() and (folder / ".complete").is_file()


def _build(folder: Path, fmt: str, make: Any) -> dict[str, Any]:
    """Run ``make(tmp)`` into a temp dir beside ``folder`` and move it into place (call with the lock held)."""
    import tempfile

    record_file = folder / ".complete"
    if _done(folder, fmt):
        return dict(json.loads(record_file.read_text() or "{}"))
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".tmp-{folder.name}-"))
    try:
        record = make(tmp) or {}
        (tmp / ".complete").write_text(json.dumps(record))
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dict(record)


def resolve_generative(
    model: str, *, formats: set[str] | None = None, seed: int = 0, precision: str = "fp32"
) -> "ModelArtifact":
    """A built-in generative model (built and exported once into the cache) or a user's folder as an artifact.

    ``formats``: the folder formats the run's engines need (None: all three); ``precision`` int8/int4 also makes
    the compressed OpenVINO and ONNX Runtime GenAI folders (as ``variants``; a format that cannot be made is a
    one-line error in the variant, the other engines still run). Raises ModelError / UsageError in one line."""
    import hashlib

    from workbench import paths
    from workbench.errors import UsageError, WorkbenchError
    from workbench.models.resolve import _file_lock, _version
    from workbench_engines.base import ModelArtifact
    from workbench_engines.formats import generative_folder
    from workbench_engines.variants import PrecisionVariant

    wanted = set(formats) if formats is not None else set(_MARKERS) - {"gguf"}  # GGUF: only for -e llamacpp
    wanted.add("hf-causal-lm")  # the parity reference (torch fp32) and the source of every export
    path = Path(model).expanduser()
    if is_generative(model):
        info = get(model)
        fields = {
            "cache_format": GEN_CACHE_FORMAT,
            "name": info.name,
            "architecture": info.architecture,
            "config": dict(info.config),
            "seed": seed,
            "corpus": hashlib.sha256(CORPUS.encode()).hexdigest()[:16],
            "recipes": {"openvino-genai": OPENVINO_RECIPE, "onnxruntime-genai": ORT_RECIPE},
            "versions": {p: _version(p) for p in GEN_PACKAGES},
        }
        key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
        base = paths.cache_dir() / "models" / info.name / key
        hf_dir = base / "hf-causal-lm"
        source, name = "builtin", info.name
    else:
        fmt = generative_folder(path)
        if fmt is None:
            raise ModelError(
                f"{path} is not a causal-LM folder (no ForCausalLM config.json, genai_config.json or openvino_model.xml)"
            )
        if fmt != "hf-causal-lm":  # a runtime's own folder runs as given, on that runtime only
            if precision != "fp32":
                raise UsageError(
                    f"{path.name} is an {fmt} folder: it runs as exported (its weights are what the export made); "
                    f"--precision {precision} re-compresses only a Hugging Face folder or a built-in"
                )
            _check_runtime_folder(path, fmt)
            return ModelArtifact(
                name=path.name,
                source="file",
                files={fmt: str(path.resolve())},
                inputs=(),
                task="text-generation",
                reference_engine={"openvino-genai": "openvino", "onnxruntime-genai": "onnxruntime"}[fmt],
                export={fmt: {"converter": "given by the user"}},
            )
        _check_hf_folder(path)
        from workbench.models.hf import content_hash

        digest = content_hash(path)
        fields = {
            "cache_format": GEN_CACHE_FORMAT,
            "content": digest,
            "versions": {p: _version(p) for p in GEN_PACKAGES},
        }
        key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
        base = paths.cache_dir() / "models" / f"hf-{path.name}" / key
        hf_dir = path.resolve()
        source, name = "file", path.name
    files: dict[str, str] = {}
    export: dict[str, dict[str, Any]] = {}
    variants: dict[str, PrecisionVariant] = {}
    base.mkdir(parents=True, exist_ok=True)
    with _file_lock(base / ".lock"):
        if source == "builtin":
            _build(hf_dir, "hf-causal-lm", lambda tmp: _built(model, tmp, seed))
            export["hf-causal-lm"] = {
                "built": f"transformers {get(model).architecture} from config, seed {seed}",
                "tokenizer": "byte-level BPE trained locally (tokenizers)",
            }
        else:
            export["hf-causal-lm"] = {"converter": "given by the user"}
        files["hf-causal-lm"] = str(hf_dir)
        for fmt in sorted(wanted - {"hf-causal-lm"}):
            exporter = _EXPORTERS[fmt]
            try:
                export[fmt] = _build(base / f"{fmt}-fp32", fmt, lambda tmp, e=exporter: e(hf_dir, tmp, "fp32"))
                files[fmt] = str(base / f"{fmt}-fp32")
            except WorkbenchError:
                raise
            except Exception as exc:
                raise ModelError(_converter_refusal(name, hf_dir, fmt, exc)) from exc
        if precision in ("int8", "int4"):
            vfiles: dict[str, str] = {}
            errors: dict[str, str] = {}
            details: dict[str, dict[str, Any]] = {}
            for fmt in sorted(wanted - {"hf-causal-lm"}):
                exporter = _EXPORTERS[fmt]
                try:
                    details[fmt] = _build(
                        base / f"{fmt}-{precision}", fmt, lambda tmp, e=exporter: e(hf_dir, tmp, precision)
                    )
                    vfiles[fmt] = str(base / f"{fmt}-{precision}")
                except Exception as exc:
                    errors[fmt] = f"{precision} {fmt} export failed: {_reason(exc)}"
            variants[precision] = PrecisionVariant(precision=precision, files=vfiles, errors=errors, details=details)
    return ModelArtifact(
        name=name,
        source=source,
        files=files,
        inputs=(),
        task="text-generation",
        builtin=name if source == "builtin" else None,
        reference_engine="torch",
        variants=variants,
        export=export,
    )


def _built(name: str, folder: Path, seed: int) -> dict[str, Any]:
    build_hf_folder(name, folder, seed)
    return {"weights": "fp32"}


def _reason(exc: BaseException) -> str:
    """The converter's own reason: the last line of its message (where converters put the cause), its first
    sentence when that line is long."""
    import re

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    line = lines[-1] if lines else type(exc).__name__
    if len(line) > 200:
        line = re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0]
    return line[:300]


#: the converter that makes each runtime's folder from a Hugging Face one, as a refusal names it
CONVERTERS = {
    "openvino-genai": ("openvino", "the OpenVINO export (ov.convert_model of the transformers model)"),
    "onnxruntime-genai": ("onnxruntime", "the ONNX Runtime GenAI model builder"),
}


def _converter_refusal(name: str, hf_dir: Path, fmt: str, exc: BaseException) -> str:
    """One line for a converter that cannot handle a causal LM: which engine, which architecture, which
    converter, and the converter's own reason."""
    try:
        archs = json.loads((Path(hf_dir) / "config.json").read_text()).get("architectures") or []
    except (OSError, ValueError, AttributeError):
        archs = []
    engine, converter = CONVERTERS.get(fmt, (fmt, f"the {fmt} converter"))
    arch = f" ({', '.join(map(str, archs))})" if archs else ""
    return (
        f"{engine} cannot run {name}{arch}: {converter} refused it: {_reason(exc)} — run it on the other engines "
        f"(leave out -e {engine})"
    )


def _check_hf_folder(path: Path) -> None:
    from workbench.models.hf import PICKLED_FILES, SAFETENSORS_FILES

    if not any((path / f).is_file() for f in SAFETENSORS_FILES):
        if any((path / f).is_file() for f in PICKLED_FILES):
            raise ModelError(
                f"{path.name} holds pickled weights (pytorch_model.bin), which the workbench does not unpickle; save it with safe_serialization=True"
            )
        raise ModelError(f"{path.name} has no weights (model.safetensors)")
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer.model").is_file():
        raise ModelError(
            f"{path.name} has no tokenizer (tokenizer.json): save the tokenizer beside the model (tokenizer.save_pretrained)"
        )


def _check_runtime_folder(path: Path, fmt: str) -> None:
    need = {
        "openvino-genai": (
            "openvino_model.xml",
            "openvino_model.bin",
            "openvino_tokenizer.xml",
            "openvino_detokenizer.xml",
        ),
        "onnxruntime-genai": ("genai_config.json",),
    }[fmt]
    missing = [f for f in need if not (path / f).is_file()]
    if missing:
        raise ModelError(f"{path.name} looks like an {fmt} folder but lacks {', '.join(missing)}")


# ---- the prompt ---------------------------------------------------------------------------------------------------
def prompt_ids(artifact: "ModelArtifact", text: str | None, n_tokens: int, seed: int = 0) -> list[int]:
    """The prompt as token ids, the same in every benchmark process: BOS, then ``text`` tokenized with the model's
    ``tokenizer.json`` (the ``tokenizers`` library, no special tokens added) — or, without ``text``, the built-in
    :data:`CORPUS` tokenized and repeated until the prompt is ``n_tokens`` long. A folder without a
    ``tokenizer.json`` gets seeded random ids below its vocabulary size. Fed to every engine as ids: no engine's
    own tokenizer decides what the prompt is (one drops BOS for some tokenizers)."""
    import numpy as np

    folders = [Path(p) for p in artifact.files.values()]
    tok_file = next((f / "tokenizer.json" for f in folders if (f / "tokenizer.json").is_file()), None)
    bos, vocab = _bos_and_vocab(folders)
    head = [bos] if bos is not None else []
    if tok_file is None:
        rng = np.random.default_rng(seed)
        body = rng.integers(3, max(4, vocab or 1000), size=max(0, n_tokens - len(head))).tolist()
        return head + [int(t) for t in body]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_file))
    if text is not None:
        return head + list(tok.encode(text, add_special_tokens=False).ids)
    piece = list(tok.encode(CORPUS, add_special_tokens=False).ids)
    repeated: list[int] = []
    while len(repeated) < n_tokens - len(head):
        repeated += piece
    return head + repeated[: max(0, n_tokens - len(head))]


def batch_prompts(
    artifact: "ModelArtifact", text: str | None, n_tokens: int, batch: int, seed: int = 0
) -> list[list[int]]:
    """``batch`` distinct prompts of one length for a batched generation: the first is :func:`prompt_ids`'s (so
    batch 1 is unchanged), each later one the same length cut from the built-in text at an offset drawn from
    ``seed`` and its index (or, without a tokenizer, seeded ids). A given ``text`` is one prompt: batch 1 only
    (the run's validation refuses it with a batch)."""
    import numpy as np

    first = prompt_ids(artifact, text, n_tokens, seed=seed)
    if batch <= 1:
        return [first]
    if text is not None:
        raise ValueError("a given prompt text is one prompt: generate it at batch 1")
    bos, vocab = _bos_and_vocab([Path(p) for p in artifact.files.values()])
    head = [bos] if bos is not None else []
    body_len = len(first) - len(head)
    pool = prompt_ids(artifact, None, len(head) + body_len * 4, seed=seed)[len(head) :]  # 4 prompts' worth
    out = [first]
    for i in range(1, batch):
        rng = np.random.default_rng([seed, i])
        for _ in range(64):  # distinct from those before (a repeating corpus can give the same cut twice)
            offset = int(rng.integers(0, max(1, len(pool) - body_len + 1)))
            cand = head + pool[offset : offset + body_len]
            if cand not in out:
                break
        else:
            cand = head + rng.integers(3, max(4, vocab or 1000), size=body_len).tolist()
        out.append([int(t) for t in cand])
    return out


def _bos_and_vocab(folders: list[Path]) -> tuple[int | None, int | None]:
    for f in folders:
        for name in ("config.json", "genai_config.json"):
            p = f / name
            if p.is_file():
                try:
                    d = json.loads(p.read_text())
                except (OSError, ValueError):
                    continue
                m = d.get("model", d) if name == "genai_config.json" else d
                bos = m.get("bos_token_id")
                if isinstance(bos, list):
                    bos = bos[0] if bos else None
                return (int(bos) if isinstance(bos, int) else None), m.get("vocab_size")
    return None, None
