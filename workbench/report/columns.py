"""The one home of a result column: what it is called, its unit, its raw value and its text, and where it shows.

Every table of engine results is built from :data:`COLUMNS` and a view's list of column keys (:data:`VIEWS`):

* ``terminal`` — the table ``workbench run`` prints and the HTML report shows (:func:`workbench.report.text.result_rows`);
* ``markdown`` — ``--markdown`` (:class:`workbench.report.export.MarkdownExporter`);
* ``csv`` — ``--csv``: raw numbers, one row per result (:class:`workbench.report.export.CsvExporter`);
* ``tui`` — the UI's Results table (headers and texts; the widget adds its colours).

Adding a metric (per-token latency, QPS, joules per inference, …) is one :class:`Column` here — a raw getter for
CSV and JSON-like consumers, a text formatter (through :mod:`workbench.units`, so it reads the same everywhere) —
plus its key in the views that should show it, and the code that computes the number. Nothing else lists columns.

A column reads an :class:`~workbench.result.EngineResult` and, for the few record-level fields (run id, model,
baseline), its :class:`~workbench.result.RunRecord`. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from workbench.stats.speedup import speedup_text, unshown_ratio
from workbench.units import MISSING, as_float, ms, percent, rate, ratio, significant

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult, RunRecord

__all__ = [
    "Column",
    "COLUMNS",
    "NARROW_DROP",
    "VIEWS",
    "column",
    "headers",
    "texts",
    "raw_row",
    "speedup_cell",
    "format_cores",
    "warnings_text",
    "has_loadgen",
    "WHEN_MEASURED",
    "view_keys",
]

Getter = Callable[["EngineResult", "RunRecord | None"], Any]


@dataclass(frozen=True)
class Column:
    """One column. ``key``: stable id (the CSV name for raw values); ``header``: the table heading (``markdown``
    when Markdown says it otherwise, ``tui`` in the UI's narrow table); ``unit``: of the raw value; ``value``: the
    raw value (a number, a string, or None); ``text``: the formatted cell (default: the raw value as text)."""

    key: str
    header: str
    value: Getter
    text: Getter | None = None
    unit: str = ""
    markdown: str | None = None
    tui: str | None = None
    numeric: bool = True
    #: the cell in Markdown, where it reads otherwise than in the terminal
    markdown_text: Getter | None = None

    def cell(self, r: "EngineResult", rec: "RunRecord | None" = None, view: str = "terminal") -> str:
        if view == "markdown" and self.markdown_text is not None:
            return str(self.markdown_text(r, rec))
        if self.text is not None:
            return str(self.text(r, rec))
        v = self.value(r, rec)
        return MISSING if v is None or v == "" else str(v)

    def heading(self, view: str) -> str:
        which = "tui" if view.startswith("tui") else view  # tui, tui_generate: the UI's Results table
        return {"markdown": self.markdown, "tui": self.tui}.get(which) or self.header


def format_cores(cores: Iterable[int] | None) -> str:
    """``[0, 1, 2, 3, 8]`` → ``"0-3,8"``; ``None``/empty → ``""``."""
    if not cores:
        return ""
    from workbench.machine.cpus import format_cpu_list

    return format_cpu_list(sorted({int(c) for c in cores}))


def speedup_cell(value: float | None, note: str | None, significant: bool | None = None) -> str:
    """The speedup column: ``2.31×``; ``≈1.03×`` when the ratio is inside the run-to-run spread (``significant``
    False, :func:`workbench.stats.speedup.attach_intervals`); a ratio that is not a speedup (parity did not pass)
    in parentheses, ``(1.52×)``, with the note saying what it is; ``n/a`` when not shown and no ratio is known; —
    otherwise."""
    if value is not None:
        return speedup_text(value, significant)
    kept = unshown_ratio(note)
    if kept is not None:
        return f"({ratio(kept)})"
    return MISSING if not note else "n/a"


def _lat(key: str) -> Getter:
    return lambda r, rec: as_float((r.latency_ms or {}).get(key))


def _lat_text(key: str) -> Getter:
    return lambda r, rec: ms((r.latency_ms or {}).get(key))


def _ms_text(name: str) -> Getter:
    return lambda r, rec: ms(getattr(r, name))


def _field(name: str) -> Getter:
    return lambda r, rec: getattr(r, name)


def _num(name: str) -> Getter:
    return lambda r, rec: as_float(getattr(r, name))


def _engine_label(r: "EngineResult", rec: "RunRecord | None") -> str:
    return r.engine + (f" ({r.device})" if r.device and r.device != "cpu" else "")


def _mean_std(r: "EngineResult", rec: "RunRecord | None") -> str:
    lat = r.latency_ms or {}
    return f"{ms(lat.get('mean'))}±{ms(lat.get('std'))}"


def _mean_std_md(r: "EngineResult", rec: "RunRecord | None") -> str:
    lat = r.latency_ms or {}
    mean, std = as_float(lat.get("mean")), as_float(lat.get("std"))
    return MISSING if mean is None else (f"{ms(mean)} ± {ms(std)}" if std is not None else ms(mean))


def _speedup_md(r: "EngineResult", rec: "RunRecord | None") -> str:
    if as_float(r.speedup) is not None:
        return speedup_text(r.speedup, r.speedup_significant)
    return "baseline" if rec is not None and rec.baseline == r.engine else MISSING


def _parity(r: "EngineResult", rec: "RunRecord | None") -> str:
    return str((r.parity or {}).get("status") or "")


def warnings_text(warnings: Iterable[Any] | None) -> str:
    """``"code: message; …"`` of a result's warnings (the CSV's ``warnings`` cell)."""
    out = []
    for w in warnings or []:
        if isinstance(w, Mapping):
            msg = w.get("message") or w.get("code") or ""
            code = w.get("code")
            out.append(f"{code}: {msg}" if code and msg and code != msg else str(msg))
        else:
            out.append(str(w))
    return "; ".join(x for x in out if x)


def _ci(i: int) -> Getter:
    return lambda r, rec: as_float(r.speedup_ci[i]) if r.speedup_ci else None


def _fp32_p50(r: "EngineResult", rec: "RunRecord | None") -> float | None:
    return as_float(((r.fp32_baseline or {}).get("latency_ms") or {}).get("p50"))


def _lg(key: str) -> Getter:
    return lambda r, rec: (r.loadgen or {}).get(key)


def _lg_num(key: str) -> Getter:
    return lambda r, rec: as_float((r.loadgen or {}).get(key))


def _lg_text(key: str, fmt: Callable[[Any], str]) -> Getter:
    """A LoadGen number of the result's ``loadgen`` entry, formatted by ``fmt`` (``rate``, ``ms``)."""
    return lambda r, rec: fmt((r.loadgen or {}).get(key))


