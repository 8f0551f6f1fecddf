"""Panes of the workbench's main screen, and the Sweep screen's form, table and chart (``sweep_*``)."""

from __future__ import annotations

from textual.widget import Widget


def composed(widget: Widget) -> bool:
    """True once ``widget``'s children exist (``is_mounted`` only turns True after ``on_mount`` returns)."""
    return widget.is_mounted or bool(widget.children)
