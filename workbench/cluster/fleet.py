"""A sweep on a cluster: submit its cells as Slurm array jobs, follow them, collect their results, rerun failures.

``workbench sweep --on slurm --partition A,B`` calls :func:`submit_sweep`: one array job per partition, one array
task per cell, each task running the same pinned cell runner a local sweep uses (:mod:`workbench.cluster.slurm`
writes the script). Everything lives in the sweep's *fleet directory* (default ``data_dir()/fleet/<sweep id>/``,
``--fleet-dir DIR`` puts it at ``DIR/<sweep id>/`` on the cluster's shared filesystem)::

    submission.json           what was submitted: spec, cells, per partition its script and array jobs
    script-<partition>.sbatch the exact batch script (what --dry-run prints)
    jobs/NNNN.json            cell NNNN's job file (the cell runner's input)
    results/<partition>/NNNN.json   its result (EngineResult + the node's machine description)
    exits/<partition>/NNNN.json     the task's exit code, node and job id (written by the script)
    nodes/<node>.json         each node's machine description (written once per node)
    logs/slurm-<job>_<task>.out     the task's output
    observed.json             the scheduler's last word on each task (kept: finished jobs leave squeue)
    attempts/<partition>/     results and exit files of attempts replaced by a resubmission

:func:`status` merges the result files with squeue/scontrol (clusters without accounting have no sacct; finished
tasks stay visible only ``MinJobAge``, so what was seen is kept in ``observed.json``); a task that failed —
non-zero exit, time limit, node failure, preemption, cancellation, or one the scheduler forgot without a result —
is a *failed* cell with the scheduler's reason. :func:`collect` turns the finished cells into history records, one
per (sweep, machine fingerprint) with a deterministic run id, through the caller's store (``put`` upserts), so
collecting twice adds nothing and a partial collect is replaced by the next one. :func:`resubmit_failed` reruns
only the failed cells, as a new array job per partition over exactly those indices.

This module sits in the cluster layer: it never imports the history; the CLI passes the store in. Collecting
(:func:`collect`, :func:`build_records`) lives in :mod:`workbench.cluster.collect`, re-exported here.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol

from workbench.campaign.cells import CellSpec, SweepSpec
from workbench.cluster import slurm
from workbench.cluster.collect import CollectReport, build_records, collect, record_run_id
from workbench.errors import UsageError, WorkbenchError
from workbench.paths import atomic_write, data_dir
from workbench.result import RunRecord, now_iso

__all__ = [
    "FLEET_SCHEMA",
    "ArrayJob",
    "PartitionPlan",
    "Submission",
    "CellStatus",
    "FleetStatus",
    "CollectReport",
    "ResubmitReport",
    "submit_sweep",
    "load",
    "list_submissions",
    "status",
    "collect",
    "build_records",
    "resubmit_failed",
    "record_run_id",
    "default_root",
]

FLEET_SCHEMA = 1
SUBMISSION = "submission.json"
OBSERVED = "observed.json"
LOG_TAIL_LINES = 20


class StoreLike(Protocol):
    """What :func:`collect` needs of the history (``workbench.store.history.HistoryStore`` has it)."""

    def put(self, record: RunRecord) -> str: ...

    def get(self, run_id_or_prefix: str) -> RunRecord: ...


# ================================================================================================ submission
@dataclass
class ArrayJob:
    """One sbatch of a partition's script: the array job id (None in a dry run) and the cells it runs."""

    job_id: str | None
    indices: list[int]
    submitted: str
    argv: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "indices": list(self.indices), "submitted": self.submitted, "argv": self.argv}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ArrayJob":
        return cls(
            d.get("job_id"),
            [int(i) for i in d.get("indices") or []],
            str(d.get("submitted") or ""),
            list(d.get("argv") or []),
        )


@dataclass
class PartitionPlan:
    """A partition's part of a submission: its script (file name in the fleet dir, and text) and its array jobs,
    oldest first (a resubmission appends one)."""

    name: str
    script: str
    script_text: str = ""
    arrays: list[ArrayJob] = field(default_factory=list)

    def current(self, index: int) -> ArrayJob | None:
        """The array job that runs ``index`` now (the last that included it)."""
        for a in reversed(self.arrays):
            if index in a.indices:
                return a
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "script": self.script, "arrays": [a.to_dict() for a in self.arrays]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], root: Path | None = None) -> "PartitionPlan":
        text = ""
        if root is not None:
            try:
                text = (root / str(d.get("script"))).read_text()
            except OSError:
                text = ""
        return cls(
            str(d["name"]), str(d.get("script") or ""), text, [ArrayJob.from_dict(a) for a in d.get("arrays") or []]
        )


