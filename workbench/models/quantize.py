"""INT8 model preparation: one calibration set, the quantized files each engine runs, cached like the exports.

Runs in the preparation process (:mod:`workbench.measure.prepare`) after the fp32 model is resolved, and adds an
``int8`` :class:`~workbench_engines.variants.PrecisionVariant` to the artifact:

* **Calibration** (:func:`calibration_set`): ``samples`` inputs, synthetic (seeded, from
  :func:`workbench.models.inputs.make_inputs`; sample ``i`` uses seed ``seed + 10000 + i``, apart from the drift
  inputs) or real (``--calibration-data``: an ``.npz`` of arrays keyed by input name with a leading sample axis,
  or a folder of ``.npz`` / ``.npy`` / image files, one sample each). The samples are stored once as an ``.npz``
  that every engine calibrates from — the torch adapter too, which quantizes at load.
* **ONNX Runtime** (format ``onnx``): ``quant_pre_process`` then ``quantize_static`` in QDQ format, per-channel
  weights, activation/weight types by :func:`ort_int8_scheme` (U8S8 on x86, S8S8 on ARM; ``onnxruntime.int8_scheme``
  overrides). Transformer (token-input) models use ``quantize_dynamic`` instead (``onnxruntime.int8_method``),
  which measured faster and closer to fp32 on distilbert here (docs/engines.md).
* **OpenVINO** (format ``openvino``): NNCF post-training quantization of the fp32 IR (or the ONNX file) with
  ``subset_size`` = the calibration count, ``model_type=TRANSFORMER`` for token-input models, saved as IR with
  fp32 weights for what stays float.

A format that cannot be quantized (an op the tool refuses, a tool that is missing) is recorded in the variant's
``errors`` with one line naming why; its engine then fails alone and the others run. Every file lands by atomic
rename under a file lock, keyed by the source model, shapes, scheme, calibration and library versions
(:func:`quantize_fields`), so a second preparation is a cache hit.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from workbench import paths
from workbench.errors import UsageError, WorkbenchError
from workbench.models.resolve import _file_lock, _version, cache_key
from workbench_engines.base import ModelArtifact, TensorSpec
from workbench_engines.variants import PrecisionVariant

#: Bump when the layout or content of cached quantized files changes.
QUANTIZE_FORMAT = 1
#: Calibration samples when neither ``--calibration-samples`` nor ``--calibration-data`` says otherwise.
DEFAULT_CALIBRATION_SAMPLES = 10
#: Most calibration samples accepted (each is a full input; NNCF and ORT keep statistics of every one).
MAX_CALIBRATION_SAMPLES = 10_000
#: Synthetic calibration sample ``i`` uses seed ``seed + CALIBRATION_SEED_OFFSET + i`` (drift inputs use ``seed + i``).
CALIBRATION_SEED_OFFSET = 10_000
#: Engine -> the format its int8 model is made in here. torch quantizes in the benchmark process (FX graph mode).
INT8_TARGETS: dict[str, str] = {"onnxruntime": "onnx", "openvino": "openvino"}
ORT_SCHEMES = ("u8s8", "s8s8")
ORT_METHODS = ("static", "dynamic")
#: Files of the calibration set and of each quantized format inside their cache folders.
_FILES = {"calibration": "calibration.npz", "onnx": "model.int8.onnx", "openvino": "model.int8.xml"}
_ARRAY_SUFFIXES = (".npz", ".npy")


@dataclass(frozen=True)
class CalibrationRequest:
    """What the user asked for: ``samples`` (None: all of ``data``, or :data:`DEFAULT_CALIBRATION_SAMPLES`) and
    ``data`` (a path, None for synthetic samples)."""

    samples: int | None = None
    data: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "data": self.data}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "CalibrationRequest":
        d = d or {}
        samples = d.get("samples")
        return cls(samples=int(samples) if samples is not None else None, data=d.get("data") or None)


def check_calibration(request: CalibrationRequest) -> None:
    """``--calibration-samples`` within 1..10000 and ``--calibration-data`` an existing file or folder. Raises
    UsageError."""
    if request.samples is not None and not 1 <= request.samples <= MAX_CALIBRATION_SAMPLES:
        raise UsageError(
            f"--calibration-samples must be between 1 and {MAX_CALIBRATION_SAMPLES}, not {request.samples}"
        )
    if request.data is not None:
        path = Path(request.data).expanduser()
        if not path.exists():
            raise UsageError(f"--calibration-data {request.data}: no such file or folder")
        if path.is_file() and path.suffix.lower() != ".npz":
            raise UsageError(
                f"--calibration-data {path.name}: give an .npz (arrays keyed by input name, leading sample axis) "
                "or a folder of .npz/.npy/image files"
            )


# ---------------------------------------------------------------------------------------------------------------
# the public step
# ---------------------------------------------------------------------------------------------------------------


def prepare_int8(
    artifact: ModelArtifact,
    engines: Mapping[str, Mapping[str, Any]],
    *,
    calibration: CalibrationRequest = CalibrationRequest(),
    seed: int = 0,
) -> ModelArtifact:
    """``artifact`` with an ``int8`` variant for ``engines`` (engine -> its options, e.g.
    ``{"onnxruntime": {"int8_scheme": "auto"}}``).

    Makes (or finds in the cache) the calibration set and, for each engine in :data:`INT8_TARGETS`, its quantized
    file. A failed quantization is recorded in the variant's ``errors`` (the run shows it as that engine's error
    row); UsageError for calibration data that does not fit the model.
    """
    cal_file, cal_info = calibration_set(artifact, calibration, seed=seed)
    files: dict[str, str] = {}
    errors: dict[str, str] = {}
    details: dict[str, dict[str, Any]] = {}
    for engine, options in engines.items():
        fmt = INT8_TARGETS.get(engine)
        if fmt is None or fmt in files or fmt in errors:
            continue
        try:
            path, detail = _quantize(engine, fmt, artifact, dict(options), cal_file, cal_info)
        except UsageError:
            raise
        except QuantizeFailed as exc:
            errors[fmt] = str(exc)
            continue
        except OSError as exc:
            errors[fmt] = f"{engine} int8: cannot write the quantized model to the cache ({exc.strerror or exc})"
            continue
        files[fmt] = str(path)
        details[fmt] = detail
    variant = PrecisionVariant(
        "int8", files=files, errors=errors, calibration={**cal_info, "file": str(cal_file)}, details=details
    )
    return replace(artifact, variants={**artifact.variants, "int8": variant})


class QuantizeFailed(WorkbenchError):
    """A quantizer refused the model; the message names the engine, the tool and, where it says, the op."""


# ---------------------------------------------------------------------------------------------------------------
# calibration
# ---------------------------------------------------------------------------------------------------------------


def calibration_set(
    artifact: ModelArtifact, request: CalibrationRequest, *, seed: int = 0
) -> tuple[Path, dict[str, Any]]:
    """The calibration samples as a cached ``.npz`` (arrays keyed by input name, leading sample axis) and what
    they are: ``source`` (synthetic | real), ``path``, ``count``, ``seed``. Raises UsageError for data that does
    not fit the model's inputs."""
    check_calibration(request)
    if request.data:
        data = Path(request.data).expanduser().resolve()
        fields: dict[str, Any] = {"source": "real", "data": _identity(data), "samples": request.samples}
    else:
        count = request.samples or DEFAULT_CALIBRATION_SAMPLES
        fields = {"source": "synthetic", "samples": count, "seed": seed}
    fields.update(
        format=QUANTIZE_FORMAT,
        inputs=[[t.name, list(t.shape), t.dtype, t.role, t.vocab_size] for t in artifact.inputs],
    )
    folder = _folder(artifact) / f"calibration-{cache_key(fields)}"
    target = folder / _FILES["calibration"]
    meta = folder / "meta.json"
    if not (target.is_file() and meta.is_file()):
        folder.mkdir(parents=True, exist_ok=True)
        with _file_lock(folder / ".lock"):
            if not (target.is_file() and meta.is_file()):
                if request.data:
                    samples = load_calibration_data(Path(request.data).expanduser(), artifact.inputs, request.samples)
                else:
                    samples = synthetic_samples(artifact.inputs, int(fields["samples"]), seed=seed)
                info = {
                    "source": fields["source"],
                    "path": str(Path(request.data).expanduser().resolve()) if request.data else None,
                    "count": len(samples),
                    "seed": seed if not request.data else None,
                }
                with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-") as tmp:
                    stacked = {t.name: np.stack([s[t.name] for s in samples]) for t in artifact.inputs}
                    np.savez(Path(tmp) / target.name, **stacked)  # type: ignore[arg-type]
                    (Path(tmp) / "meta.json").write_text(json.dumps(info, indent=2))
                    os.replace(Path(tmp) / target.name, target)
                    os.replace(Path(tmp) / "meta.json", meta)
    return target, json.loads(meta.read_text())


