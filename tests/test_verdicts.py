"""Verdicts that hold: identical runs are never called faster or slower, real changes still are.

The A/A tests run the real harness (a pinned benchmark process per run) on a test engine whose speed is fixed per
process and drifts between runs — what a cloud VM does to a real engine — and check every verdict that compares
runs: compare and the CI gate, the speedup inside a run, the A/A measurement `doctor --aa` keeps. The rule itself
(`workbench.stats.verdict`) is checked on simulated log-normal run values, never presented as measurements.
"""

from __future__ import annotations

import json
import math
import random

import pytest
from cli_helpers import run_cli

from workbench.campaign.aa import measure_spread
from workbench.errors import UsageError, WorkbenchError
from workbench.machine import spread as spread_store
from workbench.measure.runner import RunConfig, Runner
from workbench.report.compare import gate_report, render_comparison
from workbench.result import EngineResult, RunRecord, new_run_id, now_iso
from workbench.stats.compare import FASTER, SAME, SLOWER, compare, quantile_z_test
from workbench.stats.histogram import LogHistogram
from workbench.stats.speedup import attach_intervals, speedup_text
from workbench.stats.verdict import (
    ASSUMED,
    Side,
    Spread,
    paired_test,
    ratio_test,
    spread_for,
    spread_from_values,
    t_quantile,
)
from workbench_engines.base import ModelArtifact, TensorSpec

ARTIFACT = ModelArtifact(
    name="drifty", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1, 4), "float32"),)
)


# ----------------------------------------------------------------------------------------------- the rule, pure


def test_t_quantile_matches_tables():
    assert t_quantile(0.01, None) == pytest.approx(2.5758, abs=1e-3)
    assert t_quantile(0.01, 5) == pytest.approx(4.0321, abs=1e-3)
    assert t_quantile(0.05, 9) == pytest.approx(2.2622, abs=1e-3)


def test_one_run_each_false_verdicts_stay_at_alpha_and_a_real_change_is_found():
    """2000 simulated A/A pairs with a 5 % run-to-run spread: about 1 % are called different (alpha), not the
    majority; a 40 % slowdown is found in at least 95 % of pairs (one run each cannot see much less here:
    the smallest change it can call is exp(2.58 · √2 · 5 %) - 1 ≈ 20 %)."""
    rng = random.Random(7)
    spread = Spread(0.05, None, "measured", "test")
    false = sum(
        ratio_test(Side(math.exp(rng.gauss(0, 0.05))), Side(math.exp(rng.gauss(0, 0.05))), spread).beyond_noise
        for _ in range(2000)
    )
    assert false <= 40  # 1 % expected (20); 2 % is far outside binomial noise
    found = sum(
        ratio_test(Side(math.exp(rng.gauss(0, 0.05))), Side(1.4 * math.exp(rng.gauss(0, 0.05))), spread).beyond_noise
        for _ in range(200)
    )
    assert found >= 190


def test_repeats_decide_between_repeats_and_a_measured_spread_floors_them():
    a = Side(10.0, (9.9, 10.0, 10.1, 10.0, 9.95))
    b = Side(10.5, (10.4, 10.5, 10.6, 10.5, 10.45))
    assumed = ASSUMED["p50"]
    t = ratio_test(a, b, assumed)
    assert t.basis == "between repeats (5 vs 5)" and t.beyond_noise and t.spread is None
    # the same repeats on a machine measured to move 4 % between processes: 5 % is no longer beyond it
    measured = Spread(0.04, 9, "measured", "A/A")
    t2 = ratio_test(a, b, measured)
    assert not t2.beyond_noise and "floored" in t2.basis and t2.spread == measured
    # one run each: the spread alone
    t3 = ratio_test(Side(10.0), Side(10.5), measured)
    assert t3.basis == "one run each" and not t3.beyond_noise and t3.ci[0] < 1.05 < t3.ci[1]


def test_paired_rounds_cancel_a_drift_that_hits_both_engines():
    # the machine slows by up to 30 % across rounds, engine b is 10 % slower in every round
    drift = (1.0, 1.3, 0.9, 1.2, 1.1)
    a = Side(10.0, tuple(10.0 * d for d in drift))
    b = Side(11.0, tuple(11.0 * d * (1 + 0.002 * i) for i, d in enumerate(drift)))
    paired = paired_test(a, b, ASSUMED["p50"])
    assert paired.basis.startswith("paired over 5") and paired.beyond_noise
    assert not ratio_test(a, b, ASSUMED["p50"]).beyond_noise  # unpaired, the drift hides it


