"""Immutable run records: what ran, on what, and what was measured.

A :class:`RunRecord` is one ``workbench run`` (or one UI run): a configuration, the machine, and one
:class:`EngineResult` per engine. Both serialise to plain JSON (``to_dict``/``from_dict``) — the same document is
written by ``--json``, stored in the history and read back by ``compare``/``history import``. The schema is
documented in docs/schema.md; bump :data:`SCHEMA_VERSION` and add a migration in ``workbench.store.history`` when it
changes.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Iterable, Mapping

SCHEMA_VERSION = 1

LATENCY_KEYS = ("mean", "std", "min", "max", "p50", "p90", "p95", "p99", "p999")


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Warning_:
    """A named warning a user can act on (``code`` is stable; ``message`` is for humans)."""

    code: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Parity:
    status: str  # "pass" | "fail" | "skipped" | "error" | "reference" (the engine is its own reference)
    reference: str | None = None  # e.g. "torch fp32"
    max_abs: float | None = None
    rel_l2: float | None = None
    #: classifiers: the fraction of the *decisive* items (reference top-1 margin beyond what the tolerance lets an
    #: output move; workbench.stats.parity.top1_agreement) whose argmax agrees; None when none was decisive.
    #: Records older than top1_items: the fraction of all items.
    top1: float | None = None
    tolerance: float | None = None  # rel_l2 threshold applied
    message: str | None = None
    atol: float | None = None  # absolute threshold, when the user gave one (--atol)
    tolerance_source: str | None = None  # "default fp32" (the table in docs/methodology.md) or "user" (--rtol/--atol)
    #: per output: name, shape, max_abs (+ max_abs_index, max_abs_values [reference, engine]), rel_l2, top1,
    #: top1_items, top1_near_ties, top1_omitted, status
    outputs: list[dict[str, Any]] | None = None
    top1_items: int | None = None  # how many items top1 is over (the decisive ones, every classifier output)
    top1_near_ties: int | None = None  # items left out of top1: the reference's top-1 is a near-tie
    top1_omitted: str | None = None  # why top1 is None although the model is a classifier (every item a near-tie)
    #: fp32 default only: the absolute rounding floor (stats.parity.FP32_FLOOR) an output ~0 everywhere may pass on
    floor: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: EngineResult fields left out of its dict when None (absent reads back as None)
#: optional result fields newer than the stored format: left out of the JSON when None, so a record without them
#: is written exactly as it was stored
_OMIT_WHEN_NONE = ("energy", "cost", "generation", "scenario", "loadgen", "qps_search")


@dataclass
class EngineResult:
    engine: str
    model: str
    status: str = "ok"  # "ok" | "failed"
    error: str | None = None
    #: a failed engine's full error text (traceback + the engine's own message, capped), for --verbose and logs
    error_detail: str | None = None
    engine_version: str | None = None
    device: str = "cpu"
    mode: str = "latency"
    batch: int = 1
    threads: int | None = None
    cores: list[int] | None = None
    precision_requested: str = "fp32"
    precision_effective: str | None = None
    streams: int | None = None
    requests: int | None = None
    latency_ms: dict[str, float | None] | None = None  # LATENCY_KEYS (std is None with one sample)
    median_ci_ms: list[float] | None = None  # 95% CI of the median [lo, hi]
    outliers: int | None = None  # MAD-based count
    throughput: float | None = None  # items/s over wall time
    iterations: int = 0
    duration_s: float = 0.0
    load_ms: float | None = None
    first_inference_ms: float | None = None
    peak_rss_mb: float | None = None
    cpu_util_pct: float | None = None
    parity: dict[str, Any] | None = None  # Parity.to_dict()
    speedup: float | None = None  # vs baseline; None when not shown (baseline itself, or parity not passing)
    speedup_note: str | None = None
    #: the speedup's (1 - alpha) interval and whether it is beyond run-to-run variation (workbench.stats.verdict);
    #: None where no speedup is shown or for records made before intervals were kept
    speedup_ci: list[float] | None = None
    speedup_significant: bool | None = None
    speedup_basis: str | None = None  # what the interval rests on ("paired over 5 interleaved rounds", ...)
    warnings: list[dict[str, str]] = field(default_factory=list)
    repeats: list[dict[str, Any]] = field(default_factory=list)  # per-repeat p50/mean/throughput/iterations
    histogram: dict[str, Any] | None = None  # workbench.stats.histogram.LogHistogram.to_dict()
    samples_file: str | None = None
    effective: dict[str, Any] | None = None  # engines.base.Effective.to_dict()
    #: below fp32: the same engine measured at fp32 in the same run (status, error, precision_effective,
    #: latency_ms, throughput, iterations, duration_s, load_ms, first_inference_ms, peak_rss_mb)
    fp32_baseline: dict[str, Any] | None = None
    speedup_vs_fp32: float | None = None  # over fp32_baseline; None when not shown (drift over tolerance, ...)
    speedup_vs_fp32_note: str | None = None
    speedup_vs_fp32_ci: list[float] | None = None
    speedup_vs_fp32_significant: bool | None = None
    drift: dict[str, Any] | None = None  # against fp32_baseline's outputs: workbench.stats.drift.Drift.to_dict()
    quantization: dict[str, Any] | None = None  # int8: how the model was quantized and calibrated
    #: a pruned model (--sparsity): target, achieved (measured zeros among the conv/linear weights), layers
    #: (per layer achieved), weights, zeros, method, and the format, file, file_bytes and gzip_bytes (gzip -9) of
    #: the file this engine loaded (workbench.models.prune.result_entry); None for a dense model
    sparsity: dict[str, Any] | None = None
    #: in a sweep: the cell this result measured (workbench.campaign.cells.CellSpec.to_dict() plus "key"), and
    #: "probe" for the memory-bounded batch search's probes ({"search": "max-memory", "group": ...})
    cell: dict[str, Any] | None = None
    #: a LoadGen scenario run (``--scenario``): singlestream | multistream | server | offline; None otherwise
    scenario: str | None = None
    #: LoadGen's own account of the scenario (workbench.measure.scenario.loadgen_entry): validity (VALID/INVALID),
    #: valid, reasons, early_stopping, latency_ms (its percentiles), qps, target_qps, latency_bound_ms,
    #: percentile, target_latency_ms, queries, settings used; with several rounds the worst round, plus rounds and
    #: valid_rounds. ``latency_ms`` above is the workbench's own per-query timestamps of the same queries.
    loadgen: dict[str, Any] | None = None
    #: ``--find-max-qps``: the search that ended at this result's run (workbench.campaign.maxqps.SearchResult:
    #: latency_bound_ms, percentile, offline_qps, best (the probe at the highest confirmed VALID QPS), probes,
    #: confirmed, confirm_runs, elapsed_s, note)
    qps_search: dict[str, Any] | None = None
    #: energy over the measured rounds (workbench.machine.energy.energy_summary): status "measured" with joules,
    #: watts, j_per_inference, j_per_item, inferences_per_j, items_per_j, domains, by_domain_j, idle_watts,
    #: above_idle_watts, above_idle_share; or status "unavailable" with the reason. None: records before energy
    energy: dict[str, Any] | None = None
    #: what the measured throughput costs at a machine price: price_per_hour, currency, source, usd_per_million
    #: (per million items); None when no price was given
    cost: dict[str, Any] | None = None
    #: ``--mode generate``: ``ttft_ms`` and ``tpot_ms`` (percentile sets), ``tokens_per_s`` (decode, end_to_end),
    #: ``prompt_tokens``, ``new_tokens``, ``generations``, ``tokens``, ``ttft_histogram`` and the engine's own
    #: timing where it has one (workbench.stats.generation.summarise; docs/schema.md); None (absent from the
    #: JSON) in other modes
    generation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        # Fields hold JSON-able values already; a shallow copy is ~50x cheaper than dataclasses.asdict's deep copy.
        d = dict(self.__dict__)
        d["warnings"] = [dict(w) for w in self.warnings]
        d["repeats"] = [dict(r) for r in self.repeats]
        for key in _OMIT_WHEN_NONE:  # newer optional fields: a record without them is stored as before
            if d[key] is None:
                del d[key]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EngineResult":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class RunRecord:
    run_id: str
    created: str
    model: dict[str, Any]  # name, source, task, inputs
    config: dict[str, Any]  # mode, batch, threads, cores, device, precision, warmup, duration_s, ...
    system: dict[str, Any]  # workbench.machine.sysinfo fingerprint + summary
    versions: dict[str, str | None]
    results: list[EngineResult]
    baseline: str | None = None
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    warnings: list[dict[str, str]] = field(default_factory=list)
    #: advisory parts of the run that failed (noise sampling, the machine description, warnings): each
    #: ``{"where", "error", "engine"?, "detail"}``. Empty means everything ran; the numbers stand either way.
    diagnostics: list[dict[str, str]] = field(default_factory=list)
    #: "run" (one workbench run: one result per engine) or "sweep" (one result per cell, see ``sweep``)
    kind: str = "run"
    #: a sweep's spec (workbench.campaign.cells.SweepSpec.to_dict()), state ("running" | "complete" |
    #: "interrupted" | "failed"), cells_total, pid/host of the process running it, elapsed_s, and the memory-bounded
    #: batch searches' outcomes ("memory_search": group key -> {best_batch, limit_mb, probes, reason})
    sweep: dict[str, Any] | None = None
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["results"] = [r.to_dict() for r in self.results]
        d["tags"] = list(self.tags)
        d["warnings"] = [dict(w) for w in self.warnings]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "RunRecord":
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["results"] = [EngineResult.from_dict(r) for r in d.get("results", [])]
        return cls(**kw)

    def result(self, engine: str) -> EngineResult | None:
        for r in self.results:
            if r.engine == engine:
                return r
        return None


def retagged(tags: Iterable[str], add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    """``tags`` with ``add`` appended (in order, no duplicates) and ``remove`` taken out: the one rule for changing a
    stored run's tags (``workbench history tag``, the UI's tag dialog). A tag is one word: ValueError naming it when
    one to add is empty or holds a space or a comma (``--tag`` of ``workbench run`` and ``history list --tag`` match
    whole tags)."""
    for tag in add:
        if not tag or any(c.isspace() or c == "," for c in tag):
            raise ValueError(f"tag {tag!r} is not one word: a tag has no spaces or commas")
    gone = set(remove)
    return [t for t in dict.fromkeys([*tags, *add]) if t not in gone]
