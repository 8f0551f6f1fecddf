"""The one speedup rule, shared by the runner, the CLI and the UI.

Whether a speedup is beyond run-to-run variation (:func:`speedup_test`, :func:`attach_intervals`) is the verdict
rule of :mod:`workbench.stats.verdict`: the engines of a run are separate processes measured one after another, so
their ratio moves like a ratio between two runs — paired over the interleaved rounds when there are several. A
ratio inside that spread is shown as ``≈1.03×``.

A ratio against the baseline is shown *as a speedup* only when both engines ran and both passed the parity check
(they computed the same function). Latency mode: baseline p50 ÷ engine p50. Throughput mode: engine items/s ÷
baseline items/s. Otherwise the value is None and the note says why; the ratio itself is kept at the start of the
note (``"1.52× ratio of medians, not a speedup: parity failed for onnxruntime"``) and :func:`unshown_ratio` reads
it back, so tables can show it in parentheses, labelled, without computing it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from workbench.units import as_float, ratio

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


# ----------------------------------------------------------------------------------- beyond run-to-run variation


def _side_of(d: Mapping[str, Any], mode: str) -> Any:
    from workbench.stats.verdict import Side

    key = "throughput" if mode == "throughput" else "p50"
    value = as_float(d.get("throughput")) if key == "throughput" else as_float((d.get("latency_ms") or {}).get("p50"))
    reps = tuple(
        v
        for v in (as_float(rep.get(key)) if isinstance(rep, Mapping) else None for rep in d.get("repeats") or [])
        if v is not None
    )
    side = Side(value, reps)
    return side.inverted() if key == "throughput" else side  # slower/faster alike: test the time per item


def speedup_test(
    r: "EngineResult", base: Mapping[str, Any], mode: str, entries: Sequence[Mapping[str, Any]] | None, model: str
) -> Any:
    """The :class:`~workbench.stats.verdict.RatioTest` of ``r``'s speed over ``base``'s (a result dict:
    ``to_dict()`` or an ``fp32_baseline`` summary), measured in the same run: its ratio is the speedup (base p50 /
    p50, or items/s over the baseline's) and its interval that speedup's. ``entries``: the machine's stored A/A
    spreads."""
    from workbench.stats.verdict import paired_test, result_key, spread_for

    metric = "throughput" if mode == "throughput" else "p50"
    spread = spread_for(entries, metric, result_key(r, model))
    return paired_test(_side_of(r.to_dict(), mode), _side_of(base, mode), spread)


def attach_intervals(
    results: Sequence["EngineResult"], baseline: str | None, mode: str, entries: Sequence[Mapping[str, Any]] | None
) -> None:
    """Give each shown speedup (over the run's baseline, and over fp32) its interval and whether it is beyond
    run-to-run variation (``speedup_ci``, ``speedup_significant``, ``speedup_basis``; ``speedup_vs_fp32_*``)."""
    base = next((r for r in results if r.engine == baseline and r.ok), None)
    for r in results:
        model = r.model
        if r.speedup is not None and base is not None and r is not base and r.engine != base.engine:
            t = speedup_test(r, base.to_dict(), mode, entries, model)
            if t.ci:
                r.speedup_ci = [t.ci[0], t.ci[1]]
                r.speedup_significant = t.beyond_noise
                r.speedup_basis = t.sentence()
        fp32 = r.fp32_baseline
        if r.speedup_vs_fp32 is not None and isinstance(fp32, Mapping):
            t = speedup_test(r, fp32, mode, entries, model)
            if t.ci:
                r.speedup_vs_fp32_ci = [t.ci[0], t.ci[1]]
                r.speedup_vs_fp32_significant = t.beyond_noise


def speedup_text(value: float | None, significant: bool | None) -> str:
    """``"1.52×"``, or ``"≈1.03×"`` when the ratio is inside the run-to-run spread (``significant`` False)."""
    if value is None:
        return ratio(value)
    return f"≈{ratio(value)}" if significant is False else ratio(value)


def interval_detail(ci: Sequence[float] | None, significant: bool | None, basis: str | None) -> str:
    """What follows a shown speedup: ``(99% CI 1.31–1.76×; paired over 3 interleaved rounds)``, and ``— within
    run-to-run variation: no real difference`` when it is inside the spread. The run's notes and the UI's detail
    say the same."""
    from workbench.stats.verdict import interval_text

    within = " — within run-to-run variation: no real difference" if significant is False else ""
    return f"({interval_text(ci)}; {basis or 'run-to-run spread'}){within}"
