"""Text rendering of a machine description (:func:`workbench.machine.sysinfo.collect`): ``workbench info``.

``workbench.machine`` collects the data; this module only renders it. Sizes and the missing-value mark come from
:mod:`workbench.units`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from workbench.machine.cpus import format_cpu_list
from workbench.units import MISSING, bytes_iec

__all__ = ["format_table"]


def _show(v: Any) -> str:
    if v is None or v == "" or v == [] or v == {}:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def _per_cpu_text(groups: Mapping[str, list[int]] | None) -> str:
    if not groups:
        return "not exposed"
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{k} on {format_cpu_list(v)}" for k, v in groups.items())


Rows = list[tuple[str, str]]


def _cpu(info: Mapping[str, Any]) -> Rows:
    cpu = info.get("cpu") or {}
    smt = info.get("smt") or {}
    flags = cpu.get("flags") or {}
    topology = (
        f"{_show(cpu.get('sockets'))} socket(s), {_show(cpu.get('physical_cores'))} cores, "
        f"{_show(cpu.get('logical_cpus'))} threads"
    )
    smt_text = (
        f"{_show(smt.get('active'))} (control: {_show(smt.get('control'))}, "
        f"{_show(smt.get('threads_per_core'))} thread(s)/core)"
    )
    return [
        ("model", _show(cpu.get("model"))),
        ("vendor", _show(cpu.get("vendor"))),
        ("architecture", _show(cpu.get("machine"))),
        ("topology", topology),
        ("SMT", smt_text),
        ("ISA highlights", ", ".join(cpu.get("highlights") or []) or "none of AVX2/AVX-512/VNNI/AMX"),
        ("ISA flags", " ".join(f"{k}{'+' if v else '-'}" for k, v in flags.items()) or MISSING),
    ]


def _caches(info: Mapping[str, Any]) -> Rows:
    rows = []
    for name, c in (info.get("caches") or {}).items():
        inst = c.get("instances")
        shared = c.get("shared_cpu_list")
        extra = []
        if inst:
            extra.append(f"{inst} instance{'s' if inst != 1 else ''}")
        if shared:
            extra.append(f"shared by cpus {shared}")
        rows.append((name, bytes_iec(c.get("bytes")) + (f" ({', '.join(extra)})" if extra else "")))
    return rows or [("caches", "not exposed")]


def _numa(info: Mapping[str, Any]) -> Rows:
    rows = [
        (
            f"node {node.get('node')}",
            f"cpus {_show(node.get('cpulist'))}, memory {bytes_iec(node.get('memory_total_bytes'))}",
        )
        for node in info.get("numa") or []
    ]
    return rows or [("nodes", "not exposed")]


def _memory(info: Mapping[str, Any]) -> Rows:
    mem = info.get("memory") or {}
    cg = info.get("cgroup") or {}
    rows = [
        ("total", bytes_iec(mem.get("total_bytes"))),
        ("available", bytes_iec(mem.get("available_bytes"))),
        ("transparent hugepages", _show((info.get("os") or {}).get("transparent_hugepages"))),
    ]
    if cg.get("memory_limit_bytes"):
        rows.append(("cgroup limit", bytes_iec(cg.get("memory_limit_bytes"))))
    return rows


def _mhz(v: Any) -> str:
    return f"{v:.0f} MHz" if isinstance(v, (int, float)) and not isinstance(v, bool) else MISSING


def _frequency(info: Mapping[str, Any]) -> Rows:
    freq = info.get("frequency") or {}
    driver = freq.get("driver")
    turbo = freq.get("turbo")
    return [
        ("current / min / max", " / ".join(_mhz(freq.get(k)) for k in ("current_mhz", "min_mhz", "max_mhz"))),
        ("driver", _show(driver if isinstance(driver, str) else _per_cpu_text(driver))),
        ("governor", _per_cpu_text(freq.get("governors"))),
        ("energy/perf preference", _per_cpu_text(freq.get("energy_performance_preference"))),
        ("turbo", "not readable" if turbo is None else f"{'on' if turbo else 'off'} ({freq.get('turbo_source')})"),
    ]


def _scheduling(info: Mapping[str, Any]) -> Rows:
    cg = info.get("cgroup") or {}
    iso = info.get("isolated_cpus")
    nohz = info.get("nohz_full_cpus")
    return [
        ("process affinity", _show(info.get("affinity_list"))),
        ("isolated cpus", format_cpu_list(iso) if iso else "none"),
        ("nohz_full cpus", format_cpu_list(nohz) if nohz else "none"),
        ("cgroup cpu quota", f"{cg['cpu_quota']:g} CPUs" if cg.get("cpu_quota") else "none"),
    ]


def _virtualisation(info: Mapping[str, Any]) -> Rows:
    virt = info.get("virtualisation") or {}
    return [
        ("virtual machine", _show(virt.get("vm")) if virt.get("vm") else "no (bare metal or not detectable)"),
        ("container", _show(virt.get("container")) if virt.get("container") else "no"),
        ("hypervisor flag", _show(virt.get("hypervisor_flag"))),
    ]


def _system(info: Mapping[str, Any]) -> Rows:
    os_ = info.get("os") or {}
    py = info.get("python") or {}
    python = f"{_show(py.get('version'))} ({_show(py.get('implementation'))}) {py.get('executable') or ''}"
    return [
        ("hostname", _show(info.get("hostname"))),
        ("OS", _show(os_.get("distro") or os_.get("system"))),
        ("kernel", _show(os_.get("kernel"))),
        ("python", python.rstrip()),
    ]


def _packages(info: Mapping[str, Any]) -> Rows:
    versions = info.get("versions") or {}
    return [(k, v if v else "not installed") for k, v in versions.items()] or [("packages", MISSING)]


def _gpus(info: Mapping[str, Any]) -> Rows:
    rows = [
        (f"gpu {i}", f"{g.get('name')}, {_show(g.get('memory_total_mib'))} MiB, driver {_show(g.get('driver'))}")
        for i, g in enumerate(info.get("gpus") or [])
    ]
    return rows or [("gpus", "none found (nvidia-smi absent or no NVIDIA GPU)")]


def _fingerprint(info: Mapping[str, Any]) -> Rows:
    fields = info.get("fingerprint_fields") or {}
    return [("fingerprint", _show(info.get("fingerprint")))] + [
        (f"  {k}", _show(", ".join(v) if isinstance(v, list) else v)) for k, v in fields.items()
    ]


#: The sections of ``workbench info``, in order: title and the function that makes its rows.
SECTIONS: tuple[tuple[str, Callable[[Mapping[str, Any]], Rows]], ...] = (
    ("CPU", _cpu),
    ("Caches", _caches),
    ("NUMA", _numa),
    ("Memory", _memory),
    ("Frequency & power", _frequency),
    ("Scheduling", _scheduling),
    ("Virtualisation", _virtualisation),
    ("System", _system),
    ("Packages", _packages),
    ("GPUs", _gpus),
    ("Fingerprint", _fingerprint),
)


def format_table(info: Mapping[str, Any]) -> str:
    """Render a :func:`workbench.machine.sysinfo.collect` dict as aligned plain text, one titled section per topic
    (``workbench info``).

    Missing fields show as :data:`~workbench.units.MISSING`, so old or foreign records render too.
    """
    sections = [(title, rows(info)) for title, rows in SECTIONS]
    width = max(len(label) for _, rows in sections for label, _ in rows)
    lines: list[str] = []
    for title, rows in sections:
        if lines:
            lines.append("")
        lines.append(title)
        lines.append("-" * len(title))
        for label, value in rows:
            lines.append(f"  {label.ljust(width)}  {value}")
    return "\n".join(lines) + "\n"
