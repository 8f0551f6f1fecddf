"""A sweep record for people: the terminal rendering, CSV, Markdown and JSON (issue #11 items 2-3, issue #12).

``workbench sweep`` and ``workbench report SWEEP`` print :func:`render_sweep`: a header (model, machine, cells
done/total, state), the full cell table, then the scaling analysis of :mod:`workbench.stats.scaling` — thread
scaling (threads | p50 | items/s | RSS | speedup | efficiency; items/J and the items per joule vs threads
chart where cells measured energy), batch scaling (items/s and per-item latency vs batch),
precision gain per engine, the memory-bounded batch search (best batch, its throughput, the batch → peak RSS
curve), the sparsity study when the sweep has several sparsity values, and the latency/throughput Pareto front —
with plotext charts sized for 80 columns (``charts=False`` leaves them out). Failed cells are rows with FAILED and
their error below the table.

:func:`sweep_csv` writes one row per cell (memory-search probes too, marked in ``search``), :func:`sweep_markdown`
the same tables as Markdown, :func:`sweep_json` the record plus ``"analysis"`` (the scaling tables as plain data).
The row builders (``*_rows``) are shared with the HTML report (:func:`workbench.report.html.render_sweep_html`).
Numbers go through :mod:`workbench.units`. Pure apart from plotext's figure (guarded by a lock): records in, text out.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from workbench.machine.spread import for_records
from workbench.report.columns import COLUMNS, WHEN_MEASURED, headers, texts, view_keys
from workbench.report.columns import headers as headers_of
from workbench.report.export import format_cores
from workbench.report.text import table
from workbench.report.textchart import add_charts, line_chart
from workbench.result import EngineResult, RunRecord
from workbench.stats.scaling import (
    BatchScaling,
    Cell,
    MemorySearch,
    PrecisionGain,
    SparsityGroup,
    SweepAnalysis,
    ThreadScaling,
    analyse,
    describe,
)
from workbench.stats.speedup import speedup_text
from workbench.units import MISSING, as_float, bytes_iec, duration, json_safe, ms, percent, rate, ratio, significant

__all__ = [
    "render_sweep",
    "sweep_csv",
    "sweep_markdown",
    "sweep_json",
    "SWEEP_CSV_COLUMNS",
    "CELL_HEADERS",
    "cell_headers",
    "cell_rows",
    "numeric_columns",
    "aligned",
    "failure_notes",
    "no_cells_text",
    "thread_headers",
    "thread_rows",
    "batch_headers",
    "batch_rows",
    "precision_headers",
    "precision_rows",
    "sparsity_headers",
    "sparsity_rows",
    "memory_headers",
    "memory_rows",
    "memory_summary",
    "pareto_headers",
    "pareto_rows",
    "generation_pareto_headers",
    "generation_pareto_rows",
    "summary_line",
    "model_name",
    "group_notes",
    "chart_context",
    "thread_series",
    "speedup_series",
    "batch_series",
    "sparsity_series",
    "line_chart",
    "energy_series",
    "IDEAL",
    "THREAD_SECTION",
    "BATCH_SECTION",
    "SPARSITY_SECTION",
    "precision_notes",
    "thread_caption",
    "batch_caption",
    "sparsity_caption",
    "gain_cell",
    "machine",
    "spec_rows",
]

# ------------------------------------------------------------------------------------------------- header


def machine(record: RunRecord) -> str:
    """The CPU model a record ran on (or the host name), for a header line; — when unknown."""
    s = record.system or {}
    cpu = s.get("cpu")
    fields = s.get("fingerprint_fields") if isinstance(s.get("fingerprint_fields"), Mapping) else {}
    for value in (
        cpu.get("model") if isinstance(cpu, Mapping) else None,
        s.get("cpu_model"),
        (fields or {}).get("cpu_model"),
        s.get("hostname"),
    ):
        if isinstance(value, str) and value:
            return value
    return MISSING


def _sweep(record: RunRecord) -> Mapping[str, Any]:
    return record.sweep if isinstance(record.sweep, Mapping) else {}


def _spec(record: RunRecord) -> Mapping[str, Any]:
    spec = _sweep(record).get("spec")
    return spec if isinstance(spec, Mapping) else {}


def model_name(record: RunRecord) -> str:
    """The sweep's model name (record.model, the spec, the first result)."""
    name = (record.model or {}).get("name") or _spec(record).get("model")
    if not name and record.results:
        name = record.results[0].model
    return str(name or "?")


def _join(values: Any) -> str:
    if not isinstance(values, (list, tuple)):
        return MISSING if values in (None, "") else str(values)
    return ", ".join("auto" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values) or MISSING


def summary_line(record: RunRecord, analysis: SweepAnalysis | None = None) -> str:
    """``sweep ID · MODEL · complete · 12/12 cells (1 failed) · 42.0 s``."""
    a = analysis or analyse(record, for_records(record))
    s = _sweep(record)
    done = s.get("cells_done", len(a.cells))
    total = s.get("cells_total", len(a.cells))
    failed = sum(1 for c in a.cells if not c.ok)
    parts = [
        f"sweep {record.run_id}",
        model_name(record),
        str(s.get("state") or MISSING),
        f"{done}/{total} cells" + (f" ({failed} failed)" if failed else ""),
    ]
    if a.probes:
        parts.append(f"{len(a.probes)} memory-search probe{'s' if len(a.probes) != 1 else ''}")
    elapsed = as_float(s.get("elapsed_s"))
    if elapsed is not None:
        parts.append(duration(elapsed * 1000.0))
    return " · ".join(parts)


