"""torch below fp32: int8 quantization at load, autocast bf16/fp16, torch.compile — and what really ran.

INT8 (CPU, built-in eager modules), chosen by the ``torch.int8_path`` option:

* ``fx`` — ``torch.ao.quantization`` FX graph mode with the x86 backend (``prepare_fx`` with
  ``get_default_qconfig_mapping("x86")``, calibration on the shared calibration set, ``convert_fx``). Deprecated
  upstream (torchao's PT2E is the successor) but present in torch 2.13, and it runs real int8 kernels eagerly
  (``quantized::conv2d``/``linear`` through fbgemm/oneDNN). It cannot trace models with data-dependent Python
  control flow (the transformers models).
* ``dynamic`` — ``torch.ao.quantization.quantize_dynamic`` of the ``nn.Linear`` layers (weights int8, activations
  quantized per call): no tracing, so it runs transformers; convolutions stay fp32. Also deprecated upstream.
* ``pt2e`` — torchao's PT2E flow: ``torch.export.export(..., strict=True)``, ``X86InductorQuantizer``,
  ``prepare_pt2e``/``convert_pt2e``, lowered by ``torch.compile`` (Inductor with ``freezing``). Needs torchao.
  ``strict=True`` matters: the default non-strict export records one source partition per *module*, and
  torchvision's ResNet blocks call one ``nn.ReLU`` three times, so the quantizer's conv+add+relu matcher finds a
  partition with several outputs and raises "Input partition has more than one output node"; TorchDynamo's
  strict export records one partition per call.
* ``auto`` — ``fx``, falling back to ``dynamic`` (with the reason recorded) when FX cannot trace the model.

bf16/fp16 run the fp32 module under ``torch.autocast`` (CPU and CUDA). The effective precision is read back from
what executed: output dtypes of every Conv/Linear module during one probe inference (autocast), the quantized
modules of the converted model (FX, dynamic), or the quantize/dequantize pattern feeding each convolution and
linear node handed to Inductor (PT2E) — see :func:`workbench_engines.precision.census_precision`.

Everything here imports torch lazily; the adapter passes its ``torch`` module in.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from workbench.errors import EngineUnavailable, ModelError, UnsupportedError

from .precision import INT8, census_extra, census_precision

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import ModelArtifact
    from .variants import PrecisionVariant

INT8_PATHS = ("auto", "fx", "dynamic", "pt2e")
COMPILE_BACKENDS = ("off", "inductor", "aot_eager", "eager")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
DEPRECATED = (
    "torch.ao.quantization (FX graph mode and dynamic quantization) is deprecated upstream in favour of torchao's "
    "PT2E flow; it still runs real int8 kernels in this torch"
)
_DTYPE_NAMES = {
    "float32": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "float64": "fp64",
    "qint8": INT8,
    "quint8": INT8,
}


def precision_name(dtype: Any) -> str:
    """``torch.bfloat16`` -> ``bf16``."""
    text = str(dtype).replace("torch.", "")
    return _DTYPE_NAMES.get(text, text)


# ---- calibration --------------------------------------------------------------------------------------------------
def calibration_samples(variant: "PrecisionVariant | None", artifact: "ModelArtifact") -> list[tuple[Any, ...]]:
    """The shared calibration samples as numpy arrays in input order, one tuple per sample. Raises
    UnsupportedError when model preparation made no calibration set."""
    import numpy as np

    path = (variant.calibration.get("file") if variant is not None else None) or ""
    if not path or not os.path.isfile(path):
        raise UnsupportedError(
            f"torch: int8 calibrates on the samples model preparation makes, and {artifact.name!r} has none; "
            "'workbench run --precision int8' prepares them"
        )
    with np.load(path, allow_pickle=False) as data:
        arrays = [data[spec.name] for spec in artifact.inputs]
    count = min(len(a) for a in arrays) if arrays else 0
    return [tuple(np.ascontiguousarray(a[i]) for a in arrays) for i in range(count)]


# ---- int8 ---------------------------------------------------------------------------------------------------------
def quantize_int8(
    module: Any, samples: Sequence[tuple[Any, ...]], path: str, torch: Any, *, name: str
) -> tuple[Any, dict[str, Any]]:
    """``module`` quantized by ``path`` (see the module docstring), and the report for the result (``path``,
    ``api``, ``quantize_ms``, ``deprecated``/``fallback`` where they apply). Raises UnsupportedError naming why a
    path cannot run this model, EngineUnavailable when torchao is missing for ``pt2e``."""
    if path not in INT8_PATHS:
        raise UnsupportedError(f"torch.int8_path: one of {', '.join(INT8_PATHS)}, not {path!r}")
    torch.backends.quantized.engine = "x86" if "x86" in torch.backends.quantized.supported_engines else "fbgemm"
    tensors = [tuple(torch.from_numpy(a) for a in sample) for sample in samples]
    t0 = time.perf_counter_ns()
    report: dict[str, Any] = {"backend": torch.backends.quantized.engine}
    if path in ("auto", "fx"):
        try:
            out = _fx(module, tensors, torch)
            report.update(
                path="fx", api="torch.ao.quantization.quantize_fx prepare_fx/convert_fx", deprecated=DEPRECATED
            )
        except _TraceFailed as exc:
            if path == "fx":
                raise UnsupportedError(
                    f"torch int8 (FX graph mode) cannot trace {name}: {exc}; torch.int8_path=dynamic quantizes its "
                    "Linear layers without tracing"
                ) from None
            out = _dynamic(module, torch)
            report.update(
                path="dynamic",
                api="torch.ao.quantization.quantize_dynamic (nn.Linear)",
                deprecated=DEPRECATED,
                fallback=f"FX graph mode cannot trace {name} ({exc}): dynamic quantization of its Linear layers",
            )
    elif path == "dynamic":
        out = _dynamic(module, torch)
        report.update(path="dynamic", api="torch.ao.quantization.quantize_dynamic (nn.Linear)", deprecated=DEPRECATED)
    else:
        out = _pt2e(module, tensors, torch, name=name)
        report.update(path="pt2e", api="torchao PT2E X86InductorQuantizer + torch.compile(inductor, freezing)")
    report["quantize_ms"] = (time.perf_counter_ns() - t0) / 1e6
    report["calibration_samples"] = len(tensors) if report["path"] != "dynamic" else 0
    return out, report


class _TraceFailed(Exception):
    pass


def _quiet(fn: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation and observer warnings are recorded in the result instead
        return fn()


def _fx(module: Any, samples: Sequence[tuple[Any, ...]], torch: Any) -> Any:
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    try:
        prepared = _quiet(lambda: prepare_fx(module, get_default_qconfig_mapping("x86"), example_inputs=samples[0]))
    except Exception as exc:  # symbolic tracing raises whatever the model's Python code does on a Proxy
        raise _TraceFailed(f"{type(exc).__name__}: {_line(exc)}") from exc
    with torch.inference_mode():
        for sample in samples:
            prepared(*sample)
    return _quiet(lambda: convert_fx(prepared))


def _dynamic(module: Any, torch: Any) -> Any:
    return _quiet(lambda: torch.ao.quantization.quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8))


def _pt2e(module: Any, samples: Sequence[tuple[Any, ...]], torch: Any, *, name: str) -> Any:
    try:
        import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as xiq
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    except ImportError as exc:
        raise EngineUnavailable(f"torch.int8_path=pt2e needs torchao: pip install torchao ({_line(exc)})") from None
    quantizer = xiq.X86InductorQuantizer()
    quantizer.set_global(xiq.get_default_x86_inductor_quantization_config())
    try:
        exported = _quiet(lambda: torch.export.export(module, samples[0], strict=True).module())
        prepared = _quiet(lambda: prepare_pt2e(exported, quantizer))
        with torch.no_grad():
            for sample in samples:
                prepared(*sample)
        converted = _quiet(lambda: convert_pt2e(prepared))
    except Exception as exc:
        raise UnsupportedError(f"torch int8 (PT2E) cannot quantize {name}: {type(exc).__name__}: {_line(exc)}") from exc
    import torch._inductor.config as inductor_config

    inductor_config.freezing = True  # constant-folds the int8 weights so Inductor picks the int8 kernels
    return converted


#: aten ops that compute in floating point (convolutions, matrix products, attention).
FLOAT_OPS = frozenset(
    {
        "aten::conv1d",
        "aten::conv2d",
        "aten::conv3d",
        "aten::convolution",
        "aten::conv_transpose1d",
        "aten::conv_transpose2d",
        "aten::conv_transpose3d",
        "aten::linear",
        "aten::matmul",
        "aten::mm",
        "aten::bmm",
        "aten::addmm",
        "aten::baddbmm",
        "aten::einsum",
        "aten::scaled_dot_product_attention",
        "mkldnn::_linear_pointwise",
        "mkldnn::_convolution_pointwise",
    }
)


def executed_op_precision(name: str) -> str | None:
    """``int8`` for a quantized compute kernel (``quantized::conv2d_relu``, ``quantized::linear_dynamic``,
    ``onednn::qconv2d_pointwise`` ...), ``fp32`` for a float one (:data:`FLOAT_OPS`), None for anything else. Pure."""
    if name.startswith(("quantized::", "onednn::q", "_quantized::")) and any(
        k in name for k in ("conv", "linear", "matmul")
    ):
        return INT8
    return "fp32" if name in FLOAT_OPS else None


def census_from_ops(ops: Sequence[tuple[str, Sequence[str]]]) -> dict[str, int]:
    """Compute-op counts from ``(op name, names of its ancestors)`` of one profiled inference: only the outermost
    compute op of a call tree counts (``aten::linear`` calling ``aten::addmm`` is one linear). Pure."""
    counts: dict[str, int] = {}
    for name, ancestors in ops:
        kind = executed_op_precision(name)
        if kind is None or any(executed_op_precision(a) is not None for a in ancestors):
            continue
        counts[kind] = counts.get(kind, 0) + 1
    return counts


def profiled_ops(run: Callable[[], Any], torch: Any) -> list[tuple[str, list[str]]]:
    """``(op, ancestors)`` of every op torch executed during ``run()`` (the CPU profiler; compiled graphs call their
    int8 kernels through ``torch.ops`` too, so they show)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()
    out = []
    for event in prof.events():
        ancestors = []
        parent = event.cpu_parent
        while parent is not None:
            ancestors.append(parent.name)
            parent = parent.cpu_parent
        out.append((event.name, ancestors))
    return out


