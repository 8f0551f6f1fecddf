"""Energy counters: RAPL through the powercap sysfs tree (CPU package and DRAM), NVML for NVIDIA GPUs.

A :class:`Meter` reads every counter this machine exposes once before and once after a timed round
(:meth:`Meter.begin` / :meth:`Meter.end`) and returns the joules of each domain in between. Counters that wrap
(RAPL's ``energy_uj`` goes back to 0 after ``max_energy_range_uj``) are unwrapped by :func:`counter_delta`; a GPU
without NVML's total-energy counter is sampled for power in a thread and integrated (trapezoids).

Where nothing can be read — a virtual machine has no powercap tree; since Linux 5.10 ``energy_uj`` is readable by
root only (CVE-2020-8694); no NVIDIA driver — :func:`open_meter` returns no meter and one line saying why, and the
result shows the missing mark. Nothing here estimates: every joule is a counter's difference or an integral of
NVML's own power readings.

``WORKBENCH_POWERCAP_ROOT`` points the reader at another tree (tests use a fake one whose counters advance).
Imports nothing heavy: the benchmark child opens a meter after pinning itself.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = [
    "IDLE_S",
    "MIN_ROUND_S",
    "POWERCAP_ROOT",
    "Counter",
    "RaplCounter",
    "NvmlEnergyCounter",
    "NvmlPowerCounter",
    "Meter",
    "counter_delta",
    "powercap_root",
    "rapl_counters",
    "nvml_counters",
    "open_meter",
    "measure_idle",
    "energy_summary",
]

POWERCAP_ROOT = "/sys/class/powercap"
#: seconds of idle power measured before a run's rounds (the loaded engines waiting)
IDLE_S = 1.0
#: below this many measured seconds the reading is flagged: RAPL updates about every 1 ms and NVML's power about
#: every 20–100 ms, so a short window is dominated by where the updates fall
MIN_ROUND_S = 1.0
#: NVML power sampling interval (where the total-energy counter is missing)
SAMPLE_S = 0.02
#: devices whose energy NVML can measure
GPU_DEVICES = ("cuda", "gpu")


def powercap_root() -> Path:
    """The powercap tree: ``WORKBENCH_POWERCAP_ROOT`` when set, else ``/sys/class/powercap``."""
    return Path(os.environ.get("WORKBENCH_POWERCAP_ROOT") or POWERCAP_ROOT)


def counter_delta(before: int, after: int, max_range: int | None) -> int:
    """``after - before`` of a counter that wraps to 0 after ``max_range`` (one wrap at most between readings;
    RAPL's range is ~262 kJ on common parts: 40+ minutes at 100 W, far longer than a round)."""
    if after >= before or not max_range:
        return after - before
    return after + max_range - before


class Counter:
    """One energy domain. ``begin`` starts a window, ``end`` returns the joules since ``begin``."""

    name: str = ""

    def begin(self) -> None:
        raise NotImplementedError

    def end(self) -> float:
        raise NotImplementedError


class RaplCounter(Counter):
    """A powercap zone's ``energy_uj`` (µJ), unwrapped with its ``max_energy_range_uj``."""

    def __init__(self, name: str, path: Path, max_range: int | None) -> None:
        self.name, self.path, self.max_range = name, path, max_range
        self._start = 0

    def read(self) -> int:
        with open(self.path / "energy_uj") as fh:
            return int(fh.read().strip())

    def begin(self) -> None:
        self._start = self.read()

    def end(self) -> float:
        return counter_delta(self._start, self.read(), self.max_range) / 1e6


class NvmlEnergyCounter(Counter):
    """An NVIDIA GPU's total energy since driver load (mJ, ``nvmlDeviceGetTotalEnergyConsumption``; Volta+)."""

    def __init__(self, name: str, nvml: Any, handle: Any) -> None:
        self.name, self._nvml, self._handle = name, nvml, handle
        self._start = 0

    def begin(self) -> None:
        self._start = int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def end(self) -> float:
        return (int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)) - self._start) / 1e3


