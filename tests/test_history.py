"""The history store: CRUD, ids, filters, safety (processes, kill -9, corruption), migrations.

Records here are test fixtures built from seeded synthetic samples — never presented as measurements.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_cli

from workbench.errors import UsageError, WorkbenchError
from workbench.result import SCHEMA_VERSION, EngineResult, RunRecord, new_run_id
from workbench.stats.histogram import LogHistogram
from workbench.stats.summary import summarize
from workbench.store.history import MIGRATIONS, SYSTEMS, TABLE, HistoryStore, migrate_record, parse_since

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------- fixtures


def make_result(
    engine: str = "torch", scale_ms: float = 2.0, seed: int = 0, n: int = 2000, sigma: float = 0.05, **kw
) -> EngineResult:
    rng = np.random.default_rng(seed)
    samples = rng.lognormal(np.log(scale_ms * 1e6), sigma, n).astype(np.int64)
    h = LogHistogram()
    h.add(samples)
    s = summarize(samples).scaled(1e-6)
    lat = {"mean": s.mean, "std": s.std, "min": s.min, "max": s.max, **s.percentiles}
    fields = dict(
        engine=engine,
        model="resnet18",
        engine_version="1.0",
        precision_effective="fp32",
        threads=4,
        cores=[0, 1, 2, 3],
        latency_ms=lat,
        median_ci_ms=list(s.median_ci),
        throughput=1000.0 / s.mean,
        iterations=n,
        duration_s=n * s.mean / 1000.0,
        histogram=h.to_dict(),
    )
    fields.update(kw)
    return EngineResult(**fields)


def make_record(
    *,
    run_id: str | None = None,
    created: str | None = None,
    model: str = "resnet18",
    engines: tuple[str, ...] = ("torch", "onnxruntime"),
    tags: tuple[str, ...] = (),
    seed: int = 0,
    system: dict | None = None,
    results: list[EngineResult] | None = None,
) -> RunRecord:
    if results is None:
        results = [make_result(e, 2.0 + i, seed + i, n=500) for i, e in enumerate(engines)]
    return RunRecord(
        run_id=run_id or new_run_id(),
        created=created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        model={"name": model, "source": "zoo"},
        config={"mode": "latency", "batch": 1, "threads": 4, "cores": [0, 1, 2, 3], "precision": "fp32"},
        system=system
        if system is not None
        else {"fingerprint": "fp-a", "fingerprint_fields": {"cpu_model": "X"}, "cpu_model": "X", "hostname": "h"},
        versions={"numpy": "2.0", "torch": "2.5"},
        results=results,
        tags=list(tags),
    )


def ago(**kw) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(**kw)).isoformat(timespec="seconds")


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_HISTORY", raising=False)
    return tmp_path


@pytest.fixture()
def store(home):
    return HistoryStore()


# -------------------------------------------------------------------------------------------------------- CRUD


def test_add_get_roundtrip_and_count(store, home):
    rec = make_record()
    assert store.add(rec) == rec.run_id
    assert store.count() == 1
    assert store.path == home / "data" / "history.json"
    got = store.get(rec.run_id)
    assert got.to_dict() == rec.to_dict()
    assert got.schema == SCHEMA_VERSION


def test_duplicate_add_is_not_stored_twice(store):
    rec = make_record()
    store.add(rec)
    assert store.add(rec) == rec.run_id
    assert store.count() == 1
    assert store.import_records([rec, make_record(run_id=rec.run_id)]) == (0, 2)


def test_import_records_counts_added_and_duplicates(store):
    a, b = make_record(), make_record()
    assert store.import_records([a, b, a]) == (2, 1)
    assert store.import_records([a.to_dict(), make_record()]) == (1, 1)  # dicts accepted too
    assert store.count() == 3


def test_history_env_override(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WORKBENCH_HISTORY", str(tmp_path / "elsewhere" / "h.json"))
    s = HistoryStore()
    s.add(make_record())
    assert (tmp_path / "elsewhere" / "h.json").exists()


def test_file_and_lock_are_private(store):
    store.add(make_record())
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.lock_path).st_mode) == 0o600


def test_file_is_compact_tinydb_json_with_index_and_shared_system(store):
    sysinfo = {"fingerprint": "fp-a", "cpu_model": "X", "isa_flags": ["sse", "avx2"] * 50}
    store.add(make_record(system=sysinfo, tags=("nightly",)))
    store.add(make_record(system=sysinfo))
    raw = store.path.read_text()
    assert "\n" not in raw and ", " not in raw  # compact separators
    doc = json.loads(raw)
    runs = list(doc[TABLE].values())
    assert {r["model"] for r in runs} == {"resnet18"} and runs[0]["engines"] == ["onnxruntime", "torch"]
    assert len(doc[SYSTEMS]) == 1  # the machine description is stored once
    assert all(r["sys"] == runs[0]["sys"] for r in runs)
    assert store.get("latest").system == sysinfo


# ------------------------------------------------------------------------------------------------ ids, latest


def test_prefix_latest_and_errors(store):
    old = make_record(run_id="abc111000000", created=ago(hours=3))
    mid = make_record(run_id="abd222000000", created=ago(hours=2))
    new = make_record(run_id="ffe333000000", created=ago(hours=1))
    for r in (new, old, mid):  # insertion order must not matter
        store.add(r)
    assert store.get("abc1").run_id == old.run_id
    assert store.get("FFE").run_id == new.run_id  # case-insensitive
    assert store.get("latest").run_id == new.run_id
    assert store.get("latest~1").run_id == mid.run_id
    assert store.get("latest~2").run_id == old.run_id
    with pytest.raises(UsageError, match="ambiguous.*abc111000000.*abd222000000|ambiguous.*abd222000000.*abc111000000"):
        store.get("ab")
    with pytest.raises(UsageError, match="no run 'zzz'"):
        store.get("zzz")
    with pytest.raises(UsageError, match="holds only 3"):
        store.get("latest~3")


def test_latest_on_empty_history(store):
    with pytest.raises(UsageError, match="empty"):
        store.get("latest")
    assert store.list() == [] and store.count() == 0


# ------------------------------------------------------------------------------------------------------ filters


def test_list_filters_and_order(store):
    r1 = make_record(model="resnet18", engines=("torch",), created=ago(days=10), tags=("nightly",))
    r2 = make_record(model="bert-tiny", engines=("openvino",), created=ago(days=2))
    r3 = make_record(model="ResNet18", engines=("onnxruntime", "openvino"), created=ago(hours=1), tags=("pr",))
    store.import_records([r1, r2, r3])
    ids = lambda recs: [r.run_id for r in recs]  # noqa: E731
    assert ids(store.list()) == [r3.run_id, r2.run_id, r1.run_id]
    assert ids(store.list(model="resnet18")) == [r3.run_id, r1.run_id]
    assert ids(store.list(engine="OpenVINO")) == [r3.run_id, r2.run_id]
    assert ids(store.list(tag="nightly")) == [r1.run_id]
    assert ids(store.list(since="7d")) == [r3.run_id, r2.run_id]
    assert ids(store.list(since="24h")) == [r3.run_id]
    assert ids(store.list(since=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=3))) == [r3.run_id, r2.run_id]
    assert ids(store.list(since=(dt.date.today() - dt.timedelta(days=30)).isoformat())) == ids(store.list())
    assert ids(store.list(limit=2)) == [r3.run_id, r2.run_id]
    assert len(store.list(limit=None)) == 3 and len(store.list(limit=0)) == 3


def test_parse_since():
    now = dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.timezone.utc)
    assert parse_since("7d", now) == now - dt.timedelta(days=7)
    assert parse_since("24h", now) == now - dt.timedelta(hours=24)
    assert parse_since("30m", now) == now - dt.timedelta(minutes=30)
    assert parse_since("2w", now) == now - dt.timedelta(weeks=2)
    assert parse_since("2026-05-01") == dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
    assert parse_since("2026-05-01T08:00:00+02:00") == dt.datetime(2026, 5, 1, 6, tzinfo=dt.timezone.utc)
    assert parse_since("2026-05-01T08:00:00Z") == dt.datetime(2026, 5, 1, 8, tzinfo=dt.timezone.utc)
    assert parse_since(None) is None
    for bad in ("yesterday", "7x", "", "-3d"):
        with pytest.raises(UsageError, match="invalid --since"):
            parse_since(bad)


# ------------------------------------------------------------------------------------------------------- delete


def test_delete_removes_records_and_their_sample_files(store, home):
    samples = home / "data" / "samples"
    samples.mkdir(parents=True)
    rid = new_run_id()
    kept_file = samples / "keep.npy"
    kept_file.write_bytes(b"x")
    side = samples / f"{rid}-torch.npy"
    side.write_bytes(b"x")
    outside = home / "precious.txt"
    outside.write_text("do not delete")
    rec = make_record(
        run_id=rid,
        results=[make_result("torch", samples_file=str(side)), make_result("openvino", samples_file=str(outside))],
    )
    other = make_record()
    store.import_records([rec, other])
    assert store.delete([rid, "not-there"]) == 1
    assert not side.exists()
    assert outside.exists() and kept_file.exists()
    assert any("outside the samples directory" in n for n in store.notices)
    assert [r.run_id for r in store.list()] == [other.run_id]
    assert store.delete([]) == 0
    store.delete(other.run_id)
    assert json.loads(store.path.read_text())[SYSTEMS] == {}  # no orphaned machine descriptions


# ----------------------------------------------------------------------------------------------- corruption


@pytest.mark.parametrize("content", [b"\x00\xffgarbage{{{", b'{"runs": [1, 2, 3]}', b"[1, 2]", b'{"runs": {"x": {}}}'])
def test_corrupt_file_is_moved_aside_and_work_continues(store, content):
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(content)
    seen: list[str] = []
    s = HistoryStore(notice=seen.append)
    rec = make_record()
    s.add(rec)
    assert len(seen) == 1
    assert seen[0].startswith("history file was corrupt; moved it to ") and seen[0].endswith("; starting a new one")
    assert "\n" not in seen[0]
    aside = list(store.path.parent.glob("history.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert [r.run_id for r in s.list()] == [rec.run_id]


def test_corrupt_file_found_by_a_read(store):
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"{not json")
    assert store.list() == []
    assert store.notices and "corrupt" in store.notices[0]
    assert list(store.path.parent.glob("history.json.corrupt-*"))


def test_empty_file_is_an_empty_history(store):
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"")
    assert store.count() == 0 and not store.notices


def test_unreadable_record_is_skipped_with_notice(store):
    good = make_record()
    store.add(good)
    doc = json.loads(store.path.read_text())
    doc[TABLE]["99"] = {"run_id": "bad000000000", "created": "2026-01-01T00:00:00+00:00", "z": "z1:@@@@"}
    doc[TABLE]["100"] = {"hello": "world"}
    store.path.write_text(json.dumps(doc))
    assert [r.run_id for r in store.list()] == [good.run_id]
    assert any("unreadable" in n for n in store.notices)
    store.add(make_record())  # writing keeps working (and keeps the bad entries for inspection)
    assert store.count() == 4


def test_failed_write_leaves_previous_file_intact(store, monkeypatch):
    first = make_record()
    store.add(first)
    before = store.path.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(WorkbenchError, match="no space left"):
        store.add(make_record())
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert not list(store.path.parent.glob(".history.json.tmp-*"))
    assert [r.run_id for r in store.list()] == [first.run_id]


# ------------------------------------------------------------------------------------------------- migration


def test_migration_of_a_v0_record(store):
    assert 0 in MIGRATIONS
    v0 = {
        "id": "old0000000ab",
        "timestamp": 1700000000,
        "model": "resnet18",
        "machine": {"fingerprint": "fp-old", "cpu_model": "Old CPU"},
        "results": [
            {"engine": "torch", "version": "2.0.1", "latency": {"median": 3.0, "p90": 3.5, "p99": 4.0, "mean": 3.1}}
        ],
    }
    # A v0 document written straight into the TinyDB file (plain dict, no "schema").
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(json.dumps({TABLE: {"1": v0}}))
    rec = store.get("old0")
    assert rec.schema == SCHEMA_VERSION
    assert rec.run_id == "old0000000ab"
    assert rec.created == "2023-11-14T22:13:20+00:00"
    assert rec.model == {"name": "resnet18"}
    assert rec.system["cpu_model"] == "Old CPU"
    r = rec.results[0]
    assert r.latency_ms["p50"] == 3.0 and "median" not in r.latency_ms
    assert r.engine_version == "2.0.1"
    assert [x.run_id for x in store.list(model="resnet18", engine="torch")] == ["old0000000ab"]
    # New records go next to it; the old one is migrated on read, not rewritten.
    store.add(make_record())
    assert store.count() == 2
    assert migrate_record(v0)["schema"] == SCHEMA_VERSION
    assert migrate_record({"schema": SCHEMA_VERSION, "run_id": "x"}) == {"schema": SCHEMA_VERSION, "run_id": "x"}


def test_import_migrates_dict_records(store):
    added, skipped = store.import_records(
        [
            {
                "id": "v0import0001",
                "timestamp": 1700000000,
                "model": "m",
                "results": [{"engine": "openvino", "latency": {"median": 1.0}}],
            }
        ]
    )
    assert (added, skipped) == (1, 0)
    assert store.get("v0import").results[0].latency_ms == {"p50": 1.0}


# ------------------------------------------------------------------------------------------------ concurrency

CHILD_ADD = r"""
import sys
from workbench.store.history import HistoryStore
from workbench.result import RunRecord, EngineResult
tag, n = sys.argv[1], int(sys.argv[2])
s = HistoryStore()
for i in range(n):
    rid = f"{tag}{i:08d}"
    s.add(RunRecord(run_id=rid, created="2026-01-01T00:00:%02d+00:00" % (i % 60), model={"name": "m"}, config={},
                    system={"fingerprint": "fp"}, versions={}, results=[EngineResult(engine="torch", model="m",
                    latency_ms={"p50": 1.0 + i})]))
