"""The model-format registry: one table of every format an artifact can carry.

Each :class:`ModelFormat` says how a file of that format is recognised (its suffixes and, where several formats
share a suffix, a content sniffer that never unpickles), whose fp32 output is the parity reference for models in
that format, and whether built-in models are resolved to it. Files are recognised by their content first
(:func:`sniff_format`: a TorchScript/torch.export zip, an XML ``<net>``, an ONNX protobuf, a TensorFlow Lite
flatbuffer with its ``TFL3`` identifier, whatever the name);
the suffix decides only when the content says nothing. Which engines read a format is not written here: it
is derived from each adapter's ``formats`` through the registry (:func:`engines_for`).

Adding a format is one row in :data:`FORMAT_TABLE` (plus, in :mod:`workbench.models.resolve`, the function that
reads its input specs, and an adapter that lists it in ``formats``).

Only the standard library is imported; nothing here imports an engine.
"""

from __future__ import annotations

import pickletools
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class ModelFormat:
    """One model format.

    ``suffixes``: lower-case file suffixes (with the dot) that mean this format; empty for a format that is not a
    file (``torch-builtin``). ``sniff``: for suffixes several formats share, a function that looks at the content
    and returns the format's name (possibly another format of the same family: a torch.export archive saved as
    ``.pt`` is ``pt2``), raising ModelError for what it refuses. ``companions``: suffix -> what such a file is,
    for files that belong beside a model file (OpenVINO's ``.bin``). ``reference_engine``: whose fp32 CPU output
    is the parity reference. ``builtin``: built-in models are exported/converted to it.
    """

    name: str
    label: str
    suffixes: tuple[str, ...] = ()
    reference_engine: str = "torch"
    builtin: bool = False
    sniff: Callable[[Path], str] | None = None
    companions: Mapping[str, str] = field(default_factory=dict)


# ---- content sniffing ----------------------------------------------------------------------------------------------
def detect_torch_format(path: Path) -> str:
    """``"torchscript"`` or ``"pt2"``, from the member names of the file's zip archive (nothing is unpickled).

    TorchScript archives (``torch.jit.save``) hold ``<dir>/code/`` and ``<dir>/constants.pkl``; torch.export
    archives (``torch.export.save``) hold ``<dir>/archive_format`` and ``<dir>/models/*.json`` (older ones a
    top-level ``serialized_exported_program.json``). Raises ModelError for pickled checkpoints
    (``torch.save``) and anything else.
    """
    from workbench.errors import ModelError

    path = Path(path)
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as fh:
            head = fh.read(2)
        if head[:1] == b"\x80":  # pickle protocol >= 2: torch.save(..., _use_new_zipfile_serialization=False)
            raise ModelError(_pickled_message(path))
        raise ModelError(f"{path.name} is not a TorchScript or torch.export file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path.name} is a damaged zip archive ({detail})") from exc
    tails = {m.split("/", 1)[1] if "/" in m else m for m in members}
    if (
        "archive_format" in tails
        or "serialized_exported_program.json" in tails
        or any(t.startswith("models/") and t.endswith(".json") for t in tails)
    ):
        return "pt2"
    if "constants.pkl" in tails and any(t.startswith("code/") for t in tails):
        return "torchscript"
    if "data.pkl" in tails:
        raise ModelError(_pickled_message(path))
    raise ModelError(f"{path.name} is a zip archive but not a TorchScript or torch.export file")


def _varint(data: bytes, pos: int) -> tuple[int | None, int]:
    """A protobuf varint at ``pos``: ``(value, next position)``, value None when ``data`` ends inside it."""
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            return None, pos
    return None, pos


#: ModelProto field number -> protobuf wire type (onnx.proto: ir_version=1 ... graph=7, opset_import=8, ...).
_ONNX_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def looks_like_onnx(head: bytes, size: int) -> bool:
    """Whether ``head`` (the first bytes of a file of ``size`` bytes) is the start of a serialized ONNX
    ``ModelProto``: every field a ModelProto field with its wire type, an ``ir_version`` and a graph or opset.
    Cheap (no parse of the graph); the spec reader parses the file for real."""
    pos, seen = 0, set()
    while pos < len(head):
        tag, pos = _varint(head, pos)
        if tag is None:
            break
        number, wire = tag >> 3, tag & 7
        if _ONNX_MODEL_FIELDS.get(number) != wire:
            return False
        value, pos = _varint(head, pos)
        if value is None:
            break
        if number == 1 and not 1 <= value <= 64:
            return False
        if wire == 2:
            pos += value
            if pos > size:
                return False
        seen.add(number)
    return 1 in seen and bool(seen & {7, 8})


#: The FlatBuffers file identifier of a TensorFlow Lite model (schema.fbs: ``file_identifier "TFL3"``).
TFLITE_IDENTIFIER = b"TFL3"


