"""``workbench sweep``: many cells, each measured in its own pinned benchmark process, saved as one history record.

A sweep expands its axes (:mod:`workbench.campaign.cells`) into cells and runs them one after another. Every cell is
a one-engine :class:`~workbench.measure.runner.Runner` run with its own benchmark process pinned to the first
``threads`` cores of the pool — thread counts, batch sizes and streams all change what a process measures, so no
process is reused across cells. What does not change the measurement is shared: the prepared model (export,
conversion, quantization; already cached on disk, here also kept in memory per batch, precision and sparsity) and
the parity reference's outputs (computed once per batch).

Nothing finished is lost: every finished cell is appended (and fsynced) to the sweep's journal at once
(:meth:`~workbench.store.history.HistoryStore.append_cell`: one small write), and the record itself is stored when
the sweep starts, at most every :data:`SAVE_EVERY_S` while it runs, and when it ends
(:meth:`~workbench.store.history.HistoryStore.put`: one atomic write). Reading a sweep from the history merges its
journal, so an interrupted sweep — Ctrl-C, SIGTERM, a lost SSH session (SIGHUP), even ``kill -9`` — shows every
finished cell, and ``workbench sweep --resume ID`` runs only the cells that are not in it. A sweep killed with ``-9``
still says ``running``; :func:`effective_state` reads it as ``interrupted`` once its process is gone. (Saving the
whole record after each cell would cost one rewrite of a growing record per cell: 5-7 s for 200 cells here; see
docs/performance.md.)

Memory-bounded batch (``max_memory_mb``): instead of the batch axis, each group of cells that differ only in batch
searches the largest batch whose benchmark process peak RSS stays under the limit — doubling from 1 until a batch
does not fit (or fails, or reaches ``max_batch``), then bisecting between the last batch that fit and the first that
did not. That is ``O(log max_batch)`` probes, each a real measured cell kept in the record.

:func:`run_cell_job` runs one cell from a JSON job file and writes its result file: the unit a Slurm array task
runs (``workbench sweep-cell JOB OUT``).
"""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from workbench.campaign.cells import CellSpec, SweepSpec, check_spec, cores_for, expand, failed_result, group_key
from workbench.errors import RunFailed, UsageError, WorkbenchError, first_line
from workbench.machine.cpus import allowed_cores
from workbench.measure import events as ev
from workbench.measure.runner import RunConfig, Runner, preparation
from workbench.result import EngineResult, RunRecord, new_run_id, now_iso
from workbench_engines.base import ModelArtifact

RUNNING, COMPLETE, INTERRUPTED, FAILED = "running", "complete", "interrupted", "failed"
MAX_MEMORY = "max-memory"
#: the longest a running sweep's stored record lags behind its journal (every finished cell is in the journal at once)
SAVE_EVERY_S = 15.0


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C/SIGTERM/SIGHUP during a sweep: ``record`` holds (and the history has) every finished cell."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__("interrupted")
        self.record = record


