"""The Live pane: one latency histogram per engine, rolling p50/p99/throughput, overall progress, noise warnings.

The app feeds :meth:`LivePane.apply` with :mod:`workbench.measure.events` objects (its own run or one followed from
another process). Handlers only set reactives; histograms are redrawn from the runner's pre-binned counts on a
timer (:data:`REDRAW_S`), refreshing the plot widget — never per event and never the whole app.
"""

from __future__ import annotations

from typing import Any, Iterable

from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Container, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static
from textual_plotext import PlotextPlot

from workbench.tui.format import engines_label
from workbench.tui.widgets import composed
from workbench.units import MISSING, duration, ms, rate

#: Seconds between histogram redraws while a run is live (~3-4 Hz).
REDRAW_S = 0.3

PHASES = {
    "waiting": "waiting",
    "loaded": "loaded",
    "running": "measuring",
    "done": "done",
    "failed": "failed",
}


class EngineLive(Vertical):
    """One engine: a stats line and its histogram."""

    DEFAULT_CSS = """
    EngineLive {
        height: 1fr;
        min-height: 3;
    }
    EngineLive > .engine-stats {
        height: 1;
    }
    EngineLive > PlotextPlot {
        height: 1fr;
        min-height: 2;
    }
    """

    progress: reactive[Any] = reactive(None)
    phase: reactive[str] = reactive("waiting")
    detail: reactive[str] = reactive("")
    final: reactive[dict[str, Any] | None] = reactive(None)

    def __init__(self, engine: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self._dirty = False

    def compose(self) -> ComposeResult:
        yield Static(self._stats(), classes="engine-stats")
        yield PlotextPlot(classes="engine-hist")

    def on_mount(self) -> None:
        self._setup_plot()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw(force=True))

    def _setup_plot(self) -> None:
        plt = self.query_one(PlotextPlot).plt
        plt.clear_data()
        plt.yticks([])
        plt.yaxes(False, False)
        plt.xaxes(False, False)  # tick labels only: one row, the rest is histogram

    def watch_progress(self) -> None:
        self._dirty = True
        self._update_stats()

    def _update_stats(self) -> None:
        if composed(self):
            self.query_one(".engine-stats", Static).update(self._stats())

    watch_phase = watch_detail = watch_final = _update_stats  # each one changes the stats line

    def _stats(self) -> Content:
        p = self.progress
        parts: list[Any] = [(f"{self.engine} ", "bold")]
        phase = PHASES.get(self.phase, self.phase)
        phase_style = {"failed": "$error", "done": "$success"}.get(self.phase, "$text-muted")
        parts.append((f"{phase} ", phase_style))
        if self.phase == "failed":
            parts.append((self.detail, "$error"))
            return Content.assemble(*parts)
        final = self.final or {}
        lat = final.get("latency_ms") or {}
        p50 = lat.get("p50") if lat else (p.p50_ms if p else None)
        p99 = lat.get("p99") if lat else (p.p99_ms if p else None)
        thr = final.get("throughput") if final else (p.throughput if p else None)
        its = final.get("iterations") if final else (p.iterations if p else None)
        if p is not None or final:
            parts += [
                ("p50 ", "$text-muted"),
                (f"{ms(p50)} ", "bold"),
                ("p99 ", "$text-muted"),
                (f"{ms(p99)} ms ", "bold"),
                (f"{rate(thr, '/s')} ", "$accent"),
                (f"n={its if its is not None else MISSING}", "$text-muted"),
            ]
        if self.detail:
            parts.append((f"  {self.detail}", "$text-muted"))
        return Content.assemble(*parts)

    def redraw(self, force: bool = False) -> None:
        """Redraw the histogram from the latest pre-binned counts (only when they changed)."""
        if not (self._dirty or force) or not composed(self):
            return
        self._dirty = False
        p = self.progress
        hist = getattr(p, "hist", None) or {}
        edges = list(hist.get("edges_ms") or [])
        counts = list(hist.get("counts") or [])
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        if len(edges) == len(counts) + 1 and counts:
            centres = [(a + b) / 2 for a, b in zip(edges, edges[1:])]
            color = _plot_color(self, "accent")
            plt.plot(centres, counts, fillx=True, marker="hd", color=color)
            ticks = [edges[0], edges[len(edges) // 2], edges[-1]]
            plt.xticks(ticks, [f"{ms(t)}" for t in ticks])
            plt.xlim(edges[0], edges[-1])
            top = max(counts) or 1
            rows = max(1, plot.size.height - 1)
            # a floor of a fraction of one row keeps empty bins blank instead of a half-block baseline
            plt.ylim(top / (4 * rows), top)
        plt.yticks([])
        plot.refresh()


def _plot_color(widget: Any, variable: str) -> tuple[int, int, int] | str:
    try:
        value = widget.app.theme_variables.get(variable)
        return Color.parse(value).rgb if value else "default"
    except Exception:  # pragma: no cover - defensive
        return "default"


class LivePane(Vertical):
    """Progress of the run in flight (ours or one followed)."""

    DEFAULT_CSS = """
    LivePane {
        height: 1fr;
    }
    LivePane > #live-status {
        height: 1;
    }
    LivePane > #live-progress {
        height: 1;
        width: 1fr;
    }
    LivePane > #live-progress Bar {
        width: 1fr;
    }
    LivePane > #live-engines {
        height: 1fr;
        layout: grid;
        grid-size: 1;
        grid-gutter: 0 1;
    }
    LivePane.-columns > #live-engines {
        grid-size: 2;
    }
    LivePane > #live-warnings {
        height: auto;
        max-height: 4;
    }
    LivePane > #live-empty {
        height: 1fr;
        content-align: center middle;
    }
    """

    status: reactive[str] = reactive("idle")
    headline: reactive[str] = reactive("")
    fraction: reactive[float] = reactive(0.0)
    warnings: reactive[tuple[str, ...]] = reactive(())

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id: str | None = None
        self.origin: str | None = None
        self.engine_names: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static("", id="live-status")
        yield ProgressBar(total=100, show_eta=False, id="live-progress")
        yield Static(
            "No run yet — press r to run the benchmark set up in Setup, or m to follow a run in another session.",
            id="live-empty",
        )
        yield Container(id="live-engines")
        yield Static("", id="live-warnings")

    def on_mount(self) -> None:
        self.border_title = "Live"
        self._timer = self.set_interval(REDRAW_S, self._redraw, pause=True)
        self._render_status()
        self.query_one("#live-engines").display = False

    # ------------------------------------------------------------------------------------------------- state
    def begin(self, engines: Iterable[str], headline: str, origin: str = "run", run_id: str | None = None) -> None:
        """Reset for a new run with ``engines``."""
        self.run_id = run_id
        self.origin = origin
        self.engine_names = tuple(engines)
        self.headline = headline
        self.status = "preparing"
        self.fraction = 0.0
        self.warnings = ()
        box = self.query_one("#live-engines", Container)
        box.remove_children()
        box.mount_all([EngineLive(name, id=None) for name in self.engine_names])
        box.display = True
        self.query_one("#live-empty").display = False
        self.set_class(len(self.engine_names) > 1 and self.size.width >= 110, "-columns")
        self._timer.resume()

    def _warn(self, line: str) -> None:
        """Add a warning line once."""
        if line not in self.warnings:
            self.warnings = (*self.warnings, line)

    def _engine(self, name: str) -> EngineLive | None:
        for w in self.query(EngineLive):
            if w.engine == name:
                return w
        if self.status in ("idle",):
            return None
        # an engine we did not expect (e.g. followed run whose RunStarted we missed)
        widget = EngineLive(name)
        self.query_one("#live-engines", Container).mount(widget)
        self.engine_names = (*self.engine_names, name)
        return widget

    def apply(self, event: Any) -> None:
        """Update from one :mod:`workbench.measure.events` event."""
        kind = getattr(event, "kind", None)
        if kind == "run_started":
            if tuple(event.engines) != self.engine_names or self.run_id not in (None, event.run_id):
                self.begin(event.engines, self.headline or event.model, self.origin or "run", event.run_id)
            self.run_id = event.run_id
            self.status = "running"
            cfg = event.config or {}
            self.headline = _headline(event.model, event.engines, cfg, event.run_id)
        elif kind == "stage":
            self.status = str(event.message)
            if event.stage == "loading" and event.engine:
                w = self._engine(event.engine)
                if w is not None:
                    w.detail = "loading…"
        elif kind == "engine_loaded":
            w = self._engine(event.engine)
            if w is not None:
                eff = event.effective or {}
                bits = [f"loaded {duration(event.load_ms)}"]
                if eff.get("precision"):
                    bits.append(str(eff["precision"]))
                if eff.get("threads"):
                    bits.append(f"{eff['threads']} thr")
                w.detail = " · ".join(bits)
                w.phase = "loaded"
        elif kind == "progress":
            if self.status != "running":
                self.status = "running"
            w = self._engine(event.engine)
            if w is not None:
                w.progress = event
                if w.phase not in ("done", "failed"):
                    w.phase = "running"
            self.fraction = float(event.fraction or 0.0)
        elif kind == "warning":
            who = f"{event.engine}: " if event.engine else ""
            self._warn(f"⚠ {who}{event.message}")
        elif kind == "engine_finished":
            w = self._engine(event.engine)
            if w is not None:
                w.final = dict(event.result or {})
                w.phase = "done"
                w.redraw(force=True)
            for warn in (event.result or {}).get("warnings") or []:
                self._warn(f"⚠ {event.engine}: {warn.get('message', warn.get('code', ''))}")
        elif kind == "engine_failed":
            w = self._engine(event.engine)
            if w is not None:
                w.phase = "failed"
                w.detail = event.error
        elif kind == "run_finished":
            for result in (event.record or {}).get("results") or []:
                w = self._engine(str(result.get("engine")))
                if w is None:
                    continue
                if result.get("status") == "ok":
                    w.final = dict(result)
                    w.phase = "done"
                else:
                    w.phase = "failed"
                    w.detail = str(result.get("error") or "failed")
            self.fraction = 1.0
            self.status = "finished"
            self._finish()
        elif kind == "run_aborted":
            self.status = "aborted: " + str(event.reason)
            self._finish()

    def end(self, status: str) -> None:
        """The run ended outside the event stream (stopped, crashed before RunStarted...)."""
        self.status = status
        self._finish()

    def _finish(self) -> None:
        self._timer.pause()
        for w in self.query(EngineLive):
            w.redraw()

    def _redraw(self) -> None:
        for w in self.query(EngineLive):
            w.redraw()

    # ------------------------------------------------------------------------------------------------ render
    def watch_fraction(self, value: float) -> None:
        if composed(self):
            self.query_one(ProgressBar).update(progress=round(value * 100, 1))

    def watch_status(self) -> None:
        self._render_status()

    def watch_headline(self) -> None:
        self._render_status()

    def watch_warnings(self, warnings: tuple[str, ...]) -> None:
        if composed(self):
            shown = warnings[-3:]
            more = len(warnings) - len(shown)
            text = "\n".join(shown) + (f"\n… {more} more" if more else "")
            self.query_one("#live-warnings", Static).update(text)

    def _render_status(self) -> None:
        if not composed(self):
            return
        style = "$text-muted"
        if self.status in ("running", "preparing") or self.status.startswith(("preparing", "loading", "reference")):
            style = "$accent"
        elif self.status == "finished":
            style = "$success"
        elif self.status.startswith(("aborted", "failed", "stopped")):
            style = "$error"
        label = (
            "following · "
            if self.origin == "monitor"
            and not self.status.startswith(("finished", "aborted", "failed", "stopped", "idle"))
            else ""
        )
        parts: list[Any] = [(f"{label}{self.status}", f"bold {style}")]
        if self.headline:
            parts += [("  ", ""), (self.headline, "")]
        self.query_one("#live-status", Static).update(Content.assemble(*parts))

    def on_resize(self) -> None:
        self.set_class(len(self.engine_names) > 1 and self.size.width >= 110, "-columns")


def _headline(model: str, engines: Iterable[str], cfg: dict[str, Any], run_id: str | None) -> str:
    bits = [str(model), engines_label(engines, compact=True)]
    if cfg.get("precision"):
        bits.append(str(cfg["precision"]))
    if cfg.get("mode"):
        bits.append(str(cfg["mode"]))
    if cfg.get("batch"):
        bits.append(f"b{cfg['batch']}")
    if run_id:
        bits.append(run_id[:8])
    return " · ".join(bits)
