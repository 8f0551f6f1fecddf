"""Model inputs: seeded synthetic arrays for a model's :class:`~workbench_engines.base.TensorSpec` list, and the
real values a user gives (``--input NAME=VALUE``, ``--inputs feeds.npz``, images).

Generated inputs
    Latency does not depend on the values, but some inputs must be *valid*: token ids must index the embedding
    table, masks must be ones, and segment/type ids must be small. The same seed gives identical arrays, so every
    engine in a comparison sees exactly the same inputs (:func:`make_inputs`).

Given inputs (:class:`InputRequest`, what the user typed; :func:`resolve_inputs` checks it against the specs)
    * ``NAME=VALUE`` — a number or ``true``/``false``: a scalar, or a fill value for the input's bound shape
      (``sr=16000``, ``mask=1``), cast to the input's dtype (a fraction for an integer input, or a value out of the
      dtype's range, is refused);
    * ``NAME=file.npy`` — an array (``numpy.load(allow_pickle=False)``); float64 data for a float32 input is cast,
      integer data must fit the input's integer dtype, float data for an integer input is refused; the shape must
      be the bound shape (a 0-d array is broadcast like a value);
    * ``--inputs feeds.npz`` — several arrays at once, each keyed by its input name (same rules; an ``--input``
      for the same name wins);
    * ``NAME=photo.jpg`` (any image Pillow reads) for an NCHW/NHWC input with 1 or 3 channels — see
      :class:`ImagePrep` for the preprocessing;
    * string inputs (``tensor(string)``, dtype :data:`STRING`): ``NAME=any text`` (taken as typed, numbers too),
      ``NAME=lines.txt`` (UTF-8, one string per line) or ``NAME=file.npy`` holding unicode or UTF-8 bytes; they
      become the object arrays of ``str`` ONNX Runtime takes (a pickled object ``.npy`` is refused).

    A mismatch is one line naming the input, what the model wants and what was given, e.g.
    ``--input x: a.npy has shape 1x3x32x32 float64; the model wants 1x3x224x224 float32``.

Reaching the benchmark processes
    The parent resolves the request once (:func:`resolve_inputs`); :func:`write_job_inputs` turns it into the small
    JSON-able ``Job.inputs`` — values inline, arrays from files and images in one ``.npz`` in a temporary folder —
    and each child builds its feeds with :func:`feeds_for_job` (generated arrays, then the given ones), so every
    engine and the parity reference see identical feeds.
"""

from __future__ import annotations

import hashlib
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Collection, Mapping, Sequence

import numpy as np

from workbench.errors import UsageError
from workbench_engines.base import TensorSpec

#: Range of token ids when a spec does not know its vocabulary size (safe for any real embedding table).
DEFAULT_VOCAB = 100

#: Channel means and standard deviations of ImageNet (RGB, for pixels scaled to [0, 1]): the normalisation
#: torchvision's classifiers and most exported vision models expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
IMAGE_LAYOUTS = ("nchw", "nhwc")
#: File suffixes read as images (by Pillow); ``.npy`` is an array, ``.npz`` belongs to ``--inputs``.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
#: The dtype name of a string tensor input (ONNX ``tensor(string)``, an IR's ``string``): its arrays are numpy
#: object arrays of Python ``str``, what ONNX Runtime takes (unicode or bytes ``.npy`` data is converted).
STRING = "string"
#: Text files given to a string input: one string per line.
TEXT_SUFFIXES = (".txt",)
#: Words seeded string inputs are drawn from (a generated string is one to three of them).
_WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "inference", "workbench", "engine",
    "latency", "model", "tensor", "string", "café", "naïve", "東京", "données",
)  # fmt: skip
#: Names of inputs that take a sample rate (the hint for a generated value suggests 16 kHz).
_SAMPLE_RATE_NAMES = ("sr", "sample_rate", "sampling_rate", "samplerate", "rate")