def synthetic_samples(specs: Sequence[TensorSpec], count: int, *, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``count`` seeded inputs (sample ``i`` from seed ``seed + CALIBRATION_SEED_OFFSET + i``)."""
    from workbench.models.inputs import make_inputs

    return [make_inputs(specs, seed=seed + CALIBRATION_SEED_OFFSET + i) for i in range(count)]


def load_samples(path: str | Path) -> list[dict[str, np.ndarray]]:
    """The samples of a calibration ``.npz`` (as :func:`calibration_set` writes it), one dict per sample."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    count = min((len(a) for a in arrays.values()), default=0)
    return [{k: np.ascontiguousarray(a[i]) for k, a in arrays.items()} for i in range(count)]


def load_calibration_data(
    path: Path, specs: Sequence[TensorSpec], limit: int | None = None
) -> list[dict[str, np.ndarray]]:
    """Real calibration samples from ``path`` (see the module docstring), at most ``limit``. Each array must fit
    its input (:func:`workbench.models.inputs.fit_array`: shape and dtype); one UsageError line otherwise."""
    flag = "--calibration-data"
    if path.is_file():
        samples = _npz_samples(path, specs, flag)
    else:
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        samples = []
        for f in files:
            if limit is not None and len(samples) >= limit:
                break
            one = _file_sample(f, specs, flag)
            if one is not None:
                samples.append(one)
    if limit is not None:
        samples = samples[:limit]
    if not samples:
        raise UsageError(f"{flag} {path}: no samples found (an .npz, or a folder of .npz/.npy/image files)")
    return samples


def _npz_samples(path: Path, specs: Sequence[TensorSpec], flag: str) -> list[dict[str, np.ndarray]]:
    from workbench.models.inputs import fit_array

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"{flag}: cannot read {path.name} as an .npz ({_first_line(exc)})") from None
    arrays = _by_input_name(arrays, specs, f"{flag} {path.name}")
    per_input: dict[str, list[np.ndarray]] = {}
    for spec in specs:
        arr = arrays[spec.name]
        shape = tuple(int(d) for d in spec.shape)
        if arr.ndim == len(shape) + 1:  # leading sample axis
            items = [arr[i] for i in range(arr.shape[0])]
        elif arr.ndim == len(shape) and shape and arr.shape[1:] == shape[1:] and arr.shape[0] % shape[0] == 0:
            items = [arr[i : i + shape[0]] for i in range(0, arr.shape[0], shape[0])]  # items grouped in batches
        else:
            items = [arr]
        per_input[spec.name] = [
            fit_array(f"{flag} {path.name}[{spec.name}] sample {i}", a, spec) for i, a in enumerate(items)
        ]
    count = min(len(v) for v in per_input.values())
    return [{name: v[i] for name, v in per_input.items()} for i in range(count)]


