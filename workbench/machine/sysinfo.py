"""What machine is this? Hardware, OS, engine versions and a fingerprint — cheaply, and never failing.

:func:`collect` returns one JSON-able dict describing the machine a benchmark runs on: CPU model and topology, the
ISA flags that change what inference engines do (AVX2, AVX-512, VNNI, BF16, FP16, AMX), caches, NUMA nodes,
memory, frequency governors and turbo, SMT, isolated CPUs, virtualisation/container hints, OS, Python, engine
versions (from package metadata — no engine is ever imported here) and GPUs when ``nvidia-smi`` exists.

Rules this module keeps:

* **Degrade, never fail.** It runs on Xeon servers, laptops, VMs and containers. Anything unreadable is ``None``
  (or an empty list/dict); no exception escapes :func:`collect`.
* **Cheap.** Only small files under ``/proc`` and ``/sys`` plus, at most, two short subprocesses started in
  parallel (``systemd-detect-virt`` and ``nvidia-smi``, the latter only when the binary exists). The result is
  cached; ``collect(refresh=True)`` re-reads.
* **Testable.** Parsers are pure functions over text (:func:`parse_cpuinfo`, :func:`parse_os_release`, ...; they
  live in :mod:`workbench.machine.cpuinfo` and are re-exported here), and every filesystem read goes through a
  ``root`` directory that tests point at a fake tree.

The ``fingerprint`` is a short hash over the fields that change what a benchmark measures
(:data:`FINGERPRINT_KEYS`); ``fingerprint_fields`` keeps those fields so a comparison can say *what* differs
(:func:`fingerprint_diff`). Fields that merely describe the moment (available memory, current frequency, governor)
are deliberately not part of it: they are noise, reported as warnings by :mod:`workbench.machine.noise`.

Only the standard library and psutil are used.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from workbench.machine.cpuinfo import (
    ISA_FLAGS,
    bracketed_choice,
    flag_highlights,
    isa_flags,
    parse_cpuinfo,
    parse_nvidia_smi,
    parse_os_release,
    parse_size,
    sibling_lists,
    summarise_per_cpu,
)
from workbench.machine.cpus import format_cpu_list, parse_cpu_list
from workbench.stats.machines import HARDWARE_KEYS  # the node type; the kernel varies within one

try:  # psutil is a dependency, but sysinfo must still degrade if it is broken
    import psutil
except Exception:  # pragma: no cover - exercised only on broken installs
    psutil = None

__all__ = [
    "MACHINE_FINGERPRINT_KEYS",
    "CORE_DISTRIBUTIONS",
    "fingerprint_keys",
    "engine_distributions",
    "collect",
    "summary",
    "read_per_cpu",
    "governor_summary",
    "fingerprint_fields",
    "fingerprint",
    "fingerprint_diff",
    "package_versions",
    # the pure parsers, re-exported from workbench.machine.cpuinfo
    "ISA_FLAGS",
    "flag_highlights",
    "isa_flags",
    "parse_cpuinfo",
    "parse_os_release",
    "parse_size",
    "summarise_per_cpu",
]

#: Versions reported under ``versions`` besides the engines': key -> distributions to try, first found wins. The
#: engines' own (key = engine name) come from their adapters (``Engine.distributions``), see
#: :func:`engine_distributions`; ``ENGINE_DISTRIBUTIONS`` is the whole table, computed on access.
CORE_DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "textual": ("textual",),
    "workbench": ("inference-workbench",),
}

#: The machine's part of ``fingerprint_fields``; each engine adds its own keys (``Engine.fingerprint_fields``,
#: by default its version), see :func:`fingerprint_keys`. ``FINGERPRINT_KEYS`` is the whole tuple, computed on access.
MACHINE_FINGERPRINT_KEYS: tuple[str, ...] = (*HARDWARE_KEYS, "kernel")


def _engine_classes() -> list[Any]:
    """The visible engine adapters, from the registry (no engine package is imported). A broken third-party
    adapter must not break sysinfo: then the built-in adapters alone are listed."""
    try:
        from workbench_engines import registry
    except Exception:  # degrade, never fail
        return []
    try:
        return list(registry.engine_classes())
    except Exception:  # a plugin that cannot be imported, a broken entry point
        try:
            return list(registry.builtin_engine_classes())
        except Exception:
            return []


def engine_distributions() -> dict[str, tuple[str, ...]]:
    """``versions`` key -> distributions to try: numpy, then every visible engine (from its adapter), then textual
    and the workbench itself."""
    out: dict[str, tuple[str, ...]] = {"numpy": CORE_DISTRIBUTIONS["numpy"]}
    for cls in _engine_classes():
        out[cls.name] = tuple(cls.distributions())
    out.update((k, v) for k, v in CORE_DISTRIBUTIONS.items() if k != "numpy")
    return out


def fingerprint_keys() -> tuple[str, ...]:
    """Every ``fingerprint_fields`` key: the machine's, then each visible engine's."""
    engine_keys = [k for cls in _engine_classes() for k in cls.fingerprint_fields({})]
    return MACHINE_FINGERPRINT_KEYS + tuple(k for k in dict.fromkeys(engine_keys) if k not in MACHINE_FINGERPRINT_KEYS)


def __getattr__(name: str) -> Any:
    """``ENGINE_DISTRIBUTIONS`` and ``FINGERPRINT_KEYS``, computed from the engine adapters on each access."""
    if name == "ENGINE_DISTRIBUTIONS":
        return engine_distributions()
    if name == "FINGERPRINT_KEYS":
        return fingerprint_keys()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_SUBPROCESS_TIMEOUT_S = 1.5


def _try_cpu_list(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return parse_cpu_list(text, allow_empty=True)
    except ValueError:
        return None


# =====================================================================================================================
# Filesystem helpers (all reads go through a root so tests can point at a fake tree)
# =====================================================================================================================


def _path(root: str | os.PathLike[str], rel: str) -> Path:
    return Path(root) / rel.lstrip("/")


def _read(root: str | os.PathLike[str], rel: str, limit: int = 1 << 20) -> str | None:
    try:
        with open(_path(root, rel), "r", encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except (OSError, ValueError):
        return None


def _read_line(root: str | os.PathLike[str], rel: str) -> str | None:
    text = _read(root, rel, 4096)
    if text is None:
        return None
    return text.strip()


def _read_int(root: str | os.PathLike[str], rel: str) -> int | None:
    text = _read_line(root, rel)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _cpu_dirs(root: str | os.PathLike[str]) -> dict[int, Path]:
    base = _path(root, "sys/devices/system/cpu")
    out: dict[int, Path] = {}
    try:
        entries = os.listdir(base)
    except OSError:
        return out
    for name in entries:
        if name.startswith("cpu") and name[3:].isdigit():
            out[int(name[3:])] = base / name
    return dict(sorted(out.items()))


def read_per_cpu(rel: str, root: str | os.PathLike[str] = "/") -> dict[int, str | None]:
    """Read ``/sys/devices/system/cpu/cpuN/<rel>`` for every CPU: ``{cpu: stripped text or None}``."""
    out: dict[int, str | None] = {}
    for cpu, d in _cpu_dirs(root).items():
        try:
            with open(d / rel, "r", encoding="utf-8", errors="replace") as fh:
                out[cpu] = fh.read(4096).strip() or None
        except OSError:
            out[cpu] = None
    return out


def governor_summary(root: str | os.PathLike[str] = "/") -> dict[str, list[int]]:
    """Scaling governor per CPU, grouped: ``{"performance": [0, 1], "powersave": [2, 3]}`` ({} when not exposed)."""
    return summarise_per_cpu(read_per_cpu("cpufreq/scaling_governor", root))


# =====================================================================================================================
# Sections
# =====================================================================================================================


def _cpu_section(root: str) -> dict[str, Any]:
    parsed = parse_cpuinfo(_read(root, "proc/cpuinfo", 8 << 20) or "")
    flags = parsed["flags"]
    logical = parsed["logical_cpus"]
    physical = parsed["physical_cores"]
    sockets = parsed["sockets"]
    siblings = parsed["siblings"]

    # sysfs topology as fallback (ARM, containers with trimmed cpuinfo)
    if sockets is None or physical is None:
        pkgs = read_per_cpu("topology/physical_package_id", root)
        cores = read_per_cpu("topology/core_id", root)
        if pkgs and all(v is not None for v in pkgs.values()):
            sockets = sockets or len(set(pkgs.values()))
            if cores and all(v is not None for v in cores.values()):
                groups: dict[tuple[str | None, str | None], list[int]] = {}
                for cpu in pkgs:
                    groups.setdefault((pkgs[cpu], cores.get(cpu)), []).append(cpu)
                physical = physical or len(groups)
                siblings = siblings or sibling_lists(groups.values())
    if psutil is not None:
        try:
            logical = logical or psutil.cpu_count(logical=True)
            physical = physical or psutil.cpu_count(logical=False)
        except Exception:
            pass
    logical = logical or os.cpu_count()

    model = parsed["model"] or platform.processor() or None
    threads_per_core = None
    if logical and physical:
        threads_per_core = max(1, round(logical / physical))

    return {
        "model": model,
        "vendor": parsed["vendor"],
        "machine": platform.machine() or None,
        "sockets": sockets,
        "physical_cores": physical,
        "logical_cpus": logical,
        "threads_per_core": threads_per_core,
        "smt_siblings": siblings,
        "flags": isa_flags(flags),
        "highlights": flag_highlights(flags),
        "_hypervisor": ("hypervisor" in flags) if flags else None,
    }


def _caches(root: str, logical_cpus: int | None) -> dict[str, Any]:
    base = "sys/devices/system/cpu/cpu0/cache"
    out: dict[str, Any] = {}
    try:
        names = sorted(n for n in os.listdir(_path(root, base)) if n.startswith("index"))
    except OSError:
        return out
    for name in names:
        level = _read_line(root, f"{base}/{name}/level")
        ctype = _read_line(root, f"{base}/{name}/type")
        size = parse_size(_read_line(root, f"{base}/{name}/size"))
        shared = _read_line(root, f"{base}/{name}/shared_cpu_list")
        if level is None or size is None:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(ctype or "", "")
        key = f"L{level}{suffix}"
        shared_cpus = _try_cpu_list(shared)
        instances = None
        if shared_cpus and logical_cpus:
            instances = max(1, -(-logical_cpus // len(shared_cpus)))
        out[key] = {"bytes": size, "shared_cpu_list": shared, "instances": instances}
    return out


def _numa(root: str) -> list[dict[str, Any]]:
    base = _path(root, "sys/devices/system/node")
    try:
        names = [n for n in os.listdir(base) if n.startswith("node") and n[4:].isdigit()]
    except OSError:
        return []
    nodes = []
    for name in sorted(names, key=lambda n: int(n[4:])):
        cpulist = _read_line(root, f"sys/devices/system/node/{name}/cpulist")
        mem = None
        meminfo = _read(root, f"sys/devices/system/node/{name}/meminfo", 8192)
        if meminfo:
            m = re.search(r"MemTotal:\s*(\d+)\s*kB", meminfo)
            if m:
                mem = int(m.group(1)) * 1024
        nodes.append(
            {"node": int(name[4:]), "cpulist": cpulist, "cpus": _try_cpu_list(cpulist), "memory_total_bytes": mem}
        )
    return nodes


def _cgroup(root: str) -> dict[str, Any]:
    """CPU quota (in CPUs) and memory limit of this process's cgroup — containers often set them."""
    cpu_quota: float | None = None
    mem_limit: int | None = None
    version: str | None = None
    text = _read(root, "proc/self/cgroup", 65536) or ""
    v2_path = None
    v1_paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hid, controllers, path = parts
        if hid == "0" and controllers == "":
            v2_path = path
        for c in controllers.split(","):
            if c:
                v1_paths[c] = path
    if v1_paths:
        version = "v1"
        for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
            cpath = v1_paths.get("cpu", "/")
            for cand in (f"sys/fs/cgroup/{sub}{cpath}", f"sys/fs/cgroup/{sub}"):
                q = _read_int(root, f"{cand}/cpu.cfs_quota_us")
                p = _read_int(root, f"{cand}/cpu.cfs_period_us")
                if q is not None and p:
                    cpu_quota = round(q / p, 3) if q > 0 else None
                    break
            if q is not None:
                break
        mpath = v1_paths.get("memory", "/")
        for cand in (f"sys/fs/cgroup/memory{mpath}", "sys/fs/cgroup/memory"):
            lim = _read_int(root, f"{cand}/memory.limit_in_bytes")
            if lim is not None:
                mem_limit = lim if lim < (1 << 60) else None
                break
    elif v2_path is not None:
        version = "v2"
        for cand in (f"sys/fs/cgroup{v2_path}", "sys/fs/cgroup"):
            cpu_max = _read_line(root, f"{cand}/cpu.max")
            if cpu_max:
                quota, _, period = cpu_max.partition(" ")
                if quota != "max":
                    try:
                        cpu_quota = round(int(quota) / int(period or "100000"), 3)
                    except (ValueError, ZeroDivisionError):
                        cpu_quota = None
                break
        for cand in (f"sys/fs/cgroup{v2_path}", "sys/fs/cgroup"):
            mem_max = _read_line(root, f"{cand}/memory.max")
            if mem_max:
                mem_limit = int(mem_max) if mem_max.isdigit() else None
                break
    return {"version": version, "cpu_quota": cpu_quota, "memory_limit_bytes": mem_limit}