def _lg_in(part: str, key: str) -> Getter:
    """A number of a dict inside the result's ``loadgen`` entry (``issue_delay_ms``, ``qsl``)."""
    return lambda r, rec: as_float(((r.loadgen or {}).get(part) or {}).get(key))


def _lg_validity(r: "EngineResult", rec: "RunRecord | None") -> str:
    lg = r.loadgen or {}
    v = lg.get("validity")
    if not v:
        return MISSING
    rounds = lg.get("rounds") or 1
    return f"{v} ({lg.get('valid_rounds')}/{rounds})" if rounds > 1 else str(v)


def _lg_percentile(r: "EngineResult", rec: "RunRecord | None") -> str:
    p = as_float((r.loadgen or {}).get("percentile"))
    return MISSING if p is None else f"p{p:g}"


def _energy(key: str) -> Getter:
    """A number of a result's measured energy (None when energy was not measured)."""
    return lambda r, rec: as_float((r.energy or {}).get(key)) if (r.energy or {}).get("status") == "measured" else None


def _ms_of(get: Getter) -> Getter:
    return lambda r, rec: ms(get(r, rec))


def _sig(get: Getter) -> Getter:
    return lambda r, rec: significant(get(r, rec))


def _share(r: "EngineResult", rec: "RunRecord | None") -> str:
    v = _energy("above_idle_share")(r, rec)
    return MISSING if v is None else percent(round(v * 100) + 0.0, decimals=0)  # + 0.0: no "-0%"


