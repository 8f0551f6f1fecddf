"""The Slurm side of the fleet: the batch script of a sweep, and thin wrappers over sbatch, squeue, scontrol,
scancel and sinfo.

One sweep on one partition is one *array job*; array task ``i`` runs cell ``i`` of the sweep (its job file
``jobs/NNNN.json``) with the same pinned cell runner a local sweep uses (``python -m workbench sweep-cell JOB OUT``),
on an exclusive node by default, and writes its result to ``results/<partition>/NNNN.json`` on the shared
filesystem. The script also records the task's exit code (``exits/<partition>/NNNN.json``) and, once per node, the
node's machine description (``nodes/<node>.json``), so a task that died without a result can still be filed under
the machine it ran on. See docs/fleet.md.

Why generated scripts and not a library such as submitit
    The task must run *our* cell runner in a fresh, pinned process with the exact interpreter that submitted it —
    the script is some thirty lines of shell around one command. What a library adds (pickling a Python callable, its own
    result files and polling) is what we must not have: the result format is ours (read back by ``fleet collect``),
    the state must come from squeue/scontrol on clusters without accounting (submitit reads job state with
    ``sacct``), and a user must be able to read, diff and resubmit the exact script (``--dry-run`` prints it). A
    generated script has no dependency and works with any Slurm that has array jobs (17.11+).

Nothing here imports an engine or touches the history. Missing commands are one readable line
(:class:`~workbench.errors.UsageError`); a command that fails is a :class:`SlurmError` with Slurm's own message.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from workbench.errors import UsageError, WorkbenchError

__all__ = [
    "SlurmError",
    "ScriptOptions",
    "TaskState",
    "ACTIVE_STATES",
    "FAILED_STATES",
    "array_spec",
    "parse_array_spec",
    "render_script",
    "require",
    "sbatch",
    "sbatch_argv",
    "squeue",
    "scontrol_jobs",
    "parse_squeue",
    "parse_scontrol",
    "scancel",
    "partitions",
    "parse_sinfo",
    "describe_failure",
    "SQUEUE_FORMAT",
    "PartitionInfo",
    "check_partition",
]

#: squeue's columns, ``|``-separated: task id (``123_4``), its job id, the array job id, the array index, state,
#: reason, node list, partition, elapsed, time limit, start, end
SQUEUE_FORMAT = "%i|%A|%F|%K|%T|%r|%N|%P|%M|%l|%S|%e"

#: states of a task that may still produce a result
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "RESIZING",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
        "SPECIAL_EXIT",
    }
)
#: terminal states in which the task did not finish its work
FAILED_STATES = frozenset(
    {
        "FAILED",
        "TIMEOUT",
        "CANCELLED",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
    }
)

_PARTITION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class SlurmError(WorkbenchError):
    """A Slurm command failed (sbatch refused the job, the controller does not answer); exit 1."""

    exit_code = 1


# ------------------------------------------------------------------------------------------------- commands
def require(command: str) -> str:
    """The path of the Slurm command ``command``; :class:`UsageError` when this machine does not have it."""
    path = shutil.which(command)
    if not path:
        raise UsageError(
            f"{command} not found: this machine is not a Slurm login node",
            hint="run this where the Slurm client commands (sbatch, squeue, scontrol) are installed",
        )
    return path


def _run(argv: Sequence[str], *, timeout: float = 60.0, ok_codes: Iterable[int] = (0,)) -> tuple[int, str, str]:
    """Run a Slurm command; returns (returncode, stdout, stderr). A missing command or a hang is one line."""
    exe = require(argv[0])
    try:
        proc = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{argv[0]} did not answer within {timeout:g} s: is slurmctld up (`scontrol ping`)?") from None
    except OSError as exc:
        raise SlurmError(f"cannot run {argv[0]}: {exc.strerror or exc}") from None
    if proc.returncode not in set(ok_codes):
        raise SlurmError(f"{' '.join(argv[:2])} failed: {_last_line(proc.stderr or proc.stdout) or 'no message'}")
    return proc.returncode, proc.stdout, proc.stderr


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# ------------------------------------------------------------------------------------------------- array specs
def array_spec(indices: Iterable[int]) -> str:
    """Array indices as Slurm's ``--array`` text: ``[0, 1, 2, 5, 7, 8]`` → ``0-2,5,7-8``. Raises on none."""
    values = sorted(set(int(i) for i in indices))
    if not values:
        raise UsageError("no array tasks to submit")
    if values[0] < 0:
        raise UsageError(f"array indices must be >= 0, not {values[0]}")
    parts: list[str] = []
    start = prev = values[0]
    for v in values[1:]:
        if v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = v
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)


