"""The highest Server QPS an engine serves within a latency bound (``workbench run --find-max-qps``).

Per engine, every step an ordinary LoadGen scenario run (:class:`~workbench.measure.runner.Runner`, its own pinned
process), judged only by LoadGen's verdict:

1. **Offline** — the engine's saturated rate: no Server rate above it can be sustained, so it bounds the search
   (run for the configured ``duration``: only its rate is used, no percentile).
2. **First probe** — not the middle of ``(0, Offline]`` but the rate at which a single-server queue with Poisson
   arrivals and the engine's service time (the longer of 1 / Offline rate and the fastest single call LoadGen's
   warm-up measured) would just meet the bound at the percentile (:func:`queue_estimate`, a seeded simulation). It
   is a guess where to look, never an answer: the real engine is slower than the model (its service time varies,
   the issuing thread competes for the cores), so the first probe is usually INVALID and cheap (a high rate reaches
   the queries early stopping needs soonest).
3. **Bisect** the Server target QPS: a VALID probe raises the lower end, an INVALID one (whatever the reason,
   early stopping included: a re-run at that rate with the same settings is judged the same way) lowers the upper
   end, until the interval is narrower than ``resolution`` x the Offline rate — the answer is then within that
   distance below the lowest rate seen INVALID. Each probe runs at least ``max(duration, PROBE_BOUNDS x bound)``
   seconds and the queries early stopping needs at the percentile
   (:data:`workbench.measure.scenario.DEFAULT_MIN_QUERIES`), so the bound is seen many times over.
4. **Confirm** the highest VALID rate: it stands when ``confirm`` runs at that rate were VALID, the bisection's
   VALID probe there counting as the first, and none INVALID. The runs stop at the first INVALID one (the rate
   cannot stand any more) and the search steps down by one resolution step — to a rate already probed VALID in
   that step if there is one, whose VALID run counts — at most :data:`MAX_STEP_DOWNS` times.

LoadGen's own ``FindPeakPerformance`` mode is not used: it ignores early stopping and over-reported the peak here
(63.75 QPS, more than the engine sustained). The search decides which runs to make and what they add up to; it
measures nothing itself. ``probe`` is injectable so the search is testable with a fake engine.

``on_probe`` gets, after every run, the probe's entry (:func:`_probe_entry`'s keys: ``kind`` offline / probe /
confirm, ``target_qps``, ``valid``, ``validity``, ``qps``, ``latency_ms``, ``p50_ms``, ``reasons``, ``queries``,
``duration_s``, ``issue_p99_ms``) with ``engine``, ``elapsed_s`` (since the search began) and ``eta_s`` (the runs it still expects to
make, each as long as LoadGen will need at its rate; None while unknown) added.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from workbench.measure.runner import RunConfig, Runner
from workbench.measure.scenario import DEFAULT_MIN_QUERIES, early_stopping_allowance
from workbench.result import EngineResult, RunRecord

__all__ = [
    "DEFAULT_CONFIRM",
    "DEFAULT_RESOLUTION",
    "MAX_STEP_DOWNS",
    "PROBE_BOUNDS",
    "MaxQpsSearch",
    "SearchResult",
    "find_max_qps",
    "queue_estimate",
]

#: a probe lasts at least this many latency bounds (a p99 over 100 bound-lengths sees the bound 100 times)
PROBE_BOUNDS = 100
MAX_STEP_DOWNS = 2
#: the bisection stops when the highest VALID and the lowest INVALID rate are closer than this fraction of the
#: Offline rate (each step below costs at least min-queries / rate seconds: 54 s at 8.6 QPS)
DEFAULT_RESOLUTION = 0.1
#: VALID runs at the answer's rate it needs, none INVALID (the bisection's VALID probe there is the first)
DEFAULT_CONFIRM = 3

#: runs one config, returns its record (the default: a Runner run in its own pinned process)
Probe = Callable[[RunConfig], RunRecord]


@dataclass
class SearchResult:
    """One engine's search: the highest confirmed VALID target QPS (``best``: its probe), every probe in order.
    ``confirm_runs`` / ``confirmed``: the runs made at ``best``'s rate (the bisection's included) and how many of
    them were VALID; ``first_estimate``: the queue model's first probe rate."""

    engine: str
    latency_bound_ms: float
    percentile: float
    offline_qps: float | None = None
    best: dict[str, Any] | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    confirmed: int = 0
    confirm_runs: int = 0
    elapsed_s: float = 0.0
    note: str | None = None
    resolution: float = DEFAULT_RESOLUTION
    first_estimate: float | None = None
    min_queries: int | None = None  # the queries every Server probe ran at least
    result: EngineResult | None = None  # the result of the last run at ``best`` (the record's row)

    @property
    def allowed_over(self) -> int | None:
        """How many of a probe's ``min_queries`` early stopping lets be over the bound (0 at p99 with 460: one slow
        query makes a run INVALID, so a re-run at the answer can flip)."""
        if not self.min_queries:
            return None
        return early_stopping_allowance(self.min_queries, self.percentile)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "latency_bound_ms": self.latency_bound_ms,
            "percentile": self.percentile,
            "offline_qps": self.offline_qps,
            "best": self.best,
            "probes": list(self.probes),
            "confirmed": self.confirmed,
            "confirm_runs": self.confirm_runs,
            "elapsed_s": self.elapsed_s,
            "note": self.note,
            "resolution": self.resolution,
            "first_estimate": self.first_estimate,
            "min_queries": self.min_queries,
            "allowed_over": self.allowed_over,
        }


