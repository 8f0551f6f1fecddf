"""Text and Markdown for comparisons and CI gates (the statistics live in :mod:`workbench.stats.compare`).

* :func:`render_comparison` — the report ``workbench compare A B`` prints (Markdown tables; fine in a terminal).
* :func:`gate_markdown` — the short summary ``workbench compare … --fail-above PCT`` prints for CI.
* :func:`gate_report` — :func:`~workbench.stats.compare.gate` plus :func:`gate_markdown`: ``(exit_code, markdown)``.

Numbers are formatted by :mod:`workbench.units`.
"""

from __future__ import annotations

from typing import Any

from workbench.stats.compare import METRICS, Comparison, GateResult, Verdict, gate, p_text
from workbench.stats.verdict import spreads_sentence
from workbench.units import MISSING, ms, p_value, percent, rate, ratio

__all__ = ["render_comparison", "gate_markdown", "gate_report", "metric_value"]


def metric_value(metric: str, v: float | None) -> str:
    """A metric's value with its unit: ``"2.000 ms"`` for latencies, ``"500.0/s"`` for throughput."""
    if v is None:
        return MISSING
    if metric == "throughput":
        return rate(v, "/s")
    return f"{ms(v)} ms"


def ci_text(v: Verdict | None) -> str:
    """A verdict's interval of the change: ``"-19.0% … +15.2%"``, or — ."""
    if v is None or not v.ci_pct:
        return MISSING
    return f"{percent(v.ci_pct[0], signed=True)} … {percent(v.ci_pct[1], signed=True)}"


def mismatch_lines(c: Comparison) -> list[str]:
    """The first lines of every comparison report: what is not like for like (empty when nothing)."""
    return [f"⚠ not like for like: {m}" for m in c.mismatches]


def basis_lines(verdicts: list[Verdict], hint: str = "") -> list[str]:
    """``Verdicts rest on: one run each; run-to-run spread here p50 ±5.1 %, p99 ±16.2 % (assumed: …)`` — one line
    per distinct basis, naming the metrics judged on it."""
    groups: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        if v.basis:
            groups.setdefault(v.basis, {})[v.metric] = v.spread
    return [f"Verdicts rest on: {spreads_sentence(b, sp, hint)}." for b, sp in groups.items()]


def aa_hint(c: Comparison) -> str:
    """The command that measures this machine's spread for the compared model."""
    engines = ",".join(dict.fromkeys(p.engine for p in c.pairs))
    return f"`workbench doctor --aa -m {c.candidate_model or 'MODEL'}{' -e ' + engines if engines else ''}` measures it"


def rule_line(c: Comparison) -> str:
    return (
        f"A change is called faster/slower only when it is beyond run-to-run variation (p < {c.alpha:g}, "
        f"{100 * (1 - c.alpha):g}% interval excludes no change) and at least {c.practical_pct:g}%; "
        "docs/methodology.md has the rule and this machine's A/A figures."
    )


def gate_markdown(c: Comparison, result: GateResult) -> str:
    """The Markdown summary of a gate: what is not like for like, headline, one row per paired engine, the basis
    of the verdicts, regressions and warnings."""
    metric = result.metric
    lines = [
        f"### workbench gate: {result.head} — {metric}, fail above {result.threshold_pct:g}%",
        "",
        *[f"**{m}**" for m in mismatch_lines(c)],
        *([""] if c.mismatches else []),
        f"baseline `{c.baseline_id}` ({c.baseline_created}) → candidate `{c.candidate_id}` ({c.candidate_created})"
        + (f", model {c.candidate_model}" if c.candidate_model else ""),
        "",
    ]
    rows = result.rows
    if rows:
        lines.append(
            f"| engine | baseline {metric} | candidate {metric} | change | {100 * (1 - c.alpha):g}% CI | verdict | gate |"
        )
        lines.append("|---|---:|---:|---:|---:|---|---|")
        for row in rows:
            d, v = row.delta, row.verdict
            lines.append(
                f"| {row.pair.label} | {metric_value(metric, d.baseline)} | {metric_value(metric, d.candidate)} | "
                f"{percent(d.change_pct, signed=True)} | {ci_text(v)} | {v.verdict} | {row.status} |"
            )
        lines.append("")
        lines.extend(basis_lines([row.verdict for row in rows], aa_hint(c)))
        lines.append(rule_line(c))
    else:
        lines.append("No engine appears in both runs: nothing was compared.")
    if result.failures:
        lines.append("")
        lines.append("Regressions:")
        lines.extend(f"- {f}" for f in result.failures)
    warns = [w["message"] for w in c.warnings] + [
        w["message"] for row in rows for w in row.pair.warnings if w["code"] != "engine_failed"
    ]
    warns = [w for w in dict.fromkeys(warns) if w not in c.mismatches]
    if warns:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"- {w}" for w in warns)
    return "\n".join(lines) + "\n"


def gate_report(c: Comparison, fail_above_pct: float, metric: str | None = None) -> tuple[int, str]:
    """``(exit_code, markdown_summary)`` of :func:`~workbench.stats.compare.gate` on ``c``."""
    result = gate(c, fail_above_pct, metric)
    return result.exit_code, gate_markdown(c, result)


def render_comparison(c: Comparison) -> str:
    """A readable report of a comparison (Markdown tables; also fine in a terminal)."""
    lines = [*mismatch_lines(c), *([""] if c.mismatches else [])]
    lines += [
        f"baseline  `{c.baseline_id}` {c.baseline_created} {c.baseline_model}",
        f"candidate `{c.candidate_id}` {c.candidate_created} {c.candidate_model}",
        "",
    ]
    if not c.pairs:
        lines.append("No engine appears in both runs: nothing to compare.")
    ci_head = f"{100 * (1 - c.alpha):g}% CI"
    for p in c.pairs:
        head = p.verdicts[c.metric]
        lines.append(
            f"#### {p.label}: {head.verdict} on {c.metric}"
            + (
                f" ({percent(head.change_pct, signed=True)}, {ci_head} {ci_text(head)}, {p_text(head.p_value)})"
                if head.p_value is not None
                else ""
            )
        )
        lines.append("")
        lines.append(f"| metric | baseline | candidate | change | ratio | {ci_head} | p | verdict |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|---|")
        for m in METRICS:
            d = p.deltas[m]
            v = p.verdicts.get(m)
            lines.append(
                f"| {m} | {metric_value(m, d.baseline)} | {metric_value(m, d.candidate)} | "
                f"{percent(d.change_pct, signed=True)} | {ratio(d.ratio)} | {ci_text(v) if v else ''} | "
                f"{p_value(v.p_value) if v else ''} | {v.verdict if v else ''} |"
            )
        lines.append("")
        lines.extend(f"- {b}" for b in basis_lines(list(p.verdicts.values()), aa_hint(c)))
        lines.extend(f"- {m}: {v.note}" for m, v in p.verdicts.items() if v.note)
        for w in p.warnings:
            if w["message"] not in c.mismatches:
                lines.append(f"- warning `{w['code']}`: {w['message']}")
        lines.append("")
    lines.append(rule_line(c))
    rest = [w for w in c.warnings if w["message"] not in c.mismatches]
    if rest:
        lines.append("")
        lines.append("Warnings:")
        lines.extend(f"- `{w['code']}` {w['message']}" for w in rest)
    return "\n".join(lines) + "\n"
