"""The HTML report of a sweep: ``workbench report SWEEP --html FILE`` (through :func:`workbench.report.html.render_html`).

Machine, configuration (the spec), the cell table with every failure's error, thread scaling, batch scaling,
precision gain, the memory-bounded batch search, the sparsity study and the p50/throughput Pareto front — the
sections of :mod:`workbench.report.sweep`'s terminal report, with the row builders shared, drawn with the page
shell and the inline SVG charts of :mod:`workbench.report.html`. Pure: a record in, one document out.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from workbench.machine.spread import for_records
from workbench.report import sweep as sw
from workbench.report.html import (
    _e,
    _figures,
    _kv,
    _label_px,
    _note_list,
    _system,
    bar_chart_svg,
    document,
    html_table,
    line_chart_svg,
    pareto_svg,
    section,
)
from workbench.result import RunRecord
from workbench.stats.scaling import Cell, SweepAnalysis, analyse
from workbench.units import MISSING, significant


def _group_parts(kind: sw.GroupKind, groups: Sequence[Any]) -> list[str]:
    """The HTML of scaling groups (thread, batch, sparsity): the section's explanation, then per group its caption,
    its table and its notes (the charts follow). A group has ``rows`` (each with ``.cell``) and ``note``."""
    parts = [f'<p class="muted">{_e(kind.section.partition(": ")[2])}</p>']
    for g in groups:
        parts.append(f"<h3>{_e(kind.caption(g))}</h3>")
        parts.append(_sweep_table(kind.headers(g), kind.rows(g)))
        parts.append(_note_list(sw.group_notes([r.cell for r in g.rows], g.note)))
    return parts


def _sweep_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return html_table(headers, rows, sw.numeric_columns(headers))


def render_sweep_html(record: RunRecord) -> str:
    """The whole report of a sweep as one self-contained HTML document: machine, configuration (the spec), the cell
    table with every failure's error, thread scaling (tables, items/s curves, items per joule curves where cells
    measured energy, speedup curves with the ideal line), batch scaling (items/s and per-item latency curves),
    precision gain (table and bars), the memory-bounded batch search (best batch, the batch → peak RSS curve against
    the limit), the sparsity study, and the p50/throughput Pareto front. Everything from the record is escaped; no
    network, no script."""
    a = analyse(record, for_records(record))
    failures = sw.failure_notes(a.cells)
    body = [
        section("Machine", _kv(_system(record))),
        section("Configuration", _kv(sw.spec_rows(record))),
        section(
            "Cells",
            f'<p class="meta">{_e(sw.summary_line(record, a))}</p>',
            _sweep_table(sw.cell_headers(a.cells), sw.cell_rows(a.cells))
            if a.cells
            else f"<p>{_e(sw.no_cells_text(a))}</p>",
            "<h3>Failed cells</h3>" + _note_list(failures, "bad") if failures else "",
        ),
    ]
    threads, batches, sparsity = _scaling_sections(a)
    body += [threads, batches, _precision_section(a), _memory_section(a), sparsity]
    body.append(_pareto_section(a))
    body.append(_generation_pareto_section(a))
    if record.diagnostics:
        items = [f"{d.get('where')}: {d.get('error')}" for d in record.diagnostics]
        body.append(section("Diagnostics", _note_list(items)))
    body.append(
        f'<p class="meta">sweep <code>{_e(record.run_id)}</code> · created {_e(record.created)} · '
        f"schema {_e(record.schema)}</p>"
    )
    state = (record.sweep or {}).get("state") if isinstance(record.sweep, Mapping) else None
    subtitle = f"{len(a.cells)} cells · {state or MISSING} · sweep {record.run_id} · {record.created}"
    return document(f"{sw.model_name(record)} — workbench sweep", [b for b in body if b], subtitle)


def _scaling_sections(a: SweepAnalysis) -> tuple[str, str, str]:
    """The thread scaling, batch scaling and sparsity study sections of a sweep report ("" for each without
    groups): the groups' tables and notes, then the charts (items/s; items per joule where cells measured energy;
    speedup with the ideal line; ms per item)."""
    threads = [line_chart_svg(s, title, "threads", "items/s") for title, s in sw.thread_series(a.threads)]
    threads += [line_chart_svg(s, title, "threads", "items/J") for title, s in sw.energy_series(a.threads)]
    threads += [
        line_chart_svg(s, title, "threads", "speedup ×", dashed=(sw.IDEAL,))
        for title, s in sw.speedup_series(a.threads)
    ]
    batches = [line_chart_svg(s, title, "batch", "items/s") for title, s in sw.batch_series(a.batches)]
    batches += [
        line_chart_svg(s, title, "batch", "ms per item") for title, s in sw.batch_series(a.batches, "per_item_ms")
    ]
    sparsity = [line_chart_svg(s, title, "sparsity %", "items/s") for title, s in sw.sparsity_series(a.sparsity)]
    return (
        _scaling_section(sw.THREADS, a.threads, threads),
        _scaling_section(sw.BATCHES, a.batches, batches),
        _scaling_section(sw.SPARSITY, a.sparsity, sparsity),
    )


def _scaling_section(kind: sw.GroupKind, groups: Sequence[Any], charts: list[str]) -> str:
    """One scaling section ("" without groups): the groups' tables and notes, then the charts."""
    if not groups:
        return ""
    return section(kind.title, *_group_parts(kind, groups), _figures(charts))


