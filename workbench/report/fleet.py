"""Text for ``workbench fleet``: a sweep's cells on the cluster, what a collect imported, what a resubmit sent.

Pure: plain data in (:mod:`workbench.cluster.fleet`'s status and reports), text out; numbers through
:mod:`workbench.units`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from workbench.cluster.fleet import CollectReport, FleetStatus, ResubmitReport
from workbench.report.text import table
from workbench.units import MISSING, ms, rate

__all__ = ["render_status", "render_collect", "render_resubmit", "render_list"]

_REASON_WIDTH = 110


def _clip(text: str | None, width: int = _REASON_WIDTH) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= width else t[: width - 1] + "…"


def render_status(st: FleetStatus, *, show_done: bool = True) -> str:
    """The summary line, then one row per cell and partition (state, node, Slurm task, p50, throughput, reason),
    then notes (no scheduler here, …) and the next command to run."""
    sub = st.submission
    counts = st.counts()
    parts = list(sub.partitions)
    head = (
        f"fleet sweep {sub.sweep_id} · {sub.spec.model} · {len(sub.cells)} cell{'s' if len(sub.cells) != 1 else ''} × "
        f"{len(parts)} partition{'s' if len(parts) != 1 else ''} ({', '.join(parts)}) · "
        + ", ".join(f"{n} {k}" for k, n in counts.items() if n)
    )
    rows = []
    for c in st.cells:
        if not show_done and c.state == "done":
            continue
        d = c.to_dict()
        rows.append(
            [
                c.partition,
                f"{c.index:04d}",
                c.cell.label(),
                c.state,
                c.node or MISSING,
                c.job or MISSING,
                ms(d["p50_ms"]) if d["p50_ms"] is not None else MISSING,
                rate(d["throughput"]) if d["throughput"] is not None else MISSING,
                _clip(c.reason) if c.reason else "",
            ]
        )
    out = [head, ""]
    if rows:
        out.append(
            table(
                ["partition", "cell", "configuration", "state", "node", "task", "p50 ms", "items/s", "reason"],
                rows,
                align="lrllllrrl",
            )
        )
    out += [f"note: {n}" for n in st.notes]
    failed = counts.get("failed", 0)
    done = counts.get("done", 0)
    if done or failed:
        out.append(f"collect finished cells into the history: workbench fleet collect {sub.sweep_id}")
    if failed:
        out.append(f"rerun the {failed} failed: workbench fleet resubmit {sub.sweep_id} --failed")
    return "\n".join(out)


def render_collect(report: CollectReport) -> str:
    """One line per machine record (added/updated/unchanged), then what is still outstanding."""
    if not report.records:
        lines = [f"fleet sweep {report.sweep_id}: nothing finished to collect yet"]
    else:
        rows = [
            [
                r["run_id"],
                r["action"],
                str(r.get("fingerprint") or MISSING),
                _clip(str(r.get("cpu_model") or MISSING), 48),
                ",".join(r.get("nodes") or []) or MISSING,
                str(r["ok"]),
                str(r["failed"]),
                str(r.get("state") or MISSING),
            ]
            for r in report.records
        ]
        lines = [
            f"fleet sweep {report.sweep_id}: {len(report.records)} history record"
            f"{'s' if len(report.records) != 1 else ''}, one per machine",
            table(["run id", "action", "fingerprint", "cpu", "nodes", "ok", "failed", "state"], rows, align="lllllrrl"),
        ]
    if report.outstanding:
        lines.append(
            f"{report.outstanding} cell{'s' if report.outstanding != 1 else ''} still pending or running: collect again later"
        )
    if report.unfiled:
        lines.append(
            f"{len(report.unfiled)} failed cell{'s' if len(report.unfiled) != 1 else ''} not imported: no machine is known "
            "for them (they never reached a node); `workbench fleet status` shows why"
        )
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def render_resubmit(report: ResubmitReport) -> str:
    if not report.arrays:
        return f"fleet sweep {report.sweep_id}: no failed cells to resubmit"
    lines = []
    for partition, array in report.arrays.items():
        n = len(array.indices)
        what = f"{n} cell{'s' if n != 1 else ''} ({', '.join(f'{i:04d}' for i in array.indices)})"
        if report.dry_run:
            lines.append(f"would resubmit {what} on {partition}: $ {' '.join(array.argv)}")
        else:
            lines.append(f"resubmitted {what} on {partition} as array job {array.job_id}")
    if not report.dry_run:
        lines.append(f"follow it: workbench fleet status {report.sweep_id}")
    return "\n".join(lines)


def render_list(entries: Sequence[Mapping[str, Any]]) -> str:
    if not entries:
        return "no fleet sweeps yet — `workbench sweep ... --on slurm --partition P` submits one"
    rows = [
        [
            str(e.get("sweep_id")),
            str(e.get("created") or MISSING),
            str(e.get("model") or MISSING),
            str(e.get("cells") or MISSING),
            ",".join(e.get("partitions") or []),
            str(e.get("fleet_dir")) + (" (missing)" if e.get("missing") else ""),
        ]
        for e in entries
    ]
    return table(["id", "submitted", "model", "cells", "partitions", "fleet directory"], rows, align="llllll")
