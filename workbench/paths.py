"""Where the workbench keeps its state.

``WORKBENCH_HOME``, when set, holds everything (cache, history, config, live event files) — tests and scripts use
it to stay hermetic. Otherwise the XDG base directories are used.
"""

from __future__ import annotations

import os
from pathlib import Path

from workbench.errors import UsageError


def _ensure_dir(path: Path, setting: str) -> Path:
    """Create ``path`` (and parents). An unusable location is one readable line naming the setting to change
    (``setting``: the environment variable the path came from, or "HOME" for the XDG defaults)."""
    what = f"{setting}={os.environ[setting]}" if os.environ.get(setting) else f"the folder {path}"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(
            f"{what} is not usable: {path} or a folder above it is a file; set {setting} to a folder"
        ) from None
    except PermissionError:
        raise UsageError(f"{what} is not writable ({path}); set {setting} to a folder you can write") from None
    except OSError as exc:
        raise UsageError(f"{what} is not usable ({exc.strerror or exc}); set {setting} to another folder") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{what} is not writable ({path}); set {setting} to a folder you can write")
    return path


def _xdg(var: str, default: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / default


def home() -> Path | None:
    value = os.environ.get("WORKBENCH_HOME")
    return Path(value).expanduser() if value else None


def _state_dir(sub: str, xdg_var: str, xdg_default: str, name: str) -> Path:
    """``$WORKBENCH_HOME/<sub>`` when it is set, else ``$<xdg_var>/<name>`` (XDG default under $HOME)."""
    base = home()
    path = base / sub if base else _xdg(xdg_var, xdg_default) / name
    return _ensure_dir(path, "WORKBENCH_HOME" if base else (xdg_var if os.environ.get(xdg_var) else "HOME"))


def cache_dir() -> Path:
    """Exported/converted models (safe to delete; rebuilt on demand). ``WORKBENCH_CACHE`` overrides it alone."""
    override = os.environ.get("WORKBENCH_CACHE")
    if override:
        return _ensure_dir(Path(override).expanduser(), "WORKBENCH_CACHE")
    return _state_dir("cache", "XDG_CACHE_HOME", ".cache", "inference-workbench")


def data_dir() -> Path:
    """The results history and saved samples (keep)."""
    return _state_dir("data", "XDG_DATA_HOME", ".local/share", "inference-workbench")


def config_dir() -> Path:
    return _state_dir("config", "XDG_CONFIG_HOME", ".config", "inference-workbench")


def live_dir() -> Path:
    """Live event streams of runs in flight (``workbench watch`` and the UI monitor read them)."""
    return _state_dir("live", "XDG_RUNTIME_DIR", ".cache", "inference-workbench-live")
