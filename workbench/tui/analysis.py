"""Pure helpers the Results and Compare views need (no Textual, no numpy).

:func:`speedups` re-bases a record's speedups on another engine with the runner's own rule
(:func:`workbench.stats.speedup.speedup`): a ratio is shown as a speedup only when both engines succeeded and
both passed the parity check; otherwise the note says why it is not shown. The Compare view's verdicts are not
here: it shows :func:`workbench.stats.compare.compare`'s, the same as ``workbench compare``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import RunRecord


@dataclass(frozen=True)
class Speedup:
    value: float | None
    note: str | None = None
    #: its interval and whether it is beyond run-to-run variation (workbench.stats.speedup.attach_intervals)
    ci: tuple[float, float] | None = None
    significant: bool | None = None
    basis: str | None = None


def speedups(
    record: "RunRecord", baseline: str | None, spreads: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Speedup]:
    """``{engine: Speedup}`` of every result against ``baseline`` (default: the record's own baseline). A re-based
    speedup is judged against ``spreads`` (the machine's stored A/A entries; the assumed spread without them)."""
    baseline = baseline or record.baseline
    mode = str((record.config or {}).get("mode") or "latency")
    if baseline == record.baseline:
        return {
            r.engine: Speedup(
                r.speedup,
                r.speedup_note,
                (r.speedup_ci[0], r.speedup_ci[1]) if r.speedup_ci and len(r.speedup_ci) == 2 else None,
                r.speedup_significant,
                r.speedup_basis,
            )
            for r in record.results
        }
    from workbench.stats.speedup import speedup, speedup_test

    base = record.result(baseline) if baseline else None
    out: dict[str, Speedup] = {}
    for r in record.results:
        value, note = speedup(r, base, mode)
        if value is not None and base is not None and r.engine != base.engine:
            t = speedup_test(r, base.to_dict(), mode, spreads, r.model)
            out[r.engine] = Speedup(value, note, t.ci, t.beyond_noise if t.ci else None, t.sentence())
        else:
            out[r.engine] = Speedup(value, note)
    return out


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
