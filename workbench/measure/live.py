"""The live event stream: every run publishes its events where another process can follow them.

A run appends one JSON line per event to ``live_dir()/<run_id>.jsonl`` (first line: ``run_started`` with the
publisher's pid). Followers (``workbench watch``, the UI monitor) tail the file; a run is *in flight* while its
last event is not terminal and its pid is alive — so a publisher killed with ``kill -9`` is detected rather than
followed forever. Progress is already throttled by the runner (a few Hz per engine), so files stay small; old
files are pruned when a new run starts.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

from workbench.measure import events as ev
from workbench.paths import live_dir

KEEP_FINISHED_S = 24 * 3600


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LivePublisher:
    """Append-only JSONL writer for one run. Thread-safe; failures to write never break the run."""

    def __init__(self, run_id: str, folder: Path | None = None) -> None:
        self.folder = folder or live_dir()
        self.path = self.folder / f"{run_id}.jsonl"
        self._lock = threading.Lock()
        prune(self.folder)
        self._fh: TextIO | None = open(self.path, "a", encoding="utf-8")
        os.chmod(self.path, 0o600)

    def publish(self, event: ev.Event) -> None:
        line = json.dumps(ev.event_to_dict(event), default=str, separators=(",", ":"))
        with self._lock:
            if self._fh is None:
                return
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
            except OSError:
                pass

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def prune(folder: Path | None = None, keep_s: float = KEEP_FINISHED_S) -> None:
    folder = folder or live_dir()
    cutoff = time.time() - keep_s
    for path in folder.glob("*.jsonl"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            pass


def _read_first_last(path: Path) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    try:
        with open(path, "rb") as fh:
            first = fh.readline()
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 65536))
            tail = fh.read().splitlines()
    except OSError:
        return None, None

    def parse(line: bytes) -> dict[str, Any] | None:
        try:
            return json.loads(line)
        except (ValueError, UnicodeDecodeError):
            return None

    last = next((p for p in (parse(l) for l in reversed(tail)) if p is not None), None)
    return parse(first), last


def list_live_runs(folder: Path | None = None) -> list[dict[str, Any]]:
    """Runs in flight right now, newest first: run_id, model, engines, pid, started (epoch seconds)."""
    folder = folder or live_dir()
    runs = []
    for path in folder.glob("*.jsonl"):
        first, last = _read_first_last(path)
        if not first or first.get("kind") != "run_started":
            continue
        if last and last.get("kind") in ev.TERMINAL_KINDS:
            continue
        if not pid_alive(int(first.get("pid", 0))):
            continue
        try:
            started = path.stat().st_ctime
        except OSError:
            continue
        runs.append(
            {
                "run_id": first["run_id"],
                "model": first.get("model"),
                "engines": first.get("engines"),
                "pid": first.get("pid"),
                "kind": (first.get("config") or {}).get("kind", "run"),
                "started": started,
                "path": str(path),
            }
        )
    runs.sort(key=lambda r: r["started"], reverse=True)
    return runs


def follow(
    run_id: str,
    stop: threading.Event | None = None,
    *,
    poll_s: float = 0.1,
    folder: Path | None = None,
    from_start: bool = True,
) -> Iterator[ev.Event]:
    """Yield the events of ``run_id`` as they are written, ending after a terminal event.

    If the publishing process dies without a terminal event, a synthetic :class:`~workbench.measure.events.RunAborted`
    says so. ``stop`` (optional) ends the iteration early from another thread.
    """
    folder = folder or live_dir()
    path = folder / f"{run_id}.jsonl"
    deadline = time.monotonic() + 5.0
    while not path.exists():
        if time.monotonic() > deadline or (stop is not None and stop.is_set()):
            return
        time.sleep(poll_s)
    pid = None
    buf = b""
    with open(path, "rb") as fh:
        if not from_start:
            fh.seek(0, os.SEEK_END)
        while stop is None or not stop.is_set():
            chunk = fh.read()
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    try:
                        event = ev.event_from_dict(json.loads(line))
                    except (ValueError, KeyError, TypeError):
                        continue
                    if isinstance(event, ev.RunStarted):
                        pid = event.pid
                    yield event
                    if ev.is_terminal(event):
                        return
                continue
            if pid is not None and not pid_alive(pid):
                yield ev.RunAborted(run_id=run_id, reason=f"the run's process ({pid}) ended without finishing")
                return
            time.sleep(poll_s)
