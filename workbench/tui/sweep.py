"""The Sweep screen: threads × batches × precisions × modes for the Setup pane's model and engines, filled in live.

Opened with ``w`` from the main screen (:meth:`workbench.tui.app.WorkbenchApp.action_sweep`). The model, engines,
device, cores and engine options come from the Setup pane (:meth:`SweepTarget.from_setup`); the screen has one
field per axis, prefilled with a small default sweep (threads 1, 2, 4, … up to every core of the pool, batch 1,
fp32, latency, 1 s per cell). Axis fields follow ``workbench sweep``'s rules (comma-separated whole numbers ≥ 1,
precisions and modes by name) and the assembled spec is checked by :func:`workbench.campaign.cells.check_spec`;
a bad field is one notification line and nothing starts.

Data flow as in the rest of the app: a thread worker owns the :class:`workbench.campaign.sweep.Sweep` (one pinned
benchmark process per cell; the sweep saves itself to the history after every cell) and turns its events into the
messages of :mod:`workbench.tui.messages` (``SweepCellStarted``, ``SweepCellFinished``, …); the screen's handlers
set reactives, add one table row per finished cell and redraw the items/s-vs-threads chart — once per cell, never
per sample. The form, the table and the chart are widgets of their own (:mod:`workbench.tui.widgets.sweep_form`,
:mod:`~workbench.tui.widgets.sweep_table`, :mod:`~workbench.tui.widgets.sweep_chart`); every call into the core
goes through :mod:`workbench.tui.services`. ``s`` stops: the cell in flight is killed, finished cells stay saved and the notification names
``workbench sweep --resume ID``. Escape closes the screen when nothing runs; during a sweep a second escape stops
it and closes.

A stored sweep opens here too: Enter on a sweep row in the History pane (:meth:`SweepScreen.for_record`). Its axis
fields show the stored spec and cannot change, the table holds its finished cells and the progress line says its
effective state (:func:`workbench.campaign.sweep.effective_state`: a sweep whose process died reads
``interrupted``). ``r`` resumes an interrupted or failed sweep in the same worker — ``Sweep(spec, resume=record)``,
as ``workbench sweep --resume ID`` — on the record as the history has it then, so no finished cell runs twice; new
rows append as cells finish and ``s`` stops it again. A complete sweep, a fleet sweep, a sweep still running in
another process, or one started on another host is not resumed: one notification line says why
(:func:`workbench.campaign.sweep.resume_refusal`, then Sweep's own check).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Checkbox, DataTable, Input, Label, ProgressBar, Static

from workbench.errors import UsageError, WorkbenchError
from workbench.tui import services
from workbench.tui.format import cpu_ranges, engines_label
from workbench.tui.messages import (
    SweepBegan,
    SweepCellActivity,
    SweepCellFinished,
    SweepCellStarted,
    SweepEnded,
    SweepRefused,
    SweepReloaded,
)
from workbench.tui.widgets.fields import Tick
from workbench.tui.widgets.footer import QuietFooter
from workbench.tui.widgets.sweep_chart import SweepChart
from workbench.tui.widgets.sweep_form import SweepForm, field_texts
from workbench.tui.widgets.sweep_table import FULL_NAMES_FROM, SweepTable, cell_of
from workbench.units import duration, ms, rate
from workbench.units import eta as eta_text

if TYPE_CHECKING:  # pragma: no cover
    from workbench.campaign.cells import SweepSpec
    from workbench.measure.events import Event
    from workbench.result import RunRecord
    from workbench.stats.scaling import Cell

__all__ = ["SweepScreen", "SweepTarget"]


# ---------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SweepTarget:
    """What a sweep measures, as the Setup pane has it: model (name or file), engines, device, the core pool
    (None: the cores this process may use) and the engine options every cell of an engine gets."""

    model: str
    engines: tuple[str, ...]
    device: str = "cpu"
    cores: tuple[int, ...] | None = None
    engine_options: tuple[tuple[str, str, Any], ...] = ()

    @classmethod
    def from_setup(cls, values: Mapping[str, Any]) -> "SweepTarget":
        """From :meth:`workbench.tui.widgets.setup.SetupPane.values` (the RunConfig keyword arguments)."""
        cores = values.get("cores")
        return cls(
            model=str(values["model"]),
            engines=tuple(values["engines"]),
            device=str(values.get("device") or "cpu"),
            cores=tuple(int(c) for c in cores) if cores else None,
            engine_options=tuple(tuple(t) for t in values.get("engine_options") or ()),
        )

    def describe(self) -> str:
        """``tiny_cnn · onnxruntime, torch · cpu · cores 0-1``."""
        name = re.split(r"[\\/]", self.model)[-1] or self.model
        cores = f"cores {cpu_ranges(self.cores)}" if self.cores else "all allowed cores"
        return " · ".join((name, engines_label(self.engines), self.device, cores))


def _ui_line(error: BaseException) -> str:
    """A core error for this screen: ``--threads 4 needs …`` reads ``threads 4 needs …`` (the fields have no
    flags); the rest of the line is the CLI's."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return re.sub(r"--(?=[a-z])", "", line)


