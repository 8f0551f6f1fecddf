"""Parent side of a benchmark process (see :mod:`workbench.measure.child`).

:class:`EngineProcess` starts ``python -m workbench.measure.child``, hands it the job, and reads its frames with
``select`` and a deadline — the parent never busy-waits. A child that exits, crashes, is killed (e.g. by the
OOM killer) or stays silent past its deadline becomes a :class:`ChildFailed` with one readable line; the other
engines of the run are unaffected.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

from workbench.measure import wire
from workbench.measure.wire import Job, MeasureCommand


class ChildFailed(Exception):
    """The benchmark process failed; ``str(exc)`` is one readable line, ``detail`` the full error text the child
    sent with it (its traceback and the engine's own message), when there is one; ``error`` the nearest
    :mod:`workbench.errors` class name the child named (e.g. ``"UnsupportedError"``), when it sent an error."""

    def __init__(
        self, message: str, *, user_error: bool = False, detail: str | None = None, error: str | None = None
    ) -> None:
        super().__init__(message)
        self.user_error = user_error
        self.detail = detail
        self.error = error


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class EngineProcess:
    """One pinned benchmark process for one engine, running ``job`` (see :class:`workbench.measure.wire.Job`)."""

    def __init__(self, job: Job, *, env: dict[str, str] | None = None) -> None:
        self.job = job
        self.engine = job.engine
        child_env = dict(os.environ if env is None else env)
        threads = job.threads
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
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover - both are pipes above
            raise RuntimeError("benchmark process started without pipes")
        self._stdin, self._stdout = self.proc.stdin, self.proc.stdout
        self._reader = wire.FrameReader()
        self._fd = self._stdout.fileno()
        self._send(job.to_json())

    # ---- commands --------------------------------------------------------------------------------------------
    def _send(self, line: str) -> None:
        try:
            self._stdin.write((line + "\n").encode())
            self._stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the read side reports why the child is gone

    def measure(self, cmd: MeasureCommand) -> None:
        self._send(cmd.to_json())

    def exit(self) -> None:
        self._send(wire.EXIT_COMMAND)

    # ---- frames ----------------------------------------------------------------------------------------------
    def read(self, timeout: float) -> tuple[bytes, Any] | None:
        """The next frame ``(kind, payload)`` — the decoded message for a JSON frame, the raw bytes otherwise —
        or None when ``timeout`` passes with no complete frame.

        Raises :class:`ChildFailed` when the child reported an error or ended without one.
        """
        try:
            frame = wire.read_frame(self._fd, self._reader, timeout)
        except EOFError:
            raise ChildFailed(self._death_reason()) from None
        if frame is None:
            return None
        if frame.kind == wire.JSON:
            msg = frame.message()
            if msg.get("type") == "error":
                self._reap()
                raise ChildFailed(
                    msg.get("message", "failed"),
                    user_error=msg.get("kind") == "user",
                    detail=msg.get("detail"),
                    error=msg.get("error"),
                )
            return frame.kind, msg
        return frame.kind, frame.payload

    def wait_loaded(
        self, timeout: float, *, want_outputs: bool, label: str | None = None, on_idle: Callable[[], None] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Read frames until the child reported ``loaded`` (and, with ``want_outputs``, sent its reference
        outputs). Returns ``(loaded message, outputs or None)``. ``on_idle`` runs between reads (e.g. to raise on
        a stop request). Kills the child and raises :class:`ChildFailed` after ``timeout`` seconds."""
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
            if kind == wire.JSON and payload.get("type") == "loaded":
                loaded = payload
            elif kind == wire.OUTPUTS:
                outputs = wire.decode_outputs(payload)
        return loaded, outputs

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
        """Kill the benchmark process and everything it started (its process group)."""
        wire.kill_process_group(self.proc, wait_s=5.0)

    def close(self, grace: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.exit()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        for stream in (self._stdin, self._stdout):
            try:
                stream.close()
            except OSError:
                pass
        self._stderr.close()


def load_once(
    job: Job, timeout: float, *, want_outputs: bool = False, on_idle: Callable[[], None] | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Start a benchmark process for ``job``, wait until it has loaded (and sent its outputs, with
    ``want_outputs``: see :meth:`EngineProcess.wait_loaded`), then end it. Returns ``(loaded message, outputs or
    None)``; raises :class:`ChildFailed`. Anything raised while waiting (Ctrl-C included) kills the process first."""
    proc = EngineProcess(job)
    try:
        return proc.wait_loaded(timeout, want_outputs=want_outputs, on_idle=on_idle)
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.close()
