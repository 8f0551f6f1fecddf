"""PyTorch adapter: eager built-ins, TorchScript and ``torch.export`` (.pt2) files, on CPU or CUDA.

Threads: ``torch.set_num_threads`` sets the *intra-op* pool (inter-op is left alone — it is not the knob that
matters for one model's forward pass, and swapping the two is a classic benchmark bug). Precision: bf16/fp16 run
the fp32 module under ``torch.autocast``; int8 quantizes built-ins at load (``int8_path``: FX graph mode, dynamic,
or torchao PT2E); ``compile`` wraps the module in ``torch.compile``, compiled on the first call in
``set_inputs`` and timed apart. The effective precision is read back from what ran
(:mod:`workbench_engines.torch_precision`). CUDA: inputs are moved to the device outside the timed call and every
inference ends with ``torch.cuda.synchronize()`` so the time covers the kernels, not just their launch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError, WorkbenchError, first_line

from . import torch_precision
from .base import Effective, Engine, EngineOption, LoadedModel, LoadSettings, ModelArtifact
from .precision import census_extra, census_precision, refuse_precision

_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "float64": "fp64", "qint8": "int8"}


def _gpu_present() -> bool:
    return Path("/proc/driver/nvidia/gpus").is_dir() or Path("/dev/nvidia0").exists()


class TorchModel(LoadedModel):
    def __init__(self, module: Any, artifact: ModelArtifact, device: str, dtype: Any, torch: Any) -> None:
        super().__init__(artifact.inputs)
        self._torch = torch
        self._module = module
        self._device = device
        self._dtype = dtype
        self._cuda = device.startswith("cuda")
        self._args: tuple[Any, ...] = ()
        self._out: Any = None
        self._output_names = artifact.outputs
        #: the eager module before torch.compile (read back from), the int8 report, compile settings and time
        self.eager: Any = module
        self.int8: dict[str, Any] | None = None
        self.compiled: dict[str, Any] | None = None
        self._compile_pending = False

    def _autocast(self) -> Any:
        """``torch.autocast`` for bf16/fp16 (the module keeps its fp32 weights), else a no-op context."""
        import contextlib

        if self._dtype is None:
            return contextlib.nullcontext()
        return self._torch.autocast("cuda" if self._cuda else "cpu", dtype=self._dtype)

    def effective(self) -> Effective:
        torch = self._torch
        precision = "fp32"
        extra: dict[str, Any] = {"interop_threads": torch.get_num_interop_threads(), "torch_build": torch.__version__}
        if self.int8 is not None and self._args:  # the compute kernels one inference really executed

            def run() -> Any:
                with torch.inference_mode():
                    return self._module(*self._args)

            counts = torch_precision.census_from_ops(torch_precision.profiled_ops(run, torch))
            precision = census_precision(counts, "fp32")
            extra.update(census_extra(counts, "torch profiler: outermost compute ops of one inference"))
            extra["quantized_modules"] = torch_precision.int8_census(self.eager, torch)
            extra["quantization"] = self.int8
        elif self._dtype is not None and self._args:  # what autocast really ran, from one probe inference

            def probe() -> Any:
                with torch.inference_mode(), self._autocast():
                    return self.eager(*self._args)

            counts, output = torch_precision.autocast_census(self.eager, probe, torch)
            precision = torch_precision.autocast_precision(counts, output)
            native = torch_precision.native_support(
                torch, _NAMES.get(str(self._dtype).replace("torch.", ""), ""), self._device
            )
            extra.update(torch_precision.autocast_extra(counts, output, native))
            extra["autocast"] = str(self._dtype).replace("torch.", "")
        else:
            try:
                params = [p for p in self._module.parameters() if p.is_floating_point()]
            except AttributeError:  # TorchScript/pt2 modules without parameters()
                params = []
            if params:
                dtypes = {str(p.dtype).replace("torch.", "") for p in params}
                precision = _NAMES.get(dtypes.pop(), "mixed") if len(dtypes) == 1 else "mixed"
        if self.compiled is not None:
            extra["compile"] = dict(self.compiled)
        if self._cuda:
            extra["gpu"] = torch.cuda.get_device_name(torch.device(self._device))
            extra["tf32"] = bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
        return Effective(device=self._device, precision=precision, threads=torch.get_num_threads(), extra=extra)

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        torch = self._torch
        args = []
        for spec in self.inputs:
            t = torch.from_numpy(feeds[spec.name])
            args.append(t.to(self._device).contiguous())
        self._args = tuple(args)
        if self._compile_pending:  # torch.compile compiles on the first call: time it here, not as inference
            self._compile_pending = False
            t0 = time.perf_counter_ns()
            self.infer()
            assert self.compiled is not None
            self.compiled["compile_ms"] = (time.perf_counter_ns() - t0) / 1e6

    def infer(self) -> None:
        with self._torch.inference_mode(), self._autocast():
            self._out = self._module(*self._args)
        if self._cuda:
            self._torch.cuda.synchronize()

    def _infer_concurrent(self) -> None:
        with self._torch.inference_mode(), self._autocast():
            self._module(*self._args)
        if self._cuda:
            self._torch.cuda.synchronize()

    def outputs(self) -> dict[str, Any]:
        flat = _flatten(self._out)
        names = list(self._output_names) or [f"output_{i}" for i in range(len(flat))]
        if len(names) < len(flat):
            names += [f"output_{i}" for i in range(len(names), len(flat))]
        out = {}
        for name, t in zip(names, flat):
            t = t.detach().to("cpu")
            out[name] = (t.float() if t.is_floating_point() else t).numpy()
        return out

    def close(self) -> None:
        self._module = None
        self._args = ()
        self._out = None


def _flatten(out: Any) -> list[Any]:
    if hasattr(out, "detach"):
        return [out]
    if isinstance(out, Mapping):
        return [t for v in out.values() for t in _flatten(v)]
    if hasattr(out, "to_tuple"):  # transformers ModelOutput
        return [t for v in out.to_tuple() for t in _flatten(v)]
    if isinstance(out, (tuple, list)):
        return [t for v in out for t in _flatten(v)]
    return []


class TorchEngine(Engine):
    name = "torch"
    display_name = "PyTorch"
    module = "torch"
    distribution = "torch"
    formats = ("torch-builtin", "torchscript", "pt2")
    options = (
        EngineOption(
            "int8_path",
            str,
            default="auto",
            choices=torch_precision.INT8_PATHS,
            precisions=("int8",),
            help="int8 quantization: fx (FX graph mode, x86), dynamic (Linear layers), pt2e (torchao + "
            "torch.compile); auto = fx, dynamic where FX cannot trace",
        ),
        EngineOption(
            "compile",
            str,
            default="off",
            choices=torch_precision.COMPILE_BACKENDS,
            help="torch.compile backend (compile time is recorded apart from load and first inference)",
        ),
        EngineOption(
            "compile_mode",
            str,
            default="default",
            choices=torch_precision.COMPILE_MODES,
            help="torch.compile mode (inductor only)",
        ),
    )

    @classmethod
    def quick_devices(cls) -> tuple[str, ...]:
        # torch/version.py states the CUDA version the build was made for, without importing torch.
        try:
            import importlib.util

            spec = importlib.util.find_spec("torch")
            text = Path(spec.origin).with_name("version.py").read_text() if spec and spec.origin else ""
        except (OSError, ImportError, ValueError):
            text = ""
        cuda_build = "cuda: Optional[str] = None" not in text and "cuda = None" not in text and "cuda" in text
        return ("cpu", "cuda") if cuda_build and _gpu_present() else ("cpu",)

    @classmethod
    def probe_devices(cls) -> tuple[str, ...]:
        import torch

        devices = ["cpu"]
        if torch.cuda.is_available():
            devices += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())][1:]
        return tuple(devices)

    @classmethod
    def precisions(cls, device: str = "cpu") -> tuple[str, ...]:
        return ("fp32", "bf16", "fp16", "int8") if device == "cpu" else ("fp32", "bf16", "fp16")

    @classmethod
    def explain_error(cls, exc: BaseException) -> str:
        """The last line of a TorchScript interpreter error (the real error; above it is the TorchScript
        traceback), else the first line of the message."""
        text = str(exc).strip()
        if isinstance(exc, WorkbenchError) or not text:
            return str(exc) or type(exc).__name__
        if "TorchScript interpreter" in text or "Traceback of TorchScript" in text:
            last = [line.strip() for line in text.splitlines() if line.strip()][-1]
            return last.removeprefix("RuntimeError: ")
        return first_line(exc)

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        device, precision, threads = s.device, s.precision, s.threads
        fmt = cls.pick_format(artifact)
        if precision not in cls.precisions("cuda" if device.startswith("cuda") else device):
            why = "its int8 kernels are CPU ones (fbgemm/oneDNN)" if precision == "int8" else ""
            raise refuse_precision(cls.name, precision, device, cls.precisions(device), why)
        if precision == "int8" and fmt != "torch-builtin":
            raise UnsupportedError(
                f"torch int8 quantizes built-in eager modules; a {fmt} file cannot be re-quantized here — run it "
                "on onnxruntime or openvino at int8 (from its ONNX export)"
            )
        samples = (
            torch_precision.calibration_samples(artifact.variants.get("int8"), artifact) if precision == "int8" else []
        )
        t0 = time.perf_counter_ns()
        import torch

        if threads:
            torch.set_num_threads(int(threads))
        if device.startswith("cuda"):
            if not torch.cuda.is_available():
                raise EngineUnavailable(
                    "torch: no CUDA device available (this torch build or machine has no GPU); use --device cpu"
                )
            if precision == "bf16" and not torch.cuda.is_bf16_supported():
                raise UnsupportedError(f"torch: {torch.cuda.get_device_name()} does not support bf16")
            # fp32 must mean fp32: by default cuDNN convolutions run in TF32 (10-bit mantissa) on Ampere and
            # newer, which measured a 9e-4 relative error on resnet18 — a different function from fp32.
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        elif device != "cpu":
            raise UnsupportedError(f"torch: unknown device {device!r}; use cpu or cuda")
        dtype = getattr(torch, _DTYPES[precision]) if precision in ("bf16", "fp16") else None  # autocast dtype
        path = artifact.files[fmt]
        try:
            if fmt == "torch-builtin":
                from workbench.models.resolve import load_torch_builtin

                module = load_torch_builtin(artifact)
            elif fmt == "torchscript":
                module = torch.jit.load(path, map_location="cpu")
            else:  # pt2: a torch.export archive (a file the user chose to run, like any model file)
                module = torch.export.load(path).module()
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"torch could not load {os.path.basename(path)}: {cls.explain_error(exc)}") from exc
        if hasattr(module, "eval") and fmt != "pt2":
            module = module.eval()
        try:
            module = module.to(device)
        except (RuntimeError, AttributeError) as exc:
            raise UnsupportedError(f"torch: cannot move the model to {device}/{precision}: {exc}") from None
        int8 = None
        if precision == "int8":
            path_option = str(s.options.get("int8_path") or "auto")
            module, int8 = torch_precision.quantize_int8(module, samples, path_option, torch, name=artifact.name)
            int8.update(artifact.variants["int8"].report(None))
        eager = module
        backend = str(s.options.get("compile") or "off")
        if backend != "off" or (int8 is not None and int8["path"] == "pt2e"):
            backend = "inductor" if backend == "off" else backend  # PT2E is lowered by Inductor
            module = torch_precision.compile_module(
                module, backend, str(s.options.get("compile_mode") or "default"), torch
            )
        model = TorchModel(module, artifact, device, dtype, torch)
        model.eager, model.int8 = eager, int8
        if module is not eager:
            model.compiled = {"backend": backend, "mode": str(s.options.get("compile_mode") or "default")}
            model._compile_pending = True
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        model.load_ms = (time.perf_counter_ns() - t0) / 1e6 - (int8["quantize_ms"] if int8 else 0.0)
        return model
