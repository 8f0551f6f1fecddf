"""One self-contained HTML report of a run: ``workbench report RUN --html FILE``.

The page holds the machine, the configuration, the results table as the terminal shows it (numbers through
:mod:`workbench.units`, the speedup cell of :mod:`workbench.report.text`, the below-fp32 table of
:mod:`workbench.report.precision`), one latency histogram per engine from its stored
:class:`~workbench.stats.histogram.LogHistogram`, a p50/p99 bar chart across engines, the warnings, notes and
diagnostics, and the run id and time. It is the thing people paste into a ticket or a blog post, so it needs
nothing but the file: no network, no external CSS, JavaScript or fonts; light and dark through
``prefers-color-scheme``; readable when printed. Everything taken from a record is ``html.escape``-d.

Why hand-written SVG and no plotting library
    The charts are a histogram and a bar chart: about a hundred lines of SVG written here. That works offline,
    scales and prints crisply, follows the page's colours (the SVG is inline, so CSS custom properties reach it),
    stays a few kilobytes, and keeps heavy libraries out of the install. matplotlib would add tens of megabytes
    (and a font cache) for two chart kinds; plotly/bokeh embed a JavaScript runtime, which a
    "no scripts" report cannot have. If richer charts are ever wanted they belong in an optional extra.

Seams for sweep reports
    :func:`document` (page shell and style), :func:`section`, :func:`html_table`, :func:`histogram_svg` and
    :func:`bar_chart_svg` are public and take plain data, so a sweep report (scaling curves, a Pareto front) can
    reuse the shell and the chart conventions with its own sections. Pure: records in, text out.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Callable, Mapping, Sequence

from workbench.report.export import format_cores
from workbench.report.precision import precision_notes, precision_rows
from workbench.report.text import describe_inputs, result_headers, result_notes, result_rows
from workbench.result import EngineResult, RunRecord
from workbench.units import MISSING, as_float, bytes_iec, count, ms, significant

__all__ = [
    "render_html",
    "render_sweep_html",
    "line_chart_svg",
    "pareto_svg",
    "document",
    "section",
    "html_table",
    "histogram_svg",
    "bar_chart_svg",
    "HISTOGRAM_BINS",
]

#: Bins of each latency histogram (linear, between the minimum and the 99.5th percentile).
HISTOGRAM_BINS = 40

_STYLE = """
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa;
  --line: #d0d7de; --accent: #0969da; --accent2: #bf3989; --warn: #9a6700; --bad: #cf222e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #161b22;
  --line: #30363d; --accent: #4493f8; --accent2: #db61a2; --warn: #d29922; --bad: #f85149; } }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg);
  max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 .2rem; } h2 { font-size: 1.15rem; margin: 1.6rem 0 .5rem;
  border-bottom: 1px solid var(--line); padding-bottom: .2rem; } h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
