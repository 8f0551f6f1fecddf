"""The Results pane: engines side by side, speedup against a chosen baseline, parity, warnings, errors.

Set :attr:`ResultsPane.view` (a :class:`ResultsView`) and the watcher renders. A complete run shows its
:class:`~workbench.result.RunRecord`; a run that crashed or was stopped shows what its engines reported so far —
labelled as such and never saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.reactive import reactive
from textual.widgets import DataTable, Label, Select, Static

from workbench.report.columns import NARROW_DROP, VIEWS, column, headers, results_view, view_keys
from workbench.report.loadgen import search_is_fragile
from workbench.stats.speedup import interval_detail, speedup_text, unshown_ratio
from workbench.tui.analysis import Speedup, speedups
from workbench.tui.format import cpu_ranges
from workbench.tui.widgets import composed
from workbench.units import MISSING, duration, ms, percent, rate, ratio, significant

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult, RunRecord


def view_columns(view: str) -> tuple[tuple[str, str, bool], ...]:
    """A view's columns as the table shows them: (key, heading, right-aligned when numeric)."""
    return tuple((key, heading, column(key).numeric) for key, heading in zip(VIEWS[view], headers(view, VIEWS[view])))


#: the table's columns: the ``tui`` view of the column registry (``tui_generate`` for a generate run)
COLUMNS: tuple[tuple[str, str, bool], ...] = view_columns("tui")


def _cell(text: str, style: str = "", right: bool = False) -> Text:
    return Text(" " + text, style=style, justify="right" if right else "left", no_wrap=True)


@dataclass(frozen=True)
class ResultsView:
    """What the Results pane shows."""

    results: tuple["EngineResult", ...] = ()
    record: "RunRecord | None" = None
    banner: str = ""  # e.g. "stopped — not saved"
    severity: str = "info"  # info | warning | error
    saved: bool = False
    fixture: bool = False  # test data (the banner says so)
    extra_errors: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (engine, error) without a result


def theme_color(widget: Any, variable: str) -> str:
    """A theme variable's colour as a Rich colour string (DataTable cells are Rich Text)."""
    try:
        value = widget.app.theme_variables.get(variable)
    except Exception:  # pragma: no cover - no app
        value = None
    if not value:
        return ""
    from textual.color import Color

    try:
        return Color.parse(value).hex6
    except Exception:  # pragma: no cover
        return ""