# ---- one cell ----------------------------------------------------------------------------------------------------
class CellRunner:
    """Measures cells of one sweep spec. Keeps what cells may share (prepared models, the parity reference's
    outputs); everything measured runs in a fresh pinned benchmark process per cell. :meth:`stop` (any thread)
    kills the cell in flight."""

    def __init__(
        self,
        spec: SweepSpec,
        on_event: Callable[[ev.Event], None] | None = None,
        pool: list[int] | None = None,
    ) -> None:
        self.spec = spec
        self.on_event = on_event
        self.pool = list(pool if pool is not None else (spec.cores or allowed_cores()))
        self._artifacts: dict[tuple[int, str, float], ModelArtifact | WorkbenchError] = {}
        self._reference: dict[str, Any] = {}
        self._sizes: dict[str, tuple[int, int]] = {}
        self._runner: Runner | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.last_record: RunRecord | None = None  # the one-engine run record of the last cell

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            runner = self._runner
        if runner is not None:
            runner.stop()

    def config_for(self, cell: CellSpec, duration_s: float | None = None, warmup_s: float | None = None) -> RunConfig:
        """The one-engine run a cell is (what ``workbench run`` would be given)."""
        s = self.spec
        options = tuple(t for t in s.engine_options if t[0] == cell.engine)
        if cell.streams is not None:
            options = tuple(t for t in options if t[1] != "streams") + ((cell.engine, "streams", cell.streams),)
        from workbench.models.inputs import InputRequest

        return RunConfig(
            model=s.model,
            engines=(cell.engine,),
            device=s.device,
            precision=cell.precision,
            mode=cell.mode,
            batch=cell.batch,
            threads=cell.threads,
            cores=cores_for(cell, self.pool),
            duration_s=s.duration_s if duration_s is None else duration_s,
            min_iterations=s.min_iterations,
            warmup_s=s.warmup_s if warmup_s is None else warmup_s,
            requests=cell.requests,
            engine_options=options,
            shapes=s.shapes,
            seed=s.seed,
            parity=s.parity and cell.mode != "train",
            fp32_baseline=False,
            sparsity=cell.sparsity,
            tags=s.tags,
            inputs=InputRequest.from_dict(s.inputs) if s.inputs else InputRequest(),
            calibration_samples=s.calibration_samples,
            calibration_data=s.calibration_data,
            **_generation_fields(s, cell),
            **_load_fields(s, cell),
        )

    def _artifact(self, cell: CellSpec, config: RunConfig) -> ModelArtifact:
        """The prepared model for a cell's batch, precision and sparsity — made once for every engine of the sweep
        (raises what preparing raised, for every cell that needs it)."""
        key = (cell.batch, cell.precision, cell.sparsity)
        cached = self._artifacts.get(key)
        if isinstance(cached, WorkbenchError):
            raise cached
        if cached is not None:
            return cached
        from workbench.measure.prepare import prepare

        s = self.spec
        self._emit(
            ev.Stage(run_id="", stage="preparing", message=f"preparing {os.path.basename(s.model)} ({cell.label()})")
        )
        try:
            artifact = prepare(
                s.model,
                should_stop=self._stop.is_set,
                **preparation(config, engines=tuple(s.engines), options_for=s.options_for, parity=s.parity),
            )
        except WorkbenchError as exc:
            if not self._stop.is_set():
                self._artifacts[key] = exc
            raise
        self._artifacts[key] = artifact
        return artifact

    def _emit(self, event: ev.Event) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def run(self, cell: CellSpec, duration_s: float | None = None, warmup_s: float | None = None) -> EngineResult:
        """Measure one cell; returns its result (``status`` ``failed`` with the one-line reason when it could not
        run). Raises KeyboardInterrupt when stopped."""
        if self._stop.is_set():
            raise KeyboardInterrupt
        config = self.config_for(cell, duration_s, warmup_s)
        meta = cell.stored()
        self.last_record = None
        try:
            artifact = self._artifact(cell, config)
            runner = Runner(
                config, on_event=self.on_event, live=False, artifact=artifact, reference_cache=self._reference
            )
            with self._lock:
                self._runner = runner
            if self._stop.is_set():
                raise KeyboardInterrupt
            record = runner.run()
        except RunFailed as exc:
            if self._stop.is_set():
                raise KeyboardInterrupt from None
            return _failed(cell, config, str(exc))
        except WorkbenchError as exc:
            return _failed(cell, config, first_line(exc))
        finally:
            with self._lock:
                self._runner = None
        if self._stop.is_set():
            raise KeyboardInterrupt
        self.last_record = record
        result = record.results[0] if record.results else _failed(cell, config, "the run produced no result")
        result.cell = meta
        if result.ok and not cell.sparsity and len(self.spec.sparsities) > 1 and result.sparsity is None:
            result.sparsity = self._dense_sizes(artifact, cell)  # the sparsity study's baseline row
        if record.warnings:  # machine-wide notes (noise) belong to this cell's measurement too
            seen = {w.get("code") for w in result.warnings}
            result.warnings += [w for w in record.warnings if w.get("code") not in seen]
        return result

    def _dense_sizes(self, artifact: ModelArtifact, cell: CellSpec) -> dict[str, Any] | None:
        """On-disk and ``gzip -9`` bytes of the dense file a cell's engine loaded (pruned cells get theirs from the
        preparation), computed once per file."""
        from workbench.models.sizes import file_sizes, format_files
        from workbench_engines.registry import get_engine_class

        try:
            fmt = get_engine_class(cell.engine).pick_format(artifact)
        except WorkbenchError:
            return None
        variant = artifact.variants.get(cell.precision) if cell.precision == "int8" else None
        path = (variant.files if variant is not None else artifact.files).get(fmt)
        if not path or Path(path).is_dir():
            return None
        if path not in self._sizes:
            try:
                self._sizes[path] = file_sizes(format_files(fmt, path))
            except OSError:
                return None
        raw, packed = self._sizes[path]
        return {"target": 0.0, "achieved": None, "format": fmt, "file": path, "file_bytes": raw, "gzip_bytes": packed}


