"""The precision an engine really executed, from the engine's own evidence — never from the request.

Every adapter counts the *compute layers* of what it runs (convolutions, matrix multiplications, fully connected
layers) by the precision they execute in, and :func:`census_precision` turns the counts into the one word a
result carries in ``precision_effective``:

* ``int8`` — every compute layer runs int8 kernels;
* ``mixed`` — some do (the share is in ``Effective.extra["int8_share"]``);
* otherwise the floating-point precision the engine reports (``fp32``, ``bf16``, ...).

Evidence per engine (the functions here are pure over what the adapter read back):

* OpenVINO — the runtime model of the compiled model (``compiled.get_runtime_model()``): each executed node's
  ``layerType`` and ``runtimePrecision`` (:func:`openvino_census`);
* ONNX Runtime — the session's optimised graph (``SessionOptions.optimized_model_filepath``): quantized kernels
  (``QLinearConv``, ``QGemm``, ``MatMulInteger``, ...) against float ones (``Conv``, ``FusedConv``, ``MatMul``,
  ``Gemm``, ...); a ``DequantizeLinear`` feeding a float ``Conv`` counts as float (:func:`onnx_census`);
* torch — the modules and graph nodes of the converted model (:mod:`workbench_engines.torch_precision`).

Also here: :func:`variant_file`, how an adapter finds the lower-precision file model preparation made
(:mod:`workbench_engines.variants`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Mapping

from workbench.errors import ModelError, UnsupportedError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .base import ModelArtifact
    from .variants import PrecisionVariant

INT8 = "int8"
MIXED = "mixed"

# ---- ONNX Runtime: operator types of the optimised graph -----------------------------------------------------------
#: Operators that compute in 8-bit integers (ONNX and ORT contrib domains).
ONNX_INT8_OPS = frozenset(
    {
        "QLinearConv",
        "QLinearMatMul",
        "MatMulInteger",
        "ConvInteger",
        "QGemm",
        "DynamicQuantizeMatMul",
        "MatMulIntegerToFloat",
        "QAttention",
        "QOrderedMatMul",
        "QOrderedAttention",
        "DynamicQuantizeLSTM",
        "QLinearConvTranspose",
    }
)
#: Operators that compute in floating point (what a QDQ pair left unfused runs).
ONNX_FLOAT_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "FusedConv",
        "MatMul",
        "FusedMatMul",
        "Gemm",
        "FusedGemm",
        "Attention",
        "MultiHeadAttention",
        "LSTM",
        "GRU",
        "RNN",
    }
)

#: Operators whose presence in a model file says it was quantized before it reached the workbench (dynamic
#: quantization's ``DynamicQuantizeLinear``/``MatMulInteger``/``ConvInteger``, QOperator's ``QLinear*``, QDQ's
#: ``QuantizeLinear``/``DequantizeLinear`` pairs).
ONNX_QUANTIZATION_OPS = ONNX_INT8_OPS | {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"}


def quantization_ops(op_types: Iterable[str]) -> dict[str, int]:
    """How many of each quantization operator (:data:`ONNX_QUANTIZATION_OPS`) a graph holds; empty for a float
    graph. Pure."""
    counts: dict[str, int] = {}
    for op in op_types:
        if op in ONNX_QUANTIZATION_OPS:
            counts[op] = counts.get(op, 0) + 1
    return dict(sorted(counts.items()))


def onnx_file_quantization(path: str) -> dict[str, Any] | None:
    """``{"ops": {op: count}, "evidence": ...}`` for an ONNX file that is already quantized (its quantization
    operators), None for a float file or one that cannot be read here (the engine's own load says why)."""
    try:
        ops = quantization_ops(onnx_graph_ops(path))
    except Exception:  # noqa: BLE001 - advisory: the engine reads the file itself and reports its own error
        return None
    if not ops:
        return None
    return {"ops": ops, "evidence": "quantization operators in the model file"}


def describe_ops(ops: Mapping[str, int]) -> str:
    """``2 MatMulInteger, 1 ConvInteger`` (most frequent first)."""
    return ", ".join(f"{n} {op}" for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))


# ---- OpenVINO: layer types of the runtime (executed) graph --------------------------------------------------------
OPENVINO_COMPUTE_LAYERS = frozenset(
    {
        "Convolution",
        "GroupConvolution",
        "Deconvolution",
        "FullyConnected",
        "MatMul",
        "Gemm",
        "ScaledDotProductAttention",
    }
)
_OV_PRECISIONS = {
    "i8": INT8,
    "u8": INT8,
    "f32": "fp32",
    "bf16": "bf16",
    "f16": "fp16",
    "fp32": "fp32",
    "fp16": "fp16",
}