def looks_like_tflite(head: bytes) -> bool:
    """Whether ``head`` starts a TensorFlow Lite flatbuffer: the root table offset (4 bytes, little-endian, inside
    the file) then the identifier ``TFL3`` at bytes 4..8."""
    if len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER:
        return False
    root = int.from_bytes(head[:4], "little")
    return 8 <= root


_IR_HEAD = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<net[\s>]", re.DOTALL)


def _looks_like_pickle(head: bytes) -> bool:
    """A pickle stream (protocol 2+) whose first opcodes parse; nothing is unpickled."""
    if len(head) < 2 or head[0] != 0x80 or head[1] not in (2, 3, 4, 5):
        return False
    try:
        for count, _ in enumerate(pickletools.genops(head)):
            if count >= 8:
                break
    except (ValueError, IndexError):
        return False
    return True


def sniff_format(path: Path) -> str | None:
    """The format the content of ``path`` shows, whatever its name; None when the content says nothing (or the
    file cannot be read).

    A zip archive is TorchScript or torch.export by its member names (:func:`detect_torch_format`); an XML
    document whose root is ``<net>`` is an OpenVINO IR; a flatbuffer with the identifier ``TFL3`` at bytes 4..8 is
    TensorFlow Lite (:func:`looks_like_tflite`); a protobuf that starts like an ONNX ModelProto
    (:func:`looks_like_onnx`) is ONNX. Raises ModelError for pickled checkpoints (``torch.save``: a zip with
    ``data.pkl`` or a bare pickle), with the line that says how to export, and for zips of anything else.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        size = path.stat().st_size
    except OSError:
        return None
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        return detect_torch_format(path)
    if _looks_like_pickle(head):
        from workbench.errors import ModelError

        raise ModelError(_pickled_message(path))
    if _IR_HEAD.match(head.removeprefix(b"\xef\xbb\xbf")):
        return "openvino"
    if looks_like_tflite(head):
        return "tflite"
    if looks_like_onnx(head, size):
        return "onnx"
    return None


def onnx_external_data(model: Any) -> list[str]:
    """Locations (relative to the ``.onnx`` file) of the external-data files an ONNX ``ModelProto`` names —
    the weights of models over 2 GB live there — in first-use order. Walks initializers, tensor attributes and
    subgraphs of a model loaded with ``load_external_data=False``; reads no weights, imports nothing."""
    found: dict[str, None] = {}
    external = 1  # onnx.TensorProto.EXTERNAL

    def walk(graph: Any) -> None:
        tensors = list(graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                tensors += ([attr.t] if attr.HasField("t") else []) + list(attr.tensors)
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    walk(sub)
        for tensor in tensors:
            if tensor.data_location == external:
                found.update({e.value: None for e in tensor.external_data if e.key == "location"})

    walk(model.graph)
    return list(found)


def _sniff_tflite(path: Path) -> str:
    """``"tflite"`` for a ``.tflite`` file whose content is a TensorFlow Lite flatbuffer; ModelError otherwise."""
    from workbench.errors import ModelError

    with open(path, "rb") as fh:
        head = fh.read(8)
    if looks_like_tflite(head):
        return "tflite"
    raise ModelError(f"{path.name} is not a TensorFlow Lite model (no 'TFL3' flatbuffer identifier at bytes 4..8)")


def _pickled_message(path: Path) -> str:
    return (
        f"{path.name} looks like a pickled checkpoint (torch.save), which the workbench does not unpickle; "
        "export it with torch.jit.save or torch.export.save"
    )


# ---- the table ---------------------------------------------------------------------------------------------------
#: Every format: the built-in source first, then file formats in the order they are listed to users.
FORMAT_TABLE: tuple[ModelFormat, ...] = (
    ModelFormat("torch-builtin", "built-in PyTorch module (architecture + state dict)", builtin=True),
    ModelFormat(
        "onnx",
        "ONNX",
        (".onnx",),
        reference_engine="onnxruntime",
        builtin=True,
        companions={".data": "ONNX external data (the weights of a large model)"},
    ),
    ModelFormat(
        "openvino",
        "OpenVINO IR (with its .bin)",
        (".xml",),
        reference_engine="openvino",
        builtin=True,
        companions={".bin": "OpenVINO weights"},
    ),
    ModelFormat(
        "torchscript", "TorchScript", (".pt", ".pth", ".ts"), reference_engine="torch", sniff=detect_torch_format
    ),
    ModelFormat("pt2", "torch.export", (".pt2",), reference_engine="torch", sniff=detect_torch_format),
    ModelFormat("tflite", "TensorFlow Lite", (".tflite",), reference_engine="openvino", sniff=_sniff_tflite),
    # folders of a causal language model (``--mode generate``), recognised by content (:func:`generative_folder`)
    ModelFormat("hf-causal-lm", "Hugging Face causal-LM folder (config.json, safetensors, tokenizer)"),
    ModelFormat(
        "openvino-genai",
        "OpenVINO GenAI folder (openvino_model.xml, openvino_tokenizer.xml, openvino_detokenizer.xml)",
        reference_engine="openvino",
    ),
    ModelFormat(
        "onnxruntime-genai", "ONNX Runtime GenAI folder (genai_config.json, model.onnx)", reference_engine="onnxruntime"
    ),
)
#: The folder formats of causal language models, in the order a folder is checked.
GENERATIVE_FORMATS: tuple[str, ...] = ("openvino-genai", "onnxruntime-genai", "hf-causal-lm")


def generative_folder(path: Path) -> str | None:
    """The generative folder format of directory ``path`` from the files it holds, or None when it is none of
    them. An OpenVINO GenAI folder has ``openvino_model.xml`` and the tokenizer IRs; an ONNX Runtime GenAI folder
    ``genai_config.json``; a Hugging Face causal LM a ``config.json`` whose ``architectures`` end in
    ``ForCausalLM`` (with safetensors weights and a tokenizer: :mod:`workbench.models.generative` checks)."""
    import json

    path = Path(path)
    if not path.is_dir():
        return None
    if (path / "openvino_model.xml").is_file():
        return "openvino-genai"
    if (path / "genai_config.json").is_file():
        return "onnxruntime-genai"
    config = path / "config.json"
    if config.is_file():
        try:
            archs = json.loads(config.read_text()).get("architectures") or []
        except (OSError, ValueError, AttributeError):
            return None
        if any(str(a).endswith("ForCausalLM") for a in archs):
            return "hf-causal-lm"
    return None


_BY_NAME: dict[str, ModelFormat] = {f.name: f for f in FORMAT_TABLE}
#: The format of the built-in models themselves (their parity reference is its reference engine).
BUILTIN_SOURCE = "torch-builtin"


def format_names() -> tuple[str, ...]:
    """Every format name."""
    return tuple(_BY_NAME)


def get_format(name: str) -> ModelFormat:
    """The format called ``name``; KeyError for an unknown one."""
    return _BY_NAME[name]


def builtin_formats() -> tuple[str, ...]:
    """Formats a built-in model can be resolved to."""
    return tuple(f.name for f in FORMAT_TABLE if f.builtin)


def file_types() -> dict[str, str]:
    """Model-file suffix -> what it holds (``{".onnx": "ONNX", ...}``), in listing order."""
    return {suffix: f.label for f in FORMAT_TABLE for suffix in f.suffixes}


def describe_files() -> str:
    """The model files the workbench reads, for help texts: ``.onnx (ONNX), ..., .pt2 (torch.export)``."""
    return ", ".join(f"{'/'.join(f.suffixes)} ({f.label})" for f in FORMAT_TABLE if f.suffixes)


def companion_suffixes() -> dict[str, tuple[str, str]]:
    """Suffix of a companion file -> ``(what it is, the model suffix to pass instead)``."""
    return {s: (what, f.suffixes[0]) for f in FORMAT_TABLE for s, what in f.companions.items() if f.suffixes}


def reference_engine(fmt: str) -> str:
    """Whose fp32 CPU output is the parity reference for a model in format ``fmt``."""
    return _BY_NAME[fmt].reference_engine


def builtin_reference_engine() -> str:
    """Whose fp32 CPU output is the parity reference for built-in models."""
    return reference_engine(BUILTIN_SOURCE)


def detect_format(path: Path) -> str:
    """The format of the model file ``path``: from its content (:func:`sniff_format`) whatever its name, else
    from its suffix (and, where the suffix is shared, the format's own sniffer).

    Raises ModelError in one line: a pickled checkpoint (any name), a companion file given instead of its model
    file, a suffix no format has, or content the sniffer refuses.
    """
    from workbench.errors import ModelError

    path = Path(path)
    sniffed = sniff_format(path)
    if sniffed is not None:
        return sniffed
    ext = path.suffix.lower()
    candidates = [f for f in FORMAT_TABLE if ext in f.suffixes]
    if not candidates:
        companion = companion_suffixes().get(ext)
        if companion is not None:
            what, model_suffix = companion
            raise ModelError(f"{path.name} looks like {what}: pass the {model_suffix} file beside it")
        kinds = ", ".join(f"{e} ({k})" for e, k in file_types().items())
        raise ModelError(f"unsupported model file {path.name!r}: the workbench reads {kinds}")
    for fmt in candidates:
        if fmt.sniff is not None:
            return fmt.sniff(path)
    return candidates[0].name


def engines_for(fmt: str, *, include_hidden: bool = False) -> tuple[str, ...]:
    """Engines whose adapter reads ``fmt`` (from each adapter's ``formats``; no engine is imported)."""
    from .registry import engine_names, get_engine_class

    get_format(fmt)
    return tuple(n for n in engine_names(include_hidden) if fmt in get_engine_class(n).formats)
