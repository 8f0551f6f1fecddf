"""The one speedup rule, shared by the runner, the CLI and the UI.

A ratio against the baseline is shown *as a speedup* only when both engines ran and both passed the parity check
(they computed the same function). Latency mode: baseline p50 ÷ engine p50. Throughput mode: engine items/s ÷
baseline items/s. Otherwise the value is None and the note says why (the ratio itself is kept in the note).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.stats.parity import AGREES
from workbench.units import ratio

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult


def _p50(r: "EngineResult") -> float | None:
    v = (r.latency_ms or {}).get("p50")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def speedup(r: "EngineResult", base: "EngineResult | None", mode: str) -> tuple[float | None, str | None]:
    """``(value, note)`` of ``r`` against ``base``. Pure."""
    if base is None or not base.ok:
        return None, ("baseline failed" if r.ok else None)
    if not r.ok:
        return None, None
    if r is base or r.engine == base.engine:
        return 1.0, "baseline"
    if mode == "throughput":
        value = (r.throughput or 0) / base.throughput if base.throughput else None
    else:
        p_base, p_r = _p50(base), _p50(r)
        value = p_base / p_r if p_base and p_r else None
    status = (r.parity or {}).get("status")
    base_status = (base.parity or {}).get("status")
    if status in AGREES and base_status in AGREES:
        return value, None
    which = f"parity {status}" if status not in AGREES else f"baseline parity {base_status}"
    return None, (f"not shown: {which}" if value is None else f"{ratio(value)} not shown as a speedup: {which}")
