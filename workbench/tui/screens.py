"""Modal screens: help, run details, comparison of two runs, and the monitor's list of runs in flight."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from workbench.tui.analysis import config_differences
from workbench.tui.format import engines_label, when
from workbench.tui.messages import LiveRunsListed
from workbench.tui.widgets.results import ResultsPane, ResultsView, theme_color
from workbench.units import MISSING, ms, percent, rate

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import RunRecord
    from workbench.stats.compare import Comparison


class _Modal(ModalScreen[Any]):
    DEFAULT_CSS = """
    _Modal {
        align: center middle;
    }
    _Modal > .dialog {
        width: 100%;
        max-width: 110;
        height: 100%;
        max-height: 40;
        padding: 0 1;
    }
    _Modal .dialog-title {
        height: auto;
    }
    _Modal .dialog-hint {
        height: 1;
        dock: bottom;
    }
    """
    BINDINGS = [Binding("escape", "close", "Close", id="modal-close", tooltip="Close this window")]

    def action_close(self) -> None:
        self.dismiss(None)


# --------------------------------------------------------------------------------------------------------- help


#: width of the key column in the help (the descriptions wrap under their own column, never under the keys)
HELP_KEY_WIDTH = 16


def help_content(sections: Iterable[tuple[str, Iterable[tuple[str, str]]]], width: int = 76) -> Content:
    """The help as two columns: keys, and descriptions wrapped to ``width`` with a hanging indent."""
    import textwrap

    parts: list[Any] = []
    room = max(20, width - 2 - HELP_KEY_WIDTH)
    pad = " " * (2 + HELP_KEY_WIDTH)
    for title, rows in sections:
        if parts:
            parts.append("\n")
        parts += [(title, "bold $accent"), "\n"]
        for key, text in rows:
            lines = textwrap.wrap(text, room) or [""]
            parts += [(f"  {key:<{HELP_KEY_WIDTH}}", "bold $primary"), (lines[0], ""), "\n"]
            for line in lines[1:]:
                parts += [(pad + line, ""), "\n"]
    return Content.assemble(*parts)


class HelpScreen(_Modal):
    """Every key the app understands."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="help-close", tooltip="Close help"),
        Binding("question_mark", "close", "Close", show=False, id="help-close-2"),
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self._sections = sections

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help-dialog"):
            yield Static(Content.assemble(("Keys", "bold")), classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(help_content(self._sections), id="help-text")
            yield Static("escape or ? closes · ctrl+p opens the command palette", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "Help"
        self.query_one("#help-body").focus()

    def on_resize(self) -> None:
        width = self.query_one("#help-body").size.width - 1  # the scrollbar
        if width > 0:
            self.query_one("#help-text", Static).update(help_content(self._sections, width))


# ------------------------------------------------------------------------------------------------- run details


def record_summary(record: "RunRecord") -> Content:
    cfg = record.config or {}
    sysd = record.system or {}
    cpu = sysd.get("cpu") or {}
    muted = "$text-muted"
    lines: list[Any] = []

    def row(label: str, value: Any) -> None:
        lines.extend([(f"{label:<10}", muted), (str(value), ""), "\n"])

    row("run", f"{record.run_id} · {record.created}")
    row("model", f"{(record.model or {}).get('name', '?')} ({(record.model or {}).get('task', '?')})")
    row(
        "settings",
        " · ".join(
            str(x)
            for x in (
                cfg.get("mode"),
                f"batch {cfg.get('batch')}",
                cfg.get("precision"),
                cfg.get("device"),
                f"threads {cfg.get('threads')}",
                f"cores {cfg.get('cores')}",
                f"{cfg.get('duration_s')} s × {cfg.get('repeats', 1)}",
                f"warm-up {cfg.get('warmup_s')} s",
            )
            if x is not None
        ),
    )
    machine = cpu.get("model") or sysd.get("cpu_model") or "?"
    row("machine", f"{machine} · {sysd.get('hostname') or '?'}")
    versions = record.versions or {}
    row("versions", " · ".join(f"{k} {v}" for k, v in versions.items() if v) or MISSING)
    if record.tags:
        row("tags", ", ".join(record.tags))
    if record.note:
        row("note", record.note)
    for w in record.warnings or []:
        lines.extend([("⚠ ", "$warning"), (str(w.get("message") or w.get("code")), ""), "\n"])
    return Content.assemble(*lines)


class RunDetailScreen(_Modal):
    """One stored run: its results table and what it ran on."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="detail-close", tooltip="Back to the main screen"),
        Binding("e", "export", "Export", id="detail-export", tooltip="Export this run: choose the format and the file"),
    ]

    def __init__(self, record: "RunRecord") -> None:
        super().__init__()
        self.record = record

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="detail-dialog"):
            yield ResultsPane(id="detail-results")
            yield Static(record_summary(self.record), id="detail-summary")
            yield Static("escape closes · e exports this run", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#detail-dialog").border_title = f"Run {self.record.run_id}"
        pane = self.query_one(ResultsPane)
        pane.view = ResultsView(results=tuple(self.record.results), record=self.record, saved=True)
        self.query_one("#detail-results #results-table").focus()

    def action_export(self) -> None:
        self.app.export_records([self.record])  # type: ignore[attr-defined]


#: Record-level warnings of a comparison that the "Differences" section already shows.
_SHOWN_AS_DIFFERENCES = frozenset({"config_differs", "machine_differs", "model_differs"})


class CompareScreen(_Modal):
    """Two runs side by side with the verdicts of ``workbench compare A B`` (:func:`workbench.stats.compare.compare`).

    One row per paired engine: p50 of A and B, its change and the verdict (Mann-Whitney U on the stored histograms
    and the 1 % practical threshold — the CLI's rule, not a raw ratio), then throughput; below, every metric's
    verdict, the warnings and what differed between the runs.
    """

    BINDINGS = [
        Binding("escape", "close", "Close", id="compare-close", tooltip="Back to the main screen"),
        Binding(
            "e", "export", "Export", id="compare-export", tooltip="Export both runs: choose the format and the file"
        ),
    ]

    def __init__(self, a: "RunRecord", b: "RunRecord", comparison: "Comparison | None" = None) -> None:
        super().__init__()
        self.a, self.b = a, b
        if comparison is None:
            from workbench.tui import services

            comparison = services.compare_runs(a, b)
        self.comparison: "Comparison" = comparison

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="compare-dialog"):
            yield Static(self._title(), classes="dialog-title")
            yield DataTable(cursor_type="row", zebra_stripes=True, id="compare-table")
            with VerticalScroll(id="compare-body"):
                yield Static(self._verdicts(), id="compare-verdicts")
                yield Static(self._differences(), id="compare-diff")
            yield Static("escape closes · e exports both runs", classes="dialog-hint")

    def _title(self) -> Content:
        a, b = self.a, self.b
        return Content.assemble(
            ("A ", "bold $accent"),
            (f"{a.run_id[:8]} {when(a.created)} {(a.model or {}).get('name', '?')}", ""),
            ("   B ", "bold $accent"),
            (f"{b.run_id[:8]} {when(b.created)} {(b.model or {}).get('name', '?')}", ""),
            (
                f"\nverdicts as `workbench compare {a.run_id[:8]} {b.run_id[:8]}` · Δ < 0: B is faster (p50)",
                "$text-muted",
            ),
        )

    def _verdicts(self) -> Content:
        from workbench.report.compare import aa_hint, basis_lines, ci_text, mismatch_lines, rule_line
        from workbench.stats.compare import FASTER, SLOWER, UNTESTED

        c = self.comparison
        style = {FASTER: "$success", SLOWER: "$error", UNTESTED: "$text-muted"}
        parts: list[Any] = []
        if not c.pairs:
            parts += [("No engine appears in both runs: nothing to compare.", "$warning"), "\n"]
        for line in mismatch_lines(c):
            parts += [(line, "bold $warning"), "\n"]
        bases: list[Any] = []
        for p in c.pairs:
            parts += [(p.label, "bold"), "\n"]
            for metric, v in p.verdicts.items():
                parts += [(f"  {metric:<11}", "$text-muted"), (v.verdict, style.get(v.verdict, ""))]
                if v.change_pct is not None:
                    parts.append((f" {percent(v.change_pct, signed=True)}", ""))
                if v.ci_pct:
                    parts.append((f" (99% CI {ci_text(v)})", "$text-muted"))
                parts.append("\n")
                if v.note:
                    parts += [(f"    {v.note}", "$text-muted"), "\n"]
            bases += list(p.verdicts.values())
            for w in p.warnings:
                if w["message"] not in c.mismatches:
                    parts += [("  ⚠ ", "$warning"), (w["message"], ""), "\n"]
        for w in c.warnings:
            if w["code"] not in _SHOWN_AS_DIFFERENCES and w["message"] not in c.mismatches:
                parts += [("⚠ ", "$warning"), (w["message"], ""), "\n"]
        for line in basis_lines(bases, aa_hint(c)):
            parts += [(line, "$text-muted"), "\n"]
        parts += [(rule_line(c), "$text-muted"), "\n"]
        return Content.assemble(*parts)

    def _differences(self) -> Content:
        diffs = config_differences(self.a, self.b)
        if not diffs:
            return Content.assemble(("Same settings and machine fingerprint.", "$success"))
        parts: list[Any] = [("Differences (A → B)", "bold $warning"), "\n"]
        for key, va, vb in diffs:
            parts += [(f"  {key:<18}", "$text-muted"), (f"{va} → {vb}", ""), "\n"]
        return Content.assemble(*parts)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's cells as text, one row per paired engine (what the Pilot tests read)."""
        c = self.comparison
        out: list[tuple[str, ...]] = []
        for p in c.pairs:
            lat, thr = p.deltas["p50"], p.deltas["throughput"]
            out.append(
                (
                    p.engine,
                    ms(lat.baseline),
                    ms(lat.candidate),
                    percent(lat.change_pct, signed=True),
                    p.verdicts[c.metric].verdict,
                    percent(thr.change_pct, signed=True),
                    rate(thr.baseline),
                    rate(thr.candidate),
                    f"{p.precision_baseline or MISSING}/{p.precision_candidate or MISSING}",
                )
            )
        return out

    def on_mount(self) -> None:
        from workbench.stats.compare import FASTER, SLOWER, UNTESTED

        self.query_one("#compare-dialog").border_title = "Compare runs"
        table = self.query_one("#compare-table", DataTable)
        for key, label in (
            ("engine", "engine"),
            ("a", "A p50"),
            ("b", "B p50"),
            ("dp", "Δ p50"),
            ("verdict", "p50 verdict"),
            ("dt", "Δ items/s"),
            ("ta", "A items/s"),
            ("tb", "B items/s"),
            ("prec", "prec A/B"),
        ):
            right = key not in ("engine", "verdict", "prec")
            table.add_column(Text(label, justify="right" if right else "left"), key=key)
        ok, bad, muted = theme_color(self, "success"), theme_color(self, "error"), theme_color(self, "text-muted")
        colour = {FASTER: ok, SLOWER: bad, UNTESTED: muted}
        for p, cells in zip(self.comparison.pairs, self.rows()):
            lat_style = colour.get(p.verdicts[self.comparison.metric].verdict, "")
            thr_style = colour.get(p.verdicts["throughput"].verdict, "")
            styles = ("bold", "", "", lat_style, lat_style, thr_style, "", "", "")
            table.add_row(
                *(
                    Text(cell, style=style, justify="left" if i in (0, 4, 8) else "right")
                    for i, (cell, style) in enumerate(zip(cells, styles))
                )
            )
        table.focus()

    def action_export(self) -> None:
        self.app.export_records([self.a, self.b])  # type: ignore[attr-defined]


# -------------------------------------------------------------------------------------------------------- monitor


class MonitorScreen(_Modal):
    """Pick a run in flight in another session to follow; dismisses with its run_id (or None)."""

    BINDINGS = [
        Binding("escape", "close", "Close", id="monitor-close", tooltip="Back without following"),
        Binding("r", "refresh", "Refresh", id="monitor-refresh", tooltip="List the runs in flight again"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="monitor-dialog"):
            yield Static(
                "Runs in flight in other sessions (workbench run …). Enter follows one.", classes="dialog-title"
            )
            yield OptionList(id="monitor-list")
            yield Static("enter follows · r refreshes · escape closes", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#monitor-dialog").border_title = "Monitor"
        self.action_refresh()

    def action_refresh(self) -> None:
        options = self.query_one("#monitor-list", OptionList)
        options.clear_options()
        options.add_option(Option("looking for runs…", disabled=True))
        self._list_runs()

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitor-list", description="Listing runs in flight")
    def _list_runs(self) -> None:
        from workbench.tui import services

        try:
            runs = tuple(services.live_runs())
            error = None
        except Exception as exc:  # reported in the list itself
            runs, error = (), str(exc) or type(exc).__name__
        self.post_message(LiveRunsListed(runs, error))

    def on_live_runs_listed(self, message: LiveRunsListed) -> None:
        import time

        options = self.query_one("#monitor-list", OptionList)
        options.clear_options()
        if message.error:
            options.add_option(Option(f"cannot list runs: {message.error}", disabled=True))
            return
        if not message.runs:
            options.add_option(
                Option("No runs in flight. Start one with `workbench run …` in another shell.", disabled=True)
            )
            return
        now = time.time()
        for run in message.runs:
            age = max(0, int(now - float(run.get("started") or now)))
            label = (
                f"{run.get('model') or '?'}  {engines_label(run.get('engines') or (), compact=True)}  "
                f"pid {run.get('pid')}  started {age // 60}m{age % 60:02d}s ago  [{run.get('run_id')}]"
            )
            options.add_option(Option(Text(label), id=str(run.get("run_id"))))
        options.highlighted = 0
        options.focus()

    @on(OptionList.OptionSelected, "#monitor-list")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dismiss(event.option.id)


# ------------------------------------------------------------------------------------------------- by machine


class MachinesScreen(_Modal):
    """The stored results of one model grouped by machine: the best node per objective (``compare --by machine``)."""

    def __init__(self, model: str, text: str) -> None:
        super().__init__()
        self._model = model
        self._text = text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="machines-dialog"):
            with VerticalScroll(id="machines-body"):
                yield Static(self._text, id="machines-text", markup=False)
            yield Static("escape closes · the same as `workbench compare --by machine -m MODEL`", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#machines-dialog").border_title = f"By machine · {self._model}"
        self.query_one("#machines-body").focus()
