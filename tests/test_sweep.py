"""``workbench sweep``: cell expansion, a real sweep through the CLI, resume after a real ``kill -9``, the
memory-bounded batch search, failing cells and the one-cell job file a Slurm task runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

import pytest
from test_cli import wb

from workbench.campaign import sweep as sweep_mod
from workbench.campaign.cells import CellSpec, SweepSpec, applies, check_spec, cores_for, expand, group_key
from workbench.errors import UsageError
from workbench.machine.cpus import allowed_cores
from workbench.result import EngineResult
from workbench.store.history import HistoryStore

THREADS = "1,2" if len(allowed_cores()) >= 2 else "1"


# ---- pure: cells ----------------------------------------------------------------------------------------------
def test_expand_orders_engines_innermost_and_collapses_axes_that_do_not_apply():
    spec = SweepSpec(
        model="m",
        engines=("onnxruntime", "openvino"),
        threads=(1, 2),
        batches=(1, 8),
        modes=("latency", "throughput"),
        streams=(1, 2),
    )
    cells = expand(spec)
    # latency: streams do not apply (2 batches × 2 threads × 2 engines); throughput: only openvino gets streams
    latency = [c for c in cells if c.mode == "latency"]
    assert len(latency) == 8 and all(c.streams is None for c in latency)
    thr = [c for c in cells if c.mode == "throughput"]
    assert sorted({(c.engine, c.streams) for c in thr}, key=str) == [
        ("onnxruntime", None),
        ("openvino", 1),
        ("openvino", 2),
    ]
    assert len(cells) == len({c.key() for c in cells}) == 8 + 2 * 2 * 3
    assert [c.engine for c in cells[:2]] == ["onnxruntime", "openvino"]  # same settings, engines side by side
    assert applies(CellSpec("torch", mode="latency", streams=4, requests=2)).streams is None
    assert CellSpec("openvino", batch=8).key() != CellSpec("openvino", batch=4).key()
    assert group_key(CellSpec("openvino", batch=8)) == group_key(CellSpec("openvino", batch=4))
    assert cores_for(CellSpec("onnxruntime", threads=2), [4, 5, 6]) == (4, 5)
    assert SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert CellSpec.from_dict(cells[3].to_dict()) == cells[3]


def test_a_cells_stored_form_is_its_fields_and_key_and_shared_defaults_come_from_one_table():
    from workbench.measure.config import RunConfig
    from workbench.measure.settings import RUN, SWEEP, default_threads

    cell = CellSpec(engine="openvino", precision="int8", threads=2, batch=8, mode="throughput", streams=2)
    assert cell.stored() == {**cell.to_dict(), "key": cell.key()}
    assert CellSpec.from_dict(cell.stored()) == cell
    run, spec = RunConfig(model="m", engines=("torch",)), SweepSpec(model="m", engines=("torch",))
    assert (run.duration_s, run.warmup_s, run.min_iterations) == (RUN.duration_s, RUN.warmup_s, 10) == (5.0, 1.0, 10)
    assert (spec.duration_s, spec.warmup_s, spec.device, spec.seed) == (SWEEP.duration_s, SWEEP.warmup_s, "cpu", 0)
    assert default_threads(None, (0, 1, 2)) == 3 and default_threads(1, (0, 1, 2)) == 1


def test_impossible_axes_are_one_line_usage_errors():
    base = SweepSpec(model="m", engines=("onnxruntime",))
    for spec, needle in (
        (replace(base, threads=(1, 3)), "--threads 3 needs 3 cores, but the sweep may use 2"),
        (replace(base, batches=(0,)), "--batch values must be whole numbers >= 1"),
        (replace(base, precisions=("int4",)), "--precision int4 (weights) applies to --mode generate only"),
        (replace(base, sparsities=(1.0,)), "--sparsity values must be in [0, 1)"),
        (replace(base, engines=()), "no engines to sweep"),
        (replace(base, max_memory_mb=-1.0), "--max-memory must be"),
    ):
        with pytest.raises(UsageError, match=None) as info:
            check_spec(spec, [0, 1])
        assert needle in str(info.value) and "\n" not in str(info.value)


def test_cli_usage_errors_exit_2_in_one_line():
    for args, needle in (
        (("sweep", "-e", "onnxruntime"), "give the model to sweep with -m"),
        (("sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--threads", "0"), "must be >= 1"),
        (("sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--threads", "999"), "--threads 999 needs 999 cores"),
        (("sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--sparsity", "1.5"), "not a fraction in [0, 1)"),
        (("sweep", "--resume", "nosuchid"), "nosuchid"),
    ):
        out = wb(*args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert needle in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert len(out.stderr.strip().splitlines()) == 1, out.stderr


# ---- a real sweep ---------------------------------------------------------------------------------------------
def test_sweep_runs_real_cells_saves_one_record_and_exports(shared_cache, tmp_path):
    out_json, out_csv = tmp_path / "s.json", tmp_path / "s.csv"
    out = wb(
        "sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--threads", THREADS, "--batch", "1,2",
        "--duration", "0.2", "--warmup", "0.05", "--json", str(out_json), "--csv", str(out_csv), "--no-charts",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    n = 2 * len(THREADS.split(","))
    assert f"[{n}/{n}] onnxruntime fp32" in out.stderr  # one progress line per finished cell
    records = HistoryStore().list()
    assert len(records) == 1
    rec = records[0]
    assert rec.kind == "sweep" and rec.sweep["state"] == "complete"
    assert rec.sweep["cells_total"] == rec.sweep["cells_done"] == n
    assert len({r.cell["key"] for r in rec.results}) == n
    for r in rec.results:
        assert r.ok and r.engine == "onnxruntime" and r.latency_ms["p50"] > 0 and r.throughput > 0
        assert r.threads == r.cell["threads"] and len(r.cores) == r.cell["threads"]  # one core per thread
        assert r.batch == r.cell["batch"] and r.peak_rss_mb > 0
        assert r.parity["status"] == "pass"
    assert rec.model["name"] == "tiny_cnn" and rec.system
    doc = json.loads(out_json.read_text())
    assert doc["run_id"] == rec.run_id and len(doc["results"]) == n
    assert len(out_csv.read_text().strip().splitlines()) == n + 1
    listed = wb("history", "list")
    assert f"sweep {n}/{n} cells, complete: onnxruntime" in listed.stdout


def test_a_cell_that_cannot_run_is_a_failed_row_and_exit_1(shared_cache):
    out = wb(
        "sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "-p", "fp32,bf16", "--threads", "1", "--duration", "0.2",
        "--warmup", "0.05", "--no-charts", "--no-parity",
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    rec = HistoryStore().list()[0]
    by_prec = {r.cell["precision"]: r for r in rec.results}
    assert by_prec["fp32"].ok
    bf16 = by_prec["bf16"]
    assert not bf16.ok and "onnxruntime cannot run bf16" in bf16.error and "\n" not in bf16.error
    assert rec.sweep["state"] == "complete"


def _wait_for_cells(at_least: int, timeout: float = 120.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = HistoryStore().list()
        if records and len(records[0].results) >= at_least:
            return records[0].run_id
        time.sleep(0.2)
    raise AssertionError(f"no sweep reached {at_least} cells in {timeout} s")


def test_resume_after_kill_9_repeats_no_finished_cell(test_engines, shared_cache):
    args = [
        sys.executable, "-m", "workbench", "sweep", "-m", "tiny_cnn", "-e", "noop,echo", "--threads", "1",
        "--batch", "1,2,3", "--duration", "0.3", "--warmup", "0.05", "--no-parity", "--no-charts",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        sweep_id = _wait_for_cells(2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and the cell in flight: nothing gets to clean up
        proc.wait(timeout=30)
    before = HistoryStore().get(sweep_id)
    done = {r.cell["key"]: r.latency_ms["p50"] for r in before.results}
    assert 2 <= len(done) < 6
    assert before.sweep["state"] == "running"  # it could not say otherwise ...
    assert sweep_mod.effective_state(before) == "interrupted"  # ... but its process is gone
    assert "interrupted" in wb("history", "list").stdout

    out = wb("sweep", "--resume", sweep_id[:6], "--no-charts")
    assert out.returncode == 0, out.stderr
    assert f"6 cells ({len(done)} done before)" in out.stderr
    after = HistoryStore().get(sweep_id)
    keys = [r.cell["key"] for r in after.results]
    assert len(keys) == len(set(keys)) == 6 and after.sweep["state"] == "complete"
    # the finished cells were kept as measured, not measured again
    assert {k: p for k, p in ((r.cell["key"], r.latency_ms["p50"]) for r in after.results) if k in done} == done
    assert HistoryStore().count() == 1


def test_sigterm_stops_the_sweep_saves_it_as_interrupted_and_exits_130(test_engines, shared_cache):
    args = [
        sys.executable, "-m", "workbench", "sweep", "-m", "tiny_cnn", "-e", "noop", "--threads", "1",
        "--batch", "1,2,3,4", "--duration", "1", "--warmup", "0.05", "--no-parity",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sweep_id = _wait_for_cells(1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"workbench sweep --resume {sweep_id}" in err and "Traceback" not in err
    rec = HistoryStore().get(sweep_id)
    assert rec.sweep["state"] == "interrupted" and 1 <= len(rec.results) < 4


# ---- memory-bounded batch: the search, on a fake cell runner with a known RSS curve -----------------------------
class _FakeCells:
    """Peak RSS grows 10 MB per batch item over 100 MB; batches in ``fail`` fail (``oom`` ones like the OOM killer)."""

    def __init__(self, fail: dict[int, str] | None = None) -> None:
        self.fail = fail or {}
        self.calls: list[int] = []
        self.last_record = None

    def run(self, cell: CellSpec, duration_s: float | None = None, warmup_s: float | None = None) -> EngineResult:
        self.calls.append(cell.batch)
        if cell.batch in self.fail:
            return EngineResult(engine=cell.engine, model="m", status="failed", error=self.fail[cell.batch])
        return EngineResult(
            engine=cell.engine, model="m", batch=cell.batch, peak_rss_mb=100.0 + 10 * cell.batch, throughput=cell.batch
        )

    def stop(self) -> None:
        pass


def _search(limit: float, fail: dict[int, str] | None = None, max_batch: int = 1024) -> tuple[dict, list[int]]:
    spec = SweepSpec(model="m", engines=("onnxruntime",), max_memory_mb=limit, max_batch=max_batch)
    s = sweep_mod.Sweep(spec)
    fake = _FakeCells(fail)
    s.cells = fake  # type: ignore[assignment]
    record = s.run()
    (search,) = record.sweep["memory_search"].values()
    return search, fake.calls


def test_memory_search_finds_the_largest_batch_under_the_limit_by_bisection():
    search, calls = _search(limit=1000.0)  # 100 + 10 b <= 1000  →  b <= 90
    assert search["best_batch"] == 90
    assert calls[:8] == [1, 2, 4, 8, 16, 32, 64, 128]  # doubling to the first miss ...
    assert len(calls) == len(set(calls)) <= 8 + 6  # ... then bisecting 64..128: not a scan
    assert "batch 91 does not fit (peak RSS 1010 MB > 1000 MB)" == search["reason"]
    assert search["throughput"] == 90 and search["best_key"].endswith("|b90|latency|s-|r-|sp0")
    assert [p["batch"] for p in search["probes"]] == sorted(calls)


def test_memory_search_reports_the_cap_and_a_limit_nothing_fits():
    search, calls = _search(limit=10_000.0, max_batch=16)
    assert search["best_batch"] == 16 and calls == [1, 2, 4, 8, 16] and "--max-batch cap" in search["reason"]
    search, calls = _search(limit=50.0)
    assert search["best_batch"] is None and calls == [1] and search["reason"].startswith("even batch 1 does not fit")


def test_memory_search_stops_at_a_failure_but_bisects_past_an_oom_kill():
    search, calls = _search(limit=1000.0, fail={128: "preparing failed: bad shape"})
    assert search["best_batch"] == 64 and calls == [1, 2, 4, 8, 16, 32, 64, 128]
    assert "failed: preparing failed: bad shape" in search["reason"]
    oom = "onnxruntime benchmark process was killed by SIGKILL (likely out of memory)"
    search, calls = _search(limit=1000.0, fail={128: oom})
    assert search["best_batch"] == 90 and len(calls) > 8


# ---- one cell from a job file (what a Slurm array task runs) -----------------------------------------------------
def test_sweep_cell_job_writes_the_result_file(shared_cache, tmp_path):
    spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime",), duration_s=0.2, warmup_s=0.05)
    cell = expand(spec)[0]
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"sweep_id": "abc", "index": 0, "spec": spec.to_dict(), "cell": cell.to_dict()}))
    out_file = tmp_path / "out" / "0.json"
    out = wb("sweep-cell", str(job), str(out_file))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out_file.read_text())
    assert doc["sweep_id"] == "abc" and doc["index"] == 0 and doc["cell"]["key"] == cell.key()
    assert doc["result"]["status"] == "ok" and doc["result"]["latency_ms"]["p50"] > 0
    assert doc["system"]["fingerprint"] and doc["host"] and doc["model"]["name"] == "tiny_cnn"
    bad = wb("sweep-cell", str(tmp_path / "missing.json"), str(out_file))
    assert bad.returncode == 2 and "cannot read the cell job" in bad.stderr
    assert "sweep-cell" not in wb("--help").stdout


def test_sweep_help_teaches():
    out = wb("sweep", "--help")
    assert out.returncode == 0
    for needle in ("--resume ID", "--max-memory", "--threads", "--on", "examples:", "kill -9"):
        assert needle in out.stdout, needle


def test_history_show_renders_a_sweep_and_compare_refuses_one():
    cell = CellSpec("onnxruntime", threads=1, batch=2)
    result = EngineResult(
        engine="onnxruntime", model="tiny_cnn", batch=2, threads=1, latency_ms={"p50": 1.5, "p99": 2.0},
        throughput=1333.0, cell=cell.to_dict() | {"key": cell.key()},
    )  # fmt: skip
    rec = sweep_mod.Sweep(SweepSpec(model="tiny_cnn", engines=("onnxruntime",))).record
    rec.results = [result]
    rec.sweep = dict(rec.sweep or {}) | {"state": "complete", "cells_total": 1, "cells_done": 1}
    HistoryStore().put(rec)
    shown = wb("history", "show", rec.run_id)
    assert shown.returncode == 0, shown.stderr
    assert f"sweep {rec.run_id} · tiny_cnn · complete · 1/1 cells" in shown.stdout
    row = next(line for line in shown.stdout.splitlines() if line.startswith("onnxruntime"))
    assert "1.500" in row and "1,333" in row
    out = wb("compare", rec.run_id, rec.run_id)
    assert out.returncode == 2 and "is a sweep (one result per cell), not a run" in out.stderr


def test_watch_follows_a_sweep_from_another_process_to_its_end(test_engines, shared_cache):
    args = [
        sys.executable, "-m", "workbench", "sweep", "-m", "tiny_cnn", "-e", "noop", "--threads", "1",
        "--batch", "1,2,3", "--duration", "0.4", "--warmup", "0.05", "--no-parity", "-q",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        watched = wb("watch", "--wait", "60", timeout=180)
    finally:
        proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert watched.returncode == 0, watched.stderr
    out = watched.stdout
    assert "watching sweep" in out and "sweep " in out and "complete: 3/3 cells" in out
    assert "noop fp32 t1 b3 latency: p50" in out  # the cells as they finish (those after watch attached)
    rec = HistoryStore().list()[0]
    assert rec.kind == "sweep" and len(rec.results) == 3


def test_given_inputs_reach_every_cell_and_are_recorded(shared_cache, tmp_path):
    import numpy as np

    photo = tmp_path / "x.npy"
    np.save(photo, np.full((1, 3, 32, 32), 0.5, np.float32))
    out = wb(
        "sweep", "-m", "tiny_cnn", "-e", "onnxruntime,openvino", "--threads", "1", "--duration", "0.2",
        "--warmup", "0.05", "--input", f"pixel_values={photo}", "--no-charts",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    rec = HistoryStore().list()[0]
    assert rec.sweep["spec"]["inputs"]["given"] == {"pixel_values": str(photo)}
    src = rec.config["inputs"]["sources"]["pixel_values"]  # the first cell's run recorded the file and its hash
    assert src["path"] == str(photo) and src["sha256"]
    assert all(r.ok and r.parity["status"] == "pass" for r in rec.results)


def _children_of(pid: int) -> list[int]:
    """The benchmark processes (``workbench.measure.child``) whose parent is ``pid``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"workbench.measure.child" in cmd:
            out.append(int(entry))
    return out


def test_sigterm_stops_a_run_and_its_benchmark_process_and_exits_130(test_engines, shared_cache):
    args = [sys.executable, "-m", "workbench", "run", "-m", "tiny_cnn", "-e", "noop", "-d", "60", "--no-parity",
            "--no-save"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _children_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    children = _children_of(proc.pid)
    assert children, "the benchmark process never started"
    time.sleep(1.0)  # inside the measured round
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    time.sleep(0.5)
    assert not [c for c in children if os.path.exists(f"/proc/{c}") and "Z" not in open(f"/proc/{c}/stat").read()]