def int8_census(module: Any, torch: Any) -> dict[str, int]:
    """Compute layers of a quantized model by precision: quantized Conv/Linear modules (FX, dynamic) count int8,
    float ``nn.Conv*``/``nn.Linear`` modules fp32; for a PT2E graph (no such modules), each convolution/linear node
    counts int8 when its weight comes from a dequantize node (the q/dq pattern Inductor lowers to int8 kernels)."""
    nn = torch.nn
    floats = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)
    counts: dict[str, int] = {}
    for sub in module.modules():
        cls = type(sub)
        quantized = cls.__module__.startswith(("torch.ao.nn.quantized", "torch.ao.nn.intrinsic.quantized"))
        if quantized and ("Conv" in cls.__name__ or "Linear" in cls.__name__) and "Packed" not in cls.__name__:
            counts[INT8] = counts.get(INT8, 0) + 1
        elif isinstance(sub, floats) and not quantized:
            counts["fp32"] = counts.get("fp32", 0) + 1
    if counts:
        return counts
    graph = getattr(module, "graph", None)
    for node in getattr(graph, "nodes", ()):
        target = str(node.target)
        if node.op != "call_function" or not any(k in target for k in ("conv", "linear", "addmm")):
            continue
        weight = node.args[1] if len(node.args) > 1 else None
        source = str(getattr(weight, "target", ""))
        key = INT8 if "dequantize" in source else "fp32"
        counts[key] = counts.get(key, 0) + 1
    return counts


