"""Below fp32: int8 preparation and calibration, the effective precision read back from each engine, drift, the
speedup over the same engine's fp32, refusals, and ``workbench size`` — on the tiny built-in CNN only."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import ModelError, UnsupportedError, UsageError
from workbench.measure import wire
from workbench.measure.precision import baseline_name, drift_seeds, fp32_options, mismatch_message
from workbench.models.inputs import make_inputs
from workbench.models.quantize import (
    CALIBRATION_SEED_OFFSET,
    CalibrationRequest,
    calibration_set,
    check_calibration,
    explain_quantize_error,
    load_samples,
    ort_int8_method,
    ort_int8_scheme,
    prepare_int8,
)
from workbench.result import EngineResult
from workbench.stats.drift import drift
from workbench.stats.speedup import speedup_over_fp32
from workbench_engines.base import LoadSettings, ModelArtifact, TensorSpec
from workbench_engines.precision import census_precision as _census
from workbench_engines.precision import onnx_census, openvino_census, refuse_precision, variant_file
from workbench_engines.registry import get_engine_class
from workbench_engines.torch_precision import census_from_ops, executed_op_precision
from workbench_engines.variants import PrecisionVariant

IMAGE = (TensorSpec("x", (1, 3, 8, 8), "float32", "image"),)


@pytest.fixture
def tiny(shared_cache):
    from workbench.models.resolve import resolve

    return resolve("tiny_cnn")


@pytest.fixture
def tiny_int8(tiny):
    return prepare_int8(
        tiny, {"torch": {}, "onnxruntime": {}, "openvino": {}}, calibration=CalibrationRequest(samples=4)
    )


def _load(engine: str, artifact, precision: str, **options):
    model = get_engine_class(engine).load(artifact, LoadSettings(threads=1, precision=precision, options=options))
    model.set_inputs(make_inputs(artifact.inputs, seed=0))
    model.infer()
    return model


# ---- the census rule (pure) ----------------------------------------------------------------------------------
def test_census_says_int8_only_when_every_compute_layer_ran_int8():
    assert _census({"int8": 4}, "fp32") == "int8"
    assert _census({"int8": 3, "fp32": 1}, "fp32") == "mixed"
    assert _census({"fp32": 4}, "fp32") == "fp32"
    assert _census({}, "bf16") == "bf16"
    assert _census({"bf16": 2, "fp32": 1}, "bf16") == "mixed"


def test_onnx_census_counts_quantized_kernels_and_float_ones():
    # a QDQ model whose Conv ORT did not fuse: DequantizeLinear feeding a float Conv is not int8
    assert onnx_census(["QuantizeLinear", "DequantizeLinear", "Conv", "Relu"]) == {"fp32": 1}
    assert onnx_census(["QLinearConv", "QGemm", "MatMulInteger", "MatMul"]) == {"int8": 3, "fp32": 1}


def test_openvino_census_reads_runtime_precision_of_compute_layers_only():
    layers = [("Convolution", "u8"), ("FullyConnected", "i8"), ("Pooling", "u8"), ("Convolution", "f32")]
    assert openvino_census(layers) == {"int8": 2, "fp32": 1}


def test_torch_census_counts_the_outermost_compute_op_of_each_call():
    ops = [
        ("quantized::conv2d_relu", []),
        ("aten::linear", []),
        ("aten::addmm", ["aten::linear"]),  # inside linear: not counted again
        ("aten::relu", []),
        ("quantized::linear_dynamic", []),
    ]
    assert census_from_ops(ops) == {"int8": 2, "fp32": 1}
    assert executed_op_precision("onednn::qconv2d_pointwise") == "int8"
    assert executed_op_precision("aten::add") is None


# ---- drift and the speedup over fp32 (pure) --------------------------------------------------------------------
def _outs(seed: int, scale: float = 1.0, noise: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((2, 10))
    base[:, 0] += 6.0  # class 0 wins by a margin beyond the int8 tolerance's reach: every item is decisive
    return {"logits": (base * scale + noise * rng.standard_normal((2, 10))).astype(np.float32)}


def test_drift_of_identical_outputs_is_zero_and_within():
    fp32 = [_outs(s) for s in range(4)]
    d = drift(fp32, [dict(o) for o in fp32], precision="int8", task="image-classification")
    assert d.status == "within" and d.rel_l2 == 0 and d.max_abs == 0 and d.top1 == 1.0 and d.samples == 4
    assert d.top1_items == 8 and d.top1_near_ties == 0 and d.top1_omitted is None


def test_drift_arithmetic_relative_l2_max_abs_and_top1():
    fp32 = [{"y": np.array([[1.0, 2.0, 0.0]], dtype=np.float32)}, {"y": np.array([[3.0, 0.0, 4.0]], dtype=np.float32)}]
    low = [{"y": np.array([[1.0, 2.0, 0.5]], dtype=np.float32)}, {"y": np.array([[3.0, 0.0, 4.0]], dtype=np.float32)}]
    d = drift(fp32, low, precision="int8", task="image-classification")
    assert d.rel_l2 == pytest.approx(0.5 / np.sqrt(5 + 25))  # pooled: ‖Δ‖ 0.5 over ‖(1, 2, 0, 3, 0, 4)‖
    assert d.rel_l2_worst == pytest.approx(0.5 / np.sqrt(5))  # worst input: |Δ| 0.5 over ‖(1, 2, 0)‖
    assert d.rel_l2_mean == pytest.approx(0.5 / np.sqrt(5) / 2)
    assert d.max_abs == pytest.approx(0.5)
    # both items' fp32 top-1 wins by 1 on logits of scale 1.3 and 2.9: within the int8 tolerance's reach
    assert d.top1 is None and d.top1_items == 0 and d.top1_near_ties == 2
    assert (d.top1_omitted or "").startswith("fp32 top-1 is a near-tie on 2 of 2 items")


def test_one_input_near_zero_does_not_blow_up_the_pooled_drift():
    fp32 = [{"y": np.array([[5.0, -5.0]])}, {"y": np.array([[1e-3, -1e-3]])}]
    low = [{"y": np.array([[5.01, -5.0]])}, {"y": np.array([[1e-2, -1e-3]])}]
    d = drift(fp32, low, precision="int8")
    assert d.rel_l2_worst is not None and d.rel_l2_worst > 5  # that input alone: 9e-3 over 1.4e-3
    assert d.rel_l2 is not None and d.rel_l2 < 3e-3 and d.status == "within"


def test_drift_over_the_tolerance_and_errors():
    fp32 = [_outs(s) for s in range(3)]
    far = [_outs(s, scale=-1.0) for s in range(3)]  # sign flipped: rel L2 2
    d = drift(fp32, far, precision="int8", task="image-classification")
    assert d.status == "over" and d.rel_l2 == pytest.approx(2.0) and d.top1 == 0.0 and d.top1_items == 6
    assert "exceeds the int8 tolerance" in (d.message or "")
    nan = [{"logits": np.full((2, 10), np.nan, dtype=np.float32)} for _ in range(3)]
    assert drift(fp32, nan, precision="bf16").status == "error"
    assert drift(fp32, fp32[:2], precision="bf16").status == "error"
    assert drift([], [], precision="fp16").status == "error"


def _res(p50: float, **kw) -> EngineResult:
    return EngineResult(engine="e", model="m", latency_ms={"p50": p50}, throughput=1000 / p50, **kw)


def test_speedup_over_fp32_is_shown_only_with_the_drift_within_tolerance():
    base = {"status": "ok", "latency_ms": {"p50": 40.0}, "throughput": 25.0}
    value, note = speedup_over_fp32(_res(10.0), base, "latency", {"status": "within"})
    assert value == pytest.approx(4.0) and note is None
    value, note = speedup_over_fp32(_res(10.0), base, "throughput", {"status": "within"})
    assert value == pytest.approx(4.0)
    value, note = speedup_over_fp32(_res(10.0), base, "latency", {"status": "over", "message": "drift 0.4"})
    assert value is None and note is not None and note.startswith("4.00×") and "drift 0.4" in note
    value, note = speedup_over_fp32(_res(10.0), {"status": "failed", "error": "boom"}, "latency", None)
    assert value is None and "fp32 baseline failed: boom" in (note or "")
    assert speedup_over_fp32(_res(10.0), None, "latency", None) == (None, None)


def test_baseline_names_seeds_options_and_mismatch_message():
    assert baseline_name("torch") == "torch fp32"
    assert drift_seeds(5, 3) == (5, 6, 7)
    ort = get_engine_class("onnxruntime")
    assert fp32_options(ort, {"int8_scheme": "s8s8"}) == {}  # int8-only options stay off the fp32 baseline
    torch_cls = get_engine_class("torch")
    assert fp32_options(torch_cls, {"compile": "inductor", "int8_path": "fx"}) == {"compile": "inductor"}
    msg = mismatch_message(
        "onnxruntime", "int8", "mixed", {"int8_share": 0.76, "compute_layers": {"fp32": 12, "int8": 38}}
    )
    assert "76%" in msg and "12 fp32" in msg


# ---- the ONNX Runtime scheme rule ------------------------------------------------------------------------------
def test_ort_scheme_rule_per_isa_and_override():
    assert ort_int8_scheme("auto", {"avx2", "avx512_vnni"}, "x86_64") == {
        "scheme": "u8s8",
        "reduce_range": False,
        "rule": "auto: x86 with VNNI -> U8S8",
    }
    no_vnni = ort_int8_scheme("auto", {"avx2"}, "x86_64")
    assert no_vnni["scheme"] == "u8s8" and no_vnni["reduce_range"] is True
    assert ort_int8_scheme("auto", set(), "aarch64")["scheme"] == "s8s8"
    assert ort_int8_scheme("s8s8", {"avx512_vnni"}, "x86_64")["rule"] == "onnxruntime.int8_scheme=s8s8"
    with pytest.raises(UsageError):
        ort_int8_scheme("u4", set(), "x86_64")
    tokens = (TensorSpec("input_ids", (1, 8), "int64", "tokens", 100),)
    assert ort_int8_method("auto", tokens)[0] == "dynamic"
    assert ort_int8_method("auto", IMAGE)[0] == "static"
    assert ort_int8_method("static", tokens)[0] == "static"


# ---- calibration -----------------------------------------------------------------------------------------------
def _artifact(tmp_path: Path) -> ModelArtifact:
    return ModelArtifact(name="m.onnx", source="file", files={"onnx": str(tmp_path / "m.onnx")}, inputs=IMAGE)


def test_synthetic_calibration_is_seeded_cached_and_apart_from_the_drift_inputs(tmp_path):
    art = _artifact(tmp_path)
    path, info = calibration_set(art, CalibrationRequest(samples=3), seed=0)
    assert info == {"source": "synthetic", "path": None, "count": 3, "seed": 0}
    samples = load_samples(path)
    assert len(samples) == 3 and samples[0]["x"].shape == (1, 3, 8, 8)
    np.testing.assert_array_equal(samples[1]["x"], make_inputs(IMAGE, seed=CALIBRATION_SEED_OFFSET + 1)["x"])
    assert not np.array_equal(samples[0]["x"], make_inputs(IMAGE, seed=0)["x"])  # the drift/timed input differs
    mtime = path.stat().st_mtime_ns
    again, _ = calibration_set(art, CalibrationRequest(samples=3), seed=0)
    assert again == path and again.stat().st_mtime_ns == mtime  # a cache hit: not rewritten


def test_real_calibration_data_npz_with_a_sample_axis_and_a_folder(tmp_path):
    art = _artifact(tmp_path)
    data = np.random.default_rng(1).standard_normal((5, 1, 3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "cal.npz", x=data)
    path, info = calibration_set(art, CalibrationRequest(samples=2, data=str(tmp_path / "cal.npz")))
    assert info["source"] == "real" and info["count"] == 2 and info["path"] == str((tmp_path / "cal.npz").resolve())
    np.testing.assert_array_equal(load_samples(path)[1]["x"], data[1])
    folder = tmp_path / "dir"
    folder.mkdir()
    for i in range(3):
        np.save(folder / f"{i}.npy", data[i])
    (folder / "README").write_text("not a sample")
    _, info = calibration_set(art, CalibrationRequest(data=str(folder)))
    assert info["count"] == 3  # every sample of the folder when no count is given


def test_calibration_data_that_does_not_fit_is_one_line(tmp_path):
    art = _artifact(tmp_path)
    np.savez(tmp_path / "bad.npz", x=np.zeros((2, 1, 3, 4, 4), dtype=np.float32))
    with pytest.raises(UsageError) as err:
        calibration_set(art, CalibrationRequest(data=str(tmp_path / "bad.npz")))
    assert "\n" not in str(err.value) and "1x3x8x8" in str(err.value)
    with pytest.raises(UsageError, match="no such file"):
        check_calibration(CalibrationRequest(data=str(tmp_path / "missing.npz")))
    with pytest.raises(UsageError, match="between 1 and"):
        check_calibration(CalibrationRequest(samples=0))


# ---- preparation: cached, and the engines' own evidence ---------------------------------------------------------
def test_int8_preparation_makes_each_format_once_and_reuses_the_cache(tiny, tiny_int8):
    variant = tiny_int8.variants["int8"]
    assert set(variant.files) == {"onnx", "openvino"} and not variant.errors
    assert variant.calibration["count"] == 4 and variant.calibration["source"] == "synthetic"
    assert all(d["cached"] is False or d["cached"] is True for d in variant.details.values())
    assert variant.details["onnx"]["scheme"] in ("u8s8", "s8s8") and variant.details["onnx"]["quant_format"] == "QDQ"
    again = prepare_int8(tiny, {"onnxruntime": {}, "openvino": {}}, calibration=CalibrationRequest(samples=4))
    assert all(d["cached"] for d in again.variants["int8"].details.values())  # the second prepare is a cache hit
    assert again.variants["int8"].files == variant.files
    restored = ModelArtifact.from_dict(json.loads(json.dumps(tiny_int8.to_dict())))
    assert restored.variants["int8"] == variant  # crosses the process boundary intact


@pytest.mark.parametrize("engine", ["torch", "onnxruntime", "openvino"])
def test_quantized_tiny_cnn_reports_int8_from_the_engine_and_fp32_does_not(engine, tiny_int8):
    low = _load(engine, tiny_int8, "int8")
    eff = low.effective()
    assert eff.precision == "int8", eff.extra
    assert eff.extra["int8_share"] == 1.0 and eff.extra["compute_layers"]["int8"] >= 3
    assert eff.extra["quantization"]["calibration"]["count"] == 4
    fp32 = _load(engine, tiny_int8, "fp32")
    assert fp32.effective().precision == "fp32"
    a, b = next(iter(fp32.outputs().values())), next(iter(low.outputs().values()))
    assert 0 < np.linalg.norm(a - b) / np.linalg.norm(a) < 0.2  # int8 differs from fp32, a little


def test_an_unfused_qdq_model_is_not_reported_int8(tiny_int8, tmp_path):
    import onnxruntime as ort

    from workbench_engines.precision import onnx_graph_ops

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # QDQ pairs stay around float Convs
    opts.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(tiny_int8.variants["int8"].files["onnx"], opts, providers=["CPUExecutionProvider"])
    counts = onnx_census(onnx_graph_ops(str(tmp_path / "opt.onnx")))
    assert _census(counts, "fp32") == "fp32" and counts.get("fp32", 0) >= 3


def test_torch_dynamic_quantization_of_a_cnn_is_mixed(tiny_int8):
    eff = _load("torch", tiny_int8, "int8", int8_path="dynamic").effective()
    assert eff.precision == "mixed" and 0 < eff.extra["int8_share"] < 1  # its convolutions stay fp32
    assert "deprecated" in eff.extra["quantization"]["deprecated"]


def test_torch_bf16_autocast_is_read_back(tiny):
    model = _load("torch", tiny, "bf16")
    eff = model.effective()
    assert eff.precision == "bf16" and eff.extra["autocast"] == "bfloat16"
    assert eff.extra["compute_layers"] == {"bf16": 4} and eff.extra["native_hardware"] in (True, False, None)
    assert next(iter(model.outputs().values())).dtype == np.float32


def test_torch_compile_time_is_recorded_apart(tiny):
    model = _load("torch", tiny, "fp32", compile="eager")
    compiled = model.effective().extra["compile"]
    assert compiled["backend"] == "eager" and compiled["compile_ms"] > 0


# ---- refusals --------------------------------------------------------------------------------------------------
def test_a_precision_an_engine_cannot_run_is_one_line_naming_what_it_can(tiny):
    for precision in ("fp16", "bf16"):
        with pytest.raises(UnsupportedError) as err:
            get_engine_class("onnxruntime").load(tiny, LoadSettings(precision=precision, threads=1))
        text = str(err.value)
        assert "\n" not in text and f"cannot run {precision} on cpu" in text and "it runs fp32, int8" in text
    assert "int8" not in get_engine_class("torch").precisions("cuda")
    line = str(refuse_precision("torch", "int8", "cuda", ("fp32", "bf16", "fp16")))
    assert line == "torch cannot run int8 on cuda; on cuda it runs fp32, bf16, fp16"


def test_int8_without_prepared_files_or_from_a_failed_quantization(tiny):
    with pytest.raises(UnsupportedError, match="int8"):
        variant_file(tiny, "int8", "onnx", "onnxruntime")
    failed = PrecisionVariant("int8", errors={"onnx": "onnxruntime int8 quantization failed: op Foo: no kernel"})
    broken = replace(tiny, variants={"int8": failed})
    with pytest.raises(ModelError, match="op Foo"):
        get_engine_class("onnxruntime").load(broken, LoadSettings(precision="int8", threads=1))
    script = replace(tiny, files={"torchscript": "/x.pt"})
    with pytest.raises(UnsupportedError, match="built-in eager modules"):
        get_engine_class("torch").load(script, LoadSettings(precision="int8"))


def test_quantizer_errors_name_the_op():
    exc = RuntimeError("Traceback\n  something\nUnsupported op_type: 'NonMaxSuppression' in node nms_1")
    assert explain_quantize_error(exc) == "Unsupported op_type: 'NonMaxSuppression' in node nms_1"  # names it
    deep = RuntimeError("while quantizing node type: QLinearSoftmax\n  frame 1\nshape inference failed")
    assert explain_quantize_error(deep) == "op QLinearSoftmax: shape inference failed"  # the op from above
    assert explain_quantize_error(RuntimeError("[Conv-18] weight rank mismatch")) == "[Conv-18] weight rank mismatch"


def test_wire_carries_the_drift_seeds_and_the_int8_request():
    job = wire.Job(engine="torch", artifact={"name": "m"}, drift_seeds=(3, 4))
    assert wire.Job.from_json(job.to_json()).drift_seeds == (3, 4)
    prep = wire.PrepareJob(model="m", precision="int8", quantize={"onnxruntime": {"int8_scheme": "s8s8"}})
    back = wire.PrepareJob.from_json(prep.to_json())
    assert back.precision == "int8" and back.quantize == {"onnxruntime": {"int8_scheme": "s8s8"}}


# ---- a whole run, the table, workbench size ----------------------------------------------------------------------
def _config(**kw):
    from workbench.measure.runner import RunConfig

    base = dict(
        model="tiny_cnn",
        engines=("torch", "onnxruntime", "openvino"),
        precision="int8",
        duration_s=0.1,
        warmup_s=0.0,
        min_iterations=5,
        cores=(0,),
        threads=1,
        calibration_samples=4,
        drift_samples=3,
    )
    base.update(kw)
    return RunConfig(**base)


def test_an_int8_run_measures_each_engine_against_its_own_fp32_with_drift(shared_cache):
    from workbench.measure.runner import Runner
    from workbench.report.text import render_results

    record = Runner(_config(), live=False).run()
    assert [r.engine for r in record.results] == ["torch", "onnxruntime", "openvino"]
    for r in record.results:
        assert r.ok and r.precision_requested == "int8" and r.precision_effective == "int8", r.error
        assert r.fp32_baseline and r.fp32_baseline["status"] == "ok"
        assert r.fp32_baseline["precision_effective"] == "fp32"
        assert r.drift and r.drift["samples"] == 3 and r.drift["status"] == "within"
        assert r.speedup_vs_fp32 is not None and r.speedup_vs_fp32 > 0
        assert r.quantization and r.quantization["calibration"]["count"] == 4
        assert (r.parity or {}).get("status") == "pass"  # against the torch fp32 baseline's outputs
    assert record.model["variants"]["int8"]["files"] == ["onnx", "openvino"]
    text = render_results(record)
    assert "int8 against each engine's own fp32" in text and "drift L2" in text and "within" in text


def test_a_failed_quantization_is_that_engines_error_row_and_the_others_run(tiny_int8, shared_cache):
    from workbench.measure.runner import Runner

    variant = tiny_int8.variants["int8"]
    broken = replace(
        variant,
        files={"openvino": variant.files["openvino"]},
        errors={"onnx": "onnxruntime int8 quantization failed: op NonMaxSuppression: not supported"},
    )
    art = replace(tiny_int8, variants={"int8": broken})
    record = Runner(_config(engines=("onnxruntime", "openvino"), parity=False), live=False, artifact=art).run()
    ort_row, ov_row = record.results
    assert not ort_row.ok and "op NonMaxSuppression" in (ort_row.error or "")
    assert ov_row.ok and ov_row.precision_effective == "int8" and ov_row.drift


def test_calibration_flags_below_int8_are_a_usage_error():
    from workbench.measure.runner import validate

    with pytest.raises(UsageError, match="applies to --precision int8"):
        validate(_config(precision="fp32"))
    with pytest.raises(UsageError, match="--drift-samples"):
        validate(_config(drift_samples=0))


def test_workbench_size_prints_the_gzip_table(shared_cache, capsys):
    from workbench.cli import main

    assert main(["size", "-m", "tiny_cnn", "--calibration-samples", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    got = {(r["format"], r["precision"]) for r in rows}
    assert got == {(f, p) for f in ("torch-builtin", "onnx", "openvino") for p in ("fp32", "int8")}
    for r in rows:
        assert r["params"] > 9000 and 0 < r["gzip_bytes"] < r["bytes"]
    by = {(r["format"], r["precision"]): r for r in rows}
    assert by[("onnx", "int8")]["bytes"] < by[("onnx", "fp32")]["bytes"]
    assert main(["size", "-m", "tiny_cnn", "--precision", "fp32"]) == 0
    text = capsys.readouterr().out
    assert "gzip -9" in text and "KiB" in text and "int8" not in text
    with pytest.raises(SystemExit):
        main(["size", "-m", "tiny_cnn", "--precision", "bf16"])
    assert "no files of its own" in capsys.readouterr().err


def test_ort_pre_processing_leaves_nothing_in_the_working_directory(tmp_path, monkeypatch):
    """ONNX Runtime's symbolic shape inference saves `sym_shape_infer_temp.onnx` (and its external data) into the
    current directory when it cannot finish on a dynamic-axes model, then raises; the workbench runs it in a
    scratch directory and quantizes the model as it is."""
    from pathlib import Path

    from workbench.models.quantize import _pre_process

    def litters(src: str, dst: str, **kw) -> None:
        Path("sym_shape_infer_temp.onnx").write_bytes(b"x")
        raise RuntimeError("Incomplete symbolic shape inference")

    work = tmp_path / "user"
    work.mkdir()
    monkeypatch.chdir(work)
    src = tmp_path / "m.onnx"
    model_in, what = _pre_process(litters, src, tmp_path / "pre.onnx")
    assert model_in == src.resolve() and what == "skipped: Incomplete symbolic shape inference"
    assert list(work.iterdir()) == [] and Path.cwd() == work