def spec_rows(record: RunRecord) -> list[tuple[str, str]]:
    """The sweep's configuration as ``(name, text)`` rows: axes, what every cell shares, where it ran."""
    spec, s = _spec(record), _sweep(record)
    cores = spec.get("cores")
    max_mem = as_float(spec.get("max_memory_mb"))
    extra = spec.get("extra")
    rows = [
        ("model", model_name(record)),
        ("engines", _join(spec.get("engines"))),
        ("precisions", _join(spec.get("precisions"))),
        ("threads", _join(spec.get("threads"))),
        ("batches", _join(spec.get("batches")) if max_mem is None else "searched (memory-bounded)"),
        ("modes", _join(spec.get("modes"))),
        ("streams", _join(spec.get("streams"))),
        ("requests", _join(spec.get("requests"))),
        ("sparsities", _join(spec.get("sparsities"))),
        ("device", str(spec.get("device") or MISSING)),
        (
            "cores",
            format_cores(cores) if isinstance(cores, (list, tuple)) and cores else "the cores this process may use",
        ),
        (
            "per cell",
            f"{duration((as_float(spec.get('duration_s')) or 0) * 1000)} measured after "
            f"{duration((as_float(spec.get('warmup_s')) or 0) * 1000)} warm-up, at least "
            f"{spec.get('min_iterations', MISSING)} iterations",
        ),
        ("parity", "checked" if spec.get("parity", True) else "not checked (--no-parity)"),
        ("seed", str(spec.get("seed", MISSING))),
    ]
    if max_mem is not None:
        rows.append(("memory limit", f"{significant(max_mem)} MB peak RSS, batch up to {spec.get('max_batch')}"))
    options = spec.get("engine_options") or []
    if options:
        rows.append(("engine options", ", ".join(f"{t[0]}.{t[1]}={t[2]}" for t in options if len(t) == 3)))
    if spec.get("tags"):
        rows.append(("tags", _join(spec.get("tags"))))
    if spec.get("note"):
        rows.append(("note", str(spec.get("note"))))
    if isinstance(extra, Mapping) and extra:
        shown = [
            f"{k}={v}" if isinstance(v, (str, int, float, bool)) or v is None else f"{k} (in --json)"
            for k, v in extra.items()
        ]
        rows.append(("extra", ", ".join(shown)))
    rows.append(("state", str(s.get("state") or MISSING)))
    rows.append(("started", str(s.get("started") or record.created)))
    if s.get("host"):
        rows.append(("host", f"{s.get('host')} (pid {s.get('pid', MISSING)})"))
    return rows


# -------------------------------------------------------------------------------------------------- cells


CELL_HEADERS: tuple[str, ...] = (
    "engine",
    "prec",
    "thr",
    "batch",
    "mode",
    "streams",
    "req",
    *headers("sweep"),  # the measured columns: the column registry's sweep view
    "status",
)


def _precision(c: Cell) -> str:
    """``int8``, or ``fp32→bf16`` when the engine ran another precision than the cell asked for."""
    eff = c.precision_effective
    return c.precision if not eff or eff == c.precision else f"{c.precision}→{eff}"


def _opt(value: Any) -> str:
    return MISSING if value is None else str(value)


def _sparse(cells: Sequence[Cell]) -> bool:
    return len({c.sparsity for c in cells}) > 1


def _cell_view(c: Cell) -> str:
    """The column registry's view of a cell's measured columns: ``sweep_generate`` (time to first token, per
    output token, tokens/s, token parity) for a generate cell, else ``sweep``."""
    return "sweep_generate" if c.mode == "generate" else "sweep"


def _measured(cells: Sequence[Cell]) -> list[tuple[str, str]]:
    """``(view, key)`` of the measured columns for these cells: the sweep view's, then the generate view's where
    generate cells are among them; items per joule, $/M and LoadGen's verdict only where a cell has them."""
    out: list[tuple[str, str]] = []
    for view in ("sweep", "sweep_generate"):
        mine = [c for c in cells if _cell_view(c) == view]
        if mine:
            out += [(view, k) for k in view_keys(view, [c.result for c in mine if c.result is not None])]
    return out


def _measured_keys(cells: Sequence[Cell]) -> tuple[str, ...]:
    """The keys of :func:`_measured` (the sweep view's by default: a table of no cells)."""
    return tuple(k for _, k in _measured(cells)) or view_keys("sweep")


def _axis_columns(cells: Sequence[Cell]) -> list[tuple[str, Callable[[Cell], str]]]:
    """The optional axis columns after ``req``, where the cells vary or use them: sparsity, the generate cells'
    prompt and generated lengths, the LoadGen cells' scenario and target QPS."""
    cols: list[tuple[str, Callable[[Cell], str]]] = []
    if _sparse(cells):
        cols.append(("sparsity", lambda c: percent(c.sparsity * 100, decimals=0)))
    if any(c.prompt_tokens is not None or c.new_tokens is not None for c in cells):
        cols += [("prompt", lambda c: _opt(c.prompt_tokens)), ("new", lambda c: _opt(c.new_tokens))]
    if any(c.scenario is not None for c in cells):
        cols += [("scenario", lambda c: _opt(c.scenario)), ("qps", lambda c: _opt(significant(c.target_qps)))]
    return cols


def cell_headers(cells: Sequence[Cell]) -> list[str]:
    """:data:`CELL_HEADERS` with the optional axis columns after ``req`` (:func:`_axis_columns`) and the measured
    columns of the cells' views (:func:`_measured`)."""
    measured = _measured(cells)
    out = list(CELL_HEADERS[:7]) + [name for name, _ in _axis_columns(cells)]
    out += [COLUMNS[k].heading(view) for view, k in measured] if measured else list(headers_of("sweep"))
    return out + ["status"]


