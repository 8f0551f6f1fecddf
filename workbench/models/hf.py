"""Hugging Face checkpoint directories: what ``model.save_pretrained(dir)`` writes, given as ``--model ./dir``.

A checkpoint directory holds ``config.json`` and its weights as safetensors (``model.safetensors``, or shards
named by ``model.safetensors.index.json``). It is loaded offline (``local_files_only=True``, ``HF_HUB_OFFLINE=1``:
nothing is downloaded) with the class its ``config.architectures`` names, or the auto class for that kind of head
(sequence classification, masked LM, causal LM, token classification, question answering; the base model
otherwise). Pickled weights (``pytorch_model.bin``) are refused, like every pickle the workbench is given.

Inputs are what the model's ``forward`` takes of ``input_ids`` / ``attention_mask`` / ``token_type_ids`` (token
ids drawn below the config's ``vocab_size``, a mask of ones, type ids zero), each ``batch x seq`` with ``seq``
from ``--shape`` or :data:`DEFAULT_SEQ` (at most ``max_position_embeddings``); vision models get
``pixel_values`` of ``batch x channels x image_size x image_size``. The module the engines see
(:func:`load_module`) takes those inputs positionally and returns the model output's tensors as a tuple, named by
:func:`signature`. :mod:`workbench.models.resolve` exports it to ONNX and IR through the same cache as built-ins,
keyed by the directory's content (:func:`content_hash`), with eager attention; torch runs it eager with
transformers' default attention (SDPA where the architecture has it), as ``from_pretrained`` gives it its users.

Nothing here imports torch or transformers at module level.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from workbench.errors import ModelError, UsageError
from workbench_engines.base import TensorSpec

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

CONFIG_FILE = "config.json"
#: Weight files of a checkpoint directory, one of which must be present.
SAFETENSORS_FILES: tuple[str, ...] = ("model.safetensors", "model.safetensors.index.json")
#: Pickled weight files transformers also writes (refused: the workbench does not unpickle).
PICKLED_FILES: tuple[str, ...] = ("pytorch_model.bin", "pytorch_model.bin.index.json")
#: Sequence length when ``--shape`` does not give one (capped at the config's ``max_position_embeddings``).
DEFAULT_SEQ = 128
#: Token inputs a text model may take, in the order they are fed.
TEXT_INPUTS: tuple[str, ...] = ("input_ids", "attention_mask", "token_type_ids")
#: Architecture-name suffix -> transformers auto class, for architectures transformers does not export by name.
AUTO_CLASSES: tuple[tuple[str, str], ...] = (
    ("ForSequenceClassification", "AutoModelForSequenceClassification"),
    ("ForMaskedLM", "AutoModelForMaskedLM"),
    ("ForCausalLM", "AutoModelForCausalLM"),
    ("ForTokenClassification", "AutoModelForTokenClassification"),
    ("ForQuestionAnswering", "AutoModelForQuestionAnswering"),
    ("ForImageClassification", "AutoModelForImageClassification"),
)


def is_checkpoint_dir(path: Path) -> bool:
    """Whether ``path`` is a directory with a ``config.json`` (a Hugging Face checkpoint, possibly incomplete)."""
    return path.is_dir() and (path / CONFIG_FILE).is_file()


def read_config(path: Path) -> dict[str, Any]:
    """The directory's ``config.json`` as a dict, after checking its weights are safetensors.

    Raises ModelError: unreadable config, no weights, or only pickled weights (with how to re-save them)."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path.name}/{CONFIG_FILE} is not readable JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{path.name}/{CONFIG_FILE} is not a Hugging Face config (not a JSON object)")
    if not any((path / f).is_file() for f in SAFETENSORS_FILES):
        if any((path / f).is_file() for f in PICKLED_FILES):
            raise ModelError(
                f"{path.name} keeps its weights in pytorch_model.bin, a pickle the workbench does not unpickle; "
                "save it with model.save_pretrained(dir, safe_serialization=True) to get model.safetensors"
            )
        raise ModelError(
            f"{path.name} has {CONFIG_FILE} but no weights ({' or '.join(SAFETENSORS_FILES)}); "
            "save the model with model.save_pretrained(dir)"
        )
    return config


