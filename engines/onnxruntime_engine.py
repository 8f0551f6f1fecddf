"""ONNX Runtime adapter: ``.onnx`` models on the CPU execution provider, or CUDA where present.

Threads: ``intra_op_num_threads`` is always set explicitly (ONNX Runtime pins its own pool to cores unless it is
given), ``inter_op_num_threads = 1`` with sequential execution. On CUDA, inputs and outputs are bound to device
memory with IO binding so the timed call is the kernels, not host copies. Precision: fp32 runs the model as
exported; int8 (CPU) runs the quantized model that model preparation made (:mod:`workbench.models.quantize`: static
QDQ U8S8/S8S8 by ``int8_scheme``, or dynamic by ``int8_method``), and the effective precision is read from the graph
ORT optimised and runs (:mod:`workbench_engines.precision`); so is the precision of a file that was quantized
before it came here (dynamic ``MatMulInteger``/``ConvInteger``, ``QLinear*``, QDQ), with its quantization
operators in ``effective.extra["quantized_file"]``. fp16/bf16 are refused in one line naming what runs,
rather than silently running fp32.

Shapes: the session runs the file as it is. A built-in transformers export keeps dynamic batch/sequence axes (as
optimum exports it) and gets static inputs at run time; no free-dimension overrides bind them in the session,
because with every shape known ORT rewrites the MatMuls into Gemm calls wrapped in Reshapes, which measured
slower (docs/engines.md). ``effective.extra`` records the input dims the session saw and how the file was made.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError, WorkbenchError

from .base import Effective, Engine, EngineOption, LoadedModel, LoadSettings, ModelArtifact, comparable_outputs
from .precision import (
    census_extra,
    census_precision,
    onnx_census,
    onnx_file_quantization,
    onnx_graph_ops,
    refuse_precision,
    variant_file,
)
from .variants import PrecisionVariant

_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
#: Why a precision is refused (docs/engines.md): the execution providers here have no such kernels for built-ins.
_NO_PRECISION = {
    "fp16": "the CPU execution provider has no fp16 kernels for these models; fp16 needs a GPU provider and an "
    "fp16-converted model, which the workbench does not make yet",
    "bf16": "ONNX Runtime's CPU and CUDA providers run no bf16 models the workbench can make",
    "int8": "the workbench quantizes for the CPU execution provider only",
}


def _optimized_census(optimized: str) -> tuple[str, dict[str, Any]]:
    """The effective precision of a quantized model: the quantized kernels in the graph ORT optimised and runs
    (``DequantizeLinear`` feeding a float ``Conv`` counts as float), with the counts for the record. The file
    ORT wrote is removed."""
    try:
        ops = onnx_graph_ops(optimized)
    finally:
        try:
            os.unlink(optimized)
        except OSError:
            pass
    counts = onnx_census(ops)
    extra = census_extra(counts, "ONNX Runtime optimised graph (quantized vs float compute ops)")
    return census_precision(counts, "fp32"), extra


def _int8_evidence(optimized: str, variant: PrecisionVariant, fmt: str) -> tuple[str, dict[str, Any]]:
    """:func:`_optimized_census` of the int8 model preparation made, and how it was quantized."""
    precision, extra = _optimized_census(optimized)
    extra["quantization"] = variant.report(fmt)
    return precision, extra


# ---- errors: ONNX Runtime nests "Non-zero status code returned while running X node" messages ------------------
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*")
_ORT_NODE = re.compile(r"running (\S+) node\. Name:'([^']*)'")
_ORT_SOURCE = re.compile(r"(?:\S*/)?[\w.-]+\.(?:cc|cpp|cxx|h|hpp):\d+\s*")


def _skip_signature(text: str) -> str:
    """``text`` without a leading C++ function signature (``ns::Cls::fn(const T&, bool) const ``)."""
    match = re.match(r"[\w:~<>,* ]*::[\w~<>]+\(", text)
    if not match:
        return text
    depth, i = 0, match.end() - 1
    for i in range(match.end() - 1, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            break
    rest = text[i + 1 :].lstrip()
    return rest[len("const") :].lstrip() if rest.startswith("const ") else rest


def _clean_status(text: str) -> str:
    """A status message without the ``file.cc:NN`` path, the C++ signature and an ``ORT_ENFORCE`` condition."""
    text = text.strip()
    source = _ORT_SOURCE.match(text)
    if source:
        text = _skip_signature(text[source.end() :])
        if " was false." in text:
            text = text.split(" was false.", 1)[1]
    text = _ORT_SOURCE.sub("", text)
    return " ".join(text.split())


def explain_onnxruntime(text: str, *, limit: int = 400) -> str:
    """The innermost status message of an ONNX Runtime error, with the node that failed (and the nodes around
    it), in one line: ``Reshape node 'r' inside If node 'If_0' failed: The input tensor cannot be reshaped ...``."""
    body = _ORT_PREFIX.sub("", text.strip())
    nodes = _ORT_NODE.findall(body)
    inner = _clean_status(body.rsplit("Status Message:", 1)[1] if "Status Message:" in body else body)
    if nodes:
        labels = [f"{op} node" + (f" {name!r}" if name else "") for op, name in nodes]
        where = labels[-1] + "".join(f" inside {label}" for label in reversed(labels[:-1]))
        inner = f"{where} failed: {inner}"
    inner = inner or "ONNX Runtime failed without a message"
    return inner if len(inner) <= limit else inner[: limit - 1] + "…"


class OrtModel(LoadedModel):
    def __init__(self, session: Any, ort: Any, artifact: ModelArtifact, device: str, threads: int | None) -> None:
        super().__init__(artifact.inputs)
        self._sess = session
        self._ort = ort
        self._device = device
        self._threads = threads
        self._names = [i.name for i in session.get_inputs()]
        self._out_names = [o.name for o in session.get_outputs()]
        self._feeds: dict[str, Any] = {}
        self._last: list[Any] = []
        self._binding = None
        #: the precision read from the optimised graph and what it rests on (see OnnxRuntimeEngine.load)
        self.precision = "fp32"
        self.precision_extra: dict[str, Any] = {}
        #: how model preparation made the ONNX file (``ModelArtifact.export["onnx"]``), empty for a file as given
        self.export: dict[str, Any] = dict(artifact.export.get("onnx") or {})

    def effective(self) -> Effective:
        providers = self._sess.get_providers()
        opts = self._sess.get_session_options()
        return Effective(
            device=self._device,
            precision=self.precision,
            threads=opts.intra_op_num_threads or self._threads,
            extra={
                "providers": providers,
                "inter_op_threads": opts.inter_op_num_threads,
                "graph_optimization": str(opts.graph_optimization_level).rsplit(".", 1)[-1],
                # symbolic dims stay free: their sizes come with the inputs (see the module docstring)
                "input_dims": {i.name: list(i.shape) for i in self._sess.get_inputs()},
                **({"export": dict(self.export)} if self.export else {}),
                **self.precision_extra,
            },
        )

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        by_order = [feeds[s.name] if s.name in feeds else list(feeds.values())[i] for i, s in enumerate(self.inputs)]
        self._feeds = dict(zip(self._names, by_order))
        if self._device == "cuda":
            binding = self._sess.io_binding()
            for name, arr in self._feeds.items():
                binding.bind_ortvalue_input(name, self._ort.OrtValue.ortvalue_from_numpy(arr, "cuda", 0))
            for name in self._out_names:
                binding.bind_output(name, "cuda")
            self._binding = binding

    def infer(self) -> None:
        if self._binding is not None:
            self._sess.run_with_iobinding(self._binding)
        else:
            self._last = self._sess.run(self._out_names, self._feeds)

    def _infer_concurrent(self) -> None:
        self._sess.run(self._out_names, self._feeds)

    def outputs(self) -> dict[str, Any]:
        if self._binding is not None:
            values = self._binding.copy_outputs_to_cpu()
        else:
            values = self._last
        return comparable_outputs(dict(zip(self._out_names, values)))  # ZipMap's sequence of maps, too

    def close(self) -> None:
        self._binding = None
        self._sess = None


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"
    display_name = "ONNX Runtime"
    module = "onnxruntime"
    distribution = "onnxruntime"
    formats = ("onnx", "onnxruntime-genai")
    modes = ("latency", "throughput", "generate")
    options = (
        EngineOption(
            "int8_scheme",
            str,
            default="auto",
            choices=("auto", "u8s8", "s8s8"),
            precisions=("int8",),
            help="static int8 activation/weight types: auto = U8S8 on x86 (reduce_range without VNNI), S8S8 on ARM",
        ),
        EngineOption(
            "int8_method",
            str,
            default="auto",
            choices=("auto", "static", "dynamic"),
            precisions=("int8",),
            help="int8 quantization: static QDQ (calibrated) or dynamic; auto = dynamic for token-input models",
        ),
    )

    @classmethod
    def alt_distributions(cls) -> tuple[str, ...]:
        return ("onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")

    @classmethod
    def precisions(cls, device: str = "cpu") -> tuple[str, ...]:
        return ("fp32", "int8") if device == "cpu" else ("fp32",)

    @classmethod
    def quick_devices(cls) -> tuple[str, ...]:
        import importlib.util

        try:
            spec = importlib.util.find_spec("onnxruntime")
            capi = Path(spec.origin).parent / "capi" if spec and spec.origin else None
        except (ImportError, ValueError):
            capi = None
        has_cuda_ep = bool(capi and any(capi.glob("libonnxruntime_providers_cuda*")))
        gpu = Path("/proc/driver/nvidia/gpus").is_dir() or Path("/dev/nvidia0").exists()
        return ("cpu", "cuda") if has_cuda_ep and gpu else ("cpu",)

    @classmethod
    def probe_devices(cls) -> tuple[str, ...]:
        import onnxruntime as ort

        available = ort.get_available_providers()
        return tuple(d for d, p in _PROVIDERS.items() if p in available)

    @classmethod
    def explain_error(cls, exc: BaseException) -> str:
        """The innermost status message and the node that failed (see :func:`explain_onnxruntime`)."""
        if isinstance(exc, WorkbenchError):
            return str(exc)
        return explain_onnxruntime(str(exc)) if str(exc).strip() else type(exc).__name__

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        if s.mode == "generate":  # a causal LM generating text: engines/generate.py
            from .generate import load as load_generate

            return load_generate(cls.name, artifact, s)
        device, precision, threads = s.device, s.precision, s.threads
        fmt = cls.pick_format(artifact)
        if device in _PROVIDERS and precision not in cls.precisions(device):
            raise refuse_precision(
                cls.name, precision, device, cls.precisions(device), _NO_PRECISION.get(precision, "")
            )
        if device not in _PROVIDERS:
            raise UnsupportedError(f"onnxruntime: unknown device {device!r}; use cpu or cuda")
        # a file quantized before it came here (dynamic, QOperator, QDQ) runs whatever precision its graph holds;
        # reading its operators is not part of the load time
        source = artifact.files[fmt]
        prequantized = onnx_file_quantization(source) if precision == "fp32" and artifact.source == "file" else None
        t0 = time.perf_counter_ns()
        import onnxruntime as ort

        provider = _PROVIDERS[device]
        if provider not in ort.get_available_providers():
            raise EngineUnavailable(
                f"onnxruntime: {provider} is not available in this build ({', '.join(ort.get_available_providers())}); "
                f"install onnxruntime-gpu for CUDA or use --device cpu"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads) if threads else (len(os.sched_getaffinity(0)) or 1)
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        providers = [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]
        path = artifact.files[fmt]
        variant = None
        if precision == "int8":
            path, variant = variant_file(artifact, "int8", fmt, cls.name)
        if variant is not None or prequantized is not None:
            # the graph ORT really runs, written by ORT once the session exists (nothing is left on failure)
            opts.optimized_model_filepath = os.path.join(
                tempfile.gettempdir(), f"workbench-ort-optimized-{os.getpid()}-{time.time_ns()}.onnx"
            )
        try:
            session = ort.InferenceSession(path, sess_options=opts, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... classes
            raise ModelError(f"onnxruntime could not load {os.path.basename(path)}: {cls.explain_error(exc)}") from exc
        if device == "cuda" and session.get_providers()[0] != provider:
            raise EngineUnavailable(
                "onnxruntime: the CUDA provider failed to initialise (check the CUDA/cuDNN libraries); use --device cpu"
            )
        model = OrtModel(session, ort, artifact, device, opts.intra_op_num_threads)
        if variant is not None:
            model.precision, model.precision_extra = _int8_evidence(opts.optimized_model_filepath, variant, fmt)
        elif prequantized is not None:
            model.precision, model.precision_extra = _optimized_census(opts.optimized_model_filepath)
            model.precision_extra["quantized_file"] = prequantized
        model.load_ms = (time.perf_counter_ns() - t0) / 1e6
        return model
