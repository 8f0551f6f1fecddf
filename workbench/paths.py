"""Where the workbench keeps its state.

``WORKBENCH_HOME``, when set, holds everything (cache, history, config, live event files) — tests and scripts use
it to stay hermetic. Otherwise the XDG base directories are used.
"""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / default


def home() -> Path | None:
    value = os.environ.get("WORKBENCH_HOME")
    return Path(value).expanduser() if value else None


def cache_dir() -> Path:
    """Exported/converted models (safe to delete; rebuilt on demand). ``WORKBENCH_CACHE`` overrides it alone."""
    override = os.environ.get("WORKBENCH_CACHE")
    if override:
        path = Path(override).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        return path
    base = home()
    path = base / "cache" if base else _xdg("XDG_CACHE_HOME", ".cache") / "inference-workbench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """The results history and saved samples (keep)."""
    base = home()
    path = base / "data" if base else _xdg("XDG_DATA_HOME", ".local/share") / "inference-workbench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    base = home()
    path = base / "config" if base else _xdg("XDG_CONFIG_HOME", ".config") / "inference-workbench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def live_dir() -> Path:
    """Live event streams of runs in flight (``workbench watch`` and the UI monitor read them)."""
    base = home()
    path = base / "live" if base else _xdg("XDG_RUNTIME_DIR", ".cache") / "inference-workbench-live"
    path.mkdir(parents=True, exist_ok=True)
    return path
