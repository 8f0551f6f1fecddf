"""The ``workbench`` command end to end: real processes, exit codes, one-line errors, exports, watch."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import wb

HEAVY = ("torch", "openvino", "onnxruntime", "textual", "transformers", "torchvision")


def test_import_and_help_import_no_engine_or_ui():
    code = (
        "import sys, contextlib, io\n"
        "import workbench, workbench.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        workbench.cli.main(['--help'])\n    except SystemExit:\n        pass\n"
        "    for sub in ('run', 'parity', 'history', 'compare'):\n"
        "        try:\n            workbench.cli.main([sub, '--help'])\n        except SystemExit:\n            pass\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_help_teaches_with_examples():
    out = wb("--help")
    assert out.returncode == 0
    for word in ("run", "parity", "engines", "models", "sysinfo", "watch", "history", "compare", "examples:"):
        assert word in out.stdout
    run_help = wb("run", "--help").stdout
    assert "--cores" in run_help and "exit codes" in run_help


@pytest.mark.parametrize(
    "args,needle",
    [
        (["run", "-m", "tiny_cnn", "--duration", "-3"], "--duration"),
        (["run", "-m", "tiny_cnn", "--cores", "99"], "--cores 99"),
        (["run", "-m", "tiny_cnn", "--batch", "0"], "--batch"),
        (["run", "-m", "tiny_cnn", "--cores", "3-1"], "cores"),
        (["run", "-m", "tiny_cnn", "--warmup", "soon"], "--warmup"),
        (["run", "-m", "tiny_cnn", "-e", "tensorrtx"], "unknown engine"),
        (["run", "-m", "resnet5", "-e", "onnxruntime"], "did you mean 'resnet50'"),
        (["run", "-m", "/nonexistent/model.onnx", "-e", "onnxruntime"], "model.onnx"),
        (["run", "-m", "tiny_cnn", "--shape", "x=1xfoo"], "bad shape"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_traceback(args, needle):
    out = wb(*args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_corrupt_model_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00not an onnx model at all" * 10)
    out = wb("run", "-m", str(bad), "-e", "onnxruntime")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "broken.onnx" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_engine_that_cannot_run_the_format_says_so(tmp_path, shared_cache):
    from workbench.models.resolve import resolve

    art = resolve("tiny_cnn", formats={"openvino"})
    out = wb("run", "-m", art.files["openvino"], "-e", "onnxruntime")
    assert out.returncode == 2 and "onnxruntime cannot run" in out.stderr


def test_run_writes_json_csv_markdown_and_saves_history(tmp_path, shared_cache):
    j, c, m = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.md"
    out = wb(
        "run",
        "-m",
        "tiny_cnn",
        "-e",
        "onnxruntime,openvino",
        "--cores",
        "0",
        "--duration",
        "0.3",
        "--warmup",
        "5it",
        "--json",
        str(j),
        "--csv",
        str(c),
        "--markdown",
        str(m),
        "--tag",
        "ci",
    )
    assert out.returncode == 0, out.stderr
    assert "p50 ms" in out.stdout and "onnxruntime" in out.stdout
    doc = json.loads(j.read_text())
    assert doc["schema"] == 1 and doc["model"]["name"] == "tiny_cnn"
    for r in doc["results"]:
        for key in (
            "engine",
            "model",
            "device",
            "batch",
            "threads",
            "cores",
            "precision_requested",
            "precision_effective",
            "latency_ms",
            "throughput",
            "iterations",
            "duration_s",
            "load_ms",
            "first_inference_ms",
            "peak_rss_mb",
            "parity",
            "warnings",
        ):
            assert key in r, key
        assert set(r["latency_ms"]) >= {"mean", "std", "min", "max", "p50", "p90", "p95", "p99", "p999"}
        assert r["cores"] == [0] and r["precision_effective"] == "fp32"
    assert doc["versions"] and doc["system"].get("fingerprint")
    rows = list(csv.DictReader(c.open()))
    assert [r["engine"] for r in rows] == ["onnxruntime", "openvino"]
    assert "| onnxruntime" in m.read_text()
    listed = wb("history", "list", "--json")
    assert listed.returncode == 0 and doc["run_id"] in listed.stdout


def test_killed_engine_process_gives_error_row_and_exit_1(test_engines, tmp_path):
    out = wb(
        "run",
        "-m",
        "tiny_cnn",
        "-e",
        "noop,oomkill",
        "--cores",
        "0",
        "--duration",
        "0.5",
        "--no-parity",
        "--no-save",
        "--json",
        str(tmp_path / "r.json"),
        env={"WB_CRASH_AFTER": "100"},
    )
    assert out.returncode == 1, out.stderr
    assert "FAILED" in out.stdout and "Traceback" not in out.stderr + out.stdout
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["results"][0]["status"] == "ok" and doc["results"][1]["status"] == "failed"


def test_watch_follows_a_run_started_in_another_terminal(test_engines):
    env = {**os.environ}
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            "-m",
            "tiny_cnn",
            "-e",
            "noop,echo",
            "--cores",
            "0",
            "--duration",
            "1.5",
            "--no-parity",
            "--no-save",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        watched = wb("watch", "--wait", "60", timeout=120)
    finally:
        runner.wait(60)
    assert runner.returncode == 0
    assert watched.returncode == 0, watched.stderr
    assert "watching run" in watched.stdout and "p50 ms" in watched.stdout


def test_watch_without_a_run_says_so():
    out = wb("watch")
    assert out.returncode == 1 and "no run in flight" in out.stderr


def test_parity_command_passes_and_fails(tmp_path, shared_cache):
    out = wb("parity", "-m", "tiny_cnn", "-e", "torch,onnxruntime,openvino", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["passed"] and report["reference"] == "torch fp32"
    # torch fp32 on the CPU is the reference itself: labelled so, not a "pass" that compared nothing
    assert [e["parity"]["status"] for e in report["engines"]] == ["reference", "pass", "pass"]


def test_parity_fails_for_a_deliberately_wrong_model(tmp_path, monkeypatch):
    """A built-in whose exported ONNX was tampered with (last layer's weights negated) must fail parity against
    the torch reference, exit 1, and say why."""
    import onnx
    from onnx import numpy_helper

    from workbench.models.resolve import resolve

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))  # private cache: we damage it
    art = resolve("tiny_cnn", formats={"onnx", "torch-builtin"})
    m = onnx.load(art.files["onnx"])
    weights = max(m.graph.initializer, key=lambda t: numpy_helper.to_array(t).ndim)  # a conv kernel
    weights.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(weights), weights.name))
    onnx.save(m, art.files["onnx"])
    out = wb("parity", "-m", "tiny_cnn", "-e", "torch,onnxruntime", "--json")
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout)
    torch_p, ort_p = (e["parity"] for e in report["engines"])
    assert torch_p["status"] == "reference"
    assert ort_p["status"] == "fail" and "exceeds" in ort_p["message"]
    human = wb("parity", "-m", "tiny_cnn", "-e", "onnxruntime")
    assert human.returncode == 1 and "FAIL" in human.stdout


def test_inventory_commands(shared_cache):
    out = wb("engines", "--json")
    assert out.returncode == 0
    names = {e["name"] for e in json.loads(out.stdout)}
    assert {"torch", "onnxruntime", "openvino"} <= names
    models = json.loads(wb("models", "--json").stdout)
    want = {
        "resnet18",
        "resnet50",
        "vgg19",
        "inception_v3",
        "mobilenet_v1",
        "mobilenet_v3_small",
        "mobilenet_v3_large",
        "efficientnet_b0",
        "efficientnet_b2",
        "mobilevit_xs",
        "distilbert",
        "bert_base",
        "ocr_crnn",
    }
    assert want <= {m["name"] for m in models}
    info = json.loads(wb("sysinfo", "--json").stdout)
    assert info.get("fingerprint")
    human = wb("sysinfo").stdout
    assert "AVX" in human.upper()


def test_four_concurrent_runs_each_add_their_record(test_engines):
    """Four `workbench run` processes finishing together all land in the history (file lock + atomic writes)."""
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "workbench",
                "run",
                "-m",
                "tiny_cnn",
                "-e",
                "noop",
                "--cores",
                "0",
                "--duration",
                "0.2",
                "--no-parity",
                "-q",
                "--tag",
                f"p{i}",
                "--json",
                "-",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        ids.append(json.loads(out)["run_id"])
    listed = json.loads(wb("history", "list", "--json", "--limit", "0").stdout)
    assert sorted(r["run_id"] for r in listed["runs"]) == sorted(ids)


def test_ctrl_c_stops_at_once_and_saves_nothing(shared_cache):
    import signal
    import time

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            "-m",
            "tiny_cnn",
            "-e",
            "noop",
            "--cores",
            "0",
            "--duration",
            "60",
            "--no-parity",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    from workbench.measure.live import list_live_runs

    def measuring() -> bool:
        runs = list_live_runs()
        return bool(runs) and '"kind":"progress"' in Path(runs[0]["path"]).read_text()

    while time.monotonic() < deadline and not measuring():
        time.sleep(0.1)
    assert measuring()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert time.monotonic() - t0 < 3
    assert "interrupted" in err and "Traceback" not in err
    assert json.loads(wb("history", "list", "--json").stdout)["runs"] == []
    assert list_live_runs() == []


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to watch one and load the other")
def test_doctor_cores_checks_only_those_cores(tmp_path):
    """`workbench doctor --cores 1` samples, checks and measures core 1 only: a busy process on core 0 is not its
    business, while `--cores 0` reports it."""
    spin = subprocess.Popen([sys.executable, "-c", "import os, time\nos.sched_setaffinity(0, {0})\nwhile True: pass"])
    try:
        time.sleep(0.3)
        one = wb("doctor", "--cores", "1", "--json", timeout=180)
        zero = wb("doctor", "--cores", "0", "--json", timeout=180)
    finally:
        spin.kill()
        spin.wait()
    assert one.returncode in (0, 1), one.stderr
    doc = json.loads(one.stdout)
    assert doc["cores"] == [1] and doc["overhead"]["cores"] == [1]
    checks = {c["name"]: c for c in doc["checks"]}
    assert "cores 1 " in checks["cores"]["detail"]
    assert "core 0" not in checks["background load"]["detail"]
    assert (
        "all 1 watched cores" in checks["background load"]["detail"] or "core 1" in checks["background load"]["detail"]
    )
    busy = {c["name"]: c for c in json.loads(zero.stdout)["checks"]}["background load"]
    assert busy["status"] == "warn" and "core 0" in busy["detail"]


def test_unusable_workbench_home_is_one_line(tmp_path):
    """WORKBENCH_HOME pointing at a file (or below one) is a usage error naming the setting, not an internal error."""
    afile = tmp_path / "not-a-folder"
    afile.write_text("x")
    for home in (afile, afile / "below"):
        out = wb("history", "list", env={**os.environ, "WORKBENCH_HOME": str(home)})
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: WORKBENCH_HOME={home} is not usable"), lines
        assert "internal error" not in out.stderr and "set WORKBENCH_HOME to a folder" in lines[0]
