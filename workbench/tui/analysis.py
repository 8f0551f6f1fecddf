"""Pure helpers the Results and Compare views need (no Textual, no numpy).

:func:`speedups` re-bases a record's speedups on another engine with the runner's own rule
(:func:`workbench.stats.speedup.speedup`): a ratio is shown as a speedup only when both engines succeeded and
both passed the parity check; otherwise the note says why it is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult, RunRecord


@dataclass(frozen=True)
class Speedup:
    value: float | None
    note: str | None = None


def _p50(r: "EngineResult") -> float | None:
    lat = r.latency_ms or {}
    v = lat.get("p50")
    return float(v) if isinstance(v, (int, float)) and v > 0 else None


def speedups(record: "RunRecord", baseline: str | None) -> dict[str, Speedup]:
    """``{engine: Speedup}`` of every result against ``baseline`` (default: the record's own baseline)."""
    baseline = baseline or record.baseline
    mode = str((record.config or {}).get("mode") or "latency")
    if baseline == record.baseline:
        return {r.engine: Speedup(r.speedup, r.speedup_note) for r in record.results}
    from workbench.stats.speedup import speedup

    base = record.result(baseline) if baseline else None
    out: dict[str, Speedup] = {}
    for r in record.results:
        out[r.engine] = Speedup(*speedup(r, base, mode))
    return out


@dataclass(frozen=True)
class CompareRow:
    engine: str
    a_p50: float | None
    b_p50: float | None
    a_thr: float | None
    b_thr: float | None
    a_prec: str | None
    b_prec: str | None

    @property
    def p50_change(self) -> float | None:
        """Relative change of p50 from A to B (negative = B faster)."""
        if self.a_p50 and self.b_p50:
            return self.b_p50 / self.a_p50 - 1.0
        return None

    @property
    def thr_change(self) -> float | None:
        if self.a_thr and self.b_thr:
            return self.b_thr / self.a_thr - 1.0
        return None


def compare_rows(a: "RunRecord", b: "RunRecord") -> list[CompareRow]:
    """One row per engine present in either run (A's order first)."""
    names = [r.engine for r in a.results] + [r.engine for r in b.results if a.result(r.engine) is None]
    rows = []
    for name in names:
        ra, rb = a.result(name), b.result(name)
        rows.append(
            CompareRow(
                engine=name,
                a_p50=_p50(ra) if ra and ra.ok else None,
                b_p50=_p50(rb) if rb and rb.ok else None,
                a_thr=ra.throughput if ra and ra.ok else None,
                b_thr=rb.throughput if rb and rb.ok else None,
                a_prec=(ra.precision_effective or ra.precision_requested) if ra else None,
                b_prec=(rb.precision_effective or rb.precision_requested) if rb else None,
            )
        )
    return rows


CONFIG_KEYS = ("model", "mode", "batch", "precision", "device", "threads", "cores", "duration_s", "warmup_s")


def config_differences(a: "RunRecord", b: "RunRecord") -> list[tuple[str, Any, Any]]:
    """Settings and machine fields that differ between two runs: ``[(what, a, b), ...]``."""
    out: list[tuple[str, Any, Any]] = []
    ca, cb = dict(a.config or {}), dict(b.config or {})
    ca.setdefault("model", (a.model or {}).get("name"))
    cb.setdefault("model", (b.model or {}).get("name"))
    for key in CONFIG_KEYS:
        if ca.get(key) != cb.get(key):
            out.append((key, ca.get(key), cb.get(key)))
    fa = (a.system or {}).get("fingerprint_fields") or {}
    fb = (b.system or {}).get("fingerprint_fields") or {}
    for key in sorted(set(fa) | set(fb)):
        if fa.get(key) != fb.get(key):
            out.append((key, fa.get(key), fb.get(key)))
    return out
