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
from typing import TYPE_CHECKING, Any

from textual.theme import Theme

if TYPE_CHECKING:  # pragma: no cover
    from textual.app import App

__all__ = ["WORKBENCH_DARK", "WORKBENCH_LIGHT", "THEMES", "DEFAULT_THEME", "stylesheet_path", "register"]


def _theme(name: str, *, dark: bool, cursor: str, selection: str, blurred: str, **colours: Any) -> Theme:
    """One of our themes from its base colours: footer keys and focused borders in ``primary``, the block cursor
    bold white on ``cursor``, selected input text on ``selection``, unfocused borders in ``blurred``."""
    primary = colours["primary"]
    return Theme(
        name=name,
        dark=dark,
        **colours,
        variables={
            "footer-key-foreground": primary,
            "block-cursor-background": cursor,
            "block-cursor-foreground": "#ffffff",
            "block-cursor-text-style": "bold",
            "input-selection-background": selection,
            "border": primary,
            "border-blurred": blurred,
        },
    )


# xterm colours, in order: 75 104 215 221 203 114 · 254 233 234 236 · 24 24 239
WORKBENCH_DARK = _theme(
    "workbench-dark", dark=True, primary="#5fafff", secondary="#8787d7", accent="#ffaf5f", warning="#ffd75f",
    error="#ff5f5f", success="#87d787", foreground="#e4e4e4", background="#121212", surface="#1c1c1c",
    panel="#303030", cursor="#005f87", selection="#005f87", blurred="#4e4e4e",
)  # fmt: skip

# xterm colours, in order: 25 61 130 136 160 28 · 234 255 254 252 · 25 110 248
WORKBENCH_LIGHT = _theme(
    "workbench-light", dark=False, primary="#005faf", secondary="#5f5faf", accent="#af5f00", warning="#af8700",
    error="#d70000", success="#008700", foreground="#1c1c1c", background="#eeeeee", surface="#e4e4e4",
    panel="#d0d0d0", cursor="#005faf", selection="#87afd7", blurred="#a8a8a8",
)  # fmt: skip

THEMES: tuple[Theme, ...] = (WORKBENCH_DARK, WORKBENCH_LIGHT)
DEFAULT_THEME = WORKBENCH_DARK.name


def stylesheet_path() -> Path:
    """The app stylesheet, located inside the installed package (works from a non-editable install)."""
    return Path(__file__).resolve().parent / "app.tcss"


def register(app: "App") -> None:
    """Register our themes with ``app`` (the built-in themes stay available)."""
    for theme in THEMES:
        app.register_theme(theme)
