"""The Live pane: one latency histogram per engine, rolling p50/p99/throughput, overall progress, noise warnings.

The app feeds :meth:`LivePane.apply` with :mod:`workbench.measure.events` objects (its own run or one followed from
another process). Handlers only set reactives; histograms are redrawn from the runner's pre-binned counts on a
timer (:data:`REDRAW_S`), refreshing the plot widget — never per event and never the whole app.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Iterable

from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from workbench.measure.precision import baseline_name
from workbench.tui.format import engines_label, probe_line, search_bracket
from workbench.tui.widgets import composed
from workbench.tui.widgets.histchart import LatencyHistogram
from workbench.units import MISSING, duration, ms, rate
from workbench.units import eta as eta_text

#: Seconds between histogram redraws while a run is live (~3-4 Hz).
REDRAW_S = 0.3

PHASES = {
    "waiting": "waiting",
    "loaded": "loaded",
    "running": "measuring",
    "done": "done",
    "failed": "failed",
}


@dataclass
class Series:
    """What is known of one measured variant of an engine: the run's precision, or its fp32 baseline."""

    progress: Any = None
    phase: str = "waiting"
    detail: str = ""
    final: dict[str, Any] | None = None


class EngineLive(Vertical):
    """One engine: a stats line (two when the run also measures its fp32 baseline) and its histogram, the
    baseline's drawn behind in a muted colour on the same log-latency axis. In generate mode (``-generate``) two
    labelled histograms side by side: the time to first token (a third of the width) and the per-token latency."""

    DEFAULT_CSS = """
    EngineLive {
        height: 1fr;
        min-height: 3;
    }
    EngineLive > .engine-stats {
        height: 1;
    }
    EngineLive > .engine-baseline {
        height: 1;
        display: none;
    }
    EngineLive.-baseline > .engine-baseline {
        display: block;
    }
    EngineLive > .engine-charts {
        height: 1fr;
        min-height: 2;
    }
    EngineLive .engine-ttft {
        display: none;
        width: 1fr;
        margin-right: 2;
    }
    EngineLive.-generate .engine-ttft {
        display: block;
    }
    EngineLive .engine-hist {
        width: 2fr;
    }
    """

    progress: reactive[Any] = reactive(None)
    phase: reactive[str] = reactive("waiting")
    detail: reactive[str] = reactive("")
    final: reactive[dict[str, Any] | None] = reactive(None)

    def __init__(self, engine: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.baseline: Series | None = None  # the fp32 baseline variant (runs below fp32)
        self._dirty = False

    @property
    def generate(self) -> bool:
        """Whether the run is a generate run (TTFT and per-token histograms)."""
        return self.has_class("-generate")

    @generate.setter
    def generate(self, value: bool) -> None:
        self.set_class(value, "-generate")
        if composed(self):
            hist = self.query_one(".engine-hist", LatencyHistogram)
            hist.label = "per token" if value else ""
            if value and not self.query(".engine-ttft"):
                self.query_one(".engine-charts").mount(LatencyHistogram("TTFT", classes="engine-ttft"), before=hist)
            self._update_stats()

    def compose(self) -> ComposeResult:
        yield Static(self._stats(), classes="engine-stats")
        yield Static("", classes="engine-baseline")
        with Horizontal(classes="engine-charts"):
            if self.generate:  # only then: a latency run's engine has one chart
                yield LatencyHistogram("TTFT", classes="engine-ttft")
            yield LatencyHistogram("per token" if self.generate else "", classes="engine-hist")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw(force=True))
        self._update_stats()  # events may have arrived before the children were composed
        self._baseline_line()

    def watch_progress(self) -> None:
        self._dirty = True
        self._update_stats()

    def _update_stats(self) -> None:
        if composed(self):
            self.query_one(".engine-stats", Static).update(self._stats())

    watch_phase = watch_detail = watch_final = _update_stats  # each one changes the stats line

    def update_baseline(self, **changes: Any) -> None:
        """Apply ``changes`` (progress, phase, detail, final) to the fp32 baseline series and show its line."""
        if self.baseline is None:
            self.baseline = Series()
            self.add_class("-baseline")
        for key, value in changes.items():
            setattr(self.baseline, key, value)
        if "progress" in changes:
            self._dirty = True
        self._baseline_line()

    def _baseline_line(self) -> None:
        if composed(self) and self.baseline is not None:
            b = self.baseline
            line = _series_stats("  fp32 ", b.phase, b.detail, b.progress, b.final, name_style="$text-muted")
            self.query_one(".engine-baseline", Static).update(line)

    def _stats(self) -> Content:
        return _series_stats(
            f"{self.engine} ", self.phase, self.detail, self.progress, self.final, generate=self.generate
        )

    def redraw(self, force: bool = False) -> None:
        """Redraw the histogram from the latest pre-binned counts (only when they changed)."""
        if not (self._dirty or force) or not composed(self):
            return
        self._dirty = False
        own = _hist(self.progress)
        chart = self.query_one(".engine-hist", LatencyHistogram)
        chart.series = (_hist(self.baseline.progress), own) if self.baseline is not None else (own,)
        chart.refresh()
        for ttft in self.query(".engine-ttft").results(LatencyHistogram):
            ttft.series = (_hist(self.progress, "ttft_hist"),)
            ttft.refresh()