def _file_sample(path: Path, specs: Sequence[TensorSpec], flag: str) -> dict[str, np.ndarray] | None:
    from workbench.models.inputs import IMAGE_SUFFIXES, ImagePrep, fit_array, load_image, make_inputs

    suffix = path.suffix.lower()
    if suffix == ".npz":
        samples = _npz_samples(path, specs, flag)
        return samples[0]
    if suffix == ".npy":
        if len(specs) != 1:
            raise UsageError(f"{flag}: {path.name} is one array, but the model has {len(specs)} inputs: use .npz files")
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise UsageError(f"{flag}: cannot read {path.name} ({_first_line(exc)})") from None
        return {specs[0].name: fit_array(f"{flag} {path.name}", arr, specs[0])}
    if suffix in IMAGE_SUFFIXES:
        images = [s for s in specs if s.role == "image"]
        if len(images) != 1:
            raise UsageError(f"{flag}: {path.name} is an image, but the model has no single image input")
        sample = make_inputs(specs, seed=0)  # other inputs (if any) keep generated values
        sample[images[0].name] = load_image(flag, path, images[0], ImagePrep())[0]
        return sample
    return None  # not a sample file (a README, ...): skipped


def _by_input_name(arrays: dict[str, np.ndarray], specs: Sequence[TensorSpec], label: str) -> dict[str, np.ndarray]:
    names = [s.name for s in specs]
    if len(arrays) == 1 and len(names) == 1 and names[0] not in arrays:
        return {names[0]: next(iter(arrays.values()))}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise UsageError(
            f"{label} has arrays {', '.join(sorted(arrays)) or 'none'}; the model's inputs are {', '.join(names)}"
        )
    return arrays


