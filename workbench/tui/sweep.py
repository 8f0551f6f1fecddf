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
per sample. ``s`` stops: the cell in flight is killed, finished cells stay saved and the notification names
``workbench sweep --resume ID``. Escape closes the screen when nothing runs; during a sweep a second escape stops
it and closes.

A stored sweep opens here too: Enter on a sweep row in the History pane (:meth:`SweepScreen.for_record`). Its axis
fields show the stored spec and cannot change, the table holds its finished cells and the progress line says its
effective state (:func:`workbench.campaign.sweep.effective_state`: a sweep whose process died reads
``interrupted``). ``r`` resumes an interrupted or failed sweep in the same worker — ``Sweep(spec, resume=record)``,
as ``workbench sweep --resume ID`` — on the record as the history has it then, so no finished cell runs twice; new
rows append as cells finish and ``s`` stops it again. A complete sweep, a fleet sweep, a sweep still running in
another process, or one started on another host is not resumed: one notification line says why
(:func:`resume_refusal`, then Sweep's own check).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, ProgressBar, Static
from textual_plotext import PlotextPlot

from workbench.errors import UsageError, WorkbenchError
from workbench.tui.format import cpu_ranges, engines_label, short_engine
from workbench.tui.messages import (
    SweepBegan,
    SweepCellActivity,
    SweepCellFinished,
    SweepCellStarted,
    SweepEnded,
)
from workbench.tui.widgets.footer import QuietFooter
from workbench.tui.widgets.results import theme_color
from workbench.tui.widgets.setup import FormRow
from workbench.units import MISSING, duration, ms, rate, significant

if TYPE_CHECKING:  # pragma: no cover
    from workbench.campaign.cells import SweepSpec
    from workbench.measure.events import Event
    from workbench.result import RunRecord
    from workbench.stats.scaling import Cell

__all__ = [
    "SweepScreen",
    "SweepTarget",
    "default_threads",
    "parse_ints",
    "parse_words",
    "parse_seconds",
    "cell_row",
    "throughput_series",
    "resume_refusal",
    "stored_spec",
    "SweepReloaded",
    "SweepRefused",
    "COLUMNS",
]

DEFAULT_DURATION_S = 1.0
DEFAULT_WARMUP_S = 0.5

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

CHART_TITLE = "items/s vs threads"

#: theme variables the chart's lines take their colours from, in order
SERIES_COLOURS: tuple[str, ...] = ("primary", "accent", "success", "secondary", "warning", "error")


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


def default_threads(cores: int) -> tuple[int, ...]:
    """1, 2, 4, … up to ``cores``, and ``cores`` itself (the whole pool) when it is not a power of two."""
    out, t = [], 1
    while t <= max(cores, 1):
        out.append(t)
        t *= 2
    if cores > 1 and out[-1] != cores:
        out.append(cores)
    return tuple(out)


def _items(text: str) -> list[str]:
    return [item for item in re.split(r"[,\s]+", text.strip()) if item]


def parse_ints(name: str, text: str) -> tuple[int, ...]:
    """``"1,2,4"`` → ``(1, 2, 4)`` by ``workbench sweep``'s rules (whole numbers ≥ 1, duplicates dropped; commas
    or spaces between them). Raises UsageError naming the field."""
    out = []
    for item in _items(text):
        try:
            n = int(item)
        except ValueError:
            raise UsageError(f"{name}: {item!r} is not a whole number") from None
        if n < 1:
            raise UsageError(f"{name}: {n} must be >= 1")
        out.append(n)
    if not out:
        raise UsageError(f"{name}: give at least one number, comma-separated")
    return tuple(dict.fromkeys(out))


def parse_words(name: str, text: str, choices: Sequence[str]) -> tuple[str, ...]:
    """``"fp32,int8"`` → ``("fp32", "int8")``; each must be one of ``choices``. Raises UsageError."""
    items = tuple(dict.fromkeys(item.lower() for item in _items(text)))
    if not items:
        raise UsageError(f"{name}: give at least one of {', '.join(choices)}, comma-separated")
    for item in items:
        if item not in choices:
            raise UsageError(f"{name}: must be among {', '.join(choices)}, not {item!r}")
    return items


def parse_seconds(name: str, text: str, *, positive: bool) -> float:
    """Seconds as a number: > 0 (``positive``) or ≥ 0. Raises UsageError."""
    try:
        value = float(text.strip())
    except ValueError:
        raise UsageError(f"{name}: {text.strip()!r} is not a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise UsageError(f"{name}: {text.strip()!r} is not a number of seconds")
    if positive and value <= 0:
        raise UsageError(f"{name}: must be > 0 seconds, not {value:g}")
    if not positive and value < 0:
        raise UsageError(f"{name}: must be >= 0 seconds, not {value:g}")
    return value


def _ui_line(error: BaseException) -> str:
    """A core error for this screen: ``--threads 4 needs …`` reads ``threads 4 needs …`` (the fields have no
    flags); the rest of the line is the CLI's."""
    text = str(error).strip()
    line = text.splitlines()[0] if text else type(error).__name__
    return re.sub(r"--(?=[a-z])", "", line)


# ----------------------------------------------------------------------------------------------------- rows


def _cell(result: Mapping[str, Any]) -> "Cell":
    from workbench.result import EngineResult
    from workbench.stats.scaling import cell_of

    return cell_of(EngineResult.from_dict(dict(result)))


def cell_row(c: "Cell", compact: bool = False) -> tuple[str, ...]:
    """The table's cells for one finished cell (:data:`COLUMNS`); a failed cell's status is ``failed: ERROR``.
    ``compact``: short engine names (``ort``, ``ov``) for a table under :data:`FULL_NAMES_FROM` columns."""
    eff = c.precision_effective
    prec = c.precision if not eff or eff == c.precision else f"{c.precision}→{eff}"
    return (
        short_engine(c.engine) if compact else c.engine,
        prec,
        MISSING if c.threads is None else str(c.threads),
        str(c.batch),
        c.mode,
        ms(c.p50_ms),
        ms(c.p99_ms),
        rate(c.throughput),
        significant(c.peak_rss_mb),
        c.parity or MISSING,
        "ok" if c.ok else f"failed: {c.error}",
    )


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


# ---------------------------------------------------------------------------------------------- stored sweeps


def stored_spec(record: "RunRecord") -> "SweepSpec | None":
    """The :class:`~workbench.campaign.cells.SweepSpec` a stored sweep ran (None: not a sweep, or no readable spec)."""
    from workbench.campaign.cells import SweepSpec

    spec = (record.sweep or {}).get("spec") if record.kind == "sweep" else None
    if not isinstance(spec, Mapping):
        return None
    try:
        return SweepSpec.from_dict(spec)
    except (TypeError, ValueError):
        return None


def _unreadable(record: "RunRecord") -> str:
    return f"{record.run_id} is not a sweep this version can read (no sweep spec stored)"


def resume_refusal(record: "RunRecord") -> str | None:
    """Why the Sweep screen does not resume this stored sweep, as one line; None when it may (its effective state is
    interrupted or failed). Sweep itself checks again when it is built (a sweep of another host, one that started
    running since it was shown): its UsageError is then the line."""
    from workbench.campaign.sweep import effective_state

    info = record.sweep or {}
    sid = record.run_id
    if stored_spec(record) is None:
        return _unreadable(record)
    fleet = info.get("fleet")
    if fleet:
        fleet_id = fleet.get("sweep_id", sid) if isinstance(fleet, Mapping) else sid
        return (
            f"sweep {sid} ran on a cluster: rerun its failed cells with `workbench fleet resubmit {fleet_id} --failed`"
        )
    state = effective_state(record)
    if state == "complete":
        failed = sum(1 for r in record.results if not r.ok)
        rerun = (
            f"; rerun its {failed} failed cell{'s' if failed != 1 else ''} with "
            f"`workbench sweep --resume {sid} --retry-failed`"
            if failed
            else ""
        )
        return f"sweep {sid} is complete: nothing to resume{rerun}"
    if state == "running":
        where = f" (pid {info.get('pid')} on {info.get('host')})" if info.get("pid") else ""
        return f"sweep {sid} is still running in another process{where}: wait for it, or stop it there"
    if state not in ("interrupted", "failed"):
        return f"sweep {sid} is {state or 'in no known state'}: nothing to resume"
    return None


def _stored_total(record: "RunRecord", spec: "SweepSpec") -> int:
    """A stored sweep's number of cells: as it saved it, else counted from its spec."""
    total = (record.sweep or {}).get("cells_total")
    if isinstance(total, int) and total > 0:
        return max(total, len(record.results))
    from workbench.campaign.sweep import sweep_cells

    try:
        return max(len(sweep_cells(spec)[0]), len(record.results))
    except WorkbenchError:
        return len(record.results)


@dataclass
class SweepReloaded(Message):
    """The stored sweep as the history has it just before it resumes (its cells may have grown since it was shown)."""

    record: "RunRecord"


@dataclass
class SweepRefused(Message):
    """The stored sweep is not resumed (nothing started): one line why."""

    line: str


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
        color: $text-muted;
    }
    SweepScreen #sweep-form {
        grid-size: 2;
        grid-columns: 1fr 1fr;
        grid-rows: 1;
        grid-gutter: 0 2;
        height: 3;
    }
    SweepScreen #sweep-form FormRow > .form-label {
        width: 10;
    }
    SweepScreen #sweep-form Input.-textual-compact {
        background: $panel;
        width: 1fr;
    }
    SweepScreen #sweep-form Input.-textual-compact:focus {
        background: $panel-lighten-1;
    }
    SweepScreen #sweep-form Input.-invalid {
        color: $error;
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
    SweepScreen #sweep-bar Bar > .bar--bar {
        color: $accent;
    }
    SweepScreen #sweep-bar Bar > .bar--complete {
        color: $success;
    }
    SweepScreen #sweep-status {
        width: 1fr;
        height: 1;
    }
    SweepScreen #sweep-current {
        height: auto;
        max-height: 3;
        color: $text-muted;
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
    SweepScreen #sweep-chart-title {
        height: auto;
        max-height: 3;
        color: $text-muted;
    }
    SweepScreen #sweep-chart {
        height: 1fr;
        display: none;
    }
    SweepScreen #sweep-chart-box.-drawn #sweep-chart {
        display: block;
    }
    SweepScreen #sweep-chart-box.-drawn #sweep-chart-empty {
        display: none;
    }
    SweepScreen #sweep-chart-empty {
        height: 1fr;
        content-align: center middle;
        color: $text-muted;
    }
    SweepScreen > #sweep-dialog {
        border: round $primary;
        border-title-color: $primary;
        border-title-style: bold;
        background: $surface;
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

    def __init__(self, target: SweepTarget, cpus: Sequence[int] = (), record: "RunRecord | None" = None) -> None:
        """``target``: what to sweep (from the Setup pane); ``cpus``: the CPUs the app may use (the core pool when
        the target names none); ``record``: a stored sweep to show (and resume) instead of setting one up — see
        :meth:`for_record`, which also makes ``target`` from it. Raises UsageError when ``record`` has no readable
        sweep spec."""
        super().__init__()
        self.target = target
        self.pool: tuple[int, ...] = tuple(target.cores or cpus or ())
        self.record: "RunRecord | None" = record  # the stored sweep shown, or the last sweep run here, as saved
        #: the stored sweep's spec: its axes are fixed (the fields show them, disabled); None when setting one up
        self.stored: "SweepSpec | None" = None
        if record is not None:
            self.stored = stored_spec(record)
            if self.stored is None:
                raise UsageError(_unreadable(record))
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
        self._compact = False
        self._stopped_here = False  # the sweep shown was stopped with s (its state reads "stopped")
        if record is not None and self.stored is not None:
            from workbench.campaign.sweep import effective_state

            self._show_stored(record)
            self._state = effective_state(record)

    @classmethod
    def for_record(cls, record: "RunRecord", cpus: Sequence[int] = ()) -> "SweepScreen":
        """The screen for a stored sweep (History → enter): its spec in the fields (fixed), its finished cells in the
        table, ``r`` resumes it when it was interrupted or failed. Raises UsageError when ``record`` is not a sweep
        with a readable spec."""
        spec = stored_spec(record)
        if spec is None:
            raise UsageError(_unreadable(record))
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
        self._total = _stored_total(record, self.stored)

    # -------------------------------------------------------------------------------------------- compose
    def _field_values(self) -> dict[str, str]:
        """The fields' text: a small default sweep, or a stored sweep's axes."""
        spec = self.stored
        if spec is None:
            threads = ",".join(str(t) for t in default_threads(len(self.pool) or 1))
            return dict(
                threads=threads,
                batch="1",
                precisions="fp32",
                modes="latency",
                duration=f"{DEFAULT_DURATION_S:g}",
                warmup=f"{DEFAULT_WARMUP_S:g}",
            )

        def join(items: Sequence[Any]) -> str:
            return ",".join(str(i) for i in items)

        batch = join(spec.batches)
        if spec.max_memory_mb is not None:
            batch = f"largest under {spec.max_memory_mb:g} MB (≤ {spec.max_batch})"
        return dict(
            threads=join(spec.threads),
            batch=batch,
            precisions=join(spec.precisions),
            modes=join(spec.modes),
            duration=f"{spec.duration_s:g}",
            warmup=f"{spec.warmup_s:g}",
        )

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
        from workbench_engines.base import MODES, PRECISIONS

        v = self._field_values()
        with Vertical(id="sweep-dialog"):
            yield Static(self._info(), id="sweep-info")
            with Grid(id="sweep-form"):
                yield self._field("Threads", "sweep-threads", v["threads"], "thread counts, e.g. 1,2,4")
                yield self._field("Batch", "sweep-batch", v["batch"], "batch sizes, e.g. 1,8,32")
                yield self._field(
                    "Precision", "sweep-precisions", v["precisions"], f"comma-separated: {', '.join(PRECISIONS)}"
                )
                yield self._field("Mode", "sweep-modes", v["modes"], f"comma-separated: {', '.join(MODES)}")
                yield self._field("Duration", "sweep-duration", v["duration"], "measured seconds per cell")
                yield self._field("Warm-up", "sweep-warmup", v["warmup"], "warm-up seconds per cell")
            with Horizontal(id="sweep-progress-row"):
                yield ProgressBar(total=100, show_eta=False, id="sweep-bar")
                yield Static("", id="sweep-status")
            yield Static("", id="sweep-current")
            with Vertical(id="sweep-body"):
                yield DataTable(cursor_type="row", zebra_stripes=True, cell_padding=0, id="sweep-table")
                with Vertical(id="sweep-chart-box"):
                    yield Static(CHART_TITLE, id="sweep-chart-title")
                    yield PlotextPlot(id="sweep-chart")
                    yield Static("drawn here as cells finish", id="sweep-chart-empty")
        yield QuietFooter()

    @staticmethod
    def _field(label: str, field_id: str, value: str, tooltip: str) -> FormRow:
        return FormRow(label, Input(value, compact=True, id=field_id, tooltip=tooltip, classes="form-field"))

    def on_mount(self) -> None:
        self.query_one("#sweep-dialog").border_title = "Sweep"
        table = self.query_one("#sweep-table", DataTable)
        for key, label, right in COLUMNS:
            table.add_column(Text(" " + label, justify="right" if right else "left"), key=key)
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rebuild_table())
        self.set_class(self.size.width >= self.WIDE_FROM, "-wide")
        if self.stored is not None:  # a stored sweep: its axes cannot change; its cells are in the table
            self.query_one("#sweep-form").disabled = True
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
        compact = self.query_one("#sweep-table").size.width < FULL_NAMES_FROM
        if compact != self._compact:
            self._compact = compact
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
        from workbench.tui import services
        from workbench_engines.base import MODES, PRECISIONS

        def read(field_id: str, parse: Callable[[str], Any]) -> Any:
            widget = self.query_one(f"#{field_id}", Input)
            try:
                value = parse(widget.value)
            except UsageError:
                widget.set_class(True, "-invalid")
                raise
            widget.set_class(False, "-invalid")
            return value

        values = dict(
            model=self.target.model,
            engines=self.target.engines,
            device=self.target.device,
            cores=self.target.cores,
            engine_options=self.target.engine_options,
            threads=read("sweep-threads", lambda t: parse_ints("threads", t)),
            batches=read("sweep-batch", lambda t: parse_ints("batch", t)),
            precisions=read("sweep-precisions", lambda t: parse_words("precision", t, PRECISIONS)),
            modes=read("sweep-modes", lambda t: parse_words("mode", t, MODES)),
            duration_s=read("sweep-duration", lambda t: parse_seconds("duration", t, positive=True)),
            warmup_s=read("sweep-warmup", lambda t: parse_seconds("warm-up", t, positive=False)),
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
                ("enter or r starts", "$text-muted"),
            )
        )
        return cells

    @on(Input.Changed, "#sweep-form Input")
    def _field_changed(self) -> None:
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
        why = resume_refusal(self.record)
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
        from workbench.campaign.sweep import SweepInterrupted
        from workbench.tui import services

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
                spec = stored_spec(resume) or spec
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
            record = sweep.run()
        except SweepInterrupted as exc:
            self.post_message(SweepEnded("interrupted", exc.record))
        except BaseException as exc:
            self.post_message(SweepEnded("failed", sweep.record, _error_line(exc)))
        else:
            self.post_message(SweepEnded("complete", record))
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
        from workbench.campaign.sweep import effective_state

        self.running = False
        self._activity = self._current = ""
        if self.record is not None:
            self._state = effective_state(self.record)
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
        cell = _cell(message.result)
        self._add_row(cell, len(self.results) - 1)
        table = self.query_one("#sweep-table", DataTable)
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
            self.notify(
                f"Sweep stopped: {done} finished cell{'s' if done != 1 else ''} saved in sweep {sweep_id}; "
                f"continue with `workbench sweep --resume {sweep_id}`{here}",
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
        table = self.query_one("#sweep-table", DataTable)
        if not table.row_count:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
            return _cell(self.results[int(key.split(":", 1)[0])])
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
            eta = f" · ETA {duration(self._eta * 1000)}" if self._eta is not None and left else ""
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

    def _add_row(self, cell: "Cell", index: int) -> None:
        table = self.query_one("#sweep-table", DataTable)
        ok, bad, muted = theme_color(self, "success"), theme_color(self, "error"), theme_color(self, "text-muted")
        values = cell_row(cell, compact=self._compact)
        parity_style = {"pass": ok, "fail": bad}.get(cell.parity or "", muted)
        styles = ["bold"] + [""] * 8 + [parity_style, ok if cell.ok else bad]
        texts = [
            Text(" " + value, style=style, justify="right" if right else "left", no_wrap=True)
            for value, style, (_, _, right) in zip(values, styles, COLUMNS)
        ]
        table.add_row(*texts, key=f"{index}:{cell.key}")

    def _rebuild_table(self) -> None:
        """Every finished cell again (engine names or theme colours changed)."""
        table = self.query_one("#sweep-table", DataTable)
        row = table.cursor_row
        table.clear()
        for i, result in enumerate(self.results):
            self._add_row(_cell(result), i)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self._redraw_chart()

    def _redraw_chart(self) -> None:
        """Throughput vs threads per engine, from the finished cells (called once per finished cell)."""
        box = self.query_one("#sweep-chart-box")
        plot = self.query_one("#sweep-chart", PlotextPlot)
        series = throughput_series([_cell(r) for r in self.results])
        box.set_class(bool(series), "-drawn")
        plt = plot.plt
        plt.clear_data()
        # the legend goes in the title line: plotext's own would sit on the highest line
        legend: list[Any] = [(CHART_TITLE, "")]
        if not series:
            self.query_one("#sweep-chart-title", Static).update(Content.assemble(*legend))
            plot.refresh()
            return
        hidden = 0
        if len(series) > MAX_SERIES:  # a readable chart: the lines with most points (then the fastest); rest in table
            ranked = sorted(series, key=lambda k: (-len(series[k]), -max(v for _, v in series[k])))
            keep = set(ranked[:MAX_SERIES])
            hidden = len(series) - MAX_SERIES
            series = {k: v for k, v in series.items() if k in keep}
        threads = sorted({t for points in series.values() for t, _ in points})
        top = max(v for points in series.values() for _, v in points)
        for i, (label, points) in enumerate(series.items()):
            variable = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            colour = _plot_colour(self, variable)
            xs = [float(t) for t, _ in points]
            ys = [v for _, v in points]
            plt.plot(xs, ys, marker="hd", color=colour)
            plt.scatter(xs, ys, marker="●", color=colour)
            legend += [("  ● ", f"${variable}"), (label, "")]
        if hidden:
            legend.append((f"  +{hidden} more in the table", "$text-muted"))
        self.query_one("#sweep-chart-title", Static).update(Content.assemble(*legend))
        plt.xticks([float(t) for t in threads], [str(t) for t in threads])
        pad = max(0.5, (threads[-1] - threads[0]) * 0.05)
        plt.xlim(threads[0] - pad, threads[-1] + pad)
        plt.ylim(0, top * 1.15)
        ticks = [0.0, top / 2, top]
        plt.yticks(ticks, [rate(t) for t in ticks])
        plot.refresh()


def _plot_colour(widget: Any, variable: str) -> tuple[int, int, int] | str:
    try:
        value = widget.app.theme_variables.get(variable)
        return Color.parse(value).rgb if value else "default"
    except Exception:  # pragma: no cover - defensive
        return "default"


def _error_line(error: BaseException) -> str:
    from workbench.tui.app import readable_error  # the app's one mapping of worker errors to a line

    return readable_error(error)