def parse_array_spec(text: str) -> list[int]:
    """The inverse of :func:`array_spec` (also ``1-9:2`` steps and a ``%N`` throttle suffix)."""
    out: list[int] = []
    body = text.strip().split("%", 1)[0].strip().strip("[]")
    for part in body.split(","):
        part = part.strip()
        if not part:
            continue
        step = 1
        if ":" in part:
            part, s = part.split(":", 1)
            step = int(s)
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1, step))
        else:
            out.append(int(part))
    return sorted(set(out))


# ------------------------------------------------------------------------------------------------- the script
@dataclass(frozen=True)
class ScriptOptions:
    """What one array job of a sweep asks Slurm for, and where its files go.

    ``fleet_dir``: the sweep's directory on the shared filesystem (jobs/, results/, logs/ …); ``python``: the
    interpreter the tasks run (the one that submitted: the nodes need the same environment at the same path);
    ``cpus_per_task``: the largest thread count among the cells (a cell pins its first ``threads`` cores of the
    task's CPUs); ``exclusive``: the node to itself (nothing else runs beside the benchmark);
    ``physical_cores``: ``--hint=nomultithread`` (one hardware thread per core); ``time_limit_min``: per task.
    """

    sweep_id: str
    model: str
    partition: str
    indices: tuple[int, ...]
    fleet_dir: str
    python: str
    cpus_per_task: int
    exclusive: bool = True
    physical_cores: bool = False
    time_limit_min: int | None = None
    workbench_version: str = ""
    extra_env: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def job_name(self) -> str:
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", self.model)[:32] or "model"
        return f"wb-{model}-{self.sweep_id[:8]}"


def check_partition(name: str) -> str:
    """``name`` when it is a plausible Slurm partition name; :class:`UsageError` otherwise."""
    if not _PARTITION_RE.match(name or ""):
        raise UsageError(f"--partition {name!r} is not a partition name (letters, digits, '.', '_' and '-')")
    return name