def _usd(r: "EngineResult", rec: "RunRecord | None") -> float | None:
    return as_float((r.cost or {}).get("usd_per_million"))


_RAW_LATENCIES = ("p50", "p90", "p95", "p99", "p999", "mean", "std", "min", "max")


def _gen(part: str, key: str) -> Getter:
    """A number of a result's ``generation`` entry (``--mode generate``): ``_gen("ttft_ms", "p50")``."""
    return lambda r, rec: as_float(((r.generation or {}).get(part) or {}).get(key))


def _gen_ms(part: str, key: str) -> Getter:
    return lambda r, rec: ms(_gen(part, key)(r, rec))


def _gen_rate(key: str) -> Getter:
    return lambda r, rec: rate(_gen("tokens_per_s", key)(r, rec), "/s")


def _gen_value(key: str) -> Getter:
    """A number directly in a result's ``generation`` entry (None when absent)."""
    return lambda r, rec: as_float((r.generation or {}).get(key))


def _tokens_agree(r: "EngineResult", rec: "RunRecord | None") -> str | None:
    p = r.parity or {}
    if p.get("status") == "reference" and r.mode == "generate":
        return "reference"
    if p.get("kind") != "tokens":
        return None
    if p.get("status") == "skipped" and p.get("tokens_compared") is None:  # sampled: not compared
        return "sampled"
    first = p.get("first_divergence")
    return f"{p.get('tokens_agree')}/{p.get('tokens_compared')}" + ("" if first is None else f" (@{first})")


#: ``--mode generate`` columns (a result's ``generation`` entry; docs/schema.md)
_GENERATION = (
    *(Column(f"ttft_{k}_ms", f"TTFT {k} ms", _gen("ttft_ms", k), _gen_ms("ttft_ms", k), unit="ms", tui=f"TTFT {k}")
      for k in ("p50", "p90", "p99", "mean")),
    *(Column(f"tpot_{k}_ms", f"tok {k} ms", _gen("tpot_ms", k), _gen_ms("tpot_ms", k), unit="ms", tui=f"tok {k}")
      for k in ("p50", "p90", "p99", "mean")),
    Column("decode_tokens_per_s", "decode tok/s", _gen("tokens_per_s", "decode"), _gen_rate("decode"),
           unit="tokens/s", tui="tok/s"),
    Column("e2e_tokens_per_s", "e2e tok/s", _gen("tokens_per_s", "end_to_end"), _gen_rate("end_to_end"),
           unit="tokens/s"),
    Column("prompt_tokens", "prompt", lambda r, rec: (r.generation or {}).get("prompt_tokens")),
    Column("new_tokens", "new", lambda r, rec: (r.generation or {}).get("new_tokens")),
    Column("tokens_agree", "tokens =ref", _tokens_agree, lambda r, rec: _tokens_agree(r, rec) or MISSING,
           numeric=False, tui="tokens=ref"),
    Column("first_divergence", "first divergence", lambda r, rec: (r.parity or {}).get("first_divergence")),
    Column("kv_cache_mb", "KV MB", _gen_value("kv_cache_mb"), lambda r, rec: significant(_gen_value("kv_cache_mb")(r, rec)),
           unit="MB"),
    Column("prefill_logits_rel_l2", "logits L2",
           lambda r, rec: as_float((r.parity or {}).get("rel_l2")) if (r.parity or {}).get("kind") == "tokens" else None),
)  # fmt: skip

