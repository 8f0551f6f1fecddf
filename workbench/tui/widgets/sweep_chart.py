"""The Sweep screen's chart: items/s vs threads, one line per engine and setting, redrawn once per finished cell.

The legend sits in the title line (plotext's own would cover the highest line); colours are theme variables
(:data:`SERIES_COLOURS`), so every theme applies. At most :data:`MAX_SERIES` lines are drawn; the title says how
many more are in the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Static
from textual_plotext import PlotextPlot

from workbench.units import rate

if TYPE_CHECKING:  # pragma: no cover
    from workbench.stats.scaling import Cell

__all__ = ["CHART_TITLE", "MAX_SERIES", "SERIES_COLOURS", "SweepChart", "throughput_series"]

CHART_TITLE = "items/s vs threads"

#: theme variables the chart's lines take their colours from, in order
SERIES_COLOURS: tuple[str, ...] = ("primary", "accent", "success", "secondary", "warning", "error")

#: most lines the chart draws (a recommendation's record holds many one-off cells)
MAX_SERIES = 6


def throughput_series(cells: Sequence["Cell"]) -> dict[str, list[tuple[int, float]]]:
    """``{label: [(threads, items/s), …]}``: one line per engine and setting of the other axes (precision, batch,
    mode, …), labelled by the engine and the axes that differ between lines (``onnxruntime b8``). Cells that failed
    or are memory-search probes are left out."""
    from workbench.stats.scaling import describe

    groups: dict[tuple[tuple[str, Any], ...], dict[int, float]] = {}
    for c in cells:
        if c.probe or not c.ok or c.throughput is None or not c.threads:
            continue
        groups.setdefault(tuple(c.axes("threads").items()), {})[c.threads] = c.throughput
    varying = {name for name, _ in next(iter(groups), ()) if len({dict(key)[name] for key in groups}) > 1}
    out: dict[str, list[tuple[int, float]]] = {}
    for key, points in groups.items():
        axes = dict(key)
        out[describe({k: v for k, v in axes.items() if k == "engine" or k in varying})] = sorted(points.items())
    return out


def _most_telling(series: dict[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, float]]]:
    """A readable chart: the :data:`MAX_SERIES` lines with most points (then the fastest); the rest are in the
    table."""
    ranked = sorted(series, key=lambda k: (-len(series[k]), -max(v for _, v in series[k])))
    keep = set(ranked[:MAX_SERIES])
    return {k: v for k, v in series.items() if k in keep}


class SweepChart(Vertical):
    """Title line with the legend, the plot (shown once a line exists) and a hint while it is empty."""

    DEFAULT_CSS = """
    SweepChart #sweep-chart-title {
        height: auto;
        max-height: 3;
    }
    SweepChart #sweep-chart {
        height: 1fr;
        display: none;
    }
    SweepChart.-drawn #sweep-chart {
        display: block;
    }
    SweepChart.-drawn #sweep-chart-empty {
        display: none;
    }
    SweepChart #sweep-chart-empty {
        height: 1fr;
        content-align: center middle;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static(CHART_TITLE, id="sweep-chart-title")
        yield PlotextPlot(id="sweep-chart")
        yield Static("drawn here as cells finish", id="sweep-chart-empty")

    def draw(self, cells: Sequence["Cell"]) -> None:
        """Throughput vs threads per engine and setting, from the finished ``cells``."""
        plot = self.query_one("#sweep-chart", PlotextPlot)
        title = self.query_one("#sweep-chart-title", Static)
        series = throughput_series(cells)
        self.set_class(bool(series), "-drawn")
        plt = plot.plt
        plt.clear_data()
        legend: list[Any] = [(CHART_TITLE, "")]
        if not series:
            title.update(Content.assemble(*legend))
            plot.refresh()
            return
        hidden = max(len(series) - MAX_SERIES, 0)
        if hidden:
            series = _most_telling(series)
        for i, (label, points) in enumerate(series.items()):
            variable = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            colour = self._colour(variable)
            xs = [float(t) for t, _ in points]
            ys = [v for _, v in points]
            plt.plot(xs, ys, marker="hd", color=colour)
            plt.scatter(xs, ys, marker="●", color=colour)
            legend += [("  ● ", f"${variable}"), (label, "")]
        if hidden:
            legend.append((f"  +{hidden} more in the table", "$text-muted"))
        title.update(Content.assemble(*legend))
        threads = sorted({t for points in series.values() for t, _ in points})
        top = max(v for points in series.values() for _, v in points)
        plt.xticks([float(t) for t in threads], [str(t) for t in threads])
        pad = max(0.5, (threads[-1] - threads[0]) * 0.05)
        plt.xlim(threads[0] - pad, threads[-1] + pad)
        plt.ylim(0, top * 1.15)
        ticks = [0.0, top / 2, top]
        plt.yticks(ticks, [rate(t) for t in ticks])
        plot.refresh()

    def _colour(self, variable: str) -> tuple[int, int, int] | str:
        """A theme variable as plotext's RGB colour (``default`` when the theme lacks it)."""
        try:
            value = self.app.theme_variables.get(variable)
            return Color.parse(value).rgb if value else "default"
        except Exception:  # pragma: no cover - defensive
            return "default"