class ResultsTable(DataTable):
    """The side-by-side table (also used by the run-detail screen)."""

    DEFAULT_CSS = """
    ResultsTable {
        height: auto;
        max-height: 12;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        # cell_padding=0 with one leading space per cell: one column of separation instead of two, so the ten
        # columns fit an 80-column terminal
        super().__init__(cursor_type="row", zebra_stripes=True, cell_padding=0, **kwargs)
        self._engines: list[str] = []
        self._last: tuple[Any, ...] | None = None
        self.view = "tui"  # the column registry's view: ``tui``, or ``tui_generate`` for a generate run
        self._columns = COLUMNS

    def on_mount(self) -> None:
        self._set_columns([key for key, _, _ in COLUMNS])
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._rerender())

    def _set_columns(self, keys: Sequence[str]) -> None:
        """Show the columns ``keys`` (in the view's order): the table is rebuilt when the set changes."""
        if list(keys) == [key.value for key in self.columns]:
            return
        self.clear(columns=True)
        for key, label, numeric in self._columns:
            if key in keys:
                self.add_column(_cell(label, right=numeric), key=key)

    def on_resize(self) -> None:
        self._rerender()

    def _rerender(self) -> None:
        if self._last is not None:
            self.show(*self._last)

    def show(
        self,
        results: Sequence["EngineResult"],
        speed: dict[str, Speedup],
        extra_errors: Sequence[tuple[str, str]] = (),
        view: str = "tui",
    ) -> None:
        """Show ``results`` in the registry's ``view`` (``tui``; ``tui_generate`` for a generate run)."""
        self._last = (results, speed, extra_errors, view)
        if view != self.view:
            self.view, self._columns = view, view_columns(view)
            self.clear(columns=True)
        columns = self._columns
        cursor = self.cursor_row
        ok_c, bad_c, warn_c, muted_c = (theme_color(self, v) for v in ("success", "error", "warning", "text-muted"))
        self._engines = []
        rows: list[tuple[str, dict[str, Text]]] = []
        for r in results:
            self._engines.append(r.engine)
            if not r.ok:
                rows.append((r.engine, self._failed_cells(r.engine, r.precision_requested or MISSING, bad_c)))
                continue
            eff = r.precision_effective or r.precision_requested or MISSING
            mismatch = bool(r.precision_effective and r.precision_effective != r.precision_requested)
            sp = speed.get(r.engine) or Speedup(None, None)
            kept = unshown_ratio(sp.note) if sp.value is None else None
            if kept is not None:  # parity did not pass: the ratio, in parentheses, is not a speedup (see detail)
                sp_cell = _cell(f"({ratio(kept)})", warn_c, right=True)
            elif sp.value is None:
                sp_cell = _cell(MISSING if not sp.note or sp.note == "baseline failed" else "n/a", muted_c, right=True)
            elif sp.note == "baseline":
                sp_cell = _cell("base", muted_c, right=True)
            elif sp.significant is False:  # inside the run-to-run spread: no real difference
                sp_cell = _cell(speedup_text(sp.value, False), muted_c, right=True)
            else:
                sp_cell = _cell(ratio(sp.value), ok_c if sp.value >= 1.0 else warn_c, right=True)
            parity = (r.parity or {}).get("status") or MISSING
            nwarn = len(r.warnings or [])
            if parity == "reference":
                parity = "pass"  # the reference of token parity agrees with itself
            styled = {  # the columns this table colours; every other column is the registry's cell as it is
                "engine": _cell(r.engine, "bold"),
                "precision_effective": _cell(eff, warn_c if mismatch else ""),
                "p50_ms": _cell(column("p50_ms").cell(r, None, "tui"), "bold", right=True),
                "tpot_p50_ms": _cell(column("tpot_p50_ms").cell(r, None, "tui"), "bold", right=True),
                "tokens_agree": _cell(
                    column("tokens_agree").cell(r, None, "tui"),
                    {"pass": ok_c, "fail": bad_c, "error": bad_c}.get(parity, warn_c),
                ),
                "speedup": sp_cell,
                "parity": _cell(parity, {"pass": ok_c, "fail": bad_c, "error": bad_c}.get(parity, muted_c)),
                "warn": _cell(f"{nwarn}" if nwarn else "", warn_c, right=True),
            }
            rows.append(
                (
                    r.engine,
                    {
                        key: styled.get(key) or _cell(column(key).cell(r, None, "tui"), right=numeric)
                        for key, _, numeric in columns
                    },
                )
            )
        for engine, _error in extra_errors:
            if engine in self._engines:
                continue
            self._engines.append(engine)
            rows.append((engine, self._failed_cells(engine, MISSING, bad_c)))
        shown = set(view_keys(view, results))  # energy, cost, LoadGen: only when a result has them
        self._set_columns(self._fitting([row for _, row in rows], shown))
        self.clear()
        for engine, row in rows:
            self.add_row(*(row[str(key.value)] for key in self.columns), key=engine)
        if self.row_count:
            self.move_cursor(row=min(max(cursor, 0), self.row_count - 1))

    def _fitting(self, rows: Sequence[dict[str, Text]], shown: set[str]) -> list[str]:
        """The ``shown`` columns of the view that fit the table's width, dropping :data:`NARROW_DROP`'s first."""
        width = {
            key: max([len(label) + 1, *(row[key].cell_len for row in rows if key in row)])
            for key, label, _ in self._columns
        }
        keys = [key for key, _, _ in self._columns if key in shown]
        room = self.size.width - 1  # the vertical scrollbar
        for key in NARROW_DROP.get(self.view, ()):
            if room <= 0 or sum(width[k] for k in keys) <= room:
                break
            if key in keys:
                keys.remove(key)
        return keys

    def _failed_cells(self, engine: str, precision: str, bad: str) -> dict[str, Text]:
        cells = [_cell(engine, "bold"), _cell(precision), _cell("✗ failed", bad)]
        cells += [_cell(MISSING, right=True) for _ in range(len(self._columns) - 3)]
        return {key: c for (key, _, _), c in zip(self._columns, cells)}

    def engine_at_cursor(self) -> str | None:
        if 0 <= self.cursor_row < len(self._engines):
            return self._engines[self.cursor_row]
        return None


_MUTED = "$text-muted"


def result_detail(r: "EngineResult | None", speed: Speedup | None, error: str | None = None) -> Content:
    """Everything about one engine's result that does not fit the table."""
    if r is None:
        if error:
            return Content.assemble(("✗ ", "$error"), (error, "$error"))
        return Content("")
    parts: list[Any] = _setting_parts(r)
    if not r.ok:
        parts += [("✗ ", "$error"), (str(r.error or "failed"), "$error")]
        return Content.assemble(*parts)
    parts += _timing_parts(r)
    from workbench.report.precision import precision_summary

    below = precision_summary(r)  # below fp32: speedup over the same engine's fp32, drift, how it was quantized
    if below:
        over = (r.drift or {}).get("status") not in (None, "within")
        parts += [(below, "$warning" if over else ""), "\n"]
    parts += _value_parts(r)
    if r.parity:
        parts += _parity_parts(r.parity)
    parts += _speedup_parts(speed)
    for w in r.warnings or []:
        parts += [
            ("⚠ ", "$warning"),
            (str(w.get("message") or w.get("code")), ""),
            (f" [{w.get('code')}]" if w.get("code") else "", _MUTED),
            "\n",
        ]
    return Content.assemble(*parts)


def _value_parts(r: "EngineResult") -> list[Any]:
    """Under load (LoadGen's verdict and rate), energy (or why it was not measured) and cost, as the registry's
    cells say them."""
    parts: list[Any] = []
    lg = r.loadgen or {}
    if lg:
        validity = column("loadgen_validity").cell(r, None, "tui")
        style = "$success" if lg.get("validity") == "VALID" else "$warning"
        parts += [(f"LoadGen {r.scenario or ''} ", _MUTED), (validity, f"bold {style}")]
        parts += [(f" · {column('loadgen_qps').cell(r)} QPS", "")]
        if lg.get("target_qps"):
            parts += [(f" (target {column('loadgen_target_qps').cell(r)})", _MUTED)]
        if lg.get("latency_bound_ms"):
            at = column("loadgen_percentile").cell(r)
            parts += [(f" · {at} {column('loadgen_latency_ms').cell(r)} ms ≤ {column('loadgen_bound_ms').cell(r)}", "")]
        reasons = column("loadgen_reasons").value(r, None)
        if reasons:
            parts += [(f" · {reasons}", _MUTED)]
        parts.append("\n")
    search = r.qps_search or {}
    if search:  # a max-QPS search (run --find-max-qps, the Load choice): its answer and how it was reached
        pct, bound = search.get("percentile"), search.get("latency_bound_ms")
        answer = f"{column('max_qps').cell(r)} QPS" if search.get("best") else "no VALID rate"
        parts += [("max QPS ", _MUTED), (answer, "bold"), (f" within {ms(bound)} ms at p{pct:g}", "")]
        parts += [
            (
                f" · confirmed {search.get('confirmed', 0)}/{search.get('confirm_runs', 0)} · "
                f"{len(search.get('probes') or [])} probes · offline {rate(search.get('offline_qps'))}/s · took {duration((search.get('elapsed_s') or 0) * 1000)}",
                _MUTED,
            )
        ]
        if search.get("note"):
            parts += [(f" · {search['note']}", "$warning")]
        if search_is_fragile(search):
            n, allowed = search["min_queries"], max(search["allowed_over"], 0)
            parts += [(f" · {allowed} of {n} queries may miss the bound: a re-run can flip", _MUTED)]
        parts.append("\n")
    energy = r.energy or {}
    if energy.get("status") == "measured":
        parts += [("energy ", _MUTED), (f"{column('j_per_item').cell(r)} J/item", "bold")]
        parts += [(f" · {column('items_per_j').cell(r)} items/J", "")]
        if energy.get("watts") is not None:
            parts += [(f" · {column('watts').cell(r)} W", "")]
        if energy.get("idle_watts") is not None:
            parts += [(f" · {column('above_idle_share').cell(r)} above idle", _MUTED)]
        parts.append("\n")
    elif energy.get("status") == "unavailable":
        parts += [("energy not measured: ", _MUTED), (str(energy.get("reason") or ""), _MUTED), "\n"]
    if (r.cost or {}).get("usd_per_million") is not None:
        price = (r.cost or {}).get("price_per_hour")
        at = f" at ${price:g}/h" if isinstance(price, (int, float)) else ""
        parts += [
            ("cost ", _MUTED),
            (f"${column('usd_per_million').cell(r)} per million items", "bold"),
            (at, _MUTED),
            "\n",
        ]
    return parts


def _setting_parts(r: "EngineResult") -> list[Any]:
    """``engine version · device · fp32→fp32 · batch 1 · latency · 2 thr · cores 0-1`` and a newline."""
    parts: list[Any] = [(r.engine, "bold")]
    if r.engine_version:
        parts.append((f" {r.engine_version}", _MUTED))
    bits = [r.device, f"{r.precision_requested}→{r.precision_effective or '?'}", f"batch {r.batch}", r.mode]
    if r.threads:
        bits.append(f"{r.threads} thr")
    if r.cores:
        bits.append(f"cores {cpu_ranges(r.cores)}")
    if r.streams:
        bits.append(f"{r.streams} streams")
    return parts + [(" · " + " · ".join(str(b) for b in bits), _MUTED), "\n"]


def _timing_parts(r: "EngineResult") -> list[Any]:
    """The latency line (mean ± std, min, max, p99.9, the median's CI, n, outliers) and the resources line."""
    lat = r.latency_ms or {}
    ci = r.median_ci_ms or []
    line = [
        f"mean {ms(lat.get('mean'))} ± {ms(lat.get('std'))}",
        f"min {ms(lat.get('min'))}",
        f"max {ms(lat.get('max'))}",
        f"p99.9 {ms(lat.get('p999'))} ms",
    ]
    if len(ci) == 2:
        line.append(f"median 95% CI {ms(ci[0])}–{ms(ci[1])}")
    line.append(f"n={r.iterations}")
    if r.outliers:
        line.append(f"{r.outliers} outliers")
    parts: list[Any] = _generation_parts(r) if r.generation else [(" · ".join(line), ""), "\n"]
    res = []
    if r.load_ms is not None:
        res.append(f"load {duration(r.load_ms)}")
    if r.first_inference_ms is not None:
        res.append(f"first {duration(r.first_inference_ms)}")
    if r.peak_rss_mb is not None:
        res.append(f"RSS {significant(r.peak_rss_mb)} MB")
    if r.cpu_util_pct is not None:
        res.append(f"CPU {percent(r.cpu_util_pct, decimals=0)}")
    if res:
        parts += [(" · ".join(res), _MUTED), "\n"]
    return parts


def _generation_parts(r: "EngineResult") -> list[Any]:
    """A generate run's lines: time to first token and per output token (p50/p90/p99), tokens/s, the lengths."""
    g = r.generation or {}

    def pcts(part: str) -> str:
        return " / ".join(column(f"{part}_{k}_ms").cell(r) for k in ("p50", "p90", "p99")) + " ms"

    parts: list[Any] = [
        ("TTFT ", _MUTED),
        (pcts("ttft"), "bold"),
        (" · per token ", _MUTED),
        (pcts("tpot"), "bold"),
        ("  (p50 / p90 / p99)", _MUTED),
        "\n",
        (f"decode {rate(column('decode_tokens_per_s').value(r, None), ' tok/s')}", ""),
        (f" · end-to-end {rate(column('e2e_tokens_per_s').value(r, None), ' tok/s')}", _MUTED),
    ]
    lengths = [f"prompt {g['prompt_tokens']} tokens" if g.get("prompt_tokens") is not None else ""]
    if g.get("new_tokens") is not None:
        lengths.append(f"{g['new_tokens']} new")
    if g.get("generations") is not None:
        lengths.append(f"{g['generations']} generations")
    lengths = [x for x in lengths if x]
    if lengths:
        parts.append((" · " + " · ".join(lengths), _MUTED))
    return parts + ["\n"]


def _parity_parts(p: Mapping[str, Any]) -> list[Any]:
    """The parity verdict with the rule that decided it, then one line per output when there are several (or one
    failed)."""
    from workbench.report.parity import rule_text, top1_text

    status = str(p.get("status"))
    style = {"pass": "$success", "fail": "$error", "error": "$error"}.get(status, _MUTED)
    parts: list[Any] = [("parity ", _MUTED), (status, f"bold {style}")]
    if p.get("reference"):
        parts.append((f" vs {p['reference']}", _MUTED))
    rule = rule_text(p)  # the comparison that decided the verdict: rel L2 1.2e-07 ≤ 1e-03 (fp32 default)
    if rule:
        parts.append((f": {rule}", ""))
    nums = []
    if rule is None and isinstance(p.get("rel_l2"), (int, float)):  # a record without its tolerance
        nums.append(f"rel L2 {p['rel_l2']:.1e}")
    if isinstance(p.get("max_abs"), (int, float)):
        nums.append(f"max |Δ| {p['max_abs']:.1e}")
    top = top1_text(p)  # only where it means something: "top-1 n/a: near-tie (8/8)" otherwise
    if top:
        nums.append(top)
    if nums and rule:
        parts.append(("".join(f" · {n}" for n in nums), _MUTED))
    elif nums:
        parts.append((" (" + ", ".join(nums) + ")", _MUTED))
    if p.get("message"):
        parts.append((f" — {p['message']}", _MUTED))
    parts.append("\n")
    outputs = p.get("outputs") or []
    if len(outputs) > 1 or (outputs and status == "fail"):
        for o in outputs:
            parts += _output_parts(o)
    return parts


def _output_parts(o: Mapping[str, Any]) -> list[Any]:
    """One output's parity line: ``  logits · max |Δ| 1e-06 at (0, 3) · rel L2 2e-07 pass``."""
    from workbench.report.parity import top1_text

    line = [str(o.get("name"))]
    if isinstance(o.get("max_abs"), (int, float)):
        where = f" at {tuple(o['max_abs_index'])}" if o.get("max_abs_index") else ""
        line.append(f"max |Δ| {o['max_abs']:.1e}{where}")
    if isinstance(o.get("rel_l2"), (int, float)):
        line.append(f"rel L2 {o['rel_l2']:.1e}")
    o_top = top1_text(o)
    if o_top:
        line.append(o_top)
    o_status = str(o.get("status") or "")
    o_style = {"pass": "$success", "fail": "$error"}.get(o_status, _MUTED)
    return [("  " + " · ".join(line) + " ", _MUTED), (o_status, o_style), "\n"]


def _speedup_parts(speed: Speedup | None) -> list[Any]:
    """The speedup over the baseline with its interval (or why there is none)."""
    if speed is not None and speed.note and speed.note != "baseline":
        return [("speedup ", _MUTED), (speed.note, "$warning"), "\n"]
    if speed is not None and speed.value is not None and speed.ci:
        return [
            ("speedup ", _MUTED),
            (speedup_text(speed.value, speed.significant), "$warning" if speed.significant is False else ""),
            (" " + interval_detail(speed.ci, speed.significant, speed.basis), _MUTED),
            "\n",
        ]
    return []


class ResultsPane(Vertical):
    """Side-by-side results of the latest run (or of a crashed/stopped one, labelled)."""

    DEFAULT_CSS = """
    ResultsPane {
        height: 1fr;
    }
    ResultsPane > #results-title {
        height: auto;
    }
    ResultsPane > #results-bar {
        height: 1;
    }
    ResultsPane > #results-bar > Label {
        width: auto;
        padding: 0 1 0 0;
    }
    ResultsPane > #results-bar > Select {
        width: 24;
    }
    ResultsPane > #results-bar > #results-note {
        width: 1fr;
        padding: 0 0 0 2;
    }
    ResultsPane > #results-detail {
        height: 1fr;
        min-height: 2;
    }
    ResultsPane > #results-empty {
        height: 1fr;
        content-align: center middle;
    }
    """

    view: reactive[ResultsView | None] = reactive(None)
    baseline: reactive[str | None] = reactive(None)

    def compose(self) -> ComposeResult:
        yield Static("", id="results-title")
        with Horizontal(id="results-bar"):
            yield Label("Baseline")
            yield Select([], allow_blank=True, compact=True, id="results-baseline", prompt="baseline")
            yield Static("latency in ms", id="results-note")
        yield ResultsTable(id="results-table")
        with VerticalScroll(id="results-detail"):
            yield Static("", id="results-detail-text")
        yield Static("No results yet — press r to run.", id="results-empty")

    def on_mount(self) -> None:
        self.border_title = "Results"
        self._show_empty(True)

    def _show_empty(self, empty: bool) -> None:
        for wid in ("#results-title", "#results-bar", "#results-table", "#results-detail"):
            self.query_one(wid).display = not empty
        self.query_one("#results-empty").display = empty

    @property
    def record(self) -> "RunRecord | None":
        return self.view.record if self.view else None

    def watch_view(self, view: ResultsView | None) -> None:
        if not composed(self):
            return
        if view is None:
            self._show_empty(True)
            return
        self._show_empty(False)
        engines = [r.engine for r in view.results if r.ok]
        select = self.query_one("#results-baseline", Select)
        record_base = view.record.baseline if view.record else None
        with self.prevent(Select.Changed):
            select.set_options([(e, e) for e in engines])
            base = record_base if record_base in engines else (engines[0] if engines else None)
            if base is not None:
                select.value = base
        self.baseline = base
        self._render_title()
        self._render_table()

    def watch_baseline(self) -> None:
        if composed(self) and self.view is not None:
            self._render_table()

    @on(Select.Changed, "#results-baseline")
    def _baseline_changed(self, event: Select.Changed) -> None:
        event.stop()
        self.baseline = None if event.value is Select.NULL else str(event.value)

    def _speed(self) -> dict[str, Speedup]:
        view = self.view
        if view is None or view.record is None:
            return {}
        return speedups(view.record, self.baseline)

    def _render_table(self) -> None:
        view = self.view
        if view is None:
            return
        table = self.query_one(ResultsTable)
        table_view = self.table_view()
        table.show(view.results, self._speed(), view.extra_errors, table_view)
        note = "TTFT and per-token latency in ms" if table_view == "tui_generate" else "latency in ms"
        self.query_one("#results-note", Static).update(note)
        self._render_detail()

    def table_view(self) -> str:
        """The column registry's view for the results shown (``tui_generate`` when they are a generate run's)."""
        view = self.view
        if view is None:
            return "tui"
        if view.record is not None:
            return results_view(view.record, "tui")
        return "tui_generate" if any(r.mode == "generate" or r.generation for r in view.results) else "tui"

    def _render_title(self) -> None:
        view = self.view
        if view is None:
            return
        parts: list[Any] = []
        rec = view.record
        if view.fixture:
            parts += [(" TEST FIXTURE DATA ", "bold $background on $warning"), " "]
        if rec is not None:
            cfg = rec.config or {}
            bits = [
                str((rec.model or {}).get("name") or cfg.get("model") or "?"),
                str(cfg.get("mode") or ""),
                f"batch {cfg.get('batch', '?')}",
            ]
            if cfg.get("threads"):
                bits.append(f"{cfg['threads']} thr")
            if cfg.get("cores"):
                bits.append(f"cores {cpu_ranges(cfg['cores'])}")
            parts += [(" · ".join(b for b in bits if b), "bold"), (f"  run {rec.run_id}", "$text-muted")]
            if view.saved:
                parts += [("  saved", "$success")]
        if view.banner:
            style = {"error": "$error", "warning": "$warning"}.get(view.severity, "$text-muted")
            parts += [("\n" if parts else "", ""), (view.banner, f"bold {style}")]
        if rec is not None and rec.warnings:
            codes = ", ".join(str(w.get("code") or "warning") for w in rec.warnings)
            parts += [
                "\n",
                ("⚠ ", "$warning"),
                (f"run: {codes}", "$text-muted"),
                (" (details below the engine)", "$text-muted"),
            ]
        self.query_one("#results-title", Static).update(Content.assemble(*parts))

    def _render_detail(self) -> None:
        view = self.view
        if view is None:
            return
        table = self.query_one(ResultsTable)
        engine = table.engine_at_cursor()
        result = next((r for r in view.results if r.engine == engine), None)
        error = dict(view.extra_errors).get(engine) if engine else None
        speed = self._speed().get(engine) if engine else None
        content = result_detail(result, speed, error)
        rec = view.record
        if rec is not None and rec.warnings:
            extra: list[Any] = [("Run warnings", "bold $warning"), "\n"]
            for w in rec.warnings:
                extra += [
                    ("⚠ ", "$warning"),
                    (str(w.get("message") or w.get("code")), ""),
                    (f" [{w.get('code')}]" if w.get("code") else "", "$text-muted"),
                    "\n",
                ]
            content = Content.assemble(content, "\n", *extra)
        self.query_one("#results-detail-text", Static).update(content)

    @on(DataTable.RowHighlighted, "#results-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._render_detail()