class NvmlPowerCounter(Counter):
    """A GPU without the energy counter: its power (mW, ``nvmlDeviceGetPowerUsage``) sampled every
    :data:`SAMPLE_S` in a thread between ``begin`` and ``end``, integrated over time (trapezoids)."""

    def __init__(self, name: str, nvml: Any, handle: Any, interval_s: float = SAMPLE_S) -> None:
        self.name, self._nvml, self._handle, self.interval_s = name, nvml, handle, interval_s
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        self._samples.append((time.perf_counter(), float(self._nvml.nvmlDeviceGetPowerUsage(self._handle)) / 1e3))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def begin(self) -> None:
        self._samples = []
        self._stop.clear()
        self._sample()
        self._thread = threading.Thread(target=self._loop, name=f"nvml-{self.name}", daemon=True)
        self._thread.start()

    def end(self) -> float:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        s = self._samples
        return sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(s, s[1:]))


def rapl_counters(root: Path | None = None) -> tuple[list[Counter], str | None]:
    """The package and DRAM zones of the powercap tree (``intel-rapl:N`` named ``package-N``; ``intel-rapl:N:M``
    named ``dram``) — core/uncore are parts of the package and psys overlaps it, so they are left out. Returns the
    readable counters, or none and the one-line reason."""
    root = root or powercap_root()
    if not root.is_dir():
        return [], f"no powercap tree at {root} (a virtual machine, or a kernel without the intel_rapl driver)"
    counters: list[Counter] = []
    denied: list[str] = []
    for zone in sorted(root.glob("intel-rapl:*")):
        parts = zone.name.split(":")
        try:
            name = (zone / "name").read_text().strip()
        except OSError:
            continue
        if len(parts) == 2 and name.startswith("package"):
            label = name
        elif len(parts) == 3 and name == "dram":
            label = f"dram-{parts[1]}"
        else:
            continue
        try:
            max_range: int | None = int((zone / "max_energy_range_uj").read_text().strip())
        except (OSError, ValueError):
            max_range = None
        counter = RaplCounter(label, zone, max_range)
        try:
            counter.read()
        except PermissionError:
            denied.append(zone.name)
            continue
        except (OSError, ValueError):
            continue
        counters.append(counter)
    if counters:
        return counters, None
    if denied:
        return [], (
            f"{root}/{denied[0]}/energy_uj is readable by root only (Linux 5.10+, CVE-2020-8694); "
            "run as root or make energy_uj readable (e.g. a udev rule) to measure energy"
        )
    return [], f"no RAPL package or dram zone under {root}"


def nvml_counters(nvml: Any = None) -> tuple[list[Counter], str | None]:
    """One counter per NVIDIA GPU NVML sees: the total-energy counter, else sampled power. ``nvml``: the
    ``pynvml`` module (tests pass a fake)."""
    if nvml is None:
        try:
            import pynvml  # nvidia-ml-py
        except ImportError:
            return [], "nvidia-ml-py (pynvml) is not installed"
        nvml = pynvml
    try:
        nvml.nvmlInit()
        count = int(nvml.nvmlDeviceGetCount())
    except Exception as exc:
        return [], f"NVML unavailable ({type(exc).__name__}: {str(exc).strip() or 'no NVIDIA driver'})"
    counters: list[Counter] = []
    for i in range(count):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        try:
            nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
            counters.append(NvmlEnergyCounter(f"gpu-{i}", nvml, handle))
            continue
        except Exception:
            pass
        try:
            nvml.nvmlDeviceGetPowerUsage(handle)
            counters.append(NvmlPowerCounter(f"gpu-{i}", nvml, handle))
        except Exception:
            continue
    return (counters, None) if counters else ([], "NVML reports no GPU with an energy counter or power reading")


@dataclass
class Meter:
    """The counters of one process. ``not_measured``: domains that could not be read, each with why."""

    counters: list[Counter]
    not_measured: list[str] = field(default_factory=list)

    @property
    def domains(self) -> list[str]:
        return [c.name for c in self.counters]

    def begin(self) -> None:
        for c in self.counters:
            c.begin()

    def end(self) -> dict[str, float]:
        return {c.name: c.end() for c in self.counters}


