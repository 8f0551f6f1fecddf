"""Rendering the cross-machine comparison (:mod:`workbench.stats.machines`): terminal text for
``workbench compare --by machine`` / ``workbench recommend --across-machines``, and an HTML page/section in the
style of the run report (:mod:`workbench.report.html`).

Pure: a :class:`~workbench.stats.machines.MachineComparison` in, text out; numbers through :mod:`workbench.units`.
"""

from __future__ import annotations

from typing import Any, Mapping

from workbench.report.text import table
from workbench.stats.machines import MachineComparison, Ranking
from workbench.units import MISSING, ms, rate, ratio, significant

__all__ = [
    "cost_chart",
    "cost_html_section",
    "cost_series",
    "render_machines",
    "render_recommendation",
    "machines_html_section",
    "render_machines_html",
]


def _n(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _value(objective_metric: str, v: Any) -> str:
    if v is None:
        return MISSING
    if objective_metric in ("usd_per_million", "j_per_item"):
        return significant(v)
    return rate(v) if objective_metric == "throughput" else ms(v)


def _no_rows(o: Any) -> str:
    """Why an objective ranks no machine."""
    return {
        "cost": "cost: no priced results (a price per hour: `--price-per-hour` when running, or the prices file "
        "prices.json in the config folder, keyed by machine or Slurm partition; docs/methodology.md)",
        "energy": "energy: no results with measured energy (no readable RAPL/NVML counters where they ran)",
    }.get(o.name, f"{o.name}: no successful results")


def _repeats(best: Mapping[str, Any], metric: str) -> str:
    n = best.get("repeats") or 0
    if n < 2:
        return str(n)
    return f"{n} ({_value(metric, best.get('min'))}–{_value(metric, best.get('max'))})"


def vs_best_text(row: dict) -> str:
    """``1.31×`` behind the best; ``≈1.02×`` when that is inside run-to-run variation (a tie)."""
    from workbench.stats.speedup import speedup_text

    return speedup_text(row.get("vs_best"), row.get("vs_best_significant"))


def _ranking_rows(rk: Ranking) -> list[list[str]]:
    metric = rk.objective.metric
    rows = []
    for row in rk.rows:
        best = row["best"]
        spread = row["spread"]
        rows.append(
            [
                row["machine"],
                row["label"],
                ",".join(best.get("hosts") or []) or MISSING,
                _value(metric, best["value"]),
                vs_best_text(row),
                best["config"]["label"],
                str(spread.get("configs") or 0),
                ratio(spread.get("ratio")),
                _repeats(best, metric),
            ]
        )
    return rows


def _headers(rk: Ranking) -> list[str]:
    unit = {"throughput": "items/s", "usd_per_million": "$/M items", "j_per_item": "J/item"}.get(
        rk.objective.metric, "p50 ms"
    )
    return [
        "machine",
        "hardware",
        "nodes",
        f"best {unit}",
        "vs best",
        "best configuration",
        "configs",
        "spread",
        "repeats",
    ]


FRONT = "Pareto front"


def _short(label: str, n: int = 34) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def cost_series(cmp: MachineComparison) -> tuple[dict[str, list[tuple[float, float]]], list[tuple[float, float]]]:
    """The latency × cost plane for a chart: ``({machine label: [(p50 ms, $/M)]}, front)`` — every priced
    configuration per machine (its median), and the front's points in latency order. Both empty without prices."""
    per: dict[str, list[tuple[float, float]]] = {}
    for p in cmp.cost_points():
        name = _short(f"{p['label']} [{p['machine']}]")
        per.setdefault(name, []).append((float(p["p50_ms"]), float(p["usd_per_million"])))
    front = sorted((float(f["p50_ms"]), float(f["usd_per_million"])) for f in cmp.cost_front())
    return per, front


def cost_chart(cmp: MachineComparison) -> str:
    """The latency × cost plane as a plotext chart for the terminal: p50 ms on x, $ per million items on y, each
    machine's configurations its own marker (named in the legend), the front's points joined by a line. ``""`` without prices."""
    from workbench.report.textchart import CHART_HEIGHT, line_chart

    per, front = cost_series(cmp)
    if not front:
        return ""
    return line_chart(
        "$ per million items vs p50 latency (front joined)",
        {FRONT: front},
        "p50 ms per call",
        "$/M items",
        height=CHART_HEIGHT + len(per),  # the legend names every machine
        scatter=per,
        data_ticks=False,
        scatter_last=True,  # each point keeps its machine's marker; the front's line joins them
    )


def render_machines(cmp: MachineComparison) -> str:
    """Per objective, the machines ranked by their best configuration, with the spread within each machine
    (worst configuration ÷ best) and across machines; then what each machine is."""
    if not cmp.machines:
        return f"no stored results of model {cmp.model!r}" if cmp.model else "no stored results"
    what = f"{cmp.model} · " if cmp.model else ""
    out = [
        f"{what}{_n(len(cmp.machines), 'machine')} · {_n(cmp.records, 'stored run')} (runs and sweeps) · "
        f"{_n(cmp.results, 'result')}",
    ]
    for rk in cmp.rankings.values():
        o = rk.objective
        out.append("")
        if not rk.rows:
            out.append(_no_rows(o))
            continue
        win = rk.winner or {}
        spread = rk.spread()
        out.append(
            f"{o.name} ({o.description}) — best: {win.get('label')} with {win['best']['config']['label']}, "
            f"{_value(o.metric, win['best']['value'])} {o.unit}"
            + (f"; the slowest machine's best is {ratio(spread)} worse" if spread else "")
        )
        out.append(table(_headers(rk), _ranking_rows(rk), align="lllrrlrrl"))
    front = cmp.cost_front() if "cost" in cmp.rankings else []
    if front:
        out.append("")
        out.append(
            "latency × cost: the (machine, configuration) pairs no other beats on both p50 and $ per million items"
        )
        out.append(
            table(
                ["machine", "hardware", "configuration", "p50 ms", "$/M items"],
                [
                    [f["machine"], f["label"], f["config"]["label"], ms(f["p50_ms"]), significant(f["usd_per_million"])]
                    for f in front
                ],
                align="lllrr",
            )
        )
        chart = cost_chart(cmp)
        if chart:
            out += ["", chart]
    out.append("")
    out.append("machines (grouped by CPU model, ISA flags, cores, memory; kernel and engine versions may differ):")
    for m in cmp.machines:
        fp = ", ".join(sorted(m.fingerprints)) or MISSING
        extra = []
        if m.failed:
            extra.append(f"{m.failed} failed results")
        if m.excluded_parity:
            extra.append(f"{m.excluded_parity} left out: outputs did not match the reference")
        isa = " ".join(m.fields.get("isa") or []) or MISSING
        out.append(
            f"  {m.key}  {m.label}\n      ISA: {isa}; fingerprints: {fp}; nodes: {', '.join(sorted(m.hosts)) or MISSING}; "
            f"runs: {len(m.run_ids)}" + (f"; {'; '.join(extra)}" if extra else "")
        )
    out.append(
        "\nspread: worst configuration ÷ best on that machine (how much the settings matter there); "
        "vs best: that machine's best against the best machine's (≈: inside run-to-run variation, a tie — "
        "docs/methodology.md); repeats: measurements of the best configuration (median shown, min–max in brackets)"
    )
    return "\n".join(out)


def render_recommendation(cmp: MachineComparison) -> str:
    """The answer first: per objective the best node type and its configuration, then every machine's best."""
    if not cmp.machines:
        return f"no stored results of model {cmp.model!r} to recommend from" if cmp.model else "no stored results"
    out = [
        f"{cmp.model}: the best machine per objective, from {_n(cmp.records, 'stored run')} on {_n(len(cmp.machines), 'machine')}"
    ]
    for rk in cmp.rankings.values():
        o = rk.objective
        win = rk.winner
        if win is None:
            out.append(f"  {_no_rows(o)}")
            continue
        spread = rk.spread()
        out.append(
            f"  {o.name}: {win['label']} [{win['machine']}] — {win['best']['config']['label']}, "
            f"{_value(o.metric, win['best']['value'])} {o.unit}"
            + (f" (machines differ up to {ratio(spread)})" if spread else "")
        )
        for row in rk.rows[1:]:
            out.append(
                f"      then {row['label']} [{row['machine']}] — {row['best']['config']['label']}, "
                f"{_value(o.metric, row['best']['value'])} {o.unit} "
                + (
                    f"({vs_best_text(row)}: a tie, inside run-to-run variation)"
                    if row.get("vs_best_significant") is False
                    else f"({ratio(row.get('vs_best'))} worse)"
                )
            )
    return "\n".join(out)


def machines_html_section(cmp: MachineComparison) -> str:
    """One ``<section>`` per objective (table + bar chart of each machine's best), for any HTML page."""
    from workbench.report.html import bar_chart_svg, html_table, section

    parts = []
    for rk in cmp.rankings.values():
        o = rk.objective
        if not rk.rows:
            continue
        rows = _ranking_rows(rk)
        labels = [f"{r['label'][:40]}" for r in rk.rows]
        chart = bar_chart_svg(
            labels,
            {f"best {o.unit}": [r["best"]["value"] for r in rk.rows]},
            f"{o.name}: each machine's best configuration",
            unit=o.unit,
            label_width=260,
            width=760,
        )
        headers = _headers(rk)
        numeric = [
            h in ("vs best", "configs", "spread") or h.startswith("best ") and "configuration" not in h for h in headers
        ]
        parts.append(
            section(
                f"{o.name.capitalize()} across machines — {o.description}", html_table(headers, rows, numeric), chart
            )
        )
    if "cost" in cmp.rankings:
        parts.append(cost_html_section(cmp))
    return "\n".join(p for p in parts if p)


def cost_html_section(cmp: MachineComparison) -> str:
    """The latency × cost Pareto front as a ``<section>``: every priced (machine, configuration) on the p50 × $/M
    plane, the front highlighted, joined and labelled with its machines, and the front's table. ``""`` without
    prices."""
    from workbench.report.html import html_table, pareto_svg, section

    front = cmp.cost_front()
    if not front:
        return ""

    def point(p: Mapping[str, Any]) -> tuple[float, float, str]:
        return (p["p50_ms"], p["usd_per_million"], f"{p['label']} [{p['machine']}] · {p['config']['label']}")

    svg = pareto_svg(
        [point(p) for p in cmp.cost_points()],
        [point(f) for f in front],
        title="$ per million items vs p50 latency: the Pareto front",
        y_label="$/M items",
        other="other configurations",
        label_front=True,
    )
    table = html_table(
        ["machine", "hardware", "configuration", "p50 ms", "$/M items"],
        [
            [f["machine"], f["label"], f["config"]["label"], ms(f["p50_ms"]), significant(f["usd_per_million"])]
            for f in front
        ],
        [False, False, False, True, True],
    )
    return section(
        "Latency × cost: the Pareto front",
        '<p class="muted">Every priced (machine, configuration); the front is the pairs no other beats on both p50 '
        "latency per call and dollars per million items.</p>",
        f"<figure>{svg}</figure>",
        table,
    )


def render_machines_html(cmp: MachineComparison) -> str:
    """A self-contained page: the rankings per objective and the machines."""
    from workbench.report.html import document, html_table, section

    machines = html_table(
        ["machine", "hardware", "ISA", "fingerprints", "nodes", "runs"],
        [
            [
                m.key,
                m.label,
                " ".join(m.fields.get("isa") or []) or MISSING,
                ", ".join(sorted(m.fingerprints)) or MISSING,
                ", ".join(sorted(m.hosts)) or MISSING,
                str(len(m.run_ids)),
            ]
            for m in cmp.machines
        ],
        [False, False, False, False, False, True],
    )
    body = [machines_html_section(cmp), section("Machines", machines)]
    return document(
        f"{cmp.model or 'all models'} across machines",
        body,
        subtitle=f"{_n(len(cmp.machines), 'machine')} · {_n(cmp.records, 'stored run')} · {_n(cmp.results, 'result')}",
    )
