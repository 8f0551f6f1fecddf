"""compare(): significance + practical threshold, pairing, warnings, the CI gate, operands and the CLI.

Runs here are test fixtures built from seeded synthetic lognormal samples — never presented as measurements.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from cli_helpers import history_parser, run_cli

from workbench.cli.history import resolve_operand
from workbench.errors import UsageError, WorkbenchError
from workbench.report.compare import gate_report, render_comparison
from workbench.report.export import write
from workbench.result import EngineResult, RunRecord, new_run_id
from workbench.stats.compare import (
    FASTER,
    SAME,
    SLOWER,
    UNTESTED,
    GateResult,
    compare,
    gate,
    quantile_z_test,
    student_t_sf,
    welch_t_test,
)
from workbench.stats.histogram import LogHistogram
from workbench.stats.summary import summarize
from workbench.store.history import HistoryStore


def result(
    engine="onnxruntime", scale_ms=2.0, seed=0, n=4000, sigma=0.08, repeats=None, precision="fp32", tail=0.0, **kw
) -> EngineResult:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(np.log(scale_ms * 1e6), sigma, n)
    if tail:  # stretch the slowest 3 % (a tail regression that leaves the median alone)
        cut = np.quantile(x, 0.97)
        x = np.where(x > cut, x * (1 + tail), x)
    x = x.astype(np.int64)
    h = LogHistogram()
    h.add(x)
    s = summarize(x).scaled(1e-6)
    lat = {"mean": s.mean, "std": s.std, "min": s.min, "max": s.max, **s.percentiles}
    if repeats is None:
        repeats = [
            {
                "throughput": 1000.0 / float(np.mean(c)) * 1e6,
                "p50": float(np.median(c)) / 1e6,
                "p90": float(np.quantile(c, 0.9)) / 1e6,
                "p99": float(np.quantile(c, 0.99)) / 1e6,
            }
            for c in np.array_split(x, 5)
        ]
    fields = dict(
        engine=engine,
        model="m",
        engine_version="1.0",
        precision_effective=precision,
        latency_ms=lat,
        median_ci_ms=list(s.median_ci),
        throughput=1000.0 / s.mean,
        iterations=n,
        histogram=h.to_dict(),
        repeats=repeats,
        threads=4,
        batch=1,
    )
    fields.update(kw)
    return EngineResult(**fields)


def record(
    results, *, fingerprint="fp-a", fields=None, versions=None, config=None, run_id=None, created=None, model="m"
) -> RunRecord:
    return RunRecord(
        run_id=run_id or new_run_id(),
        created=created or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        model={"name": model},
        config=config or {"batch": 1, "threads": 4, "mode": "latency"},
        system={"fingerprint": fingerprint, "fingerprint_fields": fields or {"cpu_model": "Xeon A", "kernel": "6.8"}},
        versions=versions or {"onnxruntime": "1.20.0"},
        results=results,
    )


# ------------------------------------------------------------------------------------------------------- math


def test_student_t_reference_values():
    assert student_t_sf(2.776445105, 4) == pytest.approx(0.05, abs=1e-6)
    assert student_t_sf(12.70620474, 1) == pytest.approx(0.05, abs=1e-6)
    assert student_t_sf(1.959963985, 1e6) == pytest.approx(0.05, abs=1e-4)
    assert student_t_sf(0.0, 7) == pytest.approx(1.0)


def test_welch_t_test():
    a = [100.0, 101.0, 99.0, 100.5, 99.5]
    t, df, p = welch_t_test(a, [x * 0.9 for x in a])
    assert t < 0 and p < 1e-4 and 4 <= df <= 8
    t, df, p = welch_t_test(a, list(reversed(a)))
    assert t == pytest.approx(0.0) and p == pytest.approx(1.0)
    assert welch_t_test([1.0, 1.0], [1.0, 1.0])[2] == 1.0
    assert welch_t_test([1.0, 1.0], [2.0, 2.0])[2] == 0.0


def test_quantile_z_test_sees_tail_change():
    rng = np.random.default_rng(3)
    base = rng.lognormal(np.log(2e6), 0.1, 20000)
    ha, hb, hc = LogHistogram(), LogHistogram(), LogHistogram()
    ha.add(base.astype(np.int64))
    hb.add(np.where(base > np.quantile(base, 0.97), base * 1.5, base).astype(np.int64))
    hc.add(rng.lognormal(np.log(2e6), 0.1, 20000).astype(np.int64))
    z, p = quantile_z_test(ha, hb, 0.99)
    assert z > 0 and p < 1e-6
    assert quantile_z_test(ha, hc, 0.99)[1] > 0.01


# ------------------------------------------------------------------------------------------------------ verdicts


def test_same_distribution_is_no_significant_change():
    a = record([result(seed=1), result("torch", 3.0, seed=2)])
    b = record([result(seed=11), result("torch", 3.0, seed=12)])
    c = compare(a, b)
    assert len(c.pairs) == 2
    for p in c.pairs:
        for m in ("p50", "p99", "throughput"):
            assert p.verdicts[m].verdict == SAME, (p.engine, m, p.verdicts[m])
        assert p.verdicts["p50"].basis == "between repeats (5 vs 5)"
        assert p.verdicts["throughput"].test.startswith("run-to-run ratio test")
    assert gate_report(c, 5)[0] == 0
    assert not c.warnings


def test_candidate_30_percent_slower_fails_the_gate():
    a = record([result(seed=1)])
    b = record([result(scale_ms=2.6, seed=2)])
    c = compare(a, b)
    v = c.pairs[0].verdicts["p50"]
    assert v.verdict == SLOWER and v.p_value < 1e-6 and v.change_pct == pytest.approx(30, abs=1.5)
    d = c.pairs[0].deltas
    assert d["p50"].ratio == pytest.approx(1.3, abs=0.02) and d["p50"].delta > 0
    assert d["throughput"].change_pct < 0 and c.pairs[0].verdicts["throughput"].verdict == SLOWER
    code, md = gate_report(c, fail_above_pct=5, metric="p50")
    assert code == 1
    assert "FAIL" in md and "Regressions:" in md and md.count("\n") < 30
    for metric in ("p99", "throughput"):
        assert gate_report(compare(a, b, metric=metric), 5, metric)[0] == 1
    # the reverse direction is an improvement, never a failure
    back = compare(b, a)
    assert back.pairs[0].verdicts["p50"].verdict == FASTER and gate_report(back, 5)[0] == 0


def test_small_slowdown_under_threshold_passes():
    a = record([result(seed=1, n=20000)])
    b = record([result(scale_ms=2.04, seed=2, n=20000)])
    c = compare(a, b)
    assert c.pairs[0].verdicts["p50"].verdict == SLOWER  # real and significant …
    code, md = gate_report(c, fail_above_pct=5)
    assert code == 0 and "PASS" in md  # … but below --fail-above


def test_practical_threshold_ignores_tiny_but_significant_shift():
    a = record([result(seed=1, n=200000, sigma=0.02)])
    b = record([result(scale_ms=2.0 * 1.003, seed=2, n=200000, sigma=0.02)])
    v = compare(a, b).pairs[0].verdicts["p50"]
    assert v.significant and not v.practical
    assert v.verdict == SAME


def test_p99_tail_regression():
    a = record([result(seed=1, n=20000)])
    b = record([result(seed=1, n=20000, tail=0.5)])
    c = compare(a, b, metric="p99")
    assert c.pairs[0].verdicts["p99"].verdict == SLOWER
    assert c.pairs[0].verdicts["p50"].verdict == SAME
    assert gate_report(c, 5, "p99")[0] == 1
    assert gate_report(c, 5, "p50")[0] == 0


def test_throughput_with_few_repeats_is_judged_one_run_each_against_the_spread():
    a = record([result(seed=1, repeats=[{"throughput": 500.0}])])
    b = record([result(scale_ms=3.2, seed=2, repeats=[])])
    v = compare(a, b, metric="throughput").pairs[0].verdicts["throughput"]
    assert v.verdict == SLOWER and v.basis == "one run each" and v.spread["source"] == "assumed"
    # a 6 % drop is inside the assumed run-to-run spread of one run each (it calls ~40 % and more)
    c = record([result(scale_ms=2.12, seed=2, repeats=[])])
    assert compare(a, c, metric="throughput").pairs[0].verdicts["throughput"].verdict == SAME


def test_gate_result_is_data_and_the_markdown_renders_it():
    a = record([result(seed=1), result("torch", 3.0, seed=2)])
    b = record([result(scale_ms=2.6, seed=3), result("torch", 3.0, seed=4)])
    c = compare(a, b)
    g = gate(c, 5)
    assert isinstance(g, GateResult) and g.exit_code == 1 and g.head == "FAIL" and g.threshold_pct == 5.0
    assert [(row.pair.engine, row.status) for row in g.rows] == [("onnxruntime", "FAIL"), ("torch", "ok")]
    assert len(g.failures) == 1 and g.failures[0].startswith("onnxruntime (cpu, fp32): p50 +")
    code, md = gate_report(c, 5)
    assert code == g.exit_code and g.failures[0] in md


def test_stats_compare_imports_no_report_store_or_cli():
    import ast
    from pathlib import Path

    import workbench.stats.compare as mod

    names = set()
    for node in ast.walk(ast.parse(Path(mod.__file__).read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    assert not [n for n in names if n.startswith(("workbench.report", "workbench.store", "workbench.cli"))], names


def test_unknown_metric_is_a_usage_error():
    a = record([result(seed=1)])
    with pytest.raises(UsageError, match="unknown metric"):
        compare(a, a, metric="p42")
    with pytest.raises(UsageError, match="fail-above"):
        gate_report(compare(a, a), -1)


# ----------------------------------------------------------------------------------------------- pairing, warnings


def test_fingerprint_versions_and_config_warnings():
    a = record([result(seed=1)], fingerprint="fp-a", fields={"cpu_model": "Xeon A", "kernel": "6.8", "sockets": 2})
    b = record(
        [result(seed=2, threads=8)],
        fingerprint="fp-b",
        fields={"cpu_model": "Xeon B", "kernel": "6.8", "sockets": 1},
        versions={"onnxruntime": "1.21.0"},
        config={"batch": 1, "threads": 8, "mode": "latency"},
    )
    c = compare(a, b)
    codes = {w["code"]: w["message"] for w in c.warnings}
    assert "machine_differs" in codes
    assert "cpu_model" in codes["machine_differs"] and "sockets" in codes["machine_differs"]
    assert "kernel" not in codes["machine_differs"].split("differs in:")[1].split(")")[0]
    assert "onnxruntime 1.20.0 → 1.21.0" in codes["versions_differ"]
    assert "threads 4 → 8" in codes["config_differs"]
    assert any(w["code"] == "config_differs" for w in c.pairs[0].warnings)
    assert "machine_differs" in gate_report(c, 5)[1] or "different machines" in gate_report(c, 5)[1]


def test_pairing_by_precision_then_engine():
    a = record(
        [
            result("openvino", seed=1, precision="fp32"),
            result("openvino", 1.2, seed=2, precision="bf16"),
            result("torch", seed=3),
        ]
    )
    b = record(
        [
            result("openvino", 1.2, seed=4, precision="bf16"),
            result("openvino", seed=5, precision="fp32"),
            result("onnxruntime", seed=6),
        ]
    )
    c = compare(a, b)
    assert [(p.engine, p.precision_baseline, p.precision_candidate) for p in c.pairs] == [
        ("openvino", "fp32", "fp32"),
        ("openvino", "bf16", "bf16"),
    ]
    assert all(p.verdicts["p50"].verdict == SAME for p in c.pairs)
    assert c.unpaired_baseline and c.unpaired_candidate
    assert any(w["code"] == "unpaired" for w in c.warnings)

    a2 = record([result("openvino", seed=1, precision="fp32")])
    b2 = record([result("openvino", 0.7, seed=2, precision="bf16")])
    c2 = compare(a2, b2)
    assert c2.pairs[0].paired_by == "engine+device"
    assert any(w["code"] == "precision_differs" for w in c2.pairs[0].warnings)


def test_failed_candidate_fails_gate_and_disjoint_runs_are_not_checked():
    a = record([result(seed=1)])
    b = record([EngineResult(engine="onnxruntime", model="m", status="failed", error="segfault in kernel")])
    c = compare(a, b)
    assert c.pairs[0].verdicts["p50"].verdict == UNTESTED and c.pairs[0].failed == "candidate"
    code, md = gate_report(c, 5)
    assert code == 1 and "segfault" in md
    disjoint = compare(a, record([result("torch", seed=2)]))
    assert disjoint.pairs == [] and gate_report(disjoint, 5)[0] == 2


def test_missing_histograms_or_values_are_tested_or_said_not_tested():
    a = record([result(seed=1, histogram=None, repeats=[])])
    b = record([result(scale_ms=3.2, seed=2, histogram=None, repeats=[])])
    v = compare(a, b).pairs[0].verdicts["p50"]
    assert v.verdict == SLOWER and v.basis == "one run each"
    b.results[0].latency_ms = None  # nothing to test: not tested, and the gate does not pass what it cannot see
    b.results[0].throughput = 1000.0 / 3.2
    c = compare(a, b)
    assert c.pairs[0].verdicts["p50"].verdict == UNTESTED
    assert gate_report(c, 5, "throughput")[0] == 1


def test_comparison_to_dict_is_json_and_render_is_text():
    c = compare(record([result(seed=1)]), record([result(scale_ms=2.6, seed=2)]))
    doc = json.loads(json.dumps(c.to_dict(), allow_nan=False))
    assert doc["pairs"][0]["verdict"] == SLOWER and doc["metric"] == "p50"
    assert doc["pairs"][0]["deltas"]["p50"]["ratio"] > 1.2
    text = render_comparison(c)
    assert "slower" in text and "Verdicts rest on: between repeats (5 vs 5)" in text and "99% CI" in text


# ---------------------------------------------------------------------------------------------------- operands


@pytest.fixture()
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_HISTORY", raising=False)
    return tmp_path


def _hours_ago(h: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=h)).isoformat(timespec="seconds")


def test_resolve_operand(home):
    s = HistoryStore()
    old = record([result(seed=1)], run_id="aaa000000001", created=_hours_ago(2))
    new = record([result(seed=2)], run_id="bbb000000002", created=_hours_ago(1))
    s.import_records([old, new])
    assert resolve_operand("latest", s).run_id == new.run_id
    assert resolve_operand("latest~1", s).run_id == old.run_id
    assert resolve_operand("aaa", s).run_id == old.run_id
    f = write(home / "one.json", "json", [old])
    assert resolve_operand(str(f)).run_id == old.run_id
    both = write(home / "both.json", "json", [old, new])
    with pytest.raises(UsageError, match="holds 2 runs"):
        resolve_operand(str(both))
    with pytest.raises(UsageError, match="no such file"):
        resolve_operand(str(home / "missing.json"))
    with pytest.raises(UsageError, match="no run"):
        resolve_operand("zzz", s)


# --------------------------------------------------------------------------------------------------------- CLI


def test_cli_compare_and_gate(home, capsys):
    s = HistoryStore()
    base = record([result(seed=1)], created=_hours_ago(3))
    same = record([result(seed=2)], created=_hours_ago(2))
    slow = record([result(scale_ms=2.6, seed=3)], created=_hours_ago(1))
    s.import_records([base, same, slow])

    assert run_cli(["compare", base.run_id, same.run_id]) == 0
    assert "no significant change" in capsys.readouterr().out

    assert run_cli(["compare", "latest~2", "latest", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["pairs"][0]["verdict"] == "slower"

    assert run_cli(["compare", "--baseline", base.run_id, "--candidate", "latest", "--fail-above", "5"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### workbench gate: FAIL")
    assert run_cli(["compare", "--baseline", base.run_id, "--candidate", "latest~1", "--fail-above", "5"]) == 0
    assert "PASS" in capsys.readouterr().out
    f = write(home / "slow.json", "json", [slow])
    assert run_cli(["compare", "--baseline", base.run_id, "--candidate", str(f), "--fail-above", "50", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["gate"]["exit_code"] == 0 and doc["gate"]["fail_above_pct"] == 50.0
    assert run_cli(["compare", base.run_id, "latest", "--metric", "throughput", "--fail-above", "5"]) == 1
    capsys.readouterr()

    with pytest.raises(WorkbenchError, match="two runs"):
        run_cli(["compare", "latest"])
    with pytest.raises(WorkbenchError, match="not both"):
        run_cli(["compare", "a", "b", "--baseline", "c"])
    with pytest.raises(SystemExit):  # argparse rejects a bad percentage
        history_parser().parse_args(["compare", "a", "b", "--fail-above", "lots"])


def test_histograms_with_different_layouts_are_still_tested():
    rng = np.random.default_rng(0)
    a = rng.lognormal(np.log(2e6), 0.05, 3000).astype(np.int64)
    b = rng.lognormal(np.log(2.2e6), 0.05, 3000).astype(np.int64)
    ha, hb = LogHistogram(), LogHistogram(rel_precision=0.01)
    ha.add(a)
    hb.add(b)
    ra, rb = result(seed=1, histogram=ha.to_dict()), result(seed=2, histogram=hb.to_dict())
    ra.latency_ms["p50"], rb.latency_ms["p50"] = float(np.median(a)) / 1e6, float(np.median(b)) / 1e6
    v = compare(record([ra]), record([rb])).pairs[0].verdicts["p50"]
    assert v.verdict == SLOWER
