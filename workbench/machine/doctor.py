"""The machine checks behind ``workbench doctor``: CPU, cores, governor, turbo, SMT, quota, isolation, memory,
virtualisation and steal, background load on the watched cores, installed engines, the in-process timing cost.

Each check is ``{"name", "status": "ok"|"warn"|"fail", "detail"}``; the CLI renders them (workbench/cli/doctor.py).
:data:`CHECKS` names the check functions in the order they run: each takes the :class:`Machine` under examination
and returns its row(s) — none when it does not apply (no CPU quota warning, no engines asked about).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

from workbench.machine.cpus import format_cpu_list
from workbench.machine.noise import (
    BACKGROUND_LOAD_PCT,
    STEAL_PCT,
    NoiseReport,
    NoiseSampler,
    measure_harness_overhead,
    pinning_warnings,
    psutil,
    system_warnings,
)

Row = dict[str, str]


def _check(name: str, status: str, detail: str) -> Row:
    return {"name": name, "status": status, "detail": detail}


@dataclass
class Machine:
    """What the checks read: the machine description, the cores asked about and, sampled once when a check first
    asks for it, the noise on the watched cores."""

    info: Mapping[str, Any]
    affinity: list[int]  # this process's cores, live (the cached sysinfo may predate a re-pin)
    requested: list[int] | None  # the cores asked about; None: the whole affinity
    sample_s: float
    engines: list[tuple[str, bool, str | None]] | None
    overhead_n: int

    def section(self, key: str) -> Mapping[str, Any]:
        return self.info.get(key) or {}

    @cached_property
    def pinning(self) -> list[dict[str, str]]:
        """What is wrong with the requested cores (empty when none were requested or all are available)."""
        return pinning_warnings(self.requested, None, self.affinity) if self.requested is not None else []

    @cached_property
    def watch(self) -> list[int]:
        """The cores the per-core checks watch: the requested ones this process may use, else the affinity."""
        if self.requested is None:
            return list(self.affinity)
        if self.pinning:
            return [c for c in self.requested if c in set(self.affinity)] or list(self.affinity)
        return self.requested

    @cached_property
    def system(self) -> dict[str, str]:
        """:func:`~workbench.machine.noise.system_warnings` for the watched cores, code -> message."""
        cores = self.watch if self.requested is not None else None
        return {w["code"]: w["message"] for w in system_warnings(self.info, cores)}

    @cached_property
    def noise(self) -> NoiseReport | None:
        """Background load and steal on the watched cores over ``sample_s`` seconds (None when 0)."""
        if not (self.sample_s and self.sample_s > 0):
            return None
        # our own process (this thread waiting, the sampler thread) is not background load
        interval = max(0.05, min(0.25, self.sample_s / 4))
        sampler = NoiseSampler(self.watch, interval_s=interval, exclude_pids={os.getpid()})
        sampler.start()
        threading.Event().wait(self.sample_s)
        return sampler.stop()


def check_cpu(m: Machine) -> list[Row]:
    cpu = m.section("cpu")
    isa = ", ".join(cpu.get("highlights") or []) or "no AVX2/AVX-512/AMX"
    detail = (
        f"{cpu.get('model') or 'unknown CPU'}: {cpu.get('physical_cores') or '?'} cores / "
        f"{cpu.get('logical_cpus') or '?'} threads, ISA: {isa}"
    )
    return [_check("cpu", "ok", detail)]


def check_cores(m: Machine) -> list[Row]:
    if m.requested is None:
        return [_check("cores", "ok", f"this process may run on cores {format_cpu_list(m.affinity)}")]
    if m.pinning:
        return [_check("cores", "fail", m.pinning[0]["message"])]
    return [_check("cores", "ok", f"cores {format_cpu_list(m.watch)} are available to this process")]


def check_governor(m: Machine) -> list[Row]:
    if not m.section("frequency").get("governors"):
        return [_check("governor", "ok", "not exposed here (VM or container): the host controls the CPU frequency")]
    if "governor" in m.system:
        return [_check("governor", "warn", m.system["governor"])]
    return [_check("governor", "ok", "performance on every core")]


def check_turbo(m: Machine) -> list[Row]:
    freq = m.section("frequency")
    if freq.get("turbo") is None:
        return [_check("turbo", "ok", "not readable here (no intel_pstate/no_turbo or cpufreq/boost)")]
    if "turbo" in m.system:
        return [_check("turbo", "warn", m.system["turbo"])]
    return [_check("turbo", "ok", f"off ({freq.get('turbo_source')})")]


def check_smt(m: Machine) -> list[Row]:
    smt = m.section("smt")
    if "smt-siblings" in m.system:
        return [_check("smt", "warn", m.system["smt-siblings"])]
    if not smt.get("active"):
        return [_check("smt", "ok", "off" if smt.get("active") is False else "unknown")]
    sib = (m.section("cpu").get("smt_siblings") or [])[:1]
    example = f", e.g. cpus {sib[0]} share a core" if sib else ""
    per_core = f"{smt.get('threads_per_core') or '?'} threads per core{example}"
    detail = f"on ({per_core}): for latency runs pin one thread per physical core"
    return [_check("smt", "ok", detail)]


def check_cpu_quota(m: Machine) -> list[Row]:
    return [_check("cpu quota", "warn", m.system["cpu-quota"])] if "cpu-quota" in m.system else []


def check_isolated_cpus(m: Machine) -> list[Row]:
    iso = m.info.get("isolated_cpus")
    if not iso:
        return [_check("isolated cpus", "ok", "none (isolcpus not set): pinned cores can still run other tasks")]
    listed = format_cpu_list(iso)
    return [_check("isolated cpus", "ok", f"{listed} isolated from the scheduler: pin there with --cores {listed}")]


def check_memory(m: Machine) -> list[Row]:
    mem = m.section("memory")
    avail, total = mem.get("available_bytes"), mem.get("total_bytes")
    if psutil is not None:
        try:
            avail = int(psutil.virtual_memory().available)
        except Exception:
            pass
    if not isinstance(avail, (int, float)):
        return [_check("memory", "warn", "available memory not readable")]
    gib = avail / (1 << 30)
    total = total if isinstance(total, (int, float)) else None
    tot = f" of {total / (1 << 30):.1f} GiB" if total is not None else ""
    if gib < 1:
        return [_check("memory", "fail", f"only {gib:.2f} GiB available{tot}: models will not load; free memory")]
    if gib < 4 or (total and avail / total < 0.1):
        return [_check("memory", "warn", f"{gib:.1f} GiB available{tot}: large models may swap or fail")]
    return [_check("memory", "ok", f"{gib:.1f} GiB available{tot}")]


def check_virtualisation(m: Machine) -> list[Row]:
    virt = m.section("virtualisation")
    steal = m.noise.steal_pct if m.noise is not None else None
    steal_txt = f"steal {steal:.1f}% over {m.sample_s:g} s" if steal is not None else "steal not measurable"
    vm = virt.get("vm") or "VM"
    if steal is not None and steal >= 10:
        hint = "the hypervisor is taking a lot of CPU time; numbers will not be reproducible"
        return [_check("virtualisation", "fail", f"{vm}: {steal_txt}: {hint}")]
    if steal is not None and steal >= STEAL_PCT:
        hint = "shared host, numbers may not be reproducible"
        return [_check("virtualisation", "warn", f"{vm}: {steal_txt}: {hint}")]
    if virt.get("vm"):
        hint = "compare only with runs on the same instance type"
        return [_check("virtualisation", "warn", f"virtual machine ({virt['vm']}), {steal_txt}: {hint}")]
    where = f"container ({virt['container']}) on " if virt.get("container") else ""
    return [_check("virtualisation", "ok", f"{where}bare metal or undetectable VM; {steal_txt}")]


def check_background_load(m: Machine) -> list[Row]:
    if m.noise is None or not m.noise.samples:
        return [_check("background load", "warn", "could not sample per-core load")]
    by_core = m.noise.other_by_core()
    loaded = sorted(((c, v) for c, v in by_core.items() if v >= BACKGROUND_LOAD_PCT), key=lambda cv: -cv[1])
    if loaded:
        busiest = ", ".join(f"core {c} {v:.0f}%" for c, v in loaded[:6])
        quiet = [c for c, v in by_core.items() if v < BACKGROUND_LOAD_PCT / 2]
        hint = (
            f"; quiet cores: {format_cpu_list(quiet)} (use --cores)"
            if quiet
            else "; no quiet core: stop other programs"
        )
        return [_check("background load", "warn", f"other processes are busy on {busiest}{hint}")]
    top = max(by_core.items(), key=lambda cv: cv[1]) if by_core else None
    worst = f" (max {top[1]:.1f}% on core {top[0]})" if top else ""
    detail = f"all {len(by_core)} watched cores below {BACKGROUND_LOAD_PCT:.0f}% busy{worst}"
    return [_check("background load", "ok", detail)]


def check_energy(m: Machine) -> list[Row]:
    """Whether runs here will carry energy (RAPL through powercap; docs/methodology.md, *Energy*). Not having it
    does not disturb a timing, so it is never a warning: the row says what the results will and will not hold."""
    from workbench.machine.energy import open_meter

    meter, why = open_meter("cpu")
    if meter is None:
        return [_check("energy counters", "ok", f"not readable, results will carry no energy: {why}")]
    return [_check("energy counters", "ok", f"readable: {', '.join(meter.domains)} (J per inference in every result)")]


def check_engines(m: Machine) -> list[Row]:
    if m.engines is None:
        return []
    rows = [
        _check(f"engine {name}", "ok", f"installed ({version or 'version unknown'})")
        if installed
        else _check(f"engine {name}", "warn", "not installed")
        for name, installed, version in m.engines
    ]
    if not any(installed for _, installed, _ in m.engines):
        hint = "no inference engine is installed: pip install torch onnxruntime openvino"
        rows.append(_check("engines", "fail", hint))
    return rows


def check_harness_overhead(m: Machine) -> list[Row]:
    """The in-process timing loop's cost; runs after the sampling, so it does not count as background load."""
    if not (m.overhead_n and m.overhead_n > 0):
        return []
    oh = measure_harness_overhead(m.overhead_n)
    status = "ok" if oh["median_ns"] < 1000 else "warn"
    detail = (
        f"timing loop around an empty call costs {oh['median_ns']:.0f} ns median / {oh['mean_ns']:.0f} ns "
        f"mean per iteration (timer resolution {oh['timer_resolution_ns']:.0f} ns)"
    )
    if status != "ok":
        detail += ": high for sub-millisecond models; check for a slow clock source"
    return [_check("harness overhead (in-process)", status, detail)]


