"""Below fp32 in one run: the fp32 baseline of each engine, the drift inputs, and what lands in the result.

When a run asks for bf16, fp16 or int8, the runner measures every engine twice — at that precision and at fp32
(``"<engine> fp32"``, the *baseline variant*: same process settings, interleaved in the same rounds) — so the
result can say, per engine, the speedup over the **same engine's** fp32 and the drift of its outputs against fp32
on several seeded inputs (:mod:`workbench.stats.drift`). The lower precision's row stays the engine's row (history,
compare and exports key results by engine); the fp32 run is summarised inside it (``fp32_baseline``).

Also here: the int8 preparation request (which engines quantize, with which options, on what calibration) and the
run-level checks of the precision flags. Pure helpers over plain data; the runner does the process work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from workbench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from workbench.result import EngineResult

FP32 = "fp32"
#: Seeded inputs the drift is measured on, unless ``--drift-samples`` says otherwise.
DEFAULT_DRIFT_SAMPLES = 8
MAX_DRIFT_SAMPLES = 1000
#: What of the fp32 baseline's result is kept inside the lower precision's result.
BASELINE_KEYS = (
    "status",
    "error",
    "precision_effective",
    "latency_ms",
    "median_ci_ms",
    "throughput",
    "iterations",
    "duration_s",
    "load_ms",
    "first_inference_ms",
    "peak_rss_mb",
    "repeats",  # per round, paired with the lower precision's rounds for the gain's interval
)


def baseline_name(engine: str) -> str:
    """The name of an engine's fp32 baseline variant in events and the live view: ``"torch fp32"``."""
    return f"{engine} {FP32}"


def runs_baseline(precision: str, enabled: bool = True) -> bool:
    """Whether a run at ``precision`` also measures each engine at fp32."""
    return enabled and precision != FP32


def drift_seeds(seed: int, count: int) -> tuple[int, ...]:
    """The seeds of the drift inputs: ``seed, seed + 1, ...`` (the first is the timed input's)."""
    return tuple(seed + i for i in range(count))


def fp32_options(engine_cls: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without those that apply only below fp32 (``onnxruntime.int8_scheme``, ...): the baseline runs
    with everything else the same (``torch.compile`` too)."""
    declared = {o.name: o for o in engine_cls.options}
    return {k: v for k, v in options.items() if k not in declared or declared[k].applies(precision=FP32)}


def check_precision_flags(
    precision: str,
    *,
    calibration_samples: int | None,
    calibration_data: str | None,
    drift_samples: int,
) -> None:
    """Calibration flags apply to int8 only; the drift count is 1..1000. Raises UsageError."""
    if precision != "int8" and (calibration_samples is not None or calibration_data):
        flag = "--calibration-data" if calibration_data else "--calibration-samples"
        raise UsageError(f"{flag} applies to --precision int8 (it calibrates the quantization), not {precision}")
    if precision == "int8":
        from workbench.models.quantize import CalibrationRequest, check_calibration

        check_calibration(CalibrationRequest(samples=calibration_samples, data=calibration_data))
    if not 1 <= drift_samples <= MAX_DRIFT_SAMPLES:
        raise UsageError(f"--drift-samples must be between 1 and {MAX_DRIFT_SAMPLES}, not {drift_samples}")


def quantize_request(engines: Sequence[str], options_for: Any) -> dict[str, dict[str, Any]]:
    """Engine -> its options, for the int8 preparation (``options_for(engine)`` gives a run's options)."""
    return {e: dict(options_for(e)) for e in engines}


def baseline_summary(result: "EngineResult") -> dict[str, Any]:
    """The fp32 baseline's result, reduced to :data:`BASELINE_KEYS`."""
    d = result.to_dict()
    return {k: d.get(k) for k in BASELINE_KEYS}


def attach_baseline(
    result: "EngineResult",
    baseline: "EngineResult | None",
    *,
    baseline_outputs: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
    mode: str,
    task: str,
    drift_error: str | None = None,
) -> None:
    """Fill ``result``'s ``fp32_baseline``, ``drift`` and ``speedup_vs_fp32`` from its fp32 ``baseline`` run."""
    from workbench.stats.drift import ERROR, Drift, drift
    from workbench.stats.speedup import speedup_over_fp32

    if baseline is None:
        return
    result.fp32_baseline = baseline_summary(baseline)
    if result.ok and baseline.ok:
        precision = result.precision_requested
        if drift_error is not None:
            result.drift = Drift(ERROR, precision, 0, message=drift_error).to_dict()
        else:
            result.drift = drift(baseline_outputs, outputs, precision=precision, task=task).to_dict()
    result.speedup_vs_fp32, result.speedup_vs_fp32_note = speedup_over_fp32(
        result, result.fp32_baseline, mode, result.drift
    )


def promote_quantization(result: "EngineResult") -> None:
    """Move the adapter's report of how the model was quantized (``effective.extra.quantization``) to the
    result's own ``quantization`` field."""
    extra = (result.effective or {}).get("extra") or {}
    if "quantization" in extra:
        result.quantization = extra.pop("quantization")


def mismatch_message(engine: str, requested: str, effective: str, extra: Mapping[str, Any] | None) -> str:
    """The precision-mismatch warning: what was asked, what ran, and for ``mixed`` the int8 share."""
    share = (extra or {}).get("int8_share")
    if effective == "mixed" and isinstance(share, (int, float)):
        layers = (extra or {}).get("compute_layers") or {}
        return (
            f"requested {requested} but {engine} ran mixed precision: {share:.0%} of its compute layers in int8 "
            f"({', '.join(f'{n} {p}' for p, n in layers.items())})"
        )
    return f"requested {requested} but {engine} ran {effective} (the engine or this CPU does not support {requested})"


def quantized_file_message(
    engine: str, requested: str, effective: str | None, extra: Mapping[str, Any] | None
) -> str | None:
    """For a model file that was quantized before it came here (``extra["quantized_file"]``, its quantization
    operators): what the engine really ran with it — int8 or mixed (with the int8 share of its compute layers), or
    its compute layers in floating point (the engine dequantized the weights: no int8 kernels ran). None for a
    float file."""
    quantized = (extra or {}).get("quantized_file")
    if not isinstance(quantized, Mapping) or not quantized.get("ops"):
        return None
    from workbench_engines.precision import describe_ops

    ops = describe_ops(quantized["ops"])
    share = (extra or {}).get("int8_share")
    layers = (extra or {}).get("compute_layers") or {}
    counted = ", ".join(f"{n} {p}" for p, n in layers.items())
    if effective in ("int8", "mixed"):
        part = f"{share:.0%} of its compute layers" if isinstance(share, (int, float)) else "its compute layers"
        return (
            f"the file is already quantized ({ops}): {engine} ran {effective}, {part} in int8"
            + (f" ({counted})" if counted and effective == "mixed" else "")
            + (f", not the {requested} requested" if requested != effective else "")
        )
    return (
        f"the file is quantized ({ops}) but {engine} ran its compute layers in {effective or 'floating point'}"
        + (f" ({counted})" if counted else "")
        + ": it dequantizes the weights, no int8 kernels ran"
    )
