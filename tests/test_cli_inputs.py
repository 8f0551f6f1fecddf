"""Real input values and parity people can reason about, end to end: ``--input``/``--inputs`` on ``workbench run``
and ``workbench parity`` (real processes), the generated-value hint, ``--rtol``, the ratio-of-medians label, and
the UI's Inputs field."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import wb

from workbench.result import EngineResult, RunRecord

FAST = ("--cores", "0", "--duration", "0.2", "--warmup", "2it", "--no-save", "-q")


def _if_model(path: Path) -> Path:
    """``y = relu(x) + x`` when the scalar int64 input ``sr`` is 16000; any other value takes a branch whose
    1x3 output cannot be added to the 1x4 ``x`` (the engines fail at run time)."""
    import onnx
    from onnx import TensorProto as T
    from onnx import helper as h

    x = h.make_tensor_value_info("x", T.FLOAT, [1, 4])
    sr = h.make_tensor_value_info("sr", T.INT64, [])
    y = h.make_tensor_value_info("y", T.FLOAT, [1, 4])
    then_g = h.make_graph(
        [h.make_node("Relu", ["x"], ["t"])], "then", [], [h.make_tensor_value_info("t", T.FLOAT, [1, 4])]
    )
    else_g = h.make_graph(
        [h.make_node("Constant", [], ["e"], value=h.make_tensor("c", T.FLOAT, [1, 3], [1, 2, 3]))],
        "else",
        [],
        [h.make_tensor_value_info("e", T.FLOAT, [1, 3])],
    )
    nodes = [
        h.make_node("Constant", [], ["k"], value=h.make_tensor("k", T.INT64, [], [16000])),
        h.make_node("Equal", ["sr", "k"], ["cond"]),
        h.make_node("If", ["cond"], ["b"], then_branch=then_g, else_branch=else_g),
        h.make_node("Add", ["b", "x"], ["y"]),
    ]
    model = h.make_model(h.make_graph(nodes, "branch", [x, sr], [y]), opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def branch_model(tmp_path_factory) -> Path:
    return _if_model(tmp_path_factory.mktemp("branch") / "branch.onnx")


def test_a_real_scalar_runs_on_onnxruntime_and_openvino_and_is_recorded(branch_model, tmp_path):
    doc_path = tmp_path / "r.json"
    out = wb(
        "run",
        "-m",
        str(branch_model),
        "-e",
        "onnxruntime,openvino",
        "--input",
        "sr=16000",
        *FAST,
        "--json",
        str(doc_path),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(doc_path.read_text())
    assert "inputs given: sr=16000" in out.stdout
    assert [r["status"] for r in doc["results"]] == ["ok", "ok"]
    assert [r["parity"]["status"] for r in doc["results"]] == ["reference", "pass"]
    inputs = doc["config"]["inputs"]
    assert inputs["given"] == {"sr": "16000"}
    assert inputs["sources"] == {"sr": {"source": "value", "value": 16000, "dtype": "int64", "shape": []}}


def test_a_generated_scalar_that_fails_names_the_input_and_the_line_to_try(branch_model, tmp_path):
    report_path = tmp_path / "r.json"
    out = wb("run", "-m", str(branch_model), "-e", "onnxruntime", *FAST, "--json", str(report_path))
    assert out.returncode == 1, out.stdout + out.stderr
    (res,) = json.loads(report_path.read_text())["results"]
    hint = "input 'sr' is a scalar int64 and got a generated value — try --input sr=16000"
    assert res["status"] == "failed" and res["error"].endswith(hint), res["error"]
    assert hint in out.stdout and "Traceback" not in out.stderr
    parity = wb("parity", "-m", str(branch_model), "-e", "onnxruntime", "--json")
    assert parity.returncode == 1
    report = json.loads(parity.stdout)
    assert "try --input sr=16000" in report["engines"][0]["parity"]["message"]


def test_parity_with_an_npz_gives_every_engine_the_same_feeds(branch_model, tmp_path):
    feeds = tmp_path / "feeds.npz"
    x = np.array([[-1.0, 2.0, -3.0, 4.0]])  # float64: cast to float32 without a word
    np.savez(feeds, x=x, sr=np.array(16000))
    out = wb("parity", "-m", str(branch_model), "-e", "onnxruntime,openvino", "--inputs", str(feeds), "--json")
    assert out.returncode == 0, out.stdout + out.stderr
    report = json.loads(out.stdout)
    assert [e["parity"]["status"] for e in report["engines"]] == ["reference", "pass"]
    sources = report["inputs"]["sources"]
    assert set(sources) == {"x", "sr"} and sources["x"]["dtype"] == "float64" and sources["x"]["key"] == "x"
    assert len(sources["x"]["sha256"]) == 64 and report["rtol"] is None
    assert report["engines"][1]["parity"]["max_abs"] == 0.0  # the same real input reached both processes


@pytest.mark.parametrize(
    "extra,needle",
    [
        (["--input", "x=small.npy"], "--input x: small.npy has shape 1x2 float64; the model wants 1x4 float32"),
        (["--input", "rate=16000"], "--input rate: the model has no input 'rate'; its inputs: x, sr"),
        (["--input", "sr=1.5"], "--input sr: 1.5 is not a whole number, and input 'sr' is int64"),
        (["--input", "sr=missing.npy"], "--input sr: no such file: missing.npy"),
        (["--input", "5"], "--input 5: the model has 2 inputs (x, sr); name one, e.g. --input x=5"),
        (["--rtol", "0"], "--rtol must be a number > 0"),
        (["--atol", "-1"], "--atol must be a number > 0"),
    ],
)
@pytest.mark.parametrize("command", ["run", "parity"])
def test_input_mismatches_are_one_line_exit_2(branch_model, tmp_path, monkeypatch, command, extra, needle):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "small.npy", np.zeros((1, 2)))
    out = wb(command, "-m", str(branch_model), "-e", "onnxruntime", *extra)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], out.stderr


@pytest.fixture
def wrong_tiny_cnn(tmp_path, monkeypatch) -> None:
    """tiny_cnn whose exported ONNX has one conv kernel negated (a private cache: it is damaged)."""
    import onnx
    from onnx import numpy_helper

    from workbench.models.resolve import resolve

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    art = resolve("tiny_cnn", formats={"onnx", "torch-builtin"})
    m = onnx.load(art.files["onnx"])
    weights = max(m.graph.initializer, key=lambda t: numpy_helper.to_array(t).ndim)
    weights.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(weights), weights.name))
    onnx.save(m, art.files["onnx"])


@pytest.mark.slow
def test_rtol_turns_a_failing_parity_into_a_pass_and_is_recorded(wrong_tiny_cnn):
    failed = wb("parity", "-m", "tiny_cnn", "-e", "torch,onnxruntime", "--json")
    assert failed.returncode == 1, failed.stderr
    ort = json.loads(failed.stdout)["engines"][1]["parity"]
    assert ort["status"] == "fail" and ort["tolerance_source"] == "default fp32"
    (output,) = ort["outputs"]
    assert output["status"] == "fail" and len(output["max_abs_index"]) == 2
    human = wb("parity", "-m", "tiny_cnn", "-e", "torch,onnxruntime")
    assert human.returncode == 1
    # one indented line for the failing output: its name, the largest difference and where it is
    assert any(
        line.startswith(f"  {output['name']}") and f" at {tuple(output['max_abs_index'])}" in line
        for line in human.stdout.splitlines()
    ), human.stdout

    rtol = f"{ort['rel_l2'] * 2:.3g}"
    passed = wb("parity", "-m", "tiny_cnn", "-e", "torch,onnxruntime", "--rtol", rtol, "--json")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    report = json.loads(passed.stdout)
    p = report["engines"][1]["parity"]
    assert p["status"] == "pass" and p["tolerance"] == float(rtol) and p["tolerance_source"] == "user"
    assert report["rtol"] == float(rtol)


@pytest.mark.slow
def test_run_labels_the_ratio_of_medians_when_parity_fails_and_records_rtol(wrong_tiny_cnn, tmp_path):
    report_path = tmp_path / "r.json"
    out = wb("run", "-m", "tiny_cnn", "-e", "torch,onnxruntime", *FAST, "--json", str(report_path))
    assert out.returncode == 1, out.stdout + out.stderr
    ort = json.loads(report_path.read_text())["results"][1]
    assert ort["parity"]["status"] == "fail" and ort["speedup"] is None
    ratio = ort["speedup_note"].split("×")[0]
    row = next(line for line in out.stdout.splitlines() if line.startswith("onnxruntime"))
    assert row.rstrip().endswith(f"({ratio}×)"), row
    assert f"onnxruntime: ({ratio}×) ratio of medians, not a speedup: parity failed for onnxruntime" in out.stdout

    rtol = f"{ort['parity']['rel_l2'] * 2:.3g}"
    out = wb("run", "-m", "tiny_cnn", "-e", "torch,onnxruntime", *FAST, "--rtol", rtol, "--json", str(report_path))
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(report_path.read_text())
    assert doc["config"]["rtol"] == float(rtol) and doc["config"]["atol"] is None
    ort = doc["results"][1]
    assert ort["parity"]["status"] == "pass" and ort["parity"]["tolerance_source"] == "user"
    assert ort["speedup"] is not None


# ------------------------------------------------------------------------------------------------ pure rendering
def _record(mode: str = "latency", note_style: str = "new") -> RunRecord:
    from workbench.stats.speedup import speedup

    def result(engine: str, p50: float, status: str) -> EngineResult:
        return EngineResult(
            engine=engine,
            model="m",
            device="cpu",
            mode=mode,
            batch=1,
            threads=1,
            cores=[0],
            precision_requested="fp32",
            precision_effective="fp32",
            latency_ms={"p50": p50, "p90": p50, "p99": p50, "mean": p50, "std": 0.1},
            throughput=1000.0 / p50,
            parity={"status": status, "reference": "torch fp32", "message": "relative L2 error 1.0e+00 exceeds"},
        )

    base, other = result("torch", 8.0, "reference"), result("onnxruntime", 5.0, "fail")
    for r in (base, other):
        r.speedup, r.speedup_note = speedup(r, base, mode)
    if note_style == "old":  # records written before the label existed
        other.speedup_note = "1.60× not shown as a speedup: parity fail"
    return RunRecord(
        run_id="r1",
        created="2001-01-01T00:00:00+00:00",
        model={"name": "m"},
        config={"batch": 1, "mode": mode, "threads": 1, "cores": [0], "duration_s": 1.0, "repeats": 1},
        system={},
        versions={},
        results=[base, other],
        baseline="torch",
    )


def test_failed_parity_shows_the_ratio_in_parentheses_labelled_not_a_speedup():
    from workbench.report.columns import speedup_cell
    from workbench.report.text import render_results
    from workbench.stats.speedup import unshown_ratio

    record = _record()
    note = record.results[1].speedup_note
    assert note == "1.60× ratio of medians, not a speedup: parity failed for onnxruntime"
    assert unshown_ratio(note) == 1.6 and speedup_cell(None, note) == "(1.60×)"
    text = render_results(record)
    row = next(line for line in text.splitlines() if line.startswith("onnxruntime"))
    assert row.rstrip().endswith("(1.60×)") and "n/a" not in row
    assert "  onnxruntime: (1.60×) ratio of medians, not a speedup: parity failed for onnxruntime" in text
    assert speedup_cell(None, "1.60× not shown as a speedup: parity fail") == "(1.60×)"  # older records
    assert "(1.60×)" in render_results(_record(note_style="old"))
    assert speedup_cell(None, "not shown: parity fail") == "n/a" and speedup_cell(None, None) == "—"
    assert speedup_cell(2.0, "baseline") == "2.00×"
    thr = _record("throughput").results[1].speedup_note
    assert thr == "1.60× ratio of throughputs, not a speedup: parity failed for onnxruntime"


def test_a_failing_baseline_is_named():
    from workbench.stats.speedup import speedup

    record = _record()
    base, other = record.results
    base = dataclasses.replace(base, parity={"status": "fail"})
    other = dataclasses.replace(other, parity={"status": "pass"})
    _, note = speedup(other, base, "latency")
    assert note == "1.60× ratio of medians, not a speedup: parity failed for the baseline torch"


# ------------------------------------------------------------------------------------------------------------ UI
@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_the_ui_inputs_field_reaches_the_run_config_and_shows_the_ratio(tmp_path, monkeypatch):
    from snapshot_apps.tui_fixtures import fixture_app
    from textual.widgets import Input

    from workbench.models.inputs import InputRequest
    from workbench.tui.widgets.results import ResultsTable, ResultsView

    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    started = []
    app = fixture_app()
    monkeypatch.setattr(app, "start_run", lambda config: started.append(config))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("2")
        field = app.query_one("#setup-inputs", Input)
        field.value = "sr=16000, x=" + str(tmp_path / "x.npy")
        app.action_run_bench()
        await pilot.pause(0.1)
        assert len(started) == 1
        assert started[0].inputs == InputRequest(given=(("sr", "16000"), ("x", str(tmp_path / "x.npy"))))

        field.value = "sr=16000 oops"
        app.action_run_bench()
        await pilot.pause(0.1)
        assert len(started) == 1
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        assert errors and errors[-1] == "inputs: 'oops' is not NAME=VALUE (e.g. sr=16000, x=a.npy, image=photo.jpg)"
        assert app.focused is field

        field.value = "x=" + str(tmp_path / "nope.npy")
        await pilot.press("enter")  # enter in a Setup field runs, like r
        await pilot.pause(0.1)
        errors = [str(n.message) for n in app._notifications if n.severity == "error"]
        assert errors[-1] == f"inputs: x: no such file: {tmp_path / 'nope.npy'}" and len(started) == 1

        record = _record()
        app.show_results(ResultsView(results=tuple(record.results), record=record, fixture=True))
        await pilot.pause(0.1)
        table = app.query_one(ResultsTable)
        rows = {str(table.get_row_at(i)[0]).strip(): table.get_row_at(i) for i in range(table.row_count)}
        assert str(rows["onnxruntime"][7]).strip() == "(1.60×)"
