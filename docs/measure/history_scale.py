"""Measure the history store at 10,000 runs (synthetic records of realistic size; timings are real).

Runs are stored in the order they were measured (``created`` 25 minutes apart), as `workbench run` and sweeps do.
Usage: ``python docs/measure/history_scale.py [N] [heavy|typical]``.
"""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

home = os.environ.get("WB_SCALE_DIR") or tempfile.mkdtemp(prefix="wb-scale-")
os.environ["WORKBENCH_HOME"] = home
from workbench.result import EngineResult, RunRecord, new_run_id
from workbench.stats.histogram import LogHistogram
from workbench.stats.summary import summarize
from workbench.store.history import SHARD_SIZE, HistoryStore

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
PROFILE = sys.argv[2] if len(sys.argv) > 2 else "heavy"
rng = np.random.default_rng(0)
FLAGS = open("/proc/cpuinfo").read().split("flags")[1].split(":", 1)[1].split("\n")[0].split()
FLAGS += [
    "amx_bf16",
    "amx_tile",
    "amx_int8",
    "avx512_fp16",
    "avx512_bf16",
    "avx_vnni",
    "serialize",
    "tsxldtrk",
    "waitpkg",
    "cldemote",
    "movdiri",
    "movdir64b",
    "enqcmd",
    "sgx_lc",
    "pconfig",
    "arch_lbr",
    "ibt",
] * 4


def engine_result(engine, scale_ms, n=None):
    if PROFILE == "heavy":  # 20k samples, wide lognormal (sigma 0.15): ~900 non-empty 0.1 % buckets
        n = n or 20_000
        s = rng.lognormal(np.log(scale_ms * 1e6), 0.15, n)
    else:  # typical: 10k samples, tight body (sigma 0.03) plus a 2 % tail of stalls up to 3x
        n = n or 10_000
        s = rng.lognormal(np.log(scale_ms * 1e6), 0.03, n)
        k = n // 50
        s[:k] *= rng.uniform(1.2, 3.0, k)
    s = s.astype(np.int64)
    h = LogHistogram()
    h.add(s)
    sm = summarize(s).scaled(1e-6)
    lat = {"mean": sm.mean, "std": sm.std, "min": sm.min, "max": sm.max, **sm.percentiles}
    return EngineResult(
        engine=engine,
        model="resnet18",
        engine_version="2.5.0",
        threads=8,
        cores=list(range(8)),
        precision_effective="fp32",
        latency_ms=lat,
        median_ci_ms=list(sm.median_ci),
        outliers=sm.outliers,
        throughput=1000 / sm.mean,
        iterations=n,
        duration_s=10.0,
        load_ms=321.0,
        first_inference_ms=12.3,
        peak_rss_mb=812.0,
        cpu_util_pct=790.0,
        parity={
            "status": "pass",
            "reference": "torch fp32",
            "max_abs": 1e-5,
            "rel_l2": 1e-6,
            "top1": 1.0,
            "tolerance": 1e-4,
            "message": None,
        },
        speedup=1.2,
        warnings=[{"code": "governor", "message": "CPU frequency governor is powersave"}],
        repeats=[{"p50": sm.percentiles["p50"], "mean": sm.mean, "throughput": 1000 / sm.mean, "iterations": n / 3}]
        * 3,
        histogram=h.to_dict(),
        effective={"threads": 8, "inter_op": 1, "precision": "fp32", "streams": 1, "hint": "LATENCY"},
    )


ENGINES = (
    (("torch", 4.0), ("onnxruntime", 3.1), ("openvino", 2.2))
    if PROFILE == "heavy"
    else (("torch", 4.0), ("openvino", 2.2))
)
templates = [[engine_result(e, s * k) for e, s in ENGINES] for k in (1.0, 1.1, 0.9, 1.3)]
system = {
    "fingerprint": "0123456789ab",
    "fingerprint_fields": {
        "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
        "machine": "x86_64",
        "sockets": 2,
        "physical_cores": 112,
        "logical_cpus": 224,
        "isa": ["avx512f", "avx512_vnni", "amx_bf16"],
        "memory_total_gib": 503.6,
        "kernel": "6.8.0",
        "torch": "2.5.0",
        "onnxruntime": "1.20.0",
        "openvino": "2024.5",
    },
    "hostname": "node17",
    "cpu_model": "Intel(R) Xeon(R) Platinum 8480+",
    "isa_flags": FLAGS,
    "governors": ["performance"],
    "os": "Ubuntu 24.04",
    "python": "3.11.7",
}


