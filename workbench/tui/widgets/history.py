"""The History pane: the latest runs, newest first, to filter, sort, mark, tag, delete, export and compare.

Keys on the table: ``/`` filters (model, engine, tag, run id, precision, mode: every word must match; escape in the
field clears it, enter keeps it and returns to the table), ``o`` sorts by the next column and ``O`` reverses (a
click on a column header sorts by that column; a second click reverses), ``space`` marks runs, ``t`` edits the tags
and ``d`` deletes (after a confirmation naming the runs) and ``e`` exports — the marked runs, or the highlighted
one when none is marked. Enter shows a run (a sweep opens on the Sweep screen, where ``r`` resumes it when it was
interrupted); ``c`` compares two marked runs.

Columns are dropped from the right of a priority list when the pane is narrow (as htop and k9s do): the mark, the
run id and the model stay; the mode, cores and threads go first. A run id is never cut.

:attr:`HistoryPane.records` is set by the app (read in a thread worker). The pane never touches the store: it
posts :class:`HistoryPane.ShowRun`, :class:`HistoryPane.CompareRuns`, :class:`HistoryPane.TagRuns`,
:class:`HistoryPane.DeleteRuns` and :class:`HistoryPane.ExportRuns`, and the app opens the screens or runs the
change in a thread worker, then reloads the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from rich.cells import cell_len
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Static

from workbench.tui.format import cpu_ranges, engines_label, short_engine, when
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


# ----------------------------------------------------------------------------------------------- what a row shows


def _spec(rec: "RunRecord") -> dict[str, Any]:
    return ((rec.sweep or {}).get("spec") or {}) if rec.kind == "sweep" else {}


def _axis(values: Any) -> str:
    return ",".join("auto" if v is None else str(v) for v in values)


def model_name(rec: "RunRecord") -> str:
    return str((rec.model or {}).get("name") or "?")


def engines_text(rec: "RunRecord") -> str:
    engines = engines_label(dict.fromkeys(r.engine for r in rec.results), compact=True)
    if rec.kind == "sweep":  # one result per cell: say how many, not the engine of each
        return f"sweep×{len(rec.results)} {engines}"
    return engines


def precision_text(rec: "RunRecord") -> str:
    """The precision the engines really ran (``bf16/fp32`` when they differ); a sweep's precision axis."""
    spec = _spec(rec)
    if spec.get("precisions"):
        return _axis(spec["precisions"])
    ran = [r.precision_effective or r.precision_requested for r in rec.results if r.ok]
    names = [str(p) for p in dict.fromkeys(ran) if p]
    if names:
        return "/".join(names)
    return str((rec.config or {}).get("precision") or MISSING)


def threads_text(rec: "RunRecord") -> str:
    spec = _spec(rec)
    if spec.get("threads"):
        return _axis(spec["threads"])
    value = (rec.config or {}).get("threads")
    if value is None and rec.results:
        value = rec.results[0].threads
    return "auto" if value is None else str(value)


def cores_text(rec: "RunRecord") -> str:
    value = (rec.config or {}).get("cores")
    if not value and rec.kind == "sweep":
        value = _spec(rec).get("cores")
    if not value and rec.results:
        value = rec.results[0].cores
    if isinstance(value, (list, tuple)) and value:
        try:
            return cpu_ranges(value)
        except (TypeError, ValueError):
            return MISSING
    return "all"


def mode_text(rec: "RunRecord") -> str:
    spec = _spec(rec)
    if spec.get("modes"):
        return _axis(spec["modes"])
    return str((rec.config or {}).get("mode") or MISSING)


def filter_words(rec: "RunRecord") -> str:
    """What ``/`` searches in a run: model, engines (full and short names), tags, run id, precision, mode, kind."""
    engines = list(dict.fromkeys(r.engine for r in rec.results))
    parts = [
        model_name(rec),
        *engines,
        *(short_engine(e) for e in engines),
        *rec.tags,
        rec.run_id,
        precision_text(rec),
        mode_text(rec),
        rec.kind,
    ]
    return " ".join(parts).lower()


def matches(rec: "RunRecord", text: str) -> bool:
    """True when every word of ``text`` is found in the run (case-insensitive substrings)."""
    hay = filter_words(rec)
    return all(word in hay for word in text.lower().split())