.meta, .muted { color: var(--muted); } code { font-family: ui-monospace, monospace; font-size: .9em; }
table { border-collapse: collapse; margin: .4rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: .25rem .55rem; vertical-align: top; }
th { background: var(--panel); text-align: left; } td.n { text-align: right; white-space: nowrap; }
table.kv th { width: 12rem; font-weight: 600; } .bad { color: var(--bad); font-weight: 600; }
ul { margin: .3rem 0; padding-left: 1.3rem; } li.warn::marker { color: var(--warn); }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; } figure { margin: 0; }
figcaption { font-size: .9rem; color: var(--muted); }
svg { font: 11px system-ui, sans-serif; } svg text { fill: var(--fg); } svg .axis { stroke: var(--muted); }
svg .bar { fill: var(--accent); } svg .bar2 { fill: var(--accent2); } svg .mark { stroke: var(--accent2); }
svg .grid { stroke: var(--line); }
svg .s0 { --c: var(--accent); } svg .s1 { --c: var(--accent2); } svg .s2 { --c: #1a7f37; }
svg .s3 { --c: #bc4c00; } svg .s4 { --c: #8250df; } svg .s5 { --c: #57606a; }
svg .line { fill: none; stroke: var(--c); stroke-width: 2; } svg .pt { fill: var(--c); }
svg .key { fill: var(--c); } svg .dim { fill: var(--muted); opacity: .55; } svg .limit { stroke: var(--bad); }
@media print { :root { --fg: #000; --muted: #444; --bg: #fff; --panel: #eee; --line: #999; --accent: #1f5fbf;
  --accent2: #a0306f; } body { max-width: none; margin: 0; font-size: 11pt; } h2 { break-after: avoid; }
  figure, table { break-inside: avoid; } }
"""


# ------------------------------------------------------------------------------------------------ building blocks


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def document(title: str, body: Sequence[str], subtitle: str = "") -> str:
    """The whole page: one ``<!DOCTYPE html>`` document with the inline style and ``body``'s HTML fragments."""
    head = f"<h1>{_e(title)}</h1>" + (f'<p class="meta">{_e(subtitle)}</p>' if subtitle else "")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + head
        + "\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def section(title: str, *parts: str) -> str:
    """A titled ``<section>`` of already-built HTML fragments (empty parts are dropped)."""
    return f"<section>\n<h2>{_e(title)}</h2>\n" + "\n".join(p for p in parts if p) + "\n</section>"


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool] | None = None) -> str:
    """A table; cells are escaped text. ``numeric[i]`` right-aligns column ``i`` (default: the header ends in a unit
    or is a ratio column, the way the terminal aligns numbers)."""
    if numeric is None:
        numeric = [_numeric_header(h) for h in headers]
    out = ["<table>", "<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers) + "</tr></thead>", "<tbody>"]
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = ' class="n"' if i < len(numeric) and numeric[i] else ""
            text = _e(v)
            if v in ("FAILED", "fail", "error"):
                text = f'<span class="bad">{text}</span>'
            cells.append(f"<td{cls}>{text}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _numeric_header(h: str) -> bool:
    return h.endswith((" ms", "/s", " MB")) or h in ("speedup", "vs fp32", "drift L2", "max abs", "top-1")


def _kv(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v not in (None, ""))
    return f'<table class="kv"><tbody>{body}</tbody></table>'


def _svg_head(width: int, height: int, title: str, left: int) -> list[str]:
    """The opening of an inline SVG chart: the element, its accessible title, and the title drawn at ``left``."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<text x="{left}" y="14" font-weight="600">{_e(title)}</text>',
    ]


def _ticks(top: float, n: int = 4) -> list[float]:
    """``n`` or so round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10 ** int(f"{raw:e}".split("e")[1])
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    ticks, t = [], 0.0
    while t < top + step * 0.999:
        ticks.append(round(t, 12))
        t += step
    return ticks


def _range_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values inside ``[lo, hi]`` (about ``n``), for an axis that does not start at 0."""
    span = hi - lo
    if span <= 0:
        return [lo]
    step = _ticks(span, n)[1]
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    k = 0
    while first + k * step <= hi + span * 1e-9:
        out.append(round(first + k * step, 12))
        k += 1
    return out


def histogram_svg(
    edges_ms: Sequence[float],
    counts: Sequence[int],
    title: str,
    marks: Mapping[str, float | None] | None = None,
    width: int = 440,
    height: int = 220,
) -> str:
    """A histogram as inline SVG: bars for ``counts`` between ``edges_ms`` (len(counts) + 1), a count axis, a
    latency axis in ms, and a dashed vertical line per ``marks`` entry (label → ms, e.g. p50/p99)."""
    left, right, top, bottom = 48, 12, 22, 34
    pw, ph = width - left - right, height - top - bottom
    parts = _svg_head(width, height, title, left)
    if not counts or len(edges_ms) != len(counts) + 1:
        parts.append(f'<text x="{left}" y="{top + ph / 2:.1f}">no histogram stored</text></svg>')
        return "\n".join(parts)
    lo, hi = float(edges_ms[0]), float(edges_ms[-1])
    span = (hi - lo) or 1.0
    cmax = max(max(counts), 1)
    yt = _ticks(max(cmax, 4))  # whole counts on the axis
    ymax = yt[-1]

    def x(v: float) -> float:
        return left + (v - lo) / span * pw

    def y(c: float) -> float:
        return top + ph - c / ymax * ph

    for t in yt:
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}"/>')
        parts.append(f'<text x="{left - 4}" y="{y(t) + 4:.1f}" text-anchor="end">{_e(count(t))}</text>')
    for i, c in enumerate(counts):
        if c <= 0:
            continue
        x0, x1 = x(float(edges_ms[i])), x(float(edges_ms[i + 1]))
        parts.append(
            f'<rect class="bar" x="{x0:.2f}" y="{y(c):.2f}" width="{max(x1 - x0 - 0.5, 0.5):.2f}" '
            f'height="{top + ph - y(c):.2f}"><title>{_e(ms(edges_ms[i]))}–{_e(ms(edges_ms[i + 1]))} ms: '
            f"{int(c)}</title></rect>"
        )
    parts.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}"/>')
    for v in _range_ticks(lo, hi):
        parts.append(f'<text x="{x(v):.1f}" y="{top + ph + 14}" text-anchor="middle">{_e(significant(v, 3))}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle">latency (ms)</text>')
    for k, (label, value) in enumerate((marks or {}).items()):
        mv = as_float(value)
        if mv is None or not lo <= mv <= hi:
            continue
        parts.append(
            f'<line class="mark" stroke-dasharray="4 3" x1="{x(mv):.1f}" x2="{x(mv):.1f}" y1="{top}" y2="{top + ph}"/>'
        )
        near_right = x(mv) > left + pw * 0.6  # keep the label inside the chart
        tx, anchor = (x(mv) - 3, "end") if near_right else (x(mv) + 3, "start")
        parts.append(
            f'<text x="{tx:.1f}" y="{top + 10 + 12 * k}" text-anchor="{anchor}">{_e(label)} {_e(ms(mv))}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart_svg(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    unit: str = "ms",
    width: int = 560,
    label_width: int = 120,
) -> str:
    """Horizontal grouped bars as inline SVG: one group per label, one bar per series (at most two colours,
    ``bar`` and ``bar2``), each bar labelled with its value; missing values are left out. ``label_width``: the
    room left of the bars for the labels (px)."""
    names = list(series)
    row_h, gap, left, right, top = 16, 10, label_width, 70, 40
    group_h = row_h * max(len(names), 1) + gap
    height = top + group_h * max(len(labels), 1) + 24
    values = [as_float(v) for vs in series.values() for v in vs]
    vmax = max([v for v in values if v is not None] or [1.0])
    ticks = _ticks(vmax)
    top_v = ticks[-1]
    pw = width - left - right
    parts = _svg_head(width, height, title, left)
    for k, name in enumerate(names):
        cls = "bar" if k % 2 == 0 else "bar2"
        parts.append(f'<rect class="{cls}" x="{left + 90 * k}" y="21" width="10" height="10"/>')
        parts.append(f'<text x="{left + 90 * k + 14}" y="30">{_e(name)}</text>')
    bottom = top + group_h * max(len(labels), 1)
    for t in ticks:
        tx = left + t / top_v * pw
        parts.append(f'<line class="grid" x1="{tx:.1f}" x2="{tx:.1f}" y1="{top}" y2="{bottom}"/>')
        parts.append(f'<text x="{tx:.1f}" y="{bottom + 14}" text-anchor="middle">{_e(significant(t, 3))}</text>')
    for g, label in enumerate(labels):
        gy = top + g * group_h
        parts.append(
            f'<text x="{left - 6}" y="{gy + group_h / 2:.1f}" text-anchor="end" dominant-baseline="middle">'
            f"{_e(label)}</text>"
        )
        for k, name in enumerate(names):
            seq = series[name]
            v = as_float(seq[g]) if g < len(seq) else None
            if v is None:
                continue
            cls = "bar" if k % 2 == 0 else "bar2"
            by = gy + k * row_h
            bw = max(v / top_v * pw, 0.5)
            parts.append(
                f'<rect class="{cls}" x="{left}" y="{by}" width="{bw:.2f}" height="{row_h - 3}">'
                f"<title>{_e(label)} {_e(name)}: {_e(ms(v))} {_e(unit)}</title></rect>"
            )
            parts.append(f'<text x="{left + bw + 4:.1f}" y="{by + row_h - 5}">{_e(ms(v))} {_e(unit)}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------------ the run


def _system(record: RunRecord) -> list[tuple[str, Any]]:
    """Machine rows from ``record.system``: the full machine description a run stores, or the older summary."""
    s = record.system or {}

    def part(key: str) -> Mapping[str, Any]:
        value = s.get(key)
        return value if isinstance(value, Mapping) else {}

    cpu, mem, virt, os_ = part("cpu"), part("memory"), part("virtualisation"), part("os")
    fields = part("fingerprint_fields")
    model = cpu.get("model") or s.get("cpu_model") or fields.get("cpu_model")
    isa = cpu.get("highlights") or s.get("isa") or fields.get("isa") or []
    sockets = cpu.get("sockets", s.get("sockets"))
    physical = cpu.get("physical_cores", s.get("physical_cores"))
    logical = cpu.get("logical_cpus", s.get("logical_cpus"))
    topo = (
        f"{sockets if sockets is not None else MISSING} socket(s), {physical if physical is not None else MISSING} "
        f"cores, {logical if logical is not None else MISSING} threads"
        if any(v is not None for v in (sockets, physical, logical))
        else None
    )
    total = mem.get("total_bytes")
    if total is not None:
        memory: Any = bytes_iec(total)
    elif s.get("memory_total_gib") is not None:
        memory = f"{s['memory_total_gib']} GiB"
    else:
        memory = None
    vm, container = virt.get("vm", s.get("vm")), virt.get("container", s.get("container"))
    virt_text = ", ".join(x for x in (f"VM {vm}" if vm else "", f"container {container}" if container else "") if x)
    if not virt_text and (virt or "vm" in s):
        virt_text = "none detected"
    rows: list[tuple[str, Any]] = [
        ("CPU", model or MISSING),
        ("architecture", cpu.get("machine") or fields.get("machine")),
        ("topology", topo),
        ("ISA highlights", ", ".join(str(x) for x in isa) if isa else None),
        ("memory", memory),
        ("virtualisation", virt_text or None),
        ("OS", os_.get("distro") or os_.get("system") or s.get("os")),
        ("kernel", os_.get("kernel") or s.get("kernel")),
        ("hostname", s.get("hostname")),
        ("fingerprint", s.get("fingerprint")),
    ]
    versions = ", ".join(f"{k} {v}" for k, v in (record.versions or {}).items() if v)
    rows.append(("versions", versions or None))
    return rows


def _config(record: RunRecord) -> list[tuple[str, Any]]:
    c = record.config or {}
    first = record.results[0] if record.results else None
    model = record.model or {}
    engines = c.get("engines") or [r.engine for r in record.results]
    cores = c.get("cores", first.cores if first else None)
    duration = as_float(c.get("duration_s"))
    repeats = c.get("repeats")
    dur = f"{duration:g} s" + (f" × {repeats}" if repeats else "") if duration is not None else None
    inputs = c.get("inputs")
    given = describe_inputs(inputs) if isinstance(inputs, Mapping) else ""
    options = c.get("engine_options") or {}
    opts = (
        "; ".join(
            f"{eng}: " + ", ".join(f"{k}={v}" for k, v in (o.items() if isinstance(o, Mapping) else []))
            for eng, o in options.items()
        )
        if isinstance(options, Mapping)
        else str(options)
    )
    threads = c.get("threads", first.threads if first else None)
    return [
        ("model", model.get("name") or (first.model if first else MISSING)),
        ("source", model.get("source")),
        ("engines", ", ".join(str(e) for e in engines)),
        ("baseline", record.baseline),
        ("device", c.get("device")),
        ("precision", c.get("precision", first.precision_requested if first else None)),
        ("mode", c.get("mode", first.mode if first else None)),
        ("batch", c.get("batch", first.batch if first else None)),
        ("threads", threads if threads is not None else "auto"),
        ("cores", format_cores(cores) if isinstance(cores, (list, tuple)) else (cores or "all")),
        ("duration", dur),
        ("inputs given", given or "none (all generated)"),
        ("engine options", opts or None),
        ("tags", ", ".join(record.tags) if record.tags else None),
        ("note", record.note),
    ]


def _notes(record: RunRecord) -> list[tuple[str, str]]:
    """The terminal's notes (:func:`workbench.report.text.result_notes`), then the below-fp32 notes."""
    return result_notes(record) + [("note", line.strip()) for line in precision_notes(record)]


def _histogram(r: EngineResult) -> str:
    lat = r.latency_ms or {}
    title = f"{r.engine} · {r.precision_effective or r.precision_requested} · latency per call"
    binned: dict[str, Any] = {}
    if r.histogram:
        from workbench.stats.histogram import LogHistogram

        try:
            binned = LogHistogram.from_dict(dict(r.histogram)).binned(HISTOGRAM_BINS)
        except (ValueError, TypeError, KeyError):
            binned = {}
    svg = histogram_svg(
        binned.get("edges_ms") or [],
        binned.get("counts") or [],
        title,
        marks={"p50": lat.get("p50"), "p99": lat.get("p99")},
    )
    over = binned.get("overflow") or 0
    caption = f"{r.iterations} calls" + (
        f"; {over} above the 99.5th percentile counted in the last bin" if over else ""
    )
    return f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>"


def _loadgen_parts(record: RunRecord) -> list[str]:
    """A LoadGen scenario's table (the ``loadgen`` view) and its notes, when some result ran one."""
    from workbench.report.columns import has_loadgen, headers
    from workbench.report.loadgen import loadgen_notes, loadgen_rows

    if not has_loadgen(record.results):
        return []
    notes = "".join(f'<li class="note">{_e(n)}</li>' for n in loadgen_notes(record))
    return [
        "<h3>Under load (MLPerf LoadGen)</h3>",
        html_table(headers("loadgen"), loadgen_rows(record)),
        f"<ul>{notes}</ul>" if notes else "",
    ]


def _qps_curve(record: RunRecord) -> str:
    """``--find-max-qps``: LoadGen's latency at the percentile against the Server target QPS of every probe, one
    line per engine, the bound dashed; beside each engine its issue delay's p99 (LoadGen's issue to the engine
    starting the query) where the probes measured it."""
    searches = [r.qps_search for r in record.results if r.qps_search]
    if not searches:
        return ""
    series: dict[str, list[tuple[Any, Any]]] = {}
    for r in record.results:
        s = r.qps_search or {}
        pts = sorted(
            (p.get("target_qps"), p.get("latency_ms"))
            for p in s.get("probes") or []
            if p.get("kind") != "offline" and p.get("target_qps") and p.get("latency_ms") is not None
        )
        if pts:
            series[r.engine] = pts
        delays = sorted(
            (p.get("target_qps"), p.get("issue_p99_ms"))
            for p in s.get("probes") or []
            if p.get("kind") != "offline" and p.get("target_qps") and p.get("issue_p99_ms") is not None
        )
        if delays:  # the part of the latency spent before the engine started the query
            series[f"{r.engine} issue delay"] = delays
    first = searches[0]
    pct = f"p{as_float(first.get('percentile')) or 99:g}"
    svg = line_chart_svg(
        series,
        f"{pct} latency vs offered QPS (LoadGen Server probes)",
        "target QPS",
        f"{pct} ms",
        hline=as_float(first.get("latency_bound_ms")),
        hline_label="bound",
    )
    best = "; ".join(
        f"{r.engine}: {((r.qps_search or {}).get('best') or {}).get('target_qps') or 'none VALID'} QPS"
        for r in record.results
        if r.qps_search
    )
    return section("Max QPS under the bound", f"<figure>{svg}<figcaption>{_e(best)}</figcaption></figure>")


def render_html(record: RunRecord) -> str:
    """The whole report of one run as a self-contained HTML document (see the module docstring); a sweep record
    (``kind == "sweep"``) is rendered by :func:`render_sweep_html`."""
    if getattr(record, "kind", "run") == "sweep":
        return render_sweep_html(record)
    model = (record.model or {}).get("name") or (record.results[0].model if record.results else "?")
    c = record.config or {}
    body = [
        section("Machine", _kv(_system(record))),
        section("Configuration", _kv(_config(record))),
    ]
    results = [html_table(result_headers(record), result_rows(record))]
    if any(r.fp32_baseline for r in record.results):
        headers, rows = precision_rows(record)
        drift = next((r.drift for r in record.results if r.drift), None) or {}
        tol = f", tolerance {significant(drift.get('tolerance'))}" if drift.get("tolerance") else ""
        samples = f"on {drift.get('samples')} seeded inputs" if drift.get("samples") else "on seeded inputs"
        results.append(
            f"<h3>{_e(c.get('precision'))} against each engine's own fp32 (same run; drift {_e(samples)}{_e(tol)})</h3>"
        )
        results.append(html_table(headers, rows))
    under_load = _loadgen_parts(record)
    if under_load:
        results += under_load
    body.append(section("Results", *results))
    curve = _qps_curve(record)
    if curve:
        body.append(curve)
    ok = [r for r in record.results if r.ok]
    if ok:
        charts = [_histogram(r) for r in ok]
        bars = bar_chart_svg(
            [r.engine for r in ok],
            {
                "p50": [as_float((r.latency_ms or {}).get("p50")) for r in ok],
                "p99": [as_float((r.latency_ms or {}).get("p99")) for r in ok],
            },
            "p50 and p99 latency by engine",
        )
        body.append(section("Latency", f"<figure>{bars}</figure>", '<div class="charts">' + "".join(charts) + "</div>"))
    notes = _notes(record)
    if notes:
        items = "".join(f'<li class="{k}">{_e(t)}</li>' for k, t in notes)
        body.append(section("Warnings and notes", f"<ul>{items}</ul>"))
    if record.diagnostics:
        items = "".join(
            f"<li>{_e(d.get('where'))}{' (' + _e(d.get('engine')) + ')' if d.get('engine') else ''}: "
            f"{_e(d.get('error'))}</li>"
            for d in record.diagnostics
        )
        body.append(
            section(
                "Diagnostics",
                '<p class="muted">Advisory parts of the run that failed; the numbers stand.</p>',
                f"<ul>{items}</ul>",
            )
        )
    footer = f'<p class="meta">run <code>{_e(record.run_id)}</code> · created {_e(record.created)} · schema {_e(record.schema)}</p>'
    body.append(footer)
    subtitle = f"batch {c.get('batch', MISSING)} · {c.get('mode', MISSING)} · run {record.run_id} · {record.created}"
    return document(f"{model} — workbench run", body, subtitle)


# ---------------------------------------------------------------------------------------------------- the sweep
#
# The sweep half (issue #11 item 6): machine, configuration, cell table, the scaling analysis of
# workbench.stats.scaling with its curves, the memory search's RSS curve and the latency/throughput Pareto front.
# Rows and captions come from workbench.report.sweep, so the terminal, Markdown and this page show the same numbers.

#: series colours of the line charts (CSS classes ``s0`` … ``s5``, cycled)
SERIES_CLASSES = 6


def _finite_points(pts: Sequence[tuple[Any, Any]]) -> list[tuple[float, float]]:
    out = []
    for x, y in pts:
        fx, fy = as_float(x), as_float(y)
        if fx is not None and fy is not None:
            out.append((fx, fy))
    return sorted(out)


def _x_axis(xs: Sequence[float], lo_px: float, width_px: float, log: bool | None = None) -> tuple[Any, bool]:
    """A mapping value → pixel for the x values ``xs`` (logarithmic when positive and spread 8× or more, unless
    ``log`` says), and whether it is logarithmic."""
    lo, hi = min(xs), max(xs)
    use_log = (lo > 0 and hi / lo >= 8) if log is None else (log and lo > 0)
    pad = min(10.0, width_px / 10)  # keep the first and last points off the axes
    lo_px, width_px = lo_px + pad, width_px - 2 * pad
    if hi == lo:
        return (lambda v: lo_px + width_px / 2), use_log
    if use_log:
        a, b = math.log(lo), math.log(hi)
        return (lambda v: lo_px + (math.log(v) - a) / (b - a) * width_px), True
    return (lambda v: lo_px + (v - lo) / (hi - lo) * width_px), False


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks per decade inside ``[lo, hi]`` (both > 0)."""
    out, k = [], math.floor(math.log10(lo))
    while 10**k <= hi * 1.0001:
        out += [m * 10**k for m in (1, 2, 5) if lo * 0.9999 <= m * 10**k <= hi * 1.0001]
        k += 1
    return out


def _x_ticks(xs: Sequence[float], log: bool) -> list[float]:
    """Ticks for discrete axis values (threads, batches): the values themselves, up to 12 of them."""
    distinct = sorted(set(xs))
    if len(distinct) <= 12:
        return distinct
    return _log_ticks(distinct[0], distinct[-1]) if log else _range_ticks(distinct[0], distinct[-1])


def _spaced(ticks: Sequence[float], fx: Any, gap: float = 26.0) -> list[float]:
    """``ticks`` without those whose label would crowd the previous one (closer than ``gap`` px); the last tick
    wins over the one before it."""
    kept: list[float] = []
    for t in ticks:
        if kept and fx(t) - fx(kept[-1]) < gap:
            if t == ticks[-1] and len(kept) > 1:
                kept[-1] = t
            continue
        kept.append(t)
    return kept


def _tick_text(v: float) -> str:
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else significant(v, 3)


def _legend(
    names: Sequence[str], x0: float, y0: float, width: float, classes: Sequence[str]
) -> tuple[list[str], float]:
    """Legend swatches and names from ``(x0, y0)``, wrapping at ``width``; returns the parts and the next free y."""
    parts, x, y = [], x0, y0
    for name, cls in zip(names, classes):
        w = 22 + 6.5 * len(name)
        if x > x0 and x + w > x0 + width:
            x, y = x0, y + 15
        parts.append(f'<rect class="key {cls}" x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10"/>')
        parts.append(f'<text x="{x + 14:.1f}" y="{y:.1f}">{_e(name)}</text>')
        x += w
    return parts, y + 12


def line_chart_svg(
    series: Mapping[str, Sequence[tuple[Any, Any]]],
    title: str,
    x_label: str,
    y_label: str,
    hline: float | None = None,
    hline_label: str = "",
    dashed: Sequence[str] = (),
    width: int = 460,
    height: int = 270,
    y_from_zero: bool = True,
) -> str:
    """Lines with point markers as inline SVG: one line per ``series`` entry (name → ``(x, y)`` points; colours
    ``s0``…``s5``, a legend), a y axis from 0, an x axis at the data's x values (logarithmic when they spread 8× or
    more), an optional dashed horizontal line at ``hline`` (e.g. a memory limit). Series named in ``dashed`` are
    drawn dashed (e.g. an ideal line). ``y_from_zero=False`` zooms the y axis on the data (a memory curve a few MB
    apart). Every point carries a ``<title>`` with its values; missing values are left out; a chart without points
    says so."""
    left, right, bottom = 58, 14, 40
    names = list(series)
    classes = [f"s{k % SERIES_CLASSES}" for k in range(len(names))]
    legend, top = _legend(names, left, 32, width - left - right, classes)
    top += 4
    pw, ph = width - left - right, height - top - bottom
    head = _svg_head(width, height, title, left)
    clean = {name: _finite_points(series[name]) for name in names}
    pts_all = [p for pts in clean.values() for p in pts]
    if not pts_all:
        return "\n".join([*head, f'<text x="{left}" y="{top + ph / 2:.1f}">no measurements to draw</text></svg>'])
    xs = [x for x, _ in pts_all]
    fx, log = _x_axis(xs, left, pw)
    hv = as_float(hline)
    ys = [y for _, y in pts_all] + ([hv] if hv is not None else [])
    yt = _y_ticks(max(ys + [0.0]), min(ys), y_from_zero)
    ybottom, ytop = yt[0], yt[-1]
    yspan = (ytop - ybottom) or 1.0

    def fy(v: float) -> float:
        return top + ph - (min(max(v, ybottom), ytop) - ybottom) / yspan * ph

    parts = [*head, *legend]
    for t in yt:
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{fy(t):.1f}" y2="{fy(t):.1f}"/>')
        parts.append(f'<text x="{left - 4}" y="{fy(t) + 4:.1f}" text-anchor="end">{_e(significant(t, 3))}</text>')
    for v in _spaced(_x_ticks(xs, log), fx):
        parts.append(f'<text x="{fx(v):.1f}" y="{top + ph + 14}" text-anchor="middle">{_e(_tick_text(v))}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}"/>')
    parts.append(
        f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{_e(x_label)}'
        f"{' (log scale)' if log else ''}</text>"
    )
    parts.append(
        f'<text x="12" y="{top + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 12 {top + ph / 2:.1f})">'
        f"{_e(y_label)}</text>"
    )
    if hv is not None:
        parts.append(
            f'<line class="limit" stroke-dasharray="5 4" x1="{left}" x2="{left + pw}" y1="{fy(hv):.1f}" '
            f'y2="{fy(hv):.1f}"/>'
        )
        if hline_label:
            parts.append(f'<text x="{left + pw - 4}" y="{fy(hv) - 4:.1f}" text-anchor="end">{_e(hline_label)}</text>')
    for name, cls in zip(names, classes):
        parts += _series_marks(name, cls, clean[name], fx, fy, name in dashed, x_label, y_label)
    parts.append("</svg>")
    return "\n".join(parts)


def _y_ticks(ymax: float, ymin: float, from_zero: bool) -> list[float]:
    """A line chart's y ticks: from 0 with room above the highest point, or (``from_zero`` False) round ticks
    around the data, one step of margin where the data reach the edge."""
    if from_zero or ymax <= ymin:
        return _ticks(ymax * 1.05 if ymax > 0 else 1.0)
    span = ymax - ymin
    yt = _range_ticks(ymin - span * 0.1, ymax + span * 0.1)
    step = yt[1] - yt[0] if len(yt) > 1 else span
    while yt[0] > ymin - span * 0.05:
        yt.insert(0, round(yt[0] - step, 12))
    while yt[-1] < ymax + span * 0.05:
        yt.append(round(yt[-1] + step, 12))
    return yt


def _series_marks(
    name: str,
    cls: str,
    pts: Sequence[tuple[float, float]],
    fx: Callable[[float], float],
    fy: Callable[[float], float],
    dashed: bool,
    x_label: str,
    y_label: str,
) -> list[str]:
    """One series of a line chart: its line (dashed, without markers, for an ideal line) and a marker per point
    with a ``<title>`` of its values."""
    if not pts:
        return []
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    coords = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y in pts)
    out = [f'<polyline class="line {cls}"{dash} points="{coords}"/>']
    if dashed:
        return out
    for x, y in pts:
        out.append(
            f'<circle class="pt {cls}" cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="3.2">'
            f"<title>{_e(name)}: {_e(x_label)} {_e(_tick_text(x))} → {_e(significant(y))} {_e(y_label)}</title>"
            "</circle>"
        )
    return out


def pareto_svg(
    points: Sequence[tuple[Any, Any, str]],
    front: Sequence[tuple[Any, Any, str]],
    title: str = "throughput vs p50 latency: the Pareto front",
    width: int = 620,
    height: int = 330,
    y_label: str = "items/s",
    other: str = "other cells",
    label_front: bool = False,
    x_label: str = "p50 latency per call (ms)",
) -> str:
    """Every cell as a point (x = p50 latency per call in ms, logarithmic when it spreads 8× or more; y = items/s
    from 0), the ``front`` (:func:`workbench.stats.scaling.pareto_front`) highlighted and joined; each point's
    ``<title>`` names its cell. ``y_label`` names another y (``$/M items`` for the latency × cost front),
    ``other`` the legend's other points; ``label_front`` writes each front point's label beside it (the part
    before `` · ``, e.g. its machine)."""
    left, right, top, bottom = 64, 14, 44, 40
    pw, ph = width - left - right, height - top - bottom
    head = _svg_head(width, height, title, left)
    usable = [(float(x), float(y), str(label)) for x, y, label in points if as_float(x) and as_float(y) is not None]
    best = [(float(x), float(y), str(label)) for x, y, label in front if as_float(x) and as_float(y) is not None]
    if not usable and not best:
        return "\n".join([*head, f'<text x="{left}" y="{top + ph / 2:.1f}">no cells ran</text></svg>'])
    every = usable + best
    fx, log = _x_axis([p[0] for p in every], left, pw)
    yt = _ticks(max(p[1] for p in every) * 1.05 or 1.0)
    ytop = yt[-1] or 1.0

    def fy(v: float) -> float:
        return top + ph - max(v, 0.0) / ytop * ph

    legend, _ = _legend(["Pareto front", other], left, 32, pw, ["s1", "s5"])
    parts = [*head, *legend]
    for t in yt:
        parts.append(f'<line class="grid" x1="{left}" x2="{left + pw}" y1="{fy(t):.1f}" y2="{fy(t):.1f}"/>')
        parts.append(f'<text x="{left - 4}" y="{fy(t) + 4:.1f}" text-anchor="end">{_e(significant(t, 3))}</text>')
    xs = sorted({p[0] for p in every})
    # latencies are continuous: round ticks across the range (1-2-5 per decade on a log axis), not the data values
    ticks = _log_ticks(xs[0], xs[-1]) if log else _range_ticks(xs[0], xs[-1])
    if len(ticks) < 2:
        ticks = sorted({xs[0], xs[-1]})
    if len(ticks) > 8:
        ticks = ticks[:: math.ceil(len(ticks) / 8)]
    for v in ticks:
        parts.append(f'<text x="{fx(v):.1f}" y="{top + ph + 14}" text-anchor="middle">{_e(significant(v, 3))}</text>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}"/>')
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}"/>')
    parts.append(
        f'<text x="{left + pw / 2}" y="{height - 6}" text-anchor="middle">{_e(x_label)}'
        f"{', log scale' if log else ''}</text>"
    )
    parts.append(
        f'<text x="12" y="{top + ph / 2:.1f}" text-anchor="middle" transform="rotate(-90 12 {top + ph / 2:.1f})">'
        f"{_e(y_label)}</text>"
    )
    on_front = {(x, y, label) for x, y, label in best}
    for x, y, label in usable:
        if (x, y, label) in on_front:
            continue
        parts.append(
            f'<circle class="pt s5 dim" cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="3">'
            f"<title>{_e(label)}: {_e(ms(x))} ms, {_e(significant(y))} {_e(y_label)}</title></circle>"
        )
    if best:
        ordered = sorted(best)
        coords = " ".join(f"{fx(x):.1f},{fy(y):.1f}" for x, y, _ in ordered)
        parts.append(f'<polyline class="line s1" points="{coords}"/>')
        for x, y, label in ordered:
            parts.append(
                f'<circle class="pt s1" cx="{fx(x):.1f}" cy="{fy(y):.1f}" r="4.5">'
                f"<title>{_e(label)} (on the front): {_e(ms(x))} ms, {_e(significant(y))} {_e(y_label)}</title>"
                "</circle>"
            )
            if label_front:
                anchor = "end" if fx(x) > left + pw * 0.7 else "start"
                dx = -7 if anchor == "end" else 7
                parts.append(
                    f'<text class="plabel" x="{fx(x) + dx:.1f}" y="{fy(y) - 6:.1f}" text-anchor="{anchor}">'
                    f"{_e(label.split(' · ')[0])}</text>"
                )
    parts.append("</svg>")
    return "\n".join(parts)


def _label_px(labels: Any) -> int:
    """Room (px) for the longest of ``labels`` at the charts' 11 px font."""
    return int(max((len(str(x)) for x in labels), default=0) * 6.2) + 12


def _figures(svgs: Sequence[str]) -> str:
    return '<div class="charts">' + "".join(f"<figure>{s}</figure>" for s in svgs) + "</div>" if svgs else ""


def _note_list(notes: Sequence[str], cls: str = "note") -> str:
    return "<ul>" + "".join(f'<li class="{cls}">{_e(n)}</li>' for n in notes) + "</ul>" if notes else ""


def render_sweep_html(record: RunRecord) -> str:
    """The whole report of a sweep as one self-contained HTML document (:mod:`workbench.report.sweep_html`)."""
    from workbench.report.sweep_html import render_sweep_html as render

    return render(record)
