"""Pure parsers of the text the kernel and tools give about a machine: ``/proc/cpuinfo``, ``/etc/os-release``,
cache sizes, per-CPU sysfs settings, ``[bracketed]`` sysfs choices and ``nvidia-smi`` CSV.

Every function here takes text (or values already read) and returns plain data; nothing reads a file or starts a
process. :mod:`workbench.machine.sysinfo` does the reading and re-exports the public names.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from workbench.machine.cpus import format_cpu_list

__all__ = [
    "ISA_FLAGS",
    "parse_cpuinfo",
    "isa_flags",
    "flag_highlights",
    "parse_os_release",
    "parse_size",
    "summarise_per_cpu",
    "sibling_lists",
    "bracketed_choice",
    "parse_nvidia_smi",
]

#: /proc/cpuinfo flags that matter for inference, in the order they are shown.
ISA_FLAGS: tuple[str, ...] = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_bf16",
    "amx_int8",
    "amx_tile",
)

# flag -> short human label used in "highlights" (amx_tile is implied by the AMX data types, so it has no label)
_HIGHLIGHT_LABELS: tuple[tuple[str, str], ...] = (
    ("avx2", "AVX2"),
    ("avx512f", "AVX-512"),
    ("avx512_vnni", "AVX512-VNNI"),
    ("avx_vnni", "AVX-VNNI"),
    ("avx512_bf16", "AVX512-BF16"),
    ("avx512_fp16", "AVX512-FP16"),
    ("amx_bf16", "AMX-BF16"),
    ("amx_int8", "AMX-INT8"),
)


def parse_cpuinfo(text: str) -> dict[str, Any]:
    """Parse ``/proc/cpuinfo`` text.

    Returns ``model`` (str|None), ``vendor`` (str|None), ``flags`` (sorted list of the first processor's flags),
    ``logical_cpus`` (number of ``processor`` blocks, or None), ``sockets`` and ``physical_cores`` (from distinct
    ``physical id`` / ``core id``; None where the kernel does not report them, e.g. many ARM systems) and
    ``siblings`` (list of CPU lists, one per physical core that has more than one hardware thread).
    """
    blocks = _blocks(text)
    procs = [b for b in blocks if "processor" in b]
    first = procs[0] if procs else (blocks[0] if blocks else {})

    model = (
        first.get("model name")
        or first.get("cpu model")
        or first.get("hardware")
        or _first_value(blocks, ("model name", "hardware", "cpu model"))
    )
    vendor = first.get("vendor_id") or first.get("vendor") or _first_value(blocks, ("vendor_id",))
    if vendor is None and first.get("cpu implementer"):
        vendor = _ARM_IMPLEMENTERS.get(first["cpu implementer"].lower(), f"ARM implementer {first['cpu implementer']}")
    flags_text = first.get("flags") or first.get("features") or ""
    flags = sorted(set(flags_text.split()))
    logical = len(procs) or None
    sockets, physical, siblings = _topology(procs)
    return {
        "model": model,
        "vendor": vendor,
        "flags": flags,
        "logical_cpus": logical,
        "sockets": sockets,
        "physical_cores": physical,
        "siblings": siblings,
    }


def _blocks(text: str) -> list[dict[str, str]]:
    """``/proc/cpuinfo`` as one ``{lowercased key: value}`` per blank-line separated block (first value wins)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        current.setdefault(key.strip().lower(), value.strip())
    if current:
        blocks.append(current)
    return blocks


def _topology(procs: list[dict[str, str]]) -> tuple[int | None, int | None, list[str]]:
    """``(sockets, physical cores, SMT sibling lists)`` from the processor blocks' ``physical id`` / ``core id``;
    ``(None, None, [])`` when the kernel does not report them."""
    if not procs or not all("physical id" in b and "core id" in b for b in procs):
        return None, None, []
    groups: dict[tuple[str, str], list[int]] = {}
    for b in procs:
        try:
            cpu = int(b["processor"])
        except ValueError:
            continue
        groups.setdefault((b["physical id"], b["core id"]), []).append(cpu)
    return len({b["physical id"] for b in procs}), len(groups), sibling_lists(groups.values())


def sibling_lists(cores: Iterable[list[int]]) -> list[str]:
    """The CPU lists of the physical cores (each given as its CPUs) that have more than one hardware thread,
    ordered by first CPU: ``[[0, 4], [1, 5], [2]]`` -> ``["0,4", "1,5"]``."""
    return [format_cpu_list(g) for g in sorted(cores, key=min) if len(g) > 1]


_ARM_IMPLEMENTERS = {
    "0x41": "ARM",
    "0x42": "Broadcom",
    "0x43": "Cavium",
    "0x46": "Fujitsu",
    "0x48": "HiSilicon",
    "0x4e": "NVIDIA",
    "0x50": "Ampere (APM)",
    "0x51": "Qualcomm",
    "0x61": "Apple",
    "0xc0": "Ampere",
}


def _first_value(blocks: list[dict[str, str]], keys: tuple[str, ...]) -> str | None:
    for b in blocks:
        for k in keys:
            if b.get(k):
                return b[k]
    return None


def isa_flags(flags: Iterable[str]) -> dict[str, bool]:
    """``{flag: present}`` for every flag in :data:`ISA_FLAGS`."""
    have = set(flags)
    return {f: f in have for f in ISA_FLAGS}


def flag_highlights(flags: Iterable[str]) -> list[str]:
    """Short human labels for the inference-relevant flags present, e.g. ``["AVX2", "AVX-512", "AMX-BF16"]``."""
    have = set(flags)
    return [label for flag, label in _HIGHLIGHT_LABELS if flag in have]


def parse_os_release(text: str) -> dict[str, str]:
    """Parse ``/etc/os-release`` (``KEY=value`` / ``KEY="value"`` lines) into a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key.strip()] = value.replace('\\"', '"')
    return out


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)


def parse_size(text: str | None) -> int | None:
    """``"48K"`` -> 49152, ``"2048K"`` -> 2097152, ``"32 MiB"`` -> 33554432; None when unparseable."""
    if text is None:
        return None
    m = _SIZE_RE.match(text)
    if not m:
        return None
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)


def summarise_per_cpu(values: Mapping[int, str | None]) -> dict[str, list[int]]:
    """Group a per-CPU setting by value: ``{0: "performance", 1: "performance"}`` -> ``{"performance": [0, 1]}``.

    ``None`` values (unreadable) are left out. Keys of the result are sorted; CPU lists are sorted.
    """
    groups: dict[str, list[int]] = {}
    for cpu, value in values.items():
        if value is None:
            continue
        groups.setdefault(value, []).append(cpu)
    return {k: sorted(groups[k]) for k in sorted(groups)}


def bracketed_choice(text: str | None) -> str | None:
    """``"always [madvise] never"`` -> ``"madvise"``."""
    if not text:
        return None
    m = re.search(r"\[([^\]]+)\]", text)
    return m.group(1) if m else text.strip() or None


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """``nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits`` output -> one
    ``{"vendor", "name", "memory_total_mib", "driver"}`` per GPU."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 3 or not parts[0]:
            continue
        mem = re.match(r"(\d+)", parts[1])
        gpus.append(
            {
                "vendor": "NVIDIA",
                "name": parts[0],
                "memory_total_mib": int(mem.group(1)) if mem else None,
                "driver": parts[2] or None,
            }
        )
    return gpus
