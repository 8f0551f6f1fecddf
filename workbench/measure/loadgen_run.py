"""A LoadGen scenario inside the benchmark process (:mod:`workbench.measure.child`): MLPerf LoadGen drives the
engine the process has already loaded, pinned and bound to the run's inputs.

* The system under test (SUT) calls the loaded model's ``infer`` — one call per LoadGen sample. The query sample
  library (QSL, :class:`SampleLibrary`) holds ``--qsl-samples`` distinct feeds: sample ``i`` is the run's feeds
  drawn with seed ``seed + i`` (sample 0 is the input every other mode of the run times), the ``--input``/``--inputs``
  values replacing the generated ones. LoadGen's load callback builds them all before the test starts (they stay in
  memory until its unload callback); each query binds its sample's feeds (``set_inputs``, only when the index
  changes) right before the engine call, inside the query's latency as in a real server.
* LoadGen calls ``issue_cb`` on the thread that called ``StartTest``. SingleStream and MultiStream run the engine
  right there (one query in flight by definition). Server and Offline only *enqueue* there; one worker thread runs
  the engine and calls ``QuerySamplesComplete`` (which releases the GIL and may be called from any thread), so the
  issuing thread keeps LoadGen's schedule.
* The issue delay: Server and Offline stamp each sample when LoadGen issues it (``issue_cb``) and when the worker
  starts it (queueing behind a busy engine, the issuing thread competing for the cores); Server reports the delay's
  p50/p99/max as ``issue_delay_ms`` beside LoadGen's latency (which includes it).
* LoadGen has no per-query callback for the parent, so the process stamps its own: each completed query's latency
  (``perf_counter_ns`` from the issue callback to completion) goes to the parent in the usual sample frames every
  100 ms — the live histogram of ``workbench watch`` and the UI. The verdict and the percentiles of the result are
  LoadGen's own, parsed from the detail log it writes into a scratch folder (removed afterwards).
* ``--mlperf-rules``: LoadGen loads the official ``mlperf.conf`` only on the first ``FromConfig(..., 1)`` of a
  process, so the rules are read once and re-applied to every round.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import time
from array import array
from typing import Any, Callable

from workbench.measure.scenario import LOADGEN_NAMES, Scenario, loadgen_entry, parse_detail
from workbench.measure.wire import FrameWriter, MeasureCommand

FLUSH_S = 0.1
#: Offline: the expected rate LoadGen sizes its one query by, over the fastest warm-up call's rate
OFFLINE_MARGIN = 1.5
#: warm-up calls timed at least, for the expected latency
MIN_TIMED_CALLS = 5
#: the settings the official rules set, read back after ``FromConfig`` (re-applied to every round)
_RULE_FIELDS = (
    "min_duration_ms",
    "max_duration_ms",
    "min_query_count",
    "max_query_count",
    "server_target_latency_ns",
    "server_target_latency_percentile",
    "single_stream_target_latency_percentile",
    "multi_stream_target_latency_percentile",
    "multi_stream_samples_per_query",
    "qsl_rng_seed",
    "sample_index_rng_seed",
    "schedule_rng_seed",
)
_rules: dict[str, dict[str, Any]] = {}


def _official_rules(lg: Any, scenario: Scenario, scratch: str) -> dict[str, Any]:
    if scenario.name not in _rules:
        user_conf = os.path.join(scratch, "user.conf")
        open(user_conf, "w").close()  # no user overrides: the official mlperf.conf alone
        ts = lg.TestSettings()
        ts.FromConfig(user_conf, scenario.model or "*", LOADGEN_NAMES[scenario.name], 1)
        _rules[scenario.name] = {f: getattr(ts, f) for f in _RULE_FIELDS}
    return _rules[scenario.name]


def _settings(lg: Any, scenario: Scenario, expected_ns: int, scratch: str) -> Any:
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, LOADGEN_NAMES[scenario.name])
    ts.mode = lg.TestMode.PerformanceOnly
    if scenario.mlperf_rules:
        for key, value in _official_rules(lg, scenario, scratch).items():
            setattr(ts, key, value)
    else:
        ts.min_duration_ms = int(round(scenario.duration_s * 1000))
        ts.min_query_count = scenario.effective_min_queries
        ts.qsl_rng_seed = ts.sample_index_rng_seed = ts.schedule_rng_seed = int(scenario.seed)
    expected_ns = max(1000, int(expected_ns))
    ts.single_stream_expected_latency_ns = expected_ns
    p = scenario.percentile / 100.0 if scenario.percentile is not None else None
    if scenario.name == "singlestream" and p is not None:
        ts.single_stream_target_latency_percentile = p
    if scenario.name == "multistream":
        if scenario.samples_per_query or not scenario.mlperf_rules:
            ts.multi_stream_samples_per_query = scenario.effective_samples_per_query
        ts.multi_stream_expected_latency_ns = expected_ns * int(ts.multi_stream_samples_per_query)
        if p is not None:
            ts.multi_stream_target_latency_percentile = p
    if scenario.name == "server":
        ts.server_target_qps = float(scenario.target_qps or 1.0)
        if scenario.latency_bound_ms is not None:
            ts.server_target_latency_ns = int(round(scenario.latency_bound_ms * 1e6))
        if p is not None:
            ts.server_target_latency_percentile = p
    if scenario.name == "offline":
        # LoadGen issues expected_qps x min_duration samples in one query: an estimate that is too low ends the
        # run before its minimum duration (INVALID), one too high only makes it longer
        ts.offline_expected_qps = float(scenario.target_qps or OFFLINE_MARGIN * 1e9 / expected_ns)
    return ts


def _warm_up(model: Any, cmd: MeasureCommand) -> tuple[int, int]:
    """The round's warm-up (excluded, as in every mode); returns ``(iterations, ns of its fastest call)`` — the
    expected latency LoadGen sizes its query schedule with (the first calls of a cold engine are the slow ones).
    At least :data:`MIN_TIMED_CALLS` calls are timed."""
    perf = time.perf_counter_ns
    warm_end = perf() + int(cmd.warmup_s * 1e9)
    times: list[int] = []
    while len(times) < max(MIN_TIMED_CALLS, cmd.warmup_iterations) or perf() < warm_end:
        t0 = perf()
        model.infer()
        times.append(perf() - t0)
    return len(times), min(times)


class _Stream:
    """Per-query latencies to the parent: appended from any thread, flushed every 100 ms by one thread."""

    def __init__(self, chan: FrameWriter) -> None:
        self.chan = chan
        self.lock = threading.Lock()
        self.buf = array("q")
        self.samples = 0  # engine calls completed
        self.start = 0
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def begin(self) -> None:
        self.start = time.perf_counter_ns()
        self._thread.start()

    def add(self, latency_ns: int, samples: int, now: int) -> None:
        with self.lock:
            self.buf.append(latency_ns)
            self.samples += samples
            self.last = now

    def _flush(self) -> None:
        with self.lock:
            buf, self.buf = self.buf, array("q")
            last = self.last
        self.chan.samples(buf.tobytes(), max(0, last - self.start))

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_S):
            self._flush()

    def stop_flushing(self) -> None:
        """No more frames from the flusher (an error message is about to be the last frame)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def end(self) -> None:
        self._stop.set()
        self._thread.join()
        self._flush()


