"""The measurement core: pinned processes, interleaving, crash isolation, parity, speedups, live stream."""

from __future__ import annotations

import os
import threading
import time

import pytest

from workbench.errors import RunFailed, UsageError
from workbench.measure import events as ev
from workbench.measure.runner import RunConfig, Runner, validate
from workbench_engines.base import ModelArtifact, TensorSpec

NOOP_ARTIFACT = ModelArtifact(
    name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1, 4), "float32"),)
)


def _cfg(**kw) -> RunConfig:
    base = dict(
        model="noop",
        engines=("noop",),
        duration_s=0.15,
        warmup_s=0.02,
        min_iterations=10,
        parity=False,
        cores=(0,),
        threads=1,
    )
    base.update(kw)
    return RunConfig(**base)


def _run(config: RunConfig, events: list | None = None, artifact=NOOP_ARTIFACT, live: bool = False):
    return Runner(config, on_event=(events.append if events is not None else None), live=live, artifact=artifact).run()


def test_pinning_is_applied_in_the_child_before_the_engine_runs():
    last = sorted(os.sched_getaffinity(0))[-1]
    events: list = []
    record = _run(_cfg(cores=(last,)), events)
    res = record.results[0]
    assert res.ok and res.cores == [last]
    # the child reports the mask it read from the kernel after pinning itself
    loaded = [e for e in events if isinstance(e, ev.EngineLoaded)]
    assert loaded and loaded[0].effective["threads"] == 1


def test_child_affinity_read_from_proc_while_running():
    """Read the running child's mask from /proc — not what we asked for, what the kernel applied."""
    seen: dict[str, str] = {}
    last = sorted(os.sched_getaffinity(0))[-1]
    runner = Runner(_cfg(cores=(last,), duration_s=0.6), live=False, artifact=NOOP_ARTIFACT)

    def spy() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not seen:
            for st in list(runner._states.values()):
                if st.proc is not None:
                    try:
                        status = open(f"/proc/{st.proc.pid}/status").read()
                    except OSError:
                        continue
                    line = next(l for l in status.splitlines() if l.startswith("Cpus_allowed_list"))
                    if st.loaded:
                        seen["mask"] = line.split(":")[1].strip()
            time.sleep(0.02)

    t = threading.Thread(target=spy)
    t.start()
    runner.run()
    t.join()
    assert seen.get("mask") == str(last)


def test_latency_stats_and_throughput_are_consistent():
    record = _run(_cfg(batch=4))
    r = record.results[0]
    lat = r.latency_ms
    assert r.iterations >= 10
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert r.median_ci_ms[0] <= lat["p50"] <= r.median_ci_ms[1]
    # throughput is items over wall time, not 1/mean latency
    assert r.throughput == pytest.approx(r.iterations * 4 / r.duration_s)
    assert r.histogram and r.histogram  # compact histogram kept for compare


def test_rounds_are_interleaved_in_rotated_order(test_engines):
    events: list = []
    _run(_cfg(engines=("noop", "echo"), repeats=3, duration_s=0.05), events)
    order = []
    for e in events:
        if isinstance(e, ev.Progress) and (not order or order[-1] != (e.round, e.engine)):
            order.append((e.round, e.engine))
    assert order == [(0, "noop"), (0, "echo"), (1, "echo"), (1, "noop"), (2, "noop"), (2, "echo")]


@pytest.mark.parametrize(
    "engine,expected", [("crash", "SIGSEGV"), ("oomkill", "out of memory"), ("brokenload", "native library exploded")]
)
def test_a_crashing_engine_becomes_an_error_row_and_others_still_report(engine, expected, test_engines, monkeypatch):
    monkeypatch.setenv("WB_CRASH_AFTER", "200")
    record = _run(_cfg(engines=("noop", engine), duration_s=0.3))
    ok, bad = record.results
    assert ok.ok and ok.iterations > 0
    assert not bad.ok and expected in bad.error and "\n" not in bad.error


def test_a_hung_engine_is_killed_after_the_timeout(test_engines):
    t0 = time.monotonic()
    record = _run(_cfg(engines=("hang", "noop"), timeout_s=1.0, duration_s=0.1))
    hang, ok = record.results
    assert not hang.ok and "no result" in hang.error
    assert ok.ok
    assert time.monotonic() - t0 < 10


def test_stop_kills_the_run_promptly_and_reports_nothing_as_complete():
    events: list = []
    runner = Runner(_cfg(duration_s=30), on_event=events.append, live=False, artifact=NOOP_ARTIFACT)
    threading.Timer(0.8, runner.stop).start()
    t0 = time.monotonic()
    with pytest.raises(RunFailed, match="stopped"):
        runner.run()
    assert time.monotonic() - t0 < 5
    assert not any(isinstance(e, ev.RunFinished) for e in events)
    assert any(isinstance(e, ev.RunAborted) for e in events)


