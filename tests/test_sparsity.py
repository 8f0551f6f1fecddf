"""--sparsity: global magnitude pruning of conv/linear weights before export, the same pruned model for every
engine, the achieved sparsity measured and recorded, and OpenVINO's sparse-weights switch read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.errors import UsageError
from workbench.models import prune, zoo


def _weights(module) -> dict[str, np.ndarray]:
    return {name: m.weight.detach().clone().numpy() for name, m in prune.prunable(module)}


@pytest.mark.parametrize("target", [0.3, 0.5, 0.9])
def test_global_magnitude_pruning_reaches_the_target_within_one_percent(target):
    module = zoo.build_module("tiny_cnn", seed=0)
    before = _weights(module)
    report = prune.prune_global(module, target)
    after = _weights(module)
    zeros = sum(int((w == 0).sum()) for w in after.values())
    total = sum(w.size for w in after.values())
    assert abs(zeros / total - target) <= 0.01 and report["achieved"] == pytest.approx(zeros / total)
    assert report["weights"] == total and report["zeros"] == zeros
    assert set(report["layers"]) == {f"{name}.weight" for name in after}
    for name, w in after.items():
        assert report["layers"][f"{name}.weight"] == pytest.approx(float((w == 0).mean()))
    # global: every weight pruned was no larger in magnitude than every weight kept, across all layers
    pruned = np.concatenate([np.abs(before[n][after[n] == 0]) for n in after])
    kept = np.concatenate([np.abs(before[n][after[n] != 0]) for n in after])
    assert pruned.max() <= kept.min()
    # kept weights are untouched, and the pruning is permanent (no mask re-parametrisation left)
    for n in after:
        assert np.array_equal(after[n][after[n] != 0], before[n][after[n] != 0])
    assert not any(name.endswith("_orig") for name, _ in module.named_parameters())


def test_pruning_is_deterministic_and_leaves_biases_alone():
    a, b = zoo.build_module("tiny_cnn", seed=0), zoo.build_module("tiny_cnn", seed=0)
    dense = {k: v.clone() for k, v in a.state_dict().items()}
    prune.prune_global(a, 0.6)
    prune.prune_global(b, 0.6)
    sa, sb = a.state_dict(), b.state_dict()
    assert set(sa) == set(dense) and all(np.array_equal(sa[k].numpy(), sb[k].numpy()) for k in sa)
    pruned = {f"{name}.weight" for name, _ in prune.prunable(a)}
    untouched = [k for k in sa if k not in pruned]  # biases, BatchNorm parameters and statistics
    assert untouched and all(np.array_equal(sa[k].numpy(), dense[k].numpy()) for k in untouched)


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_bad_sparsity_is_one_line(bad):
    with pytest.raises(UsageError, match=r"--sparsity must be a fraction in \[0, 1\)"):
        prune.check_sparsity(bad)


def _onnx_weight_zeros(path: str) -> float:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
    weights = [a for a in arrays if a.ndim >= 2]  # conv kernels and linear matrices (biases are 1-D)
    return sum(int((a == 0).sum()) for a in weights) / sum(a.size for a in weights)


def test_the_pruned_model_is_what_every_format_holds_and_never_shares_a_dense_file(shared_cache):
    from workbench.models.resolve import resolve

    dense = resolve("tiny_cnn", batch=2)
    sparse = resolve("tiny_cnn", batch=2, sparsity=0.5)
    assert dense.sparsity is None
    assert sparse.sparsity is not None and abs(sparse.sparsity["achieved"] - 0.5) <= 0.01
    for fmt in ("torch-builtin", "onnx", "openvino"):
        assert Path(sparse.files[fmt]).is_file() and sparse.files[fmt] != dense.files[fmt]
    assert _onnx_weight_zeros(dense.files["onnx"]) < 0.05
    assert abs(_onnx_weight_zeros(sparse.files["onnx"]) - 0.5) <= 0.01  # exported after pruning
    again = resolve("tiny_cnn", batch=2, sparsity=0.5)  # a cache hit: same files, same report
    assert again.files == sparse.files and again.sparsity == sparse.sparsity
    other = resolve("tiny_cnn", batch=2, sparsity=0.8)
    assert other.files["onnx"] != sparse.files["onnx"] and other.sparsity["achieved"] == pytest.approx(0.8, abs=0.01)


def test_files_are_refused_in_one_line(shared_cache):
    from workbench.models.resolve import resolve

    onnx_file = resolve("tiny_cnn", formats={"onnx"}).files["onnx"]
    with pytest.raises(UsageError, match="built-in"):
        resolve(onnx_file, sparsity=0.5)


def test_a_sparse_run_on_all_three_engines_records_what_was_achieved(shared_cache):
    from workbench.measure.runner import RunConfig, Runner
    from workbench.report.text import render_results

    record = Runner(
        RunConfig(
            model="tiny_cnn",
            engines=("torch", "onnxruntime", "openvino"),
            sparsity=0.5,
            duration_s=0.2,
            warmup_s=0.0,
            cores=(0,),
        ),
        live=False,
    ).run()
    formats = {"torch": "torch-builtin", "onnxruntime": "onnx", "openvino": "openvino"}
    for r in record.results:
        assert r.ok, r.error
        s = r.sparsity
        assert s is not None and s["target"] == 0.5 and abs(s["achieved"] - 0.5) <= 0.01
        assert s["layers"] and all(0 <= v <= 1 for v in s["layers"].values())
        assert s["format"] == formats[r.engine] and Path(s["file"]).is_file()
        assert 0 < s["gzip_bytes"] < s["file_bytes"]
        assert r.parity["status"] in ("reference", "pass")  # the reference is the pruned torch model too
    assert record.config["sparsity"] == 0.5
    text = render_results(record)
    assert "sparsity: 50.00% of 9.8k conv/linear weights are zero" in text and "openvino" in text.split("sparsity:")[1]
    exported = record.to_dict()["results"][0]["sparsity"]
    assert "layers" in exported  # per layer in --json


def test_result_entry_names_the_file_each_engine_loads(shared_cache):
    from workbench.models.resolve import resolve

    art = prune.with_file_sizes(resolve("tiny_cnn", sparsity=0.5))
    torch_entry = prune.result_entry(art, "torch", "fp32")
    ov_entry = prune.result_entry(art, "openvino", "fp32")
    assert torch_entry["file"] == art.files["torch-builtin"] and ov_entry["file"] == art.files["openvino"]
    assert ov_entry["file_bytes"] > Path(art.files["openvino"]).stat().st_size  # the .xml and its .bin
    assert prune.result_entry(art, "torch", "int8")["file"] is None  # torch int8 quantizes at load: no file
    assert prune.result_entry(resolve("tiny_cnn"), "torch", "fp32") is None  # dense


def test_openvino_sparse_weights_option_is_int8_only_and_read_back(shared_cache):
    import openvino as ov

    from workbench.models.resolve import resolve
    from workbench_engines.openvino_engine import SPARSE_RATE_KEY, sparse_weights_report
    from workbench_engines.registry import get_engine_class

    engine = get_engine_class("openvino")
    assert engine.check_options({"sparse_weights_rate": "0.5"}, precision="int8") == {"sparse_weights_rate": 0.5}
    with pytest.raises(UsageError, match="int8 only"):
        engine.check_options({"sparse_weights_rate": "0.5"}, precision="fp32")
    art = resolve("tiny_cnn", formats={"openvino"})
    compiled = ov.Core().compile_model(art.files["openvino"], "CPU", {SPARSE_RATE_KEY: 0.5})
    report = sparse_weights_report(compiled, 0.5)
    assert report["rate"] == pytest.approx(0.5) and report["requested_rate"] == 0.5
    assert report["fully_connected"] == 1  # tiny_cnn's one Linear
    assert report["active"] is (report["sparse_fully_connected"] > 0)
    if not report["active"]:
        assert report["why_inactive"]  # f32 weights (and no AMX here): said, not assumed
