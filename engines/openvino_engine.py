"""OpenVINO adapter: IR (``.xml`` + ``.bin``), ``.onnx`` or TensorFlow Lite (``.tflite``, read by OpenVINO's TFLite
frontend) models, on CPU (or an Intel GPU where present).

Precision is always requested explicitly (``INFERENCE_PRECISION_HINT``): on CPUs with AVX-512 BF16/AMX OpenVINO
otherwise runs bf16 by default, so "fp32" must say f32. The *effective* precision is read back from the compiled
model, and a result says bf16 when bf16 ran; int8 runs the IR NNCF quantized in model preparation, and is reported
as int8 only when the runtime model's compute layers execute i8/u8
(:func:`workbench_engines.precision.openvino_precision`). Threads go to ``INFERENCE_NUM_THREADS``. Latency mode compiles with
the LATENCY hint and one stream; throughput mode with the THROUGHPUT hint (and, when given, the ``streams``
option: ``--engine-option openvino.streams=N``, or ``--streams N``) and keeps the compiled model's optimal number of
requests in flight through an ``AsyncInferQueue``.

``sparse_weights_rate`` (``--engine-option openvino.sparse_weights_rate=0.5``, int8 only) sets the CPU plugin's
``CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE``: FullyConnected layers with int8 weights at least that sparse are packed
as sparse weights, which OpenVINO exploits only on CPUs with AMX. Whether it was active is read back: the
compiled model's rate, and the runtime model's FullyConnected nodes whose primitive is a sparse one
(:func:`sparse_weights_report`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError, WorkbenchError

from .base import Effective, Engine, EngineOption, LoadedModel, LoadSettings, ModelArtifact, TensorSpec
from .precision import onnx_file_quantization, openvino_precision, refuse_precision, variant_file

#: INFERENCE_PRECISION_HINT per requested precision; int8 runs the NNCF-quantized model with the layers NNCF left
#: float in f32 (without a hint, a CPU with AVX-512 BF16/AMX would run them bf16).
_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32"}
_BACK = {
    "f32": "fp32",
    "float32": "fp32",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "f16": "fp16",
    "float16": "fp16",
    "i8": "int8",
    "u8": "int8",
}
_DEVICES = {"cpu": "CPU", "gpu": "GPU", "npu": "NPU"}


def _type_name(value: Any) -> str:
    text = str(value)
    if "'" in text:  # "<Type: 'float32'>"
        text = text.split("'")[1]
    return _BACK.get(text.lower(), text.lower())


def _port_name(port: Any, fallback: str) -> str:
    """A port's tensor name, or ``fallback`` for a tensor without names: IRs made with
    ``ov.convert_model(torch_module, ...)`` leave outputs unnamed, and ``get_any_name()`` then raises."""
    return str(port.get_any_name()) if port.get_names() else fallback


def _output_names(ports: Sequence[Any]) -> list[str]:
    """Output names in port order: real names where they exist, ``output_<index>`` for unnamed ones (unique)."""
    names: list[str] = []
    for i, port in enumerate(ports):
        name = _port_name(port, f"output_{i}")
        names.append(name if name not in names else f"{name}_{i}")
    return names


# ---- errors: OpenVINO writes the chain of C++ frames first and the useful line last ---------------------------
_SOURCE_PATH = re.compile(r"(?:\S*/)?src/[\w./-]+\.(?:cpp|hpp|cc|c|h)(?::\d+)*:?")
_CHECK = re.compile(r"Check '(.*)' failed at \S+")
_NOISE = re.compile(
    r"^(?:Exception from\b.*|FrontEnd API failed with \w+:?|Model wasn't fully converted\.?.*|Summary:?"
    r"|Failed operations detailed log:?)$"
)
_OP_BLOCK = re.compile(r"^-- (\S+) with a message:$")
_ONNX_NODE = re.compile(r"<Node\((\w+)\): ([^>]*)>")


def _clean_ov_line(line: str) -> str:
    """One line of an OpenVINO message without source paths, check conditions and frame headers ('' if nothing
    is left)."""
    line = line.strip()
    if _NOISE.match(line):
        return ""
    line = _SOURCE_PATH.sub("", _CHECK.sub("", line)).strip()
    line = re.sub(r"^While validating ONNX node '<Node\(\w+\): [^>]*>':?", "", line).strip()
    line = line.rstrip(":").strip()
    return "" if _NOISE.match(line) else line


def explain_openvino(text: str, *, limit: int = 400) -> str:
    """The meaningful part of an OpenVINO exception text, in one line.

    Conversion failures give the summary ("Conversion is failed for: Conv-18, ReduceMean-18") with each failing
    op's own reason (and ONNX node name); other failures give the chain of meaningful lines, innermost last,
    without ``src/...cpp:NN`` paths or check conditions. Falls back to the check condition when nothing else
    is said."""
    lines = text.strip().splitlines()
    summary: list[str] = []
    reasons: dict[str, tuple[str, str]] = {}  # op -> (ONNX node name, its reason)
    op: str | None = None
    node = ""
    in_summary = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("Summary"):
            in_summary, op = True, None
            continue
        block = _OP_BLOCK.match(line)
        if block:
            op, node = block.group(1), ""
            continue
        if in_summary and line.startswith("-- "):
            summary.append(line[3:].strip())
            continue
        if op is not None:
            found = _ONNX_NODE.search(line)
            if found:
                node = found.group(2)
            cleaned = _clean_ov_line(line)
            if cleaned:
                reasons[op] = (node, cleaned)
    if summary:
        head = "; ".join(summary)
        detail = "; ".join(f"{o}{f' (node {n!r})' if n else ''}: {r}" for o, (n, r) in reasons.items())
        return _cap(f"{head} ({detail})" if detail else head, limit)
    meaningful = [c for c in (_clean_ov_line(line) for line in lines) if c]
    if not meaningful:
        checks = _CHECK.findall(text)
        return _cap(f"check '{checks[-1]}' failed" if checks else "OpenVINO failed without a message", limit)
    out = meaningful[-1]
    for piece in reversed(meaningful[:-1]):  # outer context first, as long as it fits
        if len(piece) + len(out) + 2 > limit:
            break
        out = f"{piece}: {out}"
    return _cap(out, limit)


def _cap(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- ONNX files OpenVINO has no conversion for ----------------------------------------------------------------
#: What OpenVINO says for an ONNX file it cannot convert at all: operators without a conversion rule (string ops
#: such as StringConcat, most of ONNX-ML), and graph values that are not tensors (ZipMap's sequence of maps).
_NOT_CONVERTIBLE = ("No conversion rule found", "Unsupported value_info type", "which OpenVINO cannot read")


def onnx_instead(path: str, why: str) -> str:
    """For an ONNX file OpenVINO cannot convert (string tensors, ONNX-ML operators, non-tensor values): the engine
    that runs it, as ``"; ..."`` to append to the error line; empty otherwise. ONNX Runtime implements every
    operator of the standard and ``ai.onnx.ml`` domains, and sequence/map values."""
    if not path.lower().endswith(".onnx") and not _is_onnx(path):
        return ""
    if not any(marker in why for marker in _NOT_CONVERTIBLE):
        return ""
    return "; ONNX Runtime runs it: -e onnxruntime"


def _is_onnx(path: str) -> bool:
    from .formats import sniff_format

    try:
        return sniff_format(Path(path)) == "onnx"
    except WorkbenchError:
        return False


# ---- TensorFlow Lite files --------------------------------------------------------------------------------------
def read_any_model(core: Any, path: str, weights: str | None = None) -> Any:
    """``core.read_model`` for an IR, ONNX or TensorFlow Lite file. OpenVINO picks its TFLite frontend by the
    ``.tflite`` suffix alone, so a TFLite file the workbench recognised by content under another name is read
    through a ``.tflite`` symlink to it in a temporary folder."""
    from .formats import looks_like_tflite

    if weights is not None:
        return core.read_model(path, weights)
    if Path(path).suffix.lower() != ".tflite":
        with open(path, "rb") as fh:
            tflite = looks_like_tflite(fh.read(8))
        if tflite:
            with tempfile.TemporaryDirectory(prefix="workbench-tflite-") as tmp:
                link = Path(tmp) / (Path(path).stem + ".tflite")
                link.symlink_to(Path(path).resolve())
                return core.read_model(str(link))
    return core.read_model(path)


# ---- ONNX files OpenVINO converts only with fixed shapes -----------------------------------------------------
#: Bump when the layout of converted IRs in the cache changes.
_CONVERT_FORMAT = 1


def _onnx_data_files(path: Path) -> list[Path]:
    """The external-data files an ONNX model names (beside it), without reading the weights."""
    import onnx

    from .formats import onnx_external_data

    proto = onnx.load(str(path), load_external_data=False)
    return [path.parent / name for name in onnx_external_data(proto)]


def _file_digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode() + b"\0")
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def converted_ir_path(ov: Any, path: str, specs: Sequence[TensorSpec]) -> Path:
    """Where the IR of ONNX file ``path`` converted with ``specs``' shapes is cached: ``cache_dir()/converted/
    <key>/model.xml``, the key hashing the file's content (and its external data), the bound shapes and the
    OpenVINO build."""
    from workbench import paths

    source = Path(path)
    fields = {
        "format": _CONVERT_FORMAT,
        "content": _file_digest([source, *_onnx_data_files(source)]),
        "inputs": [[s.name, list(s.shape)] for s in specs],
        "openvino": str(ov.get_version()),
    }
    key = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]
    return paths.cache_dir() / "converted" / key / "model.xml"


def _convert_with_shapes(
    ov: Any, core: Any, path: str, specs: Sequence[TensorSpec], *, explain: Callable[[BaseException], str]
) -> tuple[Any, str | None]:
    """``(model, cached IR path)``: the ONNX file converted with the inputs' static shapes
    (``ov.convert_model(path, input=[(name, shape), ...])``), read from the cache when it was converted before.

    The IR lands by atomic rename (``.bin`` first: a present ``.xml`` means complete), so concurrent processes
    never read half a file; when the cache cannot be written the converted model is used all the same (the
    path is then None). Raises ModelError naming what failed to convert."""
    xml = converted_ir_path(ov, path, specs)
    if xml.is_file() and xml.with_suffix(".bin").is_file():
        try:
            return core.read_model(str(xml)), str(xml)
        except RuntimeError:  # a damaged cache entry: convert again below, replacing it
            xml.unlink(missing_ok=True)
    bound = [(s.name, [int(d) for d in s.shape]) for s in specs]
    text = " ".join(f"--shape {n}={'x'.join(map(str, dims))}" for n, dims in bound)
    try:
        model = ov.convert_model(path, input=bound)
    except Exception as exc:
        raise ModelError(
            f"openvino could not convert {os.path.basename(path)} even with the shapes fixed ({text}): {explain(exc)}"
        ) from exc
    try:
        xml.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=xml.parent, prefix=".tmp-") as tmp:
            ov.save_model(model, str(Path(tmp) / "model.xml"), compress_to_fp16=False)
            os.replace(Path(tmp) / "model.bin", xml.with_suffix(".bin"))
            os.replace(Path(tmp) / "model.xml", xml)
    except (OSError, WorkbenchError):  # the cache is only a speed-up: run the converted model anyway
        return model, None
    return model, str(xml)


#: The CPU plugin's switch for sparse int8 weights (read back from the compiled model).
SPARSE_RATE_KEY = "CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE"


def _cpu_has_amx() -> bool | None:
    """Whether this CPU has AMX tiles (``amx_tile`` in /proc/cpuinfo); None when that cannot be read."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return "amx_tile" in line.split()
    except OSError:
        return None
    return None


