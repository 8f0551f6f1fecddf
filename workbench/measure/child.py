"""The benchmark process: one per engine run, started by :mod:`workbench.measure.procs`.

Order matters and is the reason this module imports almost nothing at the top:

1. read the job (one JSON line on stdin);
2. pin the process to the requested cores (``os.sched_setaffinity``) — *before* numpy or the engine is imported,
   so every thread pool they create inherits the mask;
3. move the protocol to a private file descriptor and point fd 1 at stderr, so anything an engine prints cannot
   corrupt the stream to the parent;
4. import the engine, load the model, bind seeded inputs, time the first inference, report;
5. obey commands (``measure``/``exit``) from the parent, streaming raw samples in batches; with a LoadGen
   scenario in the job, each ``measure`` is one LoadGen test (:mod:`workbench.measure.loadgen_run`).

In ``train`` mode the adapter's ``infer`` is one full training step (forward, loss, backward, optimizer step;
see the torch adapter), so the same loop times steps: the first one is ``first_inference_ms``, warm-up steps are
excluded like warm-up inferences, and every sample is one step of ``batch`` samples.

The job, the commands and the frames to the parent are defined in :mod:`workbench.measure.wire`, which imports
nothing heavy — that is what lets step 1 happen before step 2.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from workbench.measure.wire import FrameWriter, Job, MeasureCommand, error_message, parse_command

FLUSH_NS = 100_000_000  # send samples to the parent every 100 ms (or after each iteration when slower)


def _pin(cores: tuple[int, ...] | None) -> list[int]:
    if cores:
        os.sched_setaffinity(0, set(cores))
    return sorted(os.sched_getaffinity(0))


def _peak_rss_mb() -> float | None:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries the *parent's* high-water mark into
    it across fork+exec, so every child would report at least the size of the app that started it."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rusage() -> tuple[float, float | None]:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, _peak_rss_mb()  # cpu seconds, peak RSS MiB


def _energy_begin(meter: Any) -> None:
    if meter is not None:
        meter.begin()


def _energy_end(meter: Any, stats: dict[str, Any]) -> dict[str, Any]:
    """The round's joules by domain (``energy_j``) from the counters read around the timed loop; a counter that
    fails mid-run leaves the round without energy and says why (``energy_error``)."""
    if meter is not None:
        try:
            stats["energy_j"] = meter.end()
        except Exception as exc:  # advisory: the timing stands
            stats["energy_error"] = f"{type(exc).__name__}: {exc}"
    return stats


def _measure_latency(model: Any, chan: FrameWriter, cmd: MeasureCommand, meter: Any = None) -> dict[str, Any]:
    from array import array

    perf = time.perf_counter_ns
    infer = model.infer
    warm_iters = cmd.warmup_iterations
    warm_end = perf() + int(cmd.warmup_s * 1e9)
    n = 0
    while n < warm_iters or perf() < warm_end:
        infer()
        n += 1
    min_iter = cmd.min_iterations
    cpu0, _ = _rusage()
    buf = array("q")
    append = buf.append
    _energy_begin(meter)
    start = perf()
    deadline = start + int(cmd.duration_s * 1e9)
    next_flush = start + FLUSH_NS
    n = 0
    while True:
        t0 = perf()
        infer()
        t1 = perf()
        append(t1 - t0)
        n += 1
        if t1 >= next_flush:
            chan.samples(buf.tobytes(), t1 - start)
            buf = array("q")
            append = buf.append
            next_flush = t1 + FLUSH_NS
        if t1 >= deadline and n >= min_iter:
            break
    end = perf()
    stats = _energy_end(meter, {})
    chan.samples(buf.tobytes(), end - start)
    cpu1, rss = _rusage()
    return {
        "iterations": n,
        "elapsed_ns": end - start,
        "warmup_iterations": warm_iters,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": rss,
        **stats,
    }


def _measure_inflight(
    model: Any, chan: FrameWriter, cmd: MeasureCommand, requests: int, meter: Any = None
) -> dict[str, Any]:
    import threading
    from array import array

    perf = time.perf_counter_ns
    # warm-up with the same concurrency
    warm_end = perf() + int(cmd.warmup_s * 1e9)
    warm_target = cmd.warmup_iterations
    warm = [0]

    def warm_done(_ns: int) -> None:
        warm[0] += 1

    if warm_target or cmd.warmup_s:
        model.run_inflight(requests, lambda: warm[0] < warm_target or perf() < warm_end, warm_done)

    min_iter = cmd.min_iterations
    state: dict[str, Any] = {"buf": array("q"), "n": 0, "last": 0}
    lock = threading.Lock()

    def on_done(ns: int) -> None:
        t = perf()
        with lock:
            state["buf"].append(ns)
            state["n"] += 1
            state["last"] = t

    stop = threading.Event()

    def flusher() -> None:
        while not stop.wait(FLUSH_NS / 1e9):
            with lock:
                buf, state["buf"] = state["buf"], array("q")
                last = state["last"]
            chan.samples(buf.tobytes(), max(0, last - start))

    cpu0, _ = _rusage()
    _energy_begin(meter)
    start = perf()
    deadline = start + int(cmd.duration_s * 1e9)
    thread = threading.Thread(target=flusher, daemon=True)
    thread.start()
    model.run_inflight(requests, lambda: not (perf() >= deadline and state["n"] >= min_iter), on_done)
    energy = _energy_end(meter, {})
    stop.set()
    thread.join()
    with lock:
        n, last = state["n"], state["last"] or perf()
        chan.samples(state["buf"].tobytes(), last - start)
    cpu1, rss = _rusage()
    return {
        "iterations": n,
        "elapsed_ns": last - start,
        "warmup_iterations": warm[0],
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": rss,
        **energy,
    }


def main() -> int:
    job = Job.from_json(sys.stdin.readline())
    cores = _pin(job.cores)
    proto = os.dup(1)
    os.dup2(2, 1)  # engine chatter on stdout goes to stderr, never into the protocol
    chan = FrameWriter(proto)
    try:
        return _serve(job, cores, chan)
    except BaseException as exc:  # report, never a traceback to the user; the parent turns it into a row
        return _report(job, chan, exc)


def _report(job: Job, chan: FrameWriter, exc: BaseException) -> int:
    """Send ``exc`` to the parent as one ``error`` message (its line, its full text); the exit status to use."""
    msg = error_message(exc)
    msg["message"] = _explain(job.engine, exc)
    detail = _error_detail(exc, user=msg["kind"] == "user")
    if detail:
        msg["detail"] = detail
    try:
        chan.json(**msg)
    except OSError:
        pass
    if detail:
        print(detail, file=sys.stderr, flush=True)  # the parent keeps the tail for --verbose / logs
    return 3


#: Most characters of an error's full text that travel to the parent (the end is kept: engines put the cause last).
DETAIL_LIMIT = 16_000


def _explain(engine: str, exc: BaseException) -> str:
    """The one line for ``exc``: a workbench error's own line, else what the engine's adapter makes of its
    exception (:meth:`~workbench_engines.base.Engine.explain_error`: the failing ops, the innermost status)."""
    from workbench.errors import WorkbenchError, first_line

    if isinstance(exc, WorkbenchError):
        return first_line(exc)
    try:
        from workbench_engines.registry import get_engine_class

        return get_engine_class(engine).explain_error(exc)
    except Exception as lookup:  # an unknown engine or a failing explainer: the plain first line still informs
        return f"{first_line(exc)} (and explaining it failed: {type(lookup).__name__})"


def _error_detail(exc: BaseException, *, user: bool) -> str:
    """The full text of ``exc`` — its traceback with the engine exception it came from — capped at
    :data:`DETAIL_LIMIT` characters. Empty for a workbench error with nothing behind its one line."""
    import traceback

    if user and exc.__cause__ is None:
        return ""
    text = "".join(traceback.format_exception(exc)).rstrip()
    return text if len(text) <= DETAIL_LIMIT else "… (start cut)\n" + text[-DETAIL_LIMIT:]


def _send_loaded(chan: Any, engine: Any, model: Any, eff: Any, first_ms: float, cores: Any, **extra: Any) -> None:
    """The ``loaded`` frame every benchmark process sends once its engine is ready (``extra``: what its kind of run
    adds — the energy counters it can read, a generation's lengths)."""
    _, rss = _rusage()
    chan.json(
        type="loaded",
        **extra,
        load_ms=model.load_ms,
        first_inference_ms=first_ms,
        effective=eff.to_dict(),
        cores=cores,
        pid=os.getpid(),
        peak_rss_mb=rss,
        engine_version=engine.version(),
    )


def _serve(job: Job, cores: list[int], chan: FrameWriter) -> int:
    from workbench.measure.settings import default_threads
    from workbench.models.inputs import feeds_for_job
    from workbench_engines.base import LoadSettings, ModelArtifact
    from workbench_engines.registry import require

    artifact = ModelArtifact.from_dict(job.artifact)
    engine = require(job.engine, job.device)
    # validated by the parent already; checking again keeps a hand-made job from reaching load() untyped
    options = engine.check_options(job.options, precision=job.precision, mode=job.mode)
    prompts = _generate_prompts(job, artifact) if job.mode == "generate" else None
    settings = LoadSettings(
        device=job.device,
        precision=job.precision,
        threads=default_threads(job.threads or None, cores),
        mode=job.mode,
        requests=job.requests,
        options=engine.options_with_defaults(options),
        seed=job.seed,
        context_tokens=len(prompts[0]) + int(job.generate["new_tokens"]) if prompts else None,
    )
    engine.check_mode(job.mode)  # the parent refused it already; a hand-made job gets the same line
    if prompts is not None:
        return _serve_generate(job, cores, chan, engine, engine.load(artifact, settings), prompts)
    model = engine.load(artifact, settings)
    feeds = feeds_for_job(artifact.inputs, job.inputs, seed=job.seed)  # generated, then the given values
    model.set_inputs(feeds)
    t0 = time.perf_counter_ns()
    model.infer()
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    eff = model.effective()
    if job.mode == "throughput":  # asked for, else the engine's optimum, else one per core
        requests = job.requests or eff.requests or max(1, len(cores))
    else:
        requests = 1
    eff.requests = requests
    from workbench.machine.energy import open_meter

    meter, energy_why = open_meter(job.device)
    _send_loaded(
        chan,
        engine,
        model,
        eff,
        first_ms,
        cores,
        energy={"domains": meter.domains, "not_measured": meter.not_measured}
        if meter is not None
        else {"unavailable": energy_why},
    )
    if job.outputs:
        chan.outputs(model.outputs())
    if job.drift_seeds:  # the inputs the drift of a lower precision is measured on, then back to the timed input
        for seed in job.drift_seeds:
            model.set_inputs(feeds_for_job(artifact.inputs, job.inputs, seed=seed))
            model.infer()
            chan.outputs(model.outputs())
        model.set_inputs(feeds)
    _serve_rounds(job, chan, model, artifact, feeds, requests, meter)
    model.close()
    return 0


def _serve_rounds(
    job: Job, chan: FrameWriter, model: Any, artifact: Any, feeds: dict[str, Any], requests: int, meter: Any
) -> None:
    """Obey the parent's measure commands until it says exit: each one round of the job's LoadGen scenario, of
    requests in flight (throughput) or of the timed loop (latency), answered with ``round_done``."""
    library: Any = None  # a scenario's query sample library: built at its first round, kept for the others
    for line in sys.stdin:
        cmd = parse_command(line)
        if cmd is None:  # exit
            break
        if job.scenario:
            from workbench.measure.loadgen_run import run_scenario
            from workbench.measure.scenario import Scenario

            def fail(exc: BaseException) -> None:  # an engine error inside LoadGen's callbacks: LoadGen cannot be
                os._exit(_report(job, chan, exc))  # aborted, and would wait for the completion forever

            scenario = Scenario.from_dict(job.scenario)
            if library is None:
                library = _sample_library(job, artifact, feeds, scenario)
            stats = run_scenario(model, chan, cmd, scenario, fail=fail, samples=library)
        elif job.mode == "throughput":
            stats = _measure_inflight(model, chan, cmd, requests, meter)
        else:
            stats = _measure_latency(model, chan, cmd, meter)
        chan.json(type="round_done", round=cmd.round, **stats)


def _sample_library(job: Job, artifact: Any, feeds: dict[str, Any], scenario: Any) -> Any:
    """A LoadGen scenario's query sample library: sample ``i`` is the run's feeds drawn with seed ``seed + i``
    (sample 0 is ``feeds``, the input every other mode times), the given values in every sample
    (:func:`workbench.measure.scenario.qsl_size` says how many)."""
    from workbench.measure.loadgen_run import SampleLibrary
    from workbench.measure.scenario import qsl_size
    from workbench.models.inputs import feeds_for_job, given_input_names

    all_given = {s.name for s in artifact.inputs} <= given_input_names(job.inputs)
    size = sum(int(getattr(a, "nbytes", 0)) for a in feeds.values())
    count, why = qsl_size(scenario.qsl_samples, size, all_given=all_given)

    def make(i: int) -> Any:
        return feeds if i == 0 else feeds_for_job(artifact.inputs, job.inputs, seed=job.seed + i)

    return SampleLibrary(make, count, why)


def _generate_prompts(job: Job, artifact: Any) -> list[list[int]]:
    """``--mode generate``: the batch's prompt token ids (the same on every engine), known before the load so an
    engine can size its KV cache for them."""
    from workbench.models.generative import batch_prompts

    g = job.generate
    return batch_prompts(
        artifact, g.get("prompt"), int(g.get("prompt_tokens") or 128), int(g.get("batch", 1)), seed=job.seed
    )


def _serve_generate(
    job: Job, cores: list[int], chan: FrameWriter, engine: Any, model: Any, prompts: list[list[int]]
) -> int:
    """``--mode generate``: one untimed-for-stats first generation (its tokens and the prompt's logits are the
    parity data), then rounds of whole generations (:func:`_measure_generate`)."""
    import numpy as np

    from workbench_engines.base import Sampling

    g = job.generate
    new_tokens, batch = int(g["new_tokens"]), int(g.get("batch", 1))
    sampling = Sampling.from_dict(g.get("sampling"))
    t0 = time.perf_counter_ns()
    first = model.generate(prompts, new_tokens, sampling)
    first_ms = (time.perf_counter_ns() - t0) / 1e6
    eff = model.effective()
    eff.requests = 1
    _send_loaded(chan, engine, model, eff, first_ms, cores, generated=len(first.tokens), prompt_tokens=len(prompts[0]))
    if job.outputs:
        logits = model.prefill_logits(prompts[0])
        if logits is None:
            logits = first.prefill_logits
        rows = first.sequences or [first.tokens]
        out: dict[str, Any] = {"tokens": np.asarray(rows, dtype=np.int64)}  # [batch, new tokens]
        if logits is not None:
            out["prefill_logits"] = np.asarray(logits, dtype=np.float32)
        chan.outputs(out)
    for line in sys.stdin:
        cmd = parse_command(line)
        if cmd is None:
            break
        stats = _measure_generate(model, chan, cmd, prompts, new_tokens, sampling)
        stats["kv_cache"] = model.kv_cache(len(prompts[0]), new_tokens, batch)
        chan.json(type="round_done", round=cmd.round, **stats)
    model.close()
    return 0


def _measure_generate(
    model: Any, chan: FrameWriter, cmd: MeasureCommand, prompts: list[list[int]], new_tokens: int, sampling: Any
) -> dict[str, Any]:
    """Whole generations until ``duration_s`` has passed and ``min_iterations`` generations are done. The decode
    steps (every output step after the first) stream as samples, so the run's histogram is the per-output-token
    latency; each generation's time to first token streams beside them in a ``ttft`` frame (sent just before the
    samples frame, both at most every :data:`FLUSH_NS`: the live TTFT histogram), and travels again, with each
    generation's wall time and token count, in ``round_done`` (what the result is made of)."""
    from array import array

    perf = time.perf_counter_ns
    warm_end = perf() + int(cmd.warmup_s * 1e9)
    n = 0
    while n < max(1, cmd.warmup_iterations) or perf() < warm_end:
        model.generate(prompts, new_tokens, sampling)
        n += 1
    warm = n
    cpu0, _ = _rusage()
    ttft: list[int] = []
    e2e: list[int] = []
    generated: list[int] = []
    engine_metrics: list[dict[str, Any]] = []
    decode_steps = 0
    buf = array("q")
    sent_ttft = 0  # TTFTs already streamed

    def flush(elapsed_ns: int) -> None:
        nonlocal buf, sent_ttft
        if len(ttft) > sent_ttft:
            chan.json(type="ttft", ns=ttft[sent_ttft:])
            sent_ttft = len(ttft)
        chan.samples(buf.tobytes(), elapsed_ns)
        buf = array("q")

    start = perf()
    deadline = start + int(cmd.duration_s * 1e9)
    next_flush = start + FLUSH_NS
    n = 0
    while True:
        t0 = perf()
        trace = model.generate(prompts, new_tokens, sampling)
        t1 = perf()
        steps = trace.step_ns
        ttft.append(int(steps[0]) if steps else t1 - t0)
        e2e.append(t1 - t0)
        generated.append(len(trace.tokens))
        if trace.engine_metrics:
            engine_metrics.append(trace.engine_metrics)
        if len(steps) > 1:
            buf.extend(steps[1:])
            decode_steps += len(steps) - 1
        n += 1
        if t1 >= next_flush:
            flush(t1 - start)
            next_flush = t1 + FLUSH_NS
        if t1 >= deadline and n >= cmd.min_iterations:
            break
    end = perf()
    flush(end - start)
    cpu1, rss = _rusage()
    return {
        "iterations": decode_steps,
        "elapsed_ns": end - start,
        "warmup_iterations": warm,
        "cpu_s": cpu1 - cpu0,
        "peak_rss_mb": rss,
        "generations": n,
        "ttft_ns": ttft,
        "e2e_ns": e2e,
        "generated": generated,
        "engine_metrics": engine_metrics,
    }


if __name__ == "__main__":
    sys.exit(main())
