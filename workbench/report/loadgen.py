"""A LoadGen scenario's results (``--scenario``) and a max-QPS search (``--find-max-qps``) as text and Markdown.

The scenario table is the ``loadgen`` view of :mod:`workbench.report.columns` and appears below the results table
only when some result ran a scenario; its notes say why a result is INVALID (LoadGen's words) and what its early
stopping estimated. Pure: no I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

from workbench.report.columns import has_loadgen, headers, texts
from workbench.units import MISSING, ms, rate

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import RunRecord


def loadgen_rows(record: "RunRecord") -> list[list[str]]:
    return [texts("loadgen", r, record) for r in record.results if r.ok and r.loadgen]


def loadgen_notes(record: "RunRecord") -> list[str]:
    """Why each INVALID result is invalid, and each result's early-stopping estimate (LoadGen's words)."""
    notes = []
    for r in record.results:
        lg = r.loadgen or {}
        if not lg:
            continue
        if not lg.get("valid"):
            notes.append(f"{r.engine}: LoadGen {lg.get('validity')}: " + ("; ".join(lg.get("reasons") or []) or "?"))
        estimate = [line for line in lg.get("early_stopping") or [] if "estimate" in line]
        if estimate:
            notes.append(f"{r.engine}: early stopping: " + "; ".join(estimate))
    return notes


def render_loadgen(record: "RunRecord") -> str:
    """The scenario table and its notes (empty when no result ran a scenario)."""
    if not has_loadgen(record.results):
        return ""
    from workbench.report.text import table

    first = next(r.loadgen for r in record.results if r.loadgen) or {}
    rules = "official mlperf.conf rules" if first.get("mlperf_rules") else "short run: indicative only, not quotable"
    lines = [f"under load (MLPerf LoadGen {first.get('loadgen_version') or ''}; {rules}):".replace(" ;", ";")]
    lines.append(table(headers("loadgen"), loadgen_rows(record)))
    lines += [f"  {n}" for n in loadgen_notes(record)]
    return "\n".join(lines)


def markdown_loadgen(record: "RunRecord", md) -> list[str]:
    """The scenario table in Markdown (``md`` escapes a cell); empty when no result ran a scenario."""
    if not has_loadgen(record.results):
        return []
    heads = headers("loadgen")
    lines = ["", "Under load (MLPerf LoadGen):", "", "| " + " | ".join(heads) + " |"]
    lines.append("|" + "|".join(["---"] * 3 + ["---:"] * (len(heads) - 3)) + "|")
    for row in loadgen_rows(record):
        lines.append("| " + " | ".join(md(c) for c in row) + " |")
    lines += [f"- {md(n)}" for n in loadgen_notes(record)]
    return lines


def render_search(searches: Sequence[Mapping[str, Any]]) -> str:
    """``--find-max-qps``: per engine, the highest VALID server QPS under the bound, its latency, and the probes."""
    from workbench.report.text import table

    if not searches:
        return ""
    rows = []
    for s in searches:
        best = s.get("best") or {}
        rows.append(
            [
                s.get("engine"),
                rate(s.get("offline_qps")),
                rate(best.get("target_qps")) if best else "none VALID",
                f"p{s.get('percentile'):g} " + ms(best.get("latency_ms")) if best else MISSING,
                ms(s.get("latency_bound_ms")),
                f"{s.get('confirmed', 0)}/{s.get('confirm_runs', 0)}",
                str(len(s.get("probes") or [])),
                f"{s.get('elapsed_s', 0):.0f} s",
            ]
        )
    head = ["engine", "offline/s", "max QPS", "latency ms", "bound ms", "confirmed", "probes", "took"]
    lines = ["max QPS under the latency bound (LoadGen Server, bisected):", table(head, rows)]
    for s in searches:
        probes = ", ".join(
            f"{rate(p.get('target_qps'))}{'✓' if p.get('valid') else '✗'}" for p in s.get("probes") or []
        )
        lines.append(f"  {s.get('engine')}: probes {probes}")
        if s.get("resolution") is not None:
            step = (s.get("offline_qps") or 0) * s["resolution"]
            first = s.get("first_estimate")
            lines.append(
                f"  {s.get('engine')}: first probe {rate(first)} QPS (queue model), resolution "
                f"{s['resolution'] * 100:g} % of offline ({rate(step)} QPS: the bisection stopped when its highest "
                "VALID and lowest INVALID rates were closer)"
            )
        if s.get("note"):
            lines.append(f"  {s.get('engine')}: {s['note']}")
        steadiness = _steadiness(s)
        if steadiness:
            lines.append(f"  {s.get('engine')}: {steadiness}")
    return "\n".join(lines)


#: the queries per probe suggested when the probes' early stopping allowed almost no query over the bound
STEADY_QUERIES = 2000
#: a search whose probes' early stopping let at most this many queries be over the bound is said to be fragile
FRAGILE_ALLOWANCE = 2


def search_is_fragile(s: Mapping[str, Any]) -> bool:
    """Whether a search's VALID verdicts (``qps_search``) hang on a few queries: its probes' early stopping let at
    most :data:`FRAGILE_ALLOWANCE` of their ``min_queries`` be over the bound (0 at p99 with 460), so one more slow
    query (a burst of arrivals, a stall of the machine) makes a run INVALID and a re-run at the answer can flip."""
    n, allowed = s.get("min_queries"), s.get("allowed_over")
    return bool(n) and allowed is not None and allowed <= FRAGILE_ALLOWANCE


def _steadiness(s: Mapping[str, Any]) -> str | None:
    """How firm a search's VALID verdicts are, in words, with the ``--min-queries`` that would tolerate a few
    queries over the bound; None when the search is not fragile (:func:`search_is_fragile`) or already ran that
    many."""
    from workbench.measure.scenario import early_stopping_allowance

    if not search_is_fragile(s) or s["min_queries"] >= STEADY_QUERIES:
        return None
    n, allowed = s["min_queries"], s["allowed_over"]
    pct = f"p{s.get('percentile'):g}"
    more = early_stopping_allowance(STEADY_QUERIES, float(s.get("percentile") or 99.0))
    return (
        f"each probe ran {n} queries, of which early stopping at {pct} lets {allowed} be over the bound: one more "
        f"slow query makes a run INVALID, so a re-run at this rate can flip (docs/methodology.md); "
        f"--min-queries {STEADY_QUERIES} lets {more} be over, for a steadier answer (each probe >= "
        f"{STEADY_QUERIES} / rate seconds)"
    )


__all__ = ["loadgen_notes", "loadgen_rows", "markdown_loadgen", "render_loadgen", "render_search", "search_is_fragile"]
