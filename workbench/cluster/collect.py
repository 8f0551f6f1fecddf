"""Collect a fleet sweep into the history: one record per (sweep, machine fingerprint), with a deterministic run id.

:func:`build_records` groups the finished cells of a :class:`~workbench.cluster.fleet.FleetStatus` by the machine
they ran on; :func:`collect` writes those records through the caller's store (``put`` upserts), so collecting twice
adds nothing and a partial collect is replaced by the next one. Like the rest of the cluster layer it never imports
the history: the CLI passes the store in. :mod:`workbench.cluster.fleet` re-exports these names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.campaign.cells import failed_result
from workbench.errors import WorkbenchError
from workbench.result import EngineResult, RunRecord

if TYPE_CHECKING:  # pragma: no cover
    from workbench.cluster.fleet import CellStatus, FleetStatus, StoreLike, Submission


def record_run_id(sweep_id: str, fingerprint: str) -> str:
    """The history run id of a fleet sweep's record for one machine: stable, so collecting again replaces it."""
    return hashlib.sha256(f"fleet|{sweep_id}|{fingerprint}".encode()).hexdigest()[:12]


@dataclass
class CollectReport:
    """What :func:`collect` did: one entry per record (run_id, fingerprint, machine, nodes, ok, failed, state,
    action: "added" | "updated" | "unchanged"), cells still outstanding, failed cells no machine could be named for."""

    sweep_id: str
    records: list[dict[str, Any]]
    outstanding: int
    unfiled: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep_id": self.sweep_id,
            "records": self.records,
            "outstanding": self.outstanding,
            "unfiled": self.unfiled,
            "notes": self.notes,
        }


def _node_systems(root: Path) -> dict[str, dict[str, Any]]:
    from workbench.cluster.fleet import _read_json

    out: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "nodes").glob("*.json")):
        doc = _read_json(path)
        if isinstance(doc, dict) and doc.get("fingerprint"):
            out[path.stem] = doc
    return out


def _error_result(sub: Submission, cs: CellStatus) -> EngineResult:
    return failed_result(
        cs.cell, sub.spec.model, cs.reason or "the task failed", device=sub.spec.device, detail=cs.detail
    )


def _by_machine(
    st: FleetStatus,
) -> tuple[dict[str, list[CellStatus]], dict[str, dict[str, Any]], list[CellStatus]]:
    """The finished cells by machine fingerprint, each fingerprint's machine description, and the failed cells
    no machine can be named for. A cell without a result is filed under its node's machine (``nodes/<node>.json``,
    or another result from that node)."""
    host_fp: dict[str, tuple[str, dict[str, Any]]] = {
        node: (str(system["fingerprint"]), system) for node, system in _node_systems(st.submission.fleet_dir).items()
    }
    for cs in st.cells:
        system = (cs.result or {}).get("system") or {}
        if system.get("fingerprint") and cs.node:
            host_fp.setdefault(cs.node, (str(system["fingerprint"]), system))
    groups: dict[str, list[CellStatus]] = {}
    systems: dict[str, dict[str, Any]] = {}
    unfiled: list[CellStatus] = []
    for cs in st.cells:
        if not cs.finished:
            continue
        fp: str | None = None
        if cs.result is not None and ((cs.result.get("system") or {}).get("fingerprint")):
            fp = str(cs.result["system"]["fingerprint"])
            systems.setdefault(fp, cs.result["system"])
        elif cs.node and cs.node in host_fp:
            fp, system = host_fp[cs.node]
            systems.setdefault(fp, system)
        if fp is None:
            unfiled.append(cs)
            continue
        groups.setdefault(fp, []).append(cs)
    return groups, systems, unfiled


def _pending(st: FleetStatus, groups: dict[str, list[CellStatus]]) -> dict[str, int]:
    """Per machine fingerprint, the cells still outstanding on partitions that ran on that machine alone."""
    part_fps: dict[str, set[str]] = {}
    for fp, members in groups.items():
        for cs in members:
            part_fps.setdefault(cs.partition, set()).add(fp)
    outstanding: dict[str, int] = {}
    for cs in st.cells:
        if not cs.finished:
            outstanding[cs.partition] = outstanding.get(cs.partition, 0) + 1
    return {fp: sum(n for p, n in outstanding.items() if part_fps.get(p) == {fp}) for fp in groups}


def _filed_result(sub: Submission, cs: CellStatus) -> EngineResult:
    """A cell's result as the record keeps it: its ``cell`` names its key, partition, node and Slurm task."""
    r = EngineResult.from_dict(cs.result["result"]) if cs.result is not None else _error_result(sub, cs)
    r.cell = {
        **(dict(r.cell) if isinstance(r.cell, dict) else cs.cell.to_dict()),
        "key": cs.cell.key(),
        "index": cs.index,
        "partition": cs.partition,
        "node": cs.node,
        "slurm_job": cs.job,
    }
    return r