def cell_rows(cells: Sequence[Cell]) -> list[list[str]]:
    """The cell table (:func:`cell_headers`), one row per cell; a failed cell reads FAILED (its error is in
    :func:`failure_notes`). Streams and requests are what the engine ran (the cell's axis value otherwise); a
    column of the other view (a generate cell beside latency cells) reads as missing."""
    axes = _axis_columns(cells)
    measured = _measured(cells) or [("sweep", k) for k in view_keys("sweep")]
    rows = []
    for c in cells:
        row = [
            c.engine,
            _precision(c),
            _opt(c.threads),
            str(c.batch),
            c.mode,
            _opt(c.streams_effective if c.streams_effective is not None else c.streams),
            _opt(c.requests_effective if c.requests_effective is not None else c.requests),
            *(get(c) for _, get in axes),
            *(
                COLUMNS[k].cell(c.result, None, view) if c.result is not None and view == _cell_view(c) else MISSING
                for view, k in measured
            ),
            "ok" if c.ok else "FAILED",
        ]
        rows.append(row)
    return rows


#: columns whose cells are text (left-aligned); every other column of these tables is a number
TEXT_COLUMNS = frozenset({"engine", "prec", "mode", "parity", "status", "cell", "ran", "fits", "setting", "value"})


def numeric_columns(headers: Sequence[str]) -> list[bool]:
    """Which columns of a sweep table hold numbers (right-aligned in the terminal, Markdown and HTML)."""
    return [h not in TEXT_COLUMNS for h in headers]