def test_spread_for_prefers_the_same_configuration_then_the_model_then_the_machine():
    entries = [
        {
            "model": "m",
            "engine": "onnxruntime",
            "precision": "fp32",
            "threads": 2,
            "batch": 1,
            "mode": "latency",
            "runs": 10,
            "sigma": {"p50": 0.02},
        },
        {
            "model": "m",
            "engine": "onnxruntime",
            "precision": "fp32",
            "threads": 1,
            "batch": 1,
            "mode": "latency",
            "runs": 10,
            "sigma": {"p50": 0.03},
        },
        {
            "model": "other",
            "engine": "torch",
            "precision": "fp32",
            "threads": 2,
            "batch": 1,
            "mode": "latency",
            "runs": 6,
            "sigma": {"p50": 0.08},
        },
    ]
    key = {"model": "m", "engine": "onnxruntime", "precision": "fp32", "threads": 2, "batch": 1, "mode": "latency"}
    s = spread_for(entries, "p50", key)
    assert s.sigma == 0.02 and s.df == 9 and s.measured and "this configuration" in s.detail
    s = spread_for(entries, "p50", {**key, "threads": 4})  # the model's two measurements, pooled (9 + 9 df)
    assert s.sigma == pytest.approx(math.sqrt((0.02**2 + 0.03**2) / 2)) and s.df == 18 and "pooled" in s.detail
    s = spread_for(entries, "p50", {**key, "model": "new"})  # the whole machine, pooled by degrees of freedom
    assert s.sigma == pytest.approx(math.sqrt((9 * 0.02**2 + 9 * 0.03**2 + 5 * 0.08**2) / 23)) and s.df == 23
    assert spread_for([], "p99", key) == ASSUMED["p99"] and not ASSUMED["p99"].measured
    assert spread_from_values([1.0]) is None
    sigma, df = spread_from_values([1.0, 1.1, 0.9])
    assert df == 2 and 0.09 < sigma < 0.11


# --------------------------------------------------------------------------------- A/A on the real harness


def _drift_run(monkeypatch, factor: float, **kw) -> RunRecord:
    monkeypatch.setenv("WB_DRIFT_FACTOR", f"{factor:.4f}")
    config = RunConfig(
        model="drifty",
        engines=kw.pop("engines", ("drift",)),
        duration_s=0.25,
        warmup_s=0.05,
        parity=False,
        cores=(0,),
        threads=1,
        **kw,
    )
    return Runner(config, live=False, artifact=ARTIFACT).run()


@pytest.mark.usefixtures("test_engines")
def test_aa_runs_that_drift_between_processes_get_no_verdict_and_a_real_change_does(monkeypatch):
    monkeypatch.setenv("WB_DRIFT_US", "300")
    rng = random.Random(3)
    factors = [math.exp(rng.gauss(0, 0.04)) for _ in range(5)]  # a 4 % run-to-run drift, as measured on a VM
    runs = [_drift_run(monkeypatch, f) for f in factors]
    within_run_calls = 0
    for a, b in zip(runs, runs[1:]):
        c = compare(a, b)
        v = c.pairs[0].verdicts["p50"]
        assert v.verdict == SAME, (v.change_pct, v.p_value, v.basis)
        assert v.basis == "one run each" and v.spread["source"] == "assumed"
        assert gate_report(c, 5)[0] == 0
        ha = LogHistogram.from_dict(a.results[0].histogram)
        hb = LogHistogram.from_dict(b.results[0].histogram)
        within_run_calls += quantile_z_test(ha, hb, 0.5)[1] < 0.01 and abs(v.change_pct) >= 1
    # the within-run test the old verdicts used calls most of these identical configurations different
    assert within_run_calls >= 2
    slow = _drift_run(monkeypatch, factors[-1] * 1.6)
    c = compare(runs[-1], slow)
    assert c.pairs[0].verdicts["p50"].verdict == SLOWER and c.pairs[0].verdicts["throughput"].verdict == SLOWER
    code, md = gate_report(c, 5)
    assert code == 1 and "one run each" in md
    assert compare(slow, runs[-1]).pairs[0].verdicts["p50"].verdict == FASTER


