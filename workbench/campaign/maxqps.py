"""The highest Server QPS an engine serves within a latency bound (``workbench run --find-max-qps``).

Per engine, every step an ordinary LoadGen scenario run (:class:`~workbench.measure.runner.Runner`, its own pinned
process):

1. **Offline** — the engine's saturated rate: no Server rate above it can be sustained, so it bounds the search.
2. **Bisect** the Server target QPS between 0 and the Offline rate: a probe that LoadGen calls VALID (the
   percentile within the bound, early stopping satisfied) raises the lower end, an INVALID one lowers the upper end,
   until the interval is narrower than ``resolution`` of the Offline rate. A probe INVALID only because early
   stopping could not tell yet (its percentile within the bound) is run again at the same rate with the queries
   LoadGen said it needs (:data:`MAX_EXTEND`). Each probe runs at least
   ``max(duration, PROBE_BOUNDS x bound)`` seconds and the queries early stopping needs at the percentile
   (:data:`workbench.measure.scenario.DEFAULT_MIN_QUERIES`), so the bound is seen many times over.
3. **Confirm** the highest VALID rate with ``confirm`` more runs: it stands when most of them are VALID; otherwise
   the search steps down by ``resolution`` and confirms again (at most :data:`MAX_STEP_DOWNS` times).

LoadGen's own ``FindPeakPerformance`` mode is not used: it ignores early stopping and over-reported the peak here
(63.75 QPS, more than the engine sustained). The search decides which runs to make and what they add up to; it
measures nothing itself. ``probe`` is injectable so the bisection is testable with a fake engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from workbench.measure.runner import RunConfig, Runner
from workbench.measure.scenario import early_stopping_needs
from workbench.result import EngineResult, RunRecord

__all__ = ["MaxQpsSearch", "SearchResult", "find_max_qps", "PROBE_BOUNDS", "MAX_STEP_DOWNS"]

#: a probe lasts at least this many latency bounds (a p99 over 100 bound-lengths sees the bound 100 times)
PROBE_BOUNDS = 100
MAX_STEP_DOWNS = 2
#: a probe INVALID only for early stopping (within the bound, too few queries to tell) is run again at the same rate
#: with the queries LoadGen said it needs, when they are at most this many times the queries it ran
MAX_EXTEND = 2

#: runs one config, returns its record (the default: a Runner run in its own pinned process)
Probe = Callable[[RunConfig], RunRecord]


@dataclass
class SearchResult:
    """One engine's search: the highest confirmed VALID target QPS (``best``: its probe), every probe in order."""

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
    result: EngineResult | None = None  # the result of the last run at ``best`` (the record's row)

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
    }


class MaxQpsSearch:
    """The search for one engine (see the module docstring). ``config`` is the run's (one engine, its bound and
    percentile, duration, cores, seed); ``probe`` runs one config."""

    def __init__(
        self,
        config: RunConfig,
        *,
        probe: Probe,
        resolution: float = 0.05,
        confirm: int = 2,
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
        self.probe = probe
        self.resolution = resolution
        self.confirm = confirm
        self.on_probe = on_probe

    def _run(self, kind: str, scenario: str, target: float | None, out: SearchResult) -> EngineResult:
        config = replace(self.base, scenario=scenario, target_qps=target)
        if scenario == "offline":
            config = replace(config, target_qps=None, latency_bound_ms=None)
        record = self.probe(config)
        res = record.results[0]
        entry = _probe_entry(kind, target, res)
        out.probes.append(entry)
        if self.on_probe is not None:
            self.on_probe({"engine": self.engine, **entry})
        need = early_stopping_needs(res.loadgen) if scenario == "server" and kind != "extend" else None
        queries = (res.loadgen or {}).get("queries") or 0
        if need is not None and need <= MAX_EXTEND * max(1, queries):
            # within the bound, but too few queries for early stopping to tell: the same rate, run long enough
            more = int(queries + need * 1.1) + 1
            self.base, base = replace(self.base, min_queries=more), self.base
            try:
                return self._run("extend", scenario, target, out)
            finally:
                self.base = base
        return res

    def run(self) -> SearchResult:
        started = time.monotonic()
        out = SearchResult(self.engine, self.bound_ms, self.percentile)
        offline = self._run("offline", "offline", None, out)
        if not offline.ok or not (offline.loadgen or {}).get("qps"):
            out.note = f"the offline run failed: {offline.error or 'no rate'}"
            out.result = offline
            out.elapsed_s = time.monotonic() - started
            return out
        top = float((offline.loadgen or {})["qps"])
        out.offline_qps = top
        lo, hi = 0.0, top
        best_res: EngineResult | None = None
        step = self.resolution * top
        while hi - lo > step:
            mid = _round_qps((lo + hi) / 2)
            if mid <= lo or mid >= hi:
                break
            res = self._run("probe", "server", mid, out)
            if out.probes[-1]["valid"]:  # the last entry: the probe, or its extension
                lo, best_res = mid, res
            else:
                hi = mid
        if best_res is None:
            out.note = f"no VALID rate found above {lo:g} QPS within {self.bound_ms:g} ms at p{self.percentile:g}"
            out.result = offline
            out.elapsed_s = time.monotonic() - started
            return out
        target = lo
        for _ in range(MAX_STEP_DOWNS + 1):
            runs = [self._run("confirm", "server", target, out) for _ in range(self.confirm)]
            valid = [r for r in runs if (r.loadgen or {}).get("valid") and r.ok]
            out.confirm_runs, out.confirmed = len(runs), len(valid)
            if self.confirm == 0 or len(valid) * 2 > len(runs):
                best_res = runs[-1] if runs else best_res
                break
            target = _round_qps(target - step)
            if target <= 0:
                break
        else:
            out.note = f"not confirmed after {MAX_STEP_DOWNS} steps down"
        if out.confirm_runs and out.confirmed * 2 <= out.confirm_runs:
            out.note = out.note or f"{target:g} QPS was not confirmed ({out.confirmed}/{out.confirm_runs} VALID)"
        else:
            best = next(p for p in reversed(out.probes) if p["target_qps"] == target and p["valid"])
            out.best = dict(best)
        out.result = best_res
        out.elapsed_s = time.monotonic() - started
        return out


def _round_qps(q: float) -> float:
    """Target rates to 3 significant digits (LoadGen logs them; probes read better)."""
    if q <= 0:
        return 0.0
    from math import floor, log10

    digits = 2 - int(floor(log10(q)))
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
    resolution: float = 0.05,
    confirm: int = 2,
    on_probe: Callable[[dict[str, Any]], None] | None = None,
) -> list[SearchResult]:
    """One search per engine of ``config``, in order (each engine on its own, side by side in the report)."""
    out = []
    for engine in config.engines:
        one = replace(config, engines=(engine,), baseline=engine)
        out.append(MaxQpsSearch(one, probe=probe, resolution=resolution, confirm=confirm, on_probe=on_probe).run())
    return out
