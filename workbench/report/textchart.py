"""Line charts as plain text for the terminal, drawn with plotext (the sweep report's thread, efficiency,
batch, sparsity, memory and Pareto charts; compare --by machine's latency × cost front): sized for 80 columns, no
colour codes, a logarithmic x axis when the values spread. plotext draws on one
module-level figure, so drawing is serialised by a lock.
"""

from __future__ import annotations

import math
import re
import threading
from typing import Mapping, Sequence

from workbench.units import significant

CHART_WIDTH = 78
CHART_HEIGHT = 15
MAX_CHARTS = 4

_PLOT_LOCK = threading.Lock()  # plotext draws on one module-level figure
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_MARKERS = ("•", "x", "o", "+", "*", "#", "@", "%")


def nice_ticks(top: float, n: int = 4) -> list[float]:
    """About ``n`` round tick values from 0 to at least ``top`` (steps of 1, 2, 2.5 or 5 × 10^k)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / n
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    count = math.ceil(top / step - 1e-9)
    return [round(k * step, 12) for k in range(count + 1)]


def line_chart(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    xlabel: str,
    ylabel: str,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    hline: float | None = None,
    scatter: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    data_ticks: bool = True,
    y_from_zero: bool = True,
    scatter_last: bool = False,
) -> str:
    """A plotext chart as plain text (no colour codes), ``width`` columns wide: one line per ``series`` entry
    (each its own marker, named in the legend), optional ``scatter`` points and a horizontal line at ``hline``.
    The x axis is logarithmic when the x values are positive and span 16× or more; its ticks are the x values
    (``data_ticks``, for axes such as threads and batch) or plotext's own; the y axis starts at 0 with round ticks
    (``y_from_zero=False``: zoomed on the data); ``scatter_last``: the points drawn over the lines (a front joined
    through points that keep their own markers). An empty chart is ``""``."""
    xs = sorted({float(x) for pts in (*series.values(), *(scatter or {}).values()) for x, _ in pts})
    if not xs:
        return ""
    import plotext as plt

    with _PLOT_LOCK:
        plt.clear_figure()
        plt.theme("clear")
        plt.plotsize(width, height)
        k = 0

        def points() -> None:
            nonlocal k
            for name, pts in (scatter or {}).items():
                if pts:
                    marker = _MARKERS[k % len(_MARKERS)]
                    plt.scatter([p[0] for p in pts], [p[1] for p in pts], label=name, marker=marker)
                    k += 1

        if not scatter_last:
            points()
        for name, pts in series.items():
            if pts:
                pts = sorted(pts)
                plt.plot([p[0] for p in pts], [p[1] for p in pts], label=name, marker=_MARKERS[k % len(_MARKERS)])
                k += 1
        if scatter_last:
            points()
        ys = [float(y) for pts in (*series.values(), *(scatter or {}).values()) for _, y in pts]
        if hline is not None:
            plt.hline(hline)
            ys.append(float(hline))
        top = max(ys) if ys else 1.0
        low = min(ys) if ys and not y_from_zero else 0.0
        if y_from_zero or top <= low:
            yticks = nice_ticks(top * 1.05 if top > 0 else 1.0)
            bottom = 0.0
        else:  # zoomed on the data (a memory curve a few MB apart), with a margin
            span = top - low
            step = nice_ticks(span)[1]
            bottom = math.floor((low - span * 0.1) / step) * step
            yticks = [round(bottom + k * step, 12) for k in range(math.ceil((top + span * 0.05 - bottom) / step) + 1)]
        plt.ylim(bottom, bottom + (yticks[-1] - bottom) * 1.25)  # room above the data for the legend
        plt.yticks(yticks, [significant(t, 3) if t else "0" for t in yticks])
        if xs[0] > 0 and xs[-1] / xs[0] >= 16:
            plt.xscale("log")
        if data_ticks and len(xs) <= 12:
            plt.xticks(xs, [significant(x, 3) if x != int(x) else str(int(x)) for x in xs])
        plt.title(title)
        plt.xlabel(xlabel)
        plt.ylabel(ylabel)
        text = plt.build()
        plt.clear_figure()
    return "\n".join(line.rstrip() for line in _ANSI.sub("", text).splitlines())


def add_charts(
    out: list[str], charts: Sequence[tuple[str, Mapping[str, Sequence[tuple[float, float]]]]], xlabel: str, ylabel: str
) -> None:
    """Append up to :data:`MAX_CHARTS` of ``charts`` (title, series) to ``out``, each after a blank line, and a
    line saying how many more the HTML report holds."""
    shown = 0
    for title, series in charts:
        if shown == MAX_CHARTS:
            out.append(f"({len(charts) - shown} more chart(s) in `workbench report ID --html FILE`)")
            break
        text = line_chart(title, series, xlabel, ylabel)
        if text:
            out += ["", text]
            shown += 1


__all__ = ["CHART_HEIGHT", "CHART_WIDTH", "MAX_CHARTS", "add_charts", "line_chart", "nice_ticks"]
