"""The parent <-> child protocol: one home for what crosses the pipe between the workbench and the processes it
starts (the benchmark process, :mod:`workbench.measure.child`, and the preparation process,
:mod:`workbench.measure.prepare`).

Parent -> child: newline-terminated JSON lines on the child's stdin. The first line is the job (a :class:`Job`
for a benchmark process); a benchmark process then takes commands (:class:`MeasureCommand`, or ``exit``).

Child -> parent: frames on the child's private protocol fd (stdout at start): 1 kind byte + 4-byte little-endian
payload length (:data:`HEADER`) + payload. Kinds:

* ``J`` (:data:`JSON`) — a JSON object with a ``type`` (``loaded``, ``round_done``, ``artifact``, ``error``; in
  ``--mode generate`` also ``ttft``: ``{"ns": [...]}``, the times to first token of the generations since the last
  one, sent just before their decode steps' samples frame);
* ``S`` (:data:`SAMPLES`) — a batch of samples: the measured time elapsed so far in the round as an int64
  (:data:`ELAPSED`), then int64 nanosecond latencies (:func:`encode_samples` / :func:`decode_samples`);
* ``O`` (:data:`OUTPUTS`) — the outputs of the reference input as an ``.npz`` (:func:`encode_outputs` /
  :func:`decode_outputs`); with :attr:`Job.drift_seeds`, one more ``O`` frame per drift seed follows.

An ``error`` message (:func:`error_message`) carries one readable line, the kind ``"user"`` for a
:class:`~workbench.errors.WorkbenchError` (else the exception's class name) and the nearest workbench error class,
so the parent can raise the same one-line error (:func:`raise_error`).

This module imports nothing heavy at module level: the benchmark process reads its job with it *before* pinning
itself and importing numpy or the engine. numpy is imported inside the functions that need it.

:func:`kill_process_group` is the one way the workbench kills a child it started: every such child runs in its
own session (``start_new_session=True``), so killing its process group also ends whatever it started.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Mapping, NoReturn

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

#: Frame kinds.
JSON = b"J"
SAMPLES = b"S"
OUTPUTS = b"O"
FRAME_KINDS: tuple[bytes, ...] = (JSON, SAMPLES, OUTPUTS)
#: Frame header: kind byte, payload length (little-endian uint32).
HEADER = struct.Struct("<cI")
#: Prefix of a sample batch: measured nanoseconds elapsed in the round so far (little-endian int64).
ELAPSED = struct.Struct("<q")
#: Largest payload a frame may carry (the length field is 32 bits).
MAX_PAYLOAD = (1 << 32) - 1


class ProtocolError(Exception):
    """A malformed frame or message (a bug on one side, or a corrupted stream)."""


# ---- frames ------------------------------------------------------------------------------------------------------
def encode_frame(kind: bytes, payload: bytes) -> bytes:
    """One frame: header + payload."""
    if kind not in FRAME_KINDS:
        raise ProtocolError(f"unknown frame kind {kind!r}")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {len(payload)} bytes is too large")
    return HEADER.pack(kind, len(payload)) + payload


@dataclass(frozen=True)
class Frame:
    """One frame as read by the parent."""

    kind: bytes
    payload: bytes

    def message(self) -> dict[str, Any]:
        """The JSON object of a ``J`` frame."""
        if self.kind != JSON:
            raise ProtocolError(f"frame {self.kind!r} is not a JSON message")
        msg = json.loads(self.payload)
        if not isinstance(msg, dict):
            raise ProtocolError("a JSON frame must hold an object")
        return msg


class FrameWriter:
    """Child side: writes frames to a file descriptor (blocking, complete writes)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def write(self, kind: bytes, payload: bytes) -> None:
        view = memoryview(encode_frame(kind, payload))
        while view:
            n = os.write(self.fd, view)
            view = view[n:]

    def json(self, **msg: Any) -> None:
        self.write(JSON, json.dumps(msg, default=str).encode())

    def samples(self, raw: bytes, elapsed_ns: int) -> None:
        """A batch of int64 latencies (``array('q').tobytes()``); nothing is sent for an empty batch."""
        if raw:
            self.write(SAMPLES, encode_samples(raw, elapsed_ns))

    def outputs(self, outputs: Mapping[str, Any]) -> None:
        """The model outputs (numpy arrays by name) as an ``.npz``."""
        self.write(OUTPUTS, encode_outputs(outputs))