def _probe_entry(kind: str, target: float | None, res: EngineResult) -> dict[str, Any]:
    lg = res.loadgen or {}
    return {
        "kind": kind,  # offline | probe | confirm
        "target_qps": target,
        "valid": bool(lg.get("valid")) and res.ok,
        "validity": lg.get("validity") if res.ok else "FAILED",
        "qps": lg.get("qps"),
        "latency_ms": lg.get("target_latency_ms"),
        "p50_ms": (lg.get("latency_ms") or {}).get("p50"),
        "reasons": list(lg.get("reasons") or ([] if res.ok else [res.error or "failed"])),
        "queries": lg.get("queries"),
        "duration_s": res.duration_s,
        # Server: LoadGen's issue to the engine starting the query, p99 (inside ``latency_ms``, shown apart)
        "issue_p99_ms": (lg.get("issue_delay_ms") or {}).get("p99"),
    }


def queue_estimate(service_s: float, bound_s: float, percentile: float, *, arrivals: int = 20000) -> float:
    """The Poisson arrival rate at which one server with a constant ``service_s`` per query (M/D/1) has its
    ``percentile`` latency (wait + service) at ``bound_s``: a seeded simulation (Lindley's recursion), bisected on
    the rate. 0 when even an idle server misses the bound. A planning guess, never a measurement."""
    if service_s <= 0 or bound_s <= service_s:
        return 0.0
    rng = random.Random(0)
    gaps = [rng.expovariate(1.0) for _ in range(arrivals)]  # unit-rate gaps, scaled per rate
    k = min(arrivals - 1, int(math.ceil(percentile / 100.0 * arrivals)) - 1)

    def pct_latency(rate: float) -> float:
        wait, out = 0.0, []
        for g in gaps:
            wait = max(0.0, wait + service_s - g / rate)
            out.append(wait + service_s)
        out.sort()
        return out[k]

    lo, hi = 0.0, 1.0 / service_s
    for _ in range(20):
        mid = (lo + hi) / 2
        if pct_latency(mid) <= bound_s:
            lo = mid
        else:
            hi = mid
    return lo


