"""A latency histogram drawn with block characters, sized to the widget: one column per screen cell, eighth-block
heights, a tick row with the unit.

The Live pane draws one per engine from the runner's pre-binned counts (log-spaced bins from p0.1 to p99, so one slow
outlier cannot squeeze the body into a column). Below fp32 the engine's fp32 baseline is drawn behind the run's own
precision on the same axis, in a muted colour (where the baseline is taller, the cell's background shows it).
Each series is scaled to its own tallest column: the plot compares shapes and positions, the stats line above it
gives the numbers.

:func:`layout` is pure (tests check it without a screen); :class:`LatencyHistogram` renders it with the theme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from rich.text import Text
from textual.color import Color
from textual.reactive import reactive
from textual.widget import Widget

from workbench.units import ms

__all__ = ["Axis", "LatencyHistogram", "axis_for", "layout", "tick_row"]

BLOCKS = " ▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class Axis:
    """The x axis in milliseconds; logarithmic when every series' bins are (then positions are log10 ms)."""

    lo: float
    hi: float
    log: bool

    def x(self, value_ms: float) -> float:
        return math.log10(value_ms) if self.log else value_ms

    def ticks(self) -> list[float]:
        """Both ends and the middle (the geometric middle on a log axis)."""
        mid = math.sqrt(self.lo * self.hi) if self.log else (self.lo + self.hi) / 2
        return [self.lo, mid, self.hi]


def _drawable(hist: Mapping[str, Any] | None) -> bool:
    if not hist:
        return False
    edges, counts = hist.get("edges_ms") or [], hist.get("counts") or []
    return bool(counts) and len(edges) == len(counts) + 1 and float(edges[-1]) > float(edges[0])


def axis_for(hists: Sequence[Mapping[str, Any] | None]) -> Axis | None:
    """The axis spanning every drawable histogram, or None when there is none."""
    shown = [h for h in hists if _drawable(h)]
    if not shown:
        return None
    lo = min(float(h["edges_ms"][0]) for h in shown)  # type: ignore[index]
    hi = max(float(h["edges_ms"][-1]) for h in shown)  # type: ignore[index]
    log = lo > 0 and all(h.get("scale") == "log" for h in shown)  # type: ignore[union-attr]
    return Axis(lo, hi, log)


def _columns(hist: Mapping[str, Any], axis: Axis, width: int) -> list[float]:
    """The density (count per unit of axis) at each screen column's centre, scaled to 0..1 by the series' top."""
    edges = [axis.x(float(e)) for e in hist["edges_ms"]]
    counts = [float(c) for c in hist["counts"]]
    density = [c / (b - a) if b > a else 0.0 for c, a, b in zip(counts, edges, edges[1:])]
    left, right = axis.x(axis.lo), axis.x(axis.hi)
    step = (right - left) / width
    out = []
    j = 0
    for col in range(width):
        centre = left + (col + 0.5) * step
        while j < len(density) - 1 and centre >= edges[j + 1]:
            j += 1
        inside = edges[0] <= centre <= edges[-1]
        out.append(density[j] if inside else 0.0)
    top = max(out, default=0.0)
    return [v / top for v in out] if top > 0 else out


def layout(hists: Sequence[Mapping[str, Any] | None], width: int, rows: int) -> list[list[tuple[int, int]]]:
    """``rows`` lines of ``width`` cells, top line first; each cell is ``(eighths of series 1, eighths of series
    0)`` for two series (``hists[0]`` behind, ``hists[1]`` in front) or ``(eighths, 0)`` for one. A column with any
    samples shows at least one eighth, so a sparse tail stays visible."""
    axis = axis_for(hists)
    grid = [[(0, 0) for _ in range(width)] for _ in range(rows)]
    if axis is None or width < 1 or rows < 1:
        return grid
    cols = [_columns(h, axis, width) if h is not None and _drawable(h) else [0.0] * width for h in hists]
    front, back = (cols[-1], cols[0]) if len(cols) > 1 else (cols[0], [0.0] * width)
    total = rows * 8

    def level(value: float) -> int:
        return max(1, round(value * total)) if value > 0 else 0

    for c in range(width):
        lf, lb = level(front[c]), level(back[c])
        for r in range(rows):
            floor = (rows - 1 - r) * 8
            grid[r][c] = (min(8, max(0, lf - floor)), min(8, max(0, lb - floor)))
    return grid


def tick_row(axis: Axis | None, width: int) -> str:
    """``lo`` at the left, the middle centred, ``hi ms`` at the right."""
    if axis is None or width < 1:
        return ""
    labels = [ms(t) for t in axis.ticks()]
    labels[-1] += " ms"
    line = [" "] * width

    def put(text: str, start: int) -> None:
        start = max(0, min(start, width - len(text)))
        for i, ch in enumerate(text[: width - start]):
            line[start + i] = ch

    put(labels[0], 0)
    if width >= len(labels[0]) + len(labels[1]) + len(labels[2]) + 4:
        put(labels[1], width // 2 - len(labels[1]) // 2)
    put(labels[2], width - len(labels[2]))
    return "".join(line).rstrip()


class LatencyHistogram(Widget):
    """Histograms of one engine: ``series`` is ``(run's own,)`` or ``(fp32 baseline, run's own)`` pre-binned dicts.
    ``label`` (``TTFT``, ``per token``) starts the tick row, so two charts of one engine say which is which."""

    DEFAULT_CSS = """
    LatencyHistogram {
        height: 1fr;
        min-height: 2;
    }
    """

    series: reactive[tuple[Any, ...]] = reactive((), layout=False)

    def __init__(self, label: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label

    def _colour(self, variable: str, fallback: str) -> str:
        try:
            value = self.app.theme_variables.get(variable)
            return Color.parse(value).hex if value else fallback
        except Exception:  # pragma: no cover - defensive
            return fallback

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        if width < 4 or height < 1 or not any(_drawable(h) for h in self.series):
            if self.label and height >= 1:  # say what will be drawn here
                waiting = Text("\n" * (height - 1), no_wrap=True, overflow="crop")
                waiting.append(f"{self.label} —", style=self._colour("text-muted", "grey50"))
                return waiting
            return Text("")
        rows = max(1, height - 1)
        grid = layout(self.series, width, rows)
        front = self._colour("accent", "cyan")
        back = self._colour("text-muted", "grey50")
        text = Text(no_wrap=True, overflow="crop")
        two = len(self.series) > 1
        for r, line in enumerate(grid):
            for f, b in line:
                if f:
                    style = f"{front} on {back}" if two and b > f else front
                    text.append(BLOCKS[f], style=style)
                elif b:
                    text.append(BLOCKS[b], style=back)
                else:
                    text.append(" ")
            if r < len(grid) - 1 or height > rows:
                text.append("\n")
        if height > rows:
            label = f"{self.label} " if self.label and width > len(self.label) + 12 else ""
            if label:
                text.append(label, style=f"bold {back}")
            text.append(tick_row(axis_for(self.series), width - len(label)), style=back)
        return text
