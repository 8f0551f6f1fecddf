"""PyTorch adapter: eager built-ins, TorchScript and ``torch.export`` (.pt2) files, on CPU or CUDA.

Threads: ``torch.set_num_threads`` sets the *intra-op* pool (inter-op is left alone — it is not the knob that
matters for one model's forward pass, and swapping the two is a classic benchmark bug). Precision: bf16/fp16 run
the fp32 module under ``torch.autocast``; int8 quantizes built-ins at load (``int8_path``: FX graph mode, dynamic,
or torchao PT2E); ``compile`` wraps the module in ``torch.compile``, compiled on the first call in
``set_inputs`` and timed apart. The effective precision is read back from what ran
(:mod:`workbench_engines.torch_precision`). CUDA: inputs are moved to the device outside the timed call and every
inference ends with ``torch.cuda.synchronize()`` so the time covers the kernels, not just their launch.

Training (``mode="train"``): the module runs in train mode (``module.train()``: dropout on, BatchNorm updating
its statistics) and every :meth:`TorchModel.infer` is one full step — zero the gradients, forward (under
autocast for bf16), the loss against seeded generated targets, backward, the optimizer's step (``optimizer``
option: SGD or AdamW). See :func:`train_loss` for the loss each model gets.

Attention: transformers models (built-ins, checkpoint directories) run the attention transformers gives its users
by default (SDPA where the architecture has it), not the eager attention their ONNX export traces; the one in force
is read back from the model's config into ``effective.extra["attention"]`` (docs/engines.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError, WorkbenchError, first_line

from . import torch_precision
from .base import SCALAR_ROLE, Effective, Engine, EngineOption, LoadedModel, LoadSettings, ModelArtifact
from .precision import census_extra, census_precision, refuse_precision

_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}
#: optimizers of train mode, with the hyper-parameters the step uses (they do not change its cost; small enough
#: that random targets do not drive the weights to inf/NaN in long runs)
OPTIMIZERS: dict[str, dict[str, float]] = {
    "sgd": {"lr": 1e-3, "momentum": 0.9},
    "adamw": {"lr": 1e-4, "weight_decay": 0.01},
}
#: tasks whose first output is class logits over its last dim: train mode takes cross-entropy on them
CLASSIFIER_TASKS = ("image-classification", "text-classification", "ocr")
#: added to the run's seed for train mode's targets (apart from the input and drift seeds)
TARGET_SEED_OFFSET = 20_000
_NAMES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16", "float64": "fp64", "qint8": "int8"}


def attention_in_force(module: Any) -> str | None:
    """The attention implementation a transformers model runs (``"sdpa"``, ``"eager"``, ...), read from its config;
    the model may be wrapped (``.model``, as the built-ins and checkpoint directories are). None for other modules."""
    for candidate in (module, getattr(module, "model", None)):
        config = getattr(candidate, "config", None)
        value = getattr(config, "_attn_implementation", None) if config is not None else None
        if value:
            return str(value)
    return None


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
        #: train mode: the optimizer, the loss (made from the first output's shape in set_inputs), its report
        self.optimizer: Any = None
        self.train_info: dict[str, Any] | None = None
        self._loss_fn: Any = None
        self._loss: Any = None
        self._task = artifact.task
        self._seed = 0

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
        attention = attention_in_force(self.eager)
        if attention is not None:
            extra["attention"] = attention
        if self.compiled is not None:
            extra["compile"] = dict(self.compiled)
        if self.train_info is not None:
            extra["train"] = self._train_report()
        if self._cuda:
            extra["gpu"] = torch.cuda.get_device_name(torch.device(self._device))
            extra["tf32"] = bool(torch.backends.cudnn.allow_tf32 or torch.backends.cuda.matmul.allow_tf32)
        return Effective(device=self._device, precision=precision, threads=torch.get_num_threads(), extra=extra)

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        torch = self._torch
        args = []
        for spec in self.inputs:
            if spec.role == SCALAR_ROLE:  # forward(x, sr: int): a Python number, not a tensor
                args.append(feeds[spec.name].item())
                continue
            t = torch.from_numpy(feeds[spec.name])
            args.append(t.to(self._device).contiguous())
        self._args = tuple(args)
        if self.optimizer is not None and self._loss_fn is None:
            self._loss_fn = self._make_loss()
        if self._compile_pending:  # torch.compile compiles on the first call: time it here, not as inference
            self._compile_pending = False
            t0 = time.perf_counter_ns()
            self.infer()
            assert self.compiled is not None
            self.compiled["compile_ms"] = (time.perf_counter_ns() - t0) / 1e6

    def infer(self) -> None:
        if self.optimizer is not None:
            self._step()
            return
        with self._torch.inference_mode(), self._autocast():
            self._out = self._module(*self._args)
        if self._cuda:
            self._torch.cuda.synchronize()

    # ---- train mode ---------------------------------------------------------------------------------------------
    def _step(self) -> None:
        """One full training step: zero the gradients, forward (autocast), loss, backward, optimizer step."""
        opt = self.optimizer
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            out = self._module(*self._args)
            loss = self._loss_fn(out)
        loss.backward()
        opt.step()
        if self._cuda:
            self._torch.cuda.synchronize()
        self._out, self._loss = out, loss.detach()

    def last_loss(self) -> float | None:
        """The loss of the last training step (None before the first one, or outside train mode)."""
        return float(self._loss) if self._loss is not None else None

    def _make_loss(self) -> Any:
        """The loss of train mode, from one probe forward pass (eval mode, no grad: it changes nothing) that
        shows the first output's shape; targets are drawn once from ``seed + TARGET_SEED_OFFSET``."""
        torch = self._torch
        module = self.eager
        set_training(module, False)
        try:
            with torch.no_grad(), self._autocast():
                probe = module(*self._args)
        finally:
            set_training(module, True)
        first = _first_float(probe)
        if first is None:
            raise UnsupportedError(
                "torch: train mode needs a floating-point output to take a loss on; this model has none"
            )
        loss_fn, report = train_loss(first, self._task, self._seed, torch, device=self._device)
        self.train_info = {**(self.train_info or {}), **report}
        return loss_fn

    def _train_report(self) -> dict[str, Any]:
        """What the training step really uses, read back: the optimizer and its hyper-parameters, the module's
        mode, the trainable parameters, the loss."""
        opt = self.optimizer
        group = opt.param_groups[0] if opt.param_groups else {}
        hyper = {k: group[k] for k in ("lr", "momentum", "weight_decay", "betas", "eps") if k in group}
        params = [p for g in opt.param_groups for p in g["params"]]
        out = dict(self.train_info or {})
        out.update(
            {
                "optimizer": type(opt).__name__,
                "hyperparameters": {k: list(v) if isinstance(v, tuple) else v for k, v in hyper.items()},
                "module_training": bool(getattr(self.eager, "training", False)),
                "trainable_params": int(sum(p.numel() for p in params)),
                "step": "zero_grad, forward, loss, backward, optimizer.step",
            }
        )
        if self._loss is not None:
            out["last_loss"] = float(self._loss)
        return out

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


