"""The machine checks behind ``workbench doctor``: CPU, cores, governor, turbo, SMT, quota, isolation, memory,
virtualisation and steal, background load on the watched cores, installed engines, the in-process timing cost.

Each check is ``{"name", "status": "ok"|"warn"|"fail", "detail"}``; the CLI renders them (workbench/cli/doctor.py).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterable, Mapping

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


def _check(name: str, status: str, detail: str) -> dict[str, str]:
    return {"name": name, "status": status, "detail": detail}


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
    checks: list[dict[str, str]] = []
    try:
        affinity = sorted(os.sched_getaffinity(0))  # live: the cached sysinfo may predate a re-pin
    except (AttributeError, OSError):
        affinity = info.get("affinity") or list(range(os.cpu_count() or 1))
    watch = sorted(set(cores)) if cores is not None else list(affinity)

    cpu = info.get("cpu") or {}
    checks.append(
        _check(
            "cpu",
            "ok",
            f"{cpu.get('model') or 'unknown CPU'}: {cpu.get('physical_cores') or '?'} cores / "
            f"{cpu.get('logical_cpus') or '?'} threads, ISA: {', '.join(cpu.get('highlights') or []) or 'no AVX2/AVX-512/AMX'}",
        )
    )

    # affinity / requested cores
    if cores is not None:
        bad = pinning_warnings(watch, None, affinity)
        if bad:
            checks.append(_check("cores", "fail", bad[0]["message"]))
            watch = [c for c in watch if c in set(affinity)] or list(affinity)
        else:
            checks.append(_check("cores", "ok", f"cores {format_cpu_list(watch)} are available to this process"))
    else:
        checks.append(_check("cores", "ok", f"this process may run on cores {format_cpu_list(affinity)}"))

    sys_w = {w["code"]: w["message"] for w in system_warnings(info, watch if cores is not None else None)}
    freq = info.get("frequency") or {}

    # governor
    if not freq.get("governors"):
        checks.append(
            _check("governor", "ok", "not exposed here (VM or container): the host controls the CPU frequency")
        )
    elif "governor" in sys_w:
        checks.append(_check("governor", "warn", sys_w["governor"]))
    else:
        checks.append(_check("governor", "ok", "performance on every core"))

    # turbo
    if freq.get("turbo") is None:
        checks.append(_check("turbo", "ok", "not readable here (no intel_pstate/no_turbo or cpufreq/boost)"))
    elif "turbo" in sys_w:
        checks.append(_check("turbo", "warn", sys_w["turbo"]))
    else:
        checks.append(_check("turbo", "ok", f"off ({freq.get('turbo_source')})"))

    # SMT
    smt = info.get("smt") or {}
    if "smt-siblings" in sys_w:
        checks.append(_check("smt", "warn", sys_w["smt-siblings"]))
    elif smt.get("active"):
        sib = (cpu.get("smt_siblings") or [])[:1]
        checks.append(
            _check(
                "smt",
                "ok",
                f"on ({smt.get('threads_per_core') or '?'} threads per core"
                + (f", e.g. cpus {sib[0]} share a core" if sib else "")
                + "): for latency runs pin one thread per physical core",
            )
        )
    else:
        checks.append(_check("smt", "ok", "off" if smt.get("active") is False else "unknown"))

    # CPU quota
    if "cpu-quota" in sys_w:
        checks.append(_check("cpu quota", "warn", sys_w["cpu-quota"]))

    # isolated cpus
    iso = info.get("isolated_cpus")
    if iso:
        checks.append(
            _check(
                "isolated cpus",
                "ok",
                f"{format_cpu_list(iso)} isolated from the scheduler: pin there with --cores {format_cpu_list(iso)}",
            )
        )
    else:
        checks.append(_check("isolated cpus", "ok", "none (isolcpus not set): pinned cores can still run other tasks"))

    # memory
    mem = info.get("memory") or {}
    avail, total = mem.get("available_bytes"), mem.get("total_bytes")
    if psutil is not None:
        try:
            avail = int(psutil.virtual_memory().available)
        except Exception:
            pass
    if not isinstance(avail, (int, float)):
        checks.append(_check("memory", "warn", "available memory not readable"))
    else:
        gib = avail / (1 << 30)
        tot = f" of {total / (1 << 30):.1f} GiB" if isinstance(total, (int, float)) else ""
        if gib < 1:
            checks.append(
                _check("memory", "fail", f"only {gib:.2f} GiB available{tot}: models will not load; free memory")
            )
        elif gib < 4 or (isinstance(total, (int, float)) and total and avail / total < 0.1):
            checks.append(_check("memory", "warn", f"{gib:.1f} GiB available{tot}: large models may swap or fail"))
        else:
            checks.append(_check("memory", "ok", f"{gib:.1f} GiB available{tot}"))

    # virtualisation + steal + background load: one sample
    report: NoiseReport | None = None
    if sample_s and sample_s > 0:
        # our own process (this thread waiting, the sampler thread) is not background load
        sampler = NoiseSampler(watch, interval_s=max(0.05, min(0.25, sample_s / 4)), exclude_pids={os.getpid()})
        sampler.start()
        threading.Event().wait(sample_s)
        report = sampler.stop()

    virt = info.get("virtualisation") or {}
    steal = report.steal_pct if report is not None else None
    steal_txt = f"steal {steal:.1f}% over {sample_s:g} s" if steal is not None else "steal not measurable"
    if steal is not None and steal >= 10:
        checks.append(
            _check(
                "virtualisation",
                "fail",
                f"{virt.get('vm') or 'VM'}: {steal_txt}: the hypervisor is taking a lot of CPU time; numbers will not be reproducible",
            )
        )
    elif steal is not None and steal >= STEAL_PCT:
        checks.append(
            _check(
                "virtualisation",
                "warn",
                f"{virt.get('vm') or 'VM'}: {steal_txt}: shared host, numbers may not be reproducible",
            )
        )
    elif virt.get("vm"):
        checks.append(
            _check(
                "virtualisation",
                "warn",
                f"virtual machine ({virt['vm']}), {steal_txt}: compare only with runs on the same instance type",
            )
        )
    else:
        where = f"container ({virt['container']}) on " if virt.get("container") else ""
        checks.append(_check("virtualisation", "ok", f"{where}bare metal or undetectable VM; {steal_txt}"))

    if report is not None and report.samples:
        by_core = report.other_by_core()
        loaded = sorted(((c, v) for c, v in by_core.items() if v >= BACKGROUND_LOAD_PCT), key=lambda cv: -cv[1])
        quiet = [c for c, v in by_core.items() if v < BACKGROUND_LOAD_PCT / 2]
        if loaded:
            busiest = ", ".join(f"core {c} {v:.0f}%" for c, v in loaded[:6])
            hint = (
                f"; quiet cores: {format_cpu_list(quiet)} (use --cores)"
                if quiet
                else "; no quiet core: stop other programs"
            )
            checks.append(_check("background load", "warn", f"other processes are busy on {busiest}{hint}"))
        else:
            top = max(by_core.items(), key=lambda cv: cv[1]) if by_core else None
            worst = f" (max {top[1]:.1f}% on core {top[0]})" if top else ""
            checks.append(
                _check(
                    "background load",
                    "ok",
                    f"all {len(by_core)} watched cores below {BACKGROUND_LOAD_PCT:.0f}% busy{worst}",
                )
            )
    else:
        checks.append(_check("background load", "warn", "could not sample per-core load"))

    # engines
    if engines is not None:
        engines = list(engines)
        for name, installed, version in engines:
            if installed:
                checks.append(_check(f"engine {name}", "ok", f"installed ({version or 'version unknown'})"))
            else:
                checks.append(_check(f"engine {name}", "warn", "not installed"))
        if not any(inst for _, inst, _ in engines):
            checks.append(
                _check("engines", "fail", "no inference engine is installed: pip install torch onnxruntime openvino")
            )

    # harness overhead (after sampling, so it does not count as background load); overhead_n=0 skips it
    if overhead_n and overhead_n > 0:
        oh = measure_harness_overhead(overhead_n)
        status = "ok" if oh["median_ns"] < 1000 else "warn"
        checks.append(
            _check(
                "harness overhead (in-process)",
                status,
                f"timing loop around an empty call costs {oh['median_ns']:.0f} ns median / {oh['mean_ns']:.0f} ns "
                f"mean per iteration (timer resolution {oh['timer_resolution_ns']:.0f} ns)"
                + ("" if status == "ok" else ": high for sub-millisecond models; check for a slow clock source"),
            )
        )
    return checks
