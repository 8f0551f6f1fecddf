"""OpenVINO adapter: IR (``.xml`` + ``.bin``) or ``.onnx`` models, on CPU (or an Intel GPU where present).

Precision is always requested explicitly (``INFERENCE_PRECISION_HINT``): on CPUs with AVX-512 BF16/AMX OpenVINO
otherwise runs bf16 by default, so "fp32" must say f32. The *effective* precision is read back from the compiled
model, and a result says bf16 when bf16 ran. Threads go to ``INFERENCE_NUM_THREADS``. Latency mode compiles with
the LATENCY hint and one stream; throughput mode with the THROUGHPUT hint (and, when given, the ``streams``
option: ``--engine-option openvino.streams=N``, or ``--streams N``) and keeps the compiled model's optimal number of
requests in flight through an ``AsyncInferQueue``.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Mapping

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError, first_line

from .base import Effective, Engine, EngineOption, LoadedModel, LoadSettings, ModelArtifact

_HINTS = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}
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


class OvModel(LoadedModel):
    def __init__(self, compiled: Any, ov: Any, artifact: ModelArtifact, device: str) -> None:
        super().__init__(artifact.inputs)
        self._compiled = compiled
        self._ov = ov
        self._device = device
        self._request = compiled.create_infer_request()
        self._arrays: list[Any] = []
        self._port_names = [p.get_any_name() for p in compiled.inputs]
        self._out_names = [p.get_any_name() for p in compiled.outputs]

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
        return Effective(
            device=self._device,
            precision=_type_name(self._prop("INFERENCE_PRECISION_HINT")),
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
    formats = ("openvino", "onnx")
    options = (
        EngineOption(
            "streams",
            int,
            default=None,
            minimum=1,
            modes=("throughput",),
            help="OpenVINO NUM_STREAMS: how many streams run requests in parallel",
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
        return ("fp32", "bf16", "fp16")

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        device, precision, threads, mode = s.device, s.precision, s.threads, s.mode
        streams = s.options.get("streams")
        fmt = cls.pick_format(artifact)
        if precision not in _HINTS:
            raise UnsupportedError(
                f"openvino: precision {precision!r} needs a quantized (NNCF) model, which is not supported yet; use fp32, bf16 or fp16"
            )
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
        try:
            model = core.read_model(path)
        except Exception as exc:
            first = first_line(exc)
            raise ModelError(f"openvino could not read {os.path.basename(path)}: {first[:200]}") from None
        static = {p.get_any_name(): p.get_partial_shape() for p in model.inputs}
        if any(ps.is_dynamic for ps in static.values()):
            shapes = {}
            for i, p in enumerate(model.inputs):
                spec = artifact.inputs[i] if i < len(artifact.inputs) else None
                if spec is not None and spec.is_static:
                    shapes[p.get_any_name()] = list(spec.shape)
            try:
                model.reshape(shapes)
            except Exception as exc:
                raise ModelError(f"openvino: cannot set input shapes {shapes}: {str(exc).splitlines()[0]}") from None
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
        try:
            compiled = core.compile_model(model, ov_device, config)
        except Exception as exc:
            first = first_line(exc)
            raise UnsupportedError(f"openvino could not compile for {ov_device} with {config}: {first[:200]}") from None
        loaded = OvModel(compiled, ov, artifact, device)
        loaded.load_ms = (time.perf_counter_ns() - t0) / 1e6
        return loaded