class SampleLibrary:
    """The query sample library: ``count`` distinct feeds, ``make(i)`` building sample ``i``. LoadGen's load
    callback builds the samples it asks for (before the test starts), its unload callback drops them; ``issued``
    counts the queries' samples by index (read after the test: which samples were really used)."""

    def __init__(self, make: Callable[[int], Any], count: int, why: str = "") -> None:
        self.make = make
        self.count = max(1, int(count))
        self.why = why  # how the count was chosen (recorded)
        self.feeds: dict[int, Any] = {}
        self.loaded = 0  # the most samples resident at once
        self.issued: dict[int, int] = {}

    def load(self, indices: list[int]) -> None:
        for i in indices:
            if i not in self.feeds:
                self.feeds[i] = self.make(int(i))
        self.loaded = max(self.loaded, len(self.feeds))

    def unload(self, indices: list[int]) -> None:
        for i in indices:
            self.feeds.pop(i, None)


def _delay_summary(delays: array) -> dict[str, Any] | None:
    """p50/p99/max/mean of the issue delays (ns) in ms; None when there are none."""
    if not delays:
        return None
    import numpy as np

    a = np.frombuffer(delays, dtype=np.int64).astype(np.float64) / 1e6
    p50, p99 = np.percentile(a, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(a.max()), "mean": float(a.mean()), "queries": a.size}


