"""``workbench matrix``: what runs on this machine — models × engines × devices × precisions, each cell a real attempt.

A cell is one attempt, the way a run starts an engine: the model is prepared for that engine and precision through
the preparation child (:func:`workbench.measure.prepare.prepare`: export/convert, and quantize for int8, all cached),
then the engine's benchmark process loads it and runs one inference (:func:`workbench.measure.procs.load_once`:
nothing is timed beyond what the child reports). Its outcome is one of

* ``works`` — the child reported ``loaded``: the precision the engine really ran (a cell asked for int8 that ran
  ``mixed`` says so), its load time and first-inference time;
* ``unsupported`` — an :class:`~workbench.errors.UnsupportedError` or :class:`~workbench.errors.EngineUnavailable`
  raised before the child or in it (a precision, format or device the engine cannot do; an engine not installed),
  with its one line;
* ``failed`` — anything else (a crash, a conversion error, a timeout), with the engine's explained one line.

Cells are cached in ``matrix.json`` under :func:`workbench.paths.cache_dir`, keyed by (model, engine, device,
precision, the engine's version, the workbench version, the machine fingerprint): a cell is reused until one of them
changes or ``refresh`` is asked for. The file is rewritten atomically after every attempted cell, so an interrupted
matrix keeps what it finished.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from workbench.errors import EngineUnavailable, ModelError, RunFailed, UnsupportedError, UsageError, WorkbenchError
from workbench.paths import atomic_write

WORKS = "works"
UNSUPPORTED = "unsupported"
FAILED = "failed"

#: The models of a matrix when none are named. Small on purpose: every cell exports (and for int8 quantizes) its
#: model, which on a 2-core box takes seconds to minutes per model; these three cover a small CNN, a mobile CNN with
#: squeeze-excite/hardswish blocks, and a transformer. ``--models all`` takes every built-in.
DEFAULT_MODELS: tuple[str, ...] = ("resnet18", "mobilenet_v3_small", "distilbert")
#: Seconds a cell's preparation, and then its load + first inference, may take before it counts as failed.
DEFAULT_TIMEOUT_S = 600.0
CACHE_FILE = "matrix.json"
CACHE_SCHEMA = 1
#: The workbench error classes that make a cell ``unsupported`` rather than ``failed``.
UNSUPPORTED_ERRORS: tuple[str, ...] = (UnsupportedError.__name__, EngineUnavailable.__name__)
#: Most characters of a failure's full text kept with the cell (the end: engines put the cause last).
DETAIL_LIMIT = 4000


@dataclass
class Cell:
    """One attempt's outcome (see the module docstring). ``model`` is the name or path as given."""

    model: str
    engine: str
    device: str
    precision: str
    status: str = FAILED
    reason: str | None = None
    #: the full error text the child sent with a failure (its traceback), cut to :data:`DETAIL_LIMIT`
    detail: str | None = None
    precision_effective: str | None = None
    load_ms: float | None = None
    first_inference_ms: float | None = None
    engine_version: str | None = None
    measured_at: str | None = None
    #: wall seconds the attempt took (preparation included)
    attempt_s: float | None = None
    #: served from the cache rather than attempted in this command
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Cell":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def where(self) -> str:
        return f"{self.model} {self.precision} {self.engine} {self.device}"


@dataclass(frozen=True)
class CellKey:
    """What a cached cell is valid for."""

    model: str  # a built-in's name, or a file's absolute path with its size and modification time
    engine: str
    device: str
    precision: str
    engine_version: str | None
    workbench_version: str
    machine: str

    def text(self) -> str:
        return json.dumps(list(asdict(self).values()), separators=(",", ":"))


@dataclass
class Matrix:
    """A produced matrix: what was asked, and one :class:`Cell` per model × precision × device × engine."""

    models: tuple[str, ...]
    engines: tuple[str, ...]
    devices: tuple[str, ...]
    precisions: tuple[str, ...]
    machine: str
    workbench_version: str
    cells: list[Cell] = field(default_factory=list)
    cache_file: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "engines": list(self.engines),
            "devices": list(self.devices),
            "precisions": list(self.precisions),
            "machine": self.machine,
            "workbench_version": self.workbench_version,
            "cache_file": self.cache_file,
            "cells": [c.to_dict() for c in self.cells],
        }


class MatrixInterrupted(KeyboardInterrupt):
    """Ctrl-C during a matrix; ``cells`` holds the cells finished so far (they are in the cache already)."""

    def __init__(self, cells: list[Cell], total: int) -> None:
        super().__init__("interrupted")
        self.cells = cells
        self.total = total