def open_meter(device: str = "cpu", *, root: Path | None = None, nvml: Any = None) -> tuple[Meter | None, str | None]:
    """The meter for a run on ``device``: RAPL always (the host works for a GPU run too), NVML when the device is
    a GPU. Returns ``(meter, None)`` or ``(None, why)`` — one line naming every source that could not be read."""
    rapl, rapl_why = rapl_counters(root)
    counters, missing = list(rapl), [] if rapl_why is None else [f"CPU: {rapl_why}"]
    if device in GPU_DEVICES:
        gpus, gpu_why = nvml_counters(nvml)
        counters += gpus
        if gpu_why is not None:
            missing.append(f"GPU: {gpu_why}")
    if not counters:
        return None, "; ".join(missing) or "no energy counter"
    return Meter(counters, missing), None


def measure_idle(
    meter: Meter, seconds: float | None = None, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Idle power: the meter's domains over ``seconds`` (default :data:`IDLE_S`) of this process sleeping.
    ``{"watts", "by_domain", "seconds"}``."""
    seconds = IDLE_S if seconds is None else seconds
    t0 = time.perf_counter()
    meter.begin()
    sleep(seconds)
    joules = meter.end()
    elapsed = time.perf_counter() - t0
    return {
        "watts": sum(joules.values()) / elapsed if elapsed > 0 else None,
        "by_domain": {k: v / elapsed for k, v in joules.items()} if elapsed > 0 else {},
        "seconds": elapsed,
    }


def energy_summary(
    rounds: list[dict[str, Any]], *, batch: int, idle: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """A result's ``energy`` entry from its measured rounds (each with ``energy_j``: joules by domain, and
    ``elapsed_ns``/``iterations``): joules, average watts, J per inference and per item, inferences and items
    per joule, the domains, and with ``idle`` the idle power and the run's share above it. None when no round
    carries energy; ``status: "unavailable"`` when the counters did not advance."""
    measured = [r for r in rounds if isinstance(r.get("energy_j"), dict)]
    if not measured:
        return None
    by_domain: dict[str, float] = {}
    for r in measured:
        for k, v in r["energy_j"].items():
            by_domain[k] = by_domain.get(k, 0.0) + float(v)
    joules = sum(by_domain.values())
    if joules <= 0:  # a real counter always advances: a stuck or emulated one is no measurement
        return {
            "status": "unavailable",
            "reason": f"the energy counters ({', '.join(sorted(by_domain))}) did not advance during the rounds "
            "(a stuck or emulated counter)",
        }
    seconds = sum(r["elapsed_ns"] for r in measured) / 1e9
    iterations = int(sum(r["iterations"] for r in measured))
    items = iterations * batch
    watts = joules / seconds if seconds > 0 else None
    out: dict[str, Any] = {
        "status": "measured",
        "domains": sorted(by_domain),
        "by_domain_j": by_domain,
        "joules": joules,
        "seconds": seconds,
        "watts": watts,
        "j_per_inference": joules / iterations if iterations else None,
        "j_per_item": joules / items if items else None,
        "inferences_per_j": iterations / joules if joules > 0 else None,
        "items_per_j": items / joules if joules > 0 else None,
        "rounds_j": [sum(r["energy_j"].values()) for r in measured],
        "idle_watts": None,
        "above_idle_watts": None,
        "above_idle_share": None,
        "j_per_item_above_idle": None,
    }
    if len(measured) < len(rounds):
        out["note"] = f"energy read in {len(measured)} of {len(rounds)} rounds"
    elif seconds < MIN_ROUND_S * len(measured):
        out["note"] = (
            f"rounds shorter than {MIN_ROUND_S:g} s: the counters update every ~1 ms (RAPL) to ~100 ms (NVML power), "
            "so short windows read unevenly"
        )
    idle_w = as_number((idle or {}).get("watts"))
    if idle_w is not None and watts is not None:
        idle_w = sum(v for k, v in (idle or {}).get("by_domain", {}).items() if k in by_domain) or idle_w
        above = watts - idle_w
        out.update(
            idle_watts=idle_w,
            idle_s=(idle or {}).get("seconds"),
            above_idle_watts=above,
            above_idle_share=above / watts if watts > 0 else None,
            j_per_item_above_idle=above * seconds / items if items else None,
        )
    return out


def as_number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
