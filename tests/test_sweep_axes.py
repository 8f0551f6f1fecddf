"""Sweep axes for the newer workloads: a generate cell's prompt and generated lengths (with int4 weights), and a
latency cell as a LoadGen scenario at a Server target QPS — expansion, keys, refusals, and real sweeps through the
CLI whose tables, CSV, JSON and fronts carry them."""

from __future__ import annotations

import csv
import io
import json

import pytest
from test_cli import wb

from workbench.campaign.cells import CellSpec, SweepSpec, applies, check_spec, expand
from workbench.errors import UsageError
from workbench.stats.scaling import describe_key


def test_generation_and_load_axes_apply_only_where_they_mean_something():
    spec = SweepSpec(
        model="m",
        engines=("torch", "onnxruntime"),
        modes=("latency", "generate"),
        prompt_tokens=(16, 128),
        new_tokens=(8,),
        scenarios=(None, "singlestream", "server"),
        target_qps=(10.0, 20.0),
    )
    cells = expand(spec)
    gen = [c for c in cells if c.mode == "generate"]
    lat = [c for c in cells if c.mode == "latency"]
    # generate: 2 prompt lengths x 2 engines, no scenario; latency: (timed loop + singlestream + 2 server rates) x 2
    assert len(gen) == 4 and {c.prompt_tokens for c in gen} == {16, 128} and all(c.scenario is None for c in gen)
    assert len(lat) == 8 and all(c.prompt_tokens is None and c.new_tokens is None for c in lat)
    assert {(c.scenario, c.target_qps) for c in lat} == {
        (None, None),
        ("server", 10.0),
        ("server", 20.0),
        ("singlestream", None),
    }
    # a plain cell's key is what it was before these axes existed (stored sweeps resume); the others extend it
    assert CellSpec("openvino", threads=2).key() == "openvino|fp32|t2|b1|latency|s-|r-|sp0"
    g = next(c for c in gen if c.prompt_tokens == 128)
    assert g.key().endswith("|p128|n8") and g.label().endswith("generate p128 n8")
    s = next(c for c in lat if c.target_qps == 20.0)
    assert s.key().endswith("|server|q20") and describe_key(s.key()).endswith("latency server 20 qps")
    assert describe_key(g.key()).endswith("generate p128 n8")
    assert applies(CellSpec("torch", mode="throughput", scenario="server", target_qps=5.0)).scenario is None
    assert applies(CellSpec("torch", scenario="offline", target_qps=5.0)).target_qps is None
    assert SweepSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert CellSpec.from_dict(s.stored()) == s


@pytest.mark.parametrize(
    "changes, says",
    [
        ({"precisions": ("int4",)}, "applies to --mode generate only"),
        ({"precisions": ("int4",), "modes": ("generate", "latency")}, "applies to --mode generate only"),
        ({"modes": ("generate",), "new_tokens": (1,)}, "--new-tokens values must be whole numbers >= 2, not 1"),
        ({"modes": ("generate",), "prompt_tokens": (0,)}, "--prompt-tokens values must be whole numbers >= 1"),
        ({"target_qps": (10.0,)}, "need --scenario"),
        ({"scenarios": ("server",), "modes": ("throughput",)}, "add latency to --mode"),
        ({"scenarios": ("singlestream",), "target_qps": (10.0,)}, "add server to --scenario"),
        ({"scenarios": ("server",)}, "--scenario server needs --target-qps"),
        ({"scenarios": ("server",), "target_qps": (-1.0,)}, "--target-qps must be a number of queries per second"),
        ({"scenarios": ("bogus",)}, "--scenario must be one of"),
    ],
)
def test_impossible_generation_and_load_axes_are_one_line(changes, says):
    spec = SweepSpec(model="m", engines=("onnxruntime",), **changes)
    with pytest.raises(UsageError, match=None) as err:
        check_spec(spec, [0, 1])
    assert says in str(err.value) and "\n" not in str(err.value)


def test_generate_int4_is_accepted_with_generate_cells():
    check_spec(SweepSpec(model="m", engines=("openvino",), modes=("generate",), precisions=("fp32", "int4")), [0])


def test_a_generation_sweep_runs_prompt_lengths_and_reports_ttft_tokens_and_the_front(tmp_path, shared_cache):
    out = wb(
        "sweep", "-m", "tiny-llama", "-e", "torch,onnxruntime", "--mode", "generate", "--prompt-tokens", "8,24",
        "--new-tokens", "4", "--threads", "1", "-d", "0.3", "--warmup", "0.05", "--iterations", "3",
        "--json", str(tmp_path / "s.json"), "--csv", str(tmp_path / "s.csv"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for needle in ("prompt", "TTFT p50 ms", "tok p50 ms", "decode tok/s", "tokens =ref", "Generation Pareto front"):
        assert needle in text, needle
    assert "prompt tokens 8, 24 · new tokens 4" in text
    assert "TTFT p50" in out.stderr and "tok/s" in out.stderr  # the progress lines speak of tokens, not items
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert sorted((r["engine"], r["prompt_tokens"]) for r in rows) == [
        ("onnxruntime", "24"),
        ("onnxruntime", "8"),
        ("torch", "24"),
        ("torch", "8"),
    ]
    ort = [r for r in rows if r["engine"] == "onnxruntime"]
    assert all(float(r["ttft_p50_ms"]) > 0 and float(r["decode_tokens_per_s"]) > 0 for r in ort)
    assert all(r["tokens_agree"] == "4/4" for r in ort)  # fp32 tokens agree with torch at each prompt length
    data = json.loads((tmp_path / "s.json").read_text())
    front = data["analysis"]["generation_pareto"]
    assert front and all(p["ttft_p50_ms"] > 0 and p["decode_tokens_per_s"] > 0 for p in front)
    assert data["analysis"]["pareto"] == []  # generations are not points on the latency/throughput front


def test_a_load_sweep_runs_server_rates_and_keeps_invalid_cells_off_the_front(tmp_path):
    out = wb(
        "sweep", "-m", "tiny_cnn", "-e", "onnxruntime", "--scenario", "server", "--target-qps", "50,100000",
        "--latency-bound", "20ms", "--min-queries", "60", "--threads", "1", "-d", "0.3", "--no-parity",
        "--json", str(tmp_path / "s.json"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "scenario" in out.stdout and "LoadGen" in out.stdout and "server QPS 50.00, 100,000" in out.stdout
    data = json.loads((tmp_path / "s.json").read_text())
    results = {r["cell"]["target_qps"]: r for r in data["results"]}
    assert set(results) == {50.0, 100000.0}
    flood = results[100000.0]
    assert flood["loadgen"]["validity"] == "INVALID"  # 100k queries/s cannot be served on 2 cores
    assert all(p["key"] != flood["cell"]["key"] for p in data["analysis"]["pareto"])