def _event_message(event: "Event") -> Message | None:
    """The screen's message for one sweep or cell-run event (None: not shown). Runs in the worker thread."""
    kind = getattr(event, "kind", None)
    e: Any = event
    if kind == "sweep_started":
        return SweepBegan(e.sweep_id, e.total, e.done)
    if kind == "cell_started":
        return SweepCellStarted(e.sweep_id, e.index, e.total, e.label, e.eta_s)
    if kind == "cell_finished":
        return SweepCellFinished(e.sweep_id, e.index, e.total, e.done, e.label, dict(e.result), e.eta_s)
    if kind == "stage":
        return SweepCellActivity(str(e.message))
    if kind == "engine_loaded":
        return SweepCellActivity(f"loaded in {duration(e.load_ms)}", 0.0)
    if kind == "progress":
        text = f"measuring · p50 {ms(e.p50_ms)} ms · {rate(e.throughput, '/s')}"
        return SweepCellActivity(text, float(e.fraction or 0.0))
    if kind == "engine_failed":
        return SweepCellActivity(f"failed: {e.error}")
    return None


# --------------------------------------------------------------------------------------------------- screen


class SweepScreen(ModalScreen[None]):
    """Set up, run and watch a sweep of the Setup pane's model and engines (see the module docstring)."""

    DEFAULT_CSS = """
    SweepScreen {
        align: center middle;
    }
    SweepScreen > #sweep-dialog {
        width: 100%;
        max-width: 140;
        height: 1fr;
        max-height: 50;
        padding: 0 1;
    }
    SweepScreen #sweep-info {
        height: 1;
    }
    SweepScreen #sweep-engines {
        height: 1;
    }
    SweepScreen #sweep-engines > .form-label {
        width: 10;
    }
    SweepScreen #sweep-engines > Tick {
        width: auto;
        margin-right: 2;
    }
    SweepScreen #sweep-progress-row {
        height: 1;
    }
    SweepScreen #sweep-bar {
        width: auto;
        padding: 0 1 0 0;
    }
    SweepScreen #sweep-bar Bar {
        width: 16;
    }
    SweepScreen #sweep-status {
        width: 1fr;
        height: 1;
    }
    SweepScreen #sweep-current {
        height: auto;
        max-height: 3;
    }
    SweepScreen #sweep-body {
        height: 1fr;
        layout: vertical;
    }
    SweepScreen.-wide #sweep-body {
        layout: horizontal;
    }
    SweepScreen #sweep-table {
        height: auto;
        min-height: 3;
        max-height: 50%;
    }
    SweepScreen.-wide #sweep-table {
        width: 1fr;
        height: 1fr;
        max-height: 100%;
    }
    SweepScreen #sweep-chart-box {
        height: 1fr;
        min-height: 4;
    }
    SweepScreen.-wide #sweep-chart-box {
        width: 44;
        height: 1fr;
        padding: 0 0 0 1;
    }
    """

    BINDINGS = [
        Binding("r", "start", "Start", id="sweep-start", tooltip="Start the sweep (enter in a field starts it too)"),
        Binding(
            "r",
            "resume",
            "Resume",
            id="sweep-resume",
            tooltip="Resume this stored sweep: only the cells it has not finished run (workbench sweep --resume)",
        ),
        Binding(
            "s",
            "stop",
            "Stop",
            id="sweep-stop",
            tooltip="Stop the sweep: the cell in flight is killed, finished cells stay saved (workbench sweep --resume)",
        ),
        Binding(
            "escape",
            "close",
            "Close",
            id="sweep-close",
            tooltip="Close the sweep screen (while a sweep runs: press twice to stop it and close)",
        ),
    ]

    #: seconds a first escape during a sweep waits for the second one
    ESCAPE_WINDOW_S = 3.0
    #: width from which the table and the chart sit side by side
    WIDE_FROM = 120

    running: reactive[bool] = reactive(False)

    def __init__(
        self,
        target: SweepTarget,
        cpus: Sequence[int] = (),
        record: "RunRecord | None" = None,
        engines: Sequence[str] = (),
    ) -> None:
        """``target``: what to sweep (from the Setup pane); ``cpus``: the CPUs the app may use (the core pool when
        the target names none); ``record``: a stored sweep to show (and resume) instead of setting one up — see
        :meth:`for_record`, which also makes ``target`` from it; ``engines``: the installed engines offered as
        ticks (the target's are ticked). Raises UsageError when ``record`` has no readable sweep spec."""
        super().__init__()
        self.target = target
        self.offered: tuple[str, ...] = tuple(dict.fromkeys((*target.engines, *engines)))
        self._new_until = 0.0  # a first r over a finished sweep waits for the second until then
        self.pool: tuple[int, ...] = tuple(target.cores or cpus or ())
        self.record: "RunRecord | None" = record  # the stored sweep shown, or the last sweep run here, as saved
        #: the stored sweep's spec: its axes are fixed (the fields show them, disabled); None when setting one up
        self.stored: "SweepSpec | None" = None
        if record is not None:
            self.stored = services.stored_spec(record)
            if self.stored is None:
                raise UsageError(services.unreadable_sweep(record))
        self.results: list[dict[str, Any]] = []  # finished cells of the sweep shown, in order
        self._sweep: Any = None
        self._lock = threading.Lock()
        self._stop_requested = False
        self._close_when_stopped = False
        self._escape_until = 0.0
        self._sweep_id: str | None = None
        self._total = 0
        self._done = 0
        self._cell_fraction = 0.0
        self._eta: float | None = None
        self._current = ""
        self._activity = ""
        self._state = ""
        self._failed = 0
        self._stopped_here = False  # the sweep shown was stopped with s (its state reads "stopped")
        if record is not None and self.stored is not None:
            self._show_stored(record)
            self._state = services.sweep_state(record)

    @classmethod
    def for_record(cls, record: "RunRecord", cpus: Sequence[int] = ()) -> "SweepScreen":
        """The screen for a stored sweep (History → enter): its spec in the fields (fixed), its finished cells in the
        table, ``r`` resumes it when it was interrupted or failed. Raises UsageError when ``record`` is not a sweep
        with a readable spec."""
        spec = services.stored_spec(record)
        if spec is None:
            raise UsageError(services.unreadable_sweep(record))
        target = SweepTarget(
            model=spec.model,
            engines=tuple(spec.engines),
            device=spec.device,
            cores=tuple(spec.cores) if spec.cores else None,
            engine_options=tuple(spec.engine_options),
        )
        return cls(target, cpus=cpus, record=record)

    def _show_stored(self, record: "RunRecord") -> None:
        """Take a stored sweep's cells and counts (the table is rebuilt by the caller once mounted)."""
        assert self.stored is not None
        self.record = record
        self.results = [r.to_dict() for r in record.results]
        self._failed = sum(1 for r in record.results if not r.ok)
        self._sweep_id = record.run_id
        self._done = len(record.results)
        self._total = services.sweep_total(record, self.stored)

    # -------------------------------------------------------------------------------------------- compose
    def _info(self) -> str:
        if self.stored is None:
            return self.target.describe() + " (from Setup)"
        spec, extra = self.stored, []
        if spec.streams != (None,):
            extra.append("streams " + ",".join("auto" if s is None else str(s) for s in spec.streams))
        if spec.requests != (None,):
            extra.append("requests " + ",".join("auto" if r is None else str(r) for r in spec.requests))
        if spec.sparsities != (0.0,):
            extra.append("sparsity " + ",".join(f"{s:g}" for s in spec.sparsities))
        return " · ".join([self.target.describe(), *extra]) + " (stored sweep)"

    def compose(self) -> ComposeResult:
        with Vertical(id="sweep-dialog"):
            yield Static(self._info(), id="sweep-info")
            with Horizontal(id="sweep-engines"):
                yield Label("Engines", classes="form-label")
                for name in self.offered:
                    yield Tick(name, name in self.target.engines, name=name, compact=True, id=f"sweep-engine-{name}")
            yield SweepForm(field_texts(self.stored, len(self.pool)), id="sweep-form")
            with Horizontal(id="sweep-progress-row"):
                yield ProgressBar(total=100, show_eta=False, id="sweep-bar")
                yield Static("", id="sweep-status")
            yield Static("", id="sweep-current")
            with Vertical(id="sweep-body"):
                yield SweepTable(id="sweep-table")
                yield SweepChart(id="sweep-chart-box")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one("#sweep-dialog").border_title = "Sweep"
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rebuild_table())
        self.set_class(self.size.width >= self.WIDE_FROM, "-wide")
        if self.stored is not None:  # a stored sweep: its axes cannot change; its cells are in the table
            self.query_one("#sweep-form").disabled = True
            self.query_one("#sweep-engines").disabled = True
            self._rebuild_table()
            self._render_progress()
            self.query_one("#sweep-table").focus()
        else:
            self._check_form()
            self.query_one("#sweep-threads", Input).focus()
        self.call_after_refresh(self._fit_table)

    def on_resize(self) -> None:
        self.set_class(self.size.width >= self.WIDE_FROM, "-wide")
        self.call_after_refresh(self._fit_table)

    def _fit_table(self) -> None:
        """Short engine names when the table is narrow; rows are rebuilt when that changes."""
        table = self.query_one(SweepTable)
        compact = table.size.width < FULL_NAMES_FROM
        if compact != table.compact:
            table.compact = compact
            self._rebuild_table()

    # ------------------------------------------------------------------------------------------------ form
    def spec(self) -> "SweepSpec":
        """The :class:`~workbench.campaign.cells.SweepSpec` the fields describe, checked by the CLI's rules (a stored
        sweep: the spec it ran). Raises UsageError (one line naming the field) and marks the field invalid."""
        return self._checked_spec()[0]

    def _checked_spec(self) -> "tuple[SweepSpec, int]":
        """:meth:`spec` and its number of cells (:func:`workbench.tui.services.check_sweep_spec`)."""
        if self.stored is not None:
            return self.stored, self._total
        engines = self.chosen_engines()
        if not engines:
            raise UsageError("engines: tick at least one engine to sweep")
        values = dict(
            model=self.target.model,
            engines=engines,
            device=self.target.device,
            cores=self.target.cores,
            engine_options=self.target.engine_options,
            **self.query_one(SweepForm).read(),
        )
        spec = services.make_sweep_spec(values)
        try:
            cells = services.check_sweep_spec(spec)
        except WorkbenchError as exc:
            raise UsageError(_ui_line(exc)) from None
        return spec, cells

    def _check_form(self) -> int | None:
        """Validate the fields as they are typed; the status line says how many cells or what is wrong."""
        if self.running or self.stored is not None:
            return None
        try:
            spec, cells = self._checked_spec()
        except WorkbenchError as exc:
            self._set_status(Content.assemble(("✗ ", "$error"), (str(exc), "$error")))
            return None
        least = cells * (spec.duration_s + spec.warmup_s) * 1000
        self._set_status(
            Content.assemble(
                ("ready ", "bold $accent"),
                (f"{cells} cell{'s' if cells != 1 else ''} · at least {duration(least)} · ", ""),
                ("enter starts (r, outside a field)", "$text-muted"),
            )
        )
        return cells

    def chosen_engines(self) -> tuple[str, ...]:
        """The engines ticked on the screen (a stored sweep: the ones it ran)."""
        if self.stored is not None:
            return tuple(self.target.engines)
        return tuple(str(t.name) for t in self.query("#sweep-engines Tick").results(Tick) if t.value)

    @on(Input.Changed, "#sweep-form Input")
    def _field_changed(self) -> None:
        self._check_form()

    @on(Checkbox.Changed, "#sweep-engines Tick")
    def _engine_ticked(self) -> None:
        self._check_form()

    @on(Input.Submitted, "#sweep-form Input")
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_start()

    # --------------------------------------------------------------------------------------------- actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # r starts a sweep set up here, or resumes the stored one shown (one binding each, the other hidden)
        if action == "start" and self.stored is not None:
            return False
        if action == "resume" and self.stored is None:
            return False
        if action in ("start", "resume") and self.running:
            return None
        if action == "stop" and not self.running:
            return None
        return True

    def action_start(self) -> None:
        """Check the fields and start the sweep in a thread worker (a bad field: one notification, no start)."""
        if self.running:
            self.notify("A sweep is running — press s to stop it first.", severity="warning", title="Sweep")
            return
        if self.stored is not None:  # a stored sweep's axes are fixed: r resumes it
            self.action_resume()
            return
        try:
            spec, cells = self._checked_spec()
        except WorkbenchError as exc:
            self.notify(str(exc), severity="error", title="Sweep", markup=False)
            return
        if self.results and not self._confirm_new():
            return
        self.results, self.record, self._failed = [], None, 0
        self._sweep_id, self._total, self._done = None, cells, 0
        self._cell_fraction, self._eta, self._current, self._state = 0.0, None, "", "running"
        self._activity = "starting…"
        self._stop_requested = self._close_when_stopped = self._stopped_here = False
        self.query_one("#sweep-table", DataTable).clear()
        self._redraw_chart()
        self.running = True
        self._render_progress()
        self._sweep_worker(spec)

    def _confirm_new(self) -> bool:
        """A new sweep over the one shown: the first r asks (the shown sweep stays in History), a second within
        3 s starts."""
        now = time.monotonic()
        if now < self._new_until:
            self._new_until = 0.0
            return True
        self._new_until = now + self.ESCAPE_WINDOW_S
        kept = f"sweep {self._sweep_id}" if self._sweep_id else "the sweep shown"
        self.notify(
            f"Press r again to start a new sweep; {kept} stays saved in History.",
            severity="warning",
            title="Sweep",
            timeout=self.ESCAPE_WINDOW_S,
            markup=False,
        )
        return False

    def action_resume(self) -> None:
        """Resume the stored sweep shown (interrupted or failed) in the thread worker, as ``workbench sweep --resume
        ID`` does; anything else is one notification line and nothing starts."""
        if self.running:
            self.notify("The sweep is running — press s to stop it first.", severity="warning", title="Sweep")
            return
        if self.stored is None or self.record is None:
            self.action_start()
            return
        if getattr(self.app, "running", False):  # a benchmark of the main screen owns cores now
            self.notify("A run is in progress — stop it before resuming the sweep.", severity="warning", title="Sweep")
            return
        why = services.resume_refusal(self.record)
        if why is not None:
            self.notify(why, severity="warning", title="Sweep not resumed", markup=False)
            return
        self._cell_fraction, self._eta, self._current, self._state = 0.0, None, "", "running"
        self._activity = "resuming…"
        self._stop_requested = self._close_when_stopped = self._stopped_here = False
        self.running = True
        self._render_progress()
        self._sweep_worker(self.stored, self.record.run_id)

    def action_stop(self) -> None:
        """Stop the sweep: kill the cell in flight (off the event loop); finished cells stay saved."""
        if not self.running:
            self.notify("No sweep is running.", title="Sweep")
            return
        self._stop_requested = True
        self._activity = "stopping…"
        self._render_progress()
        with self._lock:
            sweep = self._sweep
        if sweep is not None:
            threading.Thread(target=sweep.cells.stop, name="workbench-sweep-stop", daemon=True).start()

    def action_close(self) -> None:
        if not self.running:
            self.dismiss(None)
            return
        now = time.monotonic()
        if now < self._escape_until:
            self._close_when_stopped = True
            self.action_stop()
            return
        self._escape_until = now + self.ESCAPE_WINDOW_S
        self.notify(
            "A sweep is running: press escape again to stop it and close (finished cells stay saved), or s to stop it.",
            severity="warning",
            title="Sweep",
        )

    def watch_running(self, running: bool) -> None:
        self.query_one("#sweep-form").disabled = running or self.stored is not None
        self.query_one("#sweep-engines").disabled = running or self.stored is not None
        if running:
            self.query_one("#sweep-table").focus()
        self.refresh_bindings()

    def on_unmount(self) -> None:
        with self._lock:
            sweep = self._sweep
        if sweep is not None:  # the app quits mid-sweep: the record is saved as interrupted
            sweep.cells.stop()

    # ---------------------------------------------------------------------------------------------- worker
    @work(thread=True, exclusive=True, exit_on_error=False, group="sweep", description="Sweep")
    def _sweep_worker(self, spec: "SweepSpec", resume_id: str | None = None) -> None:
        """Own the Sweep; post messages only (never touches a widget). ``resume_id``: resume that stored sweep, read
        again from the history here (the cells it holds now are the ones not run again); Sweep's refusal (another
        host, running again) is a :class:`SweepRefused` line."""

        def on_event(event: "Event") -> None:
            message = _event_message(event)
            if message is not None:
                self.post_message(message)

        app = self.app  # found through the parents now: the screen may be gone when the store has a notice

        def notice(line: str) -> None:  # notify() is thread-safe
            app.notify(line, severity="warning", title="History", markup=False)

        try:
            store = services.open_history(notice)
            resume = None
            if resume_id is not None:
                resume = store.get(resume_id)
                spec = services.stored_spec(resume) or spec
                self.post_message(SweepReloaded(resume))
            sweep = services.make_sweep(spec, store, on_event, resume=resume)
        except UsageError as exc:
            if resume_id is not None:  # not resumable (as the CLI would say): nothing started
                self.post_message(SweepRefused(_error_line(exc)))
            else:
                self.post_message(SweepEnded("failed", None, _error_line(exc)))
            return
        except BaseException as exc:
            self.post_message(SweepEnded("failed", None, _error_line(exc)))
            return
        with self._lock:
            self._sweep = sweep
            stop = self._stop_requested
        if stop:
            sweep.cells.stop()
        try:
            state, record = services.run_sweep(sweep)
        except BaseException as exc:
            self.post_message(SweepEnded("failed", sweep.record, _error_line(exc)))
        else:
            self.post_message(SweepEnded(state, record))
        finally:
            with self._lock:
                self._sweep = None

    # --------------------------------------------------------------------------------------------- handlers
    def on_sweep_reloaded(self, message: SweepReloaded) -> None:
        """The stored sweep as it is about to resume: its cells now (the table is rebuilt when they changed)."""
        if self.stored is None:
            return
        before = [str((r.get("cell") or {}).get("key")) for r in self.results]
        self._show_stored(message.record)
        if [str((r.get("cell") or {}).get("key")) for r in self.results] != before:
            self._rebuild_table()
        self._render_progress()

    def on_sweep_refused(self, message: SweepRefused) -> None:
        """Sweep would not resume the stored sweep: one line, and the screen shows it as before."""
        self.running = False
        self._activity = self._current = ""
        if self.record is not None:
            self._state = services.sweep_state(self.record)
        self.notify(message.line, severity="warning", title="Sweep not resumed", markup=False)
        self._render_progress()

    def on_sweep_began(self, message: SweepBegan) -> None:
        self._sweep_id, self._total, self._done = message.sweep_id, message.total, message.done
        self._render_progress()

    def on_sweep_cell_started(self, message: SweepCellStarted) -> None:
        self._total = max(self._total, message.total)
        self._current, self._activity, self._cell_fraction = message.label, "", 0.0
        if message.eta_s is not None:
            self._eta = message.eta_s
        self._render_progress()

    def on_sweep_cell_activity(self, message: SweepCellActivity) -> None:
        if self._stop_requested:
            return
        self._activity = message.text
        if message.fraction is not None:
            self._cell_fraction = max(0.0, min(1.0, message.fraction))
        self._render_progress()

    def on_sweep_cell_finished(self, message: SweepCellFinished) -> None:
        self.results.append(message.result)
        self._done, self._total, self._eta = message.done, max(self._total, message.total), message.eta_s
        self._cell_fraction, self._activity = 0.0, ""
        cell = cell_of(message.result)
        table = self.query_one(SweepTable)
        table.add_cell(cell, len(self.results) - 1)
        table.move_cursor(row=table.row_count - 1)
        if not cell.ok:
            self._failed += 1
            if self._failed == 1:
                self.notify(f"{message.label}: {cell.error}", severity="error", title="Cell failed", markup=False)
        self._redraw_chart()
        self._render_progress()

    def on_sweep_ended(self, message: SweepEnded) -> None:
        self.running = False
        if message.record is not None or self.stored is None:  # a stored sweep stays shown when a resume fails
            self.record = message.record
        record = message.record
        sweep_id = record.run_id if record is not None else self._sweep_id
        done = len(record.results) if record is not None else self._done
        if record is not None:
            self._done = len(record.results)
        self._state, self._activity, self._current = message.state, "", ""
        self._stopped_here = message.state == "interrupted"
        here = " (or press r here)" if self.stored is not None else ""
        if message.state == "complete":
            failed = f", {self._failed} failed (their rows say why)" if self._failed else ""
            self.notify(
                f"Sweep {sweep_id} saved to the history: {done} cell{'s' if done != 1 else ''}{failed}.",
                severity="warning" if self._failed else "information",
                title="Sweep done",
                markup=False,
            )
        elif message.state == "interrupted":
            where = here or " or from History (enter on the sweep, then r)"
            self.notify(
                f"Sweep stopped: {done} finished cell{'s' if done != 1 else ''} saved in sweep {sweep_id}; "
                f"resume it with `workbench sweep --resume {sweep_id}`{where}",
                severity="warning",
                title="Sweep stopped",
                markup=False,
            )
        else:
            hint = (
                f" — {done} finished cell{'s' if done != 1 else ''} saved; `workbench sweep --resume {sweep_id}`{here}"
                if done and sweep_id
                else ""
            )
            self.notify(f"{message.error or 'failed'}{hint}", severity="error", title="Sweep failed", markup=False)
        self._render_progress()
        if record is not None:  # saved by the sweep after every cell: show it in History
            reload = getattr(self.app, "action_reload_history", None)
            if callable(reload):
                reload()
        if self._close_when_stopped:
            self.dismiss(None)

    @on(DataTable.RowHighlighted, "#sweep-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Between sweeps the line under the progress shows the chosen cell (a failed cell's whole error)."""
        if not self.running:
            self._render_progress()

    def _chosen_cell(self) -> "Cell | None":
        index = self.query_one(SweepTable).chosen_index()
        try:
            return None if index is None else cell_of(self.results[index])
        except (ValueError, IndexError, LookupError):
            return None

    def _cell_detail(self) -> Content:
        c = self._chosen_cell()
        if c is None:
            return Content("")
        if not c.ok:
            return Content.assemble((f"{c.label()}: ", "bold $error"), (str(c.error), "$error"))
        parts: list[Any] = [(c.label(), "bold")]
        if c.iterations is not None:
            parts.append((f" · n={c.iterations:,}", ""))
        if c.parity:
            l2 = f" (rel L2 {c.parity_rel_l2:.1e})" if c.parity_rel_l2 is not None else ""
            parts.append((f" · parity {c.parity}{l2}", ""))
        return Content.assemble(*parts)

    # ----------------------------------------------------------------------------------------------- render
    def _set_status(self, content: Content) -> None:
        self.query_one("#sweep-status", Static).update(content)

    def _render_progress(self) -> None:
        total = max(self._total, 1)
        fraction = min(1.0, (self._done + (self._cell_fraction if self.running else 0.0)) / total)
        self.query_one("#sweep-bar", ProgressBar).update(progress=round(fraction * 100, 1))
        cells = f"{self._done}/{self._total} cells"
        self.query_one("#sweep-dialog").border_subtitle = f"sweep {self._sweep_id}" if self._sweep_id else ""
        if self.running:
            left = max(self._total - self._done, 0)
            eta = f" · ETA {eta_text(self._eta)}" if self._eta is not None and left else ""
            style = "$warning" if self._stop_requested else "$accent"
            state = "stopping" if self._stop_requested else "running"
            status = Content.assemble((state, f"bold {style}"), (f" · {cells} · {left} left{eta}", ""))
        else:
            style = {"complete": "$success", "interrupted": "$warning", "running": "$accent"}.get(self._state, "$error")
            label = {
                "complete": "complete",
                "interrupted": "stopped" if self._stopped_here else "interrupted",
                "running": "running elsewhere",  # a stored sweep whose process still lives
            }.get(self._state, "failed")
            failed = f" · {self._failed} failed" if self._failed else ""
            parts: list[Any] = [(label, f"bold {style}"), (f" · {cells}{failed}", "")]
            if self.stored is not None and self._state in ("interrupted", "failed"):
                parts.append((" · r resumes", "$text-muted"))
            elif self._state == "interrupted" and self._sweep_id:
                parts.append((" · resume from History: enter on the sweep, then r", "$text-muted"))
            status = Content.assemble(*parts)
        self._set_status(status)
        line = self.query_one("#sweep-current", Static)
        if not self.running:
            line.update(self._cell_detail())
            return
        current = self._current
        if self._activity:  # "preparing tiny_cnn (onnxruntime fp32 t1 b1 latency)": the label is shown once
            activity = self._activity.replace(f" ({current})", "") if current else self._activity
            current = f"{current} · {activity}" if current else activity
        line.update(current)

    def _rebuild_table(self) -> None:
        """Every finished cell again (engine names or theme colours changed), and the chart."""
        self.query_one(SweepTable).show(self.results)
        self._redraw_chart()

    def _redraw_chart(self) -> None:
        """Throughput vs threads per engine, from the finished cells (called once per finished cell)."""
        self.query_one(SweepChart).draw([cell_of(r) for r in self.results])


def _error_line(error: BaseException) -> str:
    from workbench.tui.app import readable_error  # the app's one mapping of worker errors to a line

    return readable_error(error)
