"""Events a benchmark run emits, in order, to whoever follows it (CLI progress bar, TUI, live stream file).

They are small, immutable and JSON-serialisable (``to_dict``/``event_from_dict``) so the same objects travel
through the live event stream to ``workbench watch`` and the UI monitor in another process. The runner emits
:class:`Progress` at a few Hz per engine (never per sample); ``hist`` carries the engine's latency histogram
pre-binned for plotting so consumers never touch raw samples.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class RunStarted:
    run_id: str
    model: str
    engines: tuple[str, ...]
    config: dict[str, Any]
    pid: int
    kind: str = "run_started"


@dataclass(frozen=True)
class Stage:
    """What the run is doing between measurements: preparing the model, computing reference outputs, loading an
    engine. ``engine`` is None for run-wide stages."""

    run_id: str
    stage: str  # "preparing" | "reference" | "loading"
    message: str
    engine: str | None = None
    kind: str = "stage"


@dataclass(frozen=True)
class EngineLoaded:
    run_id: str
    engine: str
    load_ms: float
    first_inference_ms: float | None
    effective: dict[str, Any]
    kind: str = "engine_loaded"


@dataclass(frozen=True)
class Progress:
    """Rolling state of one engine while it is measured."""

    run_id: str
    engine: str
    round: int  # 0-based repeat index
    rounds: int
    iterations: int  # measured iterations so far (this engine, all rounds)
    elapsed_s: float  # measured time so far, this round
    target_s: float  # --duration of a round
    fraction: float  # 0..1 of the whole run (all engines, all rounds)
    p50_ms: float | None
    p99_ms: float | None
    throughput: float | None  # items/s so far
    hist: dict[str, Any] = field(default_factory=dict)  # {"edges_ms": [...], "counts": [...]} pre-binned
    #: ``--mode generate``: ``hist`` is the per-output-token (decode step) latency and this the time to first token
    #: of each generation so far, the same shape as ``hist`` (empty in other modes or before the first generation)
    ttft_hist: dict[str, Any] = field(default_factory=dict)
    kind: str = "progress"


@dataclass(frozen=True)
class NoiseWarning:
    run_id: str
    engine: str | None
    code: str
    message: str
    kind: str = "warning"


@dataclass(frozen=True)
class EngineFinished:
    run_id: str
    engine: str
    result: dict[str, Any]  # EngineResult.to_dict()
    kind: str = "engine_finished"


@dataclass(frozen=True)
class EngineFailed:
    run_id: str
    engine: str
    error: str  # one readable line
    kind: str = "engine_failed"


@dataclass(frozen=True)
class RunFinished:
    run_id: str
    record: dict[str, Any]  # RunRecord.to_dict()
    exit_code: int
    kind: str = "run_finished"


@dataclass(frozen=True)
class RunAborted:
    run_id: str
    reason: str
    kind: str = "run_aborted"


@dataclass(frozen=True)
class SweepStarted:
    """A sweep began (or resumed): ``total`` cells, ``done`` of them finished before (a resumed sweep)."""

    sweep_id: str
    total: int
    done: int
    spec: dict[str, Any]  # workbench.campaign.cells.SweepSpec.to_dict()
    kind: str = "sweep_started"


@dataclass(frozen=True)
class _CellEvent:
    """What every cell event names: cell ``index`` (0-based, in run order) of ``total`` of the sweep."""

    sweep_id: str
    index: int
    total: int
    cell: dict[str, Any]  # CellSpec.stored(): its fields and "key"
    label: str


@dataclass(frozen=True)
class CellStarted(_CellEvent):
    """A cell starts; ``eta_s`` is the estimate for what is left (None until a cell has finished in this
    process)."""

    eta_s: float | None
    kind: str = "cell_started"


@dataclass(frozen=True)
class CellFinished(_CellEvent):
    result: dict[str, Any]  # EngineResult.to_dict() (status "failed" with its error for a cell that failed)
    done: int  # cells finished so far, this one included
    eta_s: float | None
    kind: str = "cell_finished"


@dataclass(frozen=True)
class SweepFinished:
    sweep_id: str
    state: str  # "complete" | "interrupted" | "failed"
    done: int
    total: int
    kind: str = "sweep_finished"


Event = (
    RunStarted
    | Stage
    | EngineLoaded
    | Progress
    | NoiseWarning
    | EngineFinished
    | EngineFailed
    | RunFinished
    | RunAborted
    | SweepStarted
    | CellStarted
    | CellFinished
    | SweepFinished
)

_KINDS: dict[str, type] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        Stage,
        EngineLoaded,
        Progress,
        NoiseWarning,
        EngineFinished,
        EngineFailed,
        RunFinished,
        RunAborted,
        SweepStarted,
        CellStarted,
        CellFinished,
        SweepFinished,
    )
}


def event_to_dict(event: Event) -> dict[str, Any]:
    return asdict(event)


def event_from_dict(d: Mapping[str, Any]) -> Event:
    cls = _KINDS[d["kind"]]
    kw = dict(d)
    if cls is RunStarted:
        kw["engines"] = tuple(kw["engines"])
    return cls(**kw)


#: the kinds that end a live stream: a run's end, and a sweep's (whose cells' own run events are not published)
TERMINAL_KINDS: tuple[str, ...] = ("run_finished", "run_aborted", "sweep_finished")


def is_terminal(event: Event) -> bool:
    return isinstance(event, (RunFinished, RunAborted, SweepFinished))
