"""ONNX Runtime adapter: ``.onnx`` models on the CPU execution provider, or CUDA where present.

Threads: ``intra_op_num_threads`` is always set explicitly (ONNX Runtime pins its own pool to cores unless it is
given), ``inter_op_num_threads = 1`` with sequential execution. On CUDA, inputs and outputs are bound to device
memory with IO binding so the timed call is the kernels, not host copies. Precision: the model runs in the
precision it was exported in (fp32 for built-ins); fp16/bf16/int8 need a converted model and are refused with a
clear message rather than silently running fp32.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError, first_line

from .base import Effective, Engine, LoadedModel, LoadSettings, ModelArtifact

_PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


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

    def effective(self) -> Effective:
        providers = self._sess.get_providers()
        opts = self._sess.get_session_options()
        return Effective(
            device=self._device,
            precision="fp32",
            threads=opts.intra_op_num_threads or self._threads,
            extra={
                "providers": providers,
                "inter_op_threads": opts.inter_op_num_threads,
                "graph_optimization": str(opts.graph_optimization_level).rsplit(".", 1)[-1],
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
        return {n: (v.astype("float32") if v.dtype.kind == "f" else v) for n, v in zip(self._out_names, values)}

    def close(self) -> None:
        self._binding = None
        self._sess = None


class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"
    display_name = "ONNX Runtime"
    module = "onnxruntime"
    distribution = "onnxruntime"
    formats = ("onnx",)

    @classmethod
    def alt_distributions(cls) -> tuple[str, ...]:
        return ("onnxruntime-gpu", "onnxruntime-openvino", "onnxruntime-directml")

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
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        device, precision, threads = s.device, s.precision, s.threads
        fmt = cls.pick_format(artifact)
        if precision != "fp32":
            raise UnsupportedError(
                f"onnxruntime runs the model in the precision it was exported in (fp32); {precision} needs a "
                f"converted model, which is not supported yet — use --precision fp32 for onnxruntime"
            )
        if device not in _PROVIDERS:
            raise UnsupportedError(f"onnxruntime: unknown device {device!r}; use cpu or cuda")
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
        try:
            session = ort.InferenceSession(path, sess_options=opts, providers=providers)
        except Exception as exc:  # ORT raises its own Fail/InvalidGraph/... classes
            first = first_line(exc)
            raise ModelError(f"onnxruntime could not load {os.path.basename(path)}: {first}") from None
        if device == "cuda" and session.get_providers()[0] != provider:
            raise EngineUnavailable(
                "onnxruntime: the CUDA provider failed to initialise (check the CUDA/cuDNN libraries); use --device cpu"
            )
        model = OrtModel(session, ort, artifact, device, opts.intra_op_num_threads)
        model.load_ms = (time.perf_counter_ns() - t0) / 1e6
        return model
