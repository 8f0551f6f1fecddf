"""The one speedup rule, shared by the runner, the CLI and the UI.

A ratio against the baseline is shown *as a speedup* only when both engines ran and both passed the parity check
(they computed the same function). Latency mode: baseline p50 ÷ engine p50. Throughput mode: engine items/s ÷
baseline items/s. Otherwise the value is None and the note says why; the ratio itself is kept at the start of the
note (``"1.52× ratio of medians, not a speedup: parity failed for onnxruntime"``) and :func:`unshown_ratio` reads
it back, so tables can show it in parentheses, labelled, without computing it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from workbench.units import ratio

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult


def _p50(r: "EngineResult") -> float | None:
    v = (r.latency_ms or {}).get("p50")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def speedup(r: "EngineResult", base: "EngineResult | None", mode: str) -> tuple[float | None, str | None]:
    """``(value, note)`` of ``r`` against ``base``. Pure."""
    if base is None or not base.ok:
        return None, ("baseline failed" if r.ok else None)
    if not r.ok:
        return None, None
    if r is base or r.engine == base.engine:
        return 1.0, "baseline"
    if mode == "throughput":
        value = (r.throughput or 0) / base.throughput if base.throughput else None
    else:
        p_base, p_r = _p50(base), _p50(r)
        value = p_base / p_r if p_base and p_r else None
    from workbench.stats.parity import AGREES  # here: importing this module (the UI does) stays numpy-free

    status = (r.parity or {}).get("status")
    base_status = (base.parity or {}).get("status")
    if status in AGREES and base_status in AGREES:
        return value, None
    failed = [r.engine] if status not in AGREES else []
    if base_status not in AGREES:
        failed.append(f"the baseline {base.engine}")
    worst = status if status not in AGREES else base_status
    which = f"parity {_PARITY_VERB.get(str(worst), str(worst))} for {' and '.join(failed)}"
    if value is None:
        return None, f"not shown: {which}"
    return None, f"{ratio(value)} {RATIO_LABELS.get(mode, RATIO_LABELS['latency'])}, not a speedup: {which}"


#: What a ratio that is not shown as a speedup is, by mode.
RATIO_LABELS = {"latency": "ratio of medians", "throughput": "ratio of throughputs"}
_PARITY_VERB = {"fail": "failed", "error": "could not be checked", "skipped": "was not checked", "None": "is missing"}


def unshown_ratio(note: str | None) -> float | None:
    """The ratio kept at the start of a speedup note that is not shown as a speedup (``"1.52× …"`` → 1.52; older
    records read ``"1.52× not shown as a speedup: …"``); None for any other note."""
    head, sep, _ = (note or "").partition("×")
    if not sep or " " in head.strip():
        return None
    try:
        return float(head)
    except ValueError:
        return None


def speedup_over_fp32(
    r: "EngineResult", fp32: Mapping[str, Any] | None, mode: str, drift: Mapping[str, Any] | None
) -> tuple[float | None, str | None]:
    """``(value, note)`` of a lower-precision result ``r`` over the same engine's fp32 run in the same command
    (``fp32``: that run's summary, :attr:`EngineResult.fp32_baseline`). Same ratio as :func:`speedup` (p50 in
    latency mode, items/s in throughput mode). Shown as a speedup only when the drift against fp32 is within the
    precision's tolerance — a faster but different function is not a speedup; the note keeps the ratio. Pure."""
    if fp32 is None:
        return None, None
    if not r.ok:
        return None, None
    if fp32.get("status") != "ok":
        return None, f"fp32 baseline failed: {fp32.get('error') or 'no measurements'}"
    if mode == "throughput":
        base_t = fp32.get("throughput")
        value = (r.throughput or 0) / base_t if base_t else None
    else:
        p_base = (fp32.get("latency_ms") or {}).get("p50")
        p_r = _p50(r)
        value = p_base / p_r if isinstance(p_base, (int, float)) and p_base > 0 and p_r else None
    status = (drift or {}).get("status")
    if status == "within":
        return value, None
    why = "no drift measured" if drift is None else (drift.get("message") or f"drift {status}")
    if value is None:
        return None, f"not shown: {why}"
    return None, f"{ratio(value)} {RATIO_LABELS.get(mode, RATIO_LABELS['latency'])}, not a speedup: {why}"