def _threads_key(rec: "RunRecord") -> tuple[int, str]:
    text = threads_text(rec)
    first = text.split(",")[0]
    return (int(first), text) if first.isdigit() else (-1, text)


def _cores_key(rec: "RunRecord") -> tuple[int, str]:
    text = cores_text(rec)
    if text == "all":
        return (1 << 30, text)
    n = 0
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        n += (int(hi) - int(lo) + 1) if hi.isdigit() and lo.isdigit() else 1
    return (n, text)


def _best_key(rec: "RunRecord") -> tuple[int, float]:
    p50, _ = best_p50(rec)
    return (0, p50) if p50 is not None else (1, 0.0)


@dataclass(frozen=True)
class Column:
    """One History column: its key, heading, sort key, whether it first sorts descending, and its priority (lower
    stays longer on a narrow pane)."""

    key: str
    label: str
    priority: int
    sort: Callable[["RunRecord"], Any] | None = None
    descending: bool = False


#: The columns in display order.
COLUMNS: tuple[Column, ...] = (
    Column("mark", " ", 0),
    Column("when", "when", 4, lambda r: r.created, descending=True),
    Column("model", "model", 2, lambda r: model_name(r).lower()),
    Column("engines", "engines", 9, engines_text),
    Column("best", "p50 ms", 3, _best_key),
    Column("precision", "prec", 5, precision_text),
    Column("threads", "thr", 6, _threads_key),
    Column("cores", "cores", 8, _cores_key),
    Column("mode", "mode", 10, mode_text),
    Column("tags", "tags", 7, lambda r: ",".join(r.tags).lower() or "\uffff"),
    Column("run", "run", 1, lambda r: r.run_id),
)
BY_KEY = {c.key: c for c in COLUMNS}
SORTABLE = tuple(c.key for c in COLUMNS if c.sort is not None)
MODEL_MAX = 20  # a long model name is cut with … beyond this (the run id never is)
MODEL_MIN = 12  # ... and down to this when that keeps another column on a narrow pane


class HistoryFilter(Input):
    """The ``/`` field. Escape clears the filter and returns to the table; enter keeps it and returns."""

    BINDINGS = [
        Binding("escape", "leave(True)", "Clear filter", id="history-filter-clear", tooltip="Clear the filter"),
    ]

    def action_leave(self, clear: bool) -> None:
        pane = next((n for n in self.ancestors if isinstance(n, HistoryPane)), None)
        if pane is not None:
            pane.leave_filter(clear)


class HistoryTable(DataTable):
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", id="history-filter", tooltip="Filter the runs"),
        Binding("o", "sort", "Sort", show=False, id="history-sort", tooltip="Sort by the next column"),
        Binding("O", "sort(True)", "Reverse", show=False, id="history-sort-reverse", tooltip="Reverse the order"),
        Binding("space", "mark", "Mark", show=False, id="history-mark", tooltip="Mark/unmark this run"),
        Binding("t", "tag", "Tag", id="history-tag", tooltip="Add/remove tags of the marked or highlighted runs"),
        Binding("d", "delete", "Delete", id="history-delete", tooltip="Delete the marked or highlighted runs (asks)"),
        Binding("e", "export", "Export", id="history-export", tooltip="Export the marked or highlighted runs"),
        Binding("c", "compare", "Compare", show=False, id="history-compare", tooltip="Compare the two marked runs"),
        Binding(
            "b",
            "by_machine",
            "By machine",
            show=False,
            id="history-by-machine",
            tooltip="This run's model across machines: the best node type per objective",
        ),
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            show=False,
            id="history-clear-filter",
            tooltip="Clear the filter (only while one is set)",
        ),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        pane = self._pane()
        if action == "clear_filter":
            return pane is not None and bool(pane.filter_text)  # otherwise escape goes on to the app
        if action in ("tag", "delete", "export", "mark", "compare", "by_machine"):
            return None if pane is None or not pane.view else True
        return True

    def _pane(self) -> "HistoryPane | None":
        for node in self.ancestors:
            if isinstance(node, HistoryPane):
                return node
        return None

    def _call(self, name: str, *args: Any) -> None:
        pane = self._pane()
        if pane is not None:
            getattr(pane, name)(*args)

    def action_filter(self) -> None:
        self._call("open_filter")

    def action_clear_filter(self) -> None:
        self._call("leave_filter", True)

    def action_sort(self, reverse: bool = False) -> None:
        self._call("cycle_sort", reverse)

    def action_by_machine(self) -> None:
        self._call("by_machine")

    def action_mark(self) -> None:
        self._call("toggle_mark")

    def action_compare(self) -> None:
        self._call("compare")

    def action_tag(self) -> None:
        self._call("tag")

    def action_delete(self) -> None:
        self._call("delete")

    def action_export(self) -> None:
        self._call("export")


