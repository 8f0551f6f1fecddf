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