def _log_settings(lg: Any, scratch: str) -> Any:
    """LoadGen's logs into ``scratch`` (the detail log is parsed for the verdict), nothing to stdout, no trace."""
    out = lg.LogOutputSettings()
    out.outdir = scratch
    out.copy_summary_to_stdout = False
    out.copy_detail_to_stdout = False
    logs = lg.LogSettings()
    logs.log_output = out
    logs.enable_trace = False
    return logs


def _qsl_entry(lib: SampleLibrary | None) -> dict[str, Any]:
    """``loadgen.qsl``: the library's size, how many samples were resident, how many distinct ones were issued."""
    if lib is None:
        return {"samples": 1, "resident": 1, "distinct_issued": 1, "why": "one sample, the bound input"}
    return {"samples": lib.count, "resident": lib.loaded, "distinct_issued": len(lib.issued), "why": lib.why}


class _Sut:
    """The system under test LoadGen drives: its issue callbacks and, for Server and Offline, the worker thread
    that runs the engine. ``samples``: the query sample library (None: one sample, the feeds already bound);
    ``fail``: where an engine error goes (it ends the process). ``delays`` (Server, ``keep_delays``): issue to engine
    start per query, ns; ``first_issue``: the first query's issue stamp."""

    def __init__(
        self,
        lg: Any,
        model: Any,
        stream: _Stream,
        samples: SampleLibrary | None,
        fail: Callable[[BaseException], None],
        *,
        keep_delays: bool,
    ) -> None:
        self.complete, self.response = lg.QuerySamplesComplete, lg.QuerySampleResponse
        self.model = model
        self.stream = stream
        self.samples = samples
        self.fail = fail
        self.keep_delays = keep_delays
        self.work: queue.Queue[Any] = queue.Queue()
        self.first_issue = 0
        self.bound = 0  # the sample whose feeds are bound: 0, the run's own input, before the first query
        self.delays = array("q")

    def bind(self, index: int) -> None:
        if self.samples is not None and index != self.bound:
            self.model.set_inputs(self.samples.feeds[index])
            self.bound = index

    def count(self, samples_: list[Any]) -> None:
        if self.samples is not None:
            issued = self.samples.issued
            for s in samples_:
                issued[s.index] = issued.get(s.index, 0) + 1

    def _failed(self, exc: BaseException) -> None:
        self.stream.stop_flushing()
        self.fail(exc)

    def issue_stream(self, samples_: list[Any]) -> None:  # SingleStream / MultiStream: run here, one query at a time
        perf, bind, infer = time.perf_counter_ns, self.bind, self.model.infer
        t0 = perf()
        if not self.first_issue:
            self.first_issue = t0
        try:
            for s in samples_:
                bind(s.index)
                infer()
        except BaseException as exc:
            self._failed(exc)
        t1 = perf()
        self.complete([self.response(s.id, 0, 0) for s in samples_])
        self.stream.add(t1 - t0, len(samples_), t1)
        self.count(samples_)

    def issue_queued(self, samples_: list[Any]) -> None:  # Server / Offline: enqueue only; the worker runs the engine
        t0 = time.perf_counter_ns()
        if not self.first_issue:
            self.first_issue = t0
        self.work.put((t0, samples_))
        self.count(samples_)

    def worker(self) -> None:
        perf, bind, infer = time.perf_counter_ns, self.bind, self.model.infer
        complete, response, add = self.complete, self.response, self.stream.add
        keep_delays, delays, work = self.keep_delays, self.delays, self.work
        while True:
            item = work.get()
            if item is None:
                return
            t0, samples_ = item
            for s in samples_:
                started = perf()
                if keep_delays:
                    delays.append(started - t0)
                try:
                    bind(s.index)
                    infer()
                except BaseException as exc:
                    self._failed(exc)
                t1 = perf()
                complete([response(s.id, 0, 0)])
                add(t1 - t0, 1, t1)


