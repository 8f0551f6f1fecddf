"""MLPerf LoadGen scenarios (``workbench run --scenario``) and the max-QPS search (``--find-max-qps``): the four
scenarios on a real engine with short settings, an INVALID run, LoadGen's logs parsed into the result, the
bisection against a known answer, like-for-like compare, and the one-line errors.

Short LoadGen runs are only indicative (docs/methodology.md); these tests check behaviour, never speed."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest
from cli_helpers import wb

from workbench.campaign.maxqps import MaxQpsSearch, _round_qps, queue_estimate
from workbench.errors import UsageError
from workbench.measure.events import Progress
from workbench.measure.runner import RunConfig, Runner
from workbench.measure.scenario import Scenario, loadgen_entry, parse_detail, parse_duration_ms
from workbench.result import EngineResult, RunRecord
from workbench.stats.compare import compare

# ---- LoadGen's logs ----------------------------------------------------------------------------------------------

#: the result keys of a real Server detail log (LoadGen 6.0.17, 3000 QPS offered to a ~950/s engine)
_DETAIL = "\n".join(
    ":::MLLOG " + json.dumps({"key": k, "value": v})
    for k, v in (
        ("loadgen_version", "6.0.17 @ d6147c7eb7"),
        ("effective_samples_per_query", 1),
        ("effective_target_qps", 3000),
        ("effective_target_latency_ns", 10000000),
        ("effective_target_latency_percentile", 0.99),
        ("effective_min_duration_ms", 2000),
        ("result_validity", "INVALID"),
        ("result_perf_constraints_met", False),
        ("result_min_duration_met", True),
        ("result_min_queries_met", True),
        ("early_stopping_met", False),
        ("result_invalid_reason", "Reduce target QPS to improve latency. "),
        ("early_stopping_result", " * Run unsuccessful.  * Processed 5853 queries."),
        ("result_query_count", 5853),
        ("result_completed_samples_per_sec", 952.333),
        ("result_50.00_percentile_latency_ns", 2134155242),
        ("result_99.00_percentile_latency_ns", 4106640974),
    )
)


def test_detail_log_becomes_the_verdict_with_loadgens_reasons():
    entry = loadgen_entry(parse_detail("noise line\n" + _DETAIL), Scenario("server", 2.0, target_qps=3000))
    assert entry["validity"] == "INVALID" and entry["valid"] is False
    assert "Reduce target QPS to improve latency." in entry["reasons"]
    assert "early stopping not met" in entry["reasons"]
    assert any("p99 latency above the 10 ms bound" in r for r in entry["reasons"])
    assert entry["qps"] == pytest.approx(952.333) and entry["target_qps"] == 3000
    assert entry["latency_ms"]["p99"] == pytest.approx(4106.640974)
    assert entry["target_latency_ms"] == pytest.approx(4106.640974) and entry["percentile"] == 99.0
    assert entry["early_stopping"] == ["Run unsuccessful.", "Processed 5853 queries."]


def test_latency_bound_parses_units():
    assert parse_duration_ms("100ms") == 100 and parse_duration_ms("0.25s") == 250 and parse_duration_ms("7") == 7
    with pytest.raises(ValueError):
        parse_duration_ms("fast")


def test_official_rules_apply_to_every_round_of_a_process(tmp_path):
    # LoadGen loads mlperf.conf only on the first FromConfig of a process: the settings are read once and re-applied
    import mlperf_loadgen as lg

    from workbench.measure.loadgen_run import _settings

    rules = Scenario("server", 1.0, target_qps=10.0, mlperf_rules=True, model="resnet50")
    for _ in range(2):
        ts = _settings(lg, rules, 1_000_000, str(tmp_path))
        assert ts.min_duration_ms == 600_000 and ts.server_target_qps == 10.0
    plain = _settings(lg, Scenario("server", 1.0, target_qps=10.0, latency_bound_ms=250.0, seed=7), 1_000_000, "")
    assert plain.min_duration_ms == 1000 and plain.min_query_count == 460 and plain.schedule_rng_seed == 7
    assert plain.server_target_latency_ns == 250_000_000


# ---- the four scenarios on a real engine -------------------------------------------------------------------------

_SHORT = {
    "singlestream": {},
    "multistream": {"samples_per_query": 2},
    "server": {"target_qps": 100.0, "latency_bound_ms": 200.0},
    "offline": {},
}


@pytest.mark.parametrize("scenario", sorted(_SHORT))
def test_each_scenario_runs_in_the_benchmark_process_and_is_valid(scenario, shared_cache):
    config = RunConfig(
        model="tiny_cnn",
        engines=("onnxruntime",),
        cores=(0,),
        duration_s=0.5,
        warmup_s=0.0,
        parity=False,
        scenario=scenario,
        **_SHORT[scenario],
    )
    events: list = []
    record = Runner(config, on_event=events.append, live=False).run()
    (res,) = record.results
    # the per-query latencies stream live like any run's samples (watch, the UI): progress with a histogram
    assert any(isinstance(e, Progress) and e.iterations > 0 and e.hist for e in events)
    assert res.ok, res.error
    lg = res.loadgen or {}
    assert res.scenario == scenario and lg["scenario"] == scenario
    assert lg["validity"] == "VALID", lg["reasons"]
    assert lg["loadgen_version"].startswith("6.") and lg["target_latency_ms"] > 0
    assert (lg["qps"] is None) == (scenario == "multistream")  # MultiStream's metric is its p99 alone
    assert lg["queries"] >= (662 if scenario == "multistream" else 1)
    # the per-query latencies the process streamed are the same queries LoadGen timed
    assert res.iterations >= lg["queries"] and res.latency_ms["p50"] > 0
    # the sample library holds 16 distinct seeded samples, all resident, and the queries used several of them
    assert lg["qsl"]["samples"] == lg["qsl"]["resident"] == 16
    assert 1 < lg["qsl"]["distinct_issued"] <= 16
    if scenario == "server":  # the issue delay per query: LoadGen's issue to the engine starting it
        delay = lg["issue_delay_ms"]
        assert delay["queries"] == lg["queries"] and 0 <= delay["p50"] <= delay["p99"] <= delay["max"]
    else:
        assert lg["issue_delay_ms"] is None
    if scenario == "server":
        assert lg["latency_bound_ms"] == 200.0 and lg["percentile"] == 99.0
        assert res.speedup is None and res.speedup_note == "baseline"  # no speedup of latencies under load


def test_sample_library_size_rule():
    from workbench.measure.scenario import DEFAULT_QSL_SAMPLES, qsl_size

    assert qsl_size(None, 150_528) == (DEFAULT_QSL_SAMPLES, "default 16")  # a 224x224 RGB uint8 image
    assert qsl_size(None, 100 << 20)[0] == 2  # 100 MB samples: capped to 256 MB
    assert qsl_size(None, 1 << 30)[0] == 1
    assert qsl_size(5, 1 << 30)[0] == 5  # asked for: as asked
    assert qsl_size(5, 10, all_given=True)[0] == 1  # the given inputs are one sample


def test_issue_core_leaves_one_core_to_the_issuing_thread():
    from workbench.measure.runner import validate

    base = RunConfig(model="tiny_cnn", engines=("onnxruntime",), cores=(0, 1), scenario="server", target_qps=10.0)
    assert validate(replace(base, issue_core=True)).threads == 1
    assert validate(base).threads == 2
    for bad, needle in (
        (replace(base, issue_core=True, cores=(0,)), "at least 2 cores"),
        (replace(base, issue_core=True, threads=2), "leave out --threads"),
        (replace(base, issue_core=True, scenario="singlestream", target_qps=None), "--scenario server"),
    ):
        with pytest.raises(UsageError, match=needle):
            validate(bad)


def test_unreachable_qps_is_invalid_with_loadgens_reason_and_shows_everywhere(test_engines, tmp_path):
    # the drift test engine burns 2 ms of CPU per call: at most ~500 calls/s, 5,000 QPS cannot be served
    out = wb(
        "run", "-m", "tiny_cnn", "-e", "drift", "--cores", "0", "--no-parity", "--no-save",
        "--scenario", "server", "--target-qps", "5000", "--latency-bound", "20ms", "--duration", "0.3",
        "--min-queries", "600", "--warmup", "3it",
        "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"), "--markdown", str(tmp_path / "r.md"),
        env={"WB_DRIFT_US": "2000"},
    )  # fmt: skip
    assert out.returncode == 0, out.stderr  # an INVALID verdict is a result, not a failure
    assert "Traceback" not in out.stderr
    assert "under load (MLPerf LoadGen" in out.stdout and "INVALID" in out.stdout
    assert "Reduce target QPS" in out.stdout
    res = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert res["loadgen"]["validity"] == "INVALID" and res["loadgen"]["qps"] < 5000
    csv_text = (tmp_path / "r.csv").read_text()
    assert "loadgen_validity" in csv_text.splitlines()[0] and ",INVALID," in csv_text
    assert "Under load (MLPerf LoadGen)" in (tmp_path / "r.md").read_text()


# ---- the max-QPS search ------------------------------------------------------------------------------------------


def _fake_probe(capacity: float, bound_ms: float, calls: list[RunConfig], offline: float = 100.0):
    """A system whose p99 is within ``bound_ms`` exactly up to ``capacity`` QPS (the known answer), saturating at
    ``offline`` samples/s."""

    def probe(config: RunConfig) -> RunRecord:
        calls.append(config)
        if config.scenario == "offline":
            lg = {"scenario": "offline", "valid": True, "validity": "VALID", "qps": offline}
        else:
            ok = config.target_qps <= capacity
            lat = bound_ms * (0.5 if ok else 3)
            lg = {"scenario": "server", "valid": ok, "validity": "VALID" if ok else "INVALID", "qps": config.target_qps}
            lg.update(target_latency_ms=lat, reasons=[] if ok else ["Reduce target QPS to improve latency."])
            lg.update(issue_delay_ms={"p50": 0.5, "p99": 4.0, "max": 6.0}, qsl={"samples": 16})
            if ok and config.target_qps > 0.9 * capacity and config.min_queries is None:
                # near the answer a few queries go over the bound: early stopping wants more queries to tell
                lg.update(valid=False, validity="INVALID", reasons=["early stopping not met"], queries=460)
                lg["early_stopping"] = ["Run unsuccessful.", "Would need to run at least 67 more queries,"]
        res = EngineResult(engine=config.engines[0], model="m", scenario=config.scenario, loadgen=lg)
        return RunRecord("id", "now", {"name": "m"}, {}, {}, {}, [res])

    return probe


def test_max_qps_search_finds_the_known_answer_and_confirms_it():
    calls: list[RunConfig] = []
    seen: list[dict] = []
    config = RunConfig(
        model="m", engines=("onnxruntime",), latency_bound_ms=50.0, latency_percentile=99.0, duration_s=1.0
    )
    out = MaxQpsSearch(
        config, probe=_fake_probe(80.0, 50.0, calls), resolution=0.02, confirm=3, on_probe=seen.append
    ).run()
    assert out.offline_qps == 100.0
    assert calls[0].scenario == "offline" and calls[0].duration_s == 1.0  # the run's own duration: a rate only
    assert all(c.scenario == "server" for c in calls[1:])
    # the first probe is the queue model's rate for a 10 ms service time under a 50 ms p99 bound, not 50 QPS
    assert out.first_estimate == _round_qps(queue_estimate(0.01, 0.05, 99.0)) == calls[1].target_qps != 50.0
    # above 72 QPS the fake's early stopping cannot tell: INVALID is INVALID (no longer runs at that rate), so the
    # answer is the highest rate below, within 2 % of the offline rate
    assert out.best is not None and 70.0 <= out.best["target_qps"] <= 72.0
    assert all(c.min_queries is None for c in calls)
    assert any(p["kind"] == "probe" and "early stopping not met" in p["reasons"] for p in out.probes)
    # probes long enough to see the bound: at least 100 bounds
    assert all(c.duration_s >= 5.0 and c.latency_bound_ms == 50.0 for c in calls[1:])
    # the bisection's VALID probe at the answer counts: two more runs make the three VALID ones
    at_best = [p for p in out.probes if p["target_qps"] == out.best["target_qps"]]
    assert [p["kind"] for p in at_best] == ["probe", "confirm", "confirm"] and all(p["valid"] for p in at_best)
    assert out.confirmed == out.confirm_runs == 3
    # progress: every probe after the offline run says how long the rest should take, nothing once it is done
    assert [p["kind"] for p in seen] == [p["kind"] for p in out.probes] and seen[0]["eta_s"] is None
    assert all(p["eta_s"] is not None and p["elapsed_s"] >= 0 for p in seen[1:]) and seen[-1]["eta_s"] == 0


def test_max_qps_confirmation_stops_at_the_first_invalid_run_and_steps_down():
    # rates up to 60 QPS are always VALID; up to 80 only on their first run (a marginal rate); above 80 never
    runs_at: dict[float, int] = {}

    def probe(config: RunConfig) -> RunRecord:
        if config.scenario == "offline":
            lg = {"scenario": "offline", "valid": True, "validity": "VALID", "qps": 100.0}
        else:
            r = config.target_qps
            runs_at[r] = runs_at.get(r, 0) + 1
            ok = r <= 60 or (r <= 80 and runs_at[r] == 1)
            lg = {"scenario": "server", "valid": ok, "validity": "VALID" if ok else "INVALID", "qps": r}
        res = EngineResult(engine=config.engines[0], model="m", scenario=config.scenario, loadgen=lg)
        return RunRecord("id", "now", {"name": "m"}, {}, {}, {}, [res])

    config = RunConfig(model="m", engines=("onnxruntime",), latency_bound_ms=50.0, duration_s=1.0)
    out = MaxQpsSearch(config, probe=probe, resolution=0.1, confirm=3).run()
    assert out.best is not None and out.best["target_qps"] <= 60.0
    assert out.confirmed == out.confirm_runs == 3
    # at every rate that failed, nothing ran after its first INVALID run (the rate could not stand any more)
    for rate_ in {p["target_qps"] for p in out.probes if not p["valid"]}:
        kinds = [p["valid"] for p in out.probes if p["target_qps"] == rate_]
        assert kinds[-1] is False and kinds.count(False) == 1
    failed = [p["target_qps"] for p in out.probes if p["kind"] == "confirm" and not p["valid"]]
    assert failed and all(60 < r <= 80 for r in failed)


def test_queue_estimate_is_a_rate_the_engine_could_serve():
    one = queue_estimate(0.02, 0.1, 99.0)
    assert 0 < one < 50.0  # below the saturated rate of a 20 ms service
    assert queue_estimate(0.02, 0.25, 99.0) > one > queue_estimate(0.02, 0.1, 99.9)
    assert queue_estimate(0.02, 0.015, 99.0) == 0.0  # a bound shorter than one query: nothing is VALID


def test_early_stopping_allowance_agrees_with_loadgen():
    from workbench.measure.scenario import DEFAULT_MIN_QUERIES, early_stopping_allowance

    # LoadGen 6.0.17 at p99: "Processed 392 queries. Would need to run at least 67 more" (459 pass with none over),
    # and 460 queries with one over "would need to run at least 202 more" (662 pass with one over)
    assert early_stopping_allowance(458, 99.0) == -1
    assert early_stopping_allowance(459, 99.0) == 0 == early_stopping_allowance(DEFAULT_MIN_QUERIES["server"], 99.0)
    assert early_stopping_allowance(661, 99.0) == 0 and early_stopping_allowance(662, 99.0) == 1
    more = [early_stopping_allowance(n, 99.0) for n in (1000, 2000, 5000)]
    assert more == sorted(more) and more[0] >= 1 and more[-1] < 50  # grows with the queries, well under 1 %
    assert early_stopping_allowance(2000, 90.0) > early_stopping_allowance(2000, 99.0)


def test_search_says_how_firm_its_verdicts_are():
    from workbench.report.loadgen import render_search

    config = RunConfig(model="m", engines=("onnxruntime",), latency_bound_ms=50.0, duration_s=1.0)
    out = MaxQpsSearch(config, probe=_fake_probe(80.0, 50.0, []), resolution=0.05, confirm=1).run()
    d = out.to_dict()
    assert d["min_queries"] == 460 and d["allowed_over"] == 0
    assert "lets 0 be over the bound" in render_search([d]) and "--min-queries 2000 lets 9" in render_search([d])
    steady = replace(config, min_queries=2000)
    calls: list[RunConfig] = []
    d2 = MaxQpsSearch(steady, probe=_fake_probe(80.0, 50.0, calls), resolution=0.05, confirm=1).run().to_dict()
    assert d2["min_queries"] == 2000 and d2["allowed_over"] == 9
    # the Server probes run the queries asked for; the Offline run (a rate only) its own default, not 2000 samples
    assert calls[0].scenario == "offline" and calls[0].min_queries is None
    assert all(c.min_queries == 2000 for c in calls[1:])
    assert "--min-queries" not in render_search([d2])


def test_results_pane_says_a_rerun_can_flip():
    from workbench.tui.widgets.results import _value_parts

    config = RunConfig(model="m", engines=("onnxruntime",), latency_bound_ms=50.0, duration_s=1.0)
    out = MaxQpsSearch(config, probe=_fake_probe(80.0, 50.0, []), resolution=0.05, confirm=1).run()

    def text(search):
        parts = _value_parts(replace(out.result, qps_search=search))
        return "".join(p if isinstance(p, str) else str(p[0]) for p in parts)

    assert "0 of 460 queries may miss the bound: a re-run can flip" in text(out.to_dict())
    assert "may miss the bound" not in text({**out.to_dict(), "min_queries": 2000, "allowed_over": 9})


def test_max_qps_search_with_nothing_valid_says_so():
    config = RunConfig(model="m", engines=("onnxruntime",), latency_bound_ms=50.0)
    out = MaxQpsSearch(config, probe=_fake_probe(0.0, 50.0, []), resolution=0.05, confirm=1).run()
    assert out.best is None and "no VALID rate" in (out.note or "")


# ---- like for like -----------------------------------------------------------------------------------------------


def test_compare_refuses_runs_under_different_load():
    res = EngineResult(engine="onnxruntime", model="m", latency_ms={"p50": 1.0})
    a = RunRecord("a", "now", {"name": "m"}, {"scenario": "server", "target_qps": 40}, {}, {}, [res])
    b = replace(a, run_id="b", config={"scenario": "server", "target_qps": 80})
    with pytest.raises(UsageError, match="different load.*target_qps 40 → 80"):
        compare(a, b)
    assert any(w["code"] == "load_differs" for w in compare(a, b, force=True).warnings)
    assert compare(a, replace(a, run_id="c")).pairs  # the same load compares


# ---- errors: one line, exit 2 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--scenario", "server", "--target-qps", "40", "--latency-bound", "0"], "--latency-bound must be > 0"),
        (["--scenario", "server", "--target-qps=0"], "--target-qps must be a number of queries per second > 0"),
        (["--scenario", "server", "--target-qps=-3"], "--target-qps must be"),
        (["--scenario", "server"], "--scenario server needs --target-qps"),
        (["--target-qps", "40"], "--target-qps needs --scenario"),
        (["--mlperf-rules"], "--mlperf-rules needs --scenario"),
        (["--scenario", "offline", "--mode", "throughput"], "use --mode latency"),
        (["--find-max-qps"], "--find-max-qps needs --latency-bound"),
        (["--find-max-qps", "--latency-bound", "0ms"], "--latency-bound must be > 0"),
    ],
)
def test_impossible_settings_are_one_line_exit_2(args, needle):
    out = wb("run", "-m", "tiny_cnn", "-e", "onnxruntime", "--no-save", *args)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and lines[0].startswith("error:")


def test_missing_loadgen_names_what_to_install(tmp_path):
    fake = tmp_path / "fake" / "mlperf_loadgen"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named mlperf_loadgen')\n")
    env = {"PYTHONPATH": f"{fake.parent}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = wb("run", "-m", "tiny_cnn", "-e", "onnxruntime", "--scenario", "offline", "--no-save", env=env)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "pip install mlcommons-loadgen" in out.stderr


def test_search_report_and_html_curve_show_the_answer_and_probes():
    from workbench.report.html import render_html
    from workbench.report.loadgen import render_search

    config = RunConfig(model="m", engines=("onnxruntime",), latency_bound_ms=50.0, duration_s=1.0)
    out = MaxQpsSearch(config, probe=_fake_probe(80.0, 50.0, []), resolution=0.05, confirm=2).run()
    text = render_search([out.to_dict()])
    assert "max QPS under the latency bound" in text and "2/2" in text and "✗" in text and "✓" in text
    res = replace(out.result, qps_search=out.to_dict())
    html = render_html(RunRecord("id", "now", {"name": "m"}, {"mode": "latency"}, {}, {}, [res]))
    assert "Max QPS under the bound" in html and "p99 latency vs offered QPS" in html
    assert "Under load (MLPerf LoadGen)" in html
    # the issue delay is drawn beside the latency, and the scenario table shows it and the sample library's size
    assert "onnxruntime issue delay" in html and "issue p99 ms" in html and "<td>16</td>" in html.replace(" ", "")
    assert "first probe" in text and "resolution 5 % of offline" in text


def test_history_lists_the_load_and_keeps_it_out_of_the_back_to_back_trend(capsys):
    from cli_helpers import run_cli

    from workbench.cli.history import trend_points
    from workbench.store.history import HistoryStore

    plain = EngineResult(engine="onnxruntime", model="m", latency_ms={"p50": 1.0})
    loaded = replace(plain, scenario="server", loadgen={"validity": "VALID"})
    a = RunRecord("aaaaaaaaaaaa", "2026-01-01T00:00:00+00:00", {"name": "m"}, {}, {}, {}, [plain])
    b = RunRecord(
        "bbbbbbbbbbbb", "2026-01-01T00:00:01+00:00", {"name": "m"}, {"scenario": "server", "target_qps": 40}, {}, {},
        [loaded],
    )  # fmt: skip
    store = HistoryStore()
    store.add(a)
    store.add(b)
    assert run_cli(["history", "list"]) == 0
    assert "m [server 40 QPS]" in capsys.readouterr().out
    assert [p["run_id"] for p in trend_points([a, b], "onnxruntime")] == ["aaaaaaaaaaaa"]


@pytest.mark.parametrize("scenario", ["singlestream", "server"])
def test_an_engine_error_inside_loadgen_is_the_engines_one_line_not_a_hang(scenario, test_engines, tmp_path):
    extra = ["--target-qps", "200"] if scenario == "server" else []
    out = wb(
        "run", "-m", "tiny_cnn", "-e", "noop,raise", "--cores", "0", "--no-parity", "--no-save", "--timeout", "60",
        "--scenario", scenario, *extra, "--duration", "0.5", "--warmup", "0", "--json", str(tmp_path / "r.json"),
        env={"WB_RAISE_AFTER": "40"}, timeout=120,
    )  # fmt: skip
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr
    noop, raised = json.loads((tmp_path / "r.json").read_text())["results"]
    assert noop["status"] == "ok" and noop["loadgen"]["validity"] == "VALID"
    assert raised["status"] == "failed" and "engine exploded mid-run" in raised["error"]
