"""The Sweep screen's form: one field per axis (threads, batch, precision, mode) plus the seconds per cell.

Fields are read by the CLI's rules (:mod:`workbench.campaign.axes`); a field that does not parse is marked
``-invalid`` and its UsageError (one line naming the field) goes to the caller. A stored sweep's form shows the axes
it ran and is disabled by the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Input

from workbench.campaign.axes import default_threads, parse_ints, parse_seconds, parse_words
from workbench.errors import UsageError
from workbench.tui.widgets.fields import StartFieldInput
from workbench.tui.widgets.setup import FormRow

if TYPE_CHECKING:  # pragma: no cover
    from workbench.campaign.cells import SweepSpec

__all__ = ["DEFAULT_DURATION_S", "DEFAULT_WARMUP_S", "SweepForm", "field_texts"]

DEFAULT_DURATION_S = 1.0
DEFAULT_WARMUP_S = 0.5


def _join(items: Sequence[Any]) -> str:
    return ",".join(str(i) for i in items)


def field_texts(spec: "SweepSpec | None", pool: int) -> dict[str, str]:
    """The fields' text: a small default sweep over a pool of ``pool`` cores, or a stored sweep's axes."""
    if spec is None:
        return dict(
            threads=_join(default_threads(pool or 1)),
            batch="1",
            precisions="fp32",
            modes="latency",
            duration=f"{DEFAULT_DURATION_S:g} s",
            warmup=f"{DEFAULT_WARMUP_S:g} s",
        )
    batch = _join(spec.batches)
    if spec.max_memory_mb is not None:
        batch = f"largest under {spec.max_memory_mb:g} MB (≤ {spec.max_batch})"
    return dict(
        threads=_join(spec.threads),
        batch=batch,
        precisions=_join(spec.precisions),
        modes=_join(spec.modes),
        duration=f"{spec.duration_s:g} s",
        warmup=f"{spec.warmup_s:g} s",
    )


class SweepForm(Grid):
    """Two columns of ``label | field``; :meth:`read` parses them into SweepSpec keyword arguments."""

    DEFAULT_CSS = """
    SweepForm {
        grid-size: 2;
        grid-columns: 1fr 1fr;
        grid-rows: 1;
        grid-gutter: 0 2;
        height: 3;
    }
    SweepForm FormRow > .form-label {
        width: 10;
    }
    SweepForm Input.-textual-compact {
        width: 1fr;
    }
    """

    def __init__(self, texts: dict[str, str], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.texts = texts

    def compose(self) -> ComposeResult:
        from workbench_engines.base import MODES, PRECISIONS

        v = self.texts
        yield self._field("Threads", "sweep-threads", v["threads"], "thread counts, e.g. 1,2,4")
        yield self._field("Batch", "sweep-batch", v["batch"], "batch sizes, e.g. 1,8,32")
        yield self._field("Precision", "sweep-precisions", v["precisions"], f"comma-separated: {', '.join(PRECISIONS)}")
        yield self._field("Mode", "sweep-modes", v["modes"], f"comma-separated: {', '.join(MODES)}")
        yield self._field("Duration", "sweep-duration", v["duration"], "measured seconds per cell (5, 500ms, 2 min)")
        yield self._field("Warm-up", "sweep-warmup", v["warmup"], "warm-up seconds per cell")

    @staticmethod
    def _field(label: str, field_id: str, value: str, tooltip: str) -> FormRow:
        return FormRow(label, StartFieldInput(value, id=field_id, tooltip=tooltip, classes="form-field"))

    def read(self) -> dict[str, Any]:
        """The axes and seconds the fields hold (SweepSpec keyword arguments). Raises UsageError (one line naming
        the field) and marks that field invalid."""
        from workbench_engines.base import MODES, PRECISIONS

        return dict(
            threads=self._read("sweep-threads", lambda t: parse_ints("threads", t)),
            batches=self._read("sweep-batch", lambda t: parse_ints("batch", t)),
            precisions=self._read("sweep-precisions", lambda t: parse_words("precision", t, PRECISIONS)),
            modes=self._read("sweep-modes", lambda t: parse_words("mode", t, MODES)),
            duration_s=self._read("sweep-duration", lambda t: parse_seconds("duration", t, positive=True)),
            warmup_s=self._read("sweep-warmup", lambda t: parse_seconds("warm-up", t, positive=False)),
        )

    def _read(self, field_id: str, parse: Callable[[str], Any]) -> Any:
        widget = self.query_one(f"#{field_id}", Input)
        try:
            value = parse(widget.value)
        except UsageError:
            widget.set_class(True, "-invalid")
            raise
        widget.set_class(False, "-invalid")
        return value
