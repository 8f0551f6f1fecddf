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


# ---- the max-QPS search's progress (the Live pane) -----------------------------------------------------------------
def search_bracket(probes: Iterable[dict[str, Any]]) -> tuple[float, float | None]:
    """``(lo, hi)``: the interval the search's answer lies in so far — the highest VALID target QPS (0 before one)
    and the lowest INVALID bisection probe (the Offline rate before one; None before the Offline run). A probe
    INVALID only until it was run longer (``extend``) and then VALID does not bound it."""
    seen = list(probes)
    lo = max((float(p["target_qps"]) for p in seen if p.get("valid") and p.get("target_qps")), default=0.0)
    offline = next((p.get("qps") for p in seen if p.get("kind") == "offline"), None)
    held = {p.get("target_qps") for p in seen if p.get("valid")}  # a rate VALID once it ran long enough
    over = [
        float(p["target_qps"])
        for p in seen
        if p.get("kind") in ("probe", "extend")
        and not p.get("valid")
        and p.get("target_qps")
        and p.get("target_qps") not in held
    ]
    hi = min(over) if over else (float(offline) if offline else None)
    return lo, hi


def probe_line(p: dict[str, Any], percentile: float) -> str:
    """One probe as it arrives: ``probe    46.6 QPS  INVALID  p99 180.0 ms  achieved 45.1/s``."""
    from workbench.units import ms, rate

    kind = str(p.get("kind") or "")
    target = f"{rate(p.get('target_qps'))} QPS" if p.get("target_qps") else ""
    latency = f"p{percentile:g} {ms(p.get('latency_ms'))} ms" if kind != "offline" and p.get("latency_ms") else ""
    return f"{kind:<7} {target:>10}  {str(p.get('validity') or ''):<7}  {latency:<14} achieved {rate(p.get('qps'))}/s"
