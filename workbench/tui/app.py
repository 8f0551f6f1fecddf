"""The Inference Workbench TUI: ``WorkbenchApp`` and :func:`run_app`.

Data flow (docs/architecture.md): a thread worker owns the :class:`workbench.measure.runner.Runner` (or follows a run of
another process through :mod:`workbench.measure.live`); its callback only ``post_message``\\ s a
:class:`~workbench.tui.messages.RunEventReceived`; the app's handler sets reactives on the panes and their watchers
render. Histograms redraw from pre-binned counts on a timer. The finished record is saved to the history here, on
the UI thread — the app is the only writer. No engine package is imported in this process: engines run in child
processes and the registry answers without importing them.

``python -m workbench.tui.app [--model NAME]`` starts it; the CLI calls :func:`run_app`.
"""

from __future__ import annotations

import argparse
import functools
import sys
import threading
import time
from typing import Any, Iterable, Mapping, Sequence

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Input, Tab, Tabs
from textual.worker import Worker, WorkerState

import workbench_themes
from workbench.errors import RunFailed, WorkbenchError
from workbench.tui import services
from workbench.tui.commands import WorkbenchCommands
from workbench.tui.format import cpu_ranges
from workbench.tui.messages import EnginesLoaded, HistoryLoaded, QpsProbe, RunEventReceived, SystemInfoLoaded
from workbench.tui.screens import CompareScreen, HelpScreen, MonitorScreen, RunDetailScreen
from workbench.tui.widgets.footer import QuietFooter
from workbench.tui.widgets.hardware import HardwarePane
from workbench.tui.widgets.history import HistoryPane
from workbench.tui.widgets.live import LivePane
from workbench.tui.widgets.results import ResultsPane, ResultsView
from workbench.tui.widgets.setup import SetupError, SetupPane
from workbench.tui.widgets.titlebar import TitleBar
from workbench.tui.widgets.workspace import VIEWS, WIDE_MIN, Workspace

__all__ = ["WorkbenchApp", "run_app", "readable_error", "main"]

HISTORY_LIMIT = 50

#: Seconds a first ``s`` (stop) or ``q`` (quit) during a run waits for the second press that confirms it.
CONFIRM_WINDOW_S = 3.0

#: The app's actions bound to printable keys: while a text field has the focus those keys are text, so the footer
#: does not offer them (and they could not fire anyway).
LETTER_ACTIONS = frozenset({"run_bench", "stop", "export", "monitor", "sweep", "help", "quit", "show_view"})

#: Where each view sends the focus when it is opened with a key (narrow layout).
VIEW_FOCUS = {
    "overview": "#history-table",
    "setup": "#setup-model",
    "live": "#views",
    "results": "#results-table",
}