def _identity(path: Path) -> Any:
    """What identifies calibration data for the cache key: name, size and mtime of the file or of each file."""

    def one(p: Path) -> list[Any]:
        st = p.stat()
        return [str(p), st.st_size, st.st_mtime_ns]

    if path.is_file():
        return one(path)
    return [one(p) for p in sorted(path.iterdir()) if p.is_file()]


# ---------------------------------------------------------------------------------------------------------------
# the ONNX Runtime scheme rule
# ---------------------------------------------------------------------------------------------------------------


def cpu_flags() -> set[str]:
    """This machine's /proc/cpuinfo flags (empty where unreadable)."""
    from workbench.machine.sysinfo import parse_cpuinfo

    try:
        return set(parse_cpuinfo(Path("/proc/cpuinfo").read_text())["flags"])
    except OSError:
        return set()


def ort_int8_scheme(choice: str, flags: Iterable[str], machine: str) -> dict[str, Any]:
    """The ONNX Runtime static-quantization scheme: ``scheme`` (u8s8 | s8s8), ``reduce_range`` and ``rule`` (why).

    ``choice`` ``auto`` applies the rule, else it is the user's (``onnxruntime.int8_scheme``). The rule, from ORT's
    ``quantize_static`` guidance and measured here (docs/engines.md): ARM -> S8S8 (symmetric activations suit its
    kernels); x86 with VNNI (AVX512-VNNI, AVX-VNNI, AMX-INT8) -> U8S8 — on a 2-vCPU AMD EPYC with AVX-512 VNNI,
    resnet50 U8S8 ran 3.3x faster than fp32 and S8S8 only 1.1x; x86 without VNNI -> U8S8 with ``reduce_range``
    (7-bit weights avoid VPMADDUBSW saturation). Pure.
    """
    have = set(flags)
    arm = machine.lower() in ("aarch64", "arm64") or machine.lower().startswith("arm")
    vnni = bool(have & {"avx512_vnni", "avx_vnni", "amx_int8"})
    if choice not in ("auto", *ORT_SCHEMES):
        raise UsageError(f"onnxruntime.int8_scheme: one of auto, {', '.join(ORT_SCHEMES)}, not {choice!r}")
    if choice == "auto":
        if arm:
            scheme, rule = "s8s8", "auto: ARM CPU -> S8S8"
        elif vnni:
            scheme, rule = "u8s8", "auto: x86 with VNNI -> U8S8"
        else:
            scheme, rule = "u8s8", "auto: x86 without VNNI -> U8S8 with reduce_range"
    else:
        scheme, rule = choice, f"onnxruntime.int8_scheme={choice}"
    reduce_range = scheme == "u8s8" and not arm and not vnni
    return {"scheme": scheme, "reduce_range": reduce_range, "rule": rule}


