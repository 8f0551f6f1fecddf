"""Text and Markdown for comparisons and CI gates (the statistics live in :mod:`workbench.stats.compare`).

* :func:`render_comparison` — the report ``workbench compare A B`` prints (Markdown tables; fine in a terminal).
* :func:`gate_markdown` — the short summary ``workbench compare … --fail-above PCT`` prints for CI.
* :func:`gate_report` — :func:`~workbench.stats.compare.gate` plus :func:`gate_markdown`: ``(exit_code, markdown)``.

Numbers are formatted by :mod:`workbench.units`.
"""

from __future__ import annotations

from workbench.stats.compare import METRICS, UNTESTED, Comparison, GateResult, gate, p_text
from workbench.units import MISSING, ms, p_value, percent, rate, ratio

__all__ = ["render_comparison", "gate_markdown", "gate_report", "metric_value"]


def metric_value(metric: str, v: float | None) -> str:
    """A metric's value with its unit: ``"2.000 ms"`` for latencies, ``"500.0/s"`` for throughput."""
    if v is None:
        return MISSING
    if metric == "throughput":
        return rate(v, "/s")
    return f"{ms(v)} ms"


def gate_markdown(c: Comparison, result: GateResult) -> str:
    """The Markdown summary of a gate: headline, one row per paired engine, regressions and warnings."""
    metric = result.metric
    lines = [
        f"### workbench gate: {result.head} — {metric}, fail above {result.threshold_pct:g}%",
        "",
        f"baseline `{c.baseline_id}` ({c.baseline_created}) → candidate `{c.candidate_id}` ({c.candidate_created})"
        + (f", model {c.candidate_model}" if c.candidate_model else ""),
        "",
    ]
    rows = result.rows
    if rows:
        lines.append(f"| engine | baseline {metric} | candidate {metric} | change | p | verdict | gate |")
        lines.append("|---|---:|---:|---:|---:|---|---|")
        for row in rows:
            d, v = row.delta, row.verdict
            lines.append(
                f"| {row.pair.label} | {metric_value(metric, d.baseline)} | {metric_value(metric, d.candidate)} | "
                f"{percent(d.change_pct, signed=True)} | {p_value(v.p_value)} | {v.verdict} | {row.status} |"
            )
        lines.append("")
        tests = sorted({row.verdict.test for row in rows if row.verdict.test != "none"})
        if tests:
            lines.append(f"Test: {'; '.join(tests)}; α={c.alpha:g}, practical threshold {c.practical_pct:g}%.")
    else:
        lines.append("No engine appears in both runs: nothing was compared.")
    if result.failures:
        lines.append("")
        lines.append("Regressions:")
        lines.extend(f"- {f}" for f in result.failures)
    notes = [
        row.verdict.note
        for row in rows
        if row.verdict.note and row.verdict.verdict != UNTESTED and "fewer than" in row.verdict.note
    ]
    warns = [w["message"] for w in c.warnings] + [
        w["message"] for row in rows for w in row.pair.warnings if w["code"] != "engine_failed"
    ]
    if warns or notes:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"- {w}" for w in dict.fromkeys(warns + notes))
    return "\n".join(lines) + "\n"


def gate_report(c: Comparison, fail_above_pct: float, metric: str | None = None) -> tuple[int, str]:
    """``(exit_code, markdown_summary)`` of :func:`~workbench.stats.compare.gate` on ``c``."""
    result = gate(c, fail_above_pct, metric)
    return result.exit_code, gate_markdown(c, result)


def render_comparison(c: Comparison) -> str:
    """A readable report of a comparison (Markdown tables; also fine in a terminal)."""
    lines = [
        f"baseline  `{c.baseline_id}` {c.baseline_created} {c.baseline_model}",
        f"candidate `{c.candidate_id}` {c.candidate_created} {c.candidate_model}",
        "",
    ]
    if not c.pairs:
        lines.append("No engine appears in both runs: nothing to compare.")
    for p in c.pairs:
        head = p.verdicts[c.metric]
        lines.append(
            f"#### {p.label}: {head.verdict} on {c.metric}"
            + (
                f" ({percent(head.change_pct, signed=True)}, {p_text(head.p_value)})"
                if head.p_value is not None
                else ""
            )
        )
        lines.append("")
        lines.append("| metric | baseline | candidate | change | ratio | p | verdict |")
        lines.append("|---|---:|---:|---:|---:|---:|---|")
        for m in METRICS:
            d = p.deltas[m]
            v = p.verdicts.get(m)
            lines.append(
                f"| {m} | {metric_value(m, d.baseline)} | {metric_value(m, d.candidate)} | "
                f"{percent(d.change_pct, signed=True)} | {ratio(d.ratio)} | {p_value(v.p_value) if v else ''} | "
                f"{v.verdict if v else ''} |"
            )
        tests = [f"{m}: {v.test}" + (f" — {v.note}" if v.note else "") for m, v in p.verdicts.items()]
        lines.append("")
        lines.extend(f"- {t}" for t in tests)
        for w in p.warnings:
            lines.append(f"- warning `{w['code']}`: {w['message']}")
        lines.append("")
    lines.append(
        f"Verdicts need p < {c.alpha:g} and a change of at least {c.practical_pct:g}% "
        "(a large sample makes tiny shifts 'significant')."
    )
    if c.warnings:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"- `{w['code']}` {w['message']}" for w in c.warnings)
    return "\n".join(lines) + "\n"
