"""Where the workbench keeps its state.

``WORKBENCH_HOME``, when set, holds everything (cache, history, live event files) — tests and scripts use
it to stay hermetic. Otherwise the XDG base directories are used.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path

from workbench.errors import UsageError, WorkbenchError


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
    """User settings kept between sessions (the prices file ``prices.json``, the UI's last setup
    ``tui-setup.json``): ``$WORKBENCH_HOME/config``, else ``$XDG_CONFIG_HOME/inference-workbench`` (default
    ``~/.config/inference-workbench``)."""
    return _state_dir("config", "XDG_CONFIG_HOME", ".config", "inference-workbench")


def live_dir() -> Path:
    """Live event streams of runs in flight (``workbench watch`` and the UI monitor read them)."""
    return _state_dir("live", "XDG_RUNTIME_DIR", ".cache", "inference-workbench-live")


# ------------------------------------------------------------------------------------------ writing state safely
def fsync_dir(path: Path) -> None:
    """fsync a directory (so a rename in it survives a crash); best effort."""
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def tmp_prefix(path: Path) -> str:
    """The name prefix of :func:`atomic_write`'s temporary files for ``path`` (to find leftovers of a crash)."""
    return f".{path.name}.tmp-"


def atomic_write(path: Path, payload: bytes, mode: int = 0o600, *, error: type[WorkbenchError] = UsageError) -> None:
    """Write ``payload`` to ``path`` so that readers (and a crash) see either the old or the new content.

    Temporary file in the same directory → write → flush → fsync → ``os.replace`` → fsync the directory. A failure
    is one ``error`` line (a full disk says the previous version is intact).
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{tmp_prefix(path)}{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise error(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if exc.errno == errno.ENOSPC:
            raise error(f"no space left to write {path}; the previous version is intact") from None
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)
