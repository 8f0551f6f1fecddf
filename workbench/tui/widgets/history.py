"""The History pane: the latest runs, newest first. Enter shows a run (a sweep opens on the Sweep screen, where ``r``
resumes it when it was interrupted); space marks two runs to compare.

:attr:`HistoryPane.records` is set by the app (read in a thread worker); the pane posts
:class:`HistoryPane.ShowRun` / :class:`HistoryPane.CompareRuns` and the app opens the screens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Static

from workbench.tui.format import engines_label, short_engine, when
from workbench.tui.widgets import composed
from workbench.tui.widgets.results import theme_color
from workbench.units import MISSING, ms

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import RunRecord


def _cell(text: str, style: str = "") -> Text:
    # cell_padding=0 plus one leading space: one column between cells instead of two
    return Text(" " + text, style=style, no_wrap=True)


def best_p50(record: "RunRecord") -> tuple[float | None, str | None]:
    best: tuple[float | None, str | None] = (None, None)
    for r in record.results:
        p50 = (r.latency_ms or {}).get("p50") if r.ok else None
        if isinstance(p50, (int, float)) and (best[0] is None or p50 < best[0]):
            best = (float(p50), r.engine)
    return best


class HistoryTable(DataTable):
    BINDINGS = [
        Binding("space", "mark", "Mark", show=False, id="history-mark", tooltip="Mark/unmark this run for comparison"),
        Binding("c", "compare", "Compare", show=False, id="history-compare", tooltip="Compare the two marked runs"),
        Binding(
            "b",
            "by_machine",
            "By machine",
            show=False,
            id="history-by-machine",
            tooltip="This run's model across machines: the best node type per objective",
        ),
    ]

    def action_by_machine(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.by_machine()

    def action_mark(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.toggle_mark()

    def action_compare(self) -> None:
        pane = self._pane()
        if pane is not None:
            pane.compare()

    def _pane(self) -> "HistoryPane | None":
        for node in self.ancestors:
            if isinstance(node, HistoryPane):
                return node
        return None


class HistoryPane(Vertical):
    DEFAULT_CSS = """
    HistoryPane {
        height: 1fr;
    }
    HistoryPane > HistoryTable {
        height: 1fr;
    }
    HistoryPane > #history-hint {
        height: 1;
    }
    """

    records: reactive[tuple["RunRecord", ...]] = reactive(())
    marked: reactive[tuple[str, ...]] = reactive(())
    message: reactive[str] = reactive("")

    @dataclass
    class ShowRun(Message):
        record: "RunRecord"

    @dataclass
    class CompareRuns(Message):
        a: "RunRecord"
        b: "RunRecord"

    def compose(self) -> ComposeResult:
        yield HistoryTable(cursor_type="row", zebra_stripes=True, cell_padding=0, id="history-table")
        yield Static("", id="history-hint")

    def on_mount(self) -> None:
        self.border_title = "History"
        table = self.query_one(HistoryTable)
        for key, label in (
            ("mark", " "),
            ("when", "when"),
            ("model", "model"),
            ("engines", "engines"),
            ("best", "best p50 ms"),
            ("mode", "mode"),
            ("id", "run"),
        ):
            table.add_column(_cell(label), key=key)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_rows())
        self._render_hint()

    def watch_records(self) -> None:
        known = {r.run_id for r in self.records}
        marked = tuple(m for m in self.marked if m in known)
        if marked != self.marked:
            self.marked = marked
        self._render_rows()

    def watch_marked(self) -> None:
        self._render_rows()

    def watch_message(self) -> None:
        self._render_hint()

    def _render_rows(self) -> None:
        if not composed(self):
            return
        table = self.query_one(HistoryTable)
        cursor = table.cursor_row
        table.clear()
        accent, muted, bad = theme_color(self, "accent"), theme_color(self, "text-muted"), theme_color(self, "error")
        for rec in self.records:
            p50, engine = best_p50(rec)
            failed = sum(1 for r in rec.results if not r.ok)
            engines = engines_label(dict.fromkeys(r.engine for r in rec.results), compact=True)
            if rec.kind == "sweep":  # one result per cell: say how many, not the engine of each
                engines = f"sweep×{len(rec.results)} {engines}"
            mark = _cell("●", accent) if rec.run_id in self.marked else _cell(" ")
            best = _cell(f"{ms(p50)} {short_engine(engine)}" if engine else MISSING)
            if failed:
                best.append(f" ✗{failed}", style=bad)
            table.add_row(
                mark,
                _cell(when(rec.created)),
                _cell(str((rec.model or {}).get("name") or "?")),
                _cell(engines),
                best,
                _cell(str((rec.config or {}).get("mode") or MISSING), muted),
                _cell(rec.run_id[:8], muted),
                key=rec.run_id,
            )
        if table.row_count:
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
        self._render_hint()

    def _render_hint(self) -> None:
        if not composed(self):
            return
        if self.message:
            text = self.message
        elif not self.records:
            text = "No runs yet. Press r to run; runs are saved here."
        else:
            n = len(self.marked)
            runs = f"{len(self.records)} run" + ("" if len(self.records) == 1 else "s")
            text = f"{runs} · enter details · space mark ({n}/2) · c compare"
        self.query_one("#history-hint", Static).update(text)

    def current(self) -> "RunRecord | None":
        table = self.query_one(HistoryTable)
        if 0 <= table.cursor_row < len(self.records):
            return self.records[table.cursor_row]
        return None

    def toggle_mark(self) -> None:
        rec = self.current()
        if rec is None:
            return
        if rec.run_id in self.marked:
            self.marked = tuple(m for m in self.marked if m != rec.run_id)
        else:
            self.marked = (*self.marked, rec.run_id)[-2:]

    def by_machine(self) -> None:
        """Open the cross-machine comparison of the highlighted run's model."""
        from workbench.tui import services
        from workbench.tui.screens import MachinesScreen

        rec = self.current()
        model = str((rec.model or {}).get("name") or "") if rec is not None else ""
        if not model:
            self.app.notify("Highlight a run first: its model is compared across machines.", severity="warning")
            return
        try:
            text = services.machine_comparison(services.open_history(), model)
        except Exception as exc:  # a history that cannot be read: one line, the UI stays up
            self.app.notify(f"Cannot compare across machines: {exc}", severity="error")
            return
        self.app.push_screen(MachinesScreen(model, text))

    def compare(self) -> None:
        by_id = {r.run_id: r for r in self.records}
        picked = [by_id[m] for m in self.marked if m in by_id]
        if len(picked) < 2:
            current = self.current()
            if len(picked) == 1 and current is not None and current.run_id != picked[0].run_id:
                picked.append(current)
            else:
                self.app.notify("Mark two runs with space, then press c to compare.", severity="warning")
                return
        # older run first: A is the reference, B the change
        a, b = sorted(picked[:2], key=lambda r: r.created)
        self.post_message(self.CompareRuns(a, b))

    @on(DataTable.RowSelected, "#history-table")
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        rec = self.current()
        if rec is not None:
            self.post_message(self.ShowRun(rec))