# ---- autocast -------------------------------------------------------------------------------------------------------
def autocast_census(module: Any, run: Callable[[], Any], torch: Any) -> tuple[dict[str, int], str | None]:
    """Run ``run`` (one inference under autocast) with hooks on every Conv/Linear module; returns the counts of
    their output dtypes, and the dtype of the first output (for modules without such submodules: TorchScript,
    torch.export)."""
    nn = torch.nn
    kinds = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.ConvTranspose2d)
    counts: dict[str, int] = {}

    def hook(_mod: Any, _inp: Any, out: Any) -> None:
        if hasattr(out, "dtype"):
            key = precision_name(out.dtype)
            counts[key] = counts.get(key, 0) + 1

    subs = [m for m in module.modules() if isinstance(m, kinds)] if hasattr(module, "modules") else []
    handles = [m.register_forward_hook(hook) for m in subs]
    try:
        out = run()
    finally:
        for h in handles:
            h.remove()
    first = _first_tensor(out)
    return counts, (precision_name(first.dtype) if first is not None else None)


def _first_tensor(out: Any) -> Any:
    if hasattr(out, "dtype"):
        return out
    if isinstance(out, Mapping):
        out = list(out.values())
    elif hasattr(out, "to_tuple"):
        out = out.to_tuple()
    if isinstance(out, (tuple, list)):
        for v in out:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def native_support(torch: Any, precision: str, device: str) -> bool | None:
    """Whether the hardware runs ``precision`` natively, as torch itself reports it (oneDNN on CPU: AVX512-BF16 /
    AMX / AVX512-FP16; CUDA: ``is_bf16_supported``); None where torch does not say."""
    try:
        if device.startswith("cuda"):
            return bool(torch.cuda.is_bf16_supported()) if precision == "bf16" else True
        if precision == "bf16":
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        if precision == "fp16":
            return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    except (AttributeError, RuntimeError):
        return None
    return None