def aligned(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """:func:`workbench.report.text.table` with the sweep tables' alignment (:func:`numeric_columns`)."""
    return table(headers, rows, align="".join("r" if n else "l" for n in numeric_columns(headers)))


def no_cells_text(a: SweepAnalysis) -> str:
    """What the cell table says when the grid is empty (nothing measured yet, or only memory-search probes)."""
    if a.probes:
        return f"no grid cells: all {len(a.probes)} results are memory-search probes (see the memory search below)"
    return "no cells measured yet"


def failure_notes(cells: Sequence[Cell]) -> list[str]:
    """``openvino int8 t2 b8 latency: <error>`` for every failed cell."""
    return [f"{c.label()}: {c.error}" for c in cells if not c.ok]


# ------------------------------------------------------------------------------------------------ scaling


def _items_per_j(c: Cell) -> float | None:
    return COLUMNS["items_per_j"].value(c.result, None) if c.result is not None else None


def _energy_measured(g: ThreadScaling | None) -> bool:
    """A thread group whose cells measured energy shows items per joule (the efficiency curve) beside items/s."""
    return g is not None and any(_items_per_j(r.cell) is not None for r in g.rows)


def thread_headers(g: ThreadScaling | None = None) -> list[str]:
    return ["threads", "p50 ms", "items/s", "RSS MB", "speedup", "efficiency"] + (
        ["items/J"] if _energy_measured(g) else []
    )


def _failed(c: Cell) -> str:
    return "FAILED" if not c.ok else MISSING


def thread_rows(g: ThreadScaling) -> list[list[str]]:
    """threads | p50 | items/s | RSS | speedup | efficiency; a speedup estimated from another base reads ``~2.00×``,
    one inside the run-to-run spread ``≈1.03×``."""
    rows = []
    energy = _energy_measured(g)
    for r in g.rows:
        c = r.cell
        speed = speedup_text(r.speedup, r.significant)
        if g.estimated and r.speedup is not None:
            speed = f"~{speed}"
        rows.append(
            [
                _opt(c.threads),
                ms(c.p50_ms) if c.ok else "FAILED",
                rate(c.throughput),
                significant(c.peak_rss_mb),
                speed,
                percent(r.efficiency * 100) if r.efficiency is not None else MISSING,
                *([significant(_items_per_j(c))] if energy else []),
            ]
        )
    return rows


THREAD_SECTION = (
    "Thread scaling: speedup vs 1 thread (p50 ratio in latency mode, items/s ratio in throughput mode); "
    "efficiency = speedup ÷ threads; ≈ marks a ratio inside this machine's run-to-run spread (no real difference)"
)


def thread_caption(g: ThreadScaling) -> str:
    """``openvino fp32 b1 latency (speedup from p50, vs 1 thread)``."""
    what = "p50" if g.basis == "latency" else "items/s"
    if g.base_threads is None:
        return f"{g.title} (nothing ran)"
    if g.estimated:
        return f"{g.title} (speedup from {what} vs {g.base_threads} threads × {g.base_threads}, marked ~)"
    return f"{g.title} (speedup from {what}, vs 1 thread)"


def group_notes(rows: Sequence[Cell], note: str | None) -> list[str]:
    """A scaling group's note, then one line per failed cell of it with its error."""
    out = [note] if note else []
    out += [f"{c.label()} failed: {c.error}" for c in rows if not c.ok]
    return out


def batch_headers(g: Any = None) -> list[str]:
    return ["batch", "p50 ms", "per item ms", "items/s", "RSS MB", "vs smallest"]


def batch_rows(g: BatchScaling) -> list[list[str]]:
    """batch | p50 per call | per-item latency (p50 ÷ batch) | items/s | RSS | items/s ÷ the smallest batch's."""
    return [
        [
            str(r.cell.batch),
            ms(r.cell.p50_ms) if r.cell.ok else "FAILED",
            ms(r.cell.per_item_ms),
            rate(r.cell.throughput),
            significant(r.cell.peak_rss_mb),
            ratio(r.gain),
        ]
        for r in g.rows
    ]


BATCH_SECTION = "Batch scaling: per item = p50 per call ÷ batch; vs smallest = items/s ÷ items/s at the smallest batch"


def batch_caption(g: BatchScaling) -> str:
    """``openvino fp32 t1 latency (vs batch 1)``."""
    return f"{g.title} (vs batch {g.base_batch})" if g.base_batch else f"{g.title} (nothing ran)"


def precision_headers() -> list[str]:
    return ["cell", "prec", "ran", "fp32 p50 ms", "p50 ms", "fp32 items/s", "items/s", "gain"]


def gain_cell(g: PrecisionGain) -> str:
    """``1.52×`` (a gain), ``≈1.02×`` (inside the run-to-run spread), ``(1.52×)`` (a ratio that is not a gain:
    parity), — (nothing to compare)."""
    if g.gain is not None:
        return speedup_text(g.gain, g.significant)
    return f"({ratio(g.ratio)})" if g.ratio is not None else MISSING


def precision_rows(gains: Sequence[PrecisionGain]) -> list[list[str]]:
    return [
        [
            g.title,
            g.cell.precision,
            g.cell.precision_effective or MISSING,
            ms(g.fp32.p50_ms) if g.fp32.ok else "FAILED",
            ms(g.cell.p50_ms) if g.cell.ok else "FAILED",
            rate(g.fp32.throughput),
            rate(g.cell.throughput),
            gain_cell(g),
        ]
        for g in gains
    ]


def precision_notes(gains: Sequence[PrecisionGain]) -> list[str]:
    return [f"{g.cell.label()}: {g.note}" for g in gains if g.note]


def sparsity_headers(g: Any = None) -> list[str]:
    return ["sparsity", "achieved", "p50 ms", "items/s", "file", "gzip -9", "vs dense", "gzip vs dense", "parity"]


def sparsity_rows(g: SparsityGroup) -> list[list[str]]:
    """One row per sparsity value; the dense row (0) is the baseline. Sizes — when the result carries none."""
    rows = []
    for r in g.rows:
        c = r.cell
        achieved = percent(c.sparsity_achieved * 100) if c.sparsity_achieved is not None else MISSING
        rows.append(
            [
                percent(c.sparsity * 100, decimals=0),
                achieved,
                ms(c.p50_ms) if c.ok else "FAILED",
                rate(c.throughput),
                bytes_iec(c.file_bytes),
                bytes_iec(c.gzip_bytes),
                "baseline" if c.sparsity == 0 and c.ok else ratio(r.speedup),
                ratio(r.gzip_vs_dense),
                c.parity or MISSING,
            ]
        )
    return rows


SPARSITY_SECTION = (
    "Sparsity study: vs dense = speedup over sparsity 0 (p50 ratio in latency mode, items/s ratio in throughput "
    "mode); gzip vs dense = gzip -9 size ÷ the dense model's"
)


def sparsity_caption(g: SparsityGroup) -> str:
    """``tiny_cnn · openvino fp32 t1 b1 latency``."""
    return f"{g.model} · {g.title}"


@dataclass(frozen=True)
class GroupKind:
    """How one kind of scaling group (thread, batch, sparsity) is shown in every format: the section's title, its
    explanation line (``"Title: what the columns mean"``), and the builders of a group's caption, headers, rows."""

    title: str
    section: str
    caption: Callable[[Any], str]
    headers: Callable[[Any], list[str]]  # of a group (a column may appear only where the group measured it)
    rows: Callable[[Any], list[list[str]]]


THREADS = GroupKind("Thread scaling", THREAD_SECTION, thread_caption, thread_headers, thread_rows)
BATCHES = GroupKind("Batch scaling", BATCH_SECTION, batch_caption, batch_headers, batch_rows)
SPARSITY = GroupKind("Sparsity study", SPARSITY_SECTION, sparsity_caption, sparsity_headers, sparsity_rows)


def memory_headers() -> list[str]:
    return ["batch", "peak RSS MB", "status", "fits"]


def memory_rows(m: MemorySearch) -> list[list[str]]:
    """The probes of one search: batch, peak RSS of its benchmark process, status, under the limit or not."""
    return [
        [
            _opt(p.batch),
            significant(p.peak_rss_mb),
            p.status or MISSING,
            MISSING if p.fits is None else ("yes" if p.fits else "no"),
        ]
        for p in m.probes
    ]


def memory_summary(m: MemorySearch) -> str:
    """``openvino fp32 t4 latency: limit 2,048 MB · best batch 32 · 1,234 items/s · peak RSS 1,900 MB``."""
    limit = f"limit {significant(m.limit_mb)} MB" if m.limit_mb is not None else "no limit recorded"
    if m.best_batch is None:
        return f"{m.title}: {limit} · no batch fits" + (f" ({m.reason})" if m.reason else "")
    parts = [f"{m.title}: {limit}", f"best batch {m.best_batch}"]
    if m.best is not None and not m.best.ok:
        parts.append(f"its cell failed: {m.best.error}")
    else:
        parts.append(f"{rate(m.throughput)} items/s")
        rss = m.best.peak_rss_mb if m.best is not None else None
        if rss is None:
            rss = next((p.peak_rss_mb for p in m.probes if p.batch == m.best_batch), None)
        parts.append(f"peak RSS {significant(rss)} MB")
    return " · ".join(parts)


def _value_keys(cells: Sequence[Cell]) -> tuple[str, ...]:
    """$/M and items/J of the front's cells, where they were priced or measured energy."""
    return tuple(k for k in view_keys("sweep", [c.result for c in cells if c.result is not None]) if k in WHEN_MEASURED)


def pareto_headers(cells: Sequence[Cell] = ()) -> list[str]:
    return ["cell", "p50 ms", "items/s", "per item ms", "RSS MB", *headers_of("sweep", _value_keys(cells))]


def pareto_rows(cells: Sequence[Cell]) -> list[list[str]]:
    """The front's cells; with a price the front is also the latency × cost front (one price: $/M ∝ 1 / items/s)."""
    keys = _value_keys(cells)
    return [
        [
            c.label(),
            ms(c.p50_ms),
            rate(c.throughput),
            ms(c.per_item_ms),
            significant(c.peak_rss_mb),
            *(texts("sweep", c.result, None, keys) if c.result is not None else [MISSING] * len(keys)),
        ]
        for c in cells
    ]


# ------------------------------------------------------------------------------------------------- charts


def chart_context(axes: Mapping[str, Any], *drop: str) -> tuple[tuple[str, Any], ...]:
    """The axes of a group but ``drop``: what one chart holds fixed (its lines differ in the dropped axes)."""
    return tuple((k, v) for k, v in axes.items() if k not in drop)


def thread_series(groups: Sequence[ThreadScaling]) -> list[tuple[str, dict[str, list[tuple[float, float]]]]]:
    """``(title, {engine: [(threads, items/s)]})`` per chart: one chart per context (all axes but engine and
    threads), one line per engine."""
    charts: dict[tuple[Any, ...], dict[str, list[tuple[float, float]]]] = {}
    for g in groups:
        pts = [(float(r.cell.threads), r.cell.throughput) for r in g.rows if r.cell.threads and r.cell.throughput]
        charts.setdefault(chart_context(g.axes, "engine"), {})[str(g.axes.get("engine"))] = pts
    return [(f"items/s vs threads · {describe(dict(ctx))}", s) for ctx, s in charts.items()]


def energy_series(groups: Sequence[ThreadScaling]) -> list[tuple[str, dict[str, list[tuple[float, float]]]]]:
    """``(title, {engine: [(threads, items/J)]})`` per chart, like :func:`thread_series`: the efficiency curve,
    only for the groups whose cells measured energy (none measured: no chart)."""
    charts: dict[tuple[Any, ...], dict[str, list[tuple[float, float]]]] = {}
    for g in groups:
        pts = [(float(r.cell.threads), v) for r in g.rows if r.cell.threads and (v := _items_per_j(r.cell)) is not None]
        if pts:
            charts.setdefault(chart_context(g.axes, "engine"), {})[str(g.axes.get("engine"))] = pts
    return [(f"items per joule vs threads · {describe(dict(ctx))}", s) for ctx, s in charts.items()]


IDEAL = "linear (ideal)"


def speedup_series(groups: Sequence[ThreadScaling]) -> list[tuple[str, dict[str, list[tuple[float, float]]]]]:
    """``(title, {engine: [(threads, speedup)], IDEAL: [(t, t)]})`` per chart, like :func:`thread_series`."""
    charts: dict[tuple[Any, ...], dict[str, list[tuple[float, float]]]] = {}
    for g in groups:
        pts = [(float(r.cell.threads), r.speedup) for r in g.rows if r.cell.threads and r.speedup is not None]
        series = charts.setdefault(chart_context(g.axes, "engine"), {})
        ideal = {x for x, _ in series.pop(IDEAL, [])} | {float(r.cell.threads) for r in g.rows if r.cell.threads}
        series[str(g.axes.get("engine"))] = pts
        series[IDEAL] = sorted((x, x) for x in ideal)  # last, so each engine keeps its colour of the items/s chart
    return [(f"speedup vs threads · {describe(dict(ctx))}", s) for ctx, s in charts.items()]


def batch_series(
    groups: Sequence[BatchScaling], metric: str = "throughput"
) -> list[tuple[str, dict[str, list[tuple[float, float]]]]]:
    """``(title, {engine: [(batch, value)]})`` per chart; ``metric`` ``throughput`` or ``per_item_ms``."""
    charts: dict[tuple[Any, ...], dict[str, list[tuple[float, float]]]] = {}
    for g in groups:
        pts = []
        for r in g.rows:
            v = r.cell.throughput if metric == "throughput" else r.cell.per_item_ms
            if v is not None:
                pts.append((float(r.cell.batch), v))
        charts.setdefault(chart_context(g.axes, "engine"), {})[str(g.axes.get("engine"))] = pts
    what = "items/s" if metric == "throughput" else "per-item ms"
    return [(f"{what} vs batch · {describe(dict(ctx))}", s) for ctx, s in charts.items()]


def sparsity_series(groups: Sequence[SparsityGroup]) -> list[tuple[str, dict[str, list[tuple[float, float]]]]]:
    """``(title, {engine: [(sparsity %, items/s)]})`` per chart (one per model and context)."""
    charts: dict[tuple[Any, ...], dict[str, list[tuple[float, float]]]] = {}
    for g in groups:
        pts = [(r.cell.sparsity * 100, r.cell.throughput) for r in g.rows if r.cell.throughput is not None]
        ctx = (("model", g.model), *chart_context(g.axes, "engine"))
        charts.setdefault(ctx, {})[str(g.axes.get("engine"))] = pts
    return [(f"items/s vs sparsity · {dict(ctx)['model']} {describe(dict(ctx))}", s) for ctx, s in charts.items()]


# ------------------------------------------------------------------------------------------------ terminal


def _point(c: Cell) -> tuple[float, float] | None:
    return (c.p50_ms, c.throughput) if c.ok and c.p50_ms is not None and c.throughput is not None else None


def cell_finished_line(event: Any, *, eta: bool = False) -> str:
    """The line a finished cell gets in a sweep's progress (``workbench sweep``, ``workbench watch``):
    ``[5/18] openvino int8 t2 b1 latency: p50 5.500 ms  174.8/s``, a generate cell's ``TTFT p50 12.1 ms · per token
    p50 4.20 ms · 231.5 tok/s``, or ``…: failed: REASON``; ``eta``: with the estimate for the cells left.
    ``event``: a :class:`workbench.measure.events.CellFinished`."""
    r = event.result
    gen = r.get("generation") if isinstance(r.get("generation"), Mapping) else None
    if r.get("status") == "ok" and gen is not None:
        ttft, tpot = (gen.get("ttft_ms") or {}).get("p50"), (gen.get("tpot_ms") or {}).get("p50")
        tps = (gen.get("tokens_per_s") or {}).get("decode")
        what = f"TTFT p50 {ms(ttft)} ms · per token p50 {ms(tpot)} ms · {rate(tps, ' tok/s')}"
    elif r.get("status") == "ok":
        what = f"p50 {ms((r.get('latency_ms') or {}).get('p50'))} ms  {rate(r.get('throughput'), '/s')}"
    else:
        what = f"failed: {r.get('error')}"
    left = eta and event.eta_s is not None and event.done < event.total
    return f"[{event.done}/{event.total}] {event.label}: {what}" + (
        f" · ETA {duration(event.eta_s * 1000)}" if left else ""
    )


def render_sweep(record: RunRecord, charts: bool = True) -> str:
    """The sweep for the terminal (see the module docstring); ``charts=False`` leaves the plotext charts out."""
    a = analyse(record, for_records(record))
    out = [summary_line(record, a), f"machine: {machine(record)}"]
    axes = _axes_line(_spec(record))
    if axes:
        out.append(axes)
    out.append("")
    out.append(aligned(cell_headers(a.cells), cell_rows(a.cells)) if a.cells else no_cells_text(a))
    failures = failure_notes(a.cells)
    if failures:
        out.append("failed cells:")
        out += [f"  {line}" for line in failures]
    if a.threads:
        out += _text_groups(THREADS, a.threads)
        if charts:
            add_charts(out, thread_series(a.threads), "threads", "items/s")
            add_charts(out, energy_series(a.threads), "threads", "items/J")
    if a.batches:
        out += _text_groups(BATCHES, a.batches)
        if charts:
            add_charts(out, batch_series(a.batches), "batch", "items/s")
    if a.precision:
        out += [
            "",
            "Precision gain over the same engine's fp32 (p50 ratio in latency mode, items/s in throughput; ≈ inside "
            "the run-to-run spread)",
        ]
        out.append(aligned(precision_headers(), precision_rows(a.precision)))
        out += [f"  {n}" for n in precision_notes(a.precision)]
    if a.memory:
        out += _memory_text(a.memory, charts)
    if a.sparsity:
        out += _text_groups(SPARSITY, a.sparsity)
        if charts:
            add_charts(out, sparsity_series(a.sparsity), "sparsity %", "items/s")
    if len(a.pareto) > 0 and sum(1 for c in a.cells if c.ok) > 1:
        out += _pareto_text(a, charts)
    if a.generation_pareto and sum(1 for c in a.cells if c.ok and c.mode == "generate") > 1:
        out += _generation_pareto_text(a, charts)
    return "\n".join(out)


def _axes_line(spec: Mapping[str, Any]) -> str | None:
    """``axes: engines … · precisions … · threads … · batches … · modes …`` (sparsities when several)."""
    if not spec:
        return None
    axes = [
        f"engines {_join(spec.get('engines'))}",
        f"precisions {_join(spec.get('precisions'))}",
        f"threads {_join(spec.get('threads'))}",
        f"batches {_join(spec.get('batches'))}" if spec.get("max_memory_mb") is None else "batches searched",
        f"modes {_join(spec.get('modes'))}",
    ]
    if len(spec.get("sparsities") or []) > 1:
        axes.append(f"sparsities {_join(spec.get('sparsities'))}")
    if "generate" in (spec.get("modes") or []):
        axes.append(f"prompt tokens {_join(spec.get('prompt_tokens'))} · new tokens {_join(spec.get('new_tokens'))}")
    scenarios = [s for s in spec.get("scenarios") or [] if s is not None]
    if scenarios:
        axes.append(f"scenarios {_join(scenarios)}")
        rates = [q for q in spec.get("target_qps") or [] if q is not None]
        if rates:
            axes.append(f"server QPS {_join([significant(q) for q in rates])}")
    return "axes: " + " · ".join(axes)


def _text_groups(kind: GroupKind, groups: Sequence[Any]) -> list[str]:
    """Scaling groups (thread, batch, sparsity) for the terminal: the section's line, then per group its caption,
    its table and its notes. A group has ``rows`` (each with ``.cell``) and ``note``."""
    out = ["", kind.section]
    for g in groups:
        out += ["", kind.caption(g), aligned(kind.headers(g), kind.rows(g))]
        out += [f"  {n}" for n in group_notes([r.cell for r in g.rows], g.note)]
    return out


def _memory_text(memory: Sequence[MemorySearch], charts: bool) -> list[str]:
    """The memory-bounded batch searches: per group the best batch, its probes and the peak RSS chart."""
    out = ["", "Memory-bounded batch search (the largest batch whose benchmark process stays under the limit)"]
    for m in memory:
        out += ["", memory_summary(m)]
        if m.probes:
            out.append(aligned(memory_headers(), memory_rows(m)))
        if m.reason:
            out.append(f"  {m.reason}")
        if charts and len(m.curve()) > 1:
            curve = [(float(b), v) for b, v in m.curve()]
            limit = f" (line: limit {significant(m.limit_mb)} MB)" if m.limit_mb is not None else ""
            title = f"peak RSS vs batch · {m.title}{limit}"
            text = line_chart(title, {"peak RSS": curve}, "batch", "MB", hline=m.limit_mb, y_from_zero=False)
            if text:
                out += ["", text]
    return out


def _pareto_text(a: SweepAnalysis, charts: bool) -> list[str]:
    """The Pareto front's table, and a chart of every cell with the front joined."""
    out = ["", "Pareto front: the cells no other cell beats on both p50 latency and throughput"]
    out.append(aligned(pareto_headers(a.pareto), pareto_rows(a.pareto)))
    if charts:
        front_keys = {c.key for c in a.pareto}
        others = [_point(c) for c in a.cells if c.mode != "generate" and c.key not in front_keys and _point(c)]
        text = line_chart(
            "items/s vs p50 latency (front joined)",
            {"front": [p for p in map(_point, a.pareto) if p]},
            "p50 ms per call",
            "items/s",
            scatter={"other cells": [p for p in others if p]} if others else None,
            data_ticks=False,
        )
        if text:
            out += ["", text]
    return out


def generation_pareto_headers() -> list[str]:
    return ["cell", "TTFT p50 ms", "per token p50 ms", "decode tok/s", "RSS MB", "tokens =ref"]


def generation_pareto_rows(cells: Sequence[Cell]) -> list[list[str]]:
    """The generation front's cells (:func:`workbench.stats.scaling.generation_front`)."""
    return [
        [
            c.label(),
            ms(c.ttft_p50_ms),
            ms(c.p50_ms),
            rate(c.decode_tokens_per_s),
            significant(c.peak_rss_mb),
            COLUMNS["tokens_agree"].cell(c.result, None, "sweep_generate") if c.result is not None else MISSING,
        ]
        for c in cells
    ]


def _generation_point(c: Cell) -> tuple[float, float] | None:
    if c.ttft_p50_ms is None or c.decode_tokens_per_s is None:
        return None
    return (c.ttft_p50_ms, c.decode_tokens_per_s)


def _generation_pareto_text(a: SweepAnalysis, charts: bool) -> list[str]:
    """The generate cells' front (time to first token vs decode tokens/s), and a chart with the front joined."""
    out = [
        "",
        "Generation Pareto front: the generate cells no other beats on both time to first token and decode tokens/s",
    ]
    out.append(aligned(generation_pareto_headers(), generation_pareto_rows(a.generation_pareto)))
    if charts:
        front_keys = {c.key for c in a.generation_pareto}
        others = [_generation_point(c) for c in a.cells if c.mode == "generate" and c.key not in front_keys]
        text = line_chart(
            "decode tokens/s vs time to first token (front joined)",
            {"front": [p for p in map(_generation_point, a.generation_pareto) if p]},
            "TTFT p50 ms",
            "decode tok/s",
            scatter={"other cells": [p for p in others if p]} if any(others) else None,
            data_ticks=False,
        )
        if text:
            out += ["", text]
    return out


# ------------------------------------------------------------------------------------------------------ CSV

SWEEP_CSV_COLUMNS: tuple[str, ...] = (
    "sweep_id",
    "model",
    "key",
    "label",
    "search",
    "engine",
    "engine_version",
    "device",
    "precision",
    "precision_effective",
    "threads",
    "batch",
    "mode",
    "streams",
    "requests",
    "streams_effective",
    "requests_effective",
    "sparsity",
    "sparsity_achieved",
    "file_bytes",
    "gzip_bytes",
    "cores",
    "status",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "mean_ms",
    "per_item_ms",
    "throughput",
    "peak_rss_mb",
    "load_ms",
    "iterations",
    "j_per_item",
    "items_per_j",
    "watts",
    "usd_per_million",
    "parity",
    "parity_rel_l2",
    "thread_speedup",
    "thread_efficiency",
    "precision_gain",
    "error",
    # generate cells (empty elsewhere): the axes, then time to first token, per output token, tokens/s, parity
    "prompt_tokens",
    "new_tokens",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "tpot_p50_ms",
    "tpot_p99_ms",
    "decode_tokens_per_s",
    "e2e_tokens_per_s",
    "tokens_agree",
    # LoadGen cells (empty elsewhere): the scenario, its Server rate, LoadGen's verdict and achieved rate
    "scenario",
    "target_qps",
    "loadgen_validity",
    "loadgen_qps",
)

#: the registry's columns a cell's CSV row takes as they are (raw values, empty where the cell has none)
_CSV_REGISTRY = (
    ("j_per_item", "items_per_j", "watts", "usd_per_million")
    + ("ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms", "decode_tokens_per_s", "e2e_tokens_per_s")
    + ("tokens_agree", "loadgen_validity", "loadgen_qps")
)


def _csv(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        f = as_float(value)
        return "" if f is None else repr(f)
    return value


def _result(record: RunRecord, c: Cell) -> EngineResult | None:
    return record.results[c.index] if 0 <= c.index < len(record.results) else None


def sweep_csv(record: RunRecord) -> str:
    """One row per cell (:data:`SWEEP_CSV_COLUMNS`), memory-search probes too (``search`` = ``max-memory``); raw
    numbers (latencies in ms, sizes in bytes), the thread speedup/efficiency and precision gain of the cell's row
    in the analysis, the full error of a failed cell."""
    a = analyse(record, for_records(record))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(SWEEP_CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    model = model_name(record)
    for c in sorted([*a.cells, *a.probes], key=lambda c: c.index):
        r = _result(record, c)
        lat = (r.latency_ms if r is not None and isinstance(r.latency_ms, Mapping) else None) or {}
        t = a.thread_row(c.key) if not c.probe else None
        g = a.precision_gain(c.key) if not c.probe else None
        row = {
            "sweep_id": record.run_id,
            "model": c.model or model,
            "key": c.key,
            "label": c.label(),
            "search": "max-memory" if c.probe else "",
            "engine": c.engine,
            "engine_version": r.engine_version if r is not None else None,
            "device": r.device if r is not None else None,
            "precision": c.precision,
            "precision_effective": c.precision_effective,
            "threads": c.threads,
            "batch": c.batch,
            "mode": c.mode,
            "streams": c.streams,
            "requests": c.requests,
            "streams_effective": c.streams_effective,
            "requests_effective": c.requests_effective,
            "sparsity": c.sparsity,
            "sparsity_achieved": c.sparsity_achieved,
            "file_bytes": c.file_bytes,
            "gzip_bytes": c.gzip_bytes,
            "cores": format_cores(r.cores) if r is not None else "",
            "status": c.status,
            "p50_ms": c.p50_ms,
            "p90_ms": c.p90_ms,
            "p99_ms": c.p99_ms,
            "mean_ms": as_float(lat.get("mean")) if c.ok else None,
            "per_item_ms": c.per_item_ms,
            "throughput": c.throughput,
            "peak_rss_mb": c.peak_rss_mb,
            "load_ms": as_float(r.load_ms) if r is not None else None,
            "iterations": c.iterations,
            **{k: COLUMNS[k].value(r, record) if r is not None else None for k in _CSV_REGISTRY},
            "prompt_tokens": c.prompt_tokens,
            "new_tokens": c.new_tokens,
            "scenario": c.scenario,
            "target_qps": c.target_qps,
            "parity": c.parity,
            "parity_rel_l2": c.parity_rel_l2,
            "thread_speedup": t.speedup if t is not None else None,
            "thread_efficiency": t.efficiency if t is not None else None,
            "precision_gain": g.gain if g is not None else None,
            "error": c.error,
        }
        w.writerow({k: _csv(v) for k, v in row.items()})
    return buf.getvalue()


# -------------------------------------------------------------------------------------------------- Markdown


def _md(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool] | None = None
) -> list[str]:
    if numeric is None:
        numeric = numeric_columns(headers)
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return lines


def _md_groups(kind: GroupKind, groups: Sequence[Any]) -> list[str]:
    """A Markdown section of scaling groups (thread, batch, sparsity): the section's explanation, then per group its
    caption, its table and its notes. A group has ``rows`` (each with ``.cell``) and ``note``."""
    lines = ["", f"### {kind.title}", "", _md(kind.section.partition(": ")[2])]
    for g in groups:
        lines += ["", f"**{_md(kind.caption(g))}**", ""]
        lines += _md_table(kind.headers(g), kind.rows(g))
        lines += [f"- {_md(n)}" for n in group_notes([r.cell for r in g.rows], g.note)]
    return lines


def sweep_markdown(record: RunRecord) -> str:
    """The sweep as Markdown: a heading and summary, the configuration, the cell table (a failed cell's error in
    its status), and the scaling, precision, memory-search, sparsity and Pareto tables."""
    a = analyse(record, for_records(record))
    lines = [f"## Sweep `{record.run_id}` — {_md(model_name(record))}", ""]
    lines.append(_md(summary_line(record, a)) + f" · machine {_md(machine(record))}")
    lines += ["", "| setting | value |", "|---|---|"]
    lines += [f"| {_md(k)} | {_md(v)} |" for k, v in spec_rows(record)]
    lines += ["", "### Cells", ""]
    rows = cell_rows(a.cells)
    for row, c in zip(rows, a.cells):
        if not c.ok:
            row[-1] = f"failed: {c.error}"
    lines += _md_table(cell_headers(a.cells), rows) if rows else [f"_{no_cells_text(a)}_"]
    if a.threads:
        lines += _md_groups(THREADS, a.threads)
    if a.batches:
        lines += _md_groups(BATCHES, a.batches)
    if a.precision:
        lines += ["", "### Precision gain over the same engine's fp32", ""]
        lines += _md_table(precision_headers(), precision_rows(a.precision))
        lines += [f"- {_md(n)}" for n in precision_notes(a.precision)]
    if a.memory:
        lines += ["", "### Memory-bounded batch search"]
        for m in a.memory:
            lines += ["", f"**{_md(memory_summary(m))}**", ""]
            if m.probes:
                lines += _md_table(memory_headers(), memory_rows(m))
            if m.reason:
                lines += ["", _md(m.reason)]
    if a.sparsity:
        lines += _md_groups(SPARSITY, a.sparsity)
    if a.pareto:
        lines += ["", "### Pareto front (p50 latency vs throughput)", ""]
        lines += _md_table(pareto_headers(a.pareto), pareto_rows(a.pareto))
    if a.generation_pareto:
        lines += ["", "### Generation Pareto front (time to first token vs decode tokens/s)", ""]
        lines += _md_table(generation_pareto_headers(), generation_pareto_rows(a.generation_pareto))
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------ JSON


def sweep_json(record: RunRecord) -> dict[str, Any]:
    """The record (as stored) plus ``"analysis"``: :meth:`SweepAnalysis.to_dict` — thread and batch scaling,
    precision gain, sparsity study, memory searches, the Pareto front — as plain data (NaN/inf as null). It reads
    back as a record (``RunRecord.from_dict`` ignores ``analysis``)."""
    doc = record.to_dict()
    doc["analysis"] = analyse(record, for_records(record)).to_dict()
    out: dict[str, Any] = json_safe(doc)
    return out