#: The checks of ``workbench doctor``, in the order they run and are shown.
CHECKS: tuple[Callable[[Machine], list[Row]], ...] = (
    check_cpu,
    check_cores,
    check_governor,
    check_turbo,
    check_smt,
    check_cpu_quota,
    check_isolated_cpus,
    check_memory,
    check_virtualisation,
    check_background_load,
    check_energy,
    check_engines,
    check_harness_overhead,
)


def doctor_report(
    engines: Iterable[tuple[str, bool, str | None]] | None = None,
    *,
    cores: Iterable[int] | None = None,
    sample_s: float = 0.5,
    info: Mapping[str, Any] | None = None,
    overhead_n: int = 200_000,
) -> list[dict[str, str]]:
    """The checks of ``workbench doctor``: each ``{"name", "status": "ok"|"warn"|"fail", "detail"}``.

    ``engines`` is a list of ``(engine name, installed, version)``; when given, one check per engine is added and
    a "fail" when none is installed. ``cores`` restricts per-core checks (default: this process's affinity).
    Samples the cores for ``sample_s`` seconds (background load, steal; 0 skips), then measures the in-process
    harness overhead with ``overhead_n`` iterations (0 skips; the check is named "harness overhead (in-process)"
    so it does not clash with the CLI's full child-path measurement).
    """
    from workbench.machine import sysinfo

    info = info if info is not None else sysinfo.collect()
    try:
        affinity = sorted(os.sched_getaffinity(0))  # live: the cached sysinfo may predate a re-pin
    except (AttributeError, OSError):
        affinity = info.get("affinity") or list(range(os.cpu_count() or 1))
    machine = Machine(
        info=info,
        affinity=affinity,
        requested=sorted(set(cores)) if cores is not None else None,
        sample_s=sample_s,
        engines=list(engines) if engines is not None else None,
        overhead_n=overhead_n,
    )
    return [row for check in CHECKS for row in check(machine)]