def render_script(opts: ScriptOptions) -> str:
    """The batch script of one array job (``sbatch`` reads the ``#SBATCH`` lines; ``--dry-run`` prints it).

    Each task: note the node's machine description once (``nodes/<node>.json``), run the cell runner on
    ``jobs/NNNN.json`` writing ``results/<partition>/NNNN.json``, then record its exit code in
    ``exits/<partition>/NNNN.json``; the task's exit code is the runner's.
    """
    check_partition(opts.partition)
    if opts.cpus_per_task < 1:
        raise UsageError(f"--cpus-per-task must be >= 1, not {opts.cpus_per_task}")
    q = shlex.quote
    fleet = opts.fleet_dir
    lines = [
        "#!/bin/bash",
        f"# workbench fleet: sweep {opts.sweep_id} of model {opts.model} on partition {opts.partition}",
        "# One array task per cell: task i runs jobs/NNNN.json (i zero-padded) with the pinned cell runner and",
        "# writes results/<partition>/NNNN.json. Generated by workbench"
        + (f" {opts.workbench_version}" if opts.workbench_version else "")
        + f"; resubmit failures with `workbench fleet resubmit {opts.sweep_id} --failed`.",
        f"#SBATCH --job-name={opts.job_name()}",
        f"#SBATCH --partition={opts.partition}",
        f"#SBATCH --array={array_spec(opts.indices)}",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={opts.cpus_per_task}",
    ]
    if opts.exclusive:
        lines.append("#SBATCH --exclusive")
    if opts.physical_cores:
        lines.append("#SBATCH --hint=nomultithread")
    if opts.time_limit_min is not None:
        if opts.time_limit_min < 1:
            raise UsageError(f"--time must be >= 1 minute, not {opts.time_limit_min}")
        lines.append(f"#SBATCH --time={int(opts.time_limit_min)}")
    lines += [
        f"#SBATCH --output={fleet}/logs/slurm-%A_%a.out",
        "#SBATCH --open-mode=append",
        "set -u",
        f"FLEET={q(fleet)}",
        f"PART={q(opts.partition)}",
        f"PY={q(opts.python)}",
    ]
    for key, value in opts.extra_env:
        lines.append(f"export {key}={q(value)}")
    lines += [
        'TASK="${SLURM_ARRAY_TASK_ID:?submit this script with sbatch: it is an array job}"',
        'N=$(printf "%04d" "$TASK")',
        "NODE=$(hostname -s)",
        'mkdir -p "$FLEET/results/$PART" "$FLEET/exits/$PART" "$FLEET/nodes"',
        'echo "workbench fleet: cell $TASK on $NODE, job ${SLURM_JOB_ID:-?} (array ${SLURM_ARRAY_JOB_ID:-?}), $(date -Is)"',
        "# the node's machine description, once per node: the fingerprint a task that leaves no result is filed under",
        'if [ ! -s "$FLEET/nodes/$NODE.json" ]; then',
        '  "$PY" -m workbench sysinfo --json >"$FLEET/nodes/.$NODE.json.$$" 2>/dev/null \\',
        '    && mv -f "$FLEET/nodes/.$NODE.json.$$" "$FLEET/nodes/$NODE.json" || rm -f "$FLEET/nodes/.$NODE.json.$$"',
        "fi",
        '"$PY" -m workbench sweep-cell "$FLEET/jobs/$N.json" "$FLEET/results/$PART/$N.json"',
        "RC=$?",
        'printf \'{"index": %d, "exit_code": %d, "node": "%s", "job_id": "%s", "array_job_id": "%s", "finished": "%s"}\\n\' \\',
        '  "$TASK" "$RC" "$NODE" "${SLURM_JOB_ID:-}" "${SLURM_ARRAY_JOB_ID:-}" "$(date -Is)" \\',
        '  >"$FLEET/exits/$PART/.$N.json.$$" && mv -f "$FLEET/exits/$PART/.$N.json.$$" "$FLEET/exits/$PART/$N.json"',
        'echo "workbench fleet: cell $TASK exited $RC, $(date -Is)"',
        'exit "$RC"',
    ]
    return "\n".join(lines) + "\n"


def sbatch_argv(script_path: str, indices: Sequence[int] | None = None) -> list[str]:
    """The sbatch command for ``script_path``; ``indices`` overrides the script's ``--array`` (a resubmission)."""
    argv = ["sbatch", "--parsable"]
    if indices is not None:
        argv.append(f"--array={array_spec(indices)}")
    argv.append(script_path)
    return argv