class FrameReader:
    """Parent side: an incremental parser. :meth:`feed` it bytes as they arrive (any split), take complete frames
    with :meth:`next` (or iterate :meth:`frames`)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._buf += chunk

    @property
    def pending(self) -> int:
        """Bytes received that do not yet make a complete frame."""
        return len(self._buf)

    def next(self) -> Frame | None:
        """The next complete frame, or None until more bytes arrive."""
        if len(self._buf) < HEADER.size:
            return None
        kind, length = HEADER.unpack_from(self._buf)
        if kind not in FRAME_KINDS:
            raise ProtocolError(f"unknown frame kind {kind!r} (corrupted stream?)")
        end = HEADER.size + length
        if len(self._buf) < end:
            return None
        payload = bytes(self._buf[HEADER.size : end])
        del self._buf[:end]
        return Frame(kind, payload)

    def frames(self) -> list[Frame]:
        """Every complete frame received so far."""
        out = []
        while (frame := self.next()) is not None:
            out.append(frame)
        return out


def read_frame(fd: int, reader: FrameReader, timeout: float, *, chunk_size: int = 1 << 20) -> Frame | None:
    """The next complete frame from ``fd`` (through ``reader``) within ``timeout`` seconds, waiting with
    ``select`` (never spinning); None when the time passes first. Raises EOFError when the other side closed the
    pipe before a complete frame arrived."""
    deadline = time.monotonic() + timeout
    while True:
        frame = reader.next()
        if frame is not None:
            return frame
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, chunk_size)
        if not chunk:
            raise EOFError("the process closed its protocol pipe")
        reader.feed(chunk)


# ---- payloads ----------------------------------------------------------------------------------------------------
def encode_samples(raw: bytes, elapsed_ns: int) -> bytes:
    """A sample batch: ``elapsed_ns`` (measured time so far in the round) + int64 nanosecond latencies."""
    if len(raw) % 8:
        raise ProtocolError("sample data must be whole int64 values")
    return ELAPSED.pack(int(elapsed_ns)) + bytes(raw)


def decode_samples(payload: bytes) -> tuple[int, "np.ndarray"]:
    """``(elapsed_ns, latencies)`` of a sample batch; the latencies are a read-only int64 array over ``payload``."""
    import numpy as np

    if len(payload) < ELAPSED.size or (len(payload) - ELAPSED.size) % 8:
        raise ProtocolError(f"a sample batch of {len(payload)} bytes is malformed")
    (elapsed_ns,) = ELAPSED.unpack_from(payload)
    return int(elapsed_ns), np.frombuffer(payload, dtype="<i8", offset=ELAPSED.size)


def encode_outputs(outputs: Mapping[str, Any]) -> bytes:
    """Model outputs (numpy arrays by name) as ``.npz`` bytes."""
    import io

    from workbench.models.inputs import write_npz

    buf = io.BytesIO()
    write_npz(buf, outputs)
    return buf.getvalue()


def decode_outputs(blob: bytes) -> dict[str, "np.ndarray"]:
    """The outputs of an ``O`` frame, in the order they were sent (never unpickled)."""
    import io

    import numpy as np

    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


# ---- the job and the commands ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """What a benchmark process runs: one engine on one artifact. Defaults live here, once.

    ``artifact`` is :meth:`ModelArtifact.to_dict`; ``threads`` None means one per pinned core; ``cores`` None means
    stay on the inherited mask; ``requests`` None (throughput mode) means the engine's optimum, else one per core;
    ``outputs`` asks for the reference input's outputs after loading; ``options`` holds this engine's options
    (declared by the adapter, already validated: see :meth:`workbench_engines.base.Engine.check_options`).
    """

    engine: str
    artifact: Mapping[str, Any]
    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    cores: tuple[int, ...] | None = None
    mode: str = "latency"
    requests: int | None = None
    seed: int = 0
    outputs: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    #: given input values (:func:`workbench.models.inputs.write_job_inputs`): ``{"fill": {name: value}, "npz":
    #: path}``; empty: every input is generated from ``seed``
    inputs: Mapping[str, Any] = field(default_factory=dict)
    #: after ``loaded`` (and the reference outputs), one ``O`` frame of outputs per seed, in this order — the inputs
    #: the drift of a lower precision is measured on (:mod:`workbench.stats.drift`); empty: none
    drift_seeds: tuple[int, ...] = ()
    #: a LoadGen scenario (:meth:`workbench.measure.scenario.Scenario.to_dict`): each measure command runs one
    #: LoadGen test instead of the timed loop; empty: the mode's own loop
    scenario: Mapping[str, Any] = field(default_factory=dict)
    #: ``--mode generate``: ``{"prompt_tokens": N, "prompt": text | None, "new_tokens": N, "batch": B,
    #: "sampling": {...} | None}`` (the child turns the prompt into the batch's token ids, fed to every engine as
    #: they are; ``sampling``: ``RunConfig.sampling()``, None for greedy); empty in the other modes
    generate: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "artifact": dict(self.artifact),
            "device": self.device,
            "precision": self.precision,
            "threads": self.threads,
            "cores": list(self.cores) if self.cores is not None else None,
            "mode": self.mode,
            "requests": self.requests,
            "seed": self.seed,
            "outputs": self.outputs,
            "options": dict(self.options),
            "inputs": dict(self.inputs),
            "drift_seeds": list(self.drift_seeds),
            "scenario": dict(self.scenario),
            "generate": dict(self.generate),
        }

    def to_json(self) -> str:
        """One JSON line (no newline)."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Job":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ProtocolError(f"unknown job field(s): {', '.join(unknown)}")
        if "engine" not in d or "artifact" not in d:
            raise ProtocolError("a job needs an engine and an artifact")
        values = {k: v for k, v in d.items() if v is not None or k in ("threads", "cores", "requests")}
        if values.get("cores") is not None:
            values["cores"] = tuple(int(c) for c in values["cores"])
        if "options" in values:
            values["options"] = dict(values["options"])
        if "inputs" in values:
            values["inputs"] = dict(values["inputs"])
        if "scenario" in values:
            values["scenario"] = dict(values["scenario"])
        if "generate" in values:
            values["generate"] = dict(values["generate"])
        if "drift_seeds" in values:
            values["drift_seeds"] = tuple(int(s) for s in values["drift_seeds"])
        return cls(**values)

    @classmethod
    def from_json(cls, line: str | bytes) -> "Job":
        d = json.loads(line)
        if not isinstance(d, dict):
            raise ProtocolError("a job must be a JSON object")
        return cls.from_dict(d)