def ort_int8_method(choice: str, specs: Sequence[TensorSpec]) -> tuple[str, str]:
    """``(static | dynamic, why)``: ``auto`` is dynamic for token-input (transformer) models — on distilbert it
    measured faster and closer to fp32 than static QDQ here (docs/engines.md) — and static otherwise. Pure."""
    if choice not in ("auto", *ORT_METHODS):
        raise UsageError(f"onnxruntime.int8_method: one of auto, {', '.join(ORT_METHODS)}, not {choice!r}")
    if choice != "auto":
        return choice, f"onnxruntime.int8_method={choice}"
    if is_transformer(specs):
        return "dynamic", "auto: token inputs (transformer) -> dynamic"
    return "static", "auto: static QDQ"


def is_transformer(specs: Sequence[TensorSpec]) -> bool:
    """A model with token inputs is treated as a transformer (NNCF ``ModelType.TRANSFORMER``, ORT dynamic)."""
    return any(s.role == "tokens" for s in specs)


# ---------------------------------------------------------------------------------------------------------------
# quantizing one format, cached
# ---------------------------------------------------------------------------------------------------------------


def quantize_fields(
    engine: str, artifact: ModelArtifact, source: Path, settings: Mapping[str, Any], cal_info: Mapping[str, Any]
) -> dict[str, Any]:
    """Everything a quantized file depends on; its cache key is :func:`cache_key` of this."""
    st = source.stat()
    return {
        "format": QUANTIZE_FORMAT,
        "engine": engine,
        "source": [str(source), st.st_size, st.st_mtime_ns],
        "inputs": [[t.name, list(t.shape), t.dtype] for t in artifact.inputs],
        "settings": dict(settings),
        "calibration": {k: cal_info.get(k) for k in ("source", "path", "count", "seed")},
        "versions": {pkg: _version(pkg) for pkg in ("onnx", "onnxruntime", "openvino", "nncf")},
    }


