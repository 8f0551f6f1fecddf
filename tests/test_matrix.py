"""``workbench matrix``: real attempts on the tiny built-in, the cache and --refresh, rendering, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_cli import wb

from workbench.campaign.matrix import CACHE_FILE, Cell, CellKey, MatrixCache, eta_s
from workbench.report.matrix import render_markdown, render_matrix


def _cells(out: subprocess.CompletedProcess) -> dict[tuple[str, str], dict]:
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    return {(c["engine"], c["precision"]): c for c in report["cells"]}


def test_matrix_attempts_caches_refreshes_and_exports(test_engines, shared_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("WB_CRASH_AFTER", "0")  # the crash engine dies in its first inference, inside the load
    args = ("matrix", "-m", "tiny_cnn", "-e", "onnxruntime,openvino,crash", "-p", "fp32,bf16")
    first = _cells(wb(*args, "--refresh", "--json"))  # the session's model cache is shared: attempt every cell
    for engine in ("onnxruntime", "openvino"):
        c = first[(engine, "fp32")]
        assert c["status"] == "works", c
        assert c["precision_effective"] == "fp32"
        assert c["load_ms"] > 0 and c["first_inference_ms"] > 0
        assert c["engine_version"] and not c["cached"] and c["measured_at"]
    ort_bf16 = first[("onnxruntime", "bf16")]
    assert ort_bf16["status"] == "unsupported"
    assert "onnxruntime cannot run bf16" in ort_bf16["reason"] and "\n" not in ort_bf16["reason"]
    crash = first[("crash", "fp32")]
    assert crash["status"] == "failed" and "SIGSEGV" in crash["reason"], crash

    second = _cells(wb(*args, "--json"))
    assert all(c["cached"] for c in second.values())
    assert {k: c["measured_at"] for k, c in second.items()} == {k: c["measured_at"] for k, c in first.items()}

    md = tmp_path / "matrix.md"
    text = wb(*args, "--markdown", str(md))
    assert text.returncode == 0, text.stderr
    assert "✓ works" in text.stdout and "– unsupported [" in text.stdout and "✗ failed [" in text.stdout
    assert "6 from the cache" in text.stdout and "†" in text.stdout
    table = md.read_text()
    assert "| model | precision | onnxruntime | openvino | crash |" in table
    assert "| tiny_cnn | bf16 | – unsupported [" in table and "killed by SIGSEGV" in table

    again = _cells(wb("matrix", "-m", "tiny_cnn", "-e", "onnxruntime", "--refresh", "--json"))
    assert not again[("onnxruntime", "fp32")]["cached"]
    assert again[("onnxruntime", "fp32")]["status"] == "works"


def test_bad_input_exits_2_before_attempting_anything():
    for args, needle in (
        (("-m", "tiny_cn"), "did you mean 'tiny_cnn'"),
        (("-m", "tiny_cnn", "-p", "fp64"), "unknown precision fp64"),
        (("-m", "tiny_cnn", "-e", "tensorrtx"), "unknown engine"),
        (("-m", "tiny_cnn", "--timeout", "0"), "--timeout"),
    ):
        out = wb("matrix", *args, timeout=60)
        assert out.returncode == 2, out
        assert needle in out.stderr and "Traceback" not in out.stderr


def test_cache_key_and_atomic_file(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    cache = MatrixCache(folder / CACHE_FILE)
    key = CellKey("tiny_cnn", "onnxruntime", "cpu", "fp32", "1.0", "0.1.0", "abc")
    assert cache.get(key) is None
    cache.put(key, Cell("tiny_cnn", "onnxruntime", "cpu", "fp32", status="works", load_ms=1.0))
    hit = cache.get(key)
    assert hit is not None and hit.cached and hit.status == "works"
    for changed in ({"engine_version": "1.1"}, {"workbench_version": "0.2.0"}, {"machine": "other"}):
        assert cache.get(CellKey(**{**key.__dict__, **changed})) is None
    assert [p.name for p in folder.iterdir()] == [CACHE_FILE]  # no temp file left behind
    (folder / CACHE_FILE).write_text("{not json")
    assert cache.get(key) is None  # a broken cache is an empty one


def test_rendering_numbers_shared_reasons_and_names_effective_precision():
    def cell(engine: str, precision: str, status: str, **kw: object) -> dict:
        return {"model": "m", "engine": engine, "device": "cpu", "precision": precision, "status": status, **kw}

    report = {
        "engines": ["a", "b"],
        "devices": ["cpu"],
        "machine": "abc",
        "workbench_version": "0.1.0",
        "cells": [
            cell("a", "int8", "works", precision_effective="mixed", load_ms=12.0, first_inference_ms=1.5),
            cell("b", "int8", "unsupported", reason="b cannot run int8 | here"),
            cell("a", "bf16", "failed", reason="boom", cached=True, measured_at="2025-05-01T10:02:03+00:00"),
            cell("b", "bf16", "unsupported", reason="b cannot run int8 | here"),
        ],
    }
    text = render_matrix(report)
    assert "✓ works (ran mixed) · 12.00 ms / 1.500 ms" in text
    assert text.count("[1]") == 3 and "[1] b cannot run int8 | here" in text and "[2] boom" in text
    assert "measured 2025-05-01 10:02 UTC" in text
    md = render_markdown(report)
    assert "1. b cannot run int8 \\| here" in md and "| m | int8 | ✓ works (ran mixed)" in md
    assert eta_s([2.0, 4.0], 3) == 9.0 and eta_s([], 2) is None


def test_ctrl_c_keeps_finished_cells_and_exits_130(shared_cache):
    cache = Path(shared_cache) / CACHE_FILE
    before = json.loads(cache.read_text())["cells"] if cache.exists() else {}
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "matrix", "-m", "tiny_cnn", "-e", "onnxruntime,openvino"]
        + ["-p", "fp32,bf16,fp16,int8", "--refresh"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def attempted() -> int:
        try:
            cells = json.loads(cache.read_text())["cells"]
        except (OSError, ValueError):
            return 0
        return sum(1 for k, c in cells.items() if before.get(k) != c)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and attempted() < 1 and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "finished ones are kept in the cache" in err
    assert attempted() >= 1
