"""``--mode generate``: text generation side by side (issue 21).

The tiny built-in causal LM (``tiny-llama``: hidden 64, 2 layers, vocab 1000) is built and exported once per
session into a shared cache; each engine path generates from it in its own pinned benchmark process, and the
greedy tokens are checked against torch fp32. Refusals are one line and exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import wb

from workbench.stats.generation import summarise, token_parity

SHORT = ("--prompt-tokens", "16", "--new-tokens", "8", "-d", "0", "-n", "2", "-w", "1it", "-q", "--no-save")


# ---- pure: parity and the summary ------------------------------------------------------------------------------
def test_token_parity_names_the_first_divergence_and_fails_only_at_fp32():
    ref = {"tokens": np.array([5, 6, 7, 8]), "prefill_logits": np.array([0.0, 1.0, 2.0], dtype=np.float32)}
    same = token_parity(ref, dict(ref), precision="fp32", reference_label="torch fp32")
    assert same["status"] == "pass" and same["first_divergence"] is None and same["tokens_agree"] == 4
    assert same["rel_l2"] == 0.0
    other = {"tokens": np.array([5, 6, 9, 8]), "prefill_logits": np.array([0.0, 1.0, 2.5], dtype=np.float32)}
    at_fp32 = token_parity(ref, other, precision="fp32", reference_label="torch fp32")
    assert at_fp32["status"] == "fail" and at_fp32["first_divergence"] == 2 and at_fp32["tokens_agree"] == 2
    assert at_fp32["rel_l2"] == pytest.approx(0.5 / np.sqrt(5.0))
    at_int4 = token_parity(ref, other, precision="int4", reference_label="torch fp32")
    assert at_int4["status"] == "diverged" and "position 2" in at_int4["message"]
    shorter = token_parity(ref, {"tokens": np.array([5, 6])}, precision="fp32", reference_label="torch fp32")
    assert shorter["status"] == "fail" and shorter["first_divergence"] == 2


def test_summary_splits_first_token_from_decode_steps():
    rounds = [
        {
            "ttft_ns": [10_000_000, 12_000_000],
            "e2e_ns": [40_000_000, 44_000_000],
            "generated": [4, 4],
            "iterations": 6,
            "generations": 2,
        },
    ]
    lat = {"mean": 10.0, "p50": 10.0, "p90": 11.0, "p99": 12.0}
    g = summarise(rounds, lat, batch=1, prompt_tokens=16, new_tokens=4)
    assert g["ttft_ms"]["p50"] == pytest.approx(11.0) and g["ttft_ms"]["min"] == pytest.approx(10.0)
    assert g["tpot_ms"]["p90"] == 11.0
    assert g["tokens_per_s"]["decode"] == pytest.approx(100.0)  # 1000 ms / 10 ms per token
    assert g["tokens_per_s"]["end_to_end"] == pytest.approx(8 / 0.084)
    assert g["generations"] == 2 and g["tokens"] == 8 and g["decode_steps"] == 6


# ---- refusals: one line, exit 2 ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args, says",
    [
        (("-m", "resnet18", "--mode", "generate", "-e", "torch"), "needs a causal language model"),
        (("-m", "tiny-llama", "-e", "torch"), "run it with --mode generate"),
        (("-m", "resnet18", "-e", "torch", "-p", "int4"), "int4"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "-p", "int4"), "torch generates at"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "onnxruntime", "-p", "fp16"), "onnxruntime generates at"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "--new-tokens", "1"), "--new-tokens must be >= 2"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "openvino", "-b", "2"), "openvino generates batch 1 only"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "-b", "2", "--prompt", "hi"), "--prompt is one"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "--temperature", "0.5"), "add --sample"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "--sample", "--top-p", "0"), "--top-p must be"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "--sample", "--top-k", "-1"), "--top-k must be"),
        (("-m", "tiny-llama", "-e", "torch", "--sample"), "apply to --mode generate only"),
        (("-m", "tiny-llama", "--mode", "generate", "-e", "torch", "--prompt", " "), "--prompt is empty"),
    ],
)
def test_refusals_are_one_line(args, says):
    r = wb("run", *args, "--no-save", timeout=60)
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# ---- the engines on the tiny model -------------------------------------------------------------------------------
def _run(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "r.json"
    r = wb("run", *args, *SHORT, "--json", str(out), timeout=280)
    assert r.returncode in (0, 1), r.stderr[-2000:]
    assert "Traceback" not in r.stdout
    return json.loads(out.read_text())


@pytest.mark.slow
def test_three_engines_generate_the_same_tokens_as_torch(tmp_path, shared_cache):
    rec = _run(tmp_path, "-m", "tiny-llama", "--mode", "generate", "-e", "torch,openvino,onnxruntime")
    by = {r["engine"]: r for r in rec["results"]}
    assert set(by) == {"torch", "openvino", "onnxruntime"}
    for name, r in by.items():
        assert r["status"] == "ok", (name, r.get("error"))
        g = r["generation"]
        assert g["prompt_tokens"] == 16 and g["new_tokens"] == 8
        assert g["tokens"] == 8 * g["generations"] and g["decode_steps"] == 7 * g["generations"]
        assert g["ttft_ms"]["p50"] > 0 and g["tpot_ms"]["p99"] >= g["tpot_ms"]["p50"] > 0
        assert g["tokens_per_s"]["decode"] > 0 and g["tokens_per_s"]["end_to_end"] > 0
        assert r["precision_effective"] == "fp32"
        assert r["histogram"]["count"] == g["decode_steps"]  # the streamed samples are the decode steps
    assert by["torch"]["parity"]["status"] == "reference"
    for name in ("openvino", "onnxruntime"):
        p = by[name]["parity"]
        assert p["status"] == "pass" and p["first_divergence"] is None and p["tokens_agree"] == 8, p
        assert by[name]["speedup"] is not None  # tokens agree: a speedup is shown
    extra = by["openvino"]["effective"]["extra"]
    assert extra["INFERENCE_PRECISION_HINT"] == "f32" and extra["KV_CACHE_PRECISION"] == "f32"
    assert extra["prefix_caching"] is False
    assert by["openvino"]["generation"]["engine_timing"]["ttft_ms"] > 0  # its own perf_metrics beside ours
    assert by["onnxruntime"]["parity"]["rel_l2"] < 1e-4  # the prompt's last logits (LLMPipeline gives none)
    assert "rel_l2" not in by["openvino"]["parity"]
    assert by["onnxruntime"]["effective"]["extra"]["logits_all_positions"] is True
    assert by["onnxruntime"]["effective"]["threads"] == by["torch"]["effective"]["threads"]


@pytest.mark.slow
def test_int4_weights_report_divergence_not_a_speedup(tmp_path, shared_cache):
    rec = _run(tmp_path, "-m", "tiny-llama", "--mode", "generate", "-e", "openvino,onnxruntime", "-p", "int4")
    for r in rec["results"]:
        assert r["status"] == "ok", r.get("error")
        assert r["precision_effective"] == "int4"
        p = r["parity"]
        assert p["reference"] == "torch fp32" and p["kind"] == "tokens"
        assert p["status"] in ("pass", "diverged")
        if p["status"] == "diverged":
            assert r["speedup"] is None or r["engine"] == rec["baseline"]
    ov = next(r for r in rec["results"] if r["engine"] == "openvino")
    assert "int4" in ov["effective"]["extra"]["weights"]
    ort = next(r for r in rec["results"] if r["engine"] == "onnxruntime")
    assert "bits=[4]" in ort["effective"]["extra"]["weights"]


# ---- user folders ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    from workbench.models.generative import build_hf_folder

    folder = tmp_path_factory.mktemp("user") / "my-llm"
    build_hf_folder("tiny-llama", folder, seed=3)
    return folder


@pytest.mark.slow
def test_a_users_hf_folder_runs_on_torch_and_openvino(tmp_path, shared_cache, hf_folder):
    rec = _run(tmp_path, "-m", str(hf_folder), "--mode", "generate", "-e", "torch,openvino")
    by = {r["engine"]: r for r in rec["results"]}
    assert by["torch"]["status"] == "ok" and by["openvino"]["status"] == "ok", by["openvino"].get("error")
    assert by["openvino"]["parity"]["status"] == "pass"
    assert rec["model"]["source"] == "file" and rec["model"]["task"] == "text-generation"


@pytest.mark.slow
def test_runtime_folders_run_as_given_and_refuse_the_wrong_engine(tmp_path, shared_cache, hf_folder):
    from workbench.models.generative import resolve_generative

    art = resolve_generative(str(hf_folder), formats={"openvino-genai", "onnxruntime-genai"})
    ort_dir = art.files["onnxruntime-genai"]
    rec = _run(tmp_path, "-m", ort_dir, "--mode", "generate", "-e", "onnxruntime")
    (r,) = rec["results"]
    assert r["status"] == "ok" and r["parity"]["status"] == "reference"  # its own runtime is the reference
    refused = wb("run", "-m", ort_dir, "--mode", "generate", "-e", "torch", *SHORT, timeout=120)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "torch cannot run" in refused.stderr
    bad = wb(
        "run", "-m", art.files["openvino-genai"], "--mode", "generate", "-e", "openvino", "-p", "int8", "--no-save"
    )
    assert bad.returncode == 2 and "runs as exported" in bad.stderr


def test_a_folder_without_tokenizer_or_with_pickled_weights_is_refused(tmp_path):
    folder = tmp_path / "lm"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "vocab_size": 100}))
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x02")
    r = wb("run", "-m", str(folder), "--mode", "generate", "-e", "torch", *SHORT, timeout=120)
    assert r.returncode != 0 and "pickled weights" in r.stderr and "Traceback" not in r.stderr


def test_sweeps_and_recommend_say_where_a_causal_lm_runs():
    r = wb("sweep", "-m", "tiny-llama", "-e", "torch", "--threads", "1", timeout=60)
    assert r.returncode == 2 and "sweep it with --mode generate (not latency)" in r.stderr
    r = wb("sweep", "-m", "tiny_cnn", "-e", "torch", "--mode", "generate", "--threads", "1", timeout=60)
    assert r.returncode == 2 and "--mode generate needs a causal language model" in r.stderr
    r = wb("recommend", "-m", "tiny-llama", timeout=60)
    assert r.returncode == 2 and "recommend it with --objective tokens-per-s" in r.stderr
    listed = wb("models", timeout=60)
    assert "tiny-llama" in listed.stdout and "llama-512" in listed.stdout and "--mode generate" in listed.stdout


def test_bf16_is_refused_on_a_cpu_without_native_bf16(monkeypatch):
    from workbench.errors import UnsupportedError
    from workbench_engines import generate

    monkeypatch.setattr(generate, "cpu_has_bf16", lambda: False)
    with pytest.raises(UnsupportedError, match="no native bf16"):
        generate.check_precision("openvino", "bf16")
    monkeypatch.setattr(generate, "cpu_has_bf16", lambda: True)
    generate.check_precision("openvino", "bf16")  # allowed where the CPU has it
    with pytest.raises(UnsupportedError, match="has no bf16 model"):
        generate.check_precision("onnxruntime", "bf16")


@pytest.mark.slow
def test_torch_hf_generate_loop_is_an_option_with_the_same_tokens(tmp_path, shared_cache):
    rec = _run(
        tmp_path,
        *("-m", "tiny-llama", "--mode", "generate", "-e", "torch,onnxruntime", "--baseline", "onnxruntime"),
        *("--engine-option", "torch.generate_loop=hf"),
    )
    by = {r["engine"]: r for r in rec["results"]}
    assert "transformers generate" in by["torch"]["effective"]["extra"]["runtime"]
    g = by["torch"]["generation"]
    assert g["tokens"] == 8 * g["generations"] and g["decode_steps"] == 7 * g["generations"]
    assert by["onnxruntime"]["parity"]["status"] == "pass"  # against the hf loop's greedy tokens


# ---- live TTFT, seeded sampling, batches, KV cache, devices, converters (issue 21 follow-ups) -------------------
@pytest.mark.slow
def test_progress_events_carry_a_live_ttft_histogram(shared_cache):
    from workbench.measure.events import Progress
    from workbench.measure.runner import RunConfig, Runner

    config = RunConfig(
        model="tiny-llama",
        engines=("torch",),
        mode="generate",
        prompt_tokens=16,
        new_tokens=8,
        duration_s=1.0,
        min_iterations=3,
        warmup_s=0.0,
        warmup_iterations=1,
        save_samples=False,
    )
    seen: list[Progress] = []
    record = Runner(config, on_event=lambda e: seen.append(e) if isinstance(e, Progress) else None, live=False).run()
    with_ttft = [p for p in seen if p.ttft_hist]
    assert with_ttft, "no progress event carried a TTFT histogram"
    for p in with_ttft:  # one TTFT per generation so far, next to its 7 decode steps
        generations = sum(p.ttft_hist["counts"])
        assert generations >= 1 and p.iterations == 7 * generations
        assert p.ttft_hist["scale"] == "log" and len(p.ttft_hist["edges_ms"]) == len(p.ttft_hist["counts"]) + 1
        assert sum(p.hist["counts"]) == p.iterations  # hist stays the per-token decode latency
    (res,) = record.results
    g = res.generation
    assert sum(with_ttft[-1].ttft_hist["counts"]) == g["generations"]  # the result still comes from round_done
    assert g["sampling"] == {"mode": "greedy"}
    assert g["kv_cache_mb"] > 0 and g["kv_cache_source"].startswith("read:")


@pytest.fixture(scope="module")
def tiny_engines(_session_cache):
    """tiny-llama loaded in this process on the three runtimes, from the session's shared cache (each engine test
    takes seconds)."""
    from workbench.models.generative import resolve_generative
    from workbench_engines.base import LoadSettings
    from workbench_engines.generate import load

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_CACHE", str(_session_cache))
        art = resolve_generative("tiny-llama", formats={"hf-causal-lm", "openvino-genai", "onnxruntime-genai"})
    s = LoadSettings(threads=1, mode="generate")
    return art, {e: load(e, art, s) for e in ("torch", "openvino", "onnxruntime")}


@pytest.mark.slow
def test_seeded_sampling_repeats_its_tokens_on_each_engine(tiny_engines):
    from workbench.models.generative import batch_prompts
    from workbench_engines.base import Sampling

    art, engines = tiny_engines
    prompts = batch_prompts(art, None, 12, 1)
    greedy = engines["torch"].generate(prompts, 12).tokens
    for name, gen in engines.items():
        s7 = Sampling(temperature=1.5, top_k=50, top_p=0.95, seed=7)
        first, again = gen.generate(prompts, 12, s7).tokens, gen.generate(prompts, 12, s7).tokens
        other = gen.generate(prompts, 12, Sampling(temperature=1.5, top_k=50, top_p=0.95, seed=8)).tokens
        assert len(first) == 12 and first == again, name  # same engine, same seed: same tokens
        assert other != first and first != greedy, name  # it really samples, and the seed matters
        assert gen.generate(prompts, 12).tokens == greedy, name  # greedy stays the default


@pytest.mark.slow
def test_a_batch_generates_each_sequence_like_torch_and_sizes_its_kv_cache(tiny_engines):
    from workbench.models.generative import batch_prompts

    art, engines = tiny_engines
    prompts = batch_prompts(art, None, 12, 3)
    assert len({tuple(p) for p in prompts}) == 3 and {len(p) for p in prompts} == {12}
    assert prompts[0] == batch_prompts(art, None, 12, 1)[0]  # batch 1 is unchanged
    ref = engines["torch"].generate(prompts, 6)
    got = engines["onnxruntime"].generate(prompts, 6)
    assert len(ref.sequences) == 3 and len(ref.step_ns) == 6  # one TTFT for the batch, one step per token
    parity = token_parity(
        {"tokens": np.array(ref.sequences)}, {"tokens": np.array(got.sequences)}, precision="fp32", reference_label="t"
    )
    assert parity["status"] == "pass" and len(parity["sequences"]) == 3, parity
    # the KV cache of the last generation: torch reads its tensors (prompt + new - 1 positions hold keys and
    # values), the others compute it
    kv_t = engines["torch"].kv_cache(12, 6, 3)
    alone = engines["torch"].generate([prompts[2]], 6).tokens
    assert ref.sequences[2] == alone  # a sequence of the batch is the same as generated alone
    kv_o = engines["onnxruntime"].kv_cache(12, 6, 3)
    kv_v = engines["openvino"].kv_cache(12, 6, 1)
    per_position = 2 * 2 * 2 * 16 * 4  # key+value x layers x KV heads x head size x fp32
    assert kv_t["mb"] * 2**20 == per_position * 17 * 3 and kv_t["source"].startswith("read:")
    assert kv_o["mb"] * 2**20 == per_position * 18 * 3 and kv_o["source"].startswith("computed")
    assert kv_v["mb"] * 2**20 == per_position * 18 and "KV_CACHE_PRECISION f32" in kv_v["source"]


@pytest.mark.slow
def test_a_sampled_batch_run_records_its_sampling_and_claims_no_parity(tmp_path, shared_cache):
    rec = _run(
        tmp_path,
        *("-m", "tiny-llama", "--mode", "generate", "-e", "torch,onnxruntime", "-b", "2"),
        *("--sample", "--temperature", "0.7", "--top-k", "40", "--seed", "5"),
    )
    for r in rec["results"]:
        assert r["status"] == "ok", r.get("error")
        g = r["generation"]
        assert g["sampling"] == {"mode": "sample", "temperature": 0.7, "top_k": 40, "top_p": 1.0, "seed": 5}
        assert g["batch"] == 2 and g["decode_steps"] == 7 * g["generations"]
        assert g["kv_cache_mb"] > 0 and g["kv_cache_source"]
        p = r["parity"]
        assert p["status"] == "skipped" and "not claimed" in p["message"]  # a reason, never "fail"
    ort = next(r for r in rec["results"] if r["engine"] == "onnxruntime")
    assert ort["speedup"] is None and "not a speedup" in ort["speedup_note"]


def test_cuda_generation_without_a_gpu_is_one_line(monkeypatch):
    from workbench.errors import UsageError
    from workbench.measure.config import RunConfig, validate
    from workbench_engines.torch_engine import TorchEngine

    monkeypatch.setattr(TorchEngine, "quick_devices", classmethod(lambda cls: ("cpu",)))
    cfg = RunConfig(model="tiny-llama", engines=("torch",), mode="generate", device="cuda")
    with pytest.raises(UsageError, match="torch sees no CUDA device here"):
        validate(cfg)
    with pytest.raises(UsageError, match="onnxruntime generates on the CPU only"):
        validate(RunConfig(model="tiny-llama", engines=("onnxruntime",), mode="generate", device="cuda"))


@pytest.mark.slow
def test_torch_generator_on_cuda_is_refused_in_the_engine_without_cuda(monkeypatch, shared_cache):
    import torch

    from workbench.errors import EngineUnavailable
    from workbench.models.generative import resolve_generative
    from workbench_engines.base import LoadSettings
    from workbench_engines.generate import load_torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    art = resolve_generative("tiny-llama", formats={"hf-causal-lm"})
    with pytest.raises(EngineUnavailable, match="no CUDA device available"):
        load_torch(art, LoadSettings(device="cuda", mode="generate"))


@pytest.fixture(scope="module")
def bloom_folder(tmp_path_factory):
    """A tiny Bloom causal LM (seeded weights, our tokenizer): an architecture neither converter handles."""
    from workbench.models.generative import train_tokenizer
    from workbench.models.zoo import ensure_torchvision

    ensure_torchvision(required=False)
    import torch
    import transformers

    folder = tmp_path_factory.mktemp("user") / "my-bloom"
    torch.manual_seed(0)
    cfg = transformers.BloomConfig(vocab_size=1000, hidden_size=32, n_layer=1, n_head=2, bos_token_id=1, eos_token_id=2)
    transformers.BloomForCausalLM(cfg).eval().save_pretrained(str(folder), safe_serialization=True)
    train_tokenizer(1000, folder)
    return folder


@pytest.mark.slow
def test_an_architecture_a_converter_rejects_is_one_line_with_its_reason(bloom_folder, tmp_path, monkeypatch):
    from workbench.errors import ModelError
    from workbench.models.generative import resolve_generative

    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    r = wb("run", "-m", str(bloom_folder), "--mode", "generate", "-e", "onnxruntime", *SHORT, timeout=200)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    (line,) = r.stderr.strip().splitlines()
    assert "onnxruntime cannot run my-bloom (BloomForCausalLM): the ONNX Runtime GenAI model builder" in line
    assert "model is not currently supported" in line and "leave out -e onnxruntime" in line
    with pytest.raises(ModelError) as refused:  # the OpenVINO export, in this process (the same one line)
        resolve_generative(str(bloom_folder), formats={"openvino-genai"})
    said = str(refused.value)
    assert said.startswith("openvino cannot run my-bloom (BloomForCausalLM): the OpenVINO export")
    assert "does not support an attention implementation through" in said and "\n" not in said