#: every result column, by key
COLUMNS: dict[str, Column] = {
    c.key: c
    for c in (
        Column("run_id", "run", lambda r, rec: rec.run_id if rec else None, numeric=False),
        Column("created", "created", lambda r, rec: rec.created if rec else None, numeric=False),
        Column(
            "model",
            "model",
            lambda r, rec: ((rec.model or {}).get("name") if rec else None) or r.model,
            numeric=False,
        ),
        Column("engine", "engine", _field("engine"), _engine_label, numeric=False),
        Column("engine_version", "version", _field("engine_version"), numeric=False),
        Column("device", "device", _field("device"), numeric=False),
        Column("mode", "mode", _field("mode"), numeric=False),
        Column("batch", "batch", _field("batch")),
        Column("threads", "threads", _field("threads")),
        Column("cores", "cores", lambda r, rec: format_cores(r.cores), numeric=False),
        Column("precision_requested", "asked", _field("precision_requested"), numeric=False),
        Column(
            "precision_effective",
            "prec",
            _field("precision_effective"),
            lambda r, rec: r.precision_effective or "?",
            markdown="precision eff.",
            numeric=False,
            markdown_text=lambda r, rec: r.precision_effective or f"{r.precision_requested}?",
        ),
        *(Column(f"{k}_ms", f"{k} ms", _lat(k), _lat_text(k), unit="ms", tui=k) for k in _RAW_LATENCIES),
        Column("mean_std", "mean±std ms", _lat("mean"), _mean_std, unit="ms", markdown_text=_mean_std_md),
        Column(
            "throughput",
            "items/s",
            _num("throughput"),
            lambda r, rec: rate(r.throughput),
            unit="items/s",
            markdown="throughput",
            markdown_text=lambda r, rec: rate(r.throughput, "/s"),
        ),
        Column("iterations", "iterations", _field("iterations")),
        Column("duration_s", "duration s", _num("duration_s"), unit="s"),
        *(
            Column(k, h, _num(k), _ms_text(k), unit="ms")
            for k, h in (("load_ms", "load ms"), ("first_inference_ms", "1st ms"))
        ),
        Column("peak_rss_mb", "RSS MB", _num("peak_rss_mb"), lambda r, rec: significant(r.peak_rss_mb), unit="MB"),
        Column("parity", "parity", _parity, lambda r, rec: _parity(r, rec) or MISSING, numeric=False),
        Column(
            "speedup",
            "speedup",
            _num("speedup"),
            lambda r, rec: speedup_cell(r.speedup, r.speedup_note, r.speedup_significant),
            unit="×",
            markdown_text=_speedup_md,
        ),
        Column("speedup_ci_low", "speedup CI low", _ci(0), unit="×"),  # the speedup's 99% interval
        Column("speedup_ci_high", "speedup CI high", _ci(-1), unit="×"),
        Column("speedup_significant", "beyond noise", _field("speedup_significant"), numeric=False),
        Column("fp32_p50_ms", "fp32 p50 ms", _fp32_p50, unit="ms"),  # below fp32: measured in the same run
        Column("speedup_vs_fp32", "vs fp32", _num("speedup_vs_fp32"), unit="×"),
        Column("drift_rel_l2", "drift L2", lambda r, rec: as_float((r.drift or {}).get("rel_l2"))),
        Column("drift", "drift", lambda r, rec: (r.drift or {}).get("status"), numeric=False),
        # LoadGen scenarios (--scenario, --find-max-qps): LoadGen's own numbers, shown only where a result has them
        Column("scenario", "scenario", _field("scenario"), numeric=False),
        Column("loadgen_validity", "LoadGen", _lg("validity"), _lg_validity, numeric=False),
        Column(
            "loadgen_qps",
            "QPS",
            _lg_num("qps"),
            _lg_text("qps", rate),
            unit="queries/s",
            markdown="achieved QPS",
        ),
        Column(
            "loadgen_target_qps",
            "target QPS",
            _lg_num("target_qps"),
            _lg_text("target_qps", rate),
            unit="queries/s",
        ),
        Column("loadgen_percentile", "at", _lg_num("percentile"), _lg_percentile, unit="%"),
        Column(
            "loadgen_latency_ms",
            "latency ms",
            _lg_num("target_latency_ms"),
            _lg_text("target_latency_ms", ms),
            unit="ms",
            markdown="LoadGen latency ms",
        ),
        Column(
            "loadgen_bound_ms",
            "bound ms",
            _lg_num("latency_bound_ms"),
            _lg_text("latency_bound_ms", ms),
            unit="ms",
        ),
        # Server: LoadGen's issue to the engine starting the query (queueing, the issuing thread's competition)
        *(
            Column(
                f"loadgen_issue_{k}_ms",
                f"issue {k} ms",
                _lg_in("issue_delay_ms", k),
                _ms_of(_lg_in("issue_delay_ms", k)),
                unit="ms",
                markdown=f"issue delay {k} ms",
            )
            for k in ("p50", "p99", "max")
        ),
        Column(
            "loadgen_qsl_samples",
            "QSL samples",
            lambda r, rec: ((r.loadgen or {}).get("qsl") or {}).get("samples"),
        ),
        Column(
            "max_qps",
            "max QPS",
            lambda r, rec: as_float(((r.qps_search or {}).get("best") or {}).get("target_qps")),
            lambda r, rec: rate(((r.qps_search or {}).get("best") or {}).get("target_qps")),
            unit="queries/s",
        ),
        Column(
            "loadgen_reasons",
            "why",
            lambda r, rec: "; ".join((r.loadgen or {}).get("reasons") or []) or None,
            numeric=False,
        ),
        Column("j_per_inference", "J/inf", _energy("j_per_inference"), _sig(_energy("j_per_inference")), unit="J"),
        Column("j_per_item", "J/item", _energy("j_per_item"), _sig(_energy("j_per_item")), unit="J"),
        Column("watts", "avg W", _energy("watts"), _sig(_energy("watts")), unit="W"),
        Column("idle_watts", "idle W", _energy("idle_watts"), _sig(_energy("idle_watts")), unit="W"),
        Column("above_idle_share", "above idle", _energy("above_idle_share"), _share, unit="fraction"),
        Column("inferences_per_j", "inf/J", _energy("inferences_per_j"), _sig(_energy("inferences_per_j")), unit="1/J"),
        Column("items_per_j", "items/J", _energy("items_per_j"), _sig(_energy("items_per_j")), unit="items/J"),
        Column(
            "energy_domains",
            "domains",
            lambda r, rec: " ".join((r.energy or {}).get("domains") or []) or None,
            numeric=False,
        ),
        Column(
            "energy_status",
            "energy",
            lambda r, rec: (r.energy or {}).get("status"),
            numeric=False,
        ),
        Column("usd_per_million", "$/M", _usd, _sig(_usd), unit="USD per million items", markdown="$ per M items"),
        Column("warnings", "warnings", lambda r, rec: warnings_text(r.warnings), numeric=False),
        Column("warn", "⚠", lambda r, rec: len(r.warnings or []), tui="⚠"),
        Column("status", "status", _field("status"), numeric=False),
        Column("error", "error", _field("error"), numeric=False),
        *_GENERATION,
    )
}