@dataclass(frozen=True)
class MeasureCommand:
    """One measured round: warm up (``warmup_s`` seconds and ``warmup_iterations`` iterations), then measure until
    ``duration_s`` has passed and ``min_iterations`` are done."""

    duration_s: float
    round: int = 0
    warmup_s: float = 0.0
    warmup_iterations: int = 0
    min_iterations: int = 1

    def to_json(self) -> str:
        return json.dumps(
            {
                "cmd": "measure",
                "round": self.round,
                "warmup_s": self.warmup_s,
                "warmup_iterations": self.warmup_iterations,
                "duration_s": self.duration_s,
                "min_iterations": self.min_iterations,
            }
        )


@dataclass(frozen=True)
class PrepareJob:
    """What the preparation process resolves (:func:`workbench.models.resolve.resolve`'s arguments). It answers
    with one ``artifact`` message (``{"type": "artifact", "artifact": ModelArtifact.to_dict()}``) or an ``error``."""

    model: str
    batch: int = 1
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    formats: tuple[str, ...] | None = None  # None: every format a built-in can have
    seed: int = 0
    #: a lower precision to prepare files for ("int8": :func:`workbench.models.quantize.prepare_int8`), else fp32
    precision: str = "fp32"
    #: engine -> its options, for the engines the lower precision is prepared for
    quantize: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: :class:`workbench.models.quantize.CalibrationRequest` as a dict (``samples``, ``data``)
    calibration: Mapping[str, Any] = field(default_factory=dict)
    #: fraction of a built-in's conv/linear weights pruned to zero before export (:mod:`workbench.models.prune`)
    sparsity: float = 0.0

    def to_json(self) -> str:
        return json.dumps(
            {
                "model": self.model,
                "batch": self.batch,
                "shapes": {k: list(v) for k, v in self.shapes.items()},
                "formats": sorted(self.formats) if self.formats is not None else None,
                "seed": self.seed,
                "precision": self.precision,
                "quantize": {k: dict(v) for k, v in self.quantize.items()},
                "calibration": dict(self.calibration),
                "sparsity": self.sparsity,
            }
        )

    @classmethod
    def from_json(cls, line: str | bytes) -> "PrepareJob":
        d = json.loads(line)
        if not isinstance(d, dict) or "model" not in d:
            raise ProtocolError("a prepare job must be a JSON object with a model")
        formats = d.get("formats")
        return cls(
            model=str(d["model"]),
            batch=int(d.get("batch") or 1),
            shapes={str(k): tuple(int(x) for x in v) for k, v in (d.get("shapes") or {}).items()},
            formats=tuple(formats) if formats is not None else None,
            seed=int(d.get("seed") or 0),
            precision=str(d.get("precision") or "fp32"),
            quantize={str(k): dict(v) for k, v in (d.get("quantize") or {}).items()},
            calibration=dict(d.get("calibration") or {}),
            sparsity=float(d.get("sparsity") or 0.0),
        )


