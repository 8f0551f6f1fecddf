"""The Slurm fleet: the generated batch script, reading squeue/scontrol, status/collect/resubmit over the fleet
directory, grouping results by machine — and, against a real single-node Slurm cluster started on this machine
(tests/slurm/start_cluster.sh), a sweep submitted through the CLI, followed, collected (twice), compared by
machine, and a task killed while it runs that becomes an error row and is completed by ``resubmit --failed``.

The scheduler outputs under tests/slurm/fixtures/ were captured from that real cluster (Slurm 22.05). The unit
tests' result files are hand-built fixtures, never presented as measurements; the Slurm tests measure for real.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import wb

from workbench.campaign.cells import CellSpec, SweepSpec
from workbench.cluster import fleet, slurm
from workbench.errors import UsageError
from workbench.result import EngineResult, RunRecord
from workbench.stats.machines import compare_machines, machine_key
from workbench.store.history import HistoryStore

TESTS = Path(__file__).parent
FIXTURES = TESTS / "slurm" / "fixtures"
START = TESTS / "slurm" / "start_cluster.sh"
INSTALL_HINT = "install slurm-wlm and munge (apt-get install slurm-wlm munge) to run the Slurm tests"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


#: The real ``workbench`` command in a child (the environment — WORKBENCH_HOME, WORKBENCH_CACHE — travels on to
#: sbatch and from there to the array tasks).
cli = partial(wb, timeout=120)


# ================================================================================================ the script
def options(**kw: Any) -> slurm.ScriptOptions:
    base: dict[str, Any] = dict(
        sweep_id="3fa2c1d0e9ab",
        model="resnet50",
        partition="xeon-spr",
        indices=(0, 1, 2, 3),
        fleet_dir="/shared/fleet/3fa2c1d0e9ab",
        python="/opt/venv/bin/python",
        cpus_per_task=32,
    )
    base.update(kw)
    return slurm.ScriptOptions(**base)


def sbatch_lines(script: str) -> list[str]:
    return [ln[len("#SBATCH ") :] for ln in script.splitlines() if ln.startswith("#SBATCH ")]


def test_the_script_asks_for_one_exclusive_node_per_cell_and_runs_the_cell_runner():
    script = slurm.render_script(options(physical_cores=True, time_limit_min=30))
    assert script.startswith("#!/bin/bash\n")
    assert sbatch_lines(script) == [
        "--job-name=wb-resnet50-3fa2c1d0",
        "--partition=xeon-spr",
        "--array=0-3",
        "--nodes=1",
        "--ntasks=1",
        "--cpus-per-task=32",
        "--exclusive",
        "--hint=nomultithread",
        "--time=30",
        "--output=/shared/fleet/3fa2c1d0e9ab/logs/slurm-%A_%a.out",
        "--open-mode=append",
    ]
    # the same interpreter, the cell's job file by array index, the result on the shared filesystem
    assert "PY=/opt/venv/bin/python" in script
    assert '"$PY" -m workbench sweep-cell "$FLEET/jobs/$N.json" "$FLEET/results/$PART/$N.json"' in script
    assert 'N=$(printf "%04d" "$TASK")' in script
    assert '"$FLEET/exits/$PART/$N.json"' in script  # the exit code, for tasks that leave no result
    assert '"$PY" -m workbench sysinfo --json' in script  # the node's machine, once per node
    assert script.rstrip().endswith('exit "$RC"')
    if shutil.which("bash"):
        check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_the_script_leaves_out_what_was_not_asked_for():
    lines = sbatch_lines(slurm.render_script(options(exclusive=False, indices=(0, 2, 3, 4, 9))))
    assert "--exclusive" not in lines
    assert not any(ln.startswith(("--hint", "--time")) for ln in lines)
    assert "--array=0,2-4,9" in lines


def test_the_script_quotes_paths_with_spaces():
    script = slurm.render_script(options(fleet_dir="/shared/my fleet/x", python="/opt/my env/bin/python"))
    assert "FLEET='/shared/my fleet/x'" in script
    assert "PY='/opt/my env/bin/python'" in script


@pytest.mark.parametrize("bad", ["", "a b", "-x", "p;rm"])
def test_a_bad_partition_name_is_one_line(bad):
    with pytest.raises(UsageError, match="not a partition name"):
        slurm.render_script(options(partition=bad))


def test_array_specs_round_trip():
    assert slurm.array_spec([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert slurm.parse_array_spec("0-2,5,7-8") == [0, 1, 2, 5, 7, 8]
    assert slurm.parse_array_spec("[1-9:4]%2") == [1, 5, 9]
    with pytest.raises(UsageError):
        slurm.array_spec([])
    assert slurm.sbatch_argv("/f/s.sbatch", [3, 4, 6]) == ["sbatch", "--parsable", "--array=3-4,6", "/f/s.sbatch"]


# ================================================================================================ parsing
def test_squeue_output_of_finished_tasks():
    tasks = {t.index: t for t in slurm.parse_squeue(fixture("squeue_4.txt"))}
    assert sorted(tasks) == [0, 1, 3]  # task 2 was cancelled while pending: the controller forgot it
    assert tasks[0].state == "FAILED" and tasks[0].reason == "NonZeroExitCode" and tasks[0].task_job_id == "5"
    assert tasks[1].state == "TIMEOUT" and tasks[1].reason == "TimeLimit" and tasks[1].node == "vm"
    assert all(t.array_job_id == "4" and t.partition == "wb-b" and t.failed for t in tasks.values())


def test_squeue_output_of_pending_and_running_tasks():
    tasks = {t.index: t for t in slurm.parse_squeue(fixture("squeue_running.txt"))}
    assert tasks[2].state == "PENDING" and tasks[2].reason == "Resources" and tasks[2].node is None
    assert tasks[0].state == "RUNNING" and tasks[0].active and tasks[0].elapsed == "0:02"
    held = slurm.parse_squeue(fixture("squeue_pending.txt"))
    assert [t.index for t in held] == [0, 1, 2, 3] and {t.reason for t in held} == {"JobHeldUser"}


def test_scontrol_gives_exit_codes_and_expands_pending_ranges():
    tasks = {t.index: t for t in slurm.parse_scontrol(fixture("scontrol_4.txt"))}
    assert (tasks[0].exit_code, tasks[0].signal) == (3, 0)
    assert tasks[1].state == "TIMEOUT" and tasks[1].signal == 15 and tasks[1].time_limit == "00:01:00"
    assert tasks[3].signal == 9
    pending = slurm.parse_scontrol(fixture("scontrol_pending.txt"))
    assert [t.index for t in pending] == [0, 1, 2, 3] and {t.state for t in pending} == {"PENDING"}
    cancelled = {t.index: t for t in slurm.parse_scontrol(fixture("scontrol_cancelled.txt"))}
    assert cancelled[0].state == "CANCELLED" and cancelled[1].state == "RUNNING"


def test_a_failure_reads_as_one_line_with_the_schedulers_reason():
    squeue = {t.index: t for t in slurm.parse_squeue(fixture("squeue_4.txt"))}
    scontrol = {t.index: t for t in slurm.parse_scontrol(fixture("scontrol_4.txt"))}
    timeout = squeue[1].merged(scontrol[1])
    line = slurm.describe_failure(timeout)
    assert line.startswith("slurm TIMEOUT: task 1 of job 4 hit its time limit")
    assert "on node vm" in line and "Reason=TimeLimit" in line and "exit 0:15" in line
    assert "exited non-zero" in slurm.describe_failure(squeue[0].merged(scontrol[0]))


def test_sinfo_partitions():
    parts = slurm.parse_sinfo(fixture("sinfo.txt") + "wb-a|up|3|64|n[1-3]\n")
    assert parts["wb-a"].nodes == 4 and parts["wb-a"].cpus == 2  # the smallest node counts
    assert parts["wb-b"].available == "up"


def test_missing_slurm_commands_say_this_is_not_a_login_node(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError, match="sbatch not found: this machine is not a Slurm login node"):
        slurm.sbatch("/x.sbatch")
    spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime",))
    with pytest.raises(UsageError, match="sbatch not found"):
        fleet.submit_sweep(
            spec, [CellSpec("onnxruntime")], ["a"], dry_run=False, fleet_dir=None, exclusive=True,
            physical_cores=False, time_limit_min=None,
        )  # fmt: skip


# ================================================================================================ dry run
def test_dry_run_through_the_cli_prints_the_exact_scripts_and_writes_nothing(monkeypatch, tmp_path, capsys):
    from workbench.cli import main

    monkeypatch.setenv("PATH", str(tmp_path))  # no Slurm here: a dry run still works
    rc = main(
        ["sweep", "-m", "tiny_cnn", "-e", "onnxruntime,openvino", "--threads", "1,2", "--on", "slurm",
         "--partition", "xeon-spr,xeon-icx", "--dry-run", "--physical-cores", "--time", "20",
         "--fleet-dir", str(tmp_path / "shared")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert out.count("#!/bin/bash") == 2
    assert "#SBATCH --partition=xeon-spr" in out and "#SBATCH --partition=xeon-icx" in out
    assert "#SBATCH --array=0-3" in out and "#SBATCH --cpus-per-task=2" in out
    assert "#SBATCH --exclusive" in out and "#SBATCH --hint=nomultithread" in out and "#SBATCH --time=20" in out
    assert f"PY={sys.executable}" in out
    assert "nothing written, nothing submitted" in out
    assert "$ sbatch --parsable " in out
    assert not (tmp_path / "shared").exists()


def test_max_memory_is_refused_on_slurm():
    spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime",), max_memory_mb=512)
    with pytest.raises(UsageError, match="--max-memory is not available with --on slurm"):
        fleet.submit_sweep(
            spec, [CellSpec("onnxruntime")], ["a"], dry_run=True, fleet_dir=None, exclusive=True,
            physical_cores=False, time_limit_min=None,
        )  # fmt: skip


# ================================================================================================ status/collect
SYSTEMS = {
    "fast": {
        "fingerprint": "fa57fa57fa57",
        "fingerprint_fields": {
            "cpu_model": "Intel(R) Xeon(R) Platinum 8480+", "machine": "x86_64", "sockets": 2, "physical_cores": 112,
            "logical_cpus": 224, "isa": ["AMX-BF16", "AVX-512", "AVX512-VNNI"], "memory_total_gib": 503,
            "kernel": "6.1",
        },
        "hostname": "spr1",
    },
    "slow": {
        "fingerprint": "5105105105a0",
        "fingerprint_fields": {
            "cpu_model": "Intel(R) Xeon(R) Gold 6338", "machine": "x86_64", "sockets": 2, "physical_cores": 64,
            "logical_cpus": 128, "isa": ["AVX-512", "AVX512-VNNI"], "memory_total_gib": 251, "kernel": "6.1",
        },
        "hostname": "icx1",
    },
}  # fmt: skip


def fake_submission(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, partitions: list[str], cells: list[CellSpec], job_ids: list[str]
) -> fleet.Submission:
    """A real fleet directory written by submit_sweep, with sbatch replaced by handing out ``job_ids``."""
    ids = iter(job_ids)
    monkeypatch.setattr(slurm, "require", lambda cmd: f"/usr/bin/{cmd}")
    monkeypatch.setattr(slurm, "sbatch", lambda path, indices=None, cwd=None: next(ids))
    monkeypatch.setattr(fleet.shutil, "which", lambda cmd: None)  # no sinfo: no partition check
    spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime",), threads=(1, 2), duration_s=0.3, tags=("t",))
    return fleet.submit_sweep(
        spec, cells, partitions, dry_run=False, fleet_dir=tmp_path / "shared", exclusive=True, physical_cores=False,
        time_limit_min=None,
    )  # fmt: skip


def scheduler(monkeypatch: pytest.MonkeyPatch, squeue: str, scontrol: str) -> None:
    monkeypatch.setattr(fleet.shutil, "which", lambda cmd: f"/usr/bin/{cmd}")
    monkeypatch.setattr(slurm, "squeue", lambda ids: slurm.parse_squeue(squeue))
    monkeypatch.setattr(slurm, "scontrol_jobs", lambda job: slurm.parse_scontrol(scontrol))


def write_result(sub: fleet.Submission, partition: str, index: int, system: str, p50: float, thr: float) -> None:
    cell = sub.cells[index]
    result = EngineResult(
        engine=cell.engine, model="tiny_cnn", threads=cell.threads, batch=cell.batch, precision_requested="fp32",
        precision_effective="fp32", latency_ms={"p50": p50, "p99": p50 * 1.2}, throughput=thr, iterations=100,
        cell=cell.to_dict() | {"key": cell.key()},
    )  # fmt: skip
    sysd = SYSTEMS[system]
    doc = {
        "sweep_id": sub.sweep_id, "index": index, "cell": cell.to_dict() | {"key": cell.key()},
        "result": result.to_dict(), "system": sysd, "versions": {"onnxruntime": "1.20"},
        "model": {"name": "tiny_cnn", "source": "builtin"}, "config": {"model": "tiny_cnn", "device": "cpu"},
        "host": f"{sysd['hostname']}.cluster.example", "started": "2026-01-01T10:00:00+00:00",
        "finished": "2026-01-01T10:00:05+00:00",
    }  # fmt: skip
    path = sub.fleet_dir / "results" / partition / f"{index:04d}.json"
    path.write_text(json.dumps(doc))


CELLS4 = [CellSpec("onnxruntime", threads=t, batch=b) for b in (1, 8) for t in (1, 2)]


def test_status_reads_results_and_the_schedulers_reasons(monkeypatch, tmp_path):
    sub = fake_submission(monkeypatch, tmp_path, ["wb-b"], CELLS4, ["4"])
    assert (sub.fleet_dir / "script-wb-b.sbatch").read_text() == sub.scripts()["wb-b"]
    assert json.loads((sub.fleet_dir / "jobs" / "0002.json").read_text())["cell"] == CELLS4[2].to_dict()
    assert fleet.load(sub.sweep_id[:6]).sweep_id == sub.sweep_id  # by prefix, through the registry
    assert fleet.load(str(sub.fleet_dir)).sweep_id == sub.sweep_id  # or by its directory
    (sub.fleet_dir / "logs" / "slurm-4_1.out").write_text(
        "workbench fleet: cell 1 on vm\nslurmstepd-vm: error: *** JOB 6 ON vm CANCELLED AT 2026-12-01T22:51:57 "
        "DUE TO TIME LIMIT ***\n"
    )
    write_result(sub, "wb-b", 2, "fast", 1.0, 900.0)  # task 2 left a result: final, whatever squeue says
    scheduler(monkeypatch, fixture("squeue_4.txt"), fixture("scontrol_4.txt"))
    st = fleet.status(fleet.load(sub.sweep_id))
    cells = {c.index: c for c in st.cells}
    assert cells[2].state == "done" and cells[2].node == "spr1"
    assert cells[0].state == "failed" and "exited non-zero" in (cells[0].reason or "") and cells[0].exit_code == 3
    assert cells[1].state == "failed" and "TIMEOUT" in (cells[1].reason or "")
    assert "DUE TO TIME LIMIT" in (cells[1].reason or "") and "DUE TO TIME LIMIT" in (cells[1].detail or "")
    assert st.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 3, "unknown": 0}

    # the controller forgets finished jobs (MinJobAge): what was seen is kept in observed.json
    scheduler(monkeypatch, "", "")
    again = {c.index: c for c in fleet.status(sub).cells}
    assert "TIMEOUT" in (again[1].reason or "") and again[1].state == "failed"


def test_a_task_the_scheduler_forgot_without_a_result_is_lost_and_no_scheduler_means_unknown(monkeypatch, tmp_path):
    sub = fake_submission(monkeypatch, tmp_path, ["wb-a"], CELLS4[:3], ["7"])
    scheduler(monkeypatch, fixture("squeue_running.txt"), fixture("scontrol_running.txt"))
    st = fleet.status(sub)
    assert [c.state for c in st.cells] == ["running", "running", "pending"]
    assert st.cells[2].reason == "Resources"
    scheduler(monkeypatch, "", "")  # all three gone, none left a result
    st = fleet.status(sub)
    assert {c.state for c in st.cells} == {"failed"}
    assert all((c.reason or "").startswith("lost: the scheduler no longer knows task") for c in st.cells)
    monkeypatch.setattr(fleet.shutil, "which", lambda cmd: None)  # collecting where there is no Slurm
    (sub.fleet_dir / OBS).unlink()
    st = fleet.status(sub)
    assert {c.state for c in st.cells} == {"unknown"} and st.notes and not st.scheduler


OBS = fleet.OBSERVED


def test_collect_files_one_record_per_machine_and_is_idempotent(monkeypatch, tmp_path, capsys):
    sub = fake_submission(monkeypatch, tmp_path, ["xeon-spr", "xeon-icx"], CELLS4, ["20", "21"])
    pending = "\n".join(
        f"{j}_{i}|{j}|{j}|{i}|PENDING|Priority||{p}|0:00|UNLIMITED|N/A|N/A"
        for j, p in (("20", "xeon-spr"), ("21", "xeon-icx"))
        for i in range(4)
    )
    scheduler(monkeypatch, pending, "")
    store = HistoryStore()
    assert fleet.collect(sub, store).records == [] and store.count() == 0  # nothing finished yet

    for i, (p50, thr) in enumerate([(2.0, 500.0), (1.2, 820.0), (9.0, 880.0), (6.0, 1300.0)]):
        write_result(sub, "xeon-spr", i, "fast", p50, thr)
    write_result(sub, "xeon-icx", 0, "slow", 3.0, 330.0)  # icx: one done, the rest still pending
    running = pending.replace("21_1|21|21|1|PENDING|Priority||", "21_1|22|21|1|RUNNING|None|icx1")
    scheduler(monkeypatch, running, "")
    first = fleet.collect(sub, store)
    assert sorted(r["action"] for r in first.records) == ["added", "added"]
    assert first.outstanding == 3 and store.count() == 2
    by_fp = {r["fingerprint"]: r for r in first.records}
    assert by_fp["fa57fa57fa57"]["state"] == "complete" and by_fp["5105105105a0"]["state"] == "running"
    assert by_fp["fa57fa57fa57"]["run_id"] == fleet.record_run_id(sub.sweep_id, "fa57fa57fa57")

    again = fleet.collect(sub, store)  # nothing changed: nothing written, no duplicates
    assert [r["action"] for r in again.records] == ["unchanged", "unchanged"] and store.count() == 2

    write_result(sub, "xeon-icx", 1, "slow", 2.0, 900.0)  # partial results grow into the same record
    grown = {r["fingerprint"]: r for r in fleet.collect(sub, store).records}
    assert grown["5105105105a0"]["action"] == "updated" and grown["5105105105a0"]["ok"] == 2
    assert grown["fa57fa57fa57"]["action"] == "unchanged" and store.count() == 2

    rec = store.get(grown["fa57fa57fa57"]["run_id"])
    assert rec.kind == "sweep" and rec.system["fingerprint"] == "fa57fa57fa57" and "fleet" in rec.tags
    assert [r.cell["index"] for r in rec.results] == [0, 1, 2, 3]
    assert {r.cell["partition"] for r in rec.results} == {"xeon-spr"} and rec.results[0].cell["node"] == "spr1"
    assert rec.sweep is not None and rec.sweep["fleet"]["sweep_id"] == sub.sweep_id
    assert rec.sweep["cells_done"] == 4 and rec.sweep["cells_total"] == 4

    # and across machines: the best node type per objective, with its best configuration and the spread
    cmp = compare_machines(store.list(model="tiny_cnn", limit=None), "tiny_cnn")
    lat, thr = cmp.rankings["latency"], cmp.rankings["throughput"]
    assert lat.winner is not None and lat.winner["machine"] == machine_key(SYSTEMS["fast"])
    assert lat.winner["best"]["config"]["label"] == "onnxruntime fp32 t2 b1 latency"
    assert lat.winner["best"]["value"] == 1.2 and lat.rows[1]["best"]["value"] == 2.0
    assert lat.rows[1]["vs_best"] == pytest.approx(2.0 / 1.2)
    assert thr.winner is not None and thr.winner["best"]["config"]["label"] == "onnxruntime fp32 t2 b8 latency"
    assert thr.winner["spread"]["ratio"] == pytest.approx(1300 / 500)  # settings matter 2.6× on that machine
    assert thr.spread() == pytest.approx(1300 / 900)

    from workbench.cli import main

    capsys.readouterr()
    page = tmp_path / "machines.html"
    assert main(["compare", "--by", "machine", "-m", "tiny_cnn", "--html", str(page)]) == 0
    text = capsys.readouterr().out
    assert "latency (p50 per inference call" in text and "Xeon Platinum 8480+" in text and "1.67×" in text
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "Xeon Gold 6338" in html
    assert main(["recommend", "-m", "tiny_cnn", "--across-machines", "-o", "throughput", "--json", "-"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["objectives"]["throughput"]["winner"]["best"]["value"] == 1300


def test_failed_cells_become_error_rows_under_their_nodes_machine(monkeypatch, tmp_path):
    sub = fake_submission(monkeypatch, tmp_path, ["wb-b"], CELLS4, ["4"])
    (sub.fleet_dir / "nodes" / "vm.json").write_text(json.dumps(SYSTEMS["slow"]))  # written by the script
    write_result(sub, "wb-b", 2, "slow", 1.0, 900.0)
    scheduler(monkeypatch, fixture("squeue_4.txt"), fixture("scontrol_4.txt"))
    st = fleet.status(sub)
    records, unfiled = fleet.build_records(st)
    assert len(records) == 1 and not unfiled
    rows = {r.cell["index"]: r for r in records[0].results if r.cell}
    assert rows[2].ok and not rows[1].ok and rows[1].error and rows[1].error.startswith("slurm TIMEOUT")
    assert rows[0].error and "exit 3:0" in rows[0].error and rows[3].threads == CELLS4[3].threads
    assert records[0].sweep is not None and records[0].sweep["state"] == "complete"

    # resubmit --failed: only the failed indices, as one new array job; the old files move aside
    (sub.fleet_dir / "exits" / "wb-b" / "0000.json").write_text(json.dumps({"exit_code": 3, "array_job_id": "4"}))
    sent: list[Any] = []
    monkeypatch.setattr(slurm, "sbatch", lambda path, indices=None, cwd=None: sent.append(list(indices or [])) or "30")
    report = fleet.resubmit_failed(sub)
    assert sent == [[0, 1, 3]] and report.arrays["wb-b"].job_id == "30"
    assert not (sub.fleet_dir / "exits" / "wb-b" / "0000.json").exists()
    assert (sub.fleet_dir / "attempts" / "wb-b" / "0000.exits.4.json").exists()
    reloaded = fleet.load(sub.sweep_id)
    assert [a.job_id for a in reloaded.partitions["wb-b"].arrays] == ["4", "30"]
    scheduler(monkeypatch, "30_0|31|30|0|PENDING|Resources||wb-b|0:00|1:00|N/A|N/A\n", "")
    st = {c.index: c for c in fleet.status(reloaded).cells}
    assert st[0].state == "pending" and st[0].job == "30_0" and st[2].state == "done"


def test_a_partition_sbatch_refused_is_said_and_resubmit_failed_submits_it(monkeypatch, tmp_path):
    calls: list[str] = []

    def refuse_second(path: str, indices: Any = None, cwd: Any = None) -> str:
        calls.append(path)
        if len(calls) == 2:
            raise slurm.SlurmError("sbatch refused script-b.sbatch: sbatch: error: Batch job submission failed")
        return str(40 + len(calls))

    monkeypatch.setattr(slurm, "require", lambda cmd: f"/usr/bin/{cmd}")
    monkeypatch.setattr(fleet.shutil, "which", lambda cmd: None)
    monkeypatch.setattr(slurm, "sbatch", refuse_second)
    with pytest.raises(slurm.SlurmError, match="partitions a were submitted as sweep") as err:
        spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime",))
        fleet.submit_sweep(
            spec, CELLS4[:2], ["a", "b"], dry_run=False, fleet_dir=tmp_path / "s2", exclusive=True,
            physical_cores=False, time_limit_min=None,
        )  # fmt: skip
    sweep_id = str(err.value).split("as sweep ")[1].split()[0].rstrip(";")
    scheduler(monkeypatch, "41_0|41|41|0|RUNNING|None|vm|a\n41_1|42|41|1|PENDING|Resources||a\n", "")
    st = fleet.status(fleet.load(sweep_id))
    assert [c.state for c in st.cells] == ["running", "pending", "failed", "failed"]
    assert (st.cells[2].reason or "").startswith("not submitted: sbatch refused partition b")
    monkeypatch.setattr(slurm, "sbatch", lambda path, indices=None, cwd=None: calls.append(path) or "50")
    report = fleet.resubmit_failed(fleet.load(sweep_id))
    assert (
        list(report.arrays) == ["b"] and report.arrays["b"].indices == [0, 1] and calls[-1].endswith("script-b.sbatch")
    )


def test_resubmit_needs_failed(capsys):
    from workbench.cli import main

    assert main(["fleet", "resubmit", "abc"]) == 2
    assert "--failed" in capsys.readouterr().err


def test_compare_by_machine_cli_needs_a_model_and_handles_an_empty_history(capsys):
    from workbench.cli import main

    assert main(["compare", "--by", "machine"]) == 2
    assert "needs the model" in capsys.readouterr().err
    assert main(["compare", "--by", "machine", "-m", "nothing-here"]) == 2
    assert "no stored results of model 'nothing-here'" in capsys.readouterr().err


def test_parity_failures_never_win_and_results_group_by_hardware_not_kernel():
    def rec(run_id: str, kernel: str, p50: float, parity: str | None) -> RunRecord:
        sysd = json.loads(json.dumps(SYSTEMS["fast"]))
        sysd["fingerprint_fields"]["kernel"] = kernel
        sysd["fingerprint"] = f"fp-{kernel}"
        r = EngineResult(engine="openvino", model="m", latency_ms={"p50": p50}, throughput=1000 / p50, threads=4,
                         precision_requested="bf16", precision_effective="bf16",
                         parity={"status": parity} if parity else None)  # fmt: skip
        return RunRecord(run_id, "2026-01-01T00:00:00+00:00", {"name": "m"}, {}, sysd, {}, [r])

    cmp = compare_machines([rec("a", "6.1", 2.0, "pass"), rec("b", "6.5", 1.0, "fail"), rec("c", "6.5", 3.0, None)])
    assert len(cmp.machines) == 1 and cmp.machines[0].fingerprints == {"fp-6.1", "fp-6.5"}
    assert cmp.machines[0].excluded_parity == 1
    best = cmp.rankings["latency"].winner
    assert best is not None and best["best"]["value"] == 2.5 and best["best"]["repeats"] == 2  # median of 2 and 3


# ================================================================================================ real Slurm
@pytest.fixture(scope="session")
def slurm_cluster() -> list[str]:
    """A real single-node Slurm on this machine (tests/slurm/start_cluster.sh installs and starts it where it can:
    root and apt-get; reuses one it started before). Skips with one line elsewhere."""
    if os.environ.get("WORKBENCH_SKIP_SLURM"):
        pytest.skip("WORKBENCH_SKIP_SLURM is set")
    have = all(shutil.which(c) for c in ("sbatch", "squeue", "scontrol", "slurmd", "slurmctld", "munged"))
    if not have and (os.geteuid() != 0 or not shutil.which("apt-get")):
        pytest.skip(INSTALL_HINT)
    try:
        proc = subprocess.run(["bash", str(START)], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip(f"{INSTALL_HINT} (starting the local cluster took over 10 minutes)")
    if proc.returncode == 3:
        why = (proc.stderr.strip().splitlines() or [""])[-1]
        pytest.skip(f"{INSTALL_HINT} ({why.removeprefix('start_cluster: ')})")
    assert proc.returncode == 0, f"tests/slurm/start_cluster.sh failed:\n{proc.stderr[-3000:]}"
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("partitions: ")][-1]
    return line.removeprefix("partitions: ").split(",")


def wait_until(sweep_id: str, done: Any, timeout: float = 90.0) -> fleet.FleetStatus:
    deadline = time.monotonic() + timeout
    while True:
        st = fleet.status(fleet.load(sweep_id))
        if done(st):
            return st
        if time.monotonic() > deadline:
            states = [(c.partition, c.index, c.state, c.reason) for c in st.cells]
            pytest.fail(f"fleet sweep {sweep_id} did not get there in {timeout:g} s: {states}")
        time.sleep(0.5)


def submitted_id(out: str) -> str:
    first = out.strip().splitlines()[0]
    assert first.startswith("submitted sweep "), out
    return first.split()[2]


@pytest.mark.slow
@pytest.mark.timeout(600)  # the first Slurm test may install and start the cluster
def test_a_real_sweep_on_slurm_submit_status_collect_twice_history_and_compare(slurm_cluster, shared_cache):
    parts = slurm_cluster[:2]
    nope = cli("sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--on", "slurm", "--partition", "no-such-partition")
    assert nope.returncode == 2 and "partition 'no-such-partition' does not exist on this cluster" in nope.stderr
    proc = cli(
        "sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--threads", "1,2", "--duration", "0.3", "--warmup", "0.1",
        "--on", "slurm", "--partition", ",".join(parts), "--time", "5",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sweep_id = submitted_id(proc.stdout)
    sub = fleet.load(sweep_id)
    assert set(sub.job_ids()) == set(parts) and all(len(v) == 1 for v in sub.job_ids().values())

    status = cli("fleet", "status", sweep_id)  # right away: the cells are pending or running
    assert status.returncode == 0 and "tiny_cnn" in status.stdout
    st = wait_until(sweep_id, lambda s: s.finished, timeout=100)
    assert st.counts()["done"] == 2 * len(parts), [(c.index, c.reason) for c in st.cells]

    as_json = json.loads(cli("fleet", "status", sweep_id, "--json").stdout)
    assert as_json["counts"]["done"] == 4 and all(c["p50_ms"] > 0 for c in as_json["cells"])

    first = json.loads(cli("fleet", "collect", sweep_id, "--json").stdout)
    second = json.loads(cli("fleet", "collect", sweep_id, "--json").stdout)
    assert [r["action"] for r in first["records"]] == ["added"]  # one node: one machine, one record
    assert [r["action"] for r in second["records"]] == ["unchanged"]
    node = json.loads(next((sub.fleet_dir / "nodes").glob("*.json")).read_text())
    runs = json.loads(cli("history", "list", "--json").stdout)["runs"]
    assert len(runs) == 1  # collected twice, stored once
    run = runs[0]
    assert run["run_id"] == first["records"][0]["run_id"] and run["kind"] == "sweep"
    assert run["system"]["fingerprint"] == node["fingerprint"] == first["records"][0]["fingerprint"]
    assert len(run["results"]) == 4 and {r["cell"]["partition"] for r in run["results"]} == set(parts)
    listed = cli("history", "list")
    assert run["run_id"] in listed.stdout and "tiny_cnn" in listed.stdout
    assert node["fingerprint"] in listed.stdout  # the node's machine, in the list itself
    shown = cli("history", "show", run["run_id"])
    assert f"machine fingerprint: {node['fingerprint']}" in shown.stdout

    cmp = cli("compare", "--by", "machine", "-m", "tiny_cnn")
    assert cmp.returncode == 0, cmp.stderr
    assert machine_key(node) in cmp.stdout and "onnxruntime fp32 t" in cmp.stdout
    rec = cli("recommend", "-m", "tiny_cnn", "--across-machines", "-o", "latency,throughput")
    assert rec.returncode == 0 and "latency:" in rec.stdout and "throughput:" in rec.stdout


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_task_killed_while_running_becomes_an_error_row_and_resubmit_failed_completes_it(slurm_cluster, shared_cache):
    proc = cli(
        "sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--threads", "1", "--duration", "10", "--warmup", "0.1",
        "--on", "slurm", "--partition", slurm_cluster[0], "--time", "5",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sweep_id = submitted_id(proc.stdout)
    sub = fleet.load(sweep_id)
    # running, and far enough that the node's machine description is written: then kill the task
    st = wait_until(sweep_id, lambda s: s.cells[0].state == "running" and any((sub.fleet_dir / "nodes").glob("*.json")))
    job = st.cells[0].job
    assert job is not None
    slurm.scancel(job)
    st = wait_until(sweep_id, lambda s: s.cells[0].state == "failed", timeout=60)
    assert (st.cells[0].reason or "").startswith(f"slurm CANCELLED: task 0 of job {job.split('_')[0]}")

    status = cli("fleet", "status", sweep_id)
    assert status.returncode == 1 and "CANCELLED" in status.stdout and "resubmit" in status.stdout
    collected = json.loads(cli("fleet", "collect", sweep_id, "--json").stdout)
    rec = HistoryStore().get(collected["records"][0]["run_id"])
    assert [r.status for r in rec.results] == ["failed"] and "CANCELLED" in (rec.results[0].error or "")
    assert rec.system.get("fingerprint")  # filed under the node it ran on

    again = cli("fleet", "resubmit", sweep_id, "--failed")
    assert again.returncode == 0 and "resubmitted 1 cell (0000)" in again.stdout, again.stderr
    st = wait_until(sweep_id, lambda s: s.finished, timeout=90)
    assert st.cells[0].state == "done", st.cells[0].reason
    assert st.cells[0].job != job  # the new attempt

    collected = json.loads(cli("fleet", "collect", sweep_id, "--json").stdout)
    assert [r["action"] for r in collected["records"]] == ["updated"]
    rec = HistoryStore().get(collected["records"][0]["run_id"])
    assert [r.status for r in rec.results] == ["ok"] and rec.results[0].duration_s >= 10
    assert HistoryStore().count() == 1
    nothing = cli("fleet", "resubmit", sweep_id, "--failed")
    assert "no failed cells" in nothing.stdout