class MaxQpsSearch:
    """The search for one engine (see the module docstring). ``config`` is the run's (one engine, its bound and
    percentile, duration, cores, seed); ``probe`` runs one config."""

    def __init__(
        self,
        config: RunConfig,
        *,
        probe: Probe,
        resolution: float = DEFAULT_RESOLUTION,
        confirm: int = DEFAULT_CONFIRM,
        on_probe: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if len(config.engines) != 1:
            raise ValueError("a max-QPS search runs one engine")
        self.engine = config.engines[0]
        self.bound_ms = config.latency_bound_ms if config.latency_bound_ms is not None else 100.0
        self.percentile = config.latency_percentile if config.latency_percentile is not None else 99.0
        duration = max(config.duration_s, PROBE_BOUNDS * self.bound_ms / 1e3)
        self.base = replace(
            config,
            latency_bound_ms=self.bound_ms,
            latency_percentile=self.percentile,
            duration_s=duration,
            repeats=1,
        )
        self.offline_s = config.duration_s
        self.min_queries = config.min_queries or DEFAULT_MIN_QUERIES["server"]
        self.probe = probe
        self.resolution = resolution
        self.confirm = max(1, confirm)
        self.on_probe = on_probe
        self._started = time.monotonic()
        self._overheads: list[float] = []  # wall seconds of a run beyond its measured duration
        self._plan: Callable[[], float | None] = lambda: None
        self._state: dict[str, float] = {}

    # ---- time ----------------------------------------------------------------------------------------------------
    def run_seconds(self, rate: float) -> float:
        """How long a Server run at ``rate`` takes: LoadGen runs until the minimum duration and the minimum queries
        are both met, plus what a run costs besides (process, load, warm-up: the mean seen so far)."""
        overhead = sum(self._overheads) / len(self._overheads) if self._overheads else 0.0
        return overhead + max(self.base.duration_s, self.min_queries / max(rate, 1e-9))

    def _bisect_left(self, lo: float, hi: float, step: float) -> int:
        return max(0, math.ceil(math.log2((hi - lo) / step))) if hi - lo > step else 0

    # ---- runs ----------------------------------------------------------------------------------------------------
    def _run(self, kind: str, scenario: str, target: float | None, out: SearchResult) -> EngineResult:
        config = replace(self.base, scenario=scenario, target_qps=target)
        if scenario == "offline":  # only its rate is needed: the run's own --duration, not a probe's 100 bounds,
            # nor the Server probes' --min-queries (LoadGen would count them as Offline samples: 2000 took 52 s)
            config = replace(
                config, target_qps=None, latency_bound_ms=None, duration_s=self.offline_s, min_queries=None
            )
        t0 = time.monotonic()
        record = self.probe(config)
        res = record.results[0]
        entry = _probe_entry(kind, target, res)
        if res.duration_s:
            self._overheads.append(max(0.0, time.monotonic() - t0 - float(res.duration_s)))
        out.probes.append(entry)
        if self.on_probe is not None:
            eta = self._plan()
            self.on_probe(
                {
                    "engine": self.engine,
                    **entry,
                    "elapsed_s": time.monotonic() - self._started,
                    "eta_s": None if eta is None else max(0.0, eta),
                }
            )
        return res

    def run(self) -> SearchResult:
        self._started = time.monotonic()
        out = SearchResult(
            self.engine, self.bound_ms, self.percentile, resolution=self.resolution, min_queries=self.min_queries
        )
        offline = self._run("offline", "offline", None, out)
        if not offline.ok or not (offline.loadgen or {}).get("qps"):
            out.note = f"the offline run failed: {offline.error or 'no rate'}"
            return self._finish(out, offline)
        top = float((offline.loadgen or {})["qps"])
        out.offline_qps = top
        step = self.resolution * top
        single_ms = ((offline.loadgen or {}).get("issue") or {}).get("expected_latency_ms") or 0.0
        service = max(1.0 / top, float(single_ms) / 1e3)
        estimate = queue_estimate(service, self.bound_ms / 1e3, self.percentile)
        out.first_estimate = _round_qps(estimate) if estimate > 0 else None
        # rate -> its VALID run's result; a rate seen INVALID is never an answer
        valid: dict[float, EngineResult] = {}
        # what the plan knows while a run is under way: the interval before its verdict, the confirmation runs left
        self._state = {"lo": 0.0, "hi": top, "left": self.confirm - 1, "pending": 0}
        self._plan = lambda: self._plan_seconds(step)
        lo = self._bisect(out, top, step, valid)
        if not valid:
            out.note = f"no VALID rate found above {lo:g} QPS within {self.bound_ms:g} ms at p{self.percentile:g}"
            return self._finish(out, offline)
        target, confirmed = self._confirm(out, lo, step, valid)
        if confirmed:
            out.best = dict(next(p for p in reversed(out.probes) if p["target_qps"] == target and p["valid"]))
            return self._finish(out, valid[target])
        out.note = f"{target:g} QPS was not confirmed ({out.confirmed}/{out.confirm_runs} VALID)"
        if target <= 0 or not out.confirm_runs:
            out.note = f"not confirmed after {MAX_STEP_DOWNS} steps down"
        return self._finish(out, next(iter(valid.values()), offline))

    def _finish(self, out: SearchResult, result: EngineResult) -> SearchResult:
        self._plan = lambda: None
        out.result = result
        out.elapsed_s = time.monotonic() - self._started
        return out

    def _plan_seconds(self, step: float) -> float:
        """The runs still expected: the bisection's steps at mid-interval, then the confirmation."""
        st = self._state
        a, b = st["lo"], st["hi"]
        steps = max(0, self._bisect_left(a, b, step) - st["pending"])
        guess = (a + b) / 2 if b > a else a
        confirm_at = a if a > 0 else max(guess, step)  # the answer lies below the interval's middle
        return steps * self.run_seconds(guess) + st["left"] * self.run_seconds(confirm_at)

    def _bisect(self, out: SearchResult, top: float, step: float, valid: dict[float, EngineResult]) -> float:
        """Bisect ``(0, top]`` from the queue model's first guess until the highest VALID and the lowest INVALID
        rate are within ``step``; VALID probes go into ``valid``. Returns the highest VALID rate (0: none)."""
        lo, hi = 0.0, top
        first = out.first_estimate
        if first is None or not step <= first <= top - step:
            first = None
        while hi - lo > step:
            mid = first if first is not None else _round_qps((lo + hi) / 2)
            first = None
            if mid <= lo or mid >= hi:
                break
            self._state.update(lo=lo, hi=hi, pending=1)
            res = self._run("probe", "server", mid, out)
            if out.probes[-1]["valid"]:
                lo = mid
                valid[mid] = res
            else:
                hi = mid
        self._state.update(lo=lo, hi=lo, pending=0)
        return lo

    def _runs_at(self, out: SearchResult, target: float) -> list[dict[str, Any]]:
        return [p for p in out.probes if p["target_qps"] == target and p["kind"] != "offline"]

    def _confirm(
        self, out: SearchResult, target: float, step: float, valid: dict[float, EngineResult]
    ) -> tuple[float, bool]:
        """Confirm ``target`` (``confirm`` VALID runs there, none INVALID, stopping at the first INVALID one), else
        step down by ``step`` — to a rate already VALID within the step when there is one — at most
        :data:`MAX_STEP_DOWNS` times. Returns the last rate tried and whether it stands."""
        probed_valid = set(valid)  # the bisection's VALID rates (a step down may land on one)
        for down in range(MAX_STEP_DOWNS + 1):
            runs_here = self._runs_at(out, target)
            n_valid = -1 if any(not p["valid"] for p in runs_here) else sum(1 for p in runs_here if p["valid"])
            while 0 <= n_valid < self.confirm:
                self._state.update(lo=target, hi=target, left=self.confirm - n_valid - 1)
                res = self._run("confirm", "server", target, out)
                if out.probes[-1]["valid"]:
                    n_valid += 1
                    valid[target] = res
                else:
                    n_valid = -1  # one INVALID run: the rate cannot stand; the others need not run
            runs_here = self._runs_at(out, target)
            out.confirm_runs = len(runs_here)
            out.confirmed = sum(1 for p in runs_here if p["valid"])
            if n_valid >= self.confirm:
                return target, True
            if down == MAX_STEP_DOWNS:
                break
            below = [r for r in probed_valid if target - step <= r < target]
            target = max(below) if below else _round_qps(target - step)
            if target <= 0:
                break
            self._state.update(lo=target, hi=target, left=self.confirm)
        return target, False


def _round_qps(q: float) -> float:
    """Target rates to 3 significant digits (LoadGen logs them; probes read better)."""
    if q <= 0:
        return 0.0
    digits = 2 - int(math.floor(math.log10(q)))
    return round(q, max(0, digits))


def runner_probe(
    artifact: Any = None, on_event: Callable[[Any], None] | None = None
) -> Callable[[RunConfig], RunRecord]:
    """The default probe: an ordinary Runner run (its own pinned process, live stream) of the prepared model."""

    def probe(config: RunConfig) -> RunRecord:
        return Runner(config, on_event=on_event, artifact=artifact).run()

    return probe


def find_max_qps(
    config: RunConfig,
    *,
    probe: Probe,
    resolution: float = DEFAULT_RESOLUTION,
    confirm: int = DEFAULT_CONFIRM,
    on_probe: Callable[[dict[str, Any]], None] | None = None,
) -> list[SearchResult]:
    """One search per engine of ``config``, in order (each engine on its own, side by side in the report)."""
    out = []
    for engine in config.engines:
        one = replace(config, engines=(engine,), baseline=engine)
        out.append(MaxQpsSearch(one, probe=probe, resolution=resolution, confirm=confirm, on_probe=on_probe).run())
    return out
