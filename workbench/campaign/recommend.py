"""``workbench recommend``: find a good configuration without measuring every combination.

The space is engines × precisions × threads (× OpenVINO streams × requests in flight × batch for the throughput
objective), built by :func:`build_space`. The search (:class:`Search`) measures cells through an
:class:`Evaluator` — the real one, :class:`CellEvaluator`, runs each cell in its own pinned benchmark process
through :class:`workbench.campaign.sweep.CellRunner`; tests use a fake with a known optimum. Per objective:

1. **Hints.** Every engine × precision starts at the engine's own defaults: threads = every core of the pool,
   OpenVINO streams and requests in flight left to the engine (its THROUGHPUT/LATENCY hint), batch 1 for latency
   and memory, the lower middle of the batch axis (4) for throughput.
2. **Successive halving** over those engine × precision candidates: every candidate runs for a short time
   (``start_s``, 1/6 of the final duration, at least 0.1 s); the better half is kept and the duration doubles,
   until two remain (the second is kept only when it is within :data:`CLOSE` of the first). Candidates that fail
   are recorded and dropped.
3. **Coordinate descent** over threads, then streams and requests, then batch (the axes the objective has), for
   each survivor: along one axis at a time, step to the neighbouring value and keep stepping while the objective
   improves by more than the noise (:data:`NOISE`, 3 %), then the next axis; passes repeat until no axis improves
   (at most :data:`MAX_PASSES`). This assumes each axis is unimodal around the incumbent — what it skips because of
   that is listed.
4. **Confirmation.** The winner runs again at the full duration, and the baseline — torch eager fp32, every core,
   the winner's batch and mode, no options — runs at the same duration in the same command: the speedup is the
   ratio of those two runs, shown as a speedup only when both agree with the parity reference.

A measurement of a cell is reused (not repeated) when the cell already ran at least as long. The time budget
(``time_budget_s``) covers the search: before each evaluation its cost is estimated (duration plus the mean
overhead so far: process start, load, warm-up) and the search stops when it would not fit after reserving the
confirmation and baseline runs, which always run. A latency budget makes the configurations whose p99 exceeds it
ineligible to win the throughput and memory objectives (they are still measured and shown).

Pure search logic: no engine imports, no processes (those live behind the evaluator).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from workbench.campaign.cells import CellSpec
from workbench.campaign.space import (
    HINT_PRECISIONS,
    OBJECTIVES,
    SearchSpace,
    build_space,
    parse_objectives,
    threads_axis,
)
from workbench.errors import UsageError, first_line
from workbench.stats.pareto import pareto_front
from workbench.units import duration

if TYPE_CHECKING:  # pragma: no cover
    from workbench.campaign.cells import SweepSpec
    from workbench.result import EngineResult

#: an axis move counts only when it improves the objective by more than this fraction — the floor; the CLI passes
#: the machine's run-to-run margin per objective (``margins``, workbench.stats.verdict.min_detectable), larger on
#: a noisy machine
NOISE = 0.03
#: the second survivor of the halving is descended only when it is within this fraction of the first
CLOSE = 0.10
#: survivors of the halving
KEEP = 2
#: most passes of the coordinate descent over all axes
MAX_PASSES = 3
#: the baseline every recommendation is compared with
BASELINE_ENGINE = "torch"
#: axes of the coordinate descent per objective, in order
DESCENT_AXES: dict[str, tuple[str, ...]] = {
    "latency": ("precision", "threads"),
    "memory": ("precision", "threads"),
    "throughput": ("precision", "threads", "streams", "requests", "batch"),
    "cost": ("precision", "threads", "streams", "requests", "batch"),
    "energy": ("precision", "threads", "streams", "requests", "batch"),
    "tokens-per-s": ("precision", "threads"),
}
#: direction an axis is walked first from the incumbent (-1: towards smaller values)
FIRST_DIRECTION: dict[str, int] = {"precision": 1, "threads": -1, "streams": 1, "requests": 1, "batch": 1}
#: what the search never varies (said with every recommendation)
OUTSIDE_SPACE = (
    "fp16 (a GPU precision), weight sparsity, torch.compile and other engine options, "
    "int8 quantization schemes (each engine's default is used)"
)

STRATEGY = (
    "hints (each engine at its defaults: its lowest offered precision of int8 > bf16 > fp32, all cores, "
    "streams/requests left to the engine) → successive halving over the engines (short runs, keep the better half, "
    "double the duration) → coordinate descent over precision, threads, streams, requests, batch (keep a step only "
    "when it gains more than the noise) → the winner and torch eager fp32 confirmed at the full duration in the "
    "same command"
)


# ---- measurements and the evaluator -----------------------------------------------------------------------------
@dataclass
class Measurement:
    """One evaluation of one cell. ``elapsed_s``: wall time the evaluation took (process start, load, warm-up and
    the measured ``duration_s``); ``rel_l2``: parity against the fp32 reference; ``stage``/``index`` are set by
    the search (which step asked for it, its place in the order of evaluations)."""

    cell: CellSpec
    duration_s: float
    ok: bool
    error: str | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    throughput: float | None = None
    peak_rss_mb: float | None = None
    rel_l2: float | None = None
    parity_status: str | None = None
    precision_effective: str | None = None
    streams_effective: int | None = None
    requests_effective: int | None = None
    #: joules per item over the measured rounds, where the energy counters were read (None otherwise)
    j_per_item: float | None = None
    #: dollars per million items at the search's price (set by the search when it has one)
    usd_per_million: float | None = None
    #: generate cells: time to first token (p50, p99) and decode tokens/s (``result.generation``)
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    decode_tokens_per_s: float | None = None
    elapsed_s: float = 0.0
    result: "EngineResult | None" = None
    stage: str = ""
    index: int = -1

    @property
    def drift(self) -> float | None:
        """The output drift against the fp32 reference (relative L2), when parity was checked."""
        return self.rel_l2

    @classmethod
    def from_result(cls, cell: CellSpec, result: "EngineResult", duration_s: float, elapsed_s: float) -> "Measurement":
        """A measurement from a benchmark's :class:`~workbench.result.EngineResult`."""
        lat = result.latency_ms or {}
        parity = result.parity or {}
        energy = result.energy or {}
        gen = result.generation or {}
        ttft = gen.get("ttft_ms") or {}

        def num(v: Any) -> float | None:
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

        return cls(
            cell=cell,
            duration_s=duration_s,
            ok=result.ok,
            error=result.error,
            p50_ms=num(lat.get("p50")),
            p99_ms=num(lat.get("p99")),
            throughput=num(result.throughput),
            peak_rss_mb=num(result.peak_rss_mb),
            rel_l2=num(parity.get("rel_l2")),
            parity_status=parity.get("status"),
            precision_effective=result.precision_effective,
            streams_effective=result.streams,
            requests_effective=result.requests,
            j_per_item=num(energy.get("j_per_item")) if energy.get("status") == "measured" else None,
            ttft_p50_ms=num(ttft.get("p50")),
            ttft_p99_ms=num(ttft.get("p99")),
            decode_tokens_per_s=num((gen.get("tokens_per_s") or {}).get("decode")),
            elapsed_s=elapsed_s,
            result=result,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, without the full result."""
        return {
            "index": self.index,
            "stage": self.stage,
            "key": self.cell.key(),
            "label": self.cell.label(),
            "cell": self.cell.to_dict(),
            "duration_s": self.duration_s,
            "elapsed_s": round(self.elapsed_s, 3),
            "status": "ok" if self.ok else "failed",
            "error": self.error,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "throughput": self.throughput,
            "peak_rss_mb": self.peak_rss_mb,
            "rel_l2": self.rel_l2,
            "parity": self.parity_status,
            "precision_effective": self.precision_effective,
            "streams_effective": self.streams_effective,
            "requests_effective": self.requests_effective,
            "j_per_item": self.j_per_item,
            "usd_per_million": self.usd_per_million,
        } | (
            {
                "ttft_p50_ms": self.ttft_p50_ms,
                "ttft_p99_ms": self.ttft_p99_ms,
                "decode_tokens_per_s": self.decode_tokens_per_s,
            }
            if self.cell.mode == "generate"
            else {}
        )


class Evaluator(Protocol):
    """Measures one cell for about ``duration_s`` seconds. Never raises for a cell that fails: returns a
    Measurement with ``ok=False`` and the one-line ``error`` (the search also catches what an evaluator raises)."""

    def evaluate(self, cell: CellSpec, duration_s: float) -> Measurement: ...


class CellEvaluator:
    """The real evaluator: each cell in its own pinned benchmark process through the sweep's
    :class:`~workbench.campaign.sweep.CellRunner` (which caches the prepared models and the parity reference).
    ``on_event``: the cell runs' events. Warm-up is the spec's, capped at the cell's duration (short halving runs
    would otherwise be mostly warm-up)."""

    def __init__(self, spec: "SweepSpec", on_event: Callable[[Any], None] | None = None) -> None:
        from workbench.campaign.sweep import CellRunner

        self.spec = spec
        self.runner = CellRunner(spec, on_event=on_event)
        self.first_record: Any = None  # the one-engine run record of the first cell that ran (model, config)

    def evaluate(self, cell: CellSpec, duration_s: float) -> Measurement:
        t0 = time.perf_counter()
        warmup = min(self.spec.warmup_s, duration_s)
        try:
            result = self.runner.run(cell, duration_s=duration_s, warmup_s=warmup)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one failing cell never ends the search
            return Measurement(cell, duration_s, ok=False, error=first_line(exc), elapsed_s=time.perf_counter() - t0)
        if self.first_record is None and result.ok and self.runner.last_record is not None:
            self.first_record = self.runner.last_record
        return Measurement.from_result(cell, result, duration_s, time.perf_counter() - t0)

    def stop(self) -> None:
        self.runner.stop()


# ---- the outcome -------------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    """One objective's answer. ``best``: the winner's confirmation run (or its best search measurement when the
    confirmation could not run); ``baseline``: torch eager fp32 measured in the same command; ``speedup``: p50
    ratio (latency, memory) or throughput ratio (throughput), None when not shown (``speedup_note`` says why);
    ``memory_ratio``: the baseline's peak RSS over the winner's."""

    objective: str
    space: SearchSpace
    best: Measurement | None = None
    baseline: Measurement | None = None
    speedup: float | None = None
    speedup_note: str | None = None
    memory_ratio: float | None = None
    meets_budget: bool | None = None
    meets_ttft_budget: bool | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    moves: list[dict[str, Any]] = field(default_factory=list)
    survivors: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # "engine precision" -> why (halving, failure)
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "best": None if self.best is None else self.best.to_dict(),
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "speedup": self.speedup,
            "speedup_note": self.speedup_note,
            "memory_ratio": self.memory_ratio,
            "meets_latency_budget": self.meets_budget,
            "meets_ttft_budget": self.meets_ttft_budget,
            "halving": self.rounds,
            "survivors": self.survivors,
            "descent": self.moves,
            "dropped": self.dropped,
            "stopped": self.stopped,
            "notes": self.notes,
            "space": self.space.to_dict(),
        }


@dataclass
class Recommendation:
    """What :meth:`Search.run` found: one :class:`Outcome` per objective, every evaluation in order (``tried``),
    the cells of the spaces never measured (``skipped``: key, label, reason), the Pareto front of the ok
    measurements (latency p50 vs throughput), and the time used against the budget."""

    outcomes: list[Outcome]
    tried: list[Measurement]
    skipped: list[dict[str, Any]]
    space_size: int
    pareto: list[Measurement]
    time_used_s: float
    time_budget_s: float | None
    latency_budget_ms: float | None
    duration_s: float
    start_s: float
    noise: float
    #: generate measurements: time to first token vs decode tokens/s (:meth:`Search.generation_pareto`)
    generation_pareto: list[Measurement] = field(default_factory=list)
    ttft_budget_ms: float | None = None

    def outcome(self, objective: str) -> Outcome | None:
        return next((o for o in self.outcomes if o.objective == objective), None)

    def to_dict(self) -> dict[str, Any]:
        tried_keys = {m.cell.key() for m in self.tried}
        return {
            "objectives": [o.objective for o in self.outcomes],
            "strategy": STRATEGY,
            "outside_space": OUTSIDE_SPACE,
            "duration_s": self.duration_s,
            "start_s": self.start_s,
            "noise": self.noise,
            "time_budget_s": self.time_budget_s,
            "latency_budget_ms": self.latency_budget_ms,
            "ttft_budget_ms": self.ttft_budget_ms,
            "time_used_s": round(self.time_used_s, 3),
            "evaluations": len(self.tried),
            "space_size": self.space_size,
            "configurations_tried": len(tried_keys),
            "best": {o.objective: o.to_dict() for o in self.outcomes},
            "pareto": [m.to_dict() for m in self.pareto],
            "generation_pareto": [m.to_dict() for m in self.generation_pareto],
            "tried": [m.to_dict() for m in self.tried],
            "skipped": self.skipped,
        }


class _OutOfTime(Exception):
    """The next evaluation would not fit in the time budget."""


# ---- the search --------------------------------------------------------------------------------------------------
class Search:
    """The search of the module docstring over ``evaluator``.

    ``duration_s``: the confirmation and baseline runs' duration; ``start_s``: the first halving round's (default
    duration / 6, at least 0.1 s); ``time_budget_s``: seconds of evaluations the whole command may use (None:
    unbounded); ``latency_budget_ms``: p99 a throughput or memory winner must stay within; ``max_drift``: largest
    parity relative L2 a winner may have; ``on_progress``: called after every evaluation and stage change with a
    :class:`Progress`; ``baseline``: False skips the torch eager fp32 run (no speedup)."""

    def __init__(
        self,
        evaluator: Evaluator,
        *,
        duration_s: float = 3.0,
        start_s: float | None = None,
        time_budget_s: float | None = None,
        latency_budget_ms: float | None = None,
        price_per_hour: float | None = None,
        max_drift: float | None = None,
        ttft_budget_ms: float | None = None,
        noise: float = NOISE,
        keep: int = KEEP,
        baseline: bool = True,
        on_progress: Callable[["Progress"], None] | None = None,
        margins: Mapping[str, float] | None = None,
    ) -> None:
        if duration_s <= 0:
            raise UsageError(f"--duration must be > 0 seconds, not {duration_s:g}")
        if time_budget_s is not None and time_budget_s <= 0:
            raise UsageError(f"--time-budget must be > 0 minutes, not {time_budget_s / 60:g}")
        if latency_budget_ms is not None and latency_budget_ms <= 0:
            raise UsageError(f"--latency-budget must be > 0 ms, not {latency_budget_ms:g}")
        if max_drift is not None and max_drift < 0:
            raise UsageError(f"--max-drift must be >= 0, not {max_drift:g}")
        if ttft_budget_ms is not None and not ttft_budget_ms > 0:
            raise UsageError(f"--ttft-budget must be > 0 (e.g. 200ms), not {ttft_budget_ms:g} ms")
        self.ttft_budget_ms = ttft_budget_ms
        self.evaluator = evaluator
        self.duration_s = float(duration_s)
        # 1/6 of the duration rounded to 10 ms (0.5 s at the default 3 s), at least 0.1 s, at most the duration
        default_start = min(self.duration_s, max(0.1, round(self.duration_s / 6, 2)))
        self.start_s = float(start_s) if start_s else default_start
        self.time_budget_s = time_budget_s
        self.latency_budget_ms = latency_budget_ms
        if price_per_hour is not None and not price_per_hour > 0:
            raise UsageError(f"--price-per-hour must be a positive number of dollars per hour, not {price_per_hour:g}")
        #: this machine's price (cost objective): each measurement's $/M = price / 3600 / items per second × 10⁶
        self.price_per_hour = price_per_hour
        self.max_drift = max_drift
        self.noise = noise
        #: per objective, the difference two single measurements must show to be real on this machine
        #: (workbench.stats.verdict.min_detectable of its run-to-run spread); ``noise`` where none is given
        self.margins = dict(margins or {})
        self.keep = max(1, keep)
        self.with_baseline = baseline
        self.on_progress = on_progress
        self.tried: list[Measurement] = []
        self._cache: dict[str, Measurement] = {}
        self._objective = ""
        self._stage = ""
        self._finals_left = 0
        self._planned: list[float] = []  # durations of the evaluations the current stage still plans

    # ---- bookkeeping ---------------------------------------------------------------------------------------------
    @property
    def used_s(self) -> float:
        return sum(m.elapsed_s for m in self.tried)

    def _overhead(self) -> float:
        """Median seconds an evaluation took beyond its measured duration (process start, load, warm-up; the
        median, so the first evaluations of a precision, which also prepare its model, do not inflate it); 1 s
        before the first evaluation."""
        if not self.tried:
            return 1.0
        extra = sorted(max(0.0, m.elapsed_s - m.duration_s) for m in self.tried)
        mid = len(extra) // 2
        return extra[mid] if len(extra) % 2 else (extra[mid - 1] + extra[mid]) / 2

    def _cost(self, duration_s: float) -> float:
        return duration_s + self._overhead()

    def _reserve(self) -> float:
        return self._finals_left * self._cost(self.duration_s)

    def _progress(self, label: str = "") -> None:
        if self.on_progress is None:
            return
        remaining = sum(self._cost(d) for d in self._planned) + self._reserve()
        if self.time_budget_s is not None:
            remaining = min(remaining, max(0.0, self.time_budget_s - self.used_s))
        self.on_progress(
            Progress(
                objective=self._objective,
                stage=self._stage,
                evaluations=len(self.tried),
                used_s=self.used_s,
                budget_s=self.time_budget_s,
                eta_s=remaining,
                label=label,
            )
        )

    def _eval(self, cell: CellSpec, duration_s: float, *, final: bool = False) -> Measurement:
        """Measure ``cell`` (or reuse a measurement at least as long). Raises _OutOfTime when a search evaluation
        would not fit in the budget (finals always run)."""
        cached = self._cache.get(cell.key())
        if cached is not None and (cached.duration_s >= duration_s - 1e-9 or not cached.ok):
            return cached
        if not final and self.time_budget_s is not None:
            if self.used_s + self._cost(duration_s) + self._reserve() > self.time_budget_s + 1e-9:
                raise _OutOfTime
        self._progress(cell.label())
        t0 = time.perf_counter()
        try:
            m = self.evaluator.evaluate(cell, duration_s)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # an evaluator that raises: the cell failed, the search goes on
            m = Measurement(cell, duration_s, ok=False, error=first_line(exc), elapsed_s=time.perf_counter() - t0)
        if self.price_per_hour is not None and m.ok and m.throughput and m.throughput > 0:
            m.usd_per_million = self.price_per_hour / 3600.0 / m.throughput * 1e6
        m.stage = f"{self._objective}: {self._stage}"
        m.index = len(self.tried)
        self.tried.append(m)
        self._cache[cell.key()] = m
        if self._planned:
            self._planned.pop(0)
        self._progress(cell.label())
        return m

    # ---- scoring -------------------------------------------------------------------------------------------------
    def value(self, m: Measurement, objective: str) -> float | None:
        """The figure ``objective`` optimises, as lower-is-better: p50 ms, −items/s, peak RSS MB, $ per million
        items, joules per item, −decode tokens/s."""
        if not m.ok:
            return None
        v = {
            "latency": m.p50_ms,
            "throughput": m.throughput,
            "memory": m.peak_rss_mb,
            "cost": m.usd_per_million,
            "energy": m.j_per_item,
            "tokens-per-s": m.decode_tokens_per_s,
        }[objective]
        if v is None:
            return None
        return -v if objective in ("throughput", "tokens-per-s") else v

    def why_ineligible(self, m: Measurement, objective: str) -> str | None:
        """Why ``m`` cannot win ``objective`` (None: it can)."""
        if not m.ok:
            return f"failed: {m.error}"
        if self.value(m, objective) is None:
            return f"no {objective} figure"
        if m.parity_status == "fail":
            return "parity failed (not the same function as the reference)"
        if self.max_drift is not None and m.rel_l2 is not None and m.rel_l2 > self.max_drift:
            return f"drift {m.rel_l2:.3g} over --max-drift {self.max_drift:g}"
        if self.latency_budget_ms is not None and objective != "latency":
            p99 = m.p99_ms if m.p99_ms is not None else m.p50_ms
            if p99 is None or p99 > self.latency_budget_ms:
                return f"p99 {p99 if p99 is not None else '?'} ms over the latency budget {self.latency_budget_ms:g} ms"
        if self.ttft_budget_ms is not None and m.cell.mode == "generate" and not self._meets_ttft(m):
            return (
                f"time to first token p99 {m.ttft_p99_ms or '?'} ms over the --ttft-budget {self.ttft_budget_ms:g} ms"
            )
        return None

    def _meets_ttft(self, m: Measurement) -> bool:
        """Whether ``m``'s time to first token stays within the TTFT budget at p99 (p50 when no p99 was taken)."""
        ttft = m.ttft_p99_ms if m.ttft_p99_ms is not None else m.ttft_p50_ms
        return self.ttft_budget_ms is None or (ttft is not None and ttft <= self.ttft_budget_ms)

    def _rank(self, m: Measurement, objective: str) -> tuple[int, float, float]:
        v = self.value(m, objective)
        tie = m.p50_ms if m.p50_ms is not None else math.inf  # memory ties: the faster one
        return (0 if self.why_ineligible(m, objective) is None else 1, v if v is not None else math.inf, tie)

    def gain(self, a: Measurement, b: Measurement, objective: str) -> float:
        """Relative improvement of ``a`` over ``b`` (> 0: ``a`` is better), eligibility first."""
        ea, eb = self.why_ineligible(a, objective) is None, self.why_ineligible(b, objective) is None
        va, vb = self.value(a, objective), self.value(b, objective)
        if va is None:
            return -math.inf
        if vb is None or (ea and not eb):
            return math.inf
        if eb and not ea:
            return -math.inf
        return (vb - va) / abs(vb) if vb else 0.0

    def margin(self, objective: str) -> float:
        """How much better a measurement must be to count as better: the run-to-run margin, never below ``noise``."""
        return max(self.noise, self.margins.get(objective, 0.0))

    def better(self, a: Measurement, b: Measurement, objective: str) -> bool:
        return self.gain(a, b, objective) > self.margin(objective)

    def tied(self, a: Measurement, b: Measurement, objective: str) -> bool:
        """``b`` is not behind ``a`` beyond the margin (both eligible or both not): dropping it would be a
        verdict on noise."""
        return not self.better(a, b, objective)

    def _with_ties(self, kept: list[Measurement], rest: list[Measurement], objective: str) -> list[Measurement]:
        """``kept`` plus every one of ``rest`` tied with the last of ``kept``."""
        if not kept:
            return kept
        return kept + [m for m in rest if self.tied(kept[-1], m, objective)]

    # ---- the steps -----------------------------------------------------------------------------------------------
    def run(self, spaces: Sequence[SearchSpace]) -> Recommendation:
        """Search every space (one per objective, in order) and confirm each winner. Never raises for failing
        cells; KeyboardInterrupt propagates (the evaluations so far stay in :attr:`tried`)."""
        if self.price_per_hour is None and any(s.objective == "cost" for s in spaces):
            raise UsageError(
                "--objective cost needs this machine's price: --price-per-hour USD, or an entry in the prices file "
                "(prices.json in the config folder; docs/methodology.md)"
            )
        outcomes = [Outcome(s.objective, s) for s in spaces]
        self._finals_left = 2 * len(spaces) if self.with_baseline else len(spaces)
        out_of_time = False
        for o in outcomes:
            self._objective = o.objective
            if out_of_time:
                o.stopped = "not searched: the time budget was used by the objectives before it"
            else:
                try:
                    self._search(o)
                except _OutOfTime:
                    out_of_time = True
                    o.stopped = (
                        f"stopped during {self._stage}: the time budget ({duration(self.time_budget_s * 1000)}) "
                        f"was used after {len(self.tried)} evaluations"
                        if self.time_budget_s is not None
                        else "stopped"
                    )
            self._finish(o)
        skipped = self._skipped(outcomes)
        seen: dict[str, CellSpec] = {}
        for s in spaces:
            for c in s.cells():
                seen.setdefault(c.key(), c)
        return Recommendation(
            outcomes=outcomes,
            tried=list(self.tried),
            skipped=skipped,
            space_size=len(seen),
            pareto=self.pareto(),
            generation_pareto=self.generation_pareto(),
            ttft_budget_ms=self.ttft_budget_ms,
            time_used_s=self.used_s,
            time_budget_s=self.time_budget_s,
            latency_budget_ms=self.latency_budget_ms,
            duration_s=self.duration_s,
            start_s=self.start_s,
            noise=self.noise,
        )

    def _search(self, o: Outcome) -> None:
        space, objective = o.space, o.objective
        # each engine at its hint precision; the engine's other precisions are the descent's first axis
        pairs = [(e, next(p for p in HINT_PRECISIONS if p in space.precisions_of(e))) for e in space.engines]
        cands = [space.hint(e, p) for e, p in pairs]
        d = self.start_s
        n = 0
        survivors: list[Measurement] = []
        while cands:
            n += 1
            self._stage = f"halving round {n} ({len(cands)} at {d:g} s)"
            self._planned = [d] * len(cands) + self._descent_plan(space, d)
            ms = [self._eval(c, d) for c in cands]
            if n == 1:  # an engine whose hint precision cannot run starts from its next precision instead
                ms = [self._fallback(m, space, objective, d, o) for m in ms]
            for m in ms:
                if not m.ok:
                    o.dropped[_ep(m.cell)] = f"failed: {m.error}"
                elif self.value(m, objective) is None:
                    o.dropped[_ep(m.cell)] = f"no {objective} figure was measured"
            usable = [m for m in ms if self.value(m, objective) is not None]
            ranked = sorted(usable, key=lambda m: self._rank(m, objective))
            n_keep = max(self.keep, math.ceil(len(ranked) / 2))
            # a candidate within the run-to-run margin of the last one kept stays: cutting it would be a coin toss
            kept = self._with_ties(ranked[:n_keep], ranked[n_keep:], objective)
            cut = [m for m in ranked if m not in kept]
            o.rounds.append(
                {
                    "round": n,
                    "duration_s": d,
                    "candidates": [m.cell.label() for m in ms],
                    "kept": [m.cell.label() for m in kept],
                    "tied": [m.cell.label() for m in kept[n_keep:]],
                    "failed": [m.cell.label() for m in ms if self.value(m, objective) is None],
                }
            )
            for m in cut:  # the engine leaves the search: none of its precisions is descended
                for p in space.precisions_of(m.cell.engine):
                    o.dropped.setdefault(
                        _ep(replace(m.cell, precision=p)),
                        f"halving round {n}: {m.cell.engine} at {m.cell.precision} not in the better half at {d:g} s",
                    )
            if len(ranked) <= self.keep or n_keep <= self.keep or not cut:
                # the survivors: the best ``keep``, and any tied with the last of them
                survivors = self._with_ties(kept[: self.keep], kept[self.keep :], objective)
                break
            cands = [m.cell for m in kept]
            d = min(round(d * 2, 3), self.duration_s)
        if not survivors:
            why = "; ".join(f"{ep}: {reason}" for ep, reason in list(o.dropped.items())[:3])
            o.notes.append(f"every candidate failed ({why})" if why else "no candidate could be measured")
            return
        far = max(CLOSE, self.margin(objective))
        behind = [m for m in survivors[1:] if self.gain(survivors[0], m, objective) > far]
        for m in behind:
            for p in space.precisions_of(m.cell.engine):
                o.dropped.setdefault(
                    _ep(replace(m.cell, precision=p)),
                    f"halving: {m.cell.label()} more than {far:.0%} behind {survivors[0].cell.label()}, not descended",
                )
        survivors = [m for m in survivors if m not in behind]
        o.survivors = [m.cell.label() for m in survivors]
        descended = []
        for i, s in enumerate(survivors):
            self._stage = f"coordinate descent {i + 1}/{len(survivors)} ({_ep(s.cell)})"
            self._planned = self._descent_plan(space, d) * (len(survivors) - i)
            descended.append(self._descend(s, space, objective, d, o))
        self._planned = []
        o.best = min(descended, key=lambda m: self._rank(m, objective))
        for m in descended:
            if m is not o.best and self.tied(o.best, m, objective) and m.cell.key() != o.best.cell.key():
                o.notes.append(
                    f"{m.cell.label()} is within run-to-run variation of the winner "
                    f"({self.gain(o.best, m, objective):.1%} behind, margin {self.margin(objective):.0%}): "
                    "either is as good here"
                )

    def _descent_plan(self, space: SearchSpace, d: float) -> list[float]:
        """Rough evaluations a descent costs (2 per axis with more than one value): for the ETA only."""
        axes = [
            a
            for a in DESCENT_AXES[space.objective]
            if (max(len(p) for _, p in space.precisions) if a == "precision" else len(getattr(space, _AXIS_FIELD[a])))
            > 1
        ]
        return [d] * (2 * len(axes))

    def _descend(self, start: Measurement, space: SearchSpace, objective: str, d: float, o: Outcome) -> Measurement:
        inc = start
        for _ in range(MAX_PASSES):
            improved = False
            for axis in DESCENT_AXES[objective]:
                new = self._line(inc, axis, space, objective, d)
                if new is not inc:
                    o.moves.append(
                        {
                            "axis": axis,
                            "from": inc.cell.label(),
                            "to": new.cell.label(),
                            "value": getattr(new.cell, _AXIS_ATTR[axis]),
                            "gain": round(self.gain(new, inc, objective), 4),
                        }
                    )
                    inc = new
                    improved = True
            if not improved:
                break
        return inc

    def _line(self, inc: Measurement, axis: str, space: SearchSpace, objective: str, d: float) -> Measurement:
        """Walk ``axis`` from the incumbent: move to a neighbouring value when it gains more than the margin, walk
        on past a value inside the margin (a plateau of noise), stop at one worse beyond it; the first direction by
        :data:`FIRST_DIRECTION`, the other only when the first gained nothing. From an
        engine-chosen value (None), the walk starts at the value the engine reported choosing."""
        attr = _AXIS_ATTR[axis]
        values = space.axis(axis, inc.cell)
        ordered = [v for v in values if v is not None]
        if len(values) <= 1 or not ordered:
            return inc
        cur = getattr(inc.cell, attr)
        best = inc

        def at(v: Any) -> CellSpec | None:
            c = replace(inc.cell, **{attr: v})
            return c if space.contains(c) else None

        if cur is None:
            eff = {"streams": inc.streams_effective, "requests": inc.requests_effective}.get(axis)
            i = (
                min(range(len(ordered)), key=lambda k: abs(ordered[k] - eff))
                if isinstance(eff, int)
                else (len(ordered) - 1) // 2
            )
            c0 = at(ordered[i])
            if c0 is None:
                return inc
            m0 = self._eval(c0, d)
            if self.better(m0, best, objective):
                best = m0
        else:
            i = ordered.index(cur)
        first = FIRST_DIRECTION.get(axis, 1)
        for direction in (first, -first):
            j, moved = i + direction, False
            while 0 <= j < len(ordered):
                c = at(ordered[j])
                if c is None:
                    break
                m = self._eval(c, d)
                if self.better(m, best, objective):
                    best, moved = m, True
                    j += direction
                elif not self.better(best, m, objective):  # inside the margin: walk on, the next may be beyond
                    j += direction
                else:
                    break
            if moved:
                break
        return best

    def _fallback(self, m: Measurement, space: SearchSpace, objective: str, d: float, o: Outcome) -> Measurement:
        """``m`` if it measured; else the engine's next precision in hint order that does (each failure noted)."""
        order = [p for p in HINT_PRECISIONS if p in space.precisions_of(m.cell.engine)]
        rest = order[order.index(m.cell.precision) + 1 :] if m.cell.precision in order else []
        for p in rest:
            if self.value(m, objective) is not None:
                break
            o.dropped[_ep(m.cell)] = f"failed: {m.error}" if not m.ok else f"no {objective} figure was measured"
            m = self._eval(replace(m.cell, precision=p), d)
        return m

    def _finish(self, o: Outcome) -> None:
        """Pick the winner (the search's, else the best eligible measurement of the space), confirm it at the full
        duration and measure the baseline beside it."""
        objective = o.objective
        self._stage = "confirmation"
        self._planned = []
        if o.best is None:
            pool = [m for m in self.tried if o.space.contains(m.cell) and self.value(m, objective) is not None]
            if pool:
                o.best = min(pool, key=lambda m: self._rank(m, objective))
        finals = 2 if self.with_baseline else 1
        if o.best is None:
            self._finals_left -= finals
            return
        why = self.why_ineligible(o.best, objective)
        if why is not None:
            o.notes.append(f"no configuration measured could win: the best one is shown, but {why}")
        searched = o.best
        confirmed = self._eval(o.best.cell, self.duration_s, final=True)
        self._finals_left -= 1
        if confirmed.ok:
            o.best = confirmed
        else:
            o.notes.append(f"the confirmation run failed ({confirmed.error}); the search's measurement is shown")
            o.best = searched
        if self.latency_budget_ms is not None:
            p99 = o.best.p99_ms if o.best.p99_ms is not None else o.best.p50_ms
            o.meets_budget = p99 is not None and p99 <= self.latency_budget_ms
        if self.ttft_budget_ms is not None and o.space.mode == "generate":
            o.meets_ttft_budget = self._meets_ttft(o.best)
        if not self.with_baseline:
            return
        self._stage = "baseline (torch eager fp32)"
        cell = CellSpec(
            engine=BASELINE_ENGINE,
            precision="fp32",
            threads=max(o.space.threads),
            batch=o.best.cell.batch,
            mode=o.space.mode,
            prompt_tokens=o.space.prompt_tokens,
            new_tokens=o.space.new_tokens,
        )
        o.baseline = self._eval(cell, self.duration_s, final=True)
        self._finals_left -= 1
        o.speedup, o.speedup_note = speedup_over_baseline(o.best, o.baseline, o.space.mode)
        if o.best.peak_rss_mb and o.baseline.ok and o.baseline.peak_rss_mb:
            o.memory_ratio = o.baseline.peak_rss_mb / o.best.peak_rss_mb

    def _skipped(self, outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
        """The cells of every space never measured, each with the reason the search did not need it."""
        tried = {m.cell.key() for m in self.tried}
        out: dict[str, dict[str, Any]] = {}
        for o in outcomes:
            for c in o.space.cells():
                k = c.key()
                if k in tried or k in out:
                    continue
                if o.stopped and o.best is None:
                    why = "time budget used before the search reached it"
                elif _ep(c) in o.dropped:
                    why = f"{_ep(c)} dropped ({o.dropped[_ep(c)]})"
                elif o.stopped:
                    why = "time budget used before the descent reached it"
                else:
                    why = "not visited by the coordinate descent (the neighbouring values were no better)"
                out[k] = {"key": k, "label": c.label(), "objective": o.objective, "reason": why}
        return list(out.values())

    def pareto(self) -> list[Measurement]:
        """The latency-vs-throughput front of the ok measurements (per cell its longest run)."""
        longest = self._longest(lambda m: m.cell.mode != "generate" and m.p50_ms is not None and bool(m.throughput))
        pts = [(m.p50_ms, m.throughput, m) for m in longest if m.p50_ms is not None and m.throughput]
        return [p[2] for p in pareto_front(pts)]

    def generation_pareto(self) -> list[Measurement]:
        """The generate measurements' front: time to first token (p50, lower is better) against decode tokens/s
        (higher is better), per cell its longest run."""
        longest = self._longest(lambda m: m.ttft_p50_ms is not None and bool(m.decode_tokens_per_s))
        pts = [
            (m.ttft_p50_ms, m.decode_tokens_per_s, m)
            for m in longest
            if m.ttft_p50_ms is not None and m.decode_tokens_per_s is not None
        ]
        return [p[2] for p in pareto_front(pts)]

    def _longest(self, usable: Callable[[Measurement], bool]) -> list[Measurement]:
        """Per cell, its longest ok measurement that ``usable`` accepts."""
        longest: dict[str, Measurement] = {}
        for m in self.tried:
            if not m.ok or not usable(m):
                continue
            k = m.cell.key()
            if k not in longest or m.duration_s >= longest[k].duration_s:
                longest[k] = m
        return list(longest.values())


_AXIS_ATTR = {
    "precision": "precision",
    "threads": "threads",
    "streams": "streams",
    "requests": "requests",
    "batch": "batch",
}
_AXIS_FIELD = {"threads": "threads", "streams": "streams", "requests": "requests", "batch": "batches"}


def _ep(cell: CellSpec) -> str:
    return f"{cell.engine} {cell.precision}"


def speedup_over_baseline(best: Measurement, base: Measurement | None, mode: str) -> tuple[float | None, str | None]:
    """``(speedup, note)`` of ``best`` over the torch eager fp32 ``base``: p50 ratio in latency mode, throughput
    ratio in throughput mode. Shown only when both agree with the parity reference (the rule of
    :mod:`workbench.stats.speedup`); otherwise None and the note keeps the ratio."""
    from workbench.stats.parity import AGREES

    if base is None:
        return None, "baseline not measured"
    if not base.ok:
        return None, f"baseline torch eager fp32 failed: {base.error}"
    if mode == "throughput":
        value = best.throughput / base.throughput if best.throughput and base.throughput else None
    elif mode == "generate":  # decode tokens/s; tokens must agree with torch fp32's (parity) to be a speedup
        value = (
            best.decode_tokens_per_s / base.decode_tokens_per_s
            if best.decode_tokens_per_s and base.decode_tokens_per_s
            else None
        )
    else:
        value = base.p50_ms / best.p50_ms if best.p50_ms and base.p50_ms else None
    if value is None:
        return None, "no figure to compare"
    if best.parity_status in AGREES and base.parity_status in AGREES:
        return value, None
    return None, f"{value:.2f}× ratio, not a speedup: parity {best.parity_status or 'not checked'}"


@dataclass(frozen=True)
class Progress:
    """Where a search stands: evaluations done, seconds used of the budget, the estimated seconds left."""

    objective: str
    stage: str
    evaluations: int
    used_s: float
    budget_s: float | None
    eta_s: float
    label: str = ""


__all__ = [
    "CellEvaluator",
    "Evaluator",
    "Measurement",
    "OBJECTIVES",
    "Outcome",
    "Progress",
    "Recommendation",
    "Search",
    "SearchSpace",
    "build_space",
    "parse_objectives",
    "speedup_over_baseline",
    "threads_axis",
]
