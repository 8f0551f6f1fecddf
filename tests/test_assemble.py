"""Result assembly without a process: an engine's state (histogram, rounds, outputs) becomes an EngineResult."""

from __future__ import annotations

import numpy as np

from workbench.measure.assemble import EngineState, apply_speedups, engine_result, model_entry, result_parity
from workbench.measure.config import RunConfig
from workbench.result import EngineResult
from workbench_engines.base import ModelArtifact, TensorSpec

ARTIFACT = ModelArtifact(
    name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1, 4), "float32"),)
)


def _config(**kw) -> RunConfig:
    base = dict(model="noop", engines=("noop",), cores=(0, 1), threads=2, batch=2, parity=False, baseline="noop")
    base.update(kw)
    return RunConfig(**base)


def _state(name: str = "noop", latencies_ms=(1.0, 1.0, 2.0, 2.0, 3.0), rounds: int = 2) -> EngineState:
    st = EngineState(name=name)
    st.loaded = {"load_ms": 12.0, "first_inference_ms": 3.5, "engine_version": "1.0", "effective": {"threads": 2}}
    st.hist.add(np.asarray([int(v * 1e6) for v in latencies_ms], dtype=np.int64))
    for r in range(rounds):
        st.rounds.append(
            {"iterations": 50, "elapsed_ns": 1_000_000_000, "cpu_s": 1.0, "peak_rss_mb": 100.0 + r, "p50": 2.0}
        )
    st.outputs = {"y": np.ones((1, 4), dtype=np.float32)}
    return st


def test_a_result_is_assembled_from_a_fake_engine_state_without_a_process():
    res = engine_result(_state(), _config(), ARTIFACT, None, None, allowed=[0, 1])
    assert res.ok and res.engine == "noop" and res.model == "noop"
    assert res.load_ms == 12.0 and res.first_inference_ms == 3.5 and res.engine_version == "1.0"
    assert res.iterations == 100 and res.duration_s == 2.0
    assert res.throughput == 100 * 2 / 2.0  # iterations × batch over the measured time
    assert res.cpu_util_pct == 100.0 * 2.0 / (2.0 * 2)
    assert res.peak_rss_mb == 101.0
    assert [r["iterations"] for r in res.repeats or []] == [50, 50] and res.repeats[0]["p50"] == 2.0
    assert res.latency_ms and 0.9 < res.latency_ms["min"] <= res.latency_ms["p50"] <= res.latency_ms["max"] < 3.1
    assert {"p50", "p90", "p95", "p99"} <= set(res.latency_ms)
    assert res.histogram and res.parity and res.parity["status"] == "skipped"
    assert isinstance(res.warnings, list)


def test_a_state_without_rounds_or_with_an_error_is_a_failed_result():
    st = _state(rounds=0)
    assert engine_result(st, _config(), ARTIFACT, None, None).error == "no measurements"
    st = _state()
    st.error, st.error_detail = "noop crashed", "Traceback ..."
    res = engine_result(st, _config(), ARTIFACT, None, None)
    assert not res.ok and res.error == "noop crashed" and res.error_detail == "Traceback ..."


def test_parity_against_a_reference_passes_for_equal_outputs_and_fails_for_different_ones():
    config = _config(parity=True, engines=("torch", "noop"))
    art = ModelArtifact(name="noop", source="builtin", files={}, inputs=(), reference_engine="torch")
    st = _state()
    res = EngineResult(engine="noop", model="noop", device="cpu")
    ref = {"y": np.ones((1, 4), dtype=np.float32)}
    assert result_parity(st, config, art, res, ref, None)["status"] == "pass"
    assert result_parity(st, config, art, res, {"y": -ref["y"]}, None)["status"] == "fail"
    assert result_parity(st, config, art, res, None, "reference failed")["message"] == "reference failed"


def test_a_failed_default_baseline_hands_over_to_the_first_engine_that_ran():
    results = [engine_result(_state("a", rounds=0), _config(), ARTIFACT, None, None)]
    results.append(engine_result(_state("b"), _config(), ARTIFACT, None, None))
    assert apply_speedups(results, "a", "latency", baseline_given=False) == "b"
    assert apply_speedups(results, "a", "latency", baseline_given=True) == "a"


def test_the_model_entry_lists_inputs_and_files():
    entry = model_entry(ARTIFACT)
    assert entry["name"] == "noop" and entry["files"] == ["onnx"] and entry["inputs"][0]["name"] == "x"