def _quantize(
    engine: str, fmt: str, artifact: ModelArtifact, options: dict[str, Any], cal_file: Path, cal_info: Mapping[str, Any]
) -> tuple[Path, dict[str, Any]]:
    if engine == "onnxruntime":
        source = artifact.files.get("onnx")
        if source is None:
            raise QuantizeFailed(f"onnxruntime int8 quantizes an ONNX model, and {artifact.name!r} has none")
        method, method_rule = ort_int8_method(str(options.get("int8_method") or "auto"), artifact.inputs)
        settings: dict[str, Any] = {"method": method, "method_rule": method_rule}
        if method == "static":
            settings.update(ort_int8_scheme(str(options.get("int8_scheme") or "auto"), cpu_flags(), platform.machine()))
        elif options.get("int8_scheme") not in (None, "auto"):
            raise UsageError(
                "onnxruntime.int8_scheme applies to static quantization: add onnxruntime.int8_method=static"
            )
        build: Callable[[Path, Path], dict[str, Any]] = lambda src, out: _ort_quantize(  # noqa: E731
            src, out, artifact, settings, cal_file
        )
    else:
        source = artifact.files.get("openvino") or artifact.files.get("onnx")
        if source is None:
            raise QuantizeFailed(f"openvino int8 quantizes an IR or ONNX model, and {artifact.name!r} has neither")
        settings = {"model_type": "transformer" if is_transformer(artifact.inputs) else None}
        build = lambda src, out: _nncf_quantize(src, out, artifact, settings, cal_file)  # noqa: E731
    src = Path(source)
    fields = quantize_fields(engine, artifact, src, settings, cal_info)
    folder = _folder(artifact) / f"int8-{fmt}-{cache_key(fields)}"
    target = folder / _FILES[fmt]
    meta_path = folder / "meta.json"
    if _complete(target) and meta_path.is_file():
        return target, {**json.loads(meta_path.read_text()), "cached": True}
    folder.mkdir(parents=True, exist_ok=True)
    with _file_lock(folder / ".lock"):
        if _complete(target) and meta_path.is_file():
            return target, {**json.loads(meta_path.read_text()), "cached": True}
        for stale in folder.glob(".tmp-*"):  # left by a killed build; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-") as tmp_name:
            tmp = Path(tmp_name)
            t0 = time.perf_counter()
            detail = build(src, tmp / target.name)
            detail["quantize_ms"] = (time.perf_counter() - t0) * 1e3
            detail.update(settings)
            detail["versions"] = fields["versions"]
            (tmp / "meta.json").write_text(json.dumps(detail, indent=2, sort_keys=True))
            if fmt == "openvino":
                os.replace(tmp / target.with_suffix(".bin").name, target.with_suffix(".bin"))  # .bin first
            os.replace(tmp / target.name, target)
            os.replace(tmp / "meta.json", meta_path)
    return target, {**detail, "cached": False}


def _complete(path: Path) -> bool:
    return path.is_file() and (path.suffix != ".xml" or path.with_suffix(".bin").is_file())


def _folder(artifact: ModelArtifact) -> Path:
    """Where the quantized files of ``artifact`` live: beside the built-in's fp32 cache folder, or under
    ``cache_dir()/quantized/<file name>`` for a model file."""
    if artifact.source == "builtin":
        first = next(iter(artifact.files.values()))
        return Path(first).parent
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", artifact.name)[:80] or "model"
    return paths.cache_dir() / "quantized" / safe


# ---- ONNX Runtime -----------------------------------------------------------------------------------------------
def _pre_process(quant_pre_process: Any, src: Path, pre: Path) -> tuple[Path, str]:
    """ONNX Runtime's ``quant_pre_process`` (symbolic shape inference, optimisation) into ``pre``: ``(the model to
    quantize, what happened)``. It runs in a scratch working directory: when symbolic shape inference cannot finish
    (a model with dynamic axes) ONNX Runtime saves ``sym_shape_infer_temp.onnx`` and its external data — hundreds of
    MB — into the current directory before it raises, and the user's directory is not ours to litter."""
    src, pre = Path(src).resolve(), Path(pre).resolve()
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="wb-quant-pre-") as scratch:
        os.chdir(scratch)
        try:
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=False)
            return pre, "quant_pre_process"
        except Exception as exc:  # pre-processing only helps; quantize the model as it is and say so
            return src, f"skipped: {_first_line(exc)}"
        finally:
            os.chdir(here)