def test_throughput_mode_keeps_requests_in_flight():
    record = _run(_cfg(mode="throughput", requests=2, cores=None, threads=None))
    r = record.results[0]
    assert r.ok and r.requests == 2 and r.iterations >= 10 and r.throughput > 0


@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(duration_s=-3), "--duration"),
        (dict(batch=0), "--batch"),
        (dict(cores=(99,)), "--cores 99"),
        (dict(repeats=0), "--repeats"),
        (dict(engines=()), "no engines"),
        (dict(baseline="torch"), "--baseline"),
    ],
)
def test_validation_errors_are_one_line(kw, msg):
    with pytest.raises(UsageError) as err:
        validate(_cfg(**kw))
    assert msg in str(err.value) and "\n" not in str(err.value)


def test_defaults_pin_all_but_one_core_and_thread_count_follows():
    cfg = validate(_cfg(cores=None, threads=None))
    allowed = sorted(os.sched_getaffinity(0))
    assert list(cfg.cores) == (allowed[1:] if len(allowed) > 2 else allowed)
    assert cfg.threads == len(cfg.cores)
    assert cfg.baseline == "noop"


def test_live_stream_is_published_and_followable(tmp_path):
    from workbench.measure.live import follow, list_live_runs

    runner = Runner(_cfg(duration_s=1.0), live=True, artifact=NOOP_ARTIFACT)
    seen: list = []
    t = threading.Thread(target=runner.run)
    t.start()
    deadline = time.monotonic() + 5
    runs = []
    while time.monotonic() < deadline and not runs:
        runs = list_live_runs()
        time.sleep(0.05)
    assert runs and runs[0]["run_id"] == runner.run_id
    for event in follow(runner.run_id):
        seen.append(event)
    t.join()
    kinds = [e.kind for e in seen]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and "progress" in kinds
    assert list_live_runs() == []


def test_real_engines_with_parity_and_speedups(shared_cache):
    record = Runner(
        RunConfig(
            model="tiny_cnn",
            engines=("onnxruntime", "openvino"),
            duration_s=0.2,
            warmup_s=0.05,
            cores=(0,),
            min_iterations=5,
        ),
        live=False,
    ).run()
    ort, ov = record.results
    for r in (ort, ov):
        assert r.ok, r.error
        assert r.precision_effective == "fp32"
        assert r.parity["status"] == "pass" and r.parity["reference"] == "torch fp32"
        assert r.load_ms > 0 and r.first_inference_ms > 0 and r.peak_rss_mb > 10
    # each child's own memory, not the parent's high-water mark inherited across fork (which made them all equal)
    assert ort.peak_rss_mb != ov.peak_rss_mb
    assert ort.speedup == 1.0 and ov.speedup == pytest.approx(ort.latency_ms["p50"] / ov.latency_ms["p50"])


def test_parity_failure_hides_the_speedup(shared_cache, tmp_path):
    """A deliberately wrong model (perturbed ONNX weights) fails parity; its speed is not shown as a speedup."""
    import onnx
    from onnx import numpy_helper

    from workbench.models.resolve import resolve

    art = resolve("tiny_cnn", formats={"onnx", "torch-builtin"})
    m = onnx.load(art.files["onnx"])
    init = m.graph.initializer[0]
    arr = numpy_helper.to_array(init).copy()
    arr += 0.5
    init.CopyFrom(numpy_helper.from_array(arr, init.name))
    bad = tmp_path / "bad.onnx"
    onnx.save(m, bad)
    from dataclasses import replace

    wrong = replace(art, files={"torch-builtin": art.files["torch-builtin"], "onnx": str(bad)})
    record = Runner(
        RunConfig(model="tiny_cnn", engines=("torch", "onnxruntime"), duration_s=0.1, warmup_s=0.0, cores=(0,)),
        live=False,
        artifact=wrong,
    ).run()
    torch_r, ort_r = record.results
    assert torch_r.parity["status"] == "reference"  # the reference is not compared with itself
    assert ort_r.parity["status"] == "fail" and ort_r.speedup is None
    assert "not a speedup: parity failed for onnxruntime" in ort_r.speedup_note


def test_any_percentile_on_request():
    record = _run(_cfg(percentiles=(97.5, 99.99)))
    lat = record.results[0].latency_ms
    assert {"p97.5", "p9999"} <= set(lat) and lat["p95"] <= lat["p97.5"] <= lat["p99"] <= lat["p9999"] <= lat["max"]
    with pytest.raises(UsageError, match="--percentile"):
        validate(_cfg(percentiles=(100,)))


