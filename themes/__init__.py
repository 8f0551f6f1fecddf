"""Themes and the app stylesheet of the Inference Workbench (import name ``workbench_themes``).

Two themes of our own, registered beside Textual's built-ins:

* ``workbench-dark`` (the default) and ``workbench-light``.

Every colour is taken from the xterm 256-colour palette (the 6×6×6 cube and the grey ramp), so a terminal
reached over SSH without ``COLORTERM=truecolor`` shows the same colours as a truecolor one: background, surface
and panel sit on different steps of the grey ramp and stay distinguishable after down-sampling.

The app-wide look lives in ``app.tcss`` beside this file (:func:`stylesheet_path`); widgets keep their intrinsic
layout in their own ``DEFAULT_CSS``. Only theme variables (``$primary``, ``$surface``, ``$panel``, ...) are used
for colour, so every theme — ours or a built-in — applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual.theme import Theme

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

__all__ = ["WORKBENCH_DARK", "WORKBENCH_LIGHT", "THEMES", "DEFAULT_THEME", "stylesheet_path", "register"]

WORKBENCH_DARK = Theme(
    name="workbench-dark",
    primary="#5fafff",  # 75
    secondary="#8787d7",  # 104
    accent="#ffaf5f",  # 215
    warning="#ffd75f",  # 221
    error="#ff5f5f",  # 203
    success="#87d787",  # 114
    foreground="#e4e4e4",  # 254
    background="#121212",  # 233
    surface="#1c1c1c",  # 234
    panel="#303030",  # 236
    dark=True,
    variables={
        "footer-key-foreground": "#5fafff",
        "block-cursor-background": "#005f87",  # 24
        "block-cursor-foreground": "#ffffff",
        "block-cursor-text-style": "bold",
        "input-selection-background": "#005f87",
        "border": "#5fafff",
        "border-blurred": "#4e4e4e",  # 239
    },
)

WORKBENCH_LIGHT = Theme(
    name="workbench-light",
    primary="#005faf",  # 25
    secondary="#5f5faf",  # 61
    accent="#af5f00",  # 130
    warning="#af8700",  # 136
    error="#d70000",  # 160
    success="#008700",  # 28
    foreground="#1c1c1c",  # 234
    background="#eeeeee",  # 255
    surface="#e4e4e4",  # 254
    panel="#d0d0d0",  # 252
    dark=False,
    variables={
        "footer-key-foreground": "#005faf",
        "block-cursor-background": "#005faf",
        "block-cursor-foreground": "#ffffff",
        "block-cursor-text-style": "bold",
        "input-selection-background": "#87afd7",  # 110
        "border": "#005faf",
        "border-blurred": "#a8a8a8",  # 248
    },
)

THEMES: tuple[Theme, ...] = (WORKBENCH_DARK, WORKBENCH_LIGHT)
DEFAULT_THEME = WORKBENCH_DARK.name


def stylesheet_path() -> Path:
    """The app stylesheet, located inside the installed package (works from a non-editable install)."""
    return Path(__file__).resolve().parent / "app.tcss"


def register(app: "App") -> None:
    """Register our themes with ``app`` (the built-in themes stay available)."""
    for theme in THEMES:
        app.register_theme(theme)
