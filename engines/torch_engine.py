"""PyTorch adapter: eager built-ins, TorchScript and ``torch.export`` (.pt2) files, on CPU or CUDA.

Threads: ``torch.set_num_threads`` sets the *intra-op* pool (inter-op is left alone — it is not the knob that
matters for one model's forward pass, and swapping the two is a classic benchmark bug). Precision: bf16/fp16 cast
the weights and floating inputs (``module.to(dtype)``); the effective precision is read back from the
parameters. CUDA: inputs are moved to the device outside the timed call and every inference ends with
``torch.cuda.synchronize()`` so the time covers the kernels, not just their launch.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError

from .base import Effective, Engine, LoadedModel, LoadSettings, ModelArtifact

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

    def effective(self) -> Effective:
        torch = self._torch
        precision = "fp32"
        try:
            params = [p for p in self._module.parameters() if p.is_floating_point()]
        except AttributeError:  # TorchScript/pt2 modules without parameters()
            params = []
        if params:
            dtypes = {str(p.dtype).replace("torch.", "") for p in params}
            precision = _NAMES.get(dtypes.pop(), "mixed") if len(dtypes) == 1 else "mixed"
        elif self._dtype is not None:
            precision = _NAMES.get(str(self._dtype).replace("torch.", ""), "fp32")
        extra = {"interop_threads": torch.get_num_interop_threads(), "torch_build": torch.__version__}
        if self._cuda:
            extra["gpu"] = torch.cuda.get_device_name(torch.device(self._device))
            extra["tf32"] = bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
        return Effective(device=self._device, precision=precision, threads=torch.get_num_threads(), extra=extra)

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        torch = self._torch
        args = []
        for spec in self.inputs:
            t = torch.from_numpy(feeds[spec.name])
            if t.is_floating_point() and self._dtype is not None:
                t = t.to(self._dtype)
            args.append(t.to(self._device).contiguous())
        self._args = tuple(args)

    def infer(self) -> None:
        with self._torch.inference_mode():
            self._out = self._module(*self._args)
        if self._cuda:
            self._torch.cuda.synchronize()

    def _infer_concurrent(self) -> None:
        with self._torch.inference_mode():
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
        return ("fp32", "bf16", "fp16")

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        device, precision, threads = s.device, s.precision, s.threads
        fmt = cls.pick_format(artifact)
        if precision not in _DTYPES:
            raise UnsupportedError(
                f"torch: precision {precision!r} is not supported (int8 needs a quantized model); use fp32, bf16 or fp16"
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
        dtype = getattr(torch, _DTYPES[precision])
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
            raise ModelError(f"torch could not load {os.path.basename(path)}: {str(exc).splitlines()[0]}") from None
        if hasattr(module, "eval") and fmt != "pt2":
            module = module.eval()
        try:
            module = module.to(device=device, dtype=dtype) if precision != "fp32" else module.to(device)
        except (RuntimeError, AttributeError) as exc:
            raise UnsupportedError(f"torch: cannot move the model to {device}/{precision}: {exc}") from None
        model = TorchModel(module, artifact, device, dtype if precision != "fp32" else None, torch)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        model.load_ms = (time.perf_counter_ns() - t0) / 1e6
        return model