def _machine_record(
    sub: Submission, fp: str, members: list[CellStatus], system: dict[str, Any], pending: int
) -> RunRecord:
    """The record of one machine's cells (kind "sweep"), ``pending`` cells still to come."""
    members.sort(key=lambda c: (c.index, list(sub.partitions).index(c.partition)))
    with_doc = [c.result for c in members if c.result is not None]
    first = with_doc[0] if with_doc else None
    results = [_filed_result(sub, cs) for cs in members]
    partitions = sorted({c.partition for c in members}, key=list(sub.partitions).index)
    ok = sum(1 for r in results if r.ok)
    starts = [str(d.get("started")) for d in with_doc if d.get("started")]
    ends = [str(d.get("finished")) for d in with_doc if d.get("finished")]
    node_names = sorted({c.node for c in members if c.node})
    return RunRecord(
        run_id=record_run_id(sub.sweep_id, fp),
        created=sub.created,
        model=dict((first or {}).get("model") or {"name": sub.spec.model}),
        config=dict((first or {}).get("config") or {}),
        system=system,
        versions=dict((first or {}).get("versions") or system.get("versions") or {}),
        results=results,
        tags=list(dict.fromkeys([*sub.spec.tags, "fleet"])),
        note=sub.spec.note,
        kind="sweep",
        sweep={
            "spec": sub.spec.to_dict(),
            "state": "running" if pending else ("complete" if ok else "failed"),
            "cells_total": len(members) + pending,
            "cells_done": len(members),
            "pid": None,
            "host": ",".join(node_names) or None,
            "elapsed_s": _span_s(min(starts), max(ends)) if starts and ends else None,
            "started": min(starts) if starts else sub.created,
            "memory_search": {},
            "fleet": {
                "backend": "slurm",
                "sweep_id": sub.sweep_id,
                "fleet_dir": str(sub.fleet_dir),
                "partitions": partitions,
                "nodes": node_names,
                "jobs": {p: sub.job_ids().get(p, []) for p in partitions},
                "fingerprint": fp,
            },
        },
    )


def build_records(st: FleetStatus) -> tuple[list[RunRecord], list[CellStatus]]:
    """The history records of the finished cells in ``st``: one :class:`RunRecord` (kind "sweep") per machine
    fingerprint, run id :func:`record_run_id`, results in cell order (each result's ``cell`` names its key,
    partition, node and Slurm task). Failed cells without a result are filed under their node's machine
    (``nodes/<node>.json``, or another result from that node); those that never reached a node are returned apart."""
    groups, systems, unfiled = _by_machine(st)
    pending = _pending(st, groups)
    records = [
        _machine_record(st.submission, fp, members, dict(systems.get(fp) or {}), pending[fp])
        for fp, members in groups.items()
    ]
    records.sort(key=lambda r: r.run_id)
    return records, unfiled


def _span_s(start: str, end: str) -> float | None:
    import datetime as _dt

    try:
        a = _dt.datetime.fromisoformat(start)
        b = _dt.datetime.fromisoformat(end)
        return round((b - a).total_seconds(), 3)
    except (TypeError, ValueError):
        return None


def _same(stored: RunRecord, new: RunRecord) -> bool:
    a = json.loads(json.dumps(stored.to_dict(), sort_keys=True, default=str))
    b = json.loads(json.dumps(new.to_dict(), sort_keys=True, default=str))
    return bool(a == b)


def _entry(rec: RunRecord, action: str) -> dict[str, Any]:
    fleet = (rec.sweep or {}).get("fleet") or {}
    return {
        "run_id": rec.run_id,
        "fingerprint": fleet.get("fingerprint"),
        "cpu_model": (rec.system.get("cpu") or {}).get("model") or rec.system.get("cpu_model"),
        "nodes": fleet.get("nodes"),
        "partitions": fleet.get("partitions"),
        "ok": sum(1 for r in rec.results if r.ok),
        "failed": sum(1 for r in rec.results if not r.ok),
        "state": (rec.sweep or {}).get("state"),
        "action": action,
    }


def collect(sub: Submission, store: StoreLike, *, st: FleetStatus | None = None) -> CollectReport:
    """Import the finished cells of ``sub`` into the history through ``store`` (one ``put`` per machine record).

    Idempotent: the run ids are deterministic and ``put`` replaces a stored record with the same id; a record
    equal to the stored one is not written again ("unchanged"). Cells still pending or running are not imported;
    collect again later and the record is replaced with the fuller one.
    """
    from workbench.cluster.fleet import status

    st = st if st is not None else status(sub)
    records, unfiled = build_records(st)
    entries: list[dict[str, Any]] = []
    for rec in records:
        try:
            stored: RunRecord | None = store.get(rec.run_id)
        except WorkbenchError:
            stored = None
        if stored is not None and stored.run_id != rec.run_id:
            stored = None  # a prefix match on another run
        if stored is not None and _same(stored, rec):
            action = "unchanged"
        else:
            store.put(rec)
            action = "updated" if stored is not None else "added"
        entries.append(_entry(rec, action))
    outstanding = sum(1 for c in st.cells if not c.finished)
    return CollectReport(
        sub.sweep_id,
        entries,
        outstanding,
        [{"partition": c.partition, "index": c.index, "label": c.cell.label(), "reason": c.reason} for c in unfiled],
        list(st.notes),
    )


__all__ = ["CollectReport", "build_records", "collect", "record_run_id"]