def content_hash(path: Path) -> str:
    """SHA-256 over the directory's files (relative names and contents, hidden files skipped): the cache key of
    everything exported from it.

    Checkpoints run to gigabytes, so the digest is remembered (``cache_dir()/hf-hashes/``) with each file's size
    and modification time, and recomputed only when one of them changes."""
    from workbench import paths

    root = path.resolve()
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    stats = [[str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    memo = paths.cache_dir() / "hf-hashes" / f"{hashlib.sha256(str(root).encode()).hexdigest()[:16]}.json"
    try:
        known = json.loads(memo.read_text())
    except (OSError, ValueError):
        known = None  # first time (or a damaged memo): hash below
    if isinstance(known, dict) and known.get("stats") == stats and isinstance(known.get("digest"), str):
        return str(known["digest"])
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode() + b"\0")
        with open(file, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_name(f".{memo.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"path": str(root), "stats": stats, "digest": digest.hexdigest()}))
        os.replace(tmp, memo)
    except OSError as exc:  # only a speed-up: the digest stands without it
        warnings.warn(f"cannot remember the hash of {root.name} in {memo.parent}: {exc}", stacklevel=2)
    return digest.hexdigest()


def architecture(config: Mapping[str, Any]) -> str:
    """The first of ``config.architectures`` (``"BertForSequenceClassification"``), or ``""``."""
    names = config.get("architectures") or []
    return str(names[0]) if isinstance(names, list) and names else ""


def task(config: Mapping[str, Any]) -> str:
    """The workbench task of the checkpoint's head (classification heads compare top-1 in parity)."""
    arch = architecture(config)
    if arch.endswith("ForSequenceClassification"):
        return "text-classification"
    if arch.endswith("ForImageClassification"):
        return "image-classification"
    return "generic"


def default_dims(config: Mapping[str, Any]) -> dict[str, int]:
    """Sizes for the symbolic dims of :func:`input_specs` that ``--shape`` did not bind."""
    image = int(config.get("image_size") or 224)
    return {"seq": min(DEFAULT_SEQ, _max_positions(config)), "height": image, "width": image}


def input_specs(config: Mapping[str, Any], names: Sequence[str]) -> tuple[TensorSpec, ...]:
    """Specs of the inputs ``names`` (from :func:`signature`), with symbolic ``batch``/``seq`` dims."""
    vocab = config.get("vocab_size")
    specs = []
    for name in names:
        if name == "input_ids":
            specs.append(TensorSpec(name, ("batch", "seq"), "int64", "tokens", int(vocab) if vocab else None))
        elif name == "attention_mask":
            specs.append(TensorSpec(name, ("batch", "seq"), "int64", "mask"))
        elif name == "token_type_ids":
            specs.append(TensorSpec(name, ("batch", "seq"), "int64", "data"))
        else:  # pixel_values
            channels = int(config.get("num_channels") or 3)
            specs.append(TensorSpec(name, ("batch", channels, "height", "width"), "float32", "image"))
    return tuple(specs)


def check_dims(specs: Sequence[TensorSpec], config: Mapping[str, Any], label: str) -> None:
    """A token sequence longer than the model's position table is a UsageError naming the limit."""
    limit = _max_positions(config)
    for spec in specs:
        if spec.role in ("tokens", "mask") and len(spec.shape) == 2 and int(spec.shape[1]) > limit:
            raise UsageError(
                f"--shape {spec.name}={'x'.join(map(str, spec.shape))}: {label} takes at most {limit} tokens "
                f"(max_position_embeddings); use a shorter sequence"
            )


def _max_positions(config: Mapping[str, Any]) -> int:
    value = config.get("max_position_embeddings") or config.get("n_positions") or 512
    return int(value)


# ---- loading (imports torch and transformers) --------------------------------------------------------------------
def _transformers() -> Any:
    """transformers, imported offline and quiet. Raises ModelError when it is not installed."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)  # transformers imports torchvision when it is installed
    try:
        import transformers
    except ImportError:
        raise ModelError("Hugging Face checkpoint directories need transformers: pip install transformers") from None
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _model_class(transformers: Any, config: Mapping[str, Any]) -> Any:
    """The transformers class for ``config.architectures[0]``: the auto class of its head, else the class of that
    name, else ``AutoModel``."""
    arch = architecture(config)
    for suffix, auto in AUTO_CLASSES:
        if arch.endswith(suffix):
            return getattr(transformers, auto)
    named = getattr(transformers, arch, None) if arch else None
    if named is not None and hasattr(named, "from_pretrained"):
        return named
    return transformers.AutoModel


def load_pretrained(path: Path, attention: str | None = "eager") -> torch.nn.Module:
    """The checkpoint's transformers model, loaded offline in fp32 eval mode with ``attention`` as its attention
    implementation: ``"eager"`` (the attention the ONNX export traces), or None for transformers' default (what
    ``from_pretrained`` gives its users: SDPA where the architecture has it). Raises ModelError."""
    transformers = _transformers()
    config = read_config(path)
    cls = _model_class(transformers, config)
    try:
        try:
            kwargs = {"attn_implementation": attention} if attention else {}
            model = cls.from_pretrained(str(path), local_files_only=True, **kwargs)
        except (ValueError, TypeError) as exc:  # an architecture without the eager/sdpa choice
            if "attn_implementation" not in str(exc) and "attention" not in str(exc).lower():
                raise
            model = cls.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        text = str(exc).strip().splitlines()
        raise ModelError(
            f"transformers could not load {path.name} ({cls.__name__}): {text[0] if text else type(exc).__name__}"
        ) from exc
    if hasattr(model.config, "use_cache"):
        model.config.use_cache = False  # no past key/values among the outputs
    return model.float().eval()


def _forward_inputs(model: torch.nn.Module, label: str) -> list[str]:
    import inspect

    params = inspect.signature(model.forward).parameters
    names = [n for n in TEXT_INPUTS if n in params]
    if "input_ids" in names:
        return names
    if "pixel_values" in params:
        return ["pixel_values"]
    raise ModelError(f"{label}: {type(model).__name__} takes neither input_ids nor pixel_values; not supported yet")


def wrap(model: torch.nn.Module, names: Sequence[str]) -> torch.nn.Module:
    """``model`` as a module whose ``forward`` takes ``names`` positionally and returns the output's tensors."""
    from torch import nn

    class Positional(nn.Module):
        def __init__(self, inner: nn.Module, input_names: tuple[str, ...]) -> None:
            super().__init__()
            self.model = inner
            self.input_names = input_names

        def forward(self, *args: Any) -> tuple[Any, ...]:
            out = self.model(**dict(zip(self.input_names, args, strict=True)), return_dict=True)
            return tuple(out.to_tuple())

    return Positional(model, tuple(names)).eval()


def load_module(path: Path, names: Sequence[str], attention: str | None = "eager") -> torch.nn.Module:
    """The checkpoint as the engines run it: :func:`load_pretrained` (with ``attention``) wrapped by :func:`wrap`."""
    return wrap(load_pretrained(path, attention), names)


def signature(path: Path, config: Mapping[str, Any]) -> dict[str, Any]:
    """``{"inputs": [names], "outputs": [names]}``: what the model's ``forward`` takes (of :data:`TEXT_INPUTS`,
    or ``pixel_values``) and the names of the tensors it returns, from one forward pass on small inputs."""
    import torch

    from workbench.models.inputs import make_inputs

    model = load_pretrained(path)
    names = _forward_inputs(model, path.name)
    dims = {**default_dims(config), "batch": 1, "seq": min(8, _max_positions(config))}
    specs = [
        TensorSpec(s.name, tuple(dims[d] if isinstance(d, str) else d for d in s.shape), s.dtype, s.role, s.vocab_size)
        for s in input_specs(config, names)
    ]
    feeds = make_inputs(specs, seed=0)
    with torch.inference_mode():
        out = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}, return_dict=True)
    return {"inputs": names, "outputs": [str(k) for k in out.keys()]}
