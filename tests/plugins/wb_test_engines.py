"""Test-only engine adapters, loaded into benchmark processes through WORKBENCH_ENGINE_PLUGINS.

They exercise the harness's failure handling (a crash, a hang, an out-of-memory kill, a wrong answer), give
the interleaving test a second cheap engine, and prove that an option an adapter declares reaches the CLI, the UI
and the adapter's ``load`` with no code for it anywhere else (:class:`KnobEngine`). Their timings are never
presented as measurements of anything.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Mapping

from workbench_engines.base import Effective, EngineOption, LoadSettings, ModelArtifact
from workbench_engines.noop_engine import NoopEngine, _NoopModel


class EchoEngine(NoopEngine):
    """Like noop, under another name (a second cheap engine for interleaving tests)."""

    name = "echo"
    display_name = "Echo (test)"


class _Dying(_NoopModel):
    def __init__(self, artifact: ModelArtifact, threads: int | None, sig: int, after: int) -> None:
        super().__init__(artifact, threads)
        self._sig, self._after, self._n = sig, after, 0

    def infer(self) -> None:
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
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> _Dying:
        threads = (settings or LoadSettings()).threads
        return _Dying(artifact, threads, cls.sig, after=int(os.environ.get("WB_CRASH_AFTER", "500")))


class OomEngine(CrashEngine):
    """Dies like the OOM killer kills (SIGKILL)."""

    name = "oomkill"
    display_name = "OOM kill (test)"
    sig = signal.SIGKILL


class _Hang(_NoopModel):
    def infer(self) -> None:
        if getattr(self, "_armed", False):
            signal.pause()  # hangs: no samples, no exit
        self._armed = True


class HangEngine(NoopEngine):
    name = "hang"
    display_name = "Hang (test)"

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> _Hang:
        return _Hang(artifact, (settings or LoadSettings()).threads)


class BrokenLoadEngine(NoopEngine):
    name = "brokenload"
    display_name = "Broken load (test)"

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> _NoopModel:
        raise RuntimeError("native library exploded while compiling")


class _Knobbed(_NoopModel):
    def __init__(self, artifact: ModelArtifact, settings: LoadSettings) -> None:
        super().__init__(artifact, settings.threads)
        self._options = dict(settings.options)

    def effective(self) -> Effective:
        eff = super().effective()
        eff.extra["options"] = self._options  # echo what load() received
        return eff


class KnobEngine(NoopEngine):
    """A visible cheap engine declaring options, and nothing else: no runner, child, CLI or UI code knows them.
    ``effective().extra["options"]`` echoes the options its ``load`` received."""

    name = "knob"
    display_name = "Knob (test)"
    hidden = False
    options = (
        EngineOption("level", int, default=3, minimum=0, help="how far the knob is turned"),
        EngineOption("flavour", str, default="plain", choices=("plain", "spicy"), help="what it tastes of"),
        EngineOption("turbo", bool, default=False, modes=("throughput",), help="spin faster"),
    )

    @classmethod
    def fingerprint_fields(cls, versions: Mapping[str, Any]) -> dict[str, Any]:
        """An engine whose fingerprint needs more than its version (a build flavour, say)."""
        return {**super().fingerprint_fields(versions), "knob_build": "test-build"}

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> _Knobbed:
        return _Knobbed(artifact, settings or LoadSettings())


def knob_options(record: dict[str, Any]) -> dict[str, Any]:
    """The options the knob engine's load() received, read back from a run's JSON."""
    (result,) = [r for r in record["results"] if r["engine"] == "knob"]
    return dict(result["effective"]["extra"]["options"])


class _Drifting(_NoopModel):
    """Busy-computes for ``WB_DRIFT_US`` × ``WB_DRIFT_FACTOR`` microseconds per inference: the factor is fixed for
    the process (the test sets it per run), so its latency drifts between runs but not within one — what a
    cloud VM does to a real engine."""

    def __init__(self, artifact: ModelArtifact, threads: int | None) -> None:
        super().__init__(artifact, threads)
        self._ns = int(
            float(os.environ.get("WB_DRIFT_US", "200")) * float(os.environ.get("WB_DRIFT_FACTOR", "1")) * 1e3
        )

    def infer(self) -> None:
        end = time.perf_counter_ns() + self._ns
        x = 0
        while time.perf_counter_ns() < end:  # real work on the CPU, not a sleep
            x += 1


class DriftEngine(NoopEngine):
    """An engine whose speed is set per process (see :class:`_Drifting`); its timings model a machine, they are
    never presented as measurements of anything."""

    name = "drift"
    display_name = "Drift (test)"

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> _Drifting:
        return _Drifting(artifact, (settings or LoadSettings()).threads)


class _Raising(_NoopModel):
    def __init__(self, artifact: ModelArtifact, threads: int | None) -> None:
        super().__init__(artifact, threads)
        self._n, self._after = 0, int(os.environ.get("WB_RAISE_AFTER", "50"))

    def infer(self) -> None:
        self._n += 1
        if self._n > self._after:
            raise RuntimeError("engine exploded mid-run (test)")


class RaiseEngine(NoopEngine):
    """Raises from ``infer`` after ``WB_RAISE_AFTER`` calls: an engine error in the middle of measuring (inside
    LoadGen's callbacks, in a scenario run)."""

    name = "raise"
    display_name = "Raise (test)"

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> _Raising:
        return _Raising(artifact, (settings or LoadSettings()).threads)