def census_precision(counts: Mapping[str, int], otherwise: str) -> str:
    """``int8`` when every counted compute layer is int8, ``mixed`` when some are, else ``otherwise`` (the
    float precision the engine reports). ``counts`` maps a precision (``int8``, ``fp32``, ``bf16``, ...) to how
    many compute layers executed in it; no compute layers at all gives ``otherwise``. Pure."""
    total = sum(counts.values())
    int8 = counts.get(INT8, 0)
    if total and int8 == total:
        return INT8
    if int8:
        return MIXED
    floats = {p for p, n in counts.items() if n and p != INT8}
    if len(floats) > 1:
        return MIXED  # e.g. some layers bf16, some fp32
    return otherwise


def int8_share(counts: Mapping[str, int]) -> float | None:
    """The fraction of compute layers that ran int8 (None without compute layers). Pure."""
    total = sum(counts.values())
    return counts.get(INT8, 0) / total if total else None


def census_extra(counts: Mapping[str, int], evidence: str) -> dict[str, Any]:
    """What a result records about the count: ``compute_layers`` by precision, ``int8_share``, and where the
    evidence came from (``precision_evidence``)."""
    return {
        "compute_layers": dict(sorted(counts.items())),
        "int8_share": int8_share(counts),
        "precision_evidence": evidence,
    }


def onnx_census(op_types: Iterable[str]) -> dict[str, int]:
    """Compute-layer counts of an (optimised) ONNX graph from its nodes' operator types. Pure."""
    counts: dict[str, int] = {}
    for op in op_types:
        if op in ONNX_INT8_OPS:
            counts[INT8] = counts.get(INT8, 0) + 1
        elif op in ONNX_FLOAT_OPS:
            counts["fp32"] = counts.get("fp32", 0) + 1
    return counts


def onnx_graph_ops(path: str) -> list[str]:
    """Operator types of every node of the ONNX file at ``path`` (weights not loaded)."""
    import onnx

    model = onnx.load(path, load_external_data=False)
    return [n.op_type for n in model.graph.node]


def openvino_census(layers: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Compute-layer counts from ``(layerType, runtimePrecision)`` pairs of OpenVINO's runtime model. Pure."""
    counts: dict[str, int] = {}
    for layer_type, runtime_precision in layers:
        if layer_type not in OPENVINO_COMPUTE_LAYERS:
            continue
        key = _OV_PRECISIONS.get(runtime_precision.lower(), runtime_precision.lower())
        counts[key] = counts.get(key, 0) + 1
    return counts


def openvino_runtime_layers(compiled: Any) -> list[tuple[str, str]]:
    """``(layerType, runtimePrecision)`` of every node OpenVINO executes for the compiled model."""
    out = []
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info["layerType"].astype(str) if "layerType" in info else ""
        precision = info["runtimePrecision"].astype(str) if "runtimePrecision" in info else ""
        out.append((layer, precision))
    return out


# ---- prepared files ---------------------------------------------------------------------------------------------
def variant_file(artifact: "ModelArtifact", precision: str, fmt: str, engine: str) -> tuple[str, "PrecisionVariant"]:
    """The ``precision`` model file of format ``fmt`` that model preparation made, and its variant.

    Raises ModelError with the preparation's own line when that file could not be made (the op a quantizer
    refused, ...), UnsupportedError when nothing was prepared at ``precision``.
    """
    variant = artifact.variants.get(precision)
    if variant is None:
        raise UnsupportedError(
            f"{engine}: {precision} runs a model quantized by model preparation, and {artifact.name!r} has none; "
            f"'workbench run --precision {precision}' prepares it"
        )
    if fmt in variant.files:
        return variant.files[fmt], variant
    if fmt in variant.errors:
        raise ModelError(variant.errors[fmt])
    made = ", ".join(sorted(variant.files)) or "none"
    raise UnsupportedError(f"{engine}: no {precision} {fmt} model was prepared for {artifact.name!r} (made: {made})")


def refuse_precision(engine: str, precision: str, device: str, can: Iterable[str], why: str = "") -> UnsupportedError:
    """The one line for a precision ``engine`` cannot run on ``device``: what it can run there instead."""
    reason = f" ({why})" if why else ""
    return UnsupportedError(
        f"{engine} cannot run {precision} on {device}{reason}; on {device} it runs {', '.join(can) or 'nothing'}"
    )


def openvino_precision(compiled: Any, hinted: str) -> tuple[str, dict[str, Any]]:
    """The precision OpenVINO executed: int8/mixed when compute layers of the runtime model run i8/u8, else the
    precision of its ``INFERENCE_PRECISION_HINT`` (``hinted``); with the layer counts for the record."""
    try:
        layers = openvino_runtime_layers(compiled)
    except (RuntimeError, AttributeError, KeyError) as exc:  # a plugin without a runtime model: the hint stands
        return hinted, {"precision_evidence": f"INFERENCE_PRECISION_HINT only (no runtime model: {exc})"}
    counts = openvino_census(layers)
    extra = census_extra(counts, "OpenVINO runtime model (runtimePrecision of the executed compute layers)")
    return (census_precision(counts, hinted) if counts.get(INT8) else hinted), extra
