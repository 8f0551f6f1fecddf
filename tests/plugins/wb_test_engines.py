"""Test-only engine adapters, loaded into benchmark processes through WORKBENCH_ENGINE_PLUGINS.

They exercise the harness's failure handling (a crash, a hang, an out-of-memory kill, a wrong answer) and give
the interleaving test a second cheap engine. Their timings are never presented as measurements of anything.
"""

from __future__ import annotations

import os
import signal
import time

from workbench_engines.noop_engine import NoopEngine, _NoopModel


class EchoEngine(NoopEngine):
    """Like noop, under another name (a second cheap engine for interleaving tests)."""

    name = "echo"
    display_name = "Echo (test)"


class _Dying(_NoopModel):
    def __init__(self, artifact, threads, sig, after):
        super().__init__(artifact, threads)
        self._sig, self._after, self._n = sig, after, 0

    def infer(self):
        self._n += 1
        if self._n > self._after:
            os.kill(os.getpid(), self._sig)
            time.sleep(10)


class CrashEngine(NoopEngine):
    """Segfaults (SIGSEGV) after a few hundred measured iterations."""

    name = "crash"
    display_name = "Crash (test)"
    sig = signal.SIGSEGV

    @classmethod
    def load(cls, artifact, **kw):
        return _Dying(artifact, kw.get("threads"), cls.sig, after=int(os.environ.get("WB_CRASH_AFTER", "500")))


class OomEngine(CrashEngine):
    """Dies like the OOM killer kills (SIGKILL)."""

    name = "oomkill"
    display_name = "OOM kill (test)"
    sig = signal.SIGKILL


class _Hang(_NoopModel):
    def infer(self):
        if getattr(self, "_armed", False):
            signal.pause()  # hangs: no samples, no exit
        self._armed = True


class HangEngine(NoopEngine):
    name = "hang"
    display_name = "Hang (test)"

    @classmethod
    def load(cls, artifact, **kw):
        return _Hang(artifact, kw.get("threads"))


class BrokenLoadEngine(NoopEngine):
    name = "brokenload"
    display_name = "Broken load (test)"

    @classmethod
    def load(cls, artifact, **kw):
        raise RuntimeError("native library exploded while compiling")