#: which columns each view shows, in order
#: what a run measured besides its latencies, in the CSV's order
#: what a measured result costs, in joules and dollars (shown only when measured: WHEN_MEASURED)
_VALUE = ("j_per_item", "watts", "above_idle_share", "items_per_j", "usd_per_million")

_MEASURED = ("throughput", "iterations", "duration_s", "load_ms", "first_inference_ms", "peak_rss_mb")

#: the first columns of every table a person reads: what ran and how fast
_SPEED = ("engine", "precision_effective", "p50_ms", "p90_ms", "p99_ms")

#: a LoadGen scenario's numbers (LoadGen's own), in every view that shows them
_LOADGEN = (
    "scenario",
    "loadgen_validity",
    "loadgen_qps",
    "loadgen_target_qps",
    "loadgen_percentile",
    "loadgen_latency_ms",
    "loadgen_bound_ms",
    "loadgen_issue_p99_ms",
    "loadgen_qsl_samples",
)

#: which columns each view shows, in order
VIEWS: dict[str, tuple[str, ...]] = {
    "terminal": (
        *_SPEED,
        "mean_std",
        "throughput",
        "load_ms",
        "first_inference_ms",
        "peak_rss_mb",
        "parity",
        "speedup",
        *_VALUE,
    ),
    "markdown": (*_SPEED, "mean_std", "throughput", "speedup", "parity", *_VALUE),
    "csv": (
        "run_id",
        "created",
        "model",
        "engine",
        "engine_version",
        "device",
        "mode",
        "batch",
        "threads",
        "cores",
        "precision_requested",
        "precision_effective",
        *(f"{k}_ms" for k in _RAW_LATENCIES),
        *_MEASURED,
        "parity",
        "speedup",
        "speedup_ci_low",
        "speedup_ci_high",
        "speedup_significant",
        "fp32_p50_ms",
        "speedup_vs_fp32",
        "drift_rel_l2",
        "drift",
        *_LOADGEN,
        "loadgen_issue_p50_ms",
        "loadgen_issue_max_ms",
        "loadgen_reasons",
        "max_qps",
        "energy_status",
        "j_per_inference",
        "j_per_item",
        "watts",
        "idle_watts",
        "above_idle_share",
        "inferences_per_j",
        "items_per_j",
        "energy_domains",
        "usd_per_million",
        "warnings",
        "status",
        "error",
        *(c.key for c in _GENERATION),  # --mode generate (empty cells in other modes)
    ),
    #: ``workbench run --mode generate``'s table (terminal and HTML): time to first token, per output token,
    #: tokens/s and token parity in place of the per-inference latencies
    "generate": (
        "engine",
        "precision_effective",
        "ttft_p50_ms",
        "tpot_p50_ms",
        "tpot_p90_ms",
        "tpot_p99_ms",
        "decode_tokens_per_s",
        "e2e_tokens_per_s",
        "load_ms",
        "peak_rss_mb",
        "kv_cache_mb",
        "tokens_agree",
        "speedup",
    ),
    "generate_markdown": (
        "engine",
        "precision_effective",
        "ttft_p50_ms",
        "tpot_p50_ms",
        "tpot_p90_ms",
        "tpot_p99_ms",
        "decode_tokens_per_s",
        "peak_rss_mb",
        "tokens_agree",
        "speedup",
    ),
    #: a LoadGen scenario's table, below the results table where some result ran a scenario (:func:`has_loadgen`)
    "loadgen": ("engine", *_LOADGEN),
    "tui": (
        *_SPEED,
        "mean_ms",
        "throughput",
        "loadgen_validity",
        "loadgen_qps",
        "max_qps",
        "items_per_j",
        "usd_per_million",
        "speedup",
        "parity",
        "warn",
    ),
    #: the UI's Results table for a ``--mode generate`` run (:func:`results_view`): time to first token and per
    #: output token (never per-token latency under a plain "p50"), decode tokens/s, token parity, the speedup
    "tui_generate": (
        "engine",
        "precision_effective",
        "ttft_p50_ms",
        "tpot_p50_ms",
        "tpot_p99_ms",
        "decode_tokens_per_s",
        "tokens_agree",
        "speedup",
        "warn",
    ),
    #: what a sweep's cell table shows of each cell's measurement (its axes come first, its status last)
    "sweep": (
        "p50_ms",
        "p99_ms",
        "throughput",
        "peak_rss_mb",
        "loadgen_validity",
        "loadgen_qps",
        "items_per_j",
        "usd_per_million",
        "parity",
    ),
    #: a generate cell's measured columns in a sweep's cell table
    "sweep_generate": (
        "ttft_p50_ms",
        "tpot_p50_ms",
        "tpot_p99_ms",
        "decode_tokens_per_s",
        "peak_rss_mb",
        "items_per_j",
        "usd_per_million",
        "tokens_agree",
    ),
}

