"""An A/A measurement: the same configuration run several times, each run its own benchmark process, to learn how
much this machine moves from run to run (``workbench doctor --aa``).

Every verdict between runs (:mod:`workbench.stats.verdict`) tests a ratio against that spread. Each repetition
here is an ordinary :class:`~workbench.measure.runner.Runner` run (a fresh pinned child, its own load and warm-up),
so the spread includes everything that differs between two ``workbench run`` commands: process start, memory
placement, thread-pool placement, the machine's drift over the minutes between them. The runs are not saved to the
history; the entry (configuration, per-run values, sigma per metric) is stored per machine fingerprint by
:mod:`workbench.machine.spread`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from workbench.errors import WorkbenchError
from workbench.measure.runner import RunConfig, Runner
from workbench.result import EngineResult, RunRecord, now_iso
from workbench.stats.verdict import SPREAD_METRICS, spread_from_values

__all__ = ["AAResult", "measure_spread", "MIN_RUNS"]

MIN_RUNS = 5  # fewer runs know too little: with 2 degrees of freedom the 99% t is 9.9


@dataclass
class AAResult:
    """What an A/A measurement found: the stored ``entry`` and the machine ``fingerprint`` it belongs to."""

    fingerprint: str | None
    entry: dict[str, Any]
    records: list[RunRecord]


def _value(r: EngineResult, metric: str) -> float | None:
    v = r.throughput if metric == "throughput" else (r.latency_ms or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def measure_spread(
    config: RunConfig,
    runs: int = 6,
    on_run: Callable[[int, RunRecord], None] | None = None,
    on_event: Callable[[Any], None] | None = None,
    artifact: Any = None,
) -> AAResult:
    """Run ``config`` (one engine) ``runs`` times and return the spread of p50, p90, p99 and throughput between
    the runs. Raises :class:`WorkbenchError` when a run fails (the spread of a failing configuration means
    nothing) and for fewer than :data:`MIN_RUNS` runs or more than one engine. ``artifact``: a prepared model
    (tests), else the runner prepares ``config.model``."""
    if runs < MIN_RUNS:
        raise WorkbenchError(f"an A/A measurement needs at least {MIN_RUNS} runs, not {runs}")
    if len(config.engines) != 1:
        raise WorkbenchError(f"an A/A measurement runs one engine; got {', '.join(config.engines)}")
    config = replace(config, repeats=1, parity=False)
    records: list[RunRecord] = []
    for i in range(runs):
        record = Runner(config, on_event=on_event, live=False, artifact=artifact).run()
        res = record.results[0]
        if not res.ok:
            raise WorkbenchError(f"A/A run {i + 1} of {runs} failed: {res.error or 'no measurements'}")
        records.append(record)
        if on_run is not None:
            on_run(i, record)
    first = records[0].results[0]
    values = {m: [v for v in (_value(r.results[0], m) for r in records) if v is not None] for m in SPREAD_METRICS}
    sigma = {}
    for m, vs in values.items():
        est = spread_from_values(vs)
        if est is not None:
            sigma[m] = est[0]
    entry = {
        "model": str((records[0].model or {}).get("name") or config.model),
        "engine": first.engine,
        "precision": first.precision_effective or first.precision_requested,
        "threads": first.threads,
        "batch": first.batch,
        "mode": first.mode,
        "runs": runs,
        "duration_s": config.duration_s,
        "cores": list(first.cores or []),
        "created": now_iso(),
        "values": values,
        "sigma": sigma,
    }
    return AAResult((records[-1].system or {}).get("fingerprint"), entry, records)
