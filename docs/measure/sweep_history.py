"""How long a 200-cell sweep spends saving itself to the history (issue #11's target: under 5 s in total).

A sweep appends every finished cell to its journal (``HistoryStore.append_cell``: one fsynced append) and stores
its growing record (``HistoryStore.put``) when it starts, at most every ``SAVE_EVERY_S`` while it runs, and at the
end. How many puts that is depends on how long cells take: ``CELL_S`` seconds per cell (default 4.5: the default
3 s measured + 0.5 s warm-up + about 1 s to start a benchmark process and load). No cell is run here; the saving is
what is timed. For comparison the script also times a put after every cell (the simple design it replaced). Cell results here are realistic in size (a latency histogram of
10k-20k samples, parity, effective settings, warnings); the timings are real. The history is prefilled with
``N`` runs first (default 10,000) so the head shard is as full as it gets in practice.

Usage: ``python docs/measure/sweep_history.py [N] [CELLS] [CELL_S]``.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time

import numpy as np

home = os.environ.get("WB_SCALE_DIR") or tempfile.mkdtemp(prefix="wb-sweep-history-")
os.environ["WORKBENCH_HOME"] = home

from workbench.campaign.cells import CellSpec, SweepSpec, expand  # noqa: E402
from workbench.campaign.sweep import SAVE_EVERY_S  # noqa: E402
from workbench.result import EngineResult, RunRecord, new_run_id, now_iso  # noqa: E402
from workbench.stats.histogram import LogHistogram  # noqa: E402
from workbench.stats.summary import summarize  # noqa: E402
from workbench.store.history import HistoryStore  # noqa: E402

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
CELLS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
CELL_S = float(sys.argv[3]) if len(sys.argv) > 3 else 4.5
rng = np.random.default_rng(0)
SYSTEM = {"fingerprint": "0123456789ab", "cpu_model": "Intel(R) Xeon(R) Platinum 8480+", "hostname": "node17"}


def result(engine: str, scale_ms: float, cell: CellSpec | None = None) -> EngineResult:
    n = 15_000
    s = rng.lognormal(np.log(scale_ms * 1e6), 0.1, n).astype(np.int64)
    h = LogHistogram()
    h.add(s)
    sm = summarize(s).scaled(1e-6)
    return EngineResult(
        engine=engine,
        model="resnet50",
        engine_version="2025.1",
        threads=cell.threads if cell else 8,
        cores=list(range(cell.threads if cell else 8)),
        batch=cell.batch if cell else 1,
        precision_requested=cell.precision if cell else "fp32",
        precision_effective=cell.precision if cell else "fp32",
        latency_ms={"mean": sm.mean, "std": sm.std, "min": sm.min, "max": sm.max, **sm.percentiles},
        median_ci_ms=list(sm.median_ci),
        outliers=sm.outliers,
        throughput=1000 / sm.mean,
        iterations=n,
        duration_s=3.0,
        load_ms=321.0,
        first_inference_ms=12.3,
        peak_rss_mb=812.0,
        parity={"status": "pass", "reference": "torch fp32", "max_abs": 1e-5, "rel_l2": 1e-6, "tolerance": 1e-4},
        warnings=[{"code": "virtualised", "message": "running in a virtual machine (KVM)"}],
        histogram=h.to_dict(),
        effective={"threads": 8, "precision": "fp32", "streams": 1, "hint": "LATENCY"},
        cell=(cell.to_dict() | {"key": cell.key()}) if cell else None,
    )


def filler(i: int, template: list[EngineResult]) -> RunRecord:
    created = (dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=25 * i)).isoformat()
    return RunRecord(
        run_id=new_run_id(),
        created=created,
        model={"name": f"model{i % 20}"},
        config={"batch": 1, "threads": 8},
        system=SYSTEM,
        versions={},
        results=template,
    )


store = HistoryStore()
if N:
    template = [result(e, s) for e, s in (("torch", 4.0), ("onnxruntime", 3.1), ("openvino", 2.2))]
    t = time.perf_counter()
    store.import_records(filler(i, template) for i in range(N))
    print(f"prefilled {N} runs in {time.perf_counter() - t:.1f} s")

spec = SweepSpec(
    model="resnet50",
    engines=("torch", "onnxruntime", "openvino", "noop"),
    precisions=("fp32", "bf16", "int8"),
    threads=(1, 2, 4, 8, 16),
    batches=(1, 4, 16, 64),
)
cells = expand(spec)[:CELLS]
pre = [result(c.engine, 5.0 / c.threads, c) for c in cells]  # made before timing: only the saving is timed


def new_sweep() -> RunRecord:
    return RunRecord(
        run_id=new_run_id(),
        created=now_iso(),
        model={"name": "resnet50"},
        config={},
        system=SYSTEM,
        versions={},
        results=[],
        kind="sweep",
        sweep={"spec": spec.to_dict(), "state": "running", "cells_total": len(cells)},
    )


def timed(fn, *args) -> float:
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


# the sweep as it saves itself: journal every cell, put at the start, every SAVE_EVERY_S (of cell time), the end
record = new_sweep()
spent = timed(store.put, record)
appends, puts, clock, saved_at = [], 1, 0.0, 0.0
for r in pre:
    record.results.append(r)
    clock += CELL_S
    appends.append(timed(store.append_cell, record.run_id, r.to_dict()))
    if clock - saved_at >= SAVE_EVERY_S:
        spent += timed(store.put, record)
        puts, saved_at = puts + 1, clock
record.sweep = dict(record.sweep or {}) | {"state": "complete"}
spent += timed(store.put, record) + timed(store.drop_journal, record.run_id)
total = spent + sum(appends)
assert len(store.get(record.run_id).results) == len(cells)
print(
    f"{len(cells)}-cell sweep ({CELL_S:g} s cells) with {N} runs stored: saved in {total:.2f} s in total — "
    f"{len(cells)} journal appends {sum(appends):.2f} s (median {sorted(appends)[len(appends) // 2] * 1000:.1f} ms), "
    f"{puts + 1} puts of the record {spent:.2f} s"
)

# for comparison: a put after every cell
record = new_sweep()
each = [timed(store.put, record)]
for r in pre:
    record.results.append(r)
    each.append(timed(store.put, record))
print(f"  (a put after every cell instead: {sum(each):.2f} s, last put {each[-1] * 1000:.0f} ms)")
