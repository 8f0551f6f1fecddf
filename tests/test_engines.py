"""Engine adapters on a tiny model: load, effective settings, sync and in-flight inference, errors."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import EngineUnavailable, UnsupportedError
from workbench.models.inputs import make_inputs
from workbench_engines.base import LoadSettings
from workbench_engines.registry import canonical, engine_infos, get_engine_class, require

ENGINES = ("torch", "onnxruntime", "openvino")


@pytest.fixture
def tiny(shared_cache):
    from workbench.models.resolve import resolve

    return resolve("tiny_cnn", batch=2)


def _load(engine: str, artifact, **kw):
    model = get_engine_class(engine).load(artifact, LoadSettings(threads=1, **kw))
    model.set_inputs(make_inputs(artifact.inputs, seed=0))
    return model


@pytest.mark.parametrize("engine", ENGINES)
def test_adapter_runs_tiny_model_and_reports_effective_settings(engine, tiny):
    model = _load(engine, tiny)
    model.infer()
    outs = model.outputs()
    (logits,) = outs.values()
    assert logits.shape == (2, 10) and logits.dtype == np.float32 and np.all(np.isfinite(logits))
    eff = model.effective()
    assert eff.precision == "fp32"  # fp32 must mean fp32 — read back from the engine
    assert eff.threads == 1
    assert eff.device == "cpu"
    assert model.load_ms > 0
    model.close()


@pytest.mark.parametrize("engine", ENGINES)
def test_adapters_agree_with_each_other(engine, tiny):
    ref = _load("torch", tiny)
    ref.infer()
    other = _load(engine, tiny)
    other.infer()
    a, b = next(iter(ref.outputs().values())), next(iter(other.outputs().values()))
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-4


@pytest.mark.parametrize("engine", ENGINES)
def test_requests_in_flight_complete_and_report_latencies(engine, tiny):
    import threading
    import time

    model = _load(engine, tiny, mode="throughput")
    latencies: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 0.2

    def on_done(ns: int) -> None:
        with lock:
            latencies.append(ns)

    done = model.run_inflight(2, lambda: time.monotonic() < deadline, on_done)
    assert done == len(latencies) > 0
    assert all(ns > 0 for ns in latencies)


def test_openvino_reads_back_the_precision_it_really_uses(tiny):
    import openvino as ov

    caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    model = _load("openvino", tiny, precision="bf16")
    eff = model.effective()
    # On CPUs without native bf16 OpenVINO runs f32 even when asked for bf16; with it, bf16. Either way the
    # adapter reports what the compiled model says, not what was requested.
    assert eff.precision == ("bf16" if "BF16" in caps else "fp32")


def test_torch_bf16_really_casts_weights(tiny):
    model = _load("torch", tiny, precision="bf16")
    model.infer()
    assert model.effective().precision == "bf16"
    assert next(iter(model.outputs().values())).dtype == np.float32  # outputs are handed back as float32


@pytest.mark.parametrize(
    "engine,precision", [("onnxruntime", "bf16"), ("onnxruntime", "fp16"), ("torch", "int8"), ("openvino", "int8")]
)
def test_unsupported_precision_is_a_clear_error(engine, precision, tiny):
    with pytest.raises(UnsupportedError) as err:
        get_engine_class(engine).load(tiny, LoadSettings(precision=precision, threads=1))
    assert precision in str(err.value) and "\n" not in str(err.value)


def test_cuda_paths_refuse_cleanly_without_a_gpu(tiny):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the CUDA path is exercised by the GPU check in docs/performance.md")
    with pytest.raises(EngineUnavailable, match="CUDA"):
        get_engine_class("torch").load(tiny, LoadSettings(device="cuda"))
    with pytest.raises(EngineUnavailable, match="CUDA"):
        get_engine_class("onnxruntime").load(tiny, LoadSettings(device="cuda"))
    assert "cuda" not in get_engine_class("torch").quick_devices()


def test_each_engine_records_what_it_was_given(tiny, monkeypatch):
    """torch reads back the attention it runs, ONNX Runtime the dims its session sees and how the file was
    exported, OpenVINO how its IR was made: a transformers built-in (dynamic ONNX, static IR, SDPA in torch)
    and a CNN (static ONNX, no attention)."""
    pytest.importorskip("transformers")
    from test_models import tiny_text_builder

    from workbench.models import zoo
    from workbench.models.resolve import resolve

    monkeypatch.setitem(zoo._BUILDERS, "distilbert", tiny_text_builder)
    text = resolve("distilbert", shapes={"input_ids": (1, 16)})  # the test's own cache: a tiny distilbert
    outputs = {}
    for engine in ENGINES:
        model = _load(engine, text)
        model.infer()
        outputs[engine] = next(iter(model.outputs().values()))
        extra = model.effective().extra
        if engine == "torch":
            assert extra["attention"] == "sdpa"  # transformers' default, not the eager attention of the export
        elif engine == "onnxruntime":
            assert extra["input_dims"] == {"input_ids": ["batch", "seq"], "attention_mask": ["batch", "seq"]}
            assert extra["export"]["dynamic_dims"] == ["batch", "seq"] and extra["export"]["opset"] == 18
            assert extra["export"]["attention"] == "eager"
        else:
            assert extra["export"]["static_shapes"] is True and extra["reshaped_at_load"] is False
            assert extra["export"]["onnx"]["dynamic_dims"] == ["batch", "seq"]
        model.close()
    for engine in ("onnxruntime", "openvino"):  # parity holds across the attention implementations
        a, b = outputs["torch"], outputs[engine]
        assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-4, engine
    cnn = {e: _load(e, tiny).effective().extra for e in ENGINES}
    assert "attention" not in cnn["torch"]
    assert cnn["onnxruntime"]["input_dims"] == {"pixel_values": [2, 3, 32, 32]}
    assert cnn["onnxruntime"]["export"]["opset"] == 17 and cnn["onnxruntime"]["export"]["dynamic_dims"] == []


def test_engine_cannot_run_a_format_it_does_not_load(tiny):
    from dataclasses import replace

    ir_only = replace(tiny, files={"openvino": tiny.files["openvino"]})
    with pytest.raises(UnsupportedError, match="onnxruntime cannot run"):
        get_engine_class("onnxruntime").load(ir_only)


def test_registry_is_cheap_and_knows_the_engines():
    infos = {i.name: i for i in engine_infos()}
    assert set(ENGINES) <= set(infos)
    assert "noop" not in infos  # hidden harness engine
    for name in ENGINES:
        assert infos[name].installed and infos[name].version
    assert canonical("PyTorch") == "torch" and canonical("ov") == "openvino"


def test_unknown_engine_suggests_the_closest_name():
    with pytest.raises(EngineUnavailable, match="did you mean 'openvino'"):
        get_engine_class("openvnio")


def test_engine_not_installed_says_how_to_install(monkeypatch):
    cls = get_engine_class("onnxruntime")
    monkeypatch.setattr(cls, "module", "onnxruntime_not_here_xyz")
    with pytest.raises(EngineUnavailable, match="pip install onnxruntime"):
        require("onnxruntime")
    assert not cls.info().installed


def test_probe_reports_devices_from_the_engine_itself():
    from workbench.measure.probe import probe

    devices, err = probe("onnxruntime")
    assert err is None and "cpu" in devices
