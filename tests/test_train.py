"""Training mode: a timed step is forward, loss on generated targets, backward and the optimizer's step, on torch
only; the run reports samples/s and step latencies, and other engines refuse in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from workbench.errors import UnsupportedError, UsageError
from workbench.measure.runner import RunConfig, Runner, validate
from workbench.models.inputs import make_inputs
from workbench_engines.base import LoadSettings
from workbench_engines.registry import get_engine_class


@pytest.fixture
def tiny(shared_cache):
    from workbench.models.resolve import resolve

    return resolve("tiny_cnn", batch=4, formats={"torch-builtin"})


def _train_model(artifact, **options):
    settings = LoadSettings(threads=1, mode="train", options={"optimizer": "sgd", **options}, seed=3)
    model = get_engine_class("torch").load(artifact, settings)
    model.set_inputs(make_inputs(artifact.inputs, seed=0))
    return model


def _params(model) -> list[np.ndarray]:
    return [p.detach().clone().numpy() for p in model.eager.parameters()]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_each_step_is_a_full_training_step_that_learns(tiny, optimizer):
    model = _train_model(tiny, optimizer=optimizer)
    before = _params(model)
    model.infer()
    first = model.last_loss()
    after_one = _params(model)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after_one))  # the optimizer stepped
    for _ in range(40):
        model.infer()
    assert model.last_loss() < first  # same batch, same targets: a real optimizer drives the loss down
    eff = model.effective()
    train = eff.extra["train"]
    assert train["optimizer"] == {"sgd": "SGD", "adamw": "AdamW"}[optimizer]  # read back from the optimizer
    assert train["module_training"] is True
    assert train["loss"] == "cross-entropy" and "10 classes" in train["target"]
    assert train["trainable_params"] == sum(p.size for p in before)
    model.close()


def test_targets_are_seeded_and_the_loss_fits_the_output():
    import torch

    from workbench_engines.torch_engine import train_loss

    logits = torch.zeros(4, 10)
    fn_a, rep = train_loss(logits, "image-classification", 5, torch)
    fn_b, _ = train_loss(logits, "image-classification", 5, torch)
    fn_c, _ = train_loss(logits, "image-classification", 6, torch)
    assert rep["loss"] == "cross-entropy"
    assert float(fn_a(logits)) == pytest.approx(np.log(10))  # uniform logits: CE is log(classes)
    probe = torch.randn(4, 10, generator=torch.Generator().manual_seed(1))
    assert float(fn_a(probe)) == float(fn_b(probe)) != float(fn_c(probe))  # same seed, same labels
    per_step = torch.zeros(2, 56, 37)  # ocr: per-step logits -> labels of [2, 56]
    fn, rep = train_loss(per_step, "ocr", 0, torch)
    assert rep["loss"] == "cross-entropy" and "[2, 56]" in rep["target"]
    assert float(fn(per_step)) == pytest.approx(np.log(37))
    fn, rep = train_loss(torch.zeros(2, 8), "generic", 0, torch)  # anything else: MSE to a seeded target
    assert rep["loss"] == "mse" and float(fn(torch.zeros(2, 8))) > 0


def test_bf16_training_runs_under_autocast(tiny):
    settings = LoadSettings(threads=1, mode="train", precision="bf16", options={"optimizer": "sgd"})
    model = get_engine_class("torch").load(tiny, settings)
    model.set_inputs(make_inputs(tiny.inputs, seed=0))
    for _ in range(3):
        model.infer()
    assert np.isfinite(model.last_loss())
    eff = model.effective()
    assert eff.extra["autocast"] == "bfloat16" and eff.extra["train"]["optimizer"] == "SGD"
    model.close()


@pytest.mark.parametrize("precision, why", [("int8", "no gradients"), ("fp16", "loss scaling")])
def test_training_below_bf16_is_refused_in_one_line(tiny, precision, why):
    with pytest.raises(UnsupportedError, match=why):
        get_engine_class("torch").load(tiny, LoadSettings(mode="train", precision=precision))


@pytest.mark.parametrize("engine", ["onnxruntime", "openvino"])
def test_engines_without_training_say_so(engine):
    with pytest.raises(UsageError) as err:
        validate(RunConfig(model="tiny_cnn", engines=(engine,), mode="train"))
    assert str(err.value) == f"{engine} cannot run training steps; use -e torch"


def test_default_engines_in_train_mode_are_those_that_can_train():
    config = validate(
        RunConfig(model="tiny_cnn", engines=("torch", "onnxruntime", "openvino"), mode="train", engines_explicit=False)
    )
    assert config.engines == ("torch",) and config.parity is False and config.fp32_baseline is False


def test_the_optimizer_option_applies_in_train_mode_only():
    torch_engine = get_engine_class("torch")
    assert torch_engine.check_options({"optimizer": "adamw"}, mode="train") == {"optimizer": "adamw"}
    with pytest.raises(UsageError, match="train mode only"):
        torch_engine.check_options({"optimizer": "adamw"}, mode="latency")
    with pytest.raises(UsageError, match="sgd, adamw"):
        torch_engine.check_options({"optimizer": "lamb"}, mode="train")


def test_cli_optimizer_shorthand_becomes_the_engine_option():
    import argparse

    from workbench.cli import run as cli_run

    parser = argparse.ArgumentParser()
    cli_run.register(parser.add_subparsers())
    args = parser.parse_args(["run", "-m", "tiny_cnn", "-e", "torch", "--mode", "train", "--optimizer", "adamw"])
    config = cli_run._run_config(args)
    assert config.mode == "train" and ("torch", "optimizer", "adamw") in config.engine_options


def test_a_train_run_times_full_steps_and_reports_samples_per_second(shared_cache):
    events: list = []
    record = Runner(
        RunConfig(
            model="tiny_cnn",
            engines=("torch",),
            mode="train",
            batch=4,
            duration_s=0.4,
            warmup_s=0.1,
            cores=(0,),
            engine_options=(("torch", "optimizer", "adamw"),),
        ),
        on_event=events.append,
        live=False,
    ).run()
    (r,) = record.results
    assert r.ok and r.mode == "train" and r.iterations >= 10
    assert r.throughput == pytest.approx(r.iterations * 4 / r.duration_s)  # samples/s over the measured steps
    assert r.latency_ms["p50"] > 0 and r.latency_ms["p99"] >= r.latency_ms["p50"] and r.peak_rss_mb > 0
    assert r.parity["status"] == "skipped" and "training" in r.parity["message"]
    assert r.fp32_baseline is None
    train = r.effective["extra"]["train"]
    assert train["optimizer"] == "AdamW" and train["module_training"] is True
    from workbench.report.text import render_results

    text = render_results(record)
    assert "train: each sample is one step of batch 4" in text and "AdamW step" in text


def test_cli_refuses_train_mode_on_other_engines_in_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "run", "-m", "tiny_cnn", "-e", "torch,openvino", "--mode", "train"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == "error: openvino cannot run training steps; use -e torch"