#: columns a table of results shows only when one of its results has a value (energy where the machine exposes
#: counters, cost where a price was given): on a machine without them the tables read as before
WHEN_MEASURED: frozenset[str] = frozenset(
    ("j_per_inference", "j_per_item", "watts", "idle_watts", "above_idle_share", "inferences_per_j", "items_per_j")
    + ("usd_per_million",)
    + ("loadgen_validity", "loadgen_qps")  # a LoadGen scenario's verdict and rate, in the UI's table
    + ("max_qps",)  # a max-QPS search's answer (run --find-max-qps, the UI's Load choice)
)


def view_keys(
    view: str, results: "Iterable[EngineResult] | None" = None, rec: "RunRecord | None" = None
) -> tuple[str, ...]:
    """``view``'s column keys for a table of ``results``: the :data:`WHEN_MEASURED` ones only where some result
    has a value (None: none of them). CSV keeps every column (a stable header)."""
    rs = list(results or [])
    return tuple(
        k
        for k in VIEWS[view]
        if view == "csv" or k not in WHEN_MEASURED or any(COLUMNS[k].value(r, rec) is not None for r in rs)
    )


#: columns a view's table drops when the terminal is too narrow for all of them, first to last (the Results
#: pane's detail lines still give their values)
NARROW_DROP: dict[str, tuple[str, ...]] = {
    "tui": ("mean_ms", "p90_ms", "usd_per_million", "items_per_j", "loadgen_qps", "max_qps", "p99_ms"),
    "tui_generate": ("warn", "tpot_p99_ms"),
}