#: The command that ends a benchmark process.
EXIT_COMMAND = json.dumps({"cmd": "exit"})


def parse_command(line: str | bytes) -> MeasureCommand | None:
    """A command line from the parent: a :class:`MeasureCommand`, or None for ``exit``."""
    d = json.loads(line)
    if not isinstance(d, dict):
        raise ProtocolError("a command must be a JSON object")
    cmd = d.get("cmd")
    if cmd == "exit":
        return None
    if cmd != "measure":
        raise ProtocolError(f"unknown command {cmd!r}")
    return MeasureCommand(
        duration_s=float(d["duration_s"]),
        round=int(d.get("round") or 0),
        warmup_s=float(d.get("warmup_s") or 0.0),
        warmup_iterations=int(d.get("warmup_iterations") or 0),
        min_iterations=int(d.get("min_iterations") or 1),
    )


# ---- errors ------------------------------------------------------------------------------------------------------
def error_message(exc: BaseException) -> dict[str, Any]:
    """The ``error`` message a child sends for ``exc``: one line, whether it is the user's to fix (``kind`` is
    ``"user"`` for a WorkbenchError, else the class name) and the nearest workbench error class (``error``)."""
    from workbench import errors

    user = isinstance(exc, errors.WorkbenchError)
    nearest = "WorkbenchError"
    if user:
        nearest = next(
            (c.__name__ for c in type(exc).__mro__ if getattr(errors, c.__name__, None) is c), "WorkbenchError"
        )
    return {
        "type": "error",
        "kind": "user" if user else type(exc).__name__,
        "error": nearest,
        "message": errors.first_line(exc),
    }


def raise_error(msg: Mapping[str, Any], *, default: type[Exception] | None = None) -> NoReturn:
    """Raise the workbench error an ``error`` message describes (``default`` for a non-user error: by default
    :class:`~workbench.errors.WorkbenchError`)."""
    from workbench import errors

    message = str(msg.get("message") or "failed")
    if msg.get("kind") == "user":
        cls = getattr(errors, str(msg.get("error") or "WorkbenchError"), errors.WorkbenchError)
        if not (isinstance(cls, type) and issubclass(cls, errors.WorkbenchError)):
            cls = errors.WorkbenchError
        raise cls(message)
    raise (default or errors.WorkbenchError)(message)


# ---- process lifetime --------------------------------------------------------------------------------------------
def kill_process_group(proc: subprocess.Popen[Any], wait_s: float = 5.0) -> None:
    """SIGKILL ``proc``'s process group — the child and everything it started — and reap the child.

    Every child the workbench starts runs in its own session (``start_new_session=True``), so its pid is its
    process group id. The group is signalled only while the child is not yet reaped (alive or a zombie: its pid,
    and so the group id, cannot have been reused); it falls back to killing the child alone when the group is
    gone or not ours. Waits up to ``wait_s`` seconds for the child to be reaped (0: do not wait; a caller on a UI
    thread, say). Never raises for a process that has already ended.
    """
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # also when the child itself has exited: its children may live on
        except (ProcessLookupError, PermissionError):
            try:
                proc.kill()
            except ProcessLookupError:
                pass
    if wait_s > 0:
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            pass
    else:
        proc.poll()