def _first_float(out: Any) -> Any:
    """The first floating-point tensor of a model's output (logits), or None."""
    return next((t for t in _flatten(out) if t.is_floating_point()), None)


def train_loss(first: Any, task: str, seed: int, torch: Any, *, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """``(loss_fn(output) -> scalar, report)`` for train mode, from a probe of the first float output ``first``.

    Classifiers (the artifact's ``task`` in :data:`CLASSIFIER_TASKS` and an output of rank >= 2; nothing is
    guessed from shapes alone): cross-entropy over the last dim against seeded random labels of the output's
    shape without that dim (``[B]`` for ``[B, C]`` logits, ``[B, T]`` for per-step logits). Everything
    else: mean squared error against a seeded N(0, 1) target of the output's shape. The loss is computed in fp32
    (``.float()``) also under autocast. Targets are drawn once, on the CPU, from ``seed + TARGET_SEED_OFFSET``.
    """
    generator = torch.Generator().manual_seed(int(seed) + TARGET_SEED_OFFSET)
    shape = tuple(first.shape)
    if task in CLASSIFIER_TASKS and len(shape) >= 2 and shape[-1] >= 2:
        classes = int(shape[-1])
        labels = torch.randint(0, classes, shape[:-1], generator=generator).to(device)
        flat_labels = labels.reshape(-1)

        def cross_entropy(out: Any) -> Any:
            logits = _first_float(out)
            return torch.nn.functional.cross_entropy(logits.reshape(-1, classes).float(), flat_labels)

        return cross_entropy, {
            "loss": "cross-entropy",
            "target": f"seeded random labels over {classes} classes, shape {list(shape[:-1])}",
        }
    target = torch.randn(shape, generator=generator).to(device)

    def mse(out: Any) -> Any:
        return torch.nn.functional.mse_loss(_first_float(out).float(), target)

    return mse, {"loss": "mse", "target": f"seeded N(0, 1) tensor of the output's shape {list(shape)}"}


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


def set_training(module: Any, flag: bool) -> None:
    """``module.train(flag)``; UnsupportedError in one line for a module that cannot switch (some ``.pt2``
    modules refuse ``train()``)."""
    try:
        module.train(flag)
    except (NotImplementedError, RuntimeError, AttributeError) as exc:
        raise UnsupportedError(f"torch: this model cannot switch to train mode: {first_line(exc)}") from exc


def make_optimizer(module: Any, name: str, torch: Any) -> Any:
    """The optimizer ``name`` (:data:`OPTIMIZERS`) over ``module``'s trainable parameters. Raises
    UnsupportedError for an unknown name or a module without trainable parameters."""
    if name not in OPTIMIZERS:
        raise UnsupportedError(f"torch: unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    try:
        params = [p for p in module.parameters() if p.requires_grad]
    except AttributeError:
        params = []
    if not params:
        raise UnsupportedError("torch: train mode needs trainable parameters, and this model exposes none")
    cls = torch.optim.SGD if name == "sgd" else torch.optim.AdamW
    return cls(params, **OPTIMIZERS[name])


class TorchEngine(Engine):
    name = "torch"
    display_name = "PyTorch"
    module = "torch"
    distribution = "torch"
    formats = ("torch-builtin", "torchscript", "pt2", "hf-causal-lm")
    modes = ("latency", "throughput", "train", "generate")
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
        EngineOption(
            "optimizer",
            str,
            default="sgd",
            choices=tuple(OPTIMIZERS),
            modes=("train",),
            help="train mode's optimizer: sgd (lr 1e-3, momentum 0.9) or adamw (lr 1e-4, weight decay 0.01)",
        ),
        EngineOption(
            "generate_loop",
            str,
            default="manual",
            choices=("manual", "hf"),
            modes=("generate",),
            help="generate mode: manual (our KV-cache loop, every forward timed) or hf (transformers' generate, "
            "tokens stamped by a streamer; min_new_tokens keeps EOS from stopping it)",
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
        if s.mode == "generate":  # a causal LM generating text: engines/generate.py
            from .generate import load as load_generate

            return load_generate(cls.name, artifact, s)
        device, precision, threads = s.device, s.precision, s.threads
        fmt = cls.pick_format(artifact)
        if precision not in cls.precisions("cuda" if device.startswith("cuda") else device):
            why = "its int8 kernels are CPU ones (fbgemm/oneDNN)" if precision == "int8" else ""
            raise refuse_precision(cls.name, precision, device, cls.precisions(device), why)
        if s.mode == "train" and precision not in ("fp32", "bf16"):
            raise UnsupportedError(
                f"torch trains at fp32 or bf16 (autocast), not {precision}"
                + (": an int8-quantized model has no gradients" if precision == "int8" else "")
                + (": fp16 training needs loss scaling, which the workbench does not do" if precision == "fp16" else "")
            )
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
        if s.mode == "train":
            set_training(module, True)
        elif hasattr(module, "eval") and fmt != "pt2":
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
        if s.mode == "train":
            name = str(s.options.get("optimizer") or "sgd")
            model.optimizer = make_optimizer(eager, name, torch)
            model.train_info = {"optimizer_option": name}
            model._seed = s.seed
        if module is not eager:
            model.compiled = {"backend": backend, "mode": str(s.options.get("compile_mode") or "default")}
            model._compile_pending = True
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        model.load_ms = (time.perf_counter_ns() - t0) / 1e6 - (int8["quantize_ms"] if int8 else 0.0)
        return model