@dataclass
class Submission:
    """A sweep submitted to a cluster (or, with ``dry_run``, what would be). ``fleet_dir``: the sweep's directory;
    ``cells[i]`` is array index ``i`` on every partition; ``partitions`` in the order given."""

    sweep_id: str
    fleet_dir: Path
    created: str
    spec: SweepSpec
    cells: list[CellSpec]
    partitions: dict[str, PartitionPlan]
    options: dict[str, Any]
    python: str
    host: str
    dry_run: bool = False
    workbench_version: str = ""

    @property
    def model(self) -> str:
        return self.spec.model

    def scripts(self) -> dict[str, str]:
        """Partition → the exact batch script text."""
        return {name: p.script_text for name, p in self.partitions.items()}

    def commands(self) -> dict[str, list[list[str]]]:
        """Partition → the sbatch command lines run (or, in a dry run, to be run)."""
        return {name: [a.argv for a in p.arrays] for name, p in self.partitions.items()}

    def job_ids(self) -> dict[str, list[str]]:
        return {name: [a.job_id for a in p.arrays if a.job_id] for name, p in self.partitions.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "fleet_schema": FLEET_SCHEMA,
            "backend": "slurm",
            "sweep_id": self.sweep_id,
            "fleet_dir": str(self.fleet_dir),
            "created": self.created,
            "model": self.spec.model,
            "spec": self.spec.to_dict(),
            "cells": [c.to_dict() for c in self.cells],
            "partitions": [p.to_dict() for p in self.partitions.values()],
            "options": dict(self.options),
            "python": self.python,
            "host": self.host,
            "workbench": self.workbench_version,
            "dry_run": self.dry_run,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], root: Path) -> "Submission":
        parts = [PartitionPlan.from_dict(p, root) for p in d.get("partitions") or []]
        return cls(
            sweep_id=str(d["sweep_id"]),
            fleet_dir=root,
            created=str(d.get("created") or ""),
            spec=SweepSpec.from_dict(d["spec"]),
            cells=[CellSpec.from_dict(c) for c in d.get("cells") or []],
            partitions={p.name: p for p in parts},
            options=dict(d.get("options") or {}),
            python=str(d.get("python") or ""),
            host=str(d.get("host") or ""),
            dry_run=bool(d.get("dry_run")),
            workbench_version=str(d.get("workbench") or ""),
        )

    def save(self) -> None:
        _write_json(self.fleet_dir / SUBMISSION, self.to_dict())

    def describe(self) -> str:
        """What ``workbench sweep --on slurm`` prints: in a dry run every partition's exact script and sbatch
        command (nothing written, nothing submitted); otherwise the array job ids, where results land and what
        to run next."""
        n = len(self.cells)
        parts = list(self.partitions)
        cells = f"{n} cell{'s' if n != 1 else ''}"
        if self.dry_run:
            out = [
                f"dry run: sweep of {self.spec.model}, {cells} on {len(parts)} partition{'s' if len(parts) != 1 else ''} "
                f"({', '.join(parts)}); nothing written, nothing submitted",
                f"fleet directory: {self.fleet_dir}",
                "",
            ]
            for name, plan in self.partitions.items():
                out.append(f"==> {self.fleet_dir / plan.script} <==")
                out.append(plan.script_text.rstrip("\n"))
                for argv in self.commands()[name]:
                    out.append(f"$ {' '.join(argv)}")
                out.append("")
            out.append(f"job files: {self.fleet_dir / 'jobs'}/NNNN.json, one per cell:")
            out += [f"  {i:04d}  {c.label()}" for i, c in enumerate(self.cells)]
            return "\n".join(out)
        jobs = ", ".join(f"{name}: {' '.join(ids) or '—'}" for name, ids in self.job_ids().items())
        return "\n".join(
            [
                f"submitted sweep {self.sweep_id} ({self.spec.model}): {cells} × {len(parts)} "
                f"partition{'s' if len(parts) != 1 else ''} as array jobs ({jobs})",
                f"fleet directory: {self.fleet_dir} (results/<partition>/NNNN.json, logs/)",
                f"follow it:   workbench fleet status {self.sweep_id}",
                f"collect it:  workbench fleet collect {self.sweep_id}   (any time; finished cells go to the history)",
            ]
        )


