"""Parent side of a benchmark process (see :mod:`workbench.measure.child`).

:class:`EngineProcess` starts ``python -m workbench.measure.child``, hands it the job, and reads its frames with
``select`` and a deadline — the parent never busy-waits. A child that exits, crashes, is killed (e.g. by the
OOM killer) or stays silent past its deadline becomes a :class:`ChildFailed` with one readable line; the other
engines of the run are unaffected.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

from workbench.measure.child import HEADER


class ChildFailed(Exception):
    """The benchmark process failed; ``str(exc)`` is one readable line."""

    def __init__(self, message: str, *, user_error: bool = False) -> None:
        super().__init__(message)
        self.user_error = user_error


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class EngineProcess:
    """One pinned benchmark process for one engine.

    ``job`` keys: engine, artifact (ModelArtifact.to_dict()), device, precision, threads, cores, mode, requests,
    streams, seed, outputs (bool: send the reference outputs after loading).
    """

    def __init__(self, job: dict[str, Any], *, env: dict[str, str] | None = None) -> None:
        self.job = job
        self.engine = job["engine"]
        child_env = dict(os.environ if env is None else env)
        threads = job.get("threads")
        if threads:
            # OpenMP/BLAS pools that an engine starts lazily follow the requested thread count too.
            child_env.setdefault("OMP_NUM_THREADS", str(threads))
        child_env["PYTHONUNBUFFERED"] = "1"
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.measure.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=child_env,
            start_new_session=True,  # Ctrl-C in the terminal reaches the parent, which stops children itself
        )
        self.pid = self.proc.pid
        self._buf = bytearray()
        self._fd = self.proc.stdout.fileno()
        self._send(job)

    # ---- commands --------------------------------------------------------------------------------------------
    def _send(self, msg: dict[str, Any]) -> None:
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read side reports why the child is gone

    def measure(self, **cmd: Any) -> None:
        self._send({"cmd": "measure", **cmd})

    def exit(self) -> None:
        self._send({"cmd": "exit"})

    # ---- frames ----------------------------------------------------------------------------------------------
    def read(self, timeout: float) -> tuple[bytes, Any] | None:
        """The next frame ``(kind, payload)``, or None when ``timeout`` passes with no complete frame.

        Raises :class:`ChildFailed` when the child reported an error or ended without one.
        """
        deadline = time.monotonic() + timeout
        while True:
            frame = self._parse()
            if frame is not None:
                kind, payload = frame
                if kind == b"J":
                    msg = json.loads(payload)
                    if msg.get("type") == "error":
                        self._reap()
                        raise ChildFailed(msg.get("message", "failed"), user_error=msg.get("kind") == "user")
                    return kind, msg
                return kind, payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                raise ChildFailed(self._death_reason())
            self._buf += chunk

    def wait_loaded(
        self, timeout: float, *, want_outputs: bool, label: str | None = None, on_idle: Callable[[], None] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Read frames until the child reported ``loaded`` (and, with ``want_outputs``, sent its reference
        outputs). Returns ``(loaded message, outputs or None)``. ``on_idle`` runs between reads (e.g. to raise on
        a stop request). Kills the child and raises :class:`ChildFailed` after ``timeout`` seconds."""
        from workbench.stats.parity import load_npz

        loaded: dict[str, Any] = {}
        outputs = None
        deadline = time.monotonic() + timeout
        while not loaded or (want_outputs and outputs is None):
            frame = self.read(timeout=0.2)
            if frame is None:
                if on_idle is not None:
                    on_idle()
                if time.monotonic() >= deadline:
                    self.kill()
                    raise ChildFailed(f"{label or self.engine} did not finish loading within {timeout:g} s")
                continue
            kind, payload = frame
            if kind == b"J" and payload.get("type") == "loaded":
                loaded = payload
            elif kind == b"O":
                outputs = load_npz(payload)
        return loaded, outputs

    def _parse(self) -> tuple[bytes, bytes] | None:
        if len(self._buf) < HEADER.size:
            return None
        kind, length = HEADER.unpack_from(self._buf)
        end = HEADER.size + length
        if len(self._buf) < end:
            return None
        payload = bytes(self._buf[HEADER.size : end])
        del self._buf[:end]
        return kind, payload

    def _reap(self, timeout: float = 5.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 8192))
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def _death_reason(self) -> str:
        code = self._reap()
        tail = self.stderr_tail(1)
        if code is not None and code < 0:
            name = _signal_name(code)
            hint = " (likely out of memory)" if code == -signal.SIGKILL else ""
            return f"{self.engine} benchmark process was killed by {name}{hint}"
        detail = f": {tail}" if tail else ""
        return f"{self.engine} benchmark process exited unexpectedly (code {code}){detail}"

    # ---- lifetime --------------------------------------------------------------------------------------------
    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def close(self, grace: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.exit()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()

    def alive(self) -> bool:
        return self.proc.poll() is None