def _generation_fields(spec: SweepSpec, cell: CellSpec) -> dict[str, Any]:
    """A ``generate`` cell's RunConfig lengths and prompt (nothing for other modes: the defaults stay)."""
    if cell.mode != "generate":
        return {}
    out: dict[str, Any] = {"prompt": spec.prompt}
    if cell.prompt_tokens is not None:
        out["prompt_tokens"] = cell.prompt_tokens
    if cell.new_tokens is not None:
        out["new_tokens"] = cell.new_tokens
    return out


def _load_fields(spec: SweepSpec, cell: CellSpec) -> dict[str, Any]:
    """A LoadGen cell's RunConfig scenario, target QPS and the sweep's shared scenario settings."""
    if cell.scenario is None:
        return {}
    known = ("latency_bound_ms", "latency_percentile", "samples_per_query", "min_queries", "mlperf_rules")
    settings = {k: v for k, v in spec.scenario_settings.items() if k in known}
    return {"scenario": cell.scenario, "target_qps": cell.target_qps, **settings}


def sweep_cells(spec: SweepSpec, batches: list[int] | None = None) -> tuple[list[CellSpec], list[str]]:
    """The cells a sweep runs — :func:`~workbench.campaign.cells.expand` without the cells of a mode an engine does
    not have (``train`` is torch's alone) — and one note per engine × mode left out."""
    from workbench_engines.registry import get_engine_class

    kept, notes = [], []
    for cell in expand(spec, batches=batches):
        modes = getattr(get_engine_class(cell.engine), "modes", ("latency", "throughput"))
        if cell.mode in modes:
            kept.append(cell)
            continue
        note = f"{cell.engine} has no {cell.mode} mode ({', '.join(modes)}): its {cell.mode} cells are left out"
        if note not in notes:
            notes.append(note)
    return kept, notes


def _failed(cell: CellSpec, config: RunConfig, error: str) -> EngineResult:
    return failed_result(cell, config.model, error, device=config.device, cores=config.cores or ())


# ---- the sweep ---------------------------------------------------------------------------------------------------
@dataclass
class _Clock:
    """ETA from the cells measured in this process (a resumed sweep's earlier cells do not count)."""

    durations: list[float] = field(default_factory=list)

    def eta(self, left: int) -> float | None:
        if not self.durations:
            return None
        return sum(self.durations) / len(self.durations) * left