def default_root() -> Path:
    """Where sweep directories go without ``--fleet-dir``: ``data_dir()/fleet`` (also the registry of sweeps)."""
    return data_dir() / "fleet"


def _write_json(path: Path, doc: Any) -> None:
    atomic_write(path, (json.dumps(doc, indent=1, sort_keys=False) + "\n").encode("utf-8"), 0o644)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _version() -> str:
    try:
        from workbench import __version__

        return str(__version__)
    except Exception:  # a version string is advisory
        return ""


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """An exclusive lock on a sweep's directory (resubmissions and the observations file)."""
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(root / ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def submit_sweep(
    spec: SweepSpec,
    cells: list[CellSpec],
    partitions: list[str],
    *,
    dry_run: bool,
    fleet_dir: Path | None,
    exclusive: bool,
    physical_cores: bool,
    time_limit_min: int | None,
) -> Submission:
    """Submit ``cells`` of ``spec`` to each of ``partitions`` as one Slurm array job each (array index = cell index).

    ``fleet_dir``: the parent of the sweep's directory (on the cluster's shared filesystem; default
    :func:`default_root`). ``exclusive``: each task gets its node to itself; ``physical_cores``:
    ``--hint=nomultithread``; ``time_limit_min``: ``--time`` per task (None: the partition's default).
    ``--cpus-per-task`` is the largest thread count among the cells; each cell pins itself to the first ``threads``
    of the CPUs its task may use, so the spec's ``cores`` (this machine's) do not travel.

    ``dry_run``: nothing is written or submitted; the returned :class:`Submission` holds the exact scripts and
    sbatch commands. Otherwise the fleet directory is written, every partition's script submitted, and
    ``submission.json`` records the array job ids. Raises :class:`UsageError` for impossible requests (no cells,
    a bad or unknown partition, more threads than its nodes have, ``--max-memory``) and for missing Slurm
    commands; :class:`~workbench.cluster.slurm.SlurmError` when sbatch refuses a job (partitions submitted before it
    stay submitted and recorded).
    """
    from workbench.result import new_run_id

    names, cpus = _check_request(spec, cells, partitions, dry_run=dry_run, time_limit_min=time_limit_min)
    sweep_id = new_run_id()
    root = (Path(fleet_dir).expanduser() if fleet_dir is not None else default_root()).absolute() / sweep_id
    options = {
        "exclusive": bool(exclusive),
        "physical_cores": bool(physical_cores),
        "time_limit_min": time_limit_min,
        "cpus_per_task": cpus,
    }
    sub = Submission(
        sweep_id=sweep_id,
        fleet_dir=root,
        created=now_iso(),
        spec=replace(spec, cores=None),  # the pool is the task's CPUs on its node, not this machine's cores
        cells=list(cells),
        partitions={},
        options=options,
        python=sys.executable,
        host=socket.gethostname(),
        dry_run=dry_run,
        workbench_version=_version(),
    )
    indices = list(range(len(cells)))
    for name in names:
        opts = slurm.ScriptOptions(
            sweep_id=sweep_id,
            model=spec.model,
            partition=name,
            indices=tuple(indices),
            fleet_dir=str(root),
            python=sub.python,
            cpus_per_task=cpus,
            exclusive=exclusive,
            physical_cores=physical_cores,
            time_limit_min=time_limit_min,
            workbench_version=sub.workbench_version,
        )
        script = f"script-{name}.sbatch"
        sub.partitions[name] = PartitionPlan(name, script, slurm.render_script(opts))
    if dry_run:
        for plan in sub.partitions.values():
            plan.arrays.append(ArrayJob(None, indices, "", slurm.sbatch_argv(str(root / plan.script))))
        return sub
    _write_fleet_dir(sub)
    _submit_partitions(sub, indices)
    return sub


def _check_request(
    spec: SweepSpec, cells: list[CellSpec], partitions: list[str], *, dry_run: bool, time_limit_min: int | None
) -> tuple[list[str], int]:
    """The partitions to submit to and the CPUs per task, or UsageError for an impossible request."""
    if not cells:
        raise UsageError("the sweep has no cells to submit")
    names = list(dict.fromkeys(p.strip() for p in partitions if p and p.strip()))
    if not names:
        raise UsageError("--on slurm needs --partition P1[,P2...]: the partitions (node types) to run on")
    for name in names:
        slurm.check_partition(name)
    if spec.max_memory_mb is not None:
        raise UsageError(
            "--max-memory is not available with --on slurm: its batch search runs probe after probe on one machine",
            hint="give the batches explicitly (--batch 1,8,32)",
        )
    if time_limit_min is not None and time_limit_min < 1:
        raise UsageError(f"--time must be a number of minutes >= 1, not {time_limit_min}")
    cpus = max(int(c.threads) for c in cells)
    if not dry_run:
        slurm.require("sbatch")
        slurm.require("squeue")
    if shutil.which("sinfo"):
        known = slurm.partitions()
        for name in names:
            info = known.get(name)
            if info is None:
                raise UsageError(
                    f"partition {name!r} does not exist on this cluster",
                    hint=f"partitions here: {', '.join(sorted(known)) or 'none'} (sinfo)",
                )
            if info.cpus and info.cpus < cpus:
                raise UsageError(
                    f"--threads {cpus} needs {cpus} CPUs per node, but partition {name!r} has nodes with {info.cpus}",
                    hint="lower --threads or leave that partition out",
                )
    return names, cpus


def _write_fleet_dir(sub: Submission) -> None:
    """The fleet directory: every cell's job file, each partition's result and exit folders and its script, the
    submission, and its entry in the registry."""
    root = sub.fleet_dir
    try:
        for sub_dir in ("jobs", "logs", "nodes", "results", "exits"):
            (root / sub_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the fleet directory {root}: {exc.strerror or exc}") from None
    spec_doc = sub.spec.to_dict()
    for i, cell in enumerate(sub.cells):
        _write_json(
            root / "jobs" / f"{i:04d}.json",
            {"sweep_id": sub.sweep_id, "index": i, "spec": spec_doc, "cell": cell.to_dict()},
        )
    for plan in sub.partitions.values():
        (root / "results" / plan.name).mkdir(exist_ok=True)
        (root / "exits" / plan.name).mkdir(exist_ok=True)
        atomic_write(root / plan.script, plan.script_text.encode("utf-8"), 0o755)
    sub.save()
    _register(sub)


def _submit_partitions(sub: Submission, indices: list[int]) -> None:
    """sbatch each partition's script, recording its array job as soon as it is accepted."""
    root = sub.fleet_dir
    with _locked(root):
        for plan in sub.partitions.values():
            path = str(root / plan.script)
            try:
                job_id = slurm.sbatch(path, cwd=str(root))
            except slurm.SlurmError as exc:
                done = [n for n, p in sub.partitions.items() if p.arrays]
                if not done:
                    raise
                raise slurm.SlurmError(
                    f"{exc.message}; partitions {', '.join(done)} were submitted as sweep {sub.sweep_id}",
                    hint=f"`workbench fleet status {sub.sweep_id}`; `workbench fleet resubmit {sub.sweep_id} --failed` "
                    f"submits {plan.name} once it can",
                ) from None
            plan.arrays.append(ArrayJob(job_id, indices, now_iso(), slurm.sbatch_argv(path)))
            sub.save()


# ================================================================================================ registry
def _register(sub: Submission) -> None:
    """Note the sweep in ``default_root()/<id>.json`` so ``fleet status ID`` finds a sweep kept elsewhere."""
    _write_json(
        default_root() / f"{sub.sweep_id}.json",
        {
            "sweep_id": sub.sweep_id,
            "fleet_dir": str(sub.fleet_dir),
            "created": sub.created,
            "model": sub.spec.model,
            "partitions": list(sub.partitions),
            "cells": len(sub.cells),
        },
    )


def list_submissions() -> list[dict[str, Any]]:
    """Every sweep submitted from this workbench state (newest first): id, fleet_dir, created, model, partitions,
    cells, and ``missing`` when its directory is gone."""
    root = default_root()
    out = []
    for path in sorted(root.glob("*.json")):
        doc = _read_json(path)
        if not isinstance(doc, dict) or not doc.get("sweep_id"):
            continue
        doc["missing"] = not (Path(str(doc.get("fleet_dir"))) / SUBMISSION).is_file()
        out.append(doc)
    out.sort(key=lambda d: str(d.get("created") or ""), reverse=True)
    return out


def load(ref: str) -> Submission:
    """The submission ``ref`` names: a sweep id, a unique prefix of one, or the path of a sweep's directory (or
    its submission.json). Raises :class:`UsageError` with one line when nothing or several match."""
    text = (ref or "").strip()
    if not text:
        raise UsageError("give a fleet sweep id (see `workbench fleet list`) or the path of its directory")
    path = Path(text).expanduser()
    if path.name == SUBMISSION and path.is_file():
        path = path.parent
    if (path / SUBMISSION).is_file():
        return _load_dir(path)
    matches = [d for d in list_submissions() if str(d["sweep_id"]).startswith(text)]
    exact = [d for d in matches if d["sweep_id"] == text]
    if exact:
        matches = exact
    if not matches:
        raise UsageError(f"no fleet sweep {text!r} here", hint="see `workbench fleet list`, or give its directory")
    if len(matches) > 1:
        ids = ", ".join(str(d["sweep_id"]) for d in matches[:5])
        raise UsageError(f"{text!r} matches {len(matches)} fleet sweeps ({ids}); give more of the id")
    root = Path(str(matches[0]["fleet_dir"]))
    if not (root / SUBMISSION).is_file():
        raise UsageError(f"fleet sweep {matches[0]['sweep_id']}: its directory {root} is gone or not mounted here")
    return _load_dir(root)


def _load_dir(root: Path) -> Submission:
    doc = _read_json(root / SUBMISSION)
    if not isinstance(doc, dict) or "sweep_id" not in doc or "spec" not in doc:
        raise UsageError(f"{root / SUBMISSION} is not a fleet submission (unreadable or incomplete)")
    if int(doc.get("fleet_schema") or 0) > FLEET_SCHEMA:
        raise UsageError(f"{root} was written by a newer workbench (fleet schema {doc.get('fleet_schema')})")
    try:
        return Submission.from_dict(doc, root)
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{root / SUBMISSION} is damaged ({type(exc).__name__}: {exc})") from None


# ================================================================================================ status
@dataclass
class CellStatus:
    """One cell on one partition. ``state``: "pending" | "running" | "done" | "failed" | "unknown" (no scheduler
    to ask here, and no result yet). ``reason``: why it is pending or failed (the scheduler's, or the runner's
    error); ``detail``: the tail of the task's log for a failure; ``result``: the result file's document."""

    partition: str
    index: int
    cell: CellSpec
    state: str
    array_job_id: str | None = None
    node: str | None = None
    reason: str | None = None
    detail: str | None = None
    slurm_state: str | None = None
    exit_code: int | None = None
    elapsed: str | None = None
    result: dict[str, Any] | None = None

    @property
    def job(self) -> str | None:
        return f"{self.array_job_id}_{self.index}" if self.array_job_id else None

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def to_dict(self) -> dict[str, Any]:
        r = (self.result or {}).get("result") or {}
        return {
            "partition": self.partition,
            "index": self.index,
            "cell": self.cell.to_dict(),
            "key": self.cell.key(),
            "label": self.cell.label(),
            "state": self.state,
            "job": self.job,
            "node": self.node,
            "reason": self.reason,
            "detail": self.detail,
            "slurm_state": self.slurm_state,
            "exit_code": self.exit_code,
            "elapsed": self.elapsed,
            "p50_ms": (r.get("latency_ms") or {}).get("p50") if r.get("status") == "ok" else None,
            "throughput": r.get("throughput") if r.get("status") == "ok" else None,
            "fingerprint": ((self.result or {}).get("system") or {}).get("fingerprint"),
        }


@dataclass
class FleetStatus:
    submission: Submission
    cells: list[CellStatus]
    scheduler: bool  # whether squeue/scontrol could be asked
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("pending", "running", "done", "failed", "unknown")}
        for c in self.cells:
            out[c.state] = out.get(c.state, 0) + 1
        return out

    @property
    def finished(self) -> bool:
        return all(c.finished for c in self.cells)

    def failed(self) -> list[CellStatus]:
        return [c for c in self.cells if c.state == "failed"]

    def to_dict(self) -> dict[str, Any]:
        sub = self.submission
        return {
            "sweep_id": sub.sweep_id,
            "model": sub.spec.model,
            "fleet_dir": str(sub.fleet_dir),
            "created": sub.created,
            "partitions": {n: p.to_dict() for n, p in sub.partitions.items()},
            "counts": self.counts(),
            "finished": self.finished,
            "scheduler": self.scheduler,
            "notes": list(self.notes),
            "cells": [c.to_dict() for c in self.cells],
        }


def _log_path(root: Path, array_job_id: str | None, index: int) -> Path | None:
    return root / "logs" / f"slurm-{array_job_id}_{index}.out" if array_job_id else None


def _log_tail(path: Path | None, lines: int = LOG_TAIL_LINES) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    kept = [ln.rstrip() for ln in text.splitlines() if ln.strip()]
    return "\n".join(kept[-lines:]) or None


def _slurm_line(tail: str | None) -> str | None:
    """Slurm's own verdict in a task log (``slurmstepd: error: *** JOB 6 ON n1 CANCELLED AT … ***``)."""
    for line in reversed((tail or "").splitlines()):
        if "***" in line and "slurmstepd" in line:
            return line.split("error:", 1)[-1].strip()
    return None


def _scheduler_view(
    sub: Submission, wanted: set[str]
) -> tuple[dict[tuple[str, int], slurm.TaskState], bool, list[str]]:
    """(array job id, index) → the scheduler's state, for the array jobs in ``wanted``; whether it was asked."""
    notes: list[str] = []
    if not wanted:
        return {}, True, notes
    if not (shutil.which("squeue") and shutil.which("scontrol")):
        notes.append(
            "squeue/scontrol not found here: cells without a result show as unknown (run this on a login node)"
        )
        return {}, False, notes
    view: dict[tuple[str, int], slurm.TaskState] = {}
    try:
        for t in slurm.squeue(sorted(wanted)):
            view[(t.array_job_id, t.index)] = t
        for job in sorted(wanted):
            for t in slurm.scontrol_jobs(job):
                key = (t.array_job_id, t.index)
                view[key] = view[key].merged(t) if key in view else t
    except WorkbenchError as exc:
        notes.append(f"the scheduler did not answer ({exc}); cells without a result show as unknown")
        return {}, False, notes
    return view, True, notes


def _pending_state(task: slurm.TaskState) -> str:
    return (
        "pending" if task.state in ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING") else "running"
    )


def status(sub: Submission, *, ask_scheduler: bool = True) -> FleetStatus:
    """Where every cell of ``sub`` is: result files first (a result is final), then the scheduler's view (squeue,
    then scontrol for exit codes), then what was observed before (``observed.json``). Updates ``observed.json``.
    Never raises for a scheduler that does not answer: those cells are "unknown", with a note."""
    root = sub.fleet_dir
    plans: list[tuple[PartitionPlan, int, ArrayJob | None]] = [
        (plan, i, plan.current(i)) for plan in sub.partitions.values() for i in range(len(sub.cells))
    ]
    results: dict[tuple[str, int], dict[str, Any]] = {}
    _read_results(sub, plans, results)
    wanted = {a.job_id for plan, i, a in plans if a and a.job_id and (plan.name, i) not in results}
    view, asked, notes = _scheduler_view(sub, wanted if ask_scheduler else set())
    _read_results(sub, plans, results)  # a task that finished while the scheduler was asked: its result is there now
    if not ask_scheduler and wanted:
        asked = False
    observed_doc = _read_json(root / OBSERVED)
    observed: dict[str, Any] = observed_doc if isinstance(observed_doc, dict) else {}
    new_observed = dict(observed)
    cells: list[CellStatus] = []
    for plan, i, array in plans:
        cs = CellStatus(plan.name, i, sub.cells[i], "unknown", array_job_id=array.job_id if array else None)
        doc = results.get((plan.name, i))
        if array is None:  # sbatch refused this partition's job at submission
            cs.state = "failed"
            cs.reason = f"not submitted: sbatch refused partition {plan.name}'s job; resubmit --failed submits it"
        elif doc is not None:
            _from_result(cs, doc, _exit_doc(root, cs), root)
        else:
            task = _task(cs, view, observed, new_observed)
            _from_scheduler(cs, task, _exit_doc(root, cs), root, in_view=(cs.array_job_id, i) in view, asked=asked)
        cells.append(cs)
    if new_observed != observed:
        try:
            with _locked(root):
                _write_json(root / OBSERVED, new_observed)
        except (WorkbenchError, OSError) as exc:  # read-only fleet dir: the status stands, it is not remembered
            notes.append(f"could not keep the scheduler's view in {root / OBSERVED}: {exc}")
    return FleetStatus(sub, cells, asked, notes)


def _read_results(
    sub: Submission, plans: list[tuple[PartitionPlan, int, ArrayJob | None]], results: dict[tuple[str, int], Any]
) -> None:
    """Add to ``results`` the result files now present for the cells it does not have yet."""
    for plan, i, _ in plans:
        if (plan.name, i) not in results:
            doc = _result_doc(sub.fleet_dir, plan.name, i, sub.sweep_id)
            if doc is not None:
                results[(plan.name, i)] = doc


def _exit_doc(root: Path, cs: CellStatus) -> dict[str, Any] | None:
    """The exit file the task's script wrote, when it is of this attempt."""
    doc = _read_json(root / "exits" / cs.partition / f"{cs.index:04d}.json")
    aid = cs.array_job_id
    if not isinstance(doc, dict) or (aid and str(doc.get("array_job_id") or aid) != aid):
        return None
    return doc


def _from_result(cs: CellStatus, doc: dict[str, Any], exit_doc: dict[str, Any] | None, root: Path) -> None:
    """A cell with a result file: done, or failed with the runner's error."""
    r = doc.get("result") or {}
    cs.result = doc
    cs.node = _short(doc.get("host")) or (exit_doc or {}).get("node")
    cs.exit_code = (exit_doc or {}).get("exit_code")
    if r.get("status") == "ok":
        cs.state = "done"
    else:
        cs.state = "failed"
        cs.reason = str(r.get("error") or "the cell failed")
        cs.detail = r.get("error_detail") or _log_tail(_log_path(root, cs.array_job_id, cs.index))


def _task(
    cs: CellStatus,
    view: dict[tuple[str, int], slurm.TaskState],
    observed: dict[str, Any],
    new_observed: dict[str, Any],
) -> slurm.TaskState | None:
    """The scheduler's word on a cell's task: what it says now (noted in ``new_observed``), or what it said
    before (``observed``) for this attempt."""
    aid, i = cs.array_job_id, cs.index
    okey = f"{cs.partition}/{i}"
    task = view.get((aid, i)) if aid is not None else None
    seen = observed.get(okey) if isinstance(observed.get(okey), dict) else None
    if seen and seen.get("array_job_id") != aid:
        seen = None
    if task is not None:
        new_observed[okey] = {"array_job_id": aid, "task": task.to_dict(), "seen": now_iso()}
    elif seen is not None:
        task = slurm.TaskState.from_dict(seen.get("task") or {"array_job_id": aid, "index": i, "state": "UNKNOWN"})
    return task


def _from_scheduler(
    cs: CellStatus,
    task: slurm.TaskState | None,
    exit_doc: dict[str, Any] | None,
    root: Path,
    *,
    in_view: bool,
    asked: bool,
) -> None:
    """A cell without a result: pending or running while the scheduler has it, else failed with the reason."""
    aid, i = cs.array_job_id, cs.index
    if exit_doc is not None:
        cs.exit_code = exit_doc.get("exit_code")
        cs.node = exit_doc.get("node") or cs.node
    if task is not None:
        cs.slurm_state = task.state
        cs.node = cs.node or task.node
        cs.elapsed = task.elapsed
        if cs.exit_code is None:
            cs.exit_code = task.exit_code
    if task is not None and task.active and in_view and aid is not None:
        cs.state = _pending_state(task)
        cs.reason = task.reason if cs.state == "pending" else None
        return
    ended = task is not None and (task.failed or task.state == "COMPLETED" or not task.active)
    if not ended and exit_doc is None and not (asked and aid):
        cs.reason = "no result yet; the scheduler could not be asked"
        return
    cs.state = "failed"
    cs.detail = _log_tail(_log_path(root, aid, i))
    if task is not None and ended:
        if task.state == "COMPLETED":
            cs.reason = f"slurm COMPLETED: task {i} of job {aid} wrote no result (see its log)"
        else:
            cs.reason = slurm.describe_failure(task)
        verdict = _slurm_line(cs.detail)
        if verdict and verdict not in cs.reason:
            cs.reason += f"; {verdict}"
    elif exit_doc is not None:
        cs.reason = (
            f"task {i} of job {aid} exited with code {exit_doc.get('exit_code')} on node {exit_doc.get('node')} "
            "and wrote no result"
        )
    else:
        cs.reason = (
            f"lost: the scheduler no longer knows task {i} of job {aid} and it left no result "
            "(cancelled while pending, or finished longer ago than MinJobAge)"
        )


def _result_doc(root: Path, partition: str, index: int, sweep_id: str) -> dict[str, Any] | None:
    """The result file of a cell on a partition, when it is there, readable and of this sweep."""
    doc = _read_json(root / "results" / partition / f"{index:04d}.json")
    if isinstance(doc, dict) and isinstance(doc.get("result"), dict) and doc.get("sweep_id") in (None, sweep_id):
        return doc
    return None


def _short(host: Any) -> str | None:
    return str(host).split(".", 1)[0] if host else None


# ================================================================================================ resubmit
@dataclass
class ResubmitReport:
    sweep_id: str
    arrays: dict[str, ArrayJob]  # partition → the new array job (job_id None in a dry run)
    cells: list[CellStatus]
    dry_run: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "dry_run": self.dry_run,
            "arrays": {p: a.to_dict() for p, a in self.arrays.items()},
            "cells": [c.to_dict() for c in self.cells],
        }