def sparse_weights_report(compiled: Any, requested: float | None) -> dict[str, Any]:
    """Whether sparse weight decompression was active in ``compiled``: the rate the compiled model reports, the
    FullyConnected nodes of its runtime model and how many of them run a sparse primitive (``active`` is True when
    at least one does), with the reason when none does."""
    try:
        rate: Any = compiled.get_property(SPARSE_RATE_KEY)
    except Exception:
        rate = None
    fc = sparse = 0
    try:
        for op in compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if "layerType" not in info or info["layerType"].astype(str) != "FullyConnected":
                continue
            fc += 1
            primitive = info["primitiveType"].astype(str) if "primitiveType" in info else ""
            sparse += "sparse" in primitive.lower()
    except (RuntimeError, AttributeError, KeyError):
        pass
    report: dict[str, Any] = {
        "requested_rate": requested,
        "rate": round(float(rate), 6) if isinstance(rate, (int, float)) else rate,  # OpenVINO keeps a float32
        "fully_connected": fc,
        "sparse_fully_connected": sparse,
        "active": sparse > 0,
        "evidence": "runtime model: FullyConnected nodes whose primitiveType is a sparse one",
    }
    if not sparse:
        amx = _cpu_has_amx()
        if amx is False:
            report["why_inactive"] = "this CPU has no AMX (OpenVINO decompresses sparse int8 weights with AMX only)"
        elif fc == 0:
            report["why_inactive"] = "the model has no FullyConnected layers (convolutions are never sparse-packed)"
        else:
            report["why_inactive"] = "no FullyConnected layer's int8 weights reached the rate"
    return report