def process_alive(pid: Any, host: Any) -> bool:
    """Whether ``pid`` on ``host`` (this machine only; another host: assumed alive) is a live process."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if host and host != socket.gethostname():
        return True
    from workbench.measure.live import pid_alive

    return pid_alive(pid)


def effective_state(record: RunRecord) -> str:
    """A sweep's state as a user should read it: ``running`` only while its process lives (a sweep killed with -9
    cannot say it was interrupted)."""
    info = record.sweep or {}
    state = str(info.get("state") or "")
    if info.get("fleet"):  # cells run on a cluster: the state is what the last `fleet collect` saw
        return state
    if state == RUNNING and not process_alive(info.get("pid"), info.get("host")):
        return INTERRUPTED
    return state


def stored_spec(record: RunRecord) -> SweepSpec | None:
    """The :class:`~workbench.campaign.cells.SweepSpec` a stored sweep ran (None: not a sweep, or no readable spec)."""
    spec = (record.sweep or {}).get("spec") if record.kind == "sweep" else None
    if not isinstance(spec, Mapping):
        return None
    try:
        return SweepSpec.from_dict(spec)
    except (TypeError, ValueError):
        return None


def unreadable_line(record: RunRecord) -> str:
    """The one line for a record :func:`stored_spec` cannot read."""
    return f"{record.run_id} is not a sweep this version can read (no sweep spec stored)"


def resume_refusal(record: RunRecord) -> str | None:
    """Why a stored sweep is not resumed, as one line; None when it may be (its effective state is interrupted or
    failed). :class:`Sweep` checks again when it is built (a sweep of another host, one that started running since
    it was shown): its UsageError is then the line."""
    info = record.sweep or {}
    sid = record.run_id
    if stored_spec(record) is None:
        return unreadable_line(record)
    fleet = info.get("fleet")
    if fleet:
        fleet_id = fleet.get("sweep_id", sid) if isinstance(fleet, Mapping) else sid
        return (
            f"sweep {sid} ran on a cluster: rerun its failed cells with `workbench fleet resubmit {fleet_id} --failed`"
        )
    state = effective_state(record)
    if state == COMPLETE:
        failed = sum(1 for r in record.results if not r.ok)
        rerun = (
            f"; rerun its {failed} failed cell{'s' if failed != 1 else ''} with "
            f"`workbench sweep --resume {sid} --retry-failed`"
            if failed
            else ""
        )
        return f"sweep {sid} is complete: nothing to resume{rerun}"
    if state == RUNNING:
        where = f" (pid {info.get('pid')} on {info.get('host')})" if info.get("pid") else ""
        return f"sweep {sid} is still running in another process{where}: wait for it, or stop it there"
    if state not in (INTERRUPTED, FAILED):
        return f"sweep {sid} is {state or 'in no known state'}: nothing to resume"
    return None


def stored_total(record: RunRecord, spec: SweepSpec) -> int:
    """A stored sweep's number of cells: as it saved it, else counted from its spec."""
    total = (record.sweep or {}).get("cells_total")
    if isinstance(total, int) and total > 0:
        return max(total, len(record.results))
    try:
        return max(len(sweep_cells(spec)[0]), len(record.results))
    except WorkbenchError:
        return len(record.results)