def _memory(root: str) -> dict[str, Any]:
    total = available = None
    if psutil is not None:
        try:
            vm = psutil.virtual_memory()
            total, available = int(vm.total), int(vm.available)
        except Exception:
            pass
    if total is None:
        meminfo = _read(root, "proc/meminfo", 65536) or ""
        m_total = re.search(r"MemTotal:\s*(\d+)\s*kB", meminfo)
        m_avail = re.search(r"MemAvailable:\s*(\d+)\s*kB", meminfo)
        total = int(m_total.group(1)) * 1024 if m_total else None
        available = int(m_avail.group(1)) * 1024 if m_avail else None
    hp = _read(root, "proc/meminfo", 65536) or ""
    m_hp = re.search(r"HugePages_Total:\s*(\d+)", hp)
    return {
        "total_bytes": total,
        "available_bytes": available,
        "hugepages_total": int(m_hp.group(1)) if m_hp else None,
    }


def _frequency(root: str) -> dict[str, Any]:
    cur = fmin = fmax = None
    if psutil is not None:
        try:
            f = psutil.cpu_freq()
            if f is not None:
                cur = round(f.current, 1) if f.current else None
                fmin = round(f.min, 1) if f.min else None
                fmax = round(f.max, 1) if f.max else None
        except Exception:
            pass
    if fmax is None:
        khz = _read_int(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
        fmax = round(khz / 1000, 1) if khz else None
    if fmin is None:
        khz = _read_int(root, "sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_min_freq")
        fmin = round(khz / 1000, 1) if khz else None
    if cur is None:
        khz = _read_int(root, "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
        cur = round(khz / 1000, 1) if khz else None

    drivers = summarise_per_cpu(read_per_cpu("cpufreq/scaling_driver", root))
    turbo: bool | None = None
    turbo_source: str | None = None
    no_turbo = _read_int(root, "sys/devices/system/cpu/intel_pstate/no_turbo")
    if no_turbo is not None:
        turbo, turbo_source = no_turbo == 0, "intel_pstate/no_turbo"
    else:
        boost = _read_int(root, "sys/devices/system/cpu/cpufreq/boost")
        if boost is not None:
            turbo, turbo_source = boost == 1, "cpufreq/boost"
        else:
            amd_boost = read_per_cpu("cpufreq/boost", root)
            vals = {v for v in amd_boost.values() if v is not None}
            if vals:
                turbo, turbo_source = "1" in vals, "cpuN/cpufreq/boost"
    return {
        "current_mhz": cur,
        "min_mhz": fmin,
        "max_mhz": fmax,
        "driver": next(iter(drivers)) if len(drivers) == 1 else (drivers or None),
        "intel_pstate": _read_line(root, "sys/devices/system/cpu/intel_pstate/status"),
        "governors": governor_summary(root),
        "energy_performance_preference": summarise_per_cpu(read_per_cpu("cpufreq/energy_performance_preference", root)),
        "turbo": turbo,
        "turbo_source": turbo_source,
    }


def _smt(root: str) -> dict[str, Any]:
    active = _read_line(root, "sys/devices/system/cpu/smt/active")
    return {
        "active": None if active is None else active == "1",
        "control": _read_line(root, "sys/devices/system/cpu/smt/control"),
    }


def _virtualisation(root: str, cpu_hypervisor: bool | None, detect_virt: str | None) -> dict[str, Any]:
    container: str | None = None
    if _path(root, ".dockerenv").exists():
        container = "docker"
    elif _path(root, "run/.containerenv").exists():
        container = "podman"
    if os.environ.get("KUBERNETES_SERVICE_HOST") and root == "/":
        container = container or "kubernetes"
    cgroup = (_read(root, "proc/1/cgroup", 65536) or "") + (_read(root, "proc/self/cgroup", 65536) or "")
    if container is None:
        for hint, name in (("kubepods", "kubernetes"), ("docker", "docker"), ("libpod", "podman"), ("lxc", "lxc")):
            if hint in cgroup:
                container = name
                break
    hv_type = _read_line(root, "sys/hypervisor/type")
    vm: str | None = None
    if detect_virt and detect_virt not in ("none",) and detect_virt not in _CONTAINER_VIRTS:
        vm = detect_virt
    elif detect_virt in _CONTAINER_VIRTS and container is None:
        container = detect_virt
    if vm is None and hv_type:
        vm = hv_type
    if vm is None and cpu_hypervisor:
        vm = "unknown hypervisor"
    return {
        "hypervisor_flag": cpu_hypervisor,
        "hypervisor_type": hv_type,
        "systemd_detect_virt": detect_virt,
        "vm": vm,
        "container": container,
        "virtualised": bool(vm),
    }


_CONTAINER_VIRTS = frozenset(
    {
        "docker",
        "podman",
        "lxc",
        "lxc-libvirt",
        "systemd-nspawn",
        "openvz",
        "rkt",
        "wsl",
        "proot",
        "pouch",
        "container-other",
    }
)


def _os_section(root: str) -> dict[str, Any]:
    rel = parse_os_release(_read(root, "etc/os-release", 65536) or _read(root, "usr/lib/os-release", 65536) or "")
    distro = rel.get("PRETTY_NAME") or (" ".join(x for x in (rel.get("NAME"), rel.get("VERSION")) if x) or None)
    return {
        "system": platform.system() or None,
        "kernel": platform.release() or None,
        "kernel_version": platform.version() or None,
        "distro": distro,
        "distro_id": rel.get("ID"),
        "distro_version": rel.get("VERSION_ID"),
        "transparent_hugepages": bracketed_choice(_read_line(root, "sys/kernel/mm/transparent_hugepage/enabled")),
        "transparent_hugepages_defrag": bracketed_choice(_read_line(root, "sys/kernel/mm/transparent_hugepage/defrag")),
    }


def _python_section() -> dict[str, Any]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable or None,
        "compiler": platform.python_compiler() or None,
    }


def package_versions() -> dict[str, str | None]:
    """Versions of numpy, every engine, textual and the workbench from package metadata (None if absent).

    No engine is imported: the distribution names come from the adapters (:func:`engine_distributions`);
    ``onnxruntime`` is whichever of its distributions (``onnxruntime``, ``onnxruntime-gpu``, ...) is installed.
    """
    out: dict[str, str | None] = {}
    for key, dists in engine_distributions().items():
        out[key] = None
        for dist in dists:
            try:
                out[key] = importlib.metadata.version(dist)
                break
            except importlib.metadata.PackageNotFoundError:
                continue
            except Exception:
                break
    if out.get("workbench") is None:
        try:
            from workbench import __version__

            out["workbench"] = __version__
        except Exception:
            pass
    return out


def _affinity() -> list[int] | None:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


# ---- subprocesses: started early, in parallel, read at the end with one shared deadline -------------------------


def _spawn(argv: list[str]) -> subprocess.Popen[str] | None:
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            close_fds=True,
        )
    except (OSError, ValueError):
        return None