def _hist(progress: Any, which: str = "hist") -> dict[str, Any] | None:
    """A progress event's pre-binned histogram (``hist``, or generate mode's ``ttft_hist``) when it is drawable."""
    hist = getattr(progress, which, None) or {}
    edges, counts = list(hist.get("edges_ms") or []), list(hist.get("counts") or [])
    if counts and len(edges) == len(counts) + 1:
        return {**hist, "edges_ms": edges, "counts": counts}
    return None


def _series_stats(
    name: str,
    phase_key: str,
    detail: str,
    p: Any,
    final: dict[str, Any] | None,
    name_style: str = "bold",
    generate: bool = False,
) -> Content:
    """One series' stats line: phase, rolling (or final) p50/p99, throughput, samples, what lies beyond the axis.
    Generate mode: the per-token p50/p99 (``tok``), tokens/s, and once finished the TTFT p50."""
    parts: list[Any] = [(name, name_style)]
    phase = PHASES.get(phase_key, phase_key)
    parts.append((f"{phase} ", {"failed": "$error", "done": "$success"}.get(phase_key, "$text-muted")))
    if phase_key == "failed":
        parts.append((detail, "$error"))
        return Content.assemble(*parts)
    final = final or {}
    lat = final.get("latency_ms") or {}
    p50 = lat.get("p50") if lat else (p.p50_ms if p else None)
    p99 = lat.get("p99") if lat else (p.p99_ms if p else None)
    thr = final.get("throughput") if final else (p.throughput if p else None)
    its = final.get("iterations") if final else (p.iterations if p else None)
    gen = final.get("generation") or {}
    if generate and gen:
        thr = (gen.get("tokens_per_s") or {}).get("decode", thr)
    if p is not None or final:
        parts += [
            ("tok p50 " if generate else "p50 ", "$text-muted"),
            (f"{ms(p50)} ", "bold"),
            ("p99 ", "$text-muted"),
            (f"{ms(p99)} ms ", "bold"),
            (f"{rate(thr, ' tok/s' if generate else '/s')} ", "$accent"),
            (f"n={its if its is not None else MISSING}", "$text-muted"),
        ]
        ttft = (gen.get("ttft_ms") or {}).get("p50")
        if generate and ttft is not None:
            parts += [(" TTFT p50 ", "$text-muted"), (f"{ms(ttft)} ms", "bold")]
        hist = _hist(p)
        if hist and hist.get("overflow"):
            parts.append((f" ▸{hist['overflow']} > {ms(hist['edges_ms'][-1])} ms", "$text-muted"))
    if detail:
        parts.append((f"  {detail}", "$text-muted"))
    return Content.assemble(*parts)


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
    LivePane > #live-search {
        height: auto;
        max-height: 8;
        display: none;
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
    hint: reactive[str] = reactive("")  # a key waiting for its confirming second press ("press s again to stop")
    fraction: reactive[float] = reactive(0.0)
    warnings: reactive[tuple[str, ...]] = reactive(())

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_id: str | None = None
        self.origin: str | None = None
        self.engine_names: tuple[str, ...] = ()
        self._measuring_since: float | None = None  # when the first progress arrived (the ETA's clock)
        self._eta_s: float | None = None
        self.generate = False  # a generate run: each engine shows its TTFT and per-token histograms
        #: a max-QPS search in flight: its bound, percentile, start, probes so far and state (None: not a search)
        self.search: dict[str, Any] | None = None
        self._search_timer: Any = None

    def compose(self) -> ComposeResult:
        yield Static("", id="live-status")
        yield ProgressBar(total=100, show_eta=False, id="live-progress")
        yield Static(
            "No run yet: r runs what Setup says, m follows a run of another session.",
            id="live-empty",
        )
        yield Static("", id="live-search")
        yield Container(id="live-engines")
        yield Static("", id="live-warnings")

    def on_mount(self) -> None:
        self.border_title = "Live"
        self._timer = self.set_interval(REDRAW_S, self._redraw, pause=True)
        self._render_status()
        self.query_one("#live-engines").display = False
        self.query_one("#live-warnings").display = False

    # ------------------------------------------------------------------------------------------------- state
    def begin(
        self,
        engines: Iterable[str],
        headline: str,
        origin: str = "run",
        run_id: str | None = None,
        mode: str | None = None,
    ) -> None:
        """Reset for a new run with ``engines`` (``mode`` generate: TTFT and per-token histograms). A search in
        flight keeps its panel: each of its probes is a run."""
        self.generate = mode == "generate"
        self.run_id = run_id
        self.origin = origin
        self.engine_names = tuple(engines)
        self.headline = headline
        self.status = "preparing"
        self.fraction = 0.0
        self.warnings = ()
        self.hint = ""
        self._measuring_since, self._eta_s = None, None
        box = self.query_one("#live-engines", Container)
        box.remove_children()
        box.mount_all([self._new_engine(name) for name in self.engine_names])
        box.display = True
        self.query_one("#live-empty").display = False
        self.set_class(len(self.engine_names) > 1 and self.size.width >= 110, "-columns")
        self._timer.resume()

    def _new_engine(self, name: str) -> EngineLive:
        widget = EngineLive(name)
        widget.set_class(self.generate, "-generate")
        return widget

    # ---- the max-QPS search (its probes are ordinary runs: their events draw the histograms as usual) -------------
    def search_begin(self, engines: Iterable[str], bound_ms: float, percentile: float) -> None:
        """A max-QPS search starts: the panel above the engines shows its probes, bracket and elapsed time."""
        self.search = {
            "engines": tuple(engines),
            "bound_ms": bound_ms,
            "percentile": percentile,
            "started": time.monotonic(),
            "probes": [],
            "state": "searching",
        }
        self.query_one("#live-search").display = True
        if self._search_timer is None:
            self._search_timer = self.set_interval(1.0, self._render_search, name="search-elapsed")
        self._search_timer.resume()
        self._render_search()

    def search_clear(self) -> None:
        """Not a search (a plain run or a followed one): no panel."""
        self.search = None
        if self._search_timer is not None:
            self._search_timer.pause()
        if composed(self):
            self.query_one("#live-search").display = False

    def search_probe(self, probe: dict[str, Any]) -> None:
        """A probe of the search finished."""
        if self.search is None:
            return
        self.search["probes"].append(dict(probe))
        self._render_search()

    def search_end(self, state: str) -> None:
        """The search ended (``done``, ``stopped``, ``failed: …``): the elapsed time stops."""
        if self.search is None:
            return
        self.search["state"] = state
        self.search["ended"] = time.monotonic()
        if self._search_timer is not None:
            self._search_timer.pause()
        if state == "done":
            self.fraction = 1.0
            self.status = "finished"
            self._finish()
        self._render_search()

    def search_text(self) -> Content:
        """The panel: the search's line (bound, elapsed, probes), per engine its bracket, the latest probes."""
        s = self.search
        if s is None:
            return Content("")
        elapsed = (s.get("ended") or time.monotonic()) - s["started"]
        pct = float(s["percentile"])
        probes: list[dict[str, Any]] = s["probes"]
        parts: list[Any] = [
            ("max QPS ", "bold"),
            (f"≤ {ms(s['bound_ms'])} ms at p{pct:g}", "bold $accent"),
            (f" · {duration(elapsed * 1000)} elapsed · {len(probes)} probes · {s['state']}", "$text-muted"),
        ]
        for engine in s["engines"]:
            mine = [p for p in probes if p.get("engine") == engine]
            if not mine:
                continue
            lo, hi = search_bracket(mine)
            parts += ["\n", (f"{engine} ", "bold")]
            parts += [("bracket ", "$text-muted"), (f"{rate(lo)}–{rate(hi)} QPS", "bold")]
        current = probes[-1]["engine"] if probes else None
        for p in [p for p in probes if p.get("engine") == current][-3:]:  # the engine in flight's latest probes
            style = "$success" if p.get("valid") else "$error"
            parts += ["\n", (f"  {current} ", "$text-muted"), (probe_line(p, pct), style)]
        return Content.assemble(*parts)

    def _render_search(self) -> None:
        if composed(self):
            self.query_one("#live-search", Static).update(self.search_text())

    def _warn(self, line: str) -> None:
        """Add a warning line once."""
        if line not in self.warnings:
            self.warnings = (*self.warnings, line)

    def _series(self, name: str) -> tuple[EngineLive | None, bool]:
        """The widget showing engine ``name``, and whether ``name`` is an engine's fp32 baseline variant (drawn in
        that engine's widget)."""
        for w in self.query(EngineLive):
            if baseline_name(w.engine) == name:
                return w, True
        return self._engine(name), False

    def _update(self, name: str, **changes: Any) -> EngineLive | None:
        """Set ``changes`` (progress, phase, detail, final) on engine ``name``'s series."""
        w, baseline = self._series(name)
        if w is None:
            return None
        if baseline:
            if changes.get("phase") == "running" and w.baseline is not None and w.baseline.phase in ("done", "failed"):
                changes.pop("phase")
            w.update_baseline(**changes)
            return w
        if changes.get("phase") == "running" and w.phase in ("done", "failed"):
            changes.pop("phase")
        for key, value in changes.items():
            setattr(w, key, value)
        return w

    def _engine(self, name: str) -> EngineLive | None:
        for w in self.query(EngineLive):
            if w.engine == name:
                return w
        if self.status in ("idle",):
            return None
        # an engine we did not expect (e.g. followed run whose RunStarted we missed)
        widget = self._new_engine(name)
        self.query_one("#live-engines", Container).mount(widget)
        self.engine_names = (*self.engine_names, name)
        return widget

    def apply(self, event: Any) -> None:
        """Update from one :mod:`workbench.measure.events` event."""
        kind = getattr(event, "kind", None)
        if kind == "run_started":
            mode = (event.config or {}).get("mode")
            if tuple(event.engines) != self.engine_names or self.run_id not in (None, event.run_id):
                self.begin(event.engines, self.headline or event.model, self.origin or "run", event.run_id, mode)
            elif (mode == "generate") != self.generate:
                self.generate = mode == "generate"
                for engine_w in self.query(EngineLive):
                    engine_w.generate = self.generate
            self.run_id = event.run_id
            self.status = "running"
            cfg = event.config or {}
            self.headline = _headline(event.model, event.engines, cfg, event.run_id)
        elif kind == "stage":
            self.status = str(event.message)
            if event.stage == "loading" and event.engine:
                self._update(event.engine, detail="loading…")
        elif kind == "engine_loaded":
            eff = event.effective or {}
            bits = [f"loaded {duration(event.load_ms)}"]
            if eff.get("precision"):
                bits.append(str(eff["precision"]))
            if eff.get("threads"):
                bits.append(f"{eff['threads']} thr")
            self._update(event.engine, detail=" · ".join(bits), phase="loaded")
        elif kind == "progress":
            if self.status != "running":
                self.status = "running"
            self._update(event.engine, progress=event, phase="running")
            self.fraction = float(event.fraction or 0.0)
            self._estimate()
        elif kind == "warning":
            who = f"{event.engine}: " if event.engine else ""
            self._warn(f"⚠ {who}{event.message}")
        elif kind == "engine_finished":
            w = self._update(event.engine, final=dict(event.result or {}), phase="done")
            if w is not None:
                w.redraw(force=True)
            for warn in (event.result or {}).get("warnings") or []:
                self._warn(f"⚠ {event.engine}: {warn.get('message', warn.get('code', ''))}")
        elif kind == "engine_failed":
            self._update(event.engine, phase="failed", detail=event.error)
        elif kind == "run_finished":
            for result in (event.record or {}).get("results") or []:
                if result.get("status") == "ok":
                    self._update(str(result.get("engine")), final=dict(result), phase="done")
                else:
                    self._update(str(result.get("engine")), phase="failed", detail=str(result.get("error") or "failed"))
            self.fraction = 1.0
            self._eta_s = None
            self.status = "finished"
            self._finish()
        elif kind == "run_aborted":
            self.status = "aborted: " + str(event.reason)
            self._finish()

    def end(self, status: str) -> None:
        """The run ended outside the event stream (stopped, crashed before RunStarted...)."""
        self.status = status
        self._finish()

    def _estimate(self) -> None:
        """The ETA from the measured share of the run and the time since measuring began (engines load in
        between, so it is an estimate; shown once 3 % is done)."""
        now = time.monotonic()
        if self._measuring_since is None:
            self._measuring_since = now
        done = self.fraction
        self._eta_s = (now - self._measuring_since) * (1 - done) / done if 0.03 <= done < 1 else None
        self._render_status()

    def _finish(self) -> None:
        self._eta_s = None
        self.hint = ""
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

    def watch_hint(self) -> None:
        self._render_status()

    def watch_warnings(self, warnings: tuple[str, ...]) -> None:
        if composed(self):
            shown = warnings[-3:]
            more = len(warnings) - len(shown)
            text = "\n".join(shown) + (f"\n… {more} more" if more else "")
            box = self.query_one("#live-warnings", Static)
            box.update(text)
            box.display = bool(warnings)

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
        if self.status == "running" and self.fraction > 0:
            eta = f" · ETA {eta_text(self._eta_s)}" if self._eta_s is not None else ""
            parts.append((f" {self.fraction:.0%}{eta}", "$accent"))
        if self.hint:
            parts += [("  ", ""), (self.hint, "bold $warning")]
        elif self.headline:
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
