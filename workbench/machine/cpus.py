"""CPU lists and affinity: the one home for parsing/formatting Linux CPU lists and for the default benchmark cores.

Every module that reads ``--cores``, shows a core set or picks default cores calls this module (the CLI, the
runner, the doctor, the UI's setup pane, exports), so ``0-3,6`` means the same thing everywhere.
"""

from __future__ import annotations

import os
from typing import Iterable

_CPU_LIST_HINT = "expected a CPU list such as 0-3,6"


def parse_cpu_list(text: str, *, allow_empty: bool = False) -> list[int]:
    """Parse a Linux CPU list (``"0-3,6"``) into sorted, de-duplicated CPU numbers.

    Accepts single numbers and inclusive ranges separated by commas; spaces around items are ignored. Raises
    ``ValueError`` with a readable message on anything else: empty items, letters, negative numbers, reversed
    ranges (``5-3``). An empty/blank string is an error unless ``allow_empty`` (sysfs files such as
    ``/sys/devices/system/cpu/isolated`` are empty when nothing is set).
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid CPU list {text!r}: {_CPU_LIST_HINT}")
    stripped = text.strip()
    if not stripped:
        if allow_empty:
            return []
        raise ValueError(f"empty CPU list: {_CPU_LIST_HINT}")
    cpus: set[int] = set()
    for raw in stripped.split(","):
        item = raw.strip()
        if not item:
            raise ValueError(f"invalid CPU list {text!r}: empty item between commas; {_CPU_LIST_HINT}")
        if item.startswith("-"):
            raise ValueError(f"invalid CPU list {text!r}: negative CPU number {item!r} is not allowed")
        if "-" in item:
            lo_s, _, hi_s = item.partition("-")
            lo_s, hi_s = lo_s.strip(), hi_s.strip()
            if hi_s.startswith("-"):
                raise ValueError(f"invalid CPU list {text!r}: negative CPU number in range {item!r}")
            if not (lo_s.isdigit() and hi_s.isdigit()):
                raise ValueError(f"invalid CPU list {text!r}: {item!r} is not a range of CPU numbers; {_CPU_LIST_HINT}")
            lo, hi = int(lo_s), int(hi_s)
            if lo > hi:
                raise ValueError(f"invalid CPU list {text!r}: range {item!r} is reversed (write {hi}-{lo})")
            cpus.update(range(lo, hi + 1))
        else:
            if not item.isdigit():
                raise ValueError(f"invalid CPU list {text!r}: {item!r} is not a CPU number; {_CPU_LIST_HINT}")
            cpus.add(int(item))
    return sorted(cpus)


def format_cpu_list(cpus: Iterable[int]) -> str:
    """Format CPU numbers as a compact Linux CPU list: ``[0, 1, 2, 3, 6]`` -> ``"0-3,6"`` (``[]`` -> ``""``).

    Input order and duplicates do not matter. Raises ``ValueError`` on negative or non-integer entries.
    """
    values: set[int] = set()
    for c in cpus:
        if isinstance(c, bool) or not isinstance(c, int):
            raise ValueError(f"invalid CPU number {c!r}: CPU numbers are non-negative integers")
        if c < 0:
            raise ValueError(f"invalid CPU number {c}: CPU numbers are non-negative")
        values.add(c)
    ordered = sorted(values)
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def allowed_cores() -> list[int]:
    """The CPUs this process may run on (its affinity mask: taskset, cgroups, the container)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return list(range(os.cpu_count() or 1))


def default_cores(allowed: Iterable[int] | None = None) -> tuple[int, ...]:
    """The cores a benchmark is pinned to when the user names none, for the CLI and the UI alike.

    Every allowed core but the lowest, which is left to the parent (the UI, the CLI's reader, the noise sampler)
    when more than two are allowed; with one or two cores the benchmark gets all of them (leaving one of two
    idle would halve what the machine can do, and the parent's small load then shows in the noise warnings).
    """
    cores = sorted(set(allowed_cores() if allowed is None else allowed))
    return tuple(cores[1:]) if len(cores) > 2 else tuple(cores)
