"""The below-fp32 table: each engine at the lower precision against the same engine's fp32 in the same run.

``workbench run --precision int8`` (or bf16/fp16) measures every engine twice (:mod:`workbench.measure.precision`);
the main table shows the lower precision, this one what it bought and what it cost: the precision the engine
really ran, fp32 and lower-precision latency (throughput in throughput mode), the speedup over fp32 — a ratio in
parentheses when the drift is over the tolerance (then it is not a speedup) — and the drift of the outputs
against fp32 on the seeded drift inputs (relative L2, max abs, top-1 agreement over the items whose fp32 top-1 is
decisive — ``n/a`` where every one is a near-tie, :mod:`workbench.report.parity` — within/over the tolerance).
Numbers go through :mod:`workbench.units`. Pure: records in, text out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from workbench.report.parity import top1_cell, top1_note, top1_text
from workbench.units import MISSING, ms, rate, significant

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult, RunRecord


def has_baselines(record: "RunRecord") -> bool:
    """Whether any result carries an fp32 baseline (a run below fp32)."""
    return any(r.fp32_baseline for r in record.results)


def speed_cell(r: "EngineResult") -> str:
    """``3.31×``; ``(3.31×)`` for a ratio not shown as a speedup (drift over the tolerance); — without one."""
    from workbench.report.columns import speedup_cell

    return speedup_cell(r.speedup_vs_fp32, r.speedup_vs_fp32_note, r.speedup_vs_fp32_significant)


def drift_cells(drift: Mapping[str, Any] | None) -> list[str]:
    """``[rel L2, max abs, top-1, status]`` of a drift record (— where absent; top-1 ``n/a`` where every item's
    fp32 top-1 is a near-tie, ``100% 3/8`` where 5 of 8 were and are left out)."""
    d = drift or {}
    return [
        significant(d.get("rel_l2")),
        significant(d.get("max_abs")),
        top1_cell(d),
        str(d.get("status") or MISSING),
    ]


def precision_rows(record: "RunRecord") -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the below-fp32 table (one row per engine that ran a lower precision)."""
    mode = record.config.get("mode") or "latency"
    low = record.config.get("precision") or "low"
    metric = "items/s" if mode == "throughput" else "p50 ms"
    headers = ["engine", "ran", f"fp32 {metric}", f"{low} {metric}", "vs fp32", "drift L2", "max abs", "top-1", "drift"]
    rows = []
    for r in record.results:
        base = r.fp32_baseline
        if not base:
            continue
        if not r.ok:
            rows.append([r.engine, MISSING, MISSING, MISSING, MISSING, *drift_cells(None)])
            continue
        if mode == "throughput":
            before, after = rate(base.get("throughput")), rate(r.throughput)
        else:
            before, after = ms((base.get("latency_ms") or {}).get("p50")), ms((r.latency_ms or {}).get("p50"))
        if base.get("status") != "ok":
            before = "FAILED"
        rows.append([r.engine, r.precision_effective or "?", before, after, speed_cell(r), *drift_cells(r.drift)])
    return headers, rows


def precision_notes(record: "RunRecord") -> list[str]:
    """One line per engine on how its lower precision was made and what the ratio or drift means."""
    notes = []
    for r in record.results:
        made = quantization_text(r.quantization)
        if made:
            notes.append(f"  {r.engine}: int8 by {made}")
        if r.speedup_vs_fp32_note:
            notes.append(f"  {r.engine}: vs fp32 {r.speedup_vs_fp32_note}")
        elif r.speedup_vs_fp32 is not None and r.speedup_vs_fp32 < 1.0:
            low = r.precision_requested
            notes.append(f"  {r.engine}: {low} is slower than fp32 here ({speed_cell(r)}): no speedup on this machine")
        base = r.fp32_baseline or {}
        if base and base.get("status") != "ok":
            notes.append(f"  {r.engine}: fp32 baseline failed: {base.get('error')}")
        d = r.drift or {}
        if d.get("status") == "error" and d.get("message"):
            notes.append(f"  {r.engine}: drift not measured: {d['message']}")
        elif top1_note(d):
            notes.append(f"  {r.engine}: drift {top1_note(d)}")
    return notes


def render_precision(record: "RunRecord") -> str | None:
    """The below-fp32 table with its heading and notes, or None for a run without fp32 baselines."""
    if not has_baselines(record):
        return None
    from workbench.report.text import table

    headers, rows = precision_rows(record)
    drift = next((r.drift for r in record.results if r.drift), None) or {}
    low = record.config.get("precision")
    tol = f", tolerance {significant(drift.get('tolerance'))}" if drift.get("tolerance") else ""
    samples = f"on {drift.get('samples')} seeded inputs" if drift.get("samples") else "on seeded inputs"
    lines = [f"{low} against each engine's own fp32 (same run; drift {samples}{tol}):", table(headers, rows)]
    notes = precision_notes(record)
    if notes:
        lines += notes
    return "\n".join(lines)


def quantization_text(q: Mapping[str, Any] | None) -> str | None:
    """How an int8 model was made, in words: ``FX graph mode (torch.ao, x86), deprecated upstream; 10 synthetic
    calibration samples``."""
    if not q:
        return None
    labels = {
        "fx": "FX graph mode (torch.ao, x86)",
        "dynamic": "dynamic quantization of Linear layers (torch.ao)",
        "pt2e": "PT2E (torchao X86InductorQuantizer, Inductor)",
    }
    made = labels.get(str(q.get("path")), str(q.get("path") or q.get("tool") or "?"))
    if q.get("scheme"):
        made += f" {str(q['scheme']).upper()}"
    if q.get("fallback"):
        made += f" — {q['fallback']}"
    if q.get("deprecated"):
        made += ", deprecated upstream"
    cal = q.get("calibration") or {}
    calibrated = q.get("calibrated", q.get("path") != "dynamic")
    if calibrated and cal.get("count"):
        where = f" from {cal['path']}" if cal.get("path") else ""
        made += f"; {cal['count']} {cal.get('source')} calibration samples{where}"
    elif not calibrated:
        made += "; no calibration (dynamic)"
    return made


def precision_summary(r: "EngineResult") -> str | None:
    """One line on a below-fp32 result for the UI's detail pane: the speedup over the same engine's fp32, the
    drift, and how the int8 model was made; None for a result without an fp32 baseline."""
    base = r.fp32_baseline
    if not base:
        return None
    parts = []
    p50, base_p50 = (r.latency_ms or {}).get("p50"), (base.get("latency_ms") or {}).get("p50")
    speed = speed_cell(r)
    parts.append(f"vs fp32 {speed} (p50 {ms(base_p50)} → {ms(p50)} ms)")
    d = r.drift or {}
    if d.get("status") == "error":
        parts.append(f"drift not measured: {d.get('message')}")
    elif d:
        top = top1_text(d)
        rel, tol = d.get("rel_l2"), d.get("tolerance")
        sign = "≤" if isinstance(rel, (int, float)) and isinstance(tol, (int, float)) and rel <= tol else ">"
        parts.append(
            f"drift {d.get('status')}: rel L2 {significant(rel)} {sign} {significant(tol)} "
            f"({d.get('precision')} tolerance, {d.get('samples')} inputs), max |Δ| {significant(d.get('max_abs'))}"
            + (f", {top}" if top else "")
        )
    made = quantization_text(r.quantization)
    if made:
        parts.append(f"int8 by {made}")
    if r.speedup_vs_fp32_note:
        parts.append(r.speedup_vs_fp32_note)
    return " · ".join(parts)
