"""Messages thread workers post to the app (posting's ``messages.py`` pattern).

Workers never touch widgets: they post one of these small dataclasses; an ``@on`` handler on the app sets
reactives, and watchers render. Fields hold immutable data (frozen events, tuples, records that are not mutated
after they are posted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # pragma: no cover - typing only
    from workbench.measure.events import Event
    from workbench.result import RunRecord
    from workbench_engines.base import EngineInfo


@dataclass
class RunEventReceived(Message):
    """One :mod:`workbench.measure.events` event of a run: ours (``origin="run"``) or one followed (``"monitor"``)."""

    event: "Event"
    origin: str = "run"

    def can_replace(self, message: Message) -> bool:
        # toolong's trick: a progress update is superseded by the next one for the same engine, so a flood of
        # progress can never queue up behind the renderer.
        mine = self.event
        other = getattr(message, "event", None)
        return (
            isinstance(message, RunEventReceived)
            and getattr(mine, "kind", None) == "progress"
            and getattr(other, "kind", None) == "progress"
            and other.run_id == mine.run_id  # type: ignore[union-attr]
            and other.engine == mine.engine  # type: ignore[union-attr]
        )


@dataclass
class QpsProbe(Message):
    """One probe of a max-QPS search finished (:func:`workbench.campaign.maxqps.find_max_qps`'s ``on_probe``: the
    engine, kind ``offline``/``probe``/``extend``/``confirm``, target QPS, validity, latency at the percentile)."""

    probe: dict[str, Any]


@dataclass
class SystemInfoLoaded(Message):
    """:func:`workbench.machine.sysinfo.collect` finished."""

    info: dict[str, Any]


@dataclass
class EnginesLoaded(Message):
    """The engine inventory is known."""

    engines: tuple["EngineInfo", ...]


@dataclass
class HistoryLoaded(Message):
    """The newest runs from the history, newest first (``error`` is one line when the read failed)."""

    records: tuple["RunRecord", ...]
    error: str | None = None
    notices: tuple[str, ...] = ()


@dataclass
class LiveRunsListed(Message):
    """Runs in flight in other processes (for the monitor)."""

    runs: tuple[dict[str, Any], ...]
    error: str | None = None


# ------------------------------------------------------------------------------------------------------ sweeps
# The Sweep screen's worker (workbench/tui/sweep.py) turns the sweep's events into these; the screen's handlers
# set reactives and fill the table. ``result`` dicts are EngineResult.to_dict() and are not mutated after posting.


@dataclass
class SweepBegan(Message):
    """The sweep started (or resumed): ``total`` cells, ``done`` of them finished before."""

    sweep_id: str
    total: int
    done: int


@dataclass
class SweepCellStarted(Message):
    """Cell ``index`` (0-based) of ``total`` starts; ``eta_s``: the estimate for what is left (None at first)."""

    sweep_id: str
    index: int
    total: int
    label: str
    eta_s: float | None


@dataclass
class SweepCellActivity(Message):
    """What the cell in flight is doing (preparing, loading, measuring); ``fraction`` of the cell done (0..1)."""

    text: str
    fraction: float | None = None

    def can_replace(self, message: Message) -> bool:
        # only the latest activity matters: a flood of progress can never queue up behind the renderer
        return isinstance(message, SweepCellActivity)


@dataclass
class SweepCellFinished(Message):
    """A cell finished (``result["status"]`` ``ok``, or ``failed`` with its ``error``); ``done`` cells so far."""

    sweep_id: str
    index: int
    total: int
    done: int
    label: str
    result: dict[str, Any]
    eta_s: float | None


@dataclass
class SweepEnded(Message):
    """The sweep's worker is done: ``state`` ``complete`` | ``interrupted`` | ``failed``; ``record`` is the sweep as
    saved (None when it could not start); ``error`` one line when it failed."""

    state: str
    record: "RunRecord | None"
    error: str | None = None


@dataclass
class SweepReloaded(Message):
    """The stored sweep as the history has it just before it resumes (its cells may have grown since it was shown)."""

    record: "RunRecord"


@dataclass
class SweepRefused(Message):
    """The stored sweep is not resumed (nothing started): one line why."""

    line: str
