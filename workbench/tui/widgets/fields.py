"""Text fields that are safe to type in: letters are text, Enter does what the footer says, Esc only leaves.

Textual's Input already consumes printable keys, so ``r`` typed into a field never reaches the app's ``r`` (run);
the app also hides its letter keys from the footer while a field has the focus
(:meth:`workbench.tui.app.WorkbenchApp.check_action`). What this adds: the footer shows the two keys that work in a
field (``enter`` with what it does here, ``esc`` to leave), and Esc moves the focus out of the field to its pane —
it never stops a run or closes a screen (lazygit / k9s: Esc leaves the input mode, nothing more).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from textual.binding import Binding
from textual.content import Content
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import Checkbox, Input

__all__ = ["FieldInput", "PathInput", "PathSuggester", "StartFieldInput", "Tick", "complete_path", "leave_field"]


def leave_field(widget: Widget) -> None:
    """Move the focus from ``widget`` to the nearest focusable, visible ancestor (its pane or form), else to nothing
    (the screen's own keys then apply)."""
    for node in widget.ancestors:
        if isinstance(node, Widget) and node.can_focus and node.display and not node.disabled:
            node.focus()
            return
    widget.screen.set_focus(None)


class FieldInput(Input):
    """A one-line field of a form: ``enter`` runs (the Setup pane), ``esc`` leaves the field."""

    BINDINGS = [
        Binding("enter", "submit", "Run", id="field-submit", tooltip="Run the benchmark set up here"),
        Binding("escape", "leave", "Leave field", id="field-leave", tooltip="Leave the field (a run goes on)"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("compact", True)
        super().__init__(*args, **kwargs)

    def action_leave(self) -> None:
        leave_field(self)


class StartFieldInput(FieldInput):
    """A field of the Sweep form: ``enter`` starts the sweep."""

    BINDINGS = [
        Binding("enter", "submit", "Start", id="field-start", tooltip="Start the sweep set up here"),
        Binding("escape", "leave", "Leave field", id="field-leave", tooltip="Leave the field (a sweep goes on)"),
    ]


def complete_path(text: str, limit: int = 200) -> str | None:
    """The longest unambiguous completion of the path ``text`` (a folder gets its ``/``), as a shell's Tab gives;
    None when nothing on disk starts with it. Only model files and folders are offered."""
    if not text:
        return None
    expanded = os.path.expanduser(text)
    folder, prefix = os.path.split(expanded)
    try:
        with os.scandir(folder or ".") as entries:
            names = []
            for i, entry in enumerate(entries):
                if i >= 5000:
                    break
                if entry.name.startswith(prefix) and (prefix.startswith(".") or not entry.name.startswith(".")):
                    names.append(entry.name + ("/" if entry.is_dir() else ""))
    except OSError:
        return None
    if not names:
        return None
    common = os.path.commonprefix(sorted(names)[:limit])
    if len(common) <= len(prefix):
        return None
    completed = os.path.join(folder, common) if folder else common
    if text.startswith("~"):
        home = str(Path.home())
        if completed.startswith(home):
            completed = "~" + completed[len(home) :]
    return completed


class PathSuggester(Suggester):
    """Suggests the completion of a file path (shown greyed after the cursor; Tab or → takes it)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        return complete_path(value)


class PathInput(FieldInput):
    """A file path field: Tab completes the path as a shell does (when there is a completion), else moves on."""

    BINDINGS = [
        Binding("tab", "complete", "Complete", show=False, id="path-complete", tooltip="Complete the path"),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("suggester", PathSuggester())
        super().__init__(*args, **kwargs)

    def action_complete(self) -> None:
        completion = complete_path(self.value) if self.cursor_at_end else None
        if completion and completion != self.value:
            self.value = completion
            self.cursor_position = len(self.value)
        else:
            self.screen.focus_next()


class Tick(Checkbox):
    """A checkbox that reads ``[✓]`` or ``[ ]``; ↑/↓ move to the neighbouring control, as in a list."""

    BINDINGS = [
        Binding("down", "app.focus_next", "Next", show=False),
        Binding("up", "app.focus_previous", "Previous", show=False),
    ]

    @property
    def _button(self) -> Content:
        mark = ("✓", "bold $success") if self.value else (" ", "")
        return Content.assemble(("[", "$text-muted"), mark, ("]", "$text-muted"))