def autocast_precision(counts: Mapping[str, int], output: str | None) -> str:
    """The precision autocast really ran: from the Conv/Linear output dtypes, else the output's dtype."""
    return census_precision(counts, output or "fp32") if counts else (output or "fp32")


def autocast_extra(counts: Mapping[str, int], output: str | None, native: bool | None) -> dict[str, Any]:
    extra = census_extra(counts, "output dtypes of the Conv/Linear modules in one autocast inference")
    extra["output_dtype"] = output
    extra["native_hardware"] = native
    if native is False:
        extra["note"] = "this CPU has no native support for it: torch emulates it (slower than fp32 is possible)"
    return extra


# ---- torch.compile --------------------------------------------------------------------------------------------------
def compile_module(module: Any, backend: str, mode: str, torch: Any) -> Any:
    """``torch.compile(module, backend=..., mode=...)``; Inductor's caches go under the workbench cache so a
    second load reuses the compiled kernels (``TORCHINDUCTOR_CACHE_DIR``, unless the user set it)."""
    if backend not in COMPILE_BACKENDS[1:]:
        raise UnsupportedError(f"torch.compile: one of {', '.join(COMPILE_BACKENDS)}, not {backend!r}")
    from workbench import paths

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(paths.cache_dir() / "torchinductor"))
    kwargs: dict[str, Any] = {"backend": backend}
    if backend == "inductor" and mode != "default":
        kwargs["mode"] = mode
    try:
        return torch.compile(module, **kwargs)
    except Exception as exc:  # torch raises its own classes for unsupported setups
        raise ModelError(f"torch.compile({backend}) failed: {type(exc).__name__}: {_line(exc)}") from exc


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