# ---- what to attempt ---------------------------------------------------------------------------------------------
def resolve_models(given: Sequence[str] | None) -> tuple[str, ...]:
    """Built-in names and model files: ``None`` gives :data:`DEFAULT_MODELS`, ``all`` every built-in. Raises
    ModelError for a name that is neither a built-in nor an existing file."""
    from workbench.models import zoo

    names: list[str] = []
    for item in given or DEFAULT_MODELS:
        if item == "all":
            names += zoo.names()
        elif zoo.is_builtin(item):
            names.append(item)
        elif Path(item).expanduser().exists():
            names.append(item)
        else:
            from workbench.errors import closest

            guess = closest(item, zoo.names())
            hint = f"did you mean {guess!r}? " if guess else ""
            raise ModelError(
                f"unknown model {item!r}: neither a built-in nor an existing file; {hint}(workbench models lists them)"
            )
    if not names:
        raise UsageError("no models given")
    return tuple(dict.fromkeys(names))


def resolve_engines(given: Sequence[str] | None) -> tuple[str, ...]:
    """Canonical engine names; ``None`` gives every visible engine installed here. An unknown name raises
    EngineUnavailable (bad input); a named engine that is not installed stays (its cells say so)."""
    from workbench_engines.registry import canonical, engine_names, get_engine_class

    if given is None:
        names = tuple(n for n in engine_names() if get_engine_class(n).is_installed())
        if not names:
            raise UsageError("no engine is installed here (workbench engines)")
        return names
    names = tuple(dict.fromkeys(canonical(e) for e in given))
    for name in names:
        get_engine_class(name)
    if not names:
        raise UsageError("no engines given")
    return names


def check_precisions(given: Sequence[str]) -> tuple[str, ...]:
    from workbench_engines.base import PRECISIONS

    names = tuple(dict.fromkeys(p.strip().lower() for p in given if p.strip()))
    bad = [p for p in names if p not in PRECISIONS]
    if bad or not names:
        raise UsageError(f"unknown precision {', '.join(bad) or '(none)'}; use {', '.join(PRECISIONS)}")
    return names


def check_devices(given: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(d.strip().lower() for d in given if d.strip()))
    if not names:
        raise UsageError("no device given; use --device cpu")
    return names


def model_identity(model: str) -> str:
    """What the cache keys a model by: a built-in's name, or a file's absolute path, size and modification time
    (a changed file is attempted again)."""
    from workbench.models import zoo

    if zoo.is_builtin(model):
        return model
    path = Path(model).expanduser().resolve()
    try:
        st = path.stat()
    except OSError:
        return f"file:{path}"
    return f"file:{path}:{st.st_size}:{st.st_mtime_ns}"


def machine_fingerprint() -> str:
    from workbench.machine.sysinfo import collect, fingerprint

    return fingerprint(collect())


