"""The Sweep screen's cells table: one row per finished cell, coloured by its status and parity.

A row's values are :func:`workbench.report.sweep.cell_rows`' (the terminal report's), less the streams and requests
columns; a failed cell's status says its error. Engine names are short (``ort``, ``ov``, as in History) while the
table is narrower than :data:`FULL_NAMES_FROM`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from rich.text import Text
from textual.widgets import DataTable

from workbench.tui.format import short_engine
from workbench.tui.widgets.results import theme_color
from workbench.units import MISSING

if TYPE_CHECKING:  # pragma: no cover
    from workbench.stats.scaling import Cell

__all__ = ["COLUMNS", "FULL_NAMES_FROM", "SweepTable", "cell_of", "cell_row"]

#: ``(key, header, right-aligned)`` of the cells table
COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("engine", "engine", False),
    ("prec", "prec", False),
    ("threads", "thr", True),
    ("batch", "batch", True),
    ("mode", "mode", False),
    ("p50", "p50 ms", True),
    ("p99", "p99 ms", True),
    ("thr", "items/s", True),
    ("rss", "RSS MB", True),
    ("parity", "parity", False),
    ("status", "status", False),
)

#: table width from which engines are named in full (below: ``ort``, ``ov``, as in History)
FULL_NAMES_FROM = 84


def cell_of(result: Mapping[str, Any]) -> "Cell":
    """A finished cell's :class:`~workbench.stats.scaling.Cell` from its ``EngineResult.to_dict()``."""
    from workbench.result import EngineResult
    from workbench.stats.scaling import cell_of as of

    return of(EngineResult.from_dict(dict(result)))


def cell_row(c: "Cell", compact: bool = False) -> tuple[str, ...]:
    """The table's cells for one finished cell (:data:`COLUMNS`); a failed cell's status is ``failed: ERROR``.
    ``compact``: short engine names (``ort``, ``ov``) for a table under :data:`FULL_NAMES_FROM` columns."""
    from workbench.report.sweep import cell_headers, cell_rows

    row = dict(zip(cell_headers([c]), cell_rows([c])[0]))
    shown = [row.get(header, MISSING) for _, header, _ in COLUMNS[1:-1]]  # a generate cell has no p50 ms
    return (short_engine(c.engine) if compact else c.engine, *shown, "ok" if c.ok else f"failed: {c.error}")


class SweepTable(DataTable[Any]):
    """The finished cells; row keys are ``INDEX:CELL_KEY`` (the index into the screen's results)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, id=id)
        self.compact = False

    def on_mount(self) -> None:
        for key, label, right in COLUMNS:
            self.add_column(Text(" " + label, justify="right" if right else "left"), key=key)

    def add_cell(self, cell: "Cell", index: int) -> None:
        ok, bad, muted = theme_color(self, "success"), theme_color(self, "error"), theme_color(self, "text-muted")
        values = cell_row(cell, compact=self.compact)
        parity_style = {"pass": ok, "fail": bad}.get(cell.parity or "", muted)
        styles = ["bold"] + [""] * 8 + [parity_style, ok if cell.ok else bad]
        texts = [
            Text(" " + value, style=style, justify="right" if right else "left", no_wrap=True)
            for value, style, (_, _, right) in zip(values, styles, COLUMNS)
        ]
        self.add_row(*texts, key=f"{index}:{cell.key}")

    def show(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Every finished cell again (engine names or theme colours changed); the cursor stays where it was."""
        row = self.cursor_row
        self.clear()
        for i, result in enumerate(results):
            self.add_cell(cell_of(result), i)
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))

    def chosen_index(self) -> int | None:
        """The index (into the results) of the row under the cursor; None when there is none."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value or ""
            return int(key.split(":", 1)[0])
        except (ValueError, LookupError):
            return None