def test_model_is_prepared_in_a_child_and_errors_come_back_as_one_line(shared_cache):
    from workbench.errors import ModelError
    from workbench.measure.prepare import prepare

    art = prepare("tiny_cnn", formats={"onnx"})
    assert art.name == "tiny_cnn" and "onnx" in art.files
    with pytest.raises(ModelError, match="did you mean 'resnet50'"):
        prepare("resnet5")


def test_stop_interrupts_model_preparation(tmp_path, monkeypatch):
    """A cold-cache export can take tens of seconds: stop() must end it at once."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cold"))
    runner = Runner(RunConfig(model="resnet50", engines=("openvino",), duration_s=1), live=False)
    threading.Timer(1.0, runner.stop).start()
    t0 = time.monotonic()
    with pytest.raises(RunFailed, match="stopped"):
        runner.run()
    assert time.monotonic() - t0 < 6


def test_parent_threads_leave_the_benchmark_cores_during_a_run_and_come_back():
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two cores to keep the parent away from the benchmark")
    bench = allowed[-1]
    seen: list[set[int]] = []
    events: list = []

    def on_event(e):
        if isinstance(e, ev.Progress):
            seen.append(os.sched_getaffinity(0))
        events.append(e)

    record = Runner(_cfg(cores=(bench,), duration_s=0.3), on_event=on_event, live=False, artifact=NOOP_ARTIFACT).run()
    assert seen and all(bench not in mask for mask in seen)
    # the benchmark cores were available all along: no warning may claim otherwise
    assert "cores-unavailable" not in {w["code"] for w in record.results[0].warnings}
    assert sorted(os.sched_getaffinity(0)) == allowed


def test_stages_tell_what_happens_before_measuring(shared_cache):
    events: list = []
    Runner(
        RunConfig(model="tiny_cnn", engines=("onnxruntime",), duration_s=0.05, warmup_s=0, cores=(0,)),
        on_event=events.append,
        live=False,
    ).run()
    kinds = [e.kind for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    stages = [(e.stage, e.engine) for e in events if e.kind == "stage"]
    assert stages == [("preparing", None), ("reference", "torch"), ("loading", "onnxruntime")]
    assert kinds.index("stage") < kinds.index("engine_loaded") < kinds.index("progress")


def test_advisory_failures_are_recorded_not_hidden(monkeypatch, capsys):
    """A bug in noise sampling or the machine description does not fail the run, but the record names it
    (``diagnostics``) instead of looking like a quiet machine; the CLI prints one line each."""
    from workbench.cli.run import print_diagnostics
    from workbench.machine import noise, sysinfo
    from workbench.result import RunRecord

    def broken_stop(self):
        raise RuntimeError("sampler exploded")

    def broken_collect(*a, **k):
        raise KeyError("cpu")

    monkeypatch.setattr(noise.NoiseSampler, "stop", broken_stop)
    monkeypatch.setattr(sysinfo, "collect", broken_collect)
    artifact = ModelArtifact(name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1,)),))
    config = RunConfig(
        model="noop", engines=("noop",), cores=(0,), threads=1, duration_s=0.05, warmup_s=0.0, parity=False
    )
    record = Runner(config, live=False, artifact=artifact).run()
    assert record.results[0].ok
    where = {d["where"]: d for d in record.diagnostics}
    assert where["noise sampling"]["error"] == "RuntimeError: sampler exploded"
    assert where["noise sampling"]["engine"] == "noop" and "broken_stop" in where["noise sampling"]["detail"]
    assert "KeyError" in where["machine description (sysinfo)"]["error"]
    assert RunRecord.from_dict(record.to_dict()).diagnostics == record.diagnostics
    print_diagnostics(record.diagnostics)
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("warning: noise sampling (noop) failed: RuntimeError: sampler exploded")
    assert len(err) == 2  # one line each without --verbose


def test_a_failed_default_baseline_falls_back_to_the_first_engine_that_ran(test_engines, monkeypatch):
    """Without --baseline, the first engine is the baseline; when it fails, speedups are against the first engine
    that ran (not "baseline failed" for all); a named --baseline that fails stays the baseline."""
    monkeypatch.setenv("WB_CRASH_AFTER", "0")
    record = _run(_cfg(engines=("brokenload", "noop", "echo"), duration_s=0.1, parity=False))
    bad, noop, echo = record.results
    assert not bad.ok and record.baseline == "noop"
    assert noop.speedup_note == "baseline" and echo.speedup_note != "baseline failed"
    named = _run(_cfg(engines=("brokenload", "noop"), duration_s=0.1, parity=False, baseline="brokenload"))
    assert named.baseline == "brokenload" and named.results[1].speedup_note == "baseline failed"
