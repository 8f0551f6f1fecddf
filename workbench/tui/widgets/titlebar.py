"""The main screen's top line: the title and host, or the newest notification in its place.

Textual shows notifications as toasts in the bottom-right corner — exactly where the Results and History panes are
in the wide layout, and over the pane borders at 80×24. On the main screen the workbench shows them here instead
(k9s' flash line): the newest one, coloured by severity, with how many more are waiting; it wraps to at most three
lines for a long error and gives the line back to the title when the notification expires. Modal screens keep
Textual's toasts (they cover a dialog, not the results).
"""

from __future__ import annotations

from typing import Any, Iterable

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

__all__ = ["TitleBar"]

_STYLE = {"error": "$error", "warning": "$warning"}
_ICON = {"error": "✗ ", "warning": "⚠ ", "information": "● "}


class TitleBar(Static):
    DEFAULT_CSS = """
    TitleBar {
        dock: top;
        width: 1fr;
        height: auto;
        max-height: 3;
        padding: 0 1;
        background: $panel;
        color: $text;
    }
    TitleBar.-message {
        background: $boost;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.title = ""
        self.host = ""
        self.message: tuple[str, str, str, int] | None = None  # (severity, title, text, waiting)
        self._expiry: Timer | None = None

    def on_mount(self) -> None:
        self._render_line()

    def set_title(self, title: str, host: str) -> None:
        self.title, self.host = title, host
        self._render_line()

    def show_notifications(self, notifications: Iterable[Any]) -> None:
        """Show the newest of ``notifications`` (Textual's Notification objects), or the title when none is left."""
        shown = list(notifications)  # iterating drops the expired ones
        if shown:
            newest = shown[-1]
            self.message = (str(newest.severity), str(newest.title or ""), str(newest.message), len(shown) - 1)
            if self._expiry is not None:
                self._expiry.stop()
            left = min(float(n.time_left) for n in shown)
            self._expiry = self.set_timer(max(0.05, left + 0.05), lambda: self.show_notifications(notifications))
        else:
            self.message = None
        self._render_line()

    def _render_line(self) -> None:
        if self.message is None:
            self.set_class(False, "-message")
            host = f" — {self.host}" if self.host else ""
            self.update(Content.assemble(("≡ ", "$accent"), (self.title, "bold"), (host, "$text-muted")))
            return
        severity, title, text, waiting = self.message
        self.set_class(True, "-message")
        style = _STYLE.get(severity, "$accent")
        more = f"  (+{waiting} more)" if waiting else ""
        self.update(
            Content.assemble(
                (_ICON.get(severity, "● "), f"bold {style}"),
                (f"{title}: " if title else "", f"bold {style}"),
                (text, ""),
                (more, "$text-muted"),
            )
        )