class OvModel(LoadedModel):
    def __init__(self, compiled: Any, ov: Any, artifact: ModelArtifact, device: str) -> None:
        super().__init__(artifact.inputs)
        self._compiled = compiled
        self._ov = ov
        self._device = device
        self._request = compiled.create_infer_request()
        self._arrays: list[Any] = []
        # ports are addressed by index; names only label them (unnamed tensors are common, see _port_name)
        specs = artifact.inputs
        self._port_names = [
            _port_name(p, specs[i].name if i < len(specs) else f"input_{i}") for i, p in enumerate(compiled.inputs)
        ]
        self._out_names = _output_names(compiled.outputs)
        #: the IR this model was compiled from when OpenVINO could only convert the ONNX file with fixed shapes
        self.converted_ir: str | None = None
        #: how the int8 model was made (:meth:`PrecisionVariant.report`), None for a float model
        self.quantization: dict[str, Any] | None = None
        #: the ``sparse_weights_rate`` option when given (then effective() reports whether it was active)
        self.sparse_rate: float | None = None
        #: how model preparation made the file compiled (``ModelArtifact.export``), empty for a file as given
        self.export: dict[str, Any] = {}
        #: whether the file read had dynamic inputs, reshaped to the artifact's static shapes before compiling
        self.reshaped = False
        #: the quantization operators of an ONNX file quantized before it came here (None: a float file)
        self.quantized_file: dict[str, Any] | None = None

    def _prop(self, key: str) -> Any:
        try:
            return self._compiled.get_property(key)
        except Exception:
            return None

    def effective(self) -> Effective:
        streams = self._prop("NUM_STREAMS")
        threads = self._prop("INFERENCE_NUM_THREADS")
        optimal = self._prop("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        extra = {
            "performance_hint": str(self._prop("PERFORMANCE_HINT")).rsplit(".", 1)[-1],
            "optimal_requests": optimal,
            "cpu_pinning": self._prop("ENABLE_CPU_PINNING"),
            "execution_devices": self._prop("EXECUTION_DEVICES"),
        }
        if self.converted_ir:
            extra["converted_ir"] = self.converted_ir
        if self.export:
            extra["export"] = dict(self.export)
        extra["reshaped_at_load"] = self.reshaped
        precision, evidence = openvino_precision(self._compiled, _type_name(self._prop("INFERENCE_PRECISION_HINT")))
        extra.update(evidence)
        if self.quantization is not None:
            extra["quantization"] = self.quantization
        if self.quantized_file is not None:
            extra["quantized_file"] = self.quantized_file
        if self.sparse_rate is not None:
            extra["sparse_weights"] = sparse_weights_report(self._compiled, self.sparse_rate)
        return Effective(
            device=self._device,
            precision=precision,
            threads=int(threads) if threads else None,
            streams=int(streams) if streams is not None and str(streams).lstrip("-").isdigit() else None,
            requests=int(optimal) if optimal else None,
            extra=extra,
        )

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        values = list(feeds.values())
        self._arrays = []
        for i, spec in enumerate(self.inputs):
            arr = feeds.get(spec.name)
            if arr is None and i < len(self._port_names):
                arr = feeds.get(self._port_names[i], values[i] if i < len(values) else None)
            self._arrays.append(arr)
        for i, arr in enumerate(self._arrays):
            self._request.set_input_tensor(i, self._ov.Tensor(arr))

    def infer(self) -> None:
        self._request.infer()

    def outputs(self) -> dict[str, Any]:
        out = {}
        for i, name in enumerate(self._out_names):
            data = self._request.get_output_tensor(i).data.copy()
            out[name] = data.astype("float32") if data.dtype.kind == "f" else data
        return out

    def run_inflight(self, requests: int, keep_going: Callable[[], bool], on_done: Callable[[int], None]) -> int:
        ov = self._ov
        queue = ov.AsyncInferQueue(self._compiled, requests)
        for r in range(len(queue)):
            for i, arr in enumerate(self._arrays):
                queue[r].set_input_tensor(i, ov.Tensor(arr))
        perf = time.perf_counter_ns
        done = [0]

        def callback(_request: Any, started_ns: int) -> None:
            on_done(perf() - started_ns)
            done[0] += 1

        queue.set_callback(callback)
        while keep_going():
            queue.get_idle_request_id()  # wait (without spinning) for a free request, then time from the start
            queue.start_async(userdata=perf())
        queue.wait_all()
        return done[0]

    def close(self) -> None:
        self._request = None
        self._compiled = None


