"""Exporters (json/csv/markdown), load_records, and `history export`/`history import` through the CLI handlers.

Runs here are test fixtures built from seeded synthetic samples — never presented as measurements.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat

import numpy as np
import pytest
from cli_helpers import run_cli

from workbench.errors import UsageError, WorkbenchError
from workbench.report.export import (
    CSV_COLUMNS,
    CsvExporter,
    JsonExporter,
    MarkdownExporter,
    format_cores,
    get_exporter,
    load_records,
    write,
)
from workbench.result import EngineResult, RunRecord, new_run_id
from workbench.stats.histogram import LogHistogram
from workbench.stats.summary import summarize
from workbench.store.history import HistoryStore


def result(engine: str, scale_ms: float, seed: int, **kw) -> EngineResult:
    x = np.random.default_rng(seed).lognormal(np.log(scale_ms * 1e6), 0.05, 1000).astype(np.int64)
    h = LogHistogram()
    h.add(x)
    s = summarize(x).scaled(1e-6)
    fields = dict(
        engine=engine,
        model="resnet18",
        engine_version="9.9",
        precision_requested="fp32",
        precision_effective="fp32",
        threads=4,
        cores=[0, 1, 2, 3, 8],
        batch=2,
        latency_ms={"mean": s.mean, "std": s.std, "min": s.min, "max": s.max, **s.percentiles},
        throughput=2000.0 / s.mean,
        iterations=1000,
        duration_s=2.0,
        load_ms=120.0,
        first_inference_ms=9.0,
        peak_rss_mb=300.0,
        parity={"status": "pass", "rel_l2": 1e-6},
        histogram=h.to_dict(),
    )
    fields.update(kw)
    return EngineResult(**fields)


def record(seed: int = 0, created: str | None = None, **kw) -> RunRecord:
    fields = dict(
        run_id=new_run_id(),
        created=created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        model={"name": "resnet18"},
        config={"batch": 2, "threads": 4, "cores": [0, 1, 2, 3, 8], "mode": "latency"},
        system={"fingerprint": "fp", "cpu_model": "Xeon Test | CPU"},
        versions={"torch": "2.5"},
        results=[
            result("torch", 3.0, seed),
            result(
                "openvino",
                2.0,
                seed + 1,
                speedup=1.5,
                precision_effective="bf16",
                warnings=[{"code": "bf16", "message": "ran in bf16, not fp32"}],
            ),
            EngineResult(engine="onnxruntime", model="resnet18", status="failed", error="could not load"),
        ],
        baseline="torch",
        warnings=[{"code": "governor", "message": "governor is powersave"}],
        tags=["ci"],
    )
    fields.update(kw)
    return RunRecord(**fields)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_HISTORY", raising=False)
    return tmp_path


# -------------------------------------------------------------------------------------------------- exporters


def test_get_exporter():
    assert get_exporter("json").name == "json"
    assert get_exporter("CSV").suffix == ".csv"
    assert get_exporter("md").name == "markdown"
    with pytest.raises(UsageError, match="unknown export format 'yaml'; choose one of json, csv, markdown"):
        get_exporter("yaml")
    with pytest.raises(UsageError, match="did you mean 'csv'"):
        get_exporter("cvs")


def test_format_cores():
    assert format_cores([0, 1, 2, 3]) == "0-3"
    assert format_cores([3, 1, 0, 2, 8, 10, 11]) == "0-3,8,10-11"
    assert format_cores(None) == "" and format_cores([5]) == "5"


def test_json_single_and_many_roundtrip(tmp_path):
    a, b = record(1), record(2)
    single = json.loads(JsonExporter().render([a]))
    assert single == json.loads(json.dumps(a.to_dict()))  # the same document `workbench run --json` writes
    many = json.loads(JsonExporter().render([a, b]))
    assert many["schema"] == 1 and [r["run_id"] for r in many["runs"]] == [a.run_id, b.run_id]
    p1 = write(tmp_path / "a.json", "json", [a])
    p2 = write(tmp_path / "ab.json", "json", [a, b])
    assert [r.to_dict() for r in load_records(p1)] == [a.to_dict()]
    assert [r.to_dict() for r in load_records(p2)] == [a.to_dict(), b.to_dict()]


def test_json_has_no_nan(tmp_path):
    r = record(1)
    r.results[0].latency_ms["std"] = float("nan")  # one sample: std undefined
    text = JsonExporter().render([r])
    assert "NaN" not in text and json.loads(text)["results"][0]["latency_ms"]["std"] is None


def test_csv_rows_parse_back():
    a = record(1)
    text = CsvExporter().render([a, record(2)])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert len(rows) == 6  # one row per engine result
    torch_row, ov_row, failed_row = rows[:3]
    assert torch_row["run_id"] == a.run_id and torch_row["engine"] == "torch"
    assert torch_row["cores"] == "0-3,8" and torch_row["batch"] == "2" and torch_row["threads"] == "4"
    assert float(torch_row["p50_ms"]) == pytest.approx(a.results[0].latency_ms["p50"])
    assert float(torch_row["throughput"]) == pytest.approx(a.results[0].throughput)
    assert torch_row["parity"] == "pass" and torch_row["status"] == "ok" and torch_row["error"] == ""
    assert ov_row["precision_effective"] == "bf16" and ov_row["speedup"] == "1.5"
    assert ov_row["warnings"] == "bf16: ran in bf16, not fp32"
    assert failed_row["status"] == "failed" and failed_row["error"] == "could not load" and failed_row["p50_ms"] == ""


def test_markdown_has_table_and_context():
    a = record(1)
    md = MarkdownExporter().render([a])
    assert "| engine | precision eff. | p50 ms | p90 ms | p99 ms | mean±std ms | throughput | speedup | parity |" in md
    assert f"`{a.run_id}`" in md
    assert "batch 2" in md and "threads 4" in md and "cores 0-3,8" in md
    assert "Xeon Test \\| CPU" in md  # pipes escaped
    assert "1.50×" in md and "baseline" in md and "failed: could not load" in md
    assert "governor is powersave" in md and "ran in bf16" in md
    table = [line for line in md.splitlines() if line.startswith("|")]
    assert len({line.count("|") - line.count("\\|") for line in table}) == 1  # every row has the same columns


def test_write_is_atomic_and_reports_bad_paths(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    write(target, "csv", [record(1)])
    assert target.read_text().startswith("run_id,created")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv.tmp")]
    with pytest.raises(UsageError, match="does not exist"):
        write(tmp_path / "nope" / "x.json", "json", [record(1)])
    with pytest.raises(UsageError, match="is a directory"):
        write(tmp_path, "json", [record(1)])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\xff\xfe\x00garbage", "not a text file|not valid JSON"),
        (b'{"run_id": "x", "results": [', "not valid JSON \\(line 1, column"),
        (b"42", "not a workbench result file"),
        (b'{"hello": "world"}', "missing run_id, results"),
        (b'{"runs": {"a": 1}}', "'runs' is not a list"),
        (b'{"runs": [7]}', "is not a JSON object"),
        (b'{"run_id": "x", "created": "c", "results": [{"no": "engine"}]}', "'engine' name"),
    ],
)
def test_load_records_bad_files_give_one_line(tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_bytes(content)
    with pytest.raises(UsageError, match=message) as info:
        load_records(p)
    assert "\n" not in str(info.value)


def test_load_records_missing_and_directory(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        load_records(tmp_path / "missing.json")
    with pytest.raises(UsageError, match="is a directory"):
        load_records(tmp_path)


def test_load_records_migrates_v0(tmp_path):
    p = tmp_path / "v0.json"
    p.write_text(
        json.dumps(
            {
                "id": "v0",
                "timestamp": 1700000000,
                "model": "m",
                "results": [{"engine": "torch", "latency": {"median": 1.5}}],
            }
        )
    )
    (rec,) = load_records(p)
    assert rec.run_id == "v0" and rec.schema == 1 and rec.results[0].latency_ms == {"p50": 1.5}


# --------------------------------------------------------------------------------------------------------- CLI


def test_export_then_import_twice_adds_nothing_the_second_time(home, tmp_path, monkeypatch, capsys):
    src = HistoryStore()
    recs = [record(i) for i in range(3)]
    src.import_records(recs)
    out = tmp_path / "export.json"
    assert run_cli(["history", "export", "--format", "json", "--output", str(out)]) == 0
    assert "exported 3 runs" in capsys.readouterr().err

    monkeypatch.setenv("WORKBENCH_HISTORY", str(tmp_path / "other" / "history.json"))
    assert run_cli(["history", "import", str(out)]) == 0
    assert capsys.readouterr().out.strip() == "imported 3 runs, skipped 0 duplicates"
    assert run_cli(["history", "import", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"added": 0, "skipped_duplicates": 3}
    other = HistoryStore()
    assert other.path == tmp_path / "other" / "history.json"
    assert sorted(r.run_id for r in other.list()) == sorted(r.run_id for r in recs)
    assert {r.run_id: r.to_dict() for r in other.list()} == {r.run_id: r.to_dict() for r in recs}


def test_import_checks_every_file_before_storing(home, tmp_path, capsys):
    good = write(tmp_path / "good.json", "json", [record(1)])
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(WorkbenchError, match="not valid JSON"):
        run_cli(["history", "import", str(good), str(bad)])
    assert HistoryStore().count() == 0


def test_export_formats_to_stdout(home, capsys):
    s = HistoryStore()
    a, b = record(1, tags=["ci"]), record(2, tags=["nightly"])
    s.import_records([a, b])
    assert run_cli(["history", "export", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 6
    assert run_cli(["history", "export", "-f", "markdown", "--tag", "nightly"]) == 0
    md = capsys.readouterr().out
    assert b.run_id in md and a.run_id not in md and "| engine |" in md
    assert run_cli(["history", "export", a.run_id[:6]]) == 0
    assert json.loads(capsys.readouterr().out)["run_id"] == a.run_id
    with pytest.raises(WorkbenchError, match="unknown export format"):
        run_cli(["history", "export", "--format", "xml"])


def test_exports_carry_the_same_engine_fp32_and_drift():
    """Below fp32, CSV rows and the Markdown report carry the engine's own fp32 p50, the speedup over it and the
    drift, as the terminal table does."""
    low = result(
        "openvino",
        1.0,
        7,
        precision_requested="int8",
        precision_effective="int8",
        fp32_baseline={"status": "ok", "latency_ms": {"p50": 3.5}},
        speedup_vs_fp32=3.5,
        drift={"status": "within", "rel_l2": 0.18, "precision": "int8", "samples": 8},
    )
    rec = record(results=[low])
    (row,) = list(csv.DictReader(io.StringIO(CsvExporter().render([rec]))))
    assert float(row["fp32_p50_ms"]) == 3.5 and float(row["speedup_vs_fp32"]) == 3.5
    assert float(row["drift_rel_l2"]) == 0.18 and row["drift"] == "within"
    md = MarkdownExporter().render([rec])
    assert "| engine | ran | fp32 p50 ms | p50 ms | vs own fp32 | drift rel L2 | drift |" in md
    assert "| openvino | int8 | 3.500 |" in md and "3.50× | 0.1800 | within |" in md
    plain = CsvExporter().render([record()])  # fp32 runs leave the columns empty
    assert all(r["drift"] == "" and r["speedup_vs_fp32"] == "" for r in csv.DictReader(io.StringIO(plain)))