# ---- the cache ---------------------------------------------------------------------------------------------------
class MatrixCache:
    """``matrix.json``: ``{"schema": 1, "cells": {CellKey.text(): Cell.to_dict()}}``. A missing or unreadable file
    is an empty cache (it only saves time). Each :meth:`put` re-reads the file and replaces it atomically, so two
    matrices run at once lose at most each other's latest cell, never the file."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            from workbench.paths import cache_dir

            path = cache_dir() / CACHE_FILE
        self.path = path

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("schema") != CACHE_SCHEMA or not isinstance(data.get("cells"), dict):
            return {}
        return {k: v for k, v in data["cells"].items() if isinstance(v, dict)}

    def get(self, key: CellKey) -> Cell | None:
        entry = self._read().get(key.text())
        if entry is None:
            return None
        cell = Cell.from_dict(entry)
        cell.cached = True
        return cell

    def put(self, key: CellKey, cell: Cell) -> None:
        cells = self._read()
        cells[key.text()] = {**cell.to_dict(), "cached": False}
        blob = json.dumps({"schema": CACHE_SCHEMA, "cells": cells}, indent=1, sort_keys=True)
        atomic_write(self.path, blob.encode())


# ---- one attempt -------------------------------------------------------------------------------------------------
def _cut(detail: str | None) -> str | None:
    if not detail:
        return None
    return detail if len(detail) <= DETAIL_LIMIT else "… (start cut)\n" + detail[-DETAIL_LIMIT:]


def _error_status(exc: WorkbenchError) -> str:
    return UNSUPPORTED if isinstance(exc, (UnsupportedError, EngineUnavailable)) else FAILED


def attempt(
    model: str,
    engine: str,
    *,
    device: str = "cpu",
    precision: str = "fp32",
    timeout: float = DEFAULT_TIMEOUT_S,
    seed: int = 0,
) -> Cell:
    """Attempt one cell: prepare ``model`` for ``engine`` at ``precision``, then load it and run one inference in
    the engine's benchmark process. Never raises for the cell's own failure (it is the outcome); Ctrl-C propagates
    after the children are killed."""
    from workbench.measure.prepare import prepare
    from workbench.measure.procs import ChildFailed, load_once
    from workbench.measure.runner import formats_for
    from workbench.measure.wire import Job
    from workbench.result import now_iso
    from workbench_engines.registry import get_engine_class, require

    cls = get_engine_class(engine)
    cell = Cell(model, engine, device, precision, engine_version=cls.version())
    t0 = time.monotonic()
    try:
        require(engine, device)
        quantize = precision == "int8" and "int8" in cls.precisions(device)
        deadline = time.monotonic() + timeout
        try:
            artifact = prepare(
                model,
                formats=formats_for((engine,)),
                seed=seed,
                should_stop=lambda: time.monotonic() >= deadline,
                precision="int8" if quantize else "fp32",
                quantize={engine: {}} if quantize else None,
            )
        except RunFailed as exc:
            if time.monotonic() < deadline:
                raise
            raise RunFailed(f"preparing {model!r} for {engine} took longer than {timeout:g} s") from exc
        cls.pick_format(artifact)
        job = Job(engine, artifact.to_dict(), device=device, precision=precision, seed=seed)
        loaded, _ = load_once(job, timeout)
    except WorkbenchError as exc:
        cell.status, cell.reason = _error_status(exc), str(exc)
    except ChildFailed as exc:
        unsupported = exc.user_error and exc.error in UNSUPPORTED_ERRORS
        cell.status, cell.reason, cell.detail = (UNSUPPORTED if unsupported else FAILED), str(exc), _cut(exc.detail)
    else:
        eff = loaded.get("effective") or {}
        cell.status = WORKS
        cell.precision_effective = eff.get("precision") or precision
        cell.load_ms = loaded.get("load_ms")
        cell.first_inference_ms = loaded.get("first_inference_ms")
        cell.engine_version = loaded.get("engine_version") or cell.engine_version
    cell.attempt_s = time.monotonic() - t0
    cell.measured_at = now_iso()
    return cell


# ---- the matrix --------------------------------------------------------------------------------------------------
#: ``on_progress(done, total, next cell or None, eta_s or None)``: before each cell and once at the end.
ProgressFn = Callable[[int, int, "Cell | None", "float | None"], None]


def eta_s(durations: Sequence[float], left: int) -> float | None:
    """Seconds the ``left`` cells still to attempt should take, from the mean of the attempts so far (None before
    the first)."""
    if not durations:
        return None if left else 0.0
    return sum(durations) / len(durations) * left


def run_matrix(
    models: Sequence[str] | None = None,
    engines: Sequence[str] | None = None,
    *,
    precisions: Sequence[str] = ("fp32",),
    devices: Sequence[str] = ("cpu",),
    refresh: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    cache: MatrixCache | None = None,
    on_progress: ProgressFn | None = None,
) -> Matrix:
    """Every cell of models × precisions × devices × engines: from the cache where its key matches (unless
    ``refresh``), else attempted (:func:`attempt`) and stored. Raises UsageError/ModelError/EngineUnavailable for
    bad input before attempting anything, :class:`MatrixInterrupted` on Ctrl-C (finished cells are cached)."""
    from workbench import __version__

    if timeout <= 0:
        raise UsageError(f"--timeout must be positive, not {timeout:g}")
    model_names = resolve_models(models)
    engine_names = resolve_engines(engines)
    precision_names = check_precisions(precisions)
    device_names = check_devices(devices)
    store = cache or MatrixCache()
    machine = machine_fingerprint()
    matrix = Matrix(
        model_names, engine_names, device_names, precision_names, machine, __version__, cache_file=str(store.path)
    )
    versions = {e: _version(e) for e in engine_names}
    plan: list[tuple[CellKey, Cell]] = []
    for model in model_names:
        identity = model_identity(model)
        for precision in precision_names:
            for device in device_names:
                for engine in engine_names:
                    key = CellKey(identity, engine, device, precision, versions[engine], __version__, machine)
                    hit = None if refresh else store.get(key)
                    if hit is not None:
                        hit.model = model  # the name as given this time (a file may be named another way)
                    plan.append((key, hit or Cell(model, engine, device, precision, status="")))
    total = len(plan)
    left = sum(1 for _, c in plan if not c.cached)
    durations: list[float] = []
    try:
        for done, (key, cell) in enumerate(plan):
            if on_progress is not None:
                on_progress(done, total, cell, eta_s(durations, left))
            if not cell.cached:
                cell = attempt(cell.model, cell.engine, device=cell.device, precision=cell.precision, timeout=timeout)
                store.put(key, cell)
                durations.append(cell.attempt_s or 0.0)
                left -= 1
            matrix.cells.append(cell)
    except KeyboardInterrupt:
        raise MatrixInterrupted(matrix.cells, total) from None
    if on_progress is not None:
        on_progress(total, total, None, 0.0)
    return matrix


def _version(engine: str) -> str | None:
    from workbench_engines.registry import get_engine_class

    return get_engine_class(engine).version()