@pytest.mark.usefixtures("test_engines")
def test_doctor_aa_measures_and_stores_the_spread_and_compare_uses_it(monkeypatch):
    monkeypatch.setenv("WB_DRIFT_US", "300")
    factors = iter([1.0, 1.05, 0.97, 1.02, 0.99, 1.03])

    def on_event(e):  # each run is its own process: set the next run's factor before it starts
        pass

    config = RunConfig(
        model="drifty", engines=("drift",), duration_s=0.2, warmup_s=0.05, parity=False, cores=(0,), threads=1
    )
    seen = []

    def next_factor(i, record):
        seen.append(record.results[0].latency_ms["p50"])
        monkeypatch.setenv("WB_DRIFT_FACTOR", f"{next(factors):.3f}")

    monkeypatch.setenv("WB_DRIFT_FACTOR", "1.0")
    next(factors)
    result = measure_spread(config, runs=5, on_run=next_factor, artifact=ARTIFACT)
    e = result.entry
    assert e["runs"] == 5 and e["engine"] == "drift" and e["threads"] == 1 and len(e["values"]["p50"]) == 5
    assert 0.005 < e["sigma"]["p50"] < 0.2  # the 5 % factors show; the busy loop itself is steady
    assert result.fingerprint
    spread_store.save_entry(result.fingerprint, e)
    stored = spread_store.entries([result.fingerprint])
    assert len(stored) == 1 and stored[0]["sigma"] == e["sigma"]
    spread_store.save_entry(result.fingerprint, {**e, "runs": 6})  # same configuration: replaced, not added
    assert [x["runs"] for x in spread_store.entries([result.fingerprint])] == [6]
    a, b = result.records[0], result.records[1]
    v = compare(a, b, spreads=stored).pairs[0].verdicts["p50"]
    assert v.spread["source"] == "measured" and "this configuration" in v.spread["detail"]
    with pytest.raises(WorkbenchError, match="at least 5 runs"):
        measure_spread(config, runs=4, artifact=ARTIFACT)


def test_a_damaged_spread_file_reads_as_empty_and_is_kept_aside():
    p = spread_store.path()
    p.write_text("{not json")
    assert spread_store.entries(["fp"]) == []
    spread_store.save_entry("fp", {"model": "m", "engine": "e", "sigma": {"p50": 0.01}, "runs": 3})
    assert p.with_name(p.name + ".damaged").read_text() == "{not json"
    assert spread_store.entries(["fp"])[0]["sigma"]["p50"] == 0.01


@pytest.mark.usefixtures("test_engines")
def test_speedup_inside_a_run_has_an_interval_and_equal_engines_read_as_within_noise(monkeypatch):
    monkeypatch.setenv("WB_DRIFT_US", "200")
    record = _drift_run(monkeypatch, 1.0, engines=("drift", "noop"), repeats=3)
    drift, noop = record.results
    assert all(len(r.repeats) == 3 and all("p50" in rep for rep in r.repeats) for r in record.results)
    # (parity is off for these engines, so the runner shows no speedup: the rule is applied to the measured rounds)
    noop.speedup = drift.latency_ms["p50"] / noop.latency_ms["p50"]
    attach_intervals([drift, noop], "drift", "latency", [])
    assert noop.speedup > 10 and noop.speedup_significant is True and noop.speedup_ci[0] > 10  # far beyond noise
    assert "paired over 3 interleaved rounds" in noop.speedup_basis
    # two results of the same speed: the ratio is shown as ≈, with its interval around 1
    twin = EngineResult.from_dict({**drift.to_dict(), "engine": "twin", "speedup": 1.0})
    twin.latency_ms = {**drift.latency_ms, "p50": drift.latency_ms["p50"] * 0.99}
    twin.repeats = [{**rep, "p50": rep["p50"] * f} for rep, f in zip(drift.repeats, (1.03, 0.97, 0.99))]
    twin.speedup = drift.latency_ms["p50"] / twin.latency_ms["p50"]
    attach_intervals([drift, twin], "drift", "latency", [])
    assert twin.speedup_significant is False and twin.speedup_ci[0] < 1 < twin.speedup_ci[1]
    assert speedup_text(twin.speedup, twin.speedup_significant).startswith("≈")


# ---------------------------------------------------------------------------------------------- like for like


def _rec(model="m", shape=(1, 3, 224, 224), batch=1, p50=2.0, threads=2, precision="fp32") -> RunRecord:
    h = LogHistogram()
    h.add([int(p50 * 1e6)] * 50)
    r = EngineResult(
        engine="onnxruntime",
        model=model,
        latency_ms={"p50": p50, "p90": p50, "p99": p50, "mean": p50},
        throughput=1000 / p50,
        histogram=h.to_dict(),
        threads=threads,
        batch=batch,
        precision_effective=precision,
    )
    return RunRecord(
        run_id=new_run_id(),
        created=now_iso(),
        model={"name": model, "inputs": [{"name": "x", "shape": list(shape), "dtype": "float32"}]},
        config={"batch": batch, "threads": threads, "mode": "latency", "precision": precision},
        system={"fingerprint": "fp"},
        versions={},
        results=[r],
    )


