"""Run a benchmark: resolve the model, start one pinned process per engine, interleave measured rounds, and turn
the streamed samples into a :class:`~workbench.result.RunRecord`.

Data flows one way (docs/architecture.md)::

    model source ──► engine adapter ──► benchmark process (pinned) ──► sample stream ──► stats ──► result

The runner never touches a UI or the history: it reports through ``on_event`` (and the live event stream) and
returns the record; the CLI or the app saves it. :meth:`Runner.run` blocks — call it from a thread worker in a
UI — and :meth:`Runner.stop` may be called from any thread.

Interleaving: every engine is loaded once (sequentially, so load times do not disturb each other), then each of
the ``repeats`` rounds measures every engine for ``duration_s`` in a rotated order — A B C, B C A, C A B — so a
slow drift of the machine (thermal, background jobs) does not systematically favour one engine.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from workbench.errors import RunFailed, UsageError, first_line
from workbench.machine.cpus import allowed_cores
from workbench.measure import events as ev
from workbench.measure import wire
from workbench.measure.assemble import (
    EngineState,
    apply_speedups,
    engine_result,
    model_entry,
)
from workbench.measure.config import (
    DEFAULT_ENGINES,
    RunConfig,
    check_tolerances,
    formats_for,
    installed_engines,
    preparation,
    readable_engines,
    validate,
)
from workbench.measure.precision import (
    attach_baseline,
    baseline_name,
    drift_seeds,
    fp32_options,
    promote_quantization,
    runs_baseline,
)
from workbench.measure.procs import ChildFailed, EngineProcess
from workbench.models.inputs import (
    ResolvedInputs,
    record_inputs,
    resolve_inputs,
    with_input_hint,
    write_job_inputs,
)
from workbench.result import EngineResult, RunRecord, new_run_id, now_iso
from workbench_engines.base import ModelArtifact

if TYPE_CHECKING:  # pragma: no cover
    from workbench.measure.live import LivePublisher

PROGRESS_HZ = 4.0
#: The live histogram sent with each progress event: log-spaced bins from p0.1 to p99 (a slow outlier, or a tail an
#: order of magnitude out, cannot squeeze the body into one column; what lies beyond is counted as "overflow").
LIVE_BINS = 40
LIVE_TOP_Q = 0.99


class _ParentAway:
    """Keep this process (every thread: the UI, the runner, the noise sampler) off the benchmark's cores while a
    run is in flight, and restore each thread's mask afterwards. Only when some allowed core is left over —
    with no spare core the parent stays where it was (and its load shows up in the noise warnings)."""

    def __init__(self, bench_cores: tuple[int, ...]) -> None:
        self.bench = set(bench_cores)
        self.saved: dict[int, set[int]] = {}

    @staticmethod
    def _threads() -> list[int]:
        try:
            return [int(t) for t in os.listdir("/proc/self/task")]
        except OSError:
            return [0]

    def __enter__(self) -> "_ParentAway":
        spare = set(allowed_cores()) - self.bench
        if not spare or not self.bench:
            return self
        for tid in self._threads():
            try:
                self.saved[tid] = os.sched_getaffinity(tid)
                os.sched_setaffinity(tid, spare)
            except OSError:  # thread ended meanwhile, or not permitted: leave it
                continue
        return self

    def __exit__(self, *exc: object) -> None:
        for tid, mask in self.saved.items():
            try:
                os.sched_setaffinity(tid, mask)
            except OSError:
                continue
        # threads started during the run inherited the spare mask: give them the original one back too
        if self.saved:
            original = next(iter(self.saved.values()))
            for tid in self._threads():
                if tid not in self.saved:
                    try:
                        os.sched_setaffinity(tid, original)
                    except OSError:
                        continue


class Runner:
    """One benchmark run. ``on_event`` receives :mod:`workbench.measure.events` objects from the calling thread."""

    def __init__(
        self,
        config: RunConfig,
        on_event: Callable[[ev.Event], None] | None = None,
        live: bool = True,
        artifact: ModelArtifact | None = None,
        reference_cache: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self._artifact = artifact  # a pre-resolved ModelArtifact (doctor, tests, sweeps); None: resolve config.model
        #: the parity reference's outputs by what they depend on, shared by the runs of one sweep so the reference
        #: process runs once per (batch, shapes, inputs, seed, sparsity) rather than once per cell
        self._reference_cache = reference_cache
        self.run_id = new_run_id()
        self._on_event = on_event
        self._live_enabled = live
        self._live: LivePublisher | None = None
        self._stop = threading.Event()
        self._states: dict[str, EngineState] = {}
        self._lock = threading.Lock()
        self._baseline_given = config.baseline is not None
        self._skipped: list[dict[str, str]] = []  # default engines left out (not installed, cannot read the model)
        self._diagnostics: list[dict[str, str]] = []  # advisory parts that failed (see _diagnose)
        self._inputs: ResolvedInputs | None = None  # the given input values, checked against the model
        self._job_inputs: dict[str, Any] = {}  # what each job carries of them (wire.Job.inputs)
        self._inputs_dir: Path | None = None  # temporary folder of their .npz, removed after the run

    # ---- control ---------------------------------------------------------------------------------------------
    def _set_prepare_proc(self, proc) -> None:
        self._prepare_proc = proc
        if self._stop.is_set():
            wire.kill_process_group(proc, wait_s=0)

    def stop(self) -> None:
        """Stop promptly: kill every benchmark process. ``run`` then raises RunFailed("stopped by user")."""
        self._stop.set()
        proc = getattr(self, "_prepare_proc", None)
        if proc is not None:
            wire.kill_process_group(proc, wait_s=0)  # the preparing thread reaps it
        with self._lock:
            states = list(self._states.values())
        for st in states:
            if st.proc is not None:
                st.proc.kill()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _emit(self, event: ev.Event) -> None:
        if self._live is not None:
            self._live.publish(event)
        if self._on_event is not None:
            self._on_event(event)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise RunFailed("stopped by user")

    # ---- the run ---------------------------------------------------------------------------------------------
    def run(self) -> RunRecord:
        if not self.config.engines_explicit:
            engines, self._skipped = installed_engines(self.config.engines, self.config.device)
            if not engines:
                raise UsageError("none of the default engines is installed: pip install torch onnxruntime openvino")
            self.config = replace(self.config, engines=engines)
        self._baseline_given = self.config.baseline is not None
        config = validate(self.config)
        self.config = config
        self._allowed = allowed_cores()
        if self._live_enabled:
            from workbench.measure.live import LivePublisher

            self._live = LivePublisher(self.run_id)
        try:
            self._emit(
                ev.RunStarted(
                    run_id=self.run_id,
                    model=config.model,
                    engines=config.engines,
                    config=config.to_dict(),
                    pid=os.getpid(),
                )
            )
            artifact = self._artifact or self._prepare(config)
            self.artifact = artifact
            if not config.engines_explicit:
                config = self._keep_readable(config, artifact)
            self._check_formats(artifact)
            self._resolve_inputs(config, artifact)
            with _ParentAway(tuple(config.cores or ())):
                record = self._run(config, artifact)
        except RunFailed as exc:
            self._emit(ev.RunAborted(run_id=self.run_id, reason=str(exc)))
            raise
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                self._stop.set()  # children run in their own session: kill them now, do not wait for a round
            self._emit(ev.RunAborted(run_id=self.run_id, reason=str(exc) or type(exc).__name__))
            raise
        finally:
            self._shutdown()
            if self._inputs_dir is not None:
                shutil.rmtree(self._inputs_dir, ignore_errors=True)
            if self._live is not None:
                self._live.close()
        return record

    def _resolve_inputs(self, config: RunConfig, artifact) -> None:
        """Check the given input values against the model once and put them where every job (and the parity
        reference) takes them from: values inline, arrays in an ``.npz`` under the cache's ``tmp`` folder."""
        if config.inputs.empty or config.mode == "generate":  # generate: the prompt travels in the job
            return
        self._inputs = resolve_inputs(config.inputs, artifact.inputs)
        if self._inputs.arrays:
            from workbench.paths import cache_dir

            self._inputs_dir = cache_dir() / "tmp" / f"inputs-{self.run_id}"
        self._job_inputs = write_job_inputs(self._inputs, self._inputs_dir or Path())

    def _hint(self, message: str) -> str:
        """An engine's error line, with a ready-to-paste ``--input`` when inputs that may need real values were
        generated (:func:`workbench.models.inputs.with_input_hint`)."""
        artifact = getattr(self, "artifact", None)
        if artifact is None:
            return message
        return with_input_hint(message, artifact.inputs, self._inputs.names if self._inputs else ())

    def _prepare(self, config: RunConfig) -> ModelArtifact:
        from workbench.measure.prepare import prepare

        self._emit(
            ev.Stage(run_id=self.run_id, stage="preparing", message=f"preparing {os.path.basename(config.model)}")
        )
        if config.precision == "int8":
            self._emit(
                ev.Stage(run_id=self.run_id, stage="preparing", message="quantizing to int8 (cached after once)")
            )
        return prepare(
            config.model, should_stop=self._stop.is_set, on_start=self._set_prepare_proc, **preparation(config)
        )

    def _keep_readable(self, config: RunConfig, artifact: ModelArtifact) -> RunConfig:
        engines, skipped = readable_engines(config.engines, artifact)
        if not engines:
            raise UsageError(
                f"no default engine can read {artifact.name!r}: " + "; ".join(s["message"] for s in skipped)
            )
        self._skipped += skipped
        for s in skipped:
            self._emit(ev.Stage(run_id=self.run_id, stage="preparing", message=s["message"]))
        baseline = config.baseline if config.baseline in engines else engines[0]
        self.config = replace(config, engines=engines, baseline=baseline)
        return self.config

    def _check_formats(self, artifact: ModelArtifact) -> None:
        from workbench_engines.registry import get_engine_class

        for name in self.config.engines:
            get_engine_class(name).pick_format(artifact)  # raises UnsupportedError with one line

    def _shutdown(self) -> None:
        with self._lock:
            states = list(self._states.values())
        for st in states:
            if st.proc is not None:
                if self._stop.is_set():
                    st.proc.kill()
                st.proc.close()
                st.proc = None

    def _job(
        self,
        engine: str,
        artifact,
        *,
        precision: str,
        device: str,
        outputs: bool,
        reference: bool = False,
        drift_seeds: tuple[int, ...] = (),
    ) -> wire.Job:
        """The job of one benchmark process; a separate ``reference`` process runs with its engine's defaults, a
        baseline at another precision than the run's without the options that apply only there."""
        c = self.config
        options = {} if reference else c.options_for(engine)
        if precision != c.precision and options:
            from workbench_engines.registry import get_engine_class

            options = fp32_options(get_engine_class(engine), options)
        return wire.Job(
            engine=engine,
            artifact=artifact.to_dict(),
            device=device,
            precision=precision,
            threads=c.threads,
            cores=tuple(c.cores or ()),
            mode=c.mode,
            requests=c.requests,
            seed=c.seed,
            outputs=outputs,
            options=options,
            inputs=self._job_inputs,
            drift_seeds=drift_seeds,
            scenario={} if reference else c.scenario_job(artifact.name),
            generate=(
                {
                    "prompt_tokens": c.prompt_tokens,
                    "prompt": c.prompt,
                    "new_tokens": c.new_tokens,
                    "batch": c.batch,
                    "sampling": c.sampling(),
                }
                if c.mode == "generate"
                else {}
            ),
        )

    def _needs_separate_reference(self, artifact: ModelArtifact) -> bool:
        c = self.config
        ref = artifact.reference_engine
        at_fp32 = c.precision == "fp32" or runs_baseline(c.precision, c.fp32_baseline)  # ref runs fp32 in the run
        if c.mode == "generate" and c.sample:  # sampled tokens are not compared across engines: no reference
            return False
        return c.parity and not (ref in c.engines and at_fp32 and c.device == "cpu")

    def _reference_state(self, artifact) -> str:
        """The state whose outputs are the parity reference when no separate reference runs: the reference
        engine itself, or below fp32 its fp32 baseline variant."""
        ref = artifact.reference_engine
        return baseline_name(ref) if runs_baseline(self.config.precision, self.config.fp32_baseline) else ref

    def _measured(self, config: RunConfig) -> list[str]:
        """The states measured in the rounds: each engine, and below fp32 its baseline right after it (unless the
        engine itself failed to load)."""
        names: list[str] = []
        for name in config.engines:
            names.append(name)
            if baseline_name(name) in self._states and self._states[name].error is None:
                names.append(baseline_name(name))
        return names

    def _attach_baselines(self, results: list[EngineResult], artifact) -> None:
        """Below fp32: each result gets its fp32 baseline's summary, its drift against it, and the speedup."""
        c = self.config
        for res in results:
            st, base_st = self._states[res.engine], self._states.get(baseline_name(res.engine))
            if base_st is None or not res.ok:
                continue
            base = self._result(base_st, artifact, None, "the fp32 baseline is not checked for parity")
            error = None
            if len(st.drift_outputs) != c.drift_samples or len(base_st.drift_outputs) != c.drift_samples:
                error = f"drift outputs missing ({len(st.drift_outputs)} and {len(base_st.drift_outputs)} of {c.drift_samples})"
            attach_baseline(
                res,
                base,
                baseline_outputs=base_st.drift_outputs,
                outputs=st.drift_outputs,
                mode=c.mode,
                task=artifact.task,
                drift_error=error,
            )

    def _run(self, config: RunConfig, artifact: ModelArtifact) -> RunRecord:
        started = time.time()
        reference_outputs, reference_note = None, None
        separate_reference = self._needs_separate_reference(artifact)
        if separate_reference:
            reference_outputs, reference_note = self._cached_reference(artifact)
        lower = runs_baseline(config.precision, config.fp32_baseline)
        for name in config.engines:
            self._check_stop()
            self._load(name, artifact)
            if lower and (self._states[name].error is None or name == artifact.reference_engine):
                self._check_stop()
                self._load(baseline_name(name), artifact, engine=name, precision="fp32")
        if config.parity and not separate_reference:
            ref_state = self._states.get(self._reference_state(artifact))
            if ref_state is not None and ref_state.outputs is not None:
                reference_outputs = ref_state.outputs
            elif ref_state is not None:
                reference_note = f"reference {artifact.reference_engine} failed: {ref_state.error}"
        live = [n for n in self._measured(config) if self._states[n].error is None]
        self._measure_idle([self._states[n] for n in live])
        total_units = max(1, len(live) * config.repeats)
        done_units = 0
        for r in range(config.repeats):
            order = live[r % len(live) :] + live[: r % len(live)] if live else []
            for name in order:
                self._check_stop()
                st = self._states[name]
                if st.error is not None:
                    continue
                self._measure(st, r, done_units, total_units)
                done_units += 1
        for st in self._states.values():
            if st.proc is not None and st.error is None:
                st.proc.exit()
        results = [self._result(self._states[n], artifact, reference_outputs, reference_note) for n in config.engines]
        self._speedups(results)
        if lower:
            self._attach_baselines(results, artifact)
        for res in results:
            promote_quantization(res)
        record = self._record(artifact, results, started)
        self._intervals(record)
        for res in results:
            if res.ok:
                self._emit(ev.EngineFinished(run_id=self.run_id, engine=res.engine, result=res.to_dict()))
        exit_code = (
            0
            if all(r.ok for r in results) and not any((r.parity or {}).get("status") == "fail" for r in results)
            else 1
        )
        self._emit(ev.RunFinished(run_id=self.run_id, record=record.to_dict(), exit_code=exit_code))
        return record

    def _cached_reference(self, artifact: ModelArtifact) -> tuple[dict[str, np.ndarray] | None, str | None]:
        """:meth:`_reference`, through the shared cache when one was given (only successful outputs are kept)."""
        if self._reference_cache is None:
            return self._reference(artifact)
        import json

        c = self.config
        key = json.dumps(
            [artifact.name, artifact.source, c.batch, c.seed, c.sparsity, list(c.shapes), c.inputs.to_dict()]
            + ([c.prompt_tokens, c.new_tokens, c.prompt] if c.mode == "generate" else []),
            sort_keys=True,
            default=str,
        )
        if key in self._reference_cache:
            return self._reference_cache[key], None
        outputs, note = self._reference(artifact)
        if outputs is not None:
            self._reference_cache[key] = outputs
        return outputs, note

    def _reference(self, artifact: ModelArtifact) -> tuple[dict[str, np.ndarray] | None, str | None]:
        """fp32 CPU outputs of the reference engine, from its own short-lived process."""
        from workbench_engines.registry import get_engine_class

        ref = artifact.reference_engine
        if not get_engine_class(ref).is_installed():
            return None, f"reference engine {ref} is not installed"
        self._emit(
            ev.Stage(run_id=self.run_id, stage="reference", engine=ref, message=f"reference outputs ({ref} fp32)")
        )
        proc = EngineProcess(self._job(ref, artifact, precision="fp32", device="cpu", outputs=True, reference=True))
        st = EngineState(name=f"{ref} (reference)", proc=proc)
        with self._lock:
            self._states[st.name] = st
        try:
            self._await_loaded(st, want_outputs=True)
            return st.outputs, None
        except ChildFailed as exc:
            self._check_stop()
            return None, self._hint(f"reference {ref} fp32 failed: {exc}")
        finally:
            proc.close()
            st.proc = None
            with self._lock:
                self._states.pop(st.name, None)

    def _await_loaded(self, st: EngineState, want_outputs: bool) -> None:
        assert st.proc is not None
        st.loaded, st.outputs = st.proc.wait_loaded(
            self.config.timeout_s, want_outputs=want_outputs, label=st.name, on_idle=self._check_stop
        )

    def _await_drift_outputs(self, st: EngineState, count: int) -> None:
        """Read the ``count`` output frames the child sends for the drift inputs (after ``loaded``)."""
        assert st.proc is not None
        deadline = time.monotonic() + self.config.timeout_s
        while len(st.drift_outputs) < count:
            frame = st.proc.read(timeout=0.2)
            if frame is None:
                self._check_stop()
                if time.monotonic() >= deadline:
                    st.proc.kill()
                    raise ChildFailed(
                        f"{st.name} sent no outputs for the drift inputs within {self.config.timeout_s:g} s"
                    )
                continue
            kind, payload = frame
            if kind == wire.OUTPUTS:
                st.drift_outputs.append(wire.decode_outputs(payload))

    def _load(
        self, name: str, artifact: ModelArtifact, *, engine: str | None = None, precision: str | None = None
    ) -> None:
        """Load ``engine`` (default ``name``) at ``precision`` (default the run's) as the state ``name``: below fp32
        the baseline variant is ``_load(baseline_name(e), artifact, engine=e, precision="fp32")``. Both then also
        send their outputs on the drift inputs."""
        c = self.config
        engine = engine or name
        precision = precision or c.precision
        st = EngineState(name=name, engine=engine, precision=precision)
        with self._lock:
            self._states[name] = st
        self._emit(ev.Stage(run_id=self.run_id, stage="loading", engine=name, message=f"loading {name}"))
        seeds = drift_seeds(c.seed, c.drift_samples) if runs_baseline(c.precision, c.fp32_baseline) else ()
        # the baseline's outputs are wanted when it stands in for the parity reference (see _reference_state)
        outputs = c.parity and (precision == c.precision or engine == artifact.reference_engine)
        try:
            job = self._job(engine, artifact, precision=precision, device=c.device, outputs=outputs, drift_seeds=seeds)
            st.proc = EngineProcess(job)
            self._await_loaded(st, want_outputs=outputs)
            self._await_drift_outputs(st, len(seeds))
        except ChildFailed as exc:
            self._check_stop()
            st.error_detail = exc.detail
            self._fail(st, self._hint(str(exc)))
            return
        self._emit(
            ev.EngineLoaded(
                run_id=self.run_id,
                engine=name,
                load_ms=st.loaded["load_ms"],
                first_inference_ms=st.loaded.get("first_inference_ms"),
                effective=st.loaded.get("effective", {}),
            )
        )

    def _fail(self, st: EngineState, message: str) -> None:
        st.error = message
        if st.proc is not None:
            st.proc.kill()
        self._emit(ev.EngineFailed(run_id=self.run_id, engine=st.name, error=message))

    def _measure(self, st: EngineState, round_index: int, done_units: int, total_units: int) -> None:
        c = self.config
        assert st.proc is not None  # measured engines are loaded
        proc = st.proc
        warm_iters = c.warmup_iterations if c.warmup_iterations is not None else (0 if c.warmup_s else 1)
        proc.measure(
            wire.MeasureCommand(
                round=round_index,
                warmup_s=c.warmup_s,
                warmup_iterations=warm_iters,
                duration_s=c.duration_s,
                min_iterations=c.min_iterations,
            )
        )
        sampler = self._noise_sampler(st)
        round_started = time.monotonic()
        last_emit = 0.0
        silence = 0.0
        try:
            while True:
                try:
                    frame = proc.read(timeout=0.1)
                except ChildFailed as exc:
                    self._check_stop()
                    st.error_detail = exc.detail
                    self._fail(st, self._hint(str(exc)))
                    return
                if frame is None:
                    self._check_stop()
                    silence += 0.1
                    if silence > c.timeout_s:
                        self._fail(
                            st,
                            f"{st.name} produced no result for {c.timeout_s:g} s (hung?); "
                            f"raise --timeout if one inference really takes this long",
                        )
                        return
                    continue
                silence = 0.0
                kind, payload = frame
                if kind == wire.SAMPLES:
                    st.add_samples(*wire.decode_samples(payload), duration_s=c.duration_s, keep=c.save_samples)
                elif kind == wire.JSON and payload.get("type") == "ttft":  # generate: TTFTs of the generations
                    st.ttft_hist.add(np.asarray(payload.get("ns") or [], dtype=np.int64))
                    continue  # their decode steps follow in the next frame: show both together
                elif kind == wire.JSON and payload.get("type") == "round_done":
                    st.finish_round(payload)
                    self._progress(st, round_index, round_started, done_units + 1, total_units, force=True)
                    return
                now = time.monotonic()
                if now - last_emit >= 1.0 / PROGRESS_HZ:
                    last_emit = now
                    self._progress(st, round_index, round_started, done_units, total_units)
        finally:
            if sampler is not None:
                try:
                    report = sampler.stop()
                    st.noise.append(report)
                    from workbench.machine.noise import warnings_from_noise

                    for w in warnings_from_noise(report):
                        self._emit(
                            ev.NoiseWarning(run_id=self.run_id, engine=st.name, code=w["code"], message=w["message"])
                        )
                except Exception as exc:  # advisory: the run stands, the record says what is missing
                    self._diagnose("noise sampling", exc, engine=st.name)

    def _measure_idle(self, states: list[EngineState]) -> None:
        """Idle power before the rounds, with every engine loaded and waiting, when a benchmark process can read
        energy counters: each result's share above idle is measured against it (docs/methodology.md)."""
        if not any(((st.loaded or {}).get("energy") or {}).get("domains") for st in states):
            return
        from workbench.machine.energy import measure_idle, open_meter

        try:
            meter, _ = open_meter(self.config.device)
            if meter is None:
                return
            self._emit(ev.Stage(run_id=self.run_id, stage="loading", message="measuring idle power"))
            idle = measure_idle(meter)
        except Exception as exc:  # advisory: energy stands without the idle share, and the record says so
            self._diagnose("idle power", exc)
            return
        for st in states:
            st.idle = idle

    def _noise_sampler(self, st: EngineState):
        from workbench.machine.noise import NoiseSampler

        try:
            sampler = NoiseSampler(list(self.config.cores or ()))
            if st.proc is not None:
                sampler.set_child(st.proc.pid)
            sampler.start()
            return sampler
        except Exception as exc:  # advisory: measure without it, and say so
            self._diagnose("noise sampler start", exc, engine=st.name)
            return None

    def _diagnose(self, where: str, exc: BaseException, engine: str | None = None) -> None:
        """An advisory part (noise sampling, the machine description, warnings) failed. The run goes on, but the
        record carries what failed (``diagnostics``; the CLI prints it, ``--verbose`` with the traceback) instead
        of looking like a quiet machine."""
        import traceback

        entry = {"where": where, "error": f"{type(exc).__name__}: {first_line(exc)}"}
        if engine is not None:
            entry["engine"] = engine
        entry["detail"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]
        with self._lock:
            self._diagnostics.append(entry)

    def _progress(
        self,
        st: EngineState,
        round_index: int,
        round_started: float,
        done_units: float,
        total_units: int,
        force: bool = False,
    ) -> None:
        c = self.config
        elapsed = time.monotonic() - round_started
        frac_round = min(1.0, elapsed / (c.warmup_s + c.duration_s)) if (c.warmup_s + c.duration_s) > 0 else 0.0
        fraction = min(1.0, (done_units + (0 if force else frac_round)) / total_units)
        p50 = p99 = None
        if st.rolling:
            window = np.fromiter(st.rolling, dtype=np.int64)
            p50, p99 = (float(v) / 1e6 for v in np.percentile(window, [50, 99]))
        measured_s = (st.measured_ns + st.round_elapsed_ns) / 1e9  # the child's clock, not ours
        throughput = (st.iterations * c.batch / measured_s) if measured_s > 0 and st.iterations else None
        hist = st.hist.binned(LIVE_BINS, lo_q=0.001, hi_q=LIVE_TOP_Q, log=True) if st.hist.count else {}
        ttft = st.ttft_hist
        ttft_hist = ttft.binned(LIVE_BINS, lo_q=0.001, hi_q=LIVE_TOP_Q, log=True) if ttft.count else {}
        self._emit(
            ev.Progress(
                run_id=self.run_id,
                engine=st.name,
                round=round_index,
                rounds=c.repeats,
                iterations=st.iterations,
                elapsed_s=min(elapsed, c.warmup_s + c.duration_s),
                target_s=c.duration_s,
                fraction=fraction,
                p50_ms=p50,
                p99_ms=p99,
                throughput=throughput,
                hist=hist,
                ttft_hist=ttft_hist,
            )
        )

    # ---- results ---------------------------------------------------------------------------------------------
    def _result(self, st: EngineState, artifact: ModelArtifact, reference_outputs, reference_note) -> EngineResult:
        c = self.config
        res = engine_result(
            st, c, artifact, reference_outputs, reference_note, allowed=self._allowed, on_error=self._diagnose
        )
        if res.ok and c.save_samples and st.samples and st.engine in (None, st.name):  # not for a baseline variant
            res.samples_file = self._save_samples(st)
        return res

    def _save_samples(self, st: EngineState) -> str:
        from workbench.paths import data_dir

        folder = data_dir() / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.run_id}-{st.name}.npy"
        np.save(path, np.concatenate(st.samples))
        return str(path)

    def _speedups(self, results: list[EngineResult]) -> None:
        baseline = apply_speedups(results, self.config.baseline, self.config.mode, baseline_given=self._baseline_given)
        if self.config.scenario not in (None, "singlestream"):  # latencies under load depend on the offered load
            for r in results:
                if r.speedup is not None:
                    note = "not shown under load: compare LoadGen's QPS and latency"
                    r.speedup, r.speedup_note = None, ("baseline" if r.engine == baseline else note)
        if baseline != self.config.baseline:
            self.config = replace(self.config, baseline=baseline)

    def _intervals(self, record: RunRecord) -> None:
        """Each shown speedup's interval and whether it is beyond run-to-run variation, with this machine's stored
        A/A spreads (``workbench doctor --aa``) or the assumed ones."""
        from workbench.machine.spread import entries
        from workbench.stats.speedup import attach_intervals

        try:
            stored = entries([(record.system or {}).get("fingerprint")])
            attach_intervals(record.results, self.config.baseline, self.config.mode, stored)
        except Exception as exc:  # advisory: the speedups stand without intervals, and the record says so
            self._diagnose("speedup intervals", exc)
            record.diagnostics = list(self._diagnostics)

    def _record(self, artifact: ModelArtifact, results: list[EngineResult], started: float) -> RunRecord:
        c = self.config
        system: dict[str, Any] = {}
        versions: dict[str, str | None] = {}
        from workbench.machine import noise, sysinfo

        try:
            info = sysinfo.collect()
            system = info
            versions = dict(info.get("versions") or {})
        except Exception as exc:  # the measurement stands without a machine description; the record says so
            self._diagnose("machine description (sysinfo)", exc)
        warnings: list[dict[str, str]] = []
        try:
            warnings = noise.system_warnings(system, cores=list(c.cores or ())) if system else []
        except Exception as exc:
            self._diagnose("machine warnings", exc)
        config = c.to_dict()
        config["inputs"] = record_inputs(c.inputs, self._inputs)
        return RunRecord(
            run_id=self.run_id,
            created=now_iso(),
            model=model_entry(artifact),
            config=config,
            system=system,
            versions=versions,
            results=results,
            baseline=c.baseline,
            tags=list(c.tags),
            note=c.note,
            warnings=self._skipped + warnings,
            diagnostics=list(self._diagnostics),
        )


def run(config: RunConfig, on_event: Callable[[ev.Event], None] | None = None, live: bool = True) -> RunRecord:
    """Convenience: ``Runner(config, on_event, live).run()``."""
    return Runner(config, on_event=on_event, live=live).run()


__all__ = [
    "DEFAULT_ENGINES",
    "RunConfig",
    "Runner",
    "check_tolerances",
    "formats_for",
    "installed_engines",
    "preparation",
    "readable_engines",
    "run",
    "validate",
]