def _after_teardown_ok(method: Any) -> Any:
    """Messages can still arrive while the app shuts down and its panes are gone: ignore them then."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except NoMatches:
            if self._closing or self._exit or not self._running or not self.screen_stack:
                return None
            raise

    return wrapper


def readable_error(error: BaseException | None) -> str:
    """One line for a worker's exception (harlequin style): our errors verbatim, the rest with their type."""
    if error is None:
        return "unknown error"
    if isinstance(error, WorkbenchError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class WorkbenchApp(App[int]):
    """Benchmark inference engines side by side, keyboard first."""

    TITLE = "Inference Workbench"
    CSS_PATH = str(workbench_themes.stylesheet_path())
    COMMANDS = App.COMMANDS | {WorkbenchCommands}
    ENABLE_COMMAND_PALETTE = True
    AUTO_FOCUS = None

    BINDINGS = [
        Binding("r", "run_bench", "Run", id="run", tooltip="Run the benchmark set up in the Setup pane"),
        Binding(
            "s",
            "stop",
            "Stop",
            id="stop",
            tooltip="Stop the run in progress (press twice: the first press asks); nothing partial is saved",
        ),
        Binding(
            "e",
            "export",
            "Export",
            id="export",
            tooltip="Export the current results: choose the format (JSON, CSV, Markdown, HTML) and the file",
        ),
        Binding(
            "m",
            "monitor",
            "Monitor",
            show=False,  # in help and the palette; the footer needs its room for ? and q at 80 columns
            id="monitor",
            tooltip="Follow a run in flight in another session",
        ),
        Binding(
            "w",
            "sweep",
            "Sweep",
            id="sweep",
            tooltip="Sweep threads × batch × precision × mode of the Setup's model and engines, filled in live",
        ),
        Binding("question_mark", "help", "Help", key_display="?", id="help", tooltip="List every key"),
        Binding(
            "q", "quit", "Quit", id="quit", tooltip="Quit (while a run is in progress: press twice, it is stopped)"
        ),
        Binding(
            "ctrl+q",
            "quit_now",
            "Quit now",
            show=False,
            priority=True,
            id="quit-now",
            tooltip="Quit at once (a run in progress is stopped, nothing partial is saved)",
        ),
        Binding(
            "1", "show_view('overview')", "Overview", show=False, id="view-overview", tooltip="Hardware and History"
        ),
        Binding("2", "show_view('setup')", "Setup", show=False, id="view-setup", tooltip="Model, engines, settings"),
        Binding("3", "show_view('live')", "Live", show=False, id="view-live", tooltip="Live histograms"),
        Binding("4", "show_view('results')", "Results", show=False, id="view-results", tooltip="Latest results"),
    ]

    view: reactive[str] = reactive("overview")
    wide: reactive[bool] = reactive(False)
    running: reactive[bool] = reactive(False)

    def __init__(
        self,
        *,
        initial: Mapping[str, Any] | None = None,
        sysinfo: Mapping[str, Any] | None = None,
        engines: Sequence[Any] | None = None,
        models: Sequence[services.ModelChoice] | None = None,
        cpus: Sequence[int] | None = None,
        live_cpu: bool = True,
        history: Sequence[Any] | None = None,
        remember: bool = False,
        qps_probe: Any = None,
    ) -> None:
        """``initial`` preselects Setup fields (model, engines, device, precision, mode, batch, threads, cores,
        duration_s, warmup_s). The other arguments inject fixed data (tests and snapshots): ``sysinfo`` replaces
        :func:`workbench.machine.sysinfo.collect`, ``engines`` the registry, ``models`` the zoo, ``cpus`` the CPUs this
        process may use, ``history`` the records shown at start (the store is still written on a run);
        ``live_cpu=False`` freezes the per-core utilisation bars. ``remember``: start from the last setup run (kept
        under the XDG config dir; ``initial`` still wins) and remember each new one — what ``workbench ui`` does.
        ``qps_probe``: replaces the Runner run of each probe of a max-QPS search (a callable RunConfig ->
        RunRecord; tests: no model is prepared)."""
        super().__init__()
        workbench_themes.register(self)
        self.theme = workbench_themes.DEFAULT_THEME
        self._remember = remember
        self._setup_problem: str | None = None
        remembered: dict[str, Any] = {}
        if remember:
            remembered, self._setup_problem = services.load_setup()
        self._initial = {**remembered, **dict(initial or {})}
        self._fixed_sysinfo = dict(sysinfo) if sysinfo is not None else None
        self._fixed_engines = tuple(engines) if engines is not None else None
        self._models = list(models) if models is not None else services.builtin_models()
        self._cpus = list(cpus) if cpus is not None else services.available_cpus()
        self._live_cpu = live_cpu
        self._fixed_history = tuple(history) if history is not None else None
        self._qps_probe = qps_probe
        self._store: Any = None
        self._runner: Any = None
        self._runner_lock = threading.Lock()
        self._stop_requested = False
        self._follow_stop: threading.Event | None = None
        self._active: str | None = None  # "run" | "monitor" while running
        self._active_id: str | None = None
        self._partial: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._run_cores: tuple[int, ...] = ()
        self._confirm: dict[str, float] = {}  # key -> until when a second press confirms (stop, quit)

    # ----------------------------------------------------------------------------------------------- compose
    def compose(self) -> ComposeResult:
        yield TitleBar(id="titlebar")
        yield Tabs(
            Tab("Overview", id="tab-overview"),
            Tab("Setup", id="tab-setup"),
            Tab("Live", id="tab-live"),
            Tab("Results", id="tab-results"),
            id="views",
        )
        with Workspace(id="workspace"):
            with Vertical(id="col-left"):
                yield HardwarePane(id="hardware", classes="pane")
                yield SetupPane(self._models, self._initial, id="setup", classes="pane")
            with Vertical(id="col-right"):
                yield LivePane(id="live", classes="pane")
                yield ResultsPane(id="results", classes="pane")
                yield HistoryPane(id="history", classes="pane")
        yield QuietFooter()

    def on_mount(self) -> None:
        self.query_one(TitleBar).set_title(self.title, "")
        self.query_one(Workspace).show_view(self.view, self.wide, self._live_first())
        self._apply_size(self.size.width, self.size.height)
        setup = self.query_one(SetupPane)
        setup.cpus = tuple(self._cpus)
        bars = self.query_one(HardwarePane).bars
        bars.cpus = tuple(self._cpus)
        if self._fixed_sysinfo is not None:
            self.post_message(SystemInfoLoaded(self._fixed_sysinfo))
        else:
            self._load_system()
        if self._fixed_engines is not None:
            self.post_message(EnginesLoaded(self._fixed_engines))
        else:
            self._load_engines()
        if self._fixed_history is not None:
            self.post_message(HistoryLoaded(self._fixed_history))
        else:
            self.action_reload_history()
        if self._live_cpu:
            services.cpu_percent()  # prime psutil's per-CPU counters
            self.set_interval(1.0, self._sample_cpu, name="cpu-utilisation")
        self.call_after_refresh(self._focus_view_default)
        if self._setup_problem:
            self.notify(self._setup_problem, severity="warning", title="Setup", markup=False)

    def _refresh_notifications(self) -> None:
        """Notifications show in the title line on the main screen (never over the panes); dialogs keep toasts."""
        try:
            main = self.screen_stack[0]
            bar = main.query_one(TitleBar)
        except (NoMatches, IndexError):
            super()._refresh_notifications()
            return
        if self.screen is not main:
            super()._refresh_notifications()
        bar.show_notifications(self._notifications)

    # ------------------------------------------------------------------------------------------------ layout
    def on_resize(self, event: events.Resize) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        self.wide = width >= WIDE_MIN[0] and height >= WIDE_MIN[1]

    def _live_first(self) -> str:
        """Wide layout: Live gets the larger share while a run is in flight (``"run"``), Results once there are
        results (``"results"``); before anything ran (``"idle"``) Live is a few lines."""
        if self.running:
            return "run"
        try:
            return "idle" if self.query_one(ResultsPane).view is None else "results"
        except NoMatches:
            return "idle"

    def _workspace(self) -> Workspace | None:
        try:
            return self.query_one(Workspace)
        except NoMatches:  # shutting down
            return None

    def watch_wide(self, wide: bool) -> None:
        workspace = self._workspace()
        if workspace is None:
            return
        workspace.show_view(self.view, wide, self._live_first())
        self.query_one("#views", Tabs).display = not wide
        self.call_after_refresh(self._fix_focus)

    def watch_view(self, old: str, new: str) -> None:
        workspace = self._workspace()
        if workspace is None:
            return
        if not self.wide:
            workspace.show_view(new, False)
        tabs = self.query_one("#views", Tabs)
        if tabs.active != f"tab-{new}":
            tabs.active = f"tab-{new}"
        self.call_after_refresh(self._fix_focus)

    @on(Tabs.TabActivated, "#views")
    def _tab_activated(self, event: Tabs.TabActivated) -> None:
        # ignore stale activations (the view was changed again since): they would ping-pong with watch_view
        if event.tab is not None and event.tab.id and event.tab.id == event.tabs.active:
            self.view = event.tab.id.removeprefix("tab-")

    @_after_teardown_ok
    def _fix_focus(self) -> None:
        """Keep the focus on something visible after a view change."""
        focused = self.focused
        if focused is not None and focused in self.screen.focus_chain:
            return
        self._focus_view_default()

    @_after_teardown_ok
    def _focus_view_default(self) -> None:
        if self.screen is not self.screen_stack[0]:
            return
        selector = VIEW_FOCUS.get(self.view, "#views")
        if self.wide and selector == "#views":
            selector = "#setup-model"
        try:
            target = self.query_one(selector)
        except Exception:
            return
        if target.focusable and target in self.screen.focus_chain:
            target.focus()

    def action_show_view(self, name: str) -> None:
        if name not in VIEWS:
            return
        self.view = name
        self.call_after_refresh(self._focus_view_default)

    # ---------------------------------------------------------------------------------------------- bindings
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        modal = isinstance(self.screen, ModalScreen)
        if action in LETTER_ACTIONS and isinstance(self.focused, Input):
            return False  # typing: the letter is text (the field's own keys show instead)
        if action in ("run_bench", "monitor", "show_view", "sweep") and modal:
            return False
        if action in ("run_bench", "sweep") and self.running:
            return None
        if action == "stop" and not self.running:
            return False  # nothing to stop: off the footer, which needs the room at 80 columns
        if action == "export":
            if modal:
                return False
            try:
                if self.query_one(ResultsPane).record is None:
                    return None
            except NoMatches:  # shutting down
                return None
        return True

    @_after_teardown_ok
    def watch_running(self, running: bool) -> None:
        self.refresh_bindings()
        if self.wide:
            self.query_one(Workspace).show_view(self.view, True, self._live_first())
        bars = self.query_one(HardwarePane).bars
        bars.running = running and self._active == "run"
        if running and self._active == "run" and self._run_cores:
            bars.pinned = frozenset(self._run_cores)
        elif not running:
            run, reserved = self.query_one(SetupPane).planned_cores()
            bars.pinned = frozenset(run)
            bars.reserved = frozenset(reserved)

    # ---------------------------------------------------------------------------------------------- loading
    @work(thread=True, exclusive=True, exit_on_error=False, group="sysinfo", description="Reading machine info")
    def _load_system(self) -> None:
        self.post_message(SystemInfoLoaded(services.system_info()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="engines", description="Discovering engines")
    def _load_engines(self) -> None:
        self.post_message(EnginesLoaded(tuple(services.engine_infos())))

    @work(thread=True, exclusive=True, exit_on_error=False, group="history", description="Reading the history")
    def _load_history(self) -> None:
        try:
            records = tuple(services.list_history(self._history_store(), HISTORY_LIMIT))
        except Exception as exc:
            self.post_message(HistoryLoaded((), readable_error(exc)))
            return
        self.post_message(HistoryLoaded(records))

    def _history_store(self) -> Any:
        if self._store is None:
            # notify() is thread-safe: the store may report from the history worker
            self._store = services.open_history(
                lambda line: self.notify(line, severity="warning", title="History", markup=False)
            )
        return self._store

    @_after_teardown_ok
    def on_system_info_loaded(self, message: SystemInfoLoaded) -> None:
        self.query_one(HardwarePane).info = message.info
        host = message.info.get("hostname")
        self.sub_title = str(host) if host else ""
        self.query_one(TitleBar).set_title(self.title, self.sub_title)

    @_after_teardown_ok
    def on_engines_loaded(self, message: EnginesLoaded) -> None:
        self.query_one(HardwarePane).engines = message.engines
        self.query_one(SetupPane).engines = message.engines

    @_after_teardown_ok
    def on_history_loaded(self, message: HistoryLoaded) -> None:
        pane = self.query_one(HistoryPane)
        if message.error:
            pane.message = f"history unavailable: {message.error}"
            self.notify(message.error, severity="error", title="History")
            return
        pane.message = ""
        pane.records = message.records
        for line in message.notices:
            self.notify(line, severity="warning", title="History")

    def action_reload_history(self) -> None:
        self._load_history()

    @_after_teardown_ok
    def _sample_cpu(self) -> None:
        try:
            percents = services.cpu_percent()
        except Exception:  # pragma: no cover - psutil broken: keep the last values
            return
        self.query_one(HardwarePane).bars.percents = tuple(percents)

    @on(SetupPane.CoresChanged)
    @_after_teardown_ok
    def _cores_changed(self, message: SetupPane.CoresChanged) -> None:
        if self.running and self._active == "run":
            return
        bars = self.query_one(HardwarePane).bars
        bars.pinned = frozenset(message.cores)
        bars.reserved = frozenset(message.reserved)

    # --------------------------------------------------------------------------------------------------- run
    def _setup_values(self, busy: str) -> dict[str, Any] | None:
        """The Setup pane's values, or None after showing its error on the field (and in a notification); while a
        run is in progress: None after notifying ``busy``."""
        if self.running:
            self.notify(busy, severity="warning")
            return None
        setup = self.query_one(SetupPane)
        try:
            values = setup.values()
        except SetupError as exc:
            if not self.wide:
                self.view = "setup"
            setup.show_error(exc.field, str(exc))
            self.notify(str(exc), severity="error", title="Setup")
            return None
        setup.clear_error()
        return values

    def action_run_bench(self) -> None:
        values = self._setup_values("A run is in progress — press s to stop it first.")
        if values is None:
            return
        search = bool(values.get("find_max_qps"))  # the Load choice "max QPS under a bound": a search, not a run
        try:
            config = services.make_config({k: v for k, v in values.items() if k != "find_max_qps"})
        except (WorkbenchError, TypeError, ValueError) as exc:
            self.notify(readable_error(exc), severity="error", title="Setup")
            return
        if self._remember:
            inputs_text = self.query_one(SetupPane).inputs_text()
            threading.Thread(
                target=services.save_setup, args=(dict(values), inputs_text), name="workbench-remember", daemon=True
            ).start()
        if search:
            self.start_search(config)
        else:
            self.start_run(config)

    @on(Input.Submitted, "#setup Input")
    def _setup_submitted(self, event: Input.Submitted) -> None:
        """Enter in a Setup field runs the benchmark (r would be typed into the field)."""
        event.stop()
        self.action_run_bench()

    def start_run(self, config: Any) -> None:
        """Start a benchmark of ``config`` (a RunConfig) in a thread worker."""
        self._reset_for(config)
        self.query_one(LivePane).search_clear()
        self.query_one(LivePane).begin(
            config.engines, f"{config.model} · preparing the model…", origin="run", mode=getattr(config, "mode", None)
        )
        self._show_running()
        self._bench_worker(config)

    def _reset_for(self, config: Any) -> None:
        """Forget the last run's stop request, confirmations and partial results before ``config`` starts."""
        self._stop_requested = False
        self._confirm = {}
        self._partial, self._errors = {}, {}
        self._active, self._active_id = "run", None
        self._run_cores = tuple(getattr(config, "cores", None) or ())

    def _show_running(self) -> None:
        self.running = True
        if not self.wide:
            self.view = "live"

    def _saved(self, record: Any) -> Any:
        """``(record, saved, error)``: ``record`` saved in the bench worker (the app's only history writer)."""
        try:
            services.save_record(self._history_store(), record)
            return record, True, None
        except Exception as exc:
            return record, False, exc

    @work(thread=True, exclusive=True, exit_on_error=False, group="bench", description="Benchmark run")
    def _bench_worker(self, config: Any) -> Any:
        def on_event(event: Any) -> None:
            self.post_message(RunEventReceived(event, "run"))

        runner = services.make_runner(config, on_event)
        with self._runner_lock:
            if self._stop_requested:
                raise RunFailed("stopped by user")
            self._runner = runner
        try:
            record = runner.run()
        finally:
            with self._runner_lock:
                self._runner = None
        if self._stop_requested:
            return None
        # Saved here, in the bench worker (the app's only history writer), not on the UI thread: with thousands of
        # stored runs an add rewrites a large file (~0.5 s at 10,000 runs) and would freeze the screen.
        return self._saved(record)

    def start_search(self, config: Any) -> None:
        """Start the max-QPS search of ``config`` (``workbench run --find-max-qps``) in the bench worker: per engine
        an Offline run, then Server probes bisected under the bound and confirmed; Live shows each probe as it
        arrives, the bracket and the elapsed time; the answer lands in Results and the history like a run's."""
        self._reset_for(config)
        live = self.query_one(LivePane)
        bound = config.latency_bound_ms or 100.0
        pct = config.latency_percentile if config.latency_percentile is not None else 99.0
        live.begin(config.engines, f"{config.model} · max QPS search", origin="run")
        live.search_begin(config.engines, bound, pct)
        self._show_running()
        self._search_worker(config)

    @work(thread=True, exclusive=True, exit_on_error=False, group="bench", description="Max-QPS search")
    def _search_worker(self, config: Any) -> Any:
        def on_event(event: Any) -> None:
            self.post_message(RunEventReceived(event, "run"))

        def on_probe(entry: dict[str, Any]) -> None:
            self.post_message(QpsProbe(dict(entry)))

        def on_runner(runner: Any) -> None:  # each probe's Runner, so that s stops the one in flight
            with self._runner_lock:
                if self._stop_requested:
                    raise RunFailed("stopped by user")
                self._runner = runner

        probe = None
        if self._qps_probe is not None:
            injected = self._qps_probe

            def probe(cfg: Any) -> Any:
                if self._stop_requested:
                    raise RunFailed("stopped by user")
                return injected(cfg)

        try:
            record = services.run_max_qps(
                config, on_event=on_event, on_probe=on_probe, on_runner=on_runner, probe=probe
            )
        finally:
            with self._runner_lock:
                self._runner = None
        if self._stop_requested or record is None:
            return None
        return self._saved(record)

    @on(QpsProbe)
    @_after_teardown_ok
    def _qps_probe_done(self, message: QpsProbe) -> None:
        self.query_one(LivePane).search_probe(message.probe)

    def _confirmed(self, key: str, what: str) -> bool:
        """Whether this press of ``key`` confirms ``what`` (a second press within :data:`CONFIRM_WINDOW_S`); a
        first press says what the second one will do and what is kept."""
        now = time.monotonic()
        if self._confirm.get(key, 0.0) > now:
            self._confirm.pop(key, None)
            return True
        self._confirm = {key: now + CONFIRM_WINDOW_S}
        done = [name for name in self._partial]
        kept = (
            f"{', '.join(done)} finished and will be shown, not saved"
            if done
            else "nothing has finished yet; nothing is saved"
        )
        self.notify(
            f"Press {key} again to {what} ({kept}). The run goes on otherwise.",
            severity="warning",
            title="Run in progress",
            timeout=CONFIRM_WINDOW_S,
            markup=False,
        )
        live = self.query_one(LivePane)
        live.hint = f"press {key} again to {what}"

        def expire() -> None:
            if self._confirm.get(key, 0.0) <= time.monotonic():
                live.hint = ""

        self.set_timer(CONFIRM_WINDOW_S + 0.05, expire)
        return False

    def action_stop(self, quiet: bool = False, confirmed: bool = False) -> None:
        """Stop the run in progress: the first ``s`` asks, a second one within 3 s stops (``confirmed``: the palette's
        explicit command stops at once). A followed run is only left (it goes on in its own session)."""
        if not self.running:
            if not quiet:
                self.notify("Nothing is running.", severity="information")
            return
        if self._active == "run" and not confirmed and not self._confirmed("s", "stop the run"):
            return
        self.query_one(LivePane).hint = ""
        if self._active == "monitor":
            if self._follow_stop is not None:
                self._follow_stop.set()
            self.query_one(LivePane).end("stopped following (the run goes on in its own session)")
            return
        self._stop_requested = True
        self.query_one(LivePane).status = "stopping…"
        with self._runner_lock:
            runner = self._runner
        if runner is not None:
            # Runner.stop kills the benchmark processes; keep even that off the event loop.
            threading.Thread(target=runner.stop, name="workbench-stop", daemon=True).start()

    @on(RunEventReceived)
    @_after_teardown_ok
    def _run_event(self, message: RunEventReceived) -> None:
        if message.origin != self._active:
            return  # a late event of a run we no longer show
        from workbench.measure import events as ev

        event = message.event
        if isinstance(event, ev.RunStarted):
            self._active_id = event.run_id
            if message.origin == "run" and event.config.get("cores"):
                self._run_cores = tuple(event.config["cores"])
                self.query_one(HardwarePane).bars.pinned = frozenset(self._run_cores)
        elif self._active_id is not None and getattr(event, "run_id", self._active_id) != self._active_id:
            return
        self.query_one(LivePane).apply(event)
        if isinstance(event, ev.EngineFinished):
            self._partial[event.engine] = _engine_result(event.result)
        elif isinstance(event, ev.EngineFailed):
            self._errors[event.engine] = event.error
            self.notify(f"{event.engine}: {event.error}", severity="error", title="Engine failed", markup=False)
        elif message.origin == "monitor" and isinstance(event, ev.RunFinished):
            record = services.record_from_dict(event.record)
            self.show_results(
                ResultsView(
                    results=tuple(record.results),
                    record=record,
                    banner="followed run — saved by the session that ran it",
                )
            )
            self.set_timer(0.5, self.action_reload_history)
        elif message.origin == "monitor" and isinstance(event, ev.RunAborted):
            self._show_partial(f"followed run ended: {event.reason}", "warning")

    @_after_teardown_ok
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "bench":
            self._bench_state(worker, event.state)
        elif worker.group == "monitor":
            self._follow_state(worker, event.state)
        elif event.state == WorkerState.ERROR:
            self.notify(
                readable_error(worker.error), severity="error", title=worker.description or "Error", markup=False
            )

    def _bench_state(self, worker: Worker, state: WorkerState) -> None:
        if state == WorkerState.SUCCESS:
            self.running = False
            result = worker.result
            if self._stop_requested or result is None:
                self._stopped()
                return
            self._finished(*result)
        elif state == WorkerState.ERROR:
            self.running = False
            if self._stop_requested:
                self._stopped()
                return
            message = readable_error(worker.error)
            self.query_one(LivePane).search_end("failed")
            self.query_one(LivePane).end(f"failed: {message}")
            self.notify(message, severity="error", title="Run failed", markup=False)
            self._show_partial(f"run failed — not saved: {message}", "error")
        elif state == WorkerState.CANCELLED:
            self.running = False

    def _stopped(self) -> None:
        self.query_one(LivePane).search_end("stopped")
        self.query_one(LivePane).end("stopped — nothing saved")
        self.notify("Run stopped; nothing was saved.", title="Stopped")
        if self._partial or self._errors:
            self._show_partial("stopped by user — not saved", "warning", switch=False)

    def _finished(self, record: Any, saved: bool, save_error: BaseException | None) -> None:
        if save_error is not None:
            self.notify(
                f"could not save the run: {readable_error(save_error)}", severity="error", title="History", markup=False
            )
        self.query_one(LivePane).search_end("done")
        failed = [r for r in record.results if not r.ok]
        banner = ""
        severity = "info"
        if failed:
            banner = f"{len(failed)} of {len(record.results)} engines failed"
            severity = "error"
        self.show_results(
            ResultsView(results=tuple(record.results), record=record, saved=saved, banner=banner, severity=severity)
        )
        if saved:
            self.notify(f"Run {record.run_id} saved to the history.", title="Done")
        self.action_reload_history()

    def _show_partial(self, banner: str, severity: str, switch: bool = True) -> None:
        results = tuple(self._partial.values())
        errors = tuple((k, v) for k, v in self._errors.items() if k not in self._partial)
        self.show_results(
            ResultsView(results=results, record=None, banner=banner, severity=severity, extra_errors=errors),
            switch=switch,
        )

    def show_results(self, view: ResultsView, switch: bool = True) -> None:
        """Show ``view`` in the Results pane (and switch to it on a small terminal)."""
        self.query_one(ResultsPane).view = view
        self.refresh_bindings()
        if self.wide:
            self.query_one(Workspace).show_view(self.view, True, self._live_first())
        if switch and not self.wide:
            self.view = "results"
        if switch and (self.focused is None or isinstance(self.focused, Tabs)):
            self.call_after_refresh(self.query_one("#results-table").focus)

    # ------------------------------------------------------------------------------------------------ monitor
    def action_monitor(self) -> None:
        if self.running:
            self.notify("Stop the current run (s) before following another one.", severity="warning")
            return
        self.push_screen(MonitorScreen(), callback=self._follow_chosen)

    def _follow_chosen(self, run_id: str | None) -> None:
        if run_id:
            self.follow_run(run_id)

    def follow_run(self, run_id: str) -> None:
        """Feed the Live pane from a run in another process."""
        self._partial, self._errors = {}, {}
        self._active, self._active_id = "monitor", run_id
        self._follow_stop = threading.Event()
        self.query_one(LivePane).search_clear()
        self.query_one(LivePane).begin((), f"run {run_id}", origin="monitor", run_id=run_id)
        self.running = True
        if not self.wide:
            self.view = "live"
        self._follow_worker(run_id, self._follow_stop)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="monitor",
        description="Following a run in another session",
    )
    def _follow_worker(self, run_id: str, stop: threading.Event) -> bool:
        from workbench.measure import events as ev

        terminal = False
        for event in services.follow(run_id, stop):
            self.post_message(RunEventReceived(event, "monitor"))
            terminal = getattr(event, "kind", None) in ev.TERMINAL_KINDS  # a followed sweep ends with sweep_finished
        return terminal

    def _follow_state(self, worker: Worker, state: WorkerState) -> None:
        if state == WorkerState.SUCCESS:
            self.running = False
            if not worker.result and not (self._follow_stop and self._follow_stop.is_set()):
                self.query_one(LivePane).end("the run's event stream ended")
                self.notify("The followed run's event stream ended without a result.", severity="warning")
        elif state == WorkerState.ERROR:
            self.running = False
            message = readable_error(worker.error)
            self.query_one(LivePane).end(f"following failed: {message}")
            self.notify(message, severity="error", title="Monitor", markup=False)
        elif state == WorkerState.CANCELLED:
            self.running = False

    # -------------------------------------------------------------------------------------------------- sweep
    def action_sweep(self) -> None:
        """Open the Sweep screen (workbench/tui/sweep.py) for the Setup pane's model, engines and cores."""
        from workbench.tui.sweep import SweepScreen, SweepTarget

        values = self._setup_values("A run is in progress — press s to stop it before starting a sweep.")
        if values is None:
            return
        offered = [info.name for info in self.query_one(SetupPane).engines if info.installed]
        self.push_screen(SweepScreen(SweepTarget.from_setup(values), cpus=self._cpus, engines=offered))

    # ------------------------------------------------------------------------------------------------ history
    @on(HistoryPane.ShowRun)
    def _show_run(self, message: HistoryPane.ShowRun) -> None:
        record = message.record
        if record.kind == "sweep":  # a sweep opens on the Sweep screen: its cells, its state, r resumes it
            from workbench.tui.sweep import SweepScreen

            if services.stored_spec(record) is not None:
                self.push_screen(SweepScreen.for_record(record, cpus=self._cpus))
                return
        self.push_screen(RunDetailScreen(record))

    @on(HistoryPane.CompareRuns)
    def _compare_runs(self, message: HistoryPane.CompareRuns) -> None:
        from workbench.errors import UsageError

        try:
            comparison = services.compare_runs(message.a, message.b, self._store)
        except UsageError as exc:  # different models or inputs: not a speed change
            self.notify(str(exc), severity="warning", timeout=8)
            return
        self.push_screen(CompareScreen(message.a, message.b, comparison))

    def action_compare(self) -> None:
        self.query_one(HistoryPane).compare()

    # ---- history: tag, delete, export (the History pane asks; the store is changed in a worker, then re-read)
    @on(HistoryPane.ExportRuns)
    def _export_runs(self, message: HistoryPane.ExportRuns) -> None:
        self.export_records(list(message.records))

    @on(HistoryPane.TagRuns)
    def _tag_runs(self, message: HistoryPane.TagRuns) -> None:
        self._edit_history("tag", message.run_ids, message.add, message.remove)

    @on(HistoryPane.DeleteRuns)
    def _delete_runs(self, message: HistoryPane.DeleteRuns) -> None:
        self._edit_history("delete", message.run_ids, (), ())

    @work(thread=True, exclusive=False, exit_on_error=False, group="history-edit", description="Changing the history")
    def _edit_history(self, what: str, run_ids: tuple[str, ...], add: tuple[str, ...], remove: tuple[str, ...]) -> None:
        store = self._history_store()
        runs = f"run {run_ids[0]}" if len(run_ids) == 1 else f"{len(run_ids)} runs"
        try:
            if what == "delete":
                done = services.delete_runs(store, run_ids)
                line = f"Deleted {done} run{'s' if done != 1 else ''} from the history."
            else:
                services.tag_runs(store, run_ids, add, remove)
                change = " ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove)])
                line = f"Tags of {runs}: {change}"
        except Exception as exc:
            self.notify(readable_error(exc), severity="error", title="History", markup=False)
        else:
            self.notify(line, title="History", markup=False)
        self.call_from_thread(self.action_reload_history)

    # ------------------------------------------------------------------------------------------------- export
    def action_export(self, fmt: str = "json") -> None:
        record = self.query_one(ResultsPane).record
        if record is None:
            self.notify("No results to export yet — run a benchmark first.", severity="warning")
            return
        self.export_records([record], fmt)

    def export_records(self, records: Sequence[Any], fmt: str = "json") -> None:
        """Open the export dialog (workbench/tui/dialogs.py) for ``records``, ``fmt`` preselected: it asks for the
        format and the file, writes in a worker, and the app says where it went."""
        from workbench.tui.dialogs import ExportDialog

        if not records:
            self.notify("Nothing to export.", severity="warning", title="Export")
            return

        def written(path: Any) -> None:
            if path is not None:
                n = len(records)
                self.notify(f"Exported {n} run{'s' if n != 1 else ''} to {path}", title="Export", markup=False)

        self.push_screen(ExportDialog(list(records), fmt), callback=written)

    # --------------------------------------------------------------------------------------------------- help
    def help_sections(self) -> list[tuple[str, list[tuple[str, str]]]]:
        main: list[tuple[str, str]] = []
        for binding in self.BINDINGS:
            if isinstance(binding, Binding):
                main.append((binding.key_display or binding.key, binding.tooltip or binding.description))
        main += [
            ("ctrl+p", "Command palette: every action by name, and theme switching"),
            ("tab / shift+tab", "Move the focus between controls"),
        ]
        run, kept = services.default_cores(self._cpus) if self._cpus else ([], [])
        default = f"run on {cpu_ranges(run)}" if run else "every allowed core"
        default += f", core {cpu_ranges(kept)} kept for the UI" if kept else " (with one or two cores, none is kept)"
        return [
            ("Everywhere", main),
            (
                "History",
                [
                    ("↑ ↓", "Choose a run"),
                    ("enter", "Show the run's details (a sweep opens on the Sweep screen)"),
                    ("/", "Filter: model, engine, tag, run id, precision, mode (escape clears, enter keeps)"),
                    ("o / O", "Sort by the next column / reverse; click a column header to sort by it"),
                    ("space", "Mark/unmark the run"),
                    ("c", "Compare the two marked runs"),
                    ("t", "Add/remove tags of the marked runs (or the highlighted one)"),
                    ("d", "Delete the marked runs (or the highlighted one); asks first"),
                    ("e", "Export the marked runs (or the highlighted one): choose format and file"),
                    ("b", "This run's model across machines (best node type per objective)"),
                ],
            ),
            (
                "Results",
                [
                    ("↑ ↓", "Choose an engine: its details show below the table"),
                    ("Baseline", "Pick the engine speedups are measured against"),
                ],
            ),
            (
                "Setup",
                [
                    ("enter", "Open and choose in a drop-down; in a text field: run the benchmark"),
                    ("space", "Tick or untick an engine (↑ ↓ move through the list)"),
                    ("escape", "Leave the text field: the app's keys work again; a run in flight goes on"),
                    ("tab", "In the model-file field: complete the path (as a shell does), else the next field"),
                    ("Cores", f"A CPU list such as 0-3,6; empty: {default} (this machine)"),
                    ("Duration", "Seconds, or with a unit: 5, 500ms, 2 min"),
                    ("Mode generate", "A causal LM (tiny-llama, a Hugging Face or GenAI folder): prompt, new tokens"),
                    ("Load max QPS", "Search the highest Server QPS within a bound at a percentile (LoadGen)"),
                ],
            ),
            (
                "Dialogs",
                [
                    ("escape", "Close"),
                    ("y / n", "Confirm / keep (enter keeps)"),
                    ("e", "Export the run(s) shown"),
                    ("r", "Refresh the list of runs in flight (monitor)"),
                    ("enter", "Follow the chosen run"),
                ],
            ),
            (
                "Sweep (w)",
                [
                    (
                        "enter / r",
                        "Start the sweep set up in the fields (comma-separated axes); over a finished "
                        "sweep r asks first",
                    ),
                    ("space", "Tick the engines to sweep"),
                    ("s", "Stop: the cell in flight is killed, finished cells stay saved (workbench sweep --resume)"),
                    ("escape", "Close (while a sweep runs: twice stops it and closes)"),
                ],
            ),
        ]

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.help_sections()))

    # --------------------------------------------------------------------------------------------------- quit
    async def action_quit_now(self) -> None:
        """ctrl+q: quit without asking (the run in flight is stopped; nothing partial is saved)."""
        self._shutdown_run()
        self.exit(0)

    async def action_quit(self) -> None:
        if self.running and self._active == "run" and not self._confirmed("q", "stop the run and quit"):
            return
        self._shutdown_run()
        self.exit(0)

    def _shutdown_run(self) -> None:
        if self._follow_stop is not None:
            self._follow_stop.set()
        with self._runner_lock:
            runner = self._runner
            self._stop_requested = self._stop_requested or runner is not None
        if runner is not None:
            runner.stop()

    def on_unmount(self) -> None:
        self._shutdown_run()


def _engine_result(d: Mapping[str, Any]) -> Any:
    from workbench.result import EngineResult

    return EngineResult.from_dict(d)


def run_app(**initial_setup: Any) -> int:
    """Run the TUI until the user quits; returns the exit code. ``initial_setup`` preselects Setup fields
    (``model``, ``engines``, ``device``, ``precision``, ``mode``, ``batch``, ``threads``, ``cores``,
    ``duration_s``, ``warmup_s``)."""
    app = WorkbenchApp(initial={k: v for k, v in initial_setup.items() if v is not None}, remember=True)
    result = app.run()
    if app.return_code not in (None, 0):
        return int(app.return_code)
    return int(result or 0)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.tui.app", description=WorkbenchApp.__doc__)
    parser.add_argument("--model", help="preselect a built-in model or a model file")
    parser.add_argument("--engines", help="preselect engines, comma-separated")
    args = parser.parse_args(list(argv) if argv is not None else None)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip()) if args.engines else None
    return run_app(model=args.model, engines=engines)


if __name__ == "__main__":
    sys.exit(main())