class Sweep:
    """Run (or resume) a sweep; saves the record after every cell unless ``store`` is None."""

    def __init__(
        self,
        spec: SweepSpec,
        *,
        store: Any = None,
        on_event: Callable[[ev.Event], None] | None = None,
        resume: RunRecord | None = None,
        retry_failed: bool = False,
        live: bool = False,
    ) -> None:
        check_spec(spec, allowed_cores())
        self.spec = spec
        self.store = store
        self.on_event = on_event
        #: publish the sweep's events to the live stream (``workbench watch`` in another SSH session follows it)
        self.live = live
        self._live: Any = None
        self.cells = CellRunner(spec, on_event=self._emit)
        self._clock = _Clock()
        self._saved_at = 0.0
        # the cells to run (a memory search: one group per batch-less cell) and those left out, said once each
        self._cells: list[CellSpec] = []
        self._groups: list[CellSpec] = []
        if spec.max_memory_mb is None:
            self._cells, self.notes = sweep_cells(spec)
        else:
            self._groups, self.notes = sweep_cells(spec, batches=[1])
        if not self._cells and not self._groups:
            raise UsageError("no cell of this sweep can run: " + "; ".join(self.notes))
        self.record = resume if resume is not None else self._new_record()
        if resume is not None:
            self._check_resumable(resume)
            if retry_failed:
                resume.results = [r for r in resume.results if r.ok]
        self._done: dict[str, EngineResult] = {str((r.cell or {}).get("key")): r for r in self.record.results}

    def _new_record(self) -> RunRecord:
        from workbench.machine import sysinfo

        system: dict[str, Any] = {}
        try:
            system = sysinfo.collect()
        except Exception:  # the cells stand without a machine description
            system = {}
        return RunRecord(
            run_id=new_run_id(),
            created=now_iso(),
            model={"name": os.path.basename(self.spec.model), "source": self.spec.model},
            config={"model": self.spec.model, "engines": list(self.spec.engines), "device": self.spec.device},
            system=system,
            versions=dict(system.get("versions") or {}),
            results=[],
            tags=list(self.spec.tags),
            note=self.spec.note,
            kind="sweep",
            sweep={"spec": self.spec.to_dict(), "state": RUNNING, "cells_total": 0, "cells_done": 0},
        )

    def _check_resumable(self, record: RunRecord) -> None:
        info = record.sweep or {}
        if record.kind != "sweep":
            raise UsageError(f"{record.run_id} is a run, not a sweep; only sweeps can be resumed")
        if ((info.get("spec") or {}).get("extra") or {}).get("recommend") is not None:
            raise UsageError(
                f"{record.run_id} is a recommendation (a search, not a grid): run `workbench recommend` again "
                "rather than resuming it"
            )
        if info.get("fleet"):
            raise UsageError(
                f"sweep {record.run_id} ran on a cluster; rerun its failed cells with "
                f"`workbench fleet resubmit {(info.get('fleet') or {}).get('sweep_id', record.run_id)} --failed`"
            )
        if info.get("state") == RUNNING and process_alive(info.get("pid"), info.get("host")):
            raise UsageError(
                f"sweep {record.run_id} is still running (pid {info.get('pid')} on {info.get('host')}); "
                "stop it first or wait for it"
            )
        host = info.get("host")
        if host and host != socket.gethostname():
            raise UsageError(
                f"sweep {record.run_id} was started on {host}; resume it there (its cells are pinned to that machine)"
            )

    # -- bookkeeping
    def _emit(self, event: ev.Event) -> None:
        if self._live is not None and not isinstance(event, (ev.RunStarted, ev.RunFinished, ev.RunAborted)):
            self._live.publish(event)  # a cell's own start and end would end a follower of the whole sweep
        if self.on_event is not None:
            self.on_event(event)

    def _open_live(self) -> None:
        """Start the sweep's live stream: its first line names the sweep like a run's does (``run_started`` with
        this pid), then every sweep and cell event, until ``sweep_finished``."""
        if not self.live:
            return
        from workbench.measure.live import LivePublisher

        try:
            self._live = LivePublisher(self.record.run_id)
        except OSError:  # the sweep stands without a live stream
            self._live = None
            return
        self._live.publish(
            ev.RunStarted(
                run_id=self.record.run_id,
                model=self.spec.model,
                engines=tuple(self.spec.engines),
                config={"kind": "sweep", "spec": self.spec.to_dict()},
                pid=os.getpid(),
            )
        )

    def _close_live(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    def _save(self, state: str, total: int, *, final: bool = True) -> None:
        """Store the record (``final``: and drop the journal its cells are in). Between cells the record is
        stored at most every :data:`SAVE_EVERY_S`; each finished cell is durable in the journal at once."""
        info = dict(self.record.sweep or {})
        info.update(
            state=state,
            cells_total=total,
            cells_done=len(self.record.results),
            pid=os.getpid(),
            host=socket.gethostname(),
            elapsed_s=round(float(info.get("elapsed_before_s") or 0.0) + time.monotonic() - self._t0, 3),
            updated=now_iso(),
        )
        self.record.sweep = info
        if self.store is None:
            return
        self.store.put(self.record)
        self._saved_at = time.monotonic()
        if final:
            self.store.drop_journal(self.record.run_id)

    def _adopt(self, result: EngineResult) -> None:
        """A finished cell joins the record (the first successful one also fills the record's model/config)."""
        self.record.results.append(result)
        self._done[str((result.cell or {}).get("key"))] = result
        cell_record = self.cells.last_record
        if cell_record is not None and not self.record.model.get("inputs"):
            self.record.model = cell_record.model
            self.record.config = cell_record.config | {"engines": list(self.spec.engines)}
            if cell_record.system and not self.record.system:
                self.record.system = cell_record.system
                self.record.versions = cell_record.versions

    def _measure(self, cell: CellSpec, index: int, total: int, extra: Mapping[str, Any] | None = None) -> EngineResult:
        key = cell.key()
        if key in self._done:
            return self._done[key]
        meta = cell.stored() | dict(extra or {})
        left = max(total - len(self.record.results), 1)
        self._emit(
            ev.CellStarted(
                sweep_id=self.record.run_id, index=index, total=total, cell=meta, label=cell.label(),
                eta_s=self._clock.eta(left),
            )
        )  # fmt: skip
        t0 = time.monotonic()
        result = self.cells.run(cell)
        self._clock.durations.append(time.monotonic() - t0)
        result.cell = meta
        self._adopt(result)
        if self.store is not None:
            self.store.append_cell(self.record.run_id, result.to_dict())
            if time.monotonic() - self._saved_at >= SAVE_EVERY_S:
                self._save(RUNNING, total, final=False)
        done = len(self.record.results)
        self._emit(
            ev.CellFinished(
                sweep_id=self.record.run_id, index=index, total=total, cell=meta, label=cell.label(),
                result=result.to_dict(), done=done, eta_s=self._clock.eta(max(total - done, 0)),
            )
        )  # fmt: skip
        return result

    # -- running
    def run(self) -> RunRecord:
        """Run every cell not in the record yet. Raises SweepInterrupted (with the saved record) when stopped."""
        self._t0 = time.monotonic()
        info = self.record.sweep or {}
        info["elapsed_before_s"] = float(info.get("elapsed_s") or 0.0)
        info.setdefault("started", now_iso())
        self.record.sweep = info
        cells, groups = self._cells, self._groups
        total = len(cells) if self.spec.max_memory_mb is None else len(groups) * _probes_estimate(self.spec.max_batch)
        self._save(RUNNING, total, final=False)
        self._open_live()
        self._emit(ev.SweepStarted(self.record.run_id, total, len(self.record.results), self.spec.to_dict()))
        try:
            if self.spec.max_memory_mb is None:
                for i, cell in enumerate(cells):
                    self._measure(cell, i, total)
            else:
                searches = dict(info.get("memory_search") or {})
                for group in groups:
                    searches[group_key(group)] = self._memory_search(group, len(groups))
                    self.record.sweep = (self.record.sweep or {}) | {"memory_search": searches}
                total = len(self.record.results)
        except KeyboardInterrupt:
            self.cells.stop()
            self._save(INTERRUPTED, total)
            self._emit(ev.SweepFinished(self.record.run_id, INTERRUPTED, len(self.record.results), total))
            self._close_live()
            raise SweepInterrupted(self.record) from None
        except BaseException:
            self._save(FAILED, total)
            self._emit(ev.SweepFinished(self.record.run_id, FAILED, len(self.record.results), total))
            self._close_live()
            raise
        self._save(COMPLETE, total)
        self._emit(ev.SweepFinished(self.record.run_id, COMPLETE, len(self.record.results), total))
        self._close_live()
        return self.record

    def _memory_search(self, group: CellSpec, groups: int) -> dict[str, Any]:
        """The largest batch of ``group``'s cells whose peak RSS stays under the limit (see the module docstring)."""
        limit = float(self.spec.max_memory_mb or 0)
        gk = group_key(group)
        probes: dict[int, EngineResult] = {}

        def fits(batch: int) -> bool:
            res = self._measure(
                replace(group, batch=batch),
                len(self.record.results),
                max(len(self.record.results) + 1, groups * _probes_estimate(self.spec.max_batch)),
                {"search": MAX_MEMORY, "group": gk},
            )
            probes[batch] = res
            return res.ok and res.peak_rss_mb is not None and res.peak_rss_mb <= limit

        lo, hi, reason = 0, None, ""
        b = 1
        while True:  # doubling: 1, 2, 4, ... until one does not fit or the cap is reached
            if fits(b):
                lo = b
                if b >= self.spec.max_batch:
                    reason = f"batch {b} (the --max-batch cap) fits"
                    break
                b = min(b * 2, self.spec.max_batch)
            else:
                hi = b
                break
        # bisect between the last fit and the first miss; a probe that failed (rather than measured over the
        # limit) ends the search there: its reason is likely to fail every larger batch too
        while hi is not None and hi - lo > 1 and (probes[hi].ok or _out_of_memory(probes[hi])):
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        if hi is not None:
            miss = probes[hi]
            why = (
                f"peak RSS {miss.peak_rss_mb:.0f} MB > {limit:g} MB"
                if miss.ok and miss.peak_rss_mb is not None
                else f"failed: {miss.error}"
            )
            reason = f"batch {hi} does not fit ({why})" if lo else f"even batch 1 does not fit ({why})"
        best = probes.get(lo) if lo else None
        return {
            "limit_mb": limit,
            "best_batch": lo or None,
            "best_key": best.cell.get("key") if best is not None and best.cell else None,
            "throughput": best.throughput if best is not None else None,
            "probes": [
                {"batch": b, "peak_rss_mb": r.peak_rss_mb, "status": r.status, "fits": b <= lo and r.ok}
                for b, r in sorted(probes.items())
            ],
            "reason": reason,
        }


_OOM_MARKS = ("out of memory", "memoryerror", "bad_alloc", "cannot allocate", "signal 9", "sigkill", "killed")


def _out_of_memory(result: EngineResult) -> bool:
    """Whether a failed probe looks like it ran out of memory (the kernel's OOM killer, an allocation failure)."""
    text = f"{result.error or ''} {result.error_detail or ''}".lower()
    return any(mark in text for mark in _OOM_MARKS)


def _probes_estimate(max_batch: int) -> int:
    """Probes a memory search needs at most: doubling to the cap plus bisecting one octave."""
    octaves = max(1, math.ceil(math.log2(max(max_batch, 2))))
    return 2 * octaves + 1


# ---- one cell from a file (a Slurm array task) -------------------------------------------------------------------
def run_cell_job(job_path: Path, out_path: Path, on_event: Callable[[ev.Event], None] | None = None) -> int:
    """Run the cell a job file describes (``{"sweep_id", "index", "spec", "cell"}``) and write its result file
    atomically. Returns 0 when the cell ran, 1 when it failed (the result file says why either way). Raises
    UsageError for an unreadable job file."""
    from workbench.machine import sysinfo
    from workbench.paths import atomic_write

    try:
        job = json.loads(Path(job_path).read_text())
        spec = SweepSpec.from_dict(job["spec"])
        cell = CellSpec.from_dict(job["cell"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot read the cell job {job_path}: {exc}") from None
    started = now_iso()
    runner = CellRunner(spec, on_event=on_event)
    result = runner.run(cell)
    record = runner.last_record
    try:
        system = record.system if record is not None and record.system else sysinfo.collect()
    except Exception:
        system = {}
    out = {
        "sweep_id": job.get("sweep_id"),
        "index": job.get("index"),
        "cell": cell.stored(),
        "result": result.to_dict(),
        "system": system,
        "versions": dict(record.versions) if record is not None else dict(system.get("versions") or {}),
        "model": record.model if record is not None else {"name": os.path.basename(spec.model), "source": spec.model},
        "config": record.config if record is not None else runner.config_for(cell).to_dict(),
        "host": socket.gethostname(),
        "started": started,
        "finished": now_iso(),
    }
    atomic_write(Path(out_path), json.dumps(out, default=str).encode(), mode=0o644)
    return 0 if result.ok else 1


__all__ = [
    "CellRunner",
    "Sweep",
    "SweepInterrupted",
    "effective_state",
    "process_alive",
    "run_cell_job",
]