"""

CHILD_LOOP = r"""
import sys, itertools
from workbench.store.history import HistoryStore
from workbench.result import RunRecord, EngineResult
s = HistoryStore()
pad = "x" * 20000  # make every write take a while, so the kill lands inside one
for i in itertools.count():
    rid = f"loop{i:08d}"
    s.add(RunRecord(run_id=rid, created="2026-01-01T00:00:00+00:00", model={"name": "m"}, config={},
                    system={}, versions={}, note=pad + str(i), results=[EngineResult(engine="torch", model="m")]))
    print(rid, flush=True)
"""


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, WORKBENCH_HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("WORKBENCH_HISTORY", None)
    return env


def test_four_processes_adding_concurrently(home):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD_ADD, f"p{k}", "25"], cwd=REPO, env=_env(home), stderr=subprocess.PIPE
        )
        for k in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    s = HistoryStore()
    ids = set(s.ids())
    assert len(ids) == 100
    assert ids == {f"p{k}{i:08d}" for k in range(4) for i in range(25)}


def test_threads_adding_concurrently(store):
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i in range(10):
                store.add(make_record(run_id=f"t{k}{i:010d}", results=[EngineResult(engine="torch", model="m")]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count() == 40


def test_kill_9_while_writing_keeps_history_readable(home):
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_LOOP],
        cwd=REPO,
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed: list[str] = []
    try:
        # Wait until it is really writing, then let it run ~0.5 s more.
        first = child.stdout.readline()
        assert first, child.stderr.read()
        committed.append(first.strip())
        time.sleep(0.5)
    finally:
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=30)
    committed += [line for line in out.splitlines() if line.strip()]
    assert child.returncode == -signal.SIGKILL
    assert len(committed) >= 2
    s = HistoryStore()
    raw = s.path.read_bytes()
    json.loads(raw)  # never a half-written file
    stored = set(s.ids())
    assert set(committed) <= stored  # everything it reported as committed is there
    assert not s.notices  # nothing was corrupt or skipped
    s.add(make_record())  # and the next writer works and sweeps a temp file the killed one may have left
    assert not list(s.path.parent.glob(".history.json.tmp-*"))


# --------------------------------------------------------------------------------------------------------- CLI


def test_cli_list_show_delete(store, capsys):
    assert run_cli(["history", "list"]) == 0
    assert "no runs in the history" in capsys.readouterr().out
    a = make_record(created=ago(hours=2), tags=("nightly",))
    b = make_record(model="bert-tiny", engines=("openvino",), created=ago(hours=1))
    store.import_records([a, b])

    assert run_cli(["history", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["id", "created", "model", "engines", "(p50)", "batch", "threads", "tags"]
    assert out[2].startswith(b.run_id) and out[3].startswith(a.run_id)
    assert "torch " in out[3] and "ms" in out[3] and "nightly" in out[3]

    assert run_cli(["history"]) == 0  # bare `history` lists
    assert b.run_id in capsys.readouterr().out

    assert run_cli(["history", "list", "--model", "bert-tiny", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in doc["runs"]] == [b.run_id]
    assert run_cli(["history", "list", "--since", "90m", "--limit", "5"]) == 0
    assert a.run_id not in capsys.readouterr().out
    assert run_cli(["history", "list", "--tag", "none"]) == 0
    assert "no runs match (the history holds 2)" in capsys.readouterr().out
    with pytest.raises(WorkbenchError, match="invalid --since"):
        run_cli(["history", "list", "--since", "last tuesday"])

    assert run_cli(["history", "show", a.run_id[:5]]) == 0
    shown = capsys.readouterr().out
    assert a.run_id in shown and "| engine |" in shown and "versions:" in shown
    assert run_cli(["history", "show", "latest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(b.to_dict()))
    with pytest.raises(WorkbenchError, match="no run"):
        run_cli(["history", "show", "nope"])

    with pytest.raises(WorkbenchError, match="no run"):  # nothing deleted when one id is wrong
        run_cli(["history", "delete", a.run_id, "nope"])
    assert store.count() == 2
    assert run_cli(["history", "delete", a.run_id, a.run_id[:6], "--yes"]) == 0
    assert capsys.readouterr().out.startswith("deleted 1 run:")
    assert run_cli(["history", "delete", "latest", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"deleted": 1, "run_ids": [b.run_id]}
    assert store.count() == 0


def test_cli_corrupt_notice_goes_to_stderr(store, capsys):
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_bytes(b"\x00garbage")
    assert run_cli(["history", "list", "--json"]) == 0
    cap = capsys.readouterr()
    assert json.loads(cap.out) == {"schema": 1, "runs": []}
    assert cap.err.startswith("warning: history file was corrupt; moved it to ") and cap.err.count("\n") == 1


def test_cli_trend(store, capsys):
    recs = [
        make_record(created=ago(days=5 - i), seed=i, results=[make_result("openvino", 2.0 + 0.1 * i, seed=i, n=300)])
        for i in range(5)
    ]
    store.import_records(recs + [make_record(model="other", engines=("openvino",))])
    assert run_cli(["history", "trend", "--model", "resnet18", "--engine", "openvino", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [p["run_id"] for p in doc["points"]] == [r.run_id for r in recs]  # oldest first
    assert doc["points"][0]["p50"] < doc["points"][-1]["p50"] and doc["metrics"] == ["p50", "p99", "throughput"]

    # stdout is not a TTY under pytest: a plain table
    assert run_cli(["history", "trend", "--model", "resnet18", "--engine", "openvino", "--metric", "p50,p99"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("resnet18 · openvino · 5 runs")
    assert out[1].split() == ["id", "created", "p50", "ms", "p99", "ms"] and len(out) == 8

    with pytest.raises(WorkbenchError, match="unknown metric"):
        run_cli(["history", "trend", "--model", "resnet18", "--engine", "openvino", "--metric", "p42"])
    with pytest.raises(WorkbenchError, match="no successful torch runs"):
        run_cli(["history", "trend", "--model", "resnet18", "--engine", "torch"])


def test_trend_chart_renders_with_plotext(store, monkeypatch, capsys):
    from workbench.cli import history as cmd_history

    recs = [
        make_record(created=ago(days=5 - i), results=[make_result("openvino", 2.0 + 0.1 * i, seed=i, n=300)])
        for i in range(4)
    ]
    store.import_records(recs)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert run_cli(["history", "trend", "--model", "resnet18", "--engine", "openvino"]) == 0
    chart = capsys.readouterr().out
    assert "resnet18 · openvino · 4 runs" in chart and "p50 (ms)" in chart and "throughput" in chart
    assert len(chart.splitlines()) >= 10
    assert cmd_history.trend_points(store.list(), "openvino")[0]["run_id"] == recs[0].run_id


def test_malformed_plain_record_is_skipped_not_a_traceback(store):
    store.path.parent.mkdir(parents=True, exist_ok=True)
    bad = {
        "run_id": "plain0000001",
        "created": "2026-01-01T00:00:00+00:00",
        "schema": 1,
        "results": [{"engine": "torch", "unexpected_required_missing": True}],
    }
    store.path.write_text(json.dumps({TABLE: {"1": bad}}))
    assert store.list() == []
    assert any("plain0000001" in n for n in store.notices)
    with pytest.raises(UsageError, match="not a valid workbench result"):
        store.import_records([dict(bad, run_id="other0000001")])


# ------------------------------------------------------------------------------------------------------ shards


def _shards(store: HistoryStore) -> list[Path]:
    return sorted(store.shard_dir.glob("runs-*.json"))


def _runs_in(path: Path) -> int:
    return len(json.loads(path.read_text())[TABLE])


def test_shard_rollover_order_limit_filters_and_prefix(home):
    s = HistoryStore(shard_size=3)
    recs = [
        make_record(
            run_id=f"{i:02d}aa{i:08d}",
            created=ago(hours=20 - i),
            model="bert-tiny" if i % 2 else "resnet18",
            tags=("nightly",) if i % 3 == 0 else (),
        )
        for i in range(8)
    ]
    for r in recs[:4]:
        s.add(r)
    assert [_runs_in(p) for p in _shards(s)] == [3] and _runs_in(s.path) == 1  # the 4th record started a new head
    assert s.import_records(recs[4:]) == (4, 0)
    assert [_runs_in(p) for p in _shards(s)] == [3, 3] and _runs_in(s.path) == 2
    assert s.shard_dir == home / "data" / "history" and (s.shard_dir / "index.json").exists()
    newest = [r.run_id for r in reversed(recs)]
    assert s.ids() == newest and s.count() == 8
    assert [r.run_id for r in s.list()] == newest
    assert [r.run_id for r in s.list(limit=4)] == newest[:4]
    assert [r.run_id for r in s.list(model="resnet18", limit=3)] == [recs[i].run_id for i in (6, 4, 2)]
    assert [r.run_id for r in s.list(tag="nightly")] == [recs[i].run_id for i in (6, 3, 0)]
    assert [r.run_id for r in s.list(since="16.5h", engine="torch")] == newest[:4]
    assert s.get("00aa").to_dict() == recs[0].to_dict()  # prefix lookup in the oldest sealed shard
    assert s.get("latest~7").run_id == recs[0].run_id and s.get("latest").run_id == recs[7].run_id
    assert s.import_records(recs[:2]) == (0, 2)  # duplicates found in sealed shards too
    assert s.delete([recs[0].run_id, recs[7].run_id]) == 2
    assert s.count() == 6 and recs[0].run_id not in s.ids()
    (s.shard_dir / "index.json").unlink()  # the index is a cache: rebuilt from the shards
    assert s.ids() == [r.run_id for r in reversed(recs[1:7])] and (s.shard_dir / "index.json").exists()
    assert s.delete([recs[1].run_id, recs[2].run_id]) == 2  # an emptied sealed shard is removed
    assert [p.name for p in _shards(s)] == ["runs-0002.json"] and s.count() == 4
    s.add(make_record())
    assert s.count() == 5 and not s.notices


def test_out_of_order_created_across_shards(home):
    s = HistoryStore(shard_size=2)
    recs = [make_record(created=ago(hours=h)) for h in (1, 5, 2, 6, 3, 4)]  # inserted in no particular order
    s.import_records(recs)
    expected = [r.run_id for r in sorted(recs, key=lambda r: r.created, reverse=True)]
    assert [r.run_id for r in s.list(limit=3)] == expected[:3]
    assert s.ids() == expected


def test_corrupt_shard_is_isolated_with_a_notice(home):
    s = HistoryStore(shard_size=2)
    recs = [make_record(created=ago(hours=10 - i)) for i in range(6)]
    s.import_records(recs)
    first = _shards(s)[0]
    first.write_bytes(b"{broken")
    seen: list[str] = []
    t = HistoryStore(shard_size=2, notice=seen.append)
    assert [r.run_id for r in t.list()] == [r.run_id for r in reversed(recs[2:])]
    assert len(seen) == 1 and "\n" not in seen[0]
    assert seen[0].startswith("history shard runs-0001.json was corrupt; moved it to ")
    assert list(s.shard_dir.glob("runs-0001.json.corrupt-*"))
    t.add(make_record())
    assert t.count() == 5 and len(seen) == 1


def test_single_file_history_is_split_on_first_open(home):
    from tinydb import TinyDB

    from workbench.store.codec import _encode
    from workbench.store.history import AtomicJSONStorage

    recs = [make_record(created=ago(hours=10 - i)) for i in range(7)]
    path = home / "data" / "history.json"
    storage = AtomicJSONStorage(path)
    db = TinyDB(storage=lambda: storage)  # the layout before shards: every run in one TinyDB file
    encoded = [_encode(r.to_dict()) for r in recs]
    db.table(SYSTEMS).insert({"key": encoded[0][1], "system": encoded[0][2]})
    db.table(TABLE).insert_multiple(e[0] for e in encoded)
    db.table(TABLE).insert({"hello": "unreadable, kept"})
    before = path.read_bytes()
    seen: list[str] = []
    s = HistoryStore(shard_size=3, notice=seen.append)
    assert [r.run_id for r in s.list()] == [r.run_id for r in reversed(recs)]  # a read splits it
    kept = list(path.parent.glob("history.json.migrated-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == before
    assert [_runs_in(p) for p in _shards(s)] == [3, 3] and _runs_in(path) == 2
    assert any(n.startswith("history file held 8 runs in one file; split it into 2 shards") for n in seen)
    assert s.get("latest").system == recs[0].system and s.get(recs[0].run_id[:8]).system == recs[0].system
    for p in [*_shards(s), path, s.shard_dir / "index.json"]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    n_notices = len(seen)
    s.add(make_record())
    assert s.count() == 9 and len(list(path.parent.glob("history.json.migrated-*"))) == 1
    assert not any("split" in n for n in seen[n_notices:])  # done once


def test_interrupted_split_is_redone_without_duplicates(home, monkeypatch):
    from workbench.store import shards as h

    path = home / "data" / "history.json"
    HistoryStore(shard_size=100).import_records([make_record(created=ago(hours=10 - i)) for i in range(7)])
    original = path.read_bytes()
    calls = {"n": 0}
    real = h.atomic_write_bytes

    def crash_on_head(target, payload, mode=0o600):
        if Path(target) == path:
            calls["n"] += 1
            raise h.HistoryError("simulated crash before the head is replaced")
        real(target, payload, mode)

    with monkeypatch.context() as m, pytest.raises(WorkbenchError, match="simulated"):
        m.setattr(h, "atomic_write_bytes", crash_on_head)
        HistoryStore(shard_size=3).add(make_record())
    assert path.read_bytes() == original and calls["n"] == 1
    s = HistoryStore(shard_size=3)
    assert s.count() >= 7 and len(set(s.ids())) == len(s.ids()) == 7
    assert len(list(path.parent.glob("history.json.migrated-*"))) == 1


def test_sealed_shards_and_index_are_private(home):
    s = HistoryStore(shard_size=2)
    s.import_records([make_record() for _ in range(5)])
    assert len(_shards(s)) == 2
    for p in [*_shards(s), s.path, s.lock_path, s.shard_dir / "index.json"]:
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_import_writes_once_per_shard(home, monkeypatch):
    from workbench.store import shards as h

    s = HistoryStore(shard_size=50)
    s.import_records([make_record(engines=("torch",)) for _ in range(30)])
    writes: list[Path] = []
    real = h.atomic_write_bytes
    monkeypatch.setattr(
        h, "atomic_write_bytes", lambda p, data, mode=0o600: (writes.append(Path(p)), real(p, data, mode))
    )
    recs = [make_record(engines=("torch",)) for _ in range(200)]
    assert s.import_records(recs) == (200, 0)
    runs = [p for p in writes if p.name != "index.json"]
    assert len(runs) == 5 and len(writes) <= 6  # 20 + 50 + 50 + 50 + 30 runs: five shard writes and the index
    assert s.count() == 230 and set(s.ids()) >= {r.run_id for r in recs}


def test_two_processes_adding_across_shards_keep_every_record(home):
    script = CHILD_ADD.replace("s = HistoryStore()", "s = HistoryStore(shard_size=7)")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"q{k}", "20"], cwd=REPO, env=_env(home), stderr=subprocess.PIPE
        )
        for k in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    s = HistoryStore(shard_size=7)
    assert sorted(s.ids()) == sorted(f"q{k}{i:08d}" for k in range(2) for i in range(20))
    assert len(_shards(s)) == 5 and _runs_in(s.path) == 5 and not s.notices


def test_seal_interrupted_after_the_link_reads_as_an_empty_head(home):
    s = HistoryStore(shard_size=2)
    recs = [make_record(created=ago(hours=3 - i)) for i in range(2)]
    s.import_records(recs)
    s.shard_dir.mkdir()
    os.link(s.path, s.shard_dir / "runs-0001.json")  # what a writer killed inside a seal leaves behind
    assert s.ids() == [r.run_id for r in reversed(recs)] and s.count() == 2
    new = make_record()
    s.add(new)
    assert s.count() == 3 and _runs_in(s.path) == 1 and os.stat(s.path).st_ino != os.stat(_shards(s)[0]).st_ino
    assert s.get("latest").run_id == new.run_id and not s.notices


def test_history_list_says_the_precision_when_it_is_not_fp32():
    """`history list` shows what ran below fp32 (an int8 run must not read like an fp32 one)."""
    from workbench.cli.history import _engines_cell
    from workbench.result import EngineResult, RunRecord

    def res(engine: str, ran: str) -> EngineResult:
        return EngineResult(
            engine=engine, model="m", precision_requested="int8", precision_effective=ran, latency_ms={"p50": 5.594}
        )

    rec = RunRecord(
        run_id="r",
        created="2026-12-01T00:00:00+00:00",
        model={},
        config={},
        system={},
        versions={},
        results=[res("openvino", "int8"), res("torch", "mixed"), res("onnxruntime", "fp32")],
    )
    assert _engines_cell(rec) == "openvino int8 5.594ms, torch mixed 5.594ms, onnxruntime 5.594ms"


# ------------------------------------------------------------------------------------------- the stored format

#: One run as the workbench stored it (TinyDB head, ``z1:`` blob, shared ``systems`` table), written before the store
#: was split into store/codec/shards. Reading it proves the frozen preset dictionary and the layout are unchanged.
GOLDEN_RECORD = {
    "run_id": "20260501-120000-golden01",
    "created": "2026-05-01T12:00:00+00:00",
    "schema": 1,
    "model": {"name": "resnet18", "source": "zoo"},
    "config": {"mode": "latency", "batch": 1, "threads": 2, "precision": "fp32"},
    "system": {"fingerprint": "fp-golden", "cpu_model": "Golden CPU", "hostname": "g"},
    "versions": {"numpy": "2.0"},
    "tags": ["golden"],
    "results": [
        {
            "engine": "onnxruntime",
            "model": "resnet18",
            "status": "ok",
            "threads": 2,
            "latency_ms": {"mean": 1.5, "p50": 1.25, "p99": 2.0},
            "iterations": 100,
            "duration_s": 0.15,
        }
    ],
}
GOLDEN_FILE = (
    '{"systems":{"1":{"key":"b4344e768b3f441e88cb","system":{"fingerprint":"fp-golden","cpu_model":"Golden CPU",'
    '"hostname":"g"}}},"runs":{"1":{"run_id":"20260501-120000-golden01","created":"2026-05-01T12:00:00+00:00",'
    '"schema":1,"model":"resnet18","engines":["onnxruntime"],"tags":["golden"],"sys":"b4344e768b3f441e88cb","z":'
    '"z1:ePn4PtaFxZbvCoIwEMDfxa+h3A0W0XP0XUSXjGRSWkHRu3fTzbU1BMEIRNidbvdn97t7OiwzYFvggCky7Utat00lFKCHa/1RCjwFPCDbA9'
    "CzGd4RjlPVKtHjLuT5YkqzmPE+YC1FWQZatQBln1bOIE0v8kr0hWxWxxz7H+Mw44ZmmDFuAEZBXIVcVBshu5D/Dl4ePuZoYmWlDCWdrNUwWqg+"
    "VFF/lV28hzru+BwxG8zXqQkCJTd3Ldw/+kY/6+THxVHXrO7bRauJuFpd5HFanK+kkY9xyJr2KOiuu1iXojHVoAkamm/Gj2QESTI7htBVq1Xb9bI0"
    'gpNU+tJTverCvAvhMmonltcbLd2dbA=="}}}'
)


def _inflated(text: str) -> str:
    """The file with each ``z1:`` blob replaced by the JSON it holds (deflate output may differ between zlib builds;
    what it decodes to may not)."""
    import base64
    import re
    import zlib

    from workbench.store.codec import _ZDICT_V1

    def inflate(m: re.Match[str]) -> str:
        do = zlib.decompressobj(15, _ZDICT_V1)
        return json.dumps((do.decompress(base64.b64decode(m.group(1))) + do.flush()).decode("utf-8"))

    return re.sub(r'"z1:([^"]*)"', inflate, text)


def test_a_history_in_the_stored_format_reads_and_writes_the_same(home):
    path = home / "data" / "history.json"
    path.parent.mkdir(parents=True)
    path.write_text(GOLDEN_FILE)
    expected = RunRecord.from_dict(GOLDEN_RECORD)
    s = HistoryStore()
    assert s.get(GOLDEN_RECORD["run_id"]).to_dict() == expected.to_dict() and not s.notices
    assert [r.run_id for r in s.list()] == [expected.run_id]
    path.unlink()
    HistoryStore().add(expected)
    assert _inflated(path.read_text()) == _inflated(GOLDEN_FILE)