def _move_aside(root: Path, partition: str, index: int, tag: str) -> list[tuple[Path, Path]]:
    moved = []
    for kind in ("results", "exits"):
        src = root / kind / partition / f"{index:04d}.json"
        if src.exists():
            dst = root / "attempts" / partition / f"{index:04d}.{kind}.{tag}.json"
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)
            moved.append((src, dst))
    return moved


def resubmit_failed(sub: Submission, *, dry_run: bool = False) -> ResubmitReport:
    """Rerun only the failed cells of ``sub``: per partition, one new array job over exactly their indices (the
    same script, ``--array`` overridden). Their old result and exit files move to ``attempts/`` first, so the
    new attempt's files are the ones read. Cells pending, running or done are left alone. Raises
    :class:`~workbench.cluster.slurm.SlurmError` when sbatch refuses (that partition's files are put back)."""
    if sub.dry_run:
        raise UsageError("a dry run submitted nothing to resubmit")
    st = status(sub)
    failed = st.failed()
    by_part: dict[str, list[CellStatus]] = {}
    for cs in failed:
        by_part.setdefault(cs.partition, []).append(cs)
    arrays: dict[str, ArrayJob] = {}
    root = sub.fleet_dir
    if not dry_run and by_part:
        slurm.require("sbatch")
    with _locked(root):
        for name, members in by_part.items():
            plan = sub.partitions[name]
            indices = sorted(c.index for c in members)
            path = str(root / plan.script)
            argv = slurm.sbatch_argv(path, indices)
            if dry_run:
                arrays[name] = ArrayJob(None, indices, "", argv)
                continue
            moved: list[tuple[Path, Path]] = []
            for cs in members:
                moved += _move_aside(root, name, cs.index, cs.array_job_id or "none")
            try:
                job_id = slurm.sbatch(path, indices, cwd=str(root))
            except WorkbenchError:
                for src, dst in moved:
                    os.replace(dst, src)
                raise
            arrays[name] = ArrayJob(job_id, indices, now_iso(), argv)
            plan.arrays.append(arrays[name])
            sub.save()
    return ResubmitReport(sub.sweep_id, arrays, failed, dry_run)