# ------------------------------------------------------------------------------------------------- generated
def make_inputs(specs: Sequence[TensorSpec], seed: int = 0) -> dict[str, np.ndarray]:
    """One array per spec, keyed by input name, drawn from ``numpy.random.default_rng(seed)`` in spec order.

    * float inputs (roles ``image``/``data``): N(0, 1) in the spec's dtype (float32, float16, ...);
    * ``tokens``: integers in ``[0, vocab_size)`` (``[0, 100)`` when ``vocab_size`` is None);
    * ``mask``: ones (``True`` for bool);
    * other integer or bool inputs (segment/type ids, flags): zeros;
    * string inputs: one to three words from a small fixed list (ASCII and not), as an object array of ``str``.

    Raises UsageError when a spec still has symbolic dims or a dtype numpy cannot make.
    """
    rng = np.random.default_rng(seed)
    return {spec.name: _make_one(spec, rng) for spec in specs}


def _make_one(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    if not spec.is_static:
        dims = "x".join(str(d) for d in spec.shape)
        raise UsageError(
            f"input {spec.name!r} has unresolved shape {dims}: pass --shape {spec.name}=... with sizes for every dim"
        )
    shape = tuple(int(d) for d in spec.shape)
    if spec.dtype == STRING:
        return _make_strings(shape, rng)
    dtype = numpy_dtype(spec.dtype)
    if dtype.kind == "f" or spec.dtype == "bfloat16":
        if spec.role == "mask":
            return np.ones(shape, dtype=dtype)
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    if dtype.kind in "iu":
        if spec.role == "mask":
            return np.ones(shape, dtype=dtype)
        if spec.role == "tokens":
            high = spec.vocab_size or DEFAULT_VOCAB
            high = min(high, int(np.iinfo(dtype).max) + 1)
            return rng.integers(0, high, size=shape, dtype=dtype)
        return np.zeros(shape, dtype=dtype)
    if dtype.kind == "b":
        return np.ones(shape, dtype=dtype) if spec.role == "mask" else np.zeros(shape, dtype=dtype)
    raise UsageError(f"input {spec.name!r} has dtype {spec.dtype}, which the workbench cannot generate inputs for")


def _make_strings(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Seeded strings: each one to three words of :data:`_WORDS`, joined by spaces (object array of ``str``)."""
    count = int(np.prod(shape, dtype=np.int64))
    lengths = rng.integers(1, 4, size=count)
    picks = rng.integers(0, len(_WORDS), size=int(lengths.sum()))
    out, at = np.empty(count, dtype=object), 0
    for i, n in enumerate(lengths):
        out[i] = " ".join(_WORDS[int(k)] for k in picks[at : at + n])
        at += int(n)
    return out.reshape(shape)


def is_string(spec: TensorSpec) -> bool:
    """Whether ``spec`` is a string tensor."""
    return spec.dtype == STRING


def portable(array: Any) -> np.ndarray:
    """``array`` as something ``np.save`` writes without pickling: an object array of strings (a string input or
    output) becomes a unicode array; anything else unchanged."""
    out = np.asarray(array)
    if out.dtype == object:
        if all(isinstance(v, bytes) for v in out.flat):
            return out.astype(bytes)
        if all(isinstance(v, str) for v in out.flat):
            return out.astype(str)
        kinds = sorted({type(v).__name__ for v in out.flat if not isinstance(v, (str, bytes))})
        raise ValueError(f"an array of {', '.join(kinds)} objects cannot be written without pickling")
    return out


def as_strings(label: str, array: np.ndarray) -> np.ndarray:
    """A unicode, bytes (UTF-8) or object array of strings as the object array of ``str`` a string input takes.
    Raises UsageError for bytes that are not UTF-8 or an array of anything else."""
    if array.dtype.kind == "U":
        return array.astype(object)
    if array.dtype.kind == "S":
        try:
            return np.char.decode(array, "utf-8").astype(object)
        except UnicodeDecodeError as exc:
            raise UsageError(f"{label}: its bytes are not UTF-8 text ({_first(exc)})") from None
    if array.dtype == object and all(isinstance(v, str) for v in array.flat):
        return array
    raise UsageError(f"{label} is {array.dtype}, not strings")


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype for a dtype name (``string``: object, holding ``str``; ``bfloat16`` needs the ml_dtypes
    package). Raises UsageError."""
    if name == STRING:
        return np.dtype(object)
    try:
        return np.dtype(name)
    except TypeError:
        pass
    if name == "bfloat16":
        try:
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            raise UsageError("bfloat16 inputs need the ml_dtypes package: pip install ml_dtypes") from None
    raise UsageError(f"unknown input dtype {name!r}")


# ---------------------------------------------------------------------------------------------- the request
@dataclass(frozen=True)
class ImagePrep:
    """How an image file becomes an input tensor.

    The image is converted to RGB (grayscale ``L`` for a 1-channel input), resized to the input's bound H×W
    (bilinear; the aspect ratio is not kept, nothing is cropped), divided by ``scale`` (255: pixels in [0, 1]; 1:
    raw 0…255), normalised per channel as ``(x - mean) / std`` and laid out as ``layout`` (NCHW by default, NHWC
    for TensorFlow-style models), repeated over the batch. ``mean``/``std`` are given in the scaled units
    (defaults: ImageNet's); one value applies to every channel, and a 1-channel input uses the average of three.
    Integer (e.g. uint8) image inputs get the raw resized pixels: no scaling, no normalisation.
    """

    layout: str = "nchw"
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    scale: float = 255.0

    def to_dict(self) -> dict[str, Any]:
        return {"layout": self.layout, "mean": list(self.mean), "std": list(self.std), "scale": self.scale}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ImagePrep":
        return cls(
            layout=str(d.get("layout") or "nchw"),
            mean=tuple(float(v) for v in d.get("mean") or IMAGENET_MEAN),
            std=tuple(float(v) for v in d.get("std") or IMAGENET_STD),
            scale=float(d.get("scale") or 255.0),
        )

    def check(self) -> None:
        """Raises UsageError naming the option that is wrong."""
        if self.layout not in IMAGE_LAYOUTS:
            raise UsageError(f"--image-layout must be one of {', '.join(IMAGE_LAYOUTS)}, not {self.layout!r}")
        for flag, values in (("--image-mean", self.mean), ("--image-std", self.std)):
            if len(values) not in (1, 3) or not all(math.isfinite(v) for v in values):
                raise UsageError(f"{flag} takes 1 or 3 numbers (R,G,B), not {_numbers(values)}")
        if any(v <= 0 for v in self.std):
            raise UsageError(f"--image-std must be > 0, not {_numbers(self.std)}")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise UsageError(f"--image-scale must be > 0 (255 or 1), not {self.scale:g}")


@dataclass(frozen=True)
class InputRequest:
    """The input values a user asked for: ``given`` holds ``(NAME, VALUE)`` as typed (``--input``, in order; NAME
    ``*`` for a bare VALUE, meaning the model's only input), ``file`` the ``--inputs`` ``.npz``, ``image`` the
    preprocessing of image files. JSON-able (:meth:`to_dict`); checked against the model by
    :func:`resolve_inputs`."""

    given: tuple[tuple[str, str], ...] = ()
    file: str | None = None
    image: ImagePrep = field(default_factory=ImagePrep)

    @property
    def empty(self) -> bool:
        return not self.given and not self.file

    def to_dict(self) -> dict[str, Any]:
        return {"given": dict(self.given), "file": self.file, "image": self.image.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "InputRequest":
        given = d.get("given") or {}
        pairs = given.items() if isinstance(given, Mapping) else given
        return cls(
            given=tuple((str(k), str(v)) for k, v in pairs),
            file=d.get("file") or None,
            image=ImagePrep.from_dict(d.get("image") or {}),
        )


def split_input_arg(text: str) -> tuple[str, str]:
    """``"sr=16000"`` -> ``("sr", "16000")``; a bare value (``"photo.jpg"``) is ``("*", value)``: the only input.
    Raises ValueError (syntax only: files are read by :func:`resolve_inputs`)."""
    name, sep, value = text.partition("=")
    if not sep:
        name, value = "*", text
    name, value = name.strip(), value.strip()
    if not name or not value:
        raise ValueError(f"bad --input {text!r}: use NAME=VALUE (a number, a .npy file or an image)")
    return name, value


def parse_inputs_text(text: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """The UI's one inputs field: ``NAME=VALUE`` pairs separated by spaces or commas, and optionally one ``.npz``
    alone (``--inputs``). Returns ``(given, npz)``; raises ValueError with one line."""
    given: list[tuple[str, str]] = []
    npz: str | None = None
    for token in text.replace(",", " ").split():
        if "=" not in token and token.lower().endswith(".npz"):
            if npz is not None:
                raise ValueError(f"inputs: two .npz files ({npz}, {token}); give one")
            npz = token
            continue
        if "=" not in token:
            raise ValueError(f"inputs: {token!r} is not NAME=VALUE (e.g. sr=16000, x=a.npy, image=photo.jpg)")
        given.append(split_input_arg(token))
    return tuple(given), npz


def parse_value(text: str) -> int | float | bool:
    """A number or ``true``/``false`` as typed. Raises ValueError."""
    t = text.strip().lower()
    if t in ("true", "false"):
        return t == "true"
    try:
        return int(t, 10)
    except ValueError:
        pass
    f = float(t)
    if not math.isfinite(f):
        raise ValueError(f"{text!r} is not a finite number")
    return f


def _classify(flag: str, value: str) -> tuple[str, Any]:
    """``("value", number)``, ``("npy", Path)``, ``("image", Path)``, ``("lines", Path)`` (a ``.txt`` file: one
    string per line) or ``("text", value)`` (anything else: a string input's value; any other input refuses it in
    :func:`resolve_inputs`). Raises UsageError for a file that does not exist or an ``.npz``."""
    suffix = Path(value).suffix.lower()
    if suffix == ".npz":
        raise UsageError(
            f"{flag}: {value} is an .npz archive; pass it as --inputs {value} (arrays keyed by input name)"
        )
    if suffix in (".npy", *IMAGE_SUFFIXES, *TEXT_SUFFIXES):
        path = Path(value).expanduser()
        if not path.is_file():
            raise UsageError(f"{flag}: no such file: {value}")
        return ("npy" if suffix == ".npy" else "lines" if suffix in TEXT_SUFFIXES else "image"), path
    try:
        return "value", parse_value(value)
    except ValueError:
        pass
    return "text", value


def _not_a_value(flag: str, value: str) -> UsageError:
    """The line for text given to an input that takes numbers."""
    if Path(value).expanduser().exists():
        return UsageError(f"{flag}: {value} is neither a .npy array nor an image ({', '.join(IMAGE_SUFFIXES[:3])}, …)")
    return UsageError(f"{flag}: {value!r} is not a number, true/false, a .npy file or an image")


def check_request(request: InputRequest) -> None:
    """What can be checked before the model is known: syntax, duplicates, files that exist, image options.
    Raises UsageError (one line)."""
    seen: set[str] = set()
    for name, value in request.given:
        if name in seen:
            raise UsageError(f"--input {name} is given twice")
        seen.add(name)
        _classify(f"--input {name}" if name != "*" else "--input", value)
    if request.file:
        path = Path(request.file).expanduser()
        if path.suffix.lower() != ".npz":
            raise UsageError(f"--inputs takes an .npz file (arrays keyed by input name), not {request.file}")
        if not path.is_file():
            raise UsageError(f"--inputs: no such file: {request.file}")
    request.image.check()


# -------------------------------------------------------------------------------------------- resolution
@dataclass(frozen=True)
class ResolvedInputs:
    """A request checked against the model's specs: ``fills`` (name -> a JSON-able value, already cast and
    range-checked) go inline into each job, ``arrays`` (from files and images, in the input's dtype and shape) go
    through an ``.npz``, ``sources`` says where each given input came from (recorded in the result)."""

    fills: dict[str, int | float | bool | str] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.sources)


def dims(shape: Sequence[Any]) -> str:
    """``(1, 3, 224, 224)`` -> ``"1x3x224x224"``; ``()`` -> ``"scalar"``."""
    return "x".join(str(d) for d in shape) if len(shape) else "scalar"


def resolve_inputs(request: InputRequest, specs: Sequence[TensorSpec]) -> ResolvedInputs:
    """Check ``request`` against the model's bound ``specs`` and load what it names (files are read once here).
    Raises UsageError with one line naming the input and what is wrong."""
    check_request(request)
    by_name = {s.name: s for s in specs}
    names = [s.name for s in specs]
    resolved = ResolvedInputs()
    if request.file:
        _resolve_npz(Path(request.file).expanduser(), by_name, names, resolved)
    for name, value in request.given:
        name = _input_name(name, value, names)
        spec = by_name[name]
        flag = f"--input {name}"
        kind, parsed = _classify(flag, value)
        resolved.arrays.pop(name, None)
        resolved.fills.pop(name, None)
        if is_string(spec) and kind in ("value", "text"):  # the text as typed, whatever it looks like
            resolved.fills[name] = value
            resolved.sources[name] = {"source": "value", "value": value, "dtype": spec.dtype, "shape": list(spec.shape)}
        elif kind == "text":
            raise _not_a_value(flag, value)
        elif kind == "lines":
            path = Path(parsed)
            if not is_string(spec):
                raise UsageError(
                    f"{flag}: {path.name} is a text file (one string per line), and input {name!r} is {spec.dtype}"
                )
            lines = _read_lines(flag, path)
            resolved.arrays[name] = fit_array(f"{flag}: {path.name}", lines, spec)
            resolved.sources[name] = {
                "source": "file",
                "path": str(path.resolve()),
                "sha256": sha256_file(path),
                "shape": list(lines.shape),
                "dtype": STRING,
                "lines": True,
            }
        elif kind == "value":
            fill = cast_value(flag, parsed, spec)
            resolved.fills[name] = fill
            resolved.sources[name] = {
                "source": "value",
                "value": fill,
                "dtype": spec.dtype,
                "shape": list(spec.shape),
            }
        elif kind == "npy":
            path = Path(parsed)
            raw = _load_npy(flag, path)
            resolved.arrays[name] = fit_array(f"{flag}: {path.name}", raw, spec)
            resolved.sources[name] = {
                "source": "file",
                "path": str(path.resolve()),
                "sha256": sha256_file(path),
                "shape": list(raw.shape),
                "dtype": str(raw.dtype),
            }
        else:
            path = Path(parsed)
            array, prep = load_image(flag, path, spec, request.image)
            resolved.arrays[name] = array
            resolved.sources[name] = {
                "source": "image",
                "path": str(path.resolve()),
                "sha256": sha256_file(path),
                "preprocessing": prep,
            }
    return resolved


def _input_name(name: str, value: str, names: Sequence[str]) -> str:
    if name == "*":
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise UsageError(
                f"--input {value}: the model has {len(names)} inputs ({listed}); name one, e.g. "
                f"--input {names[0] if names else 'x'}={value}"
            )
        return names[0]
    if name not in names:
        raise UsageError(f"--input {name}: the model has no input {name!r}; its inputs: {', '.join(names) or 'none'}")
    return name


def _resolve_npz(path: Path, by_name: Mapping[str, TensorSpec], names: Sequence[str], out: ResolvedInputs) -> None:
    flag = f"--inputs {path.name}"
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"{flag}: cannot read it as an .npz archive ({_first(exc)})") from None
    if isinstance(data, np.ndarray):
        raise UsageError(f"{flag}: this is a single .npy array, not an .npz archive; pass it as --input NAME={path}")
    with data:
        unknown = [k for k in data.files if k not in by_name]
        if unknown:
            raise UsageError(
                f"{flag}: array {unknown[0]!r} names no input of the model; its inputs: {', '.join(names)}"
            )
        try:
            arrays = {k: data[k] for k in data.files}
        except (OSError, ValueError, EOFError) as exc:
            raise UsageError(f"{flag}: cannot read its arrays ({_first(exc)})") from None
    digest = sha256_file(path)
    for key, raw in arrays.items():
        out.arrays[key] = fit_array(f"{flag}: array {key!r}", raw, by_name[key])
        out.sources[key] = {
            "source": "file",
            "path": str(path.resolve()),
            "key": key,
            "sha256": digest,
            "shape": list(raw.shape),
            "dtype": str(raw.dtype),
        }


def _read_lines(flag: str, path: Path) -> np.ndarray:
    """A text file's lines (UTF-8, without their line ends) as a 1-D object array of ``str``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{flag}: cannot read {path.name} as UTF-8 text ({_first(exc)})") from None
    lines = text.splitlines()
    if not lines:
        raise UsageError(f"{flag}: {path.name} is empty (one string per line)")
    out = np.empty(len(lines), dtype=object)
    out[:] = lines
    return out


def _load_npy(flag: str, path: Path) -> np.ndarray:
    try:
        data = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UsageError(
                f"{flag}: cannot read {path.name}: it holds Python objects (pickled), which the workbench does not "
                "unpickle; for strings save a unicode array: np.save(path, np.array(strings, dtype=str))"
            ) from None
        raise UsageError(f"{flag}: cannot read {path.name} as a .npy array ({_first(exc)})") from None
    except (OSError, EOFError) as exc:
        raise UsageError(f"{flag}: cannot read {path.name} as a .npy array ({_first(exc)})") from None
    if not isinstance(data, np.ndarray):
        data.close()
        raise UsageError(f"{flag}: {path.name} is an .npz archive; pass it as --inputs {path}")
    return data


def cast_value(flag: str, value: int | float | bool, spec: TensorSpec) -> int | float | bool:
    """``value`` as the input's dtype wants it (a JSON-able Python number). Raises UsageError for a fraction given
    to an integer input, a value outside the dtype's range, or a dtype that takes no numbers."""
    dtype = numpy_dtype(spec.dtype)
    want = f"input {spec.name!r} is {spec.dtype}"
    if dtype.kind == "b":
        if value not in (0, 1):
            raise UsageError(f"{flag}: {value!r} is not true/false/1/0, and {want}")
        return bool(value)
    if dtype.kind in "iu":
        if isinstance(value, float):
            if not value.is_integer():
                raise UsageError(f"{flag}: {value:g} is not a whole number, and {want}")
        number = int(value)
        info = np.iinfo(dtype)
        if not info.min <= number <= info.max:
            raise UsageError(f"{flag}: {number} does not fit {want} ({info.min}…{info.max})")
        return number
    if dtype.kind == "f" or spec.dtype == "bfloat16":
        number_f = float(value)
        limit = float(np.finfo(np.float32 if spec.dtype == "bfloat16" else dtype).max)
        if abs(number_f) > limit:
            raise UsageError(f"{flag}: {number_f:g} does not fit {want}")
        return number_f
    raise UsageError(f"{flag}: {want}, which takes no number")


def fit_array(label: str, array: np.ndarray, spec: TensorSpec) -> np.ndarray:
    """``array`` in the input's dtype and bound shape (a 0-d array is broadcast). Float data for a float input
    and integer data for a float input are cast silently; integer data must fit an integer input; anything else,
    and any other shape, is refused with one line: ``<label> has shape A dtype; the model wants B dtype``."""
    dtype = numpy_dtype(spec.dtype)
    shape = tuple(int(d) for d in spec.shape)
    src = array.dtype

    def refuse(extra: str = "") -> UsageError:
        hint = ""
        if extra == "" and array.ndim == len(shape) and array.shape != shape and array.ndim:
            hint = f" (--shape {spec.name}={dims(array.shape)} binds other sizes where the model's dims are dynamic)"
        given = {"U": "strings", "S": "bytes", "O": "strings"}.get(src.kind, str(src))
        return UsageError(
            f"{label} has shape {dims(array.shape)} {given}; the model wants {dims(shape)} {spec.dtype}{extra}{hint}"
        )

    if is_string(spec):
        ok = src.kind in "USO"
    elif dtype.kind == "f" or spec.dtype == "bfloat16":
        ok = src.kind in "fiub"
    elif dtype.kind in "iu":
        ok = src.kind in "iub"
    elif dtype.kind == "b":
        ok = src.kind == "b" or (src.kind in "iu" and bool(np.isin(array, (0, 1)).all()))
    else:
        ok = False
    if not ok:
        raise refuse()
    if array.shape != shape:
        if array.ndim != 0:
            raise refuse()
        array = np.broadcast_to(array, shape)
    if is_string(spec):
        return np.ascontiguousarray(as_strings(label, array))
    if dtype.kind in "iu" and src.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        lo, hi = int(array.min()), int(array.max())
        if lo < info.min or hi > info.max:
            raise refuse(f" (values {lo}…{hi} do not fit {spec.dtype})")
    out = array.astype(dtype, copy=False)
    return out if out.flags.c_contiguous else np.ascontiguousarray(out)  # (ascontiguousarray makes 0-d 1-d)


def load_image(flag: str, path: Path, spec: TensorSpec, prep: ImagePrep) -> tuple[np.ndarray, dict[str, Any]]:
    """An image file as the input tensor ``spec`` (see :class:`ImagePrep`), and the preprocessing applied (for the
    record). Raises UsageError when the input is not an image-shaped tensor or the file cannot be read."""
    prep.check()
    shape = tuple(int(d) for d in spec.shape)
    dtype = numpy_dtype(spec.dtype)
    if len(shape) not in (3, 4) or (dtype.kind not in "fiu" and spec.dtype != "bfloat16"):
        raise UsageError(
            f"{flag}: {path.name} is an image, but input {spec.name!r} has shape {dims(shape)} {spec.dtype}; "
            "an image input is NCHW or NHWC (CHW/HWC without a batch)"
        )
    channels = shape[-3] if prep.layout == "nchw" else shape[-1]
    if channels not in (1, 3):
        other = "nhwc" if prep.layout == "nchw" else "nchw"
        other_c = shape[-1] if other == "nhwc" else shape[-3]
        hint = f"; pass --image-layout {other}" if other_c in (1, 3) else ""
        raise UsageError(
            f"{flag}: input {spec.name!r} has shape {dims(shape)}: as {prep.layout.upper()} that is {channels} "
            f"channels, not 1 (grayscale) or 3 (RGB){hint}"
        )
    height, width = (shape[-2], shape[-1]) if prep.layout == "nchw" else (shape[-3], shape[-2])
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        raise UsageError(f"{flag}: reading images needs Pillow: pip install pillow") from None
    mode = "L" if channels == 1 else "RGB"
    try:
        with Image.open(path) as img:
            original = [int(img.width), int(img.height)]
            pixels = img.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UsageError(f"{flag}: cannot read {path.name} as an image ({_first(exc)})") from None
    hwc = np.asarray(pixels, dtype=np.float32)
    if hwc.ndim == 2:
        hwc = hwc[:, :, None]
    info: dict[str, Any] = {
        "mode": mode,
        "original_size": original,  # width, height
        "resize": [height, width],
        "resample": "bilinear",
        "layout": prep.layout,
    }
    if dtype.kind == "f" or spec.dtype == "bfloat16":
        mean = _per_channel(prep.mean, channels)
        std = _per_channel(prep.std, channels)
        mean_a, std_a = np.array(mean, dtype=np.float32), np.array(std, dtype=np.float32)
        hwc = ((hwc / np.float32(prep.scale) - mean_a) / std_a).astype(np.float32)
        info.update(scale=prep.scale, mean=mean, std=std)
    else:
        info["normalised"] = False  # integer inputs take raw pixels
    one = hwc.transpose(2, 0, 1) if prep.layout == "nchw" else hwc
    array = np.broadcast_to(one, shape).astype(dtype)
    return np.ascontiguousarray(array), info


def _per_channel(values: Sequence[float], channels: int) -> list[float]:
    if len(values) == 1:
        return [float(values[0])] * channels
    if channels == 1:
        return [sum(values) / len(values)]
    return [float(v) for v in values]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def record_inputs(request: InputRequest, resolved: ResolvedInputs | None) -> dict[str, Any]:
    """What a result records about its inputs (``RunRecord.config["inputs"]``): the request as given, and for each
    given input its ``source`` (docs/schema.md)."""
    d = request.to_dict()
    d["sources"] = dict(resolved.sources) if resolved is not None else {}
    return d


# ------------------------------------------------------------------------------------- to the child and back
def write_npz(fh: BinaryIO, arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` as an ``.npz`` (what ``np.load`` reads) to the binary file ``fh``. Not ``np.savez(**arrays)``:
    an array named ``file`` (a real model's input or output name) would collide with its parameter."""
    with zipfile.ZipFile(fh, "w") as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, portable(array), allow_pickle=False)


def write_job_inputs(resolved: ResolvedInputs, folder: Path) -> dict[str, Any]:
    """The ``Job.inputs`` for ``resolved``: ``{"fill": {name: value}, "npz": path}`` — values inline, arrays in
    ``folder/feeds.npz`` (the folder is created only when there are arrays). Empty when nothing was given."""
    out: dict[str, Any] = {}
    if resolved.fills:
        out["fill"] = dict(resolved.fills)
    if resolved.arrays:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "feeds.npz"
        tmp = folder / f".feeds-{os.getpid()}.npz"
        with open(tmp, "wb") as fh:
            write_npz(fh, resolved.arrays)
        os.replace(tmp, path)
        out["npz"] = str(path)
    return out


def given_input_names(job_inputs: Mapping[str, Any]) -> set[str]:
    """The inputs ``job_inputs`` (:func:`write_job_inputs`) gives a value for: the others are generated (seeded)."""
    names = set(job_inputs.get("fill") or {})
    npz = job_inputs.get("npz")
    if npz:
        with np.load(npz, allow_pickle=False) as data:
            names |= set(data.files)
    return names


def feeds_for_job(specs: Sequence[TensorSpec], job_inputs: Mapping[str, Any], seed: int) -> dict[str, np.ndarray]:
    """The feeds a benchmark process binds: seeded generated arrays (:func:`make_inputs`, drawn for every input
    so the generated ones do not depend on which were given), then the given values and arrays of ``job_inputs``
    (:func:`write_job_inputs`). Raises UsageError for a given array that no longer fits its spec."""
    fills = dict(job_inputs.get("fill") or {})
    npz = job_inputs.get("npz")
    given: set[str] = set(fills)
    arrays: dict[str, np.ndarray] = {}
    if npz:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        given |= set(arrays)
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        try:
            feeds[spec.name] = _make_one(spec, rng)
        except UsageError:
            if spec.name not in given:
                raise
    by_name = {s.name: s for s in specs}
    for name, value in fills.items():
        spec = by_name[name]
        feeds[name] = np.full(tuple(int(d) for d in spec.shape), value, dtype=numpy_dtype(spec.dtype))
    for name, array in arrays.items():
        spec = by_name[name]
        want = tuple(int(d) for d in spec.shape)
        if is_string(spec) and array.dtype.kind in "US":  # strings travel as unicode (:func:`portable`)
            array = as_strings(f"input {name!r}", array)
        if array.shape != want or array.dtype != numpy_dtype(spec.dtype):
            raise UsageError(
                f"input {name!r}: the given array is {dims(array.shape)} {array.dtype}, "
                f"the model wants {dims(want)} {spec.dtype}"
            )
        feeds[name] = array
    return feeds


# ------------------------------------------------------------------------------------------------ error hints
def needs_real_value(spec: TensorSpec) -> bool:
    """Whether a generated value is likely wrong for ``spec``: a scalar (or one-element) input of any dtype, or an
    integer/bool input that is neither token ids nor a mask (a sample rate, a branch selector, a flag)."""
    if is_string(spec):  # generated words: a model that fails on them gets no better from "try --input s=1"
        return False
    shape = tuple(spec.shape)
    scalar = len(shape) == 0 or (len(shape) == 1 and shape[0] == 1)
    integer = spec.dtype.startswith(("int", "uint")) or spec.dtype == "bool"
    return scalar or (integer and spec.role not in ("tokens", "mask"))


def _suggest(spec: TensorSpec) -> str:
    low = spec.name.lower()
    if low in _SAMPLE_RATE_NAMES or "sample_rate" in low or "sampling_rate" in low:
        return "16000"
    if spec.dtype.startswith("float") or spec.dtype == "bfloat16":
        return "1.0"
    return "1"


def generated_input_hint(specs: Sequence[TensorSpec], given: Collection[str] = ()) -> str | None:
    """For an engine that failed: the inputs that got a generated value but may need a real one (see
    :func:`needs_real_value`), with a ready-to-paste ``--input`` line, e.g. ``input 'sr' is a scalar int64 and got
    a generated value — try --input sr=16000``. None when there is none (or all such inputs were given)."""
    suspects = [s for s in specs if s.name not in given and needs_real_value(s)]
    if not suspects:
        return None

    def what(spec: TensorSpec) -> str:
        shape = tuple(spec.shape)
        if len(shape) == 0:
            return f"a scalar {spec.dtype}"
        article = "an" if spec.dtype[:1] in "aeio" else "a"  # an int64, a float32, a uint8
        return f"{article} {spec.dtype} input of shape {dims(shape)}"

    line = " ".join(f"--input {s.name}={_suggest(s)}" for s in suspects)
    if len(suspects) == 1:
        s = suspects[0]
        return f"input {s.name!r} is {what(s)} and got a generated value — try {line}"
    listed = ", ".join(f"{s.name!r} ({what(s)})" for s in suspects)
    return f"inputs {listed} got generated values — try {line} with the values the model expects"


def with_input_hint(message: str, specs: Sequence[TensorSpec], given: Collection[str] = ()) -> str:
    """``message`` with :func:`generated_input_hint` appended (``"<message>; <hint>"``), or unchanged."""
    hint = generated_input_hint(specs, given)
    return f"{message}; {hint}" if hint else message


def _numbers(values: Sequence[float]) -> str:
    return ",".join(f"{v:g}" for v in values) or "nothing"


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