def run_scenario(
    model: Any,
    chan: FrameWriter,
    cmd: MeasureCommand,
    scenario: Scenario,
    *,
    fail: Callable[[BaseException], None],
    samples: SampleLibrary | None = None,
) -> dict[str, Any]:
    """One LoadGen test of ``scenario`` on the loaded ``model`` (one measured round): the ``round_done`` fields —
    ``iterations`` (engine calls), ``elapsed_ns`` (first issue to last completion), CPU time, peak RSS — and
    ``loadgen`` (:func:`workbench.measure.scenario.loadgen_entry`, with ``qsl`` and, for Server, ``issue_delay_ms``).
    ``samples``: the query sample library (None: one sample, the feeds already bound). An engine call that raises
    inside LoadGen's callbacks goes to ``fail`` (which ends the process: LoadGen would wait for its completion
    forever)."""
    import mlperf_loadgen as lg

    from workbench.measure.child import _rusage

    warm_iters, expected_ns = _warm_up(model, cmd)
    scratch = tempfile.mkdtemp(prefix="wb-loadgen-")
    system = _Sut(lg, model, _Stream(chan), samples, fail, keep_delays=scenario.name == "server")
    queued = scenario.name in ("server", "offline")
    sut = lg.ConstructSUT(system.issue_queued if queued else system.issue_stream, lambda: None)
    if samples is not None:
        qsl = lg.ConstructQSL(samples.count, samples.count, samples.load, samples.unload)
    else:
        qsl = lg.ConstructQSL(1, 1, lambda idx: None, lambda idx: None)  # the inputs are bound already
    thread = threading.Thread(target=system.worker, name="wb-loadgen-worker", daemon=True) if queued else None
    stream = system.stream
    try:
        settings = _settings(lg, scenario, expected_ns, scratch)
        logs = _log_settings(lg, scratch)
        if thread is not None:
            thread.start()
        cpu0, _ = _rusage()
        stream.begin()
        # an audit.config in the user's folder would turn this into a compliance test: name one that cannot exist
        lg.StartTestWithLogSettings(sut, qsl, settings, logs, os.path.join(scratch, "no-audit.config"))
        if thread is not None:
            system.work.put(None)
            thread.join()
        stream.end()
        cpu1, rss = _rusage()
        with open(os.path.join(scratch, "mlperf_log_detail.txt"), encoding="utf-8", errors="replace") as fh:
            detail = parse_detail(fh.read())
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(sut)
        shutil.rmtree(scratch, ignore_errors=True)
    if samples is not None and system.bound != 0:  # the next round's warm-up (and any later mode) times sample 0 again
        model.set_inputs(samples.make(0))
    end = stream.last or time.perf_counter_ns()
    entry = loadgen_entry(detail, scenario, issue={"expected_latency_ms": expected_ns / 1e6})
    entry["qsl"] = _qsl_entry(samples)
    entry["issue_delay_ms"] = _delay_summary(system.delays) if system.keep_delays else None
    return {
        "iterations": stream.samples,
        "elapsed_ns": max(1, end - (system.first_issue or stream.start)),
        "warmup_iterations": warm_iters,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": rss,
        "loadgen": entry,
    }


__all__ = ["SampleLibrary", "run_scenario"]