def results_view(record: "RunRecord | None", base: str = "terminal") -> str:
    """The view of a record's results table: ``generate`` (or ``generate_markdown``, ``tui_generate``) for a
    ``--mode generate`` run, else ``base``."""
    mode = ((record.config or {}).get("mode") if record is not None else None) or ""
    if mode == "generate" and base in ("terminal", "markdown", "tui"):
        return {"terminal": "generate", "markdown": "generate_markdown", "tui": "tui_generate"}[base]
    return base


def column(key: str) -> Column:
    return COLUMNS[key]


def headers(view: str, keys: Iterable[str] | None = None) -> tuple[str, ...]:
    """The headings of ``view``'s columns (``keys``: :func:`view_keys` of a table; default: the view's columns
    without the :data:`WHEN_MEASURED` ones), in order."""
    return tuple(COLUMNS[k].heading(view) for k in (view_keys(view) if keys is None else keys))


def texts(view: str, r: "EngineResult", rec: "RunRecord | None" = None, keys: Iterable[str] | None = None) -> list[str]:
    """One result's formatted cells in ``view`` (``keys`` as in :func:`headers`)."""
    return [COLUMNS[k].cell(r, rec, view) for k in (view_keys(view) if keys is None else keys)]


def has_loadgen(results: Iterable["EngineResult"]) -> bool:
    """Whether any result ran a LoadGen scenario (its table is shown only then)."""
    return any(r.loadgen for r in results)


def raw_row(view: str, r: "EngineResult", rec: "RunRecord | None" = None) -> dict[str, Any]:
    """One result's raw values in ``view``, by column key (CSV)."""
    return {k: COLUMNS[k].value(r, rec) for k in VIEWS[view]}