def test_different_models_or_inputs_are_refused_unless_forced_and_config_differences_come_first():
    with pytest.raises(UsageError, match="different models: resnet18 vs mobilenet_v3_small"):
        compare(_rec("resnet18"), _rec("mobilenet_v3_small", p50=0.1))
    with pytest.raises(UsageError, match="different inputs: x"):
        compare(_rec(shape=(1, 3, 224, 224)), _rec(shape=(1, 3, 320, 320)))
    forced = compare(_rec("resnet18"), _rec("mobilenet_v3_small", p50=0.1), force=True)
    text = render_comparison(forced)
    assert text.startswith("⚠ not like for like: different models")
    # a batch change is a configuration difference (shown first), not a different function
    c = compare(_rec(batch=1), _rec(batch=8, shape=(8, 3, 224, 224)))
    first = render_comparison(c).splitlines()[0]
    assert first.startswith("⚠ not like for like:") and "batch 1 → 8" in first
    md = gate_report(c, 5)[1]
    assert md.splitlines()[2].startswith("**⚠ not like for like:")


def test_cli_compare_refuses_different_models_with_one_line_and_force_works(tmp_path, capsys):
    from workbench.report.export import write

    a, b = _rec("resnet18"), _rec("mobilenet_v3_small", p50=0.1)
    fa, fb = write(tmp_path / "a.json", "json", [a]), write(tmp_path / "b.json", "json", [b])
    with pytest.raises(UsageError) as exc:
        run_cli(["compare", str(fa), str(fb)])
    assert "--force" in (exc.value.hint or "")
    assert run_cli(["compare", str(fa), str(fb), "--force", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pairs"][0]["verdicts"]["p50"]["basis"] == "one run each"


# ------------------------------------------------------------------ the same rule in sweeps and across machines


def _cell_result(engine, threads, p50, precision="fp32", parity="pass") -> EngineResult:
    return EngineResult(
        engine=engine,
        model="m",
        latency_ms={"p50": p50, "p90": p50, "p99": p50},
        throughput=1000 / p50,
        threads=threads,
        precision_requested=precision,
        precision_effective=precision,
        parity={"status": parity},
        cell={"engine": engine, "precision": precision, "threads": threads, "batch": 1, "mode": "latency"},
    )


def test_sweep_thread_speedups_and_precision_gains_inside_the_spread_read_as_ties():
    from workbench.report.sweep import gain_cell, thread_rows
    from workbench.stats.scaling import analyse

    rec = RunRecord(
        run_id=new_run_id(),
        created=now_iso(),
        model={"name": "m"},
        config={},
        system={},
        versions={},
        kind="sweep",
        results=[
            _cell_result("onnxruntime", 1, 10.0),
            _cell_result("onnxruntime", 2, 9.7),  # 1.03x: inside a 5 % run-to-run spread
            _cell_result("onnxruntime", 4, 5.0),  # 2x: beyond it
            _cell_result("onnxruntime", 4, 4.9, precision="int8"),  # 1.02x over fp32 at 4 threads: a tie
        ],
    )
    a = analyse(rec)
    rows = {r.cell.threads: r for r in a.threads[0].rows}
    assert rows[2].significant is False and rows[4].significant is True and rows[1].significant is None
    assert rows[2].ci[0] < 1 < rows[2].ci[1]
    cells = [row[4] for row in thread_rows(a.threads[0])]
    assert cells[1].startswith("≈") and not cells[2].startswith("≈")
    (gain,) = a.precision
    assert gain.significant is False and gain_cell(gain).startswith("≈")
    # measured on a quiet machine (1 % spread): the same 3 % is real
    quiet = [{"model": "m", "engine": "onnxruntime", "runs": 10, "sigma": {"p50": 0.005}}]
    assert analyse(rec, quiet).threads[0].rows[1].significant is True


def test_compare_by_machine_calls_a_difference_inside_the_spread_a_tie():
    from workbench.report.machines import render_machines
    from workbench.stats.machines import compare_machines

    def rec(cpu, p50):
        return RunRecord(
            run_id=new_run_id(),
            created=now_iso(),
            model={"name": "m"},
            config={},
            system={"fingerprint": cpu, "fingerprint_fields": {"cpu_model": cpu}, "cpu": {"model": cpu}},
            versions={},
            results=[_cell_result("onnxruntime", 2, p50)],
        )

    cmp = compare_machines([rec("Xeon A", 10.0), rec("Xeon B", 10.4), rec("Xeon C", 20.0)], "m", ("latency",))
    rows = cmp.rankings["latency"].rows
    assert rows[1]["vs_best_significant"] is False and rows[2]["vs_best_significant"] is True
    text = render_machines(cmp)
    assert "≈1.04×" in text and "2.00×" in text


# ------------------------------------------------------------------- drift within a run widens its verdicts


def test_block_medians_split_a_round_by_its_own_clock():
    import numpy as np

    from workbench.measure.assemble import BLOCKS, BlockMedians

    b = BlockMedians(duration_s=0.6)  # 0.1 s blocks
    for i in range(60):  # frames every 10 ms; the machine is twice as slow in the second half
        b.add(np.full(10, 1_000_000 if i < 30 else 2_000_000, dtype=np.int64), elapsed_ns=(i + 1) * 10_000_000)
    medians = b.finish()
    assert len(medians) == BLOCKS
    assert medians[0] == pytest.approx(1.0, rel=0.01) and medians[-1] == pytest.approx(2.0, rel=0.01)


def test_a_run_that_drifted_within_itself_is_judged_with_that_drift():
    from workbench.stats.verdict import drift_within

    steady = [[10.0, 10.1, 9.9, 10.0, 10.05, 9.95]]
    drifting = [[6.0, 8.0, 10.0, 13.0, 17.0, 22.0]]
    var_s, _ = drift_within(steady)
    var_d, df_d = drift_within(drifting)
    assert var_s < ASSUMED["p50"].sigma ** 2 < var_d and df_d == 5
    spread = ASSUMED["p50"]
    # +50 %: beyond the spread between two steady runs, inside it when the candidate itself drifted 3.7x
    assert ratio_test(Side(10.0, drift_var=var_s), Side(15.0, drift_var=var_s), spread).beyond_noise
    assert not ratio_test(Side(10.0, drift_var=var_s), Side(15.0, drift_var=var_d, drift_df=df_d), spread).beyond_noise


@pytest.mark.usefixtures("test_engines")
def test_each_measured_round_keeps_its_time_block_medians(monkeypatch):
    monkeypatch.setenv("WB_DRIFT_US", "300")
    rec = _drift_run(monkeypatch, 1.0, repeats=2)
    for rep in rec.results[0].repeats:
        assert len(rep["blocks"]) >= 3 and all(0.2 < b < 1.0 for b in rep["blocks"])  # ~0.3 ms busy loop


# ------------------------------------------------------------------- the history's own A/A evidence


def _hist_rec(p50: float, fingerprint: str = "fp", threads: int = 2, kind: str = "run") -> RunRecord:
    rec = _rec(p50=p50, threads=threads)
    rec.system = {"fingerprint": fingerprint}
    rec.kind = kind
    return rec


def test_history_entries_measure_the_spread_of_repeated_configurations_on_this_machine():
    from workbench.stats.verdict import history_entries

    runs = [_hist_rec(v) for v in (1.5, 1.8, 2.4, 1.6)]
    elsewhere = [_hist_rec(9.0, fingerprint="other") for _ in range(3)]
    sweep = [_hist_rec(5.0, kind="sweep") for _ in range(3)]
    (e,) = history_entries(runs + elsewhere + sweep, "fp")
    assert e["runs"] == 4 and e["origin"] == "history" and e["threads"] == 2 and e["engine"] == "onnxruntime"
    assert e["sigma"]["p50"] == pytest.approx(spread_from_values([1.5, 1.8, 2.4, 1.6])[0])
    assert history_entries(runs[:2], "fp") == []  # two runs know too little


def test_cli_compare_uses_the_other_stored_runs_of_the_configuration_as_its_spread(capsys):
    from workbench.store.history import HistoryStore

    s = HistoryStore()
    # a machine that moves by ~20 % between identical runs: the last pair differs by +33 %
    runs = [_hist_rec(v) for v in (1.5, 1.9, 1.4, 2.1, 1.6, 2.13)]
    for i, r in enumerate(runs):
        r.created = f"2026-12-06T05:0{i}:00+00:00"
    s.import_records(runs)
    assert run_cli(["compare", "latest~1", "latest", "--json"]) == 0
    v = json.loads(capsys.readouterr().out)["pairs"][0]["verdicts"]["p50"]
    assert v["verdict"] == "no significant change" and v["spread"]["source"] == "measured"
    assert "stored runs of this configuration" in v["spread"]["detail"]
    assert v["spread"]["pct"] > 15
