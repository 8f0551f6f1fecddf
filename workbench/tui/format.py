"""Record formatting for narrow terminals: times, engine names, core sets (pure functions, no Textual).

Numbers (milliseconds, rates, ratios, bytes) and the missing-value mark come from :mod:`workbench.units`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable


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


def short_engine(name: str) -> str:
    return {"onnxruntime": "ort", "openvino": "ov"}.get(name, name)


def engines_label(names: Iterable[str], compact: bool = False) -> str:
    names = list(names)
    if compact:
        return ",".join(short_engine(n) for n in names)
    return ", ".join(names)


def cpu_ranges(cpus: Iterable[int]) -> str:
    """``[0,1,2,3,6]`` -> ``"0-3,6"``."""
    from workbench.machine.cpus import format_cpu_list

    return format_cpu_list(sorted(set(int(c) for c in cpus)))