class OpenVinoEngine(Engine):
    name = "openvino"
    display_name = "OpenVINO"
    module = "openvino"
    distribution = "openvino"
    formats = ("openvino", "onnx", "tflite", "openvino-genai")
    modes = ("latency", "throughput", "generate")
    options = (
        EngineOption(
            "streams",
            int,
            default=None,
            minimum=1,
            modes=("throughput",),
            help="OpenVINO NUM_STREAMS: how many streams run requests in parallel",
        ),
        EngineOption(
            "sparse_weights_rate",
            float,
            default=None,
            minimum=0.0,
            precisions=("int8",),
            help="CPU_SPARSE_WEIGHTS_DECOMPRESSION_RATE (0-1): pack int8 FullyConnected weights at least this "
            "sparse as sparse weights (AMX CPUs only); the result says whether it was active",
        ),
    )

    @classmethod
    def quick_devices(cls) -> tuple[str, ...]:
        return ("cpu",)

    @classmethod
    def probe_devices(cls) -> tuple[str, ...]:
        import openvino as ov

        return tuple(d.lower() for d in ov.Core().available_devices)

    @classmethod
    def precisions(cls, device: str = "cpu") -> tuple[str, ...]:
        return ("fp32", "bf16", "fp16", "int8")

    @classmethod
    def explain_error(cls, exc: BaseException) -> str:
        """The failing ops of a conversion, else the innermost meaningful line (see :func:`explain_openvino`)."""
        if isinstance(exc, WorkbenchError):
            return str(exc)
        return explain_openvino(str(exc)) if str(exc).strip() else type(exc).__name__

    @classmethod
    def _read(cls, core: Any, path: str, artifact: ModelArtifact) -> tuple[Any, bool]:
        """``(model, had dynamic inputs)``: the file read and reshaped to the artifact's static shapes (by port
        index: inputs may have no names). Raises ModelError with the explained engine message."""
        name = os.path.basename(path)
        weights = Path(path).with_suffix(".bin")  # an IR is recognised by content, whatever its suffix
        try:
            if artifact.files.get("openvino") == path and weights.is_file():
                model = read_any_model(core, path, str(weights))
            else:
                model = read_any_model(core, path)
        except Exception as exc:
            why = cls.explain_error(exc)
            value = re.search(r"Unsupported value_info type: (\S+)", why)
            if value:  # ONNX-ML's ZipMap output and other sequences/maps
                why = f"{value.group(1)!r} is not a tensor (a sequence or a map), which OpenVINO cannot read"
            raise ModelError(f"openvino could not read {name}: {why}{onnx_instead(path, why)}") from exc
        dynamic = any(p.get_partial_shape().is_dynamic for p in model.inputs)
        if dynamic:
            specs = artifact.inputs[: len(model.inputs)]
            shapes = {i: [int(d) for d in s.shape] for i, s in enumerate(specs) if s.is_static}
            try:
                model.reshape(shapes)
            except Exception as exc:
                given = ", ".join(f"{specs[i].name}={'x'.join(map(str, dims))}" for i, dims in shapes.items())
                raise ModelError(f"openvino: cannot set input shapes {given}: {cls.explain_error(exc)}") from exc
        return model, dynamic

    @classmethod
    def _compile_error(cls, exc: BaseException, device: str, config: Mapping[str, Any]) -> UnsupportedError:
        return UnsupportedError(
            f"openvino could not compile for {device} with {dict(config)}: {cls.explain_error(exc)}"
        )

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        if s.mode == "generate":  # a causal LM generating text: engines/generate.py
            from .generate import load as load_generate

            return load_generate(cls.name, artifact, s)
        device, precision, threads, mode = s.device, s.precision, s.threads, s.mode
        streams = s.options.get("streams")
        sparse_rate = s.options.get("sparse_weights_rate")
        if sparse_rate is not None and not 0 <= float(sparse_rate) <= 1:
            raise UnsupportedError(f"openvino.sparse_weights_rate must be between 0 and 1, not {sparse_rate:g}")
        fmt = cls.pick_format(artifact)
        if precision not in cls.precisions(device):
            raise refuse_precision(cls.name, precision, device, cls.precisions(device))
        ov_device = _DEVICES.get(device.lower())
        if ov_device is None:
            raise UnsupportedError(
                f"openvino: device {device!r} is not an OpenVINO device; use cpu (or gpu for Intel GPUs)"
            )
        t0 = time.perf_counter_ns()
        import openvino as ov

        core = ov.Core()
        available = [d.split(".")[0] for d in core.available_devices]
        if ov_device not in available:
            raise EngineUnavailable(f"openvino: device {ov_device} not found (available: {', '.join(available)})")
        path = artifact.files[fmt]
        variant = None
        if precision == "int8":  # the IR NNCF quantized in model preparation
            fmt = "openvino"
            path, variant = variant_file(artifact, "int8", fmt, cls.name)
        # The direct read (+ reshape) and compile are the fast common case; an ONNX file OpenVINO can only convert
        # once its shapes are fixed (dynamic rank into a Conv, ...) is converted with the bound shapes instead.
        failure: WorkbenchError | None = None
        model: Any = None
        dynamic = False
        try:
            model, dynamic = cls._read(core, path, artifact)
        except ModelError as exc:
            if any(marker in str(exc) for marker in _NOT_CONVERTIBLE):
                raise  # no conversion rule: fixed shapes cannot help
            failure = exc
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": _HINTS[precision]}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        if mode == "throughput":
            config["PERFORMANCE_HINT"] = "THROUGHPUT"
            if streams:
                config["NUM_STREAMS"] = int(streams)
        else:
            config["PERFORMANCE_HINT"] = "LATENCY"
            config["NUM_STREAMS"] = 1
        if sparse_rate is not None and ov_device == "CPU":
            config[SPARSE_RATE_KEY] = float(sparse_rate)
        compiled: Any = None
        if model is not None:
            try:
                compiled = core.compile_model(model, ov_device, config)
            except Exception as exc:
                failure = cls._compile_error(exc, ov_device, config)
                if not dynamic:  # fixing the shapes cannot help a model that had them
                    raise failure from exc
        converted: str | None = None
        if compiled is None:
            if fmt != "onnx" or not all(spec.is_static for spec in artifact.inputs):
                raise failure or ModelError(f"openvino could not load {os.path.basename(path)}")
            try:
                model, converted = _convert_with_shapes(ov, core, path, artifact.inputs, explain=cls.explain_error)
            except ModelError as conversion:
                cause = conversion.__cause__
                if failure is not None and cause is not None and str(failure).endswith(cls.explain_error(cause)):
                    raise failure from failure.__cause__  # fixed shapes changed nothing: say what failed first
                raise
            try:
                compiled = core.compile_model(model, ov_device, config)
            except Exception as exc:
                raise cls._compile_error(exc, ov_device, config) from exc
        loaded = OvModel(compiled, ov, artifact, device)
        loaded.converted_ir = converted
        loaded.reshaped = dynamic and converted is None
        made = dict(artifact.export.get(fmt) or {})
        if made and fmt == "openvino" and artifact.export.get("onnx"):
            made["onnx"] = dict(artifact.export["onnx"])  # the IR was converted from that export
        loaded.export = made
        loaded.quantization = variant.report(fmt) if variant is not None else None
        loaded.sparse_rate = float(sparse_rate) if sparse_rate is not None else None
        loaded.load_ms = (time.perf_counter_ns() - t0) / 1e6
        if fmt == "onnx" and variant is None and artifact.source == "file":  # not part of the load time
            loaded.quantized_file = onnx_file_quantization(path)
        return loaded