class HistoryPane(Vertical):
    DEFAULT_CSS = """
    HistoryPane {
        height: 1fr;
    }
    HistoryPane > HistoryFilter {
        height: 1;
        background: $panel;
    }
    HistoryPane > HistoryFilter:focus {
        background: $panel-lighten-1;
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
    filter_text: reactive[str] = reactive("")
    #: (column key, descending)
    sort_by: reactive[tuple[str, bool]] = reactive(("when", True))

    @dataclass
    class ShowRun(Message):
        record: "RunRecord"

    @dataclass
    class CompareRuns(Message):
        a: "RunRecord"
        b: "RunRecord"

    @dataclass
    class TagRuns(Message):
        """Add ``add`` and remove ``remove`` on the stored runs ``run_ids`` (the app does it in a worker)."""

        run_ids: tuple[str, ...]
        add: tuple[str, ...]
        remove: tuple[str, ...]

    @dataclass
    class DeleteRuns(Message):
        """Delete the stored runs ``run_ids`` (confirmed by the user; the app does it in a worker)."""

        run_ids: tuple[str, ...]

    @dataclass
    class ExportRuns(Message):
        """Open the export dialog for ``records``."""

        records: tuple["RunRecord", ...]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.view: tuple["RunRecord", ...] = ()  # the rows shown: filtered and sorted
        self._shown: tuple[str, ...] = ()  # the column keys shown

    def compose(self) -> ComposeResult:
        yield HistoryFilter(
            placeholder="filter: model, engine, tag, run id, precision, mode", id="history-filter", compact=True
        )
        yield HistoryTable(cursor_type="row", zebra_stripes=True, cell_padding=0, id="history-table")
        yield Static("", id="history-hint")

    def on_mount(self) -> None:
        self.border_title = "History"
        self.query_one(HistoryFilter).display = False
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._render_rows())
        self._render_rows()

    def on_resize(self, event: events.Resize) -> None:
        if self._columns_for(self._rows_text()) != self._shown:
            self._render_rows()

    # ------------------------------------------------------------------------------------------- watchers
    def watch_records(self) -> None:
        known = {r.run_id for r in self.records}
        marked = tuple(m for m in self.marked if m in known)
        if marked != self.marked:
            self.marked = marked
        self._render_rows()

    def watch_marked(self) -> None:
        self._render_rows()

    def watch_filter_text(self) -> None:
        self._render_rows()

    def watch_sort_by(self) -> None:
        self._render_rows()

    def watch_message(self) -> None:
        self._render_hint()

    # ----------------------------------------------------------------------------------------------- rows
    def _visible(self) -> tuple["RunRecord", ...]:
        rows = (
            [r for r in self.records if matches(r, self.filter_text)]
            if self.filter_text.strip()
            else list(self.records)
        )
        key, descending = self.sort_by
        column = BY_KEY.get(key)
        if column is not None and column.sort is not None and key != "when":
            rows.sort(key=column.sort, reverse=descending)  # stable: ties stay newest first
        elif key == "when":
            rows.sort(key=lambda r: r.created, reverse=descending)
        return tuple(rows)

    def _texts(self, rec: "RunRecord") -> dict[str, str]:
        p50, engine = best_p50(rec)
        failed = sum(1 for r in rec.results if not r.ok)
        model = model_name(rec)
        if len(model) > MODEL_MAX:
            model = model[: MODEL_MAX - 1] + "…"
        return {
            "mark": "●" if rec.run_id in self.marked else " ",
            "when": when(rec.created),
            "model": model,
            "engines": engines_text(rec),
            "best": (f"{ms(p50)} {short_engine(engine)}" if engine else MISSING) + (f" ✗{failed}" if failed else ""),
            "precision": precision_text(rec),
            "threads": threads_text(rec),
            "cores": cores_text(rec),
            "mode": mode_text(rec),
            "tags": ",".join(rec.tags),
            "run": rec.run_id,
        }

    def _rows_text(self) -> list[dict[str, str]]:
        return [self._texts(r) for r in self.view or self.records]

    def _header(self, column: Column) -> str:
        key, descending = self.sort_by
        if column.key == key:
            return f"{column.label} {'▼' if descending else '▲'}"
        return column.label

    def _layout(self, rows: list[dict[str, str]]) -> tuple[tuple[str, ...], dict[str, int]]:
        """The columns that fit the table's width, by priority (a column is shown whole or not at all), and each
        column's width. A long model name is cut (to ``MODEL_MIN``) when that keeps another column. The widths are
        given to the table, not measured by it: an auto-sized DataTable measures only when it is idle, which it
        is not while the filter field is being typed into."""
        table = self.query_one(HistoryTable)
        width = table.size.width or self.size.width or 200
        width -= 1  # the vertical scrollbar
        widths = {}
        for c in COLUMNS:
            longest = max((cell_len(row[c.key]) for row in rows), default=0)
            widths[c.key] = 1 + max(longest, cell_len(self._header(c)))

        def fit(widths: dict[str, int]) -> tuple[str, ...]:
            chosen: set[str] = set()
            used = 0
            for c in sorted(COLUMNS, key=lambda c: c.priority):
                if used + widths[c.key] <= width or c.priority <= 1:
                    chosen.add(c.key)
                    used += widths[c.key]
            return tuple(c.key for c in COLUMNS if c.key in chosen)

        shown = fit(widths)
        if widths["model"] - 1 > MODEL_MIN:
            squeezed_widths = {**widths, "model": 1 + MODEL_MIN}
            squeezed = fit(squeezed_widths)
            if len(squeezed) > len(shown):
                return squeezed, squeezed_widths
        return shown, widths

    def _columns_for(self, rows: list[dict[str, str]]) -> tuple[str, ...]:
        return self._layout(rows)[0]

    def _render_rows(self) -> None:
        if not composed(self):
            return
        table = self.query_one(HistoryTable)
        current = self.current()
        self.view = self._visible()
        rows = [self._texts(r) for r in self.view]
        shown, widths = self._layout(rows or [self._texts(r) for r in self.records])
        model_width = widths["model"] - 1
        table.clear(columns=True)
        self._shown = shown
        for key in shown:
            table.add_column(_cell(self._header(BY_KEY[key])), key=key, width=widths[key])
        accent, muted, bad = theme_color(self, "accent"), theme_color(self, "text-muted"), theme_color(self, "error")
        styles = {"mark": accent, "mode": muted, "run": muted, "threads": muted, "cores": muted, "tags": accent}
        for rec, texts in zip(self.view, rows):
            cells = []
            for key in shown:
                text = texts[key]
                if key == "model" and len(text) > model_width:
                    text = text[: model_width - 1] + "…"
                if key == "best" and " ✗" in text:  # the failed engines in the error colour
                    best, _, failed = text.rpartition(" ✗")
                    cell = _cell(best)
                    cell.append(f" ✗{failed}", style=bad)
                else:
                    cell = _cell(text, styles.get(key, ""))
                cells.append(cell)
            table.add_row(*cells, key=rec.run_id)
        if table.row_count:
            ids = [r.run_id for r in self.view]
            row = ids.index(current.run_id) if current is not None and current.run_id in ids else table.cursor_row
            table.move_cursor(row=min(max(row, 0), table.row_count - 1))
        self.refresh_bindings()
        self._render_hint()

    def _render_hint(self) -> None:
        if not composed(self):
            return
        if self.message:
            text = self.message
        elif not self.records:
            text = "No runs yet. Press r to run; runs are saved here."
        else:
            total = len(self.records)
            runs = f"{total} run" + ("" if total == 1 else "s")
            if self.filter_text.strip():
                runs = f"{len(self.view)} of {runs} match “{self.filter_text.strip()}”"
            key, descending = self.sort_by
            order = (
                "newest first"
                if (key, descending) == ("when", True)
                else f"by {BY_KEY[key].label} {'▼' if descending else '▲'}"
            )
            parts = [runs, order]
            if self.marked:
                parts.append(f"{len(self.marked)} marked")
            width = self.query_one("#history-hint", Static).size.width or 76
            for extra in ("o sort", "space mark", "c compare", "enter details"):
                if len(" · ".join([*parts, extra])) > width:
                    break
                parts.append(extra)
            text = " · ".join(parts)
        self.query_one("#history-hint", Static).update(text)

    # ---------------------------------------------------------------------------------------------- actions
    def current(self) -> "RunRecord | None":
        if not composed(self):
            return None
        table = self.query_one(HistoryTable)
        if 0 <= table.cursor_row < len(self.view):
            return self.view[table.cursor_row]
        return None

    def targets(self) -> tuple["RunRecord", ...]:
        """The marked runs (in the order shown), or the highlighted one when none is marked."""
        if self.marked:
            by_id = {r.run_id: r for r in self.records}
            shown = [r for r in self.view if r.run_id in self.marked]
            hidden = [by_id[m] for m in self.marked if m in by_id and by_id[m] not in shown]
            return (*shown, *hidden)
        current = self.current()
        return (current,) if current is not None else ()

    def toggle_mark(self) -> None:
        rec = self.current()
        if rec is None:
            return
        if rec.run_id in self.marked:
            self.marked = tuple(m for m in self.marked if m != rec.run_id)
        else:
            self.marked = (*self.marked, rec.run_id)

    def open_filter(self) -> None:
        field = self.query_one(HistoryFilter)
        field.display = True
        field.focus()
        field.cursor_position = len(field.value)

    def leave_filter(self, clear: bool) -> None:
        field = self.query_one(HistoryFilter)
        if clear:
            field.value = ""
            self.filter_text = ""
        if not field.value.strip():
            field.display = False
        self.query_one(HistoryTable).focus()

    @on(Input.Changed, "#history-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.filter_text = event.value

    @on(Input.Submitted, "#history-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.leave_filter(False)

    def cycle_sort(self, reverse: bool = False) -> None:
        """``o``: sort by the next shown column (each in its natural direction); ``O``: reverse the order."""
        key, descending = self.sort_by
        if reverse:
            self.sort_by = (key, not descending)
            return
        order = [k for k in SORTABLE if k in self._shown] or list(SORTABLE)
        nxt = order[(order.index(key) + 1) % len(order)] if key in order else order[0]
        self.sort_by = (nxt, BY_KEY[nxt].descending)

    @on(DataTable.HeaderSelected, "#history-table")
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = str(event.column_key.value)
        column = BY_KEY.get(key)
        if column is None or column.sort is None:
            return
        current, descending = self.sort_by
        self.sort_by = (key, not descending) if key == current else (key, column.descending)

    def tag(self) -> None:
        from workbench.tui.dialogs import TagDialog

        runs = self.targets()
        if not runs:
            return
        ids = tuple(r.run_id for r in runs)

        def done(change: "tuple[tuple[str, ...], tuple[str, ...]] | None") -> None:
            if change and (change[0] or change[1]):
                self.post_message(self.TagRuns(ids, *change))

        self.app.push_screen(TagDialog(runs), callback=done)

    def delete(self) -> None:
        from workbench.tui.dialogs import ConfirmDialog, runs_label

        runs = self.targets()
        if not runs:
            return
        ids = tuple(r.run_id for r in runs)
        what = f"run {ids[0]}" if len(ids) == 1 else f"{len(ids)} runs"
        body = "\n".join(
            [
                f"Delete {what} from the history (and {'its' if len(ids) == 1 else 'their'} raw-sample files)?",
                "",
                *runs_label(runs),
                "",
                "This cannot be undone (export them first with e).",
            ]
        )

        def done(yes: bool | None) -> None:
            if yes:
                self.post_message(self.DeleteRuns(ids))

        self.app.push_screen(ConfirmDialog(f"Delete {what}", body, yes="Delete", no="Keep"), callback=done)

    def export(self) -> None:
        runs = self.targets()
        if runs:
            self.post_message(self.ExportRuns(runs))

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
        if len(picked) > 2:
            self.app.notify(
                f"{len(picked)} runs are marked: compare takes two — unmark the others with space.", severity="warning"
            )
            return
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
