"""Compact number and record formatting for narrow terminals (pure functions, no Textual)."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable, Mapping

DASH = "—"


def ms(value: Any) -> str:
    """Milliseconds with three significant digits: 0.412, 4.12, 41.2, 412."""
    if not isinstance(value, (int, float)) or value != value:
        return DASH
    v = float(value)
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def rate(value: Any) -> str:
    """Items per second: 12.3, 123, 12.3k."""
    if not isinstance(value, (int, float)) or value != value:
        return DASH
    v = float(value)
    if v >= 100_000:
        return f"{v / 1000:.0f}k"
    if v >= 10_000:
        return f"{v / 1000:.1f}k"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(value: Any) -> str:
    if not isinstance(value, (int, float)) or value != value:
        return DASH
    return f"{float(value):.2f}×"


def when(created: Any, now: _dt.datetime | None = None) -> str:
    """A record's ``created`` (ISO, UTC) as local time: ``21:16`` today, ``11-22 21:16`` otherwise."""
    if not isinstance(created, str):
        return "?"
    text = created.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = _dt.datetime.fromisoformat(text)
    except ValueError:
        return created[:16]
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    local = stamp.astimezone()
    now = (now or _dt.datetime.now(_dt.timezone.utc)).astimezone()
    if local.date() == now.date():
        return local.strftime("%H:%M")
    if local.year == now.year:
        return local.strftime("%m-%d %H:%M")
    return local.strftime("%Y-%m-%d")


def human_bytes(n: Any) -> str:
    if not isinstance(n, (int, float)):
        return DASH
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit in ("B", "KiB") else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def short_engine(name: str) -> str:
    return {"onnxruntime": "ort", "openvino": "ov"}.get(name, name)


def engines_label(names: Iterable[str], compact: bool = False) -> str:
    names = list(names)
    if compact:
        return ",".join(short_engine(n) for n in names)
    return ", ".join(names)


def parity_label(parity: Mapping[str, Any] | None) -> str:
    if not parity:
        return DASH
    return str(parity.get("status") or DASH)


def cpu_ranges(cpus: Iterable[int]) -> str:
    """``[0,1,2,3,6]`` -> ``"0-3,6"``."""
    from workbench.machine.sysinfo import format_cpu_list

    return format_cpu_list(sorted(set(int(c) for c in cpus)))