def _precision_section(a: SweepAnalysis) -> str:
    """The precision gain section of a sweep report: the table, its notes and the bars."""
    if not a.precision:
        return ""
    shown = [g for g in a.precision if g.ratio is not None]
    bars = (
        bar_chart_svg(
            [g.cell.label() for g in shown],
            {"gain": [g.gain for g in shown], "ratio, not a gain": [None if g.gain else g.ratio for g in shown]},
            "lower precision over the same engine's fp32",
            unit="×",
            width=640 + max(0, _label_px(g.cell.label() for g in shown) - 120),
            label_width=max(120, _label_px(g.cell.label() for g in shown)),
        )
        if shown
        else ""
    )
    return section(
        "Precision gain",
        '<p class="muted">Each lower-precision cell against the same engine’s fp32 cell with the same other '
        "axes: fp32 p50 ÷ p50 in latency mode, items/s ÷ fp32 items/s in throughput mode. A ratio is a gain "
        "only when both cells pass parity; otherwise it is shown in parentheses.</p>",
        _sweep_table(sw.precision_headers(), sw.precision_rows(a.precision)),
        _note_list(sw.precision_notes(a.precision)),
        f"<figure>{bars}</figure>" if bars else "",
    )


def _memory_section(a: SweepAnalysis) -> str:
    """The memory-bounded batch search section: per group the best batch, its probes and the peak RSS curve."""
    if not a.memory:
        return ""
    parts = [
        '<p class="muted">The largest batch whose benchmark process stays under the memory limit (peak RSS), '
        "found by probing batches.</p>"
    ]
    for m in a.memory:
        parts.append(f"<h3>{_e(sw.memory_summary(m))}</h3>")
        if m.probes:
            parts.append(_sweep_table(sw.memory_headers(), sw.memory_rows(m)))
        if m.reason:
            parts.append(f'<p class="muted">{_e(m.reason)}</p>')
        if m.curve():
            limit = f"limit {significant(m.limit_mb)} MB" if m.limit_mb is not None else ""
            svg = line_chart_svg(
                {"peak RSS": [(b, v) for b, v in m.curve()]},
                f"peak RSS vs batch · {m.title}",
                "batch",
                "MB",
                hline=m.limit_mb,
                hline_label=limit,
                y_from_zero=False,
            )
            parts.append(f"<figure>{svg}</figure>")
    return section("Memory-bounded batch search", *parts)


def _front_section(
    heading: str,
    caption: str,
    point: Callable[[Cell], tuple[float | None, float | None]],
    ran: Sequence[Cell],
    front: Sequence[Cell],
    table: str,
    **svg: Any,
) -> str:
    """A front's section: every cell that ran as a point (``point``: its x, y), the front marked, the table."""
    if not ran:
        return ""
    plot = pareto_svg([(*point(c), c.label()) for c in ran], [(*point(c), c.label()) for c in front], **svg)
    return section(heading, f'<p class="muted">{caption}</p>', f"<figure>{plot}</figure>", table)


def _pareto_section(a: SweepAnalysis) -> str:
    """Every cell that ran on the p50/throughput plane (generate cells have their own), the front marked, and the
    front's table."""
    return _front_section(
        "Latency and throughput: the Pareto front",
        "Every cell that ran; the front is the cells no other cell beats on both p50 latency per call and throughput.",
        lambda c: (c.p50_ms, c.throughput),
        [c for c in a.cells if c.ok and c.mode != "generate" and c.p50_ms is not None and c.throughput is not None],
        a.pareto,
        _sweep_table(sw.pareto_headers(a.pareto), sw.pareto_rows(a.pareto)),
    )


def _generation_pareto_section(a: SweepAnalysis) -> str:
    """The generate cells on the time-to-first-token / decode-tokens/s plane, the front marked, and its table."""
    return _front_section(
        "Text generation: time to first token and tokens/s",
        "Every generate cell that ran; the front is the cells no other cell beats on both time to first token "
        "(prefill) and decode tokens/s (per sequence).",
        lambda c: (c.ttft_p50_ms, c.decode_tokens_per_s),
        [c for c in a.cells if c.ok and c.ttft_p50_ms is not None and c.decode_tokens_per_s is not None],
        a.generation_pareto,
        _sweep_table(sw.generation_pareto_headers(), sw.generation_pareto_rows(a.generation_pareto)),
        title="decode tokens/s vs time to first token: the Pareto front",
        y_label="decode tokens/s",
        x_label="time to first token, p50 (ms)",
    )


__all__ = ["render_sweep_html"]