def sbatch(script_path: str, indices: Sequence[int] | None = None, *, cwd: str | None = None) -> str:
    """Submit ``script_path`` (see :func:`sbatch_argv`); returns the array job id. :class:`SlurmError` when sbatch
    refuses it (with sbatch's own reason, e.g. an unknown partition)."""
    argv = sbatch_argv(script_path, indices)
    exe = require("sbatch")
    try:
        proc = subprocess.run(
            [exe, *argv[1:]], capture_output=True, text=True, timeout=120, cwd=cwd, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise SlurmError("sbatch did not answer within 120 s: is slurmctld up (`scontrol ping`)?") from None
    if proc.returncode != 0:
        raise SlurmError(f"sbatch refused {script_path}: {_last_line(proc.stderr or proc.stdout) or 'no message'}")
    text = _last_line(proc.stdout)
    job_id = text.split(";", 1)[0].strip()
    if not job_id.isdigit():
        raise SlurmError(f"sbatch printed no job id (got {text!r})")
    return job_id


def scancel(job: str) -> None:
    """Cancel a job or one array task (``123`` or ``123_4``)."""
    _run(["scancel", str(job)])


# ------------------------------------------------------------------------------------------------- state
@dataclass(frozen=True)
class TaskState:
    """One array task as the scheduler sees it. ``task_job_id``: the task's own job id (``%A``), ``array_job_id``:
    the array's, ``index``: the array index; ``exit_code``/``signal`` only from scontrol."""

    array_job_id: str
    index: int
    state: str
    reason: str | None = None
    node: str | None = None
    partition: str | None = None
    task_job_id: str | None = None
    elapsed: str | None = None
    time_limit: str | None = None
    start: str | None = None
    end: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    restarts: int | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def failed(self) -> bool:
        return self.state in FAILED_STATES or (self.state == "COMPLETED" and bool(self.exit_code))

    def merged(self, other: "TaskState") -> "TaskState":
        """This state with the fields ``other`` knows and this one does not (squeue + scontrol)."""
        kw = {k: v for k, v in other.__dict__.items() if v not in (None, "")}
        kw.update({k: v for k, v in self.__dict__.items() if v not in (None, "")})
        return TaskState(**kw)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TaskState":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def _none(text: str | None) -> str | None:
    t = (text or "").strip()
    return None if t in ("", "None", "(null)", "N/A", "NONE", "Unknown", "n/a") else t


def _state(text: str) -> str:
    # "CANCELLED by 0" (scontrol) → CANCELLED; "CANCELLED+" (sacct) → CANCELLED
    return (text or "").strip().split()[0].rstrip("+").upper() if (text or "").strip() else "UNKNOWN"


def parse_squeue(text: str) -> list[TaskState]:
    """squeue ``-h -r -o SQUEUE_FORMAT`` output → one :class:`TaskState` per array task (other lines skipped)."""
    out: list[TaskState] = []
    for line in (text or "").splitlines():
        cols = line.strip().split("|")
        if len(cols) < 8:
            continue
        tid, job, array_job, index = cols[0], cols[1], cols[2], cols[3]
        if not index.strip().isdigit():  # a non-array job, or an unexpanded range
            m = re.match(r"^(\d+)_(\d+)$", tid.strip())
            if not m:
                continue
            array_job, index = m.group(1), m.group(2)
        cols += [""] * (12 - len(cols))
        out.append(
            TaskState(
                array_job_id=array_job.strip(),
                index=int(index),
                state=_state(cols[4]),
                reason=_none(cols[5]),
                node=_none(cols[6]),
                partition=_none(cols[7]),
                task_job_id=_none(job),
                elapsed=_none(cols[8]),
                time_limit=_none(cols[9]),
                start=_none(cols[10]),
                end=_none(cols[11]),
            )
        )
    return out


_KV_RE = re.compile(r"(\S+?)=(\S*)")


def _kv(line: str) -> dict[str, str]:
    """``scontrol show job -o`` line → dict (values never contain spaces in one-line mode, except the
    trailing ``Command=``/``Comment=`` which we do not need)."""
    return {m.group(1): m.group(2) for m in _KV_RE.finditer(line)}


def parse_scontrol(text: str) -> list[TaskState]:
    """``scontrol show job -o ARRAY_JOB_ID`` output → one :class:`TaskState` per array task with its exit code
    and signal. A line for still-pending tasks (``ArrayTaskId=2-5``) yields one state per index."""
    out: list[TaskState] = []
    for line in (text or "").splitlines():
        if "JobId=" not in line:
            continue
        kv = _kv(line)
        array_job = kv.get("ArrayJobId")
        task = kv.get("ArrayTaskId")
        if not array_job or not task:
            continue
        try:
            indices = parse_array_spec(task)
        except ValueError:
            continue
        code = sig = None
        ec = kv.get("ExitCode", "")
        if ":" in ec:
            a, b = ec.split(":", 1)
            code = int(a) if a.isdigit() else None
            sig = int(b) if b.isdigit() else None
        restarts = kv.get("Restarts")
        for i in indices:
            out.append(
                TaskState(
                    array_job_id=array_job,
                    index=i,
                    state=_state(kv.get("JobState", "")),
                    reason=_none(kv.get("Reason")),
                    node=_none(kv.get("NodeList")) or _none(kv.get("BatchHost")),
                    partition=_none(kv.get("Partition")),
                    task_job_id=kv.get("JobId") if len(indices) == 1 else None,
                    elapsed=_none(kv.get("RunTime")),
                    time_limit=_none(kv.get("TimeLimit")),
                    start=_none(kv.get("StartTime")),
                    end=_none(kv.get("EndTime")),
                    exit_code=code,
                    signal=sig,
                    restarts=int(restarts) if restarts and restarts.isdigit() else None,
                )
            )
    return out


def _unknown_job(stderr: str) -> bool:
    return "Invalid job id" in (stderr or "")


def squeue(array_job_ids: Sequence[str]) -> list[TaskState]:
    """Every task of these array jobs the controller still knows, in any state (``-t all``; finished tasks stay
    for ``MinJobAge``). Jobs it no longer knows are simply absent."""
    ids = [str(j) for j in array_job_ids if str(j).strip()]
    if not ids:
        return []
    rc, out, err = _run(["squeue", "-h", "-r", "-t", "all", "-j", ",".join(ids), "-o", SQUEUE_FORMAT], ok_codes=(0, 1))
    if rc != 0:
        if _unknown_job(err):
            # every id unknown (squeue fails only when none is known): ask one by one is pointless, none are
            return []
        raise SlurmError(f"squeue failed: {_last_line(err) or 'no message'}")
    return parse_squeue(out)


def scontrol_jobs(array_job_id: str) -> list[TaskState]:
    """``scontrol show job -o`` for one array job: its tasks with exit codes (empty when the controller forgot it)."""
    rc, out, err = _run(["scontrol", "show", "job", "-o", str(array_job_id)], ok_codes=(0, 1))
    if rc != 0:
        if _unknown_job(err) or _unknown_job(out):
            return []
        raise SlurmError(f"scontrol show job failed: {_last_line(err) or 'no message'}")
    return parse_scontrol(out)


# ------------------------------------------------------------------------------------------------- partitions
@dataclass(frozen=True)
class PartitionInfo:
    name: str
    available: str  # "up" | "down" | ...
    nodes: int
    cpus: int  # CPUs per node (the smallest, when the partition mixes node types)
    node_names: str = ""


def parse_sinfo(text: str) -> dict[str, PartitionInfo]:
    """``sinfo -h -o "%R|%a|%D|%c|%N"`` → partition name → :class:`PartitionInfo` (lines of one partition merged:
    nodes summed, CPUs the smallest)."""
    out: dict[str, PartitionInfo] = {}
    for line in (text or "").splitlines():
        cols = line.strip().split("|")
        if len(cols) < 4:
            continue
        name = cols[0].strip().rstrip("*")
        try:
            nodes = int(cols[2])
            cpus = int(re.sub(r"\D.*$", "", cols[3]) or 0)
        except ValueError:
            continue
        prev = out.get(name)
        names = cols[4].strip() if len(cols) > 4 else ""
        if prev:
            out[name] = PartitionInfo(
                name,
                prev.available,
                prev.nodes + nodes,
                min(prev.cpus, cpus),
                ",".join(x for x in (prev.node_names, names) if x),
            )
        else:
            out[name] = PartitionInfo(name, cols[1].strip(), nodes, cpus, names)
    return out


def partitions() -> dict[str, PartitionInfo]:
    """The cluster's partitions (sinfo)."""
    _, out, _ = _run(["sinfo", "-h", "-o", "%R|%a|%D|%c|%N"])
    return parse_sinfo(out)


# ------------------------------------------------------------------------------------------------- reasons
_STATE_WORDS = {
    "FAILED": "exited non-zero",
    "TIMEOUT": "hit its time limit",
    "CANCELLED": "was cancelled",
    "NODE_FAIL": "lost its node (node failure)",
    "PREEMPTED": "was preempted",
    "OUT_OF_MEMORY": "ran out of memory",
    "BOOT_FAIL": "could not boot its node",
    "DEADLINE": "missed its deadline",
    "REVOKED": "was revoked",
}


def describe_failure(task: TaskState) -> str:
    """One line for a failed task: ``slurm TIMEOUT: task 3 of job 123 hit its time limit (00:05:00) on node n1
    (Reason=TimeLimit, exit 0:15)``."""
    words = _STATE_WORDS.get(task.state, f"ended {task.state}")
    if task.state == "TIMEOUT" and task.time_limit:
        words += f" ({task.time_limit})"
    where = f" on node {task.node}" if task.node else ""
    bits = []
    if task.reason and task.reason != "None":
        bits.append(f"Reason={task.reason}")
    if task.exit_code is not None or task.signal is not None:
        bits.append(f"exit {task.exit_code if task.exit_code is not None else '?'}:{task.signal or 0}")
    tail = f" ({', '.join(bits)})" if bits else ""
    return f"slurm {task.state}: task {task.index} of job {task.array_job_id} {words}{where}{tail}"