def _ort_quantize(
    src: Path, out: Path, artifact: ModelArtifact, settings: Mapping[str, Any], cal_file: Path
) -> dict[str, Any]:
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_dynamic,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise QuantizeFailed(f"onnxruntime int8 needs onnxruntime.quantization ({_first_line(exc)})") from None
    detail: dict[str, Any] = {}
    pre = out.with_name("pre.onnx")
    model_in, detail["pre_process"] = _pre_process(quant_pre_process, src, pre)
    samples = load_samples(cal_file)
    names = [t.name for t in artifact.inputs]
    try:
        if settings["method"] == "dynamic":
            quantize_dynamic(str(model_in), str(out), weight_type=QuantType.QInt8, per_channel=True)
            detail.update(
                tool="onnxruntime.quantization.quantize_dynamic", weights="int8 per-channel", calibrated=False
            )
        else:

            class _Reader(CalibrationDataReader):
                def __init__(self) -> None:
                    self._it = iter(samples)

                def get_next(self) -> dict[str, np.ndarray] | None:
                    sample = next(self._it, None)
                    return None if sample is None else {n: sample[n] for n in names}

            activation = QuantType.QUInt8 if settings["scheme"] == "u8s8" else QuantType.QInt8
            quantize_static(
                str(model_in),
                str(out),
                _Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=bool(settings.get("reduce_range")),
                activation_type=activation,
                weight_type=QuantType.QInt8,
            )
            detail.update(
                tool="onnxruntime.quantization.quantize_static", quant_format="QDQ", per_channel=True, calibrated=True
            )
    except Exception as exc:
        raise QuantizeFailed(f"onnxruntime int8 quantization failed: {explain_quantize_error(exc)}") from exc
    finally:
        pre.unlink(missing_ok=True)
    return detail


# ---- OpenVINO / NNCF -----------------------------------------------------------------------------------------------
def _nncf_quantize(
    src: Path, out: Path, artifact: ModelArtifact, settings: Mapping[str, Any], cal_file: Path
) -> dict[str, Any]:
    try:
        import logging

        import nncf
        import openvino as ov
    except ImportError as exc:
        raise QuantizeFailed(f"openvino int8 needs NNCF: pip install nncf ({_first_line(exc)})") from None
    nncf.set_log_level(logging.ERROR)
    core = ov.Core()
    try:
        model = core.read_model(str(src))
    except Exception as exc:
        raise QuantizeFailed(f"openvino int8: cannot read {src.name}: {_first_line(exc)}") from exc
    if any(p.get_partial_shape().is_dynamic for p in model.inputs):
        shapes = {p.get_any_name(): list(s.shape) for p, s in zip(model.inputs, artifact.inputs) if s.is_static}
        model.reshape(shapes)
    samples = load_samples(cal_file)
    ports = [p.get_any_name() for p in model.inputs]
    names = [t.name for t in artifact.inputs]

    def transform(sample: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {port: sample[name] for port, name in zip(ports, names)}

    kwargs: dict[str, Any] = {"subset_size": len(samples)}
    if settings.get("model_type") == "transformer":
        kwargs["model_type"] = nncf.ModelType.TRANSFORMER
    try:
        quantized = nncf.quantize(model, nncf.Dataset(samples, transform), **kwargs)
        ov.save_model(quantized, str(out), compress_to_fp16=False)
    except Exception as exc:
        raise QuantizeFailed(f"openvino int8 quantization (NNCF) failed: {explain_quantize_error(exc)}") from exc
    return {"tool": "nncf.quantize", "subset_size": len(samples), "preset": "performance (default)", "calibrated": True}


# ---- helpers --------------------------------------------------------------------------------------------------------
_OP_PATTERNS = (
    re.compile(r"\b(?:op(?:erator)?|node|layer)[ _-]?(?:type)?\s*[:=]?\s*['\"]?([A-Z][A-Za-z0-9_]+)['\"]?"),
    re.compile(r"\b([A-Z][A-Za-z0-9]+)-\d+\b"),  # OpenVINO's "Conv-18"-style op names
)


def explain_quantize_error(exc: BaseException) -> str:
    """One line for a quantizer failure: the op it names (when the message names one) and the message's most
    specific line (the last non-empty one of a multi-line native error)."""
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = (lines[-1] if lines else type(exc).__name__)[:300]
    for pattern in _OP_PATTERNS:
        match = pattern.search(text)
        if match and match.group(1) not in line:
            return f"op {match.group(1)}: {line}"
    return line


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