START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def record(i):
    return RunRecord(
        run_id=new_run_id(),
        created=(START + dt.timedelta(minutes=25 * i)).isoformat(timespec="seconds"),
        model={
            "name": f"model{i % 20}",
            "source": "zoo",
            "task": "image-classification",
            "inputs": {"pixel_values": [1, 3, 224, 224]},
        },
        config={
            "mode": "latency",
            "batch": 1,
            "threads": 8,
            "cores": list(range(8)),
            "device": "cpu",
            "precision": "fp32",
            "warmup": 50,
            "duration_s": 10,
            "repeats": 3,
        },
        system=system,
        versions={
            "workbench": "0.1.0",
            "python": "3.11.7",
            "numpy": "2.1",
            "torch": "2.5.0",
            "onnxruntime": "1.20.0",
            "openvino": "2024.5",
        },
        results=templates[i % len(templates)],
        baseline="torch",
        tags=["nightly"],
    )


recs = [record(i) for i in range(N)]
one = len(json.dumps(recs[0].to_dict(), separators=(",", ":")))
store = HistoryStore()
t = time.perf_counter()
added, _ = store.import_records(recs)
t_import = time.perf_counter() - t
size = os.path.getsize(store.path) + sum(p.stat().st_size for p in store.shard_dir.glob("*.json"))
t = time.perf_counter()
rows = store.list(limit=50)
t_list = time.perf_counter() - t
t = time.perf_counter()
rows2 = store.list(model="model3", engine="openvino", since="2026-06-01", limit=50)
t_filt = time.perf_counter() - t
t = time.perf_counter()
n = store.count()
t_count = time.perf_counter() - t
t = time.perf_counter()
store.get(rows[10].run_id[:6])
t_get = time.perf_counter() - t
adds = []
for i in range(5):
    t = time.perf_counter()
    store.add(record(N + i))
    adds.append(time.perf_counter() - t)
t = time.perf_counter()
store.delete([rows[0].run_id])
t_del = time.perf_counter() - t
t = time.perf_counter()
allm = store.list(model="model3", limit=None)
t_all = time.perf_counter() - t
t = time.perf_counter()
store.list(limit=None)
t_every = time.perf_counter() - t
sweep = [record(N + 10 + i) for i in range(200)]
t = time.perf_counter()
store.import_records(sweep)
t_sweep = time.perf_counter() - t
sweep_adds = []
for i in range(20):
    r2 = record(N + 300 + i)
    t = time.perf_counter()
    store.add(r2)
    sweep_adds.append(time.perf_counter() - t)
env = dict(os.environ, WORKBENCH_HOME=home)
env.pop("WORKBENCH_HISTORY", None)
cli = []
for _ in range(3):
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "workbench", "history", "list", "--limit", "50"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cli.append(time.perf_counter() - t)
print(f"profile={PROFILE} runs={added} plain-JSON record≈{one / 1024:.1f} KiB ({len(ENGINES)} engines)")
print(f"per stored run {size / added / 1024:.2f} KiB")
print(f"file size     {size / 1e6:.1f} MB")
print(f"import {added} {t_import:.2f} s (one import_records call, {SHARD_SIZE} runs per shard)")
print(
    f"list(50)      {t_list:.3f} s   filtered list {t_filt:.3f} s   count {t_count:.3f} s   get(prefix) {t_get:.3f} s"
)
print(f"add (median of 5) {sorted(adds)[2]:.3f} s   delete 1 {t_del:.3f} s")
print(f"list(model=..., limit=None) -> {len(allm)} runs decoded in {t_all:.2f} s; all {N} decoded {t_every:.2f} s")
print(
    f"200 records, one import_records call {t_sweep:.3f} s;   20 more single adds: median {sorted(sweep_adds)[10]:.3f} s, max {max(sweep_adds):.3f} s (#{sweep_adds.index(max(sweep_adds)) + 1})"
)
print(f"`workbench history list --limit 50` (new process, median of 3) {sorted(cli)[1]:.2f} s")