def _finish(proc: subprocess.Popen[str] | None, deadline: float) -> tuple[int | None, str | None]:
    if proc is None:
        return None, None
    try:
        out, _ = proc.communicate(timeout=max(0.01, deadline - time.monotonic()))
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.communicate(timeout=0.5)
        except Exception:
            pass
        return None, None
    except Exception:
        return None, None


# =====================================================================================================================
# collect
# =====================================================================================================================


def collect(refresh: bool = False, *, root: str = "/") -> dict[str, Any]:
    """Describe this machine (see the module docstring). Cached; ``refresh=True`` re-reads.

    ``root`` relocates every file read under ``/proc``, ``/sys`` and ``/etc`` (tests use a fake tree); psutil,
    ``platform`` and the subprocesses still describe the real machine. Returns a fresh deep copy each call, so
    callers may modify it. Never raises for unreadable information: such fields are None.
    """
    if refresh:
        _collect_cached.cache_clear()
    return copy.deepcopy(_collect_cached(str(root)))


@functools.lru_cache(maxsize=8)
def _collect_cached(root: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    deadline = time.monotonic() + _SUBPROCESS_TIMEOUT_S
    real = root == "/"
    detect = _spawn(["systemd-detect-virt"]) if real and shutil.which("systemd-detect-virt") else None
    smi_path = shutil.which("nvidia-smi") if real else None
    smi = (
        _spawn([smi_path, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"])
        if smi_path
        else None
    )

    info: dict[str, Any] = {"collected_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    sections = (
        ("hostname", lambda: socket.gethostname() or None),
        ("cpu", lambda: _cpu_section(root)),
        ("numa", lambda: _numa(root)),
        ("memory", lambda: _memory(root)),
        ("cgroup", lambda: _cgroup(root)),
        ("frequency", lambda: _frequency(root)),
        ("smt", lambda: _smt(root)),
        ("os", lambda: _os_section(root)),
        ("python", _python_section),
        ("versions", package_versions),
        ("affinity", _affinity),
    )
    for key, fn in sections:
        try:
            info[key] = fn()
        except Exception:  # degrade, never fail
            info[key] = None

    cpu = info.get("cpu") or {}
    hv_flag = cpu.pop("_hypervisor", None)
    try:
        info["caches"] = _caches(root, cpu.get("logical_cpus"))
    except Exception:
        info["caches"] = {}
    info["affinity_list"] = format_cpu_list(info["affinity"]) if info.get("affinity") is not None else None
    isolated = _read_line(root, "sys/devices/system/cpu/isolated")
    info["isolated_cpus"] = _try_cpu_list(isolated)
    info["nohz_full_cpus"] = _try_cpu_list(_read_line(root, "sys/devices/system/cpu/nohz_full"))
    if info.get("smt") is not None:
        tpc = cpu.get("threads_per_core")
        if info["smt"].get("active") is None and tpc is not None:
            info["smt"]["active"] = tpc > 1
        info["smt"]["threads_per_core"] = tpc

    # ---- subprocess results ----------------------------------------------------------------------------------
    rc, out = _finish(detect, deadline)
    detect_virt = out.strip() if out and out.strip() else None
    try:
        info["virtualisation"] = _virtualisation(root, hv_flag, detect_virt)
    except Exception:
        info["virtualisation"] = None

    rc, out = _finish(smi, deadline)
    info["gpus"] = parse_nvidia_smi(out) if (rc == 0 and out) else []

    try:
        fields = fingerprint_fields(info)
        info["fingerprint_fields"] = fields
        info["fingerprint"] = fingerprint(fields)
    except Exception:
        info["fingerprint_fields"] = None
        info["fingerprint"] = None
    info["collect_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return info


# =====================================================================================================================
# Fingerprint
# =====================================================================================================================


def fingerprint_fields(info: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of :func:`collect`'s dict that change what a benchmark measures (:func:`fingerprint_keys`): the
    machine's, then each engine's (``Engine.fingerprint_fields``, by default its version).

    Memory is rounded to whole GiB so that a few MiB of firmware reservation between boots do not count.
    """
    cpu = info.get("cpu") or {}
    mem = info.get("memory") or {}
    os_ = info.get("os") or {}
    versions = info.get("versions") or {}
    total = mem.get("total_bytes")
    fields: dict[str, Any] = {
        "cpu_model": cpu.get("model"),
        "machine": cpu.get("machine"),
        "sockets": cpu.get("sockets"),
        "physical_cores": cpu.get("physical_cores"),
        "logical_cpus": cpu.get("logical_cpus"),
        "isa": sorted(cpu.get("highlights") or []),
        "memory_total_gib": round(total / (1 << 30)) if isinstance(total, (int, float)) else None,
        "kernel": os_.get("kernel"),
    }
    for cls in _engine_classes():
        for key, value in cls.fingerprint_fields(versions).items():
            fields.setdefault(key, value)
    return fields


def fingerprint(info_or_fields: Mapping[str, Any]) -> str:
    """A 12-hex-digit stable hash of :func:`fingerprint_fields`.

    Accepts either a full :func:`collect` dict or a ``fingerprint_fields`` dict. Key order does not matter.
    """
    fields = info_or_fields
    if "cpu" in info_or_fields or "memory" in info_or_fields:
        fields = fingerprint_fields(info_or_fields)
    blob = json.dumps(dict(fields), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def fingerprint_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (a_value, b_value)}`` for the fingerprint fields that differ.

    ``a``/``b`` may each be a full :func:`collect` dict, a dict holding ``fingerprint_fields`` (e.g. a stored run's
    ``system``), or a ``fingerprint_fields`` dict itself.
    """

    def fields_of(x: Mapping[str, Any]) -> Mapping[str, Any]:
        if isinstance(x.get("fingerprint_fields"), Mapping):
            return x["fingerprint_fields"]
        if "cpu" in x or "memory" in x:
            return fingerprint_fields(x)
        return x

    fa, fb = fields_of(a), fields_of(b)
    out: dict[str, tuple[Any, Any]] = {}
    keys = fingerprint_keys()
    for key in list(keys) + sorted((set(fa) | set(fb)) - set(keys)):
        if fa.get(key) != fb.get(key):
            out[key] = (fa.get(key), fb.get(key))
    return out


# =====================================================================================================================
# Summary and rendering
# =====================================================================================================================


def summary(info: Mapping[str, Any]) -> dict[str, Any]:
    """A compact dict for run records: the fingerprint plus what a reader of a result needs to know."""
    cpu = info.get("cpu") or {}
    mem = info.get("memory") or {}
    os_ = info.get("os") or {}
    freq = info.get("frequency") or {}
    virt = info.get("virtualisation") or {}
    total = mem.get("total_bytes")
    return {
        "fingerprint": info.get("fingerprint"),
        "fingerprint_fields": info.get("fingerprint_fields"),
        "hostname": info.get("hostname"),
        "cpu_model": cpu.get("model"),
        "sockets": cpu.get("sockets"),
        "physical_cores": cpu.get("physical_cores"),
        "logical_cpus": cpu.get("logical_cpus"),
        "isa": cpu.get("highlights"),
        "isa_flags": cpu.get("flags"),
        "numa_nodes": len(info.get("numa") or []) or None,
        "memory_total_gib": round(total / (1 << 30), 1) if isinstance(total, (int, float)) else None,
        "os": os_.get("distro") or os_.get("system"),
        "kernel": os_.get("kernel"),
        "python": (info.get("python") or {}).get("version"),
        "governors": freq.get("governors"),
        "turbo": freq.get("turbo"),
        "smt": (info.get("smt") or {}).get("active"),
        "vm": virt.get("vm"),
        "container": virt.get("container"),
        "affinity": info.get("affinity_list"),
        "isolated_cpus": format_cpu_list(info["isolated_cpus"]) if info.get("isolated_cpus") else None,
        "gpus": [g.get("name") for g in info.get("gpus") or []],
    }
