"""This machine's run-to-run spread: the A/A measurements ``workbench doctor --aa`` keeps, per machine fingerprint.

A verdict between two runs (``workbench compare``, the CI gate, a speedup's interval, a sweep's scaling, recommend)
needs to know how much one configuration moves from run to run *here* (:mod:`workbench.stats.verdict`). ``doctor
--aa`` runs one configuration several times, each run its own benchmark process, and stores one entry per
configuration in ``spread.json`` beside the history (:func:`workbench.paths.data_dir`)::

    {"schema": 1, "machines": {"<fingerprint>": [
        {"model": "resnet18", "engine": "onnxruntime", "precision": "fp32", "threads": 2, "batch": 1,
         "mode": "latency", "runs": 6, "duration_s": 3.0, "created": "2026-12-06T05:40:00+00:00",
         "values": {"p50": [...], "p90": [...], "p99": [...], "throughput": [...]},
         "sigma": {"p50": 0.042, "p90": 0.10, "p99": 0.13, "throughput": 0.06}}, ...]}}

A newer entry for the same configuration replaces the older one. The file is written atomically under a lock; an
unreadable file reads as empty (the verdicts then use the assumed spread, and say so) and is kept aside on the next
write rather than overwritten silently.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from workbench.paths import atomic_write, data_dir
from workbench.stats import verdict

__all__ = ["FILE", "KEY_FIELDS", "path", "entries", "for_records", "save_entry", "load_all"]

FILE = "spread.json"
SCHEMA = 1
#: the configuration an entry is for (and is replaced by): the verdict rule's
KEY_FIELDS = verdict.KEY_FIELDS


def path() -> Path:
    return data_dir() / FILE


def load_all(p: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """``{fingerprint: [entry, ...]}``; empty when the file is missing or unreadable."""
    p = p or path()
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
    machines = doc.get("machines") if isinstance(doc, dict) else None
    if not isinstance(machines, dict):
        return {}
    return {str(k): [e for e in v if isinstance(e, dict)] for k, v in machines.items() if isinstance(v, list)}


def entries(fingerprints: Sequence[str | None]) -> list[dict[str, Any]]:
    """The stored entries of these machines (one list; the verdict rule picks from it)."""
    stored = load_all()
    out: list[dict[str, Any]] = []
    for fp in dict.fromkeys(f for f in fingerprints if f):
        out.extend(stored.get(fp, []))
    return out


def for_records(*records: Any) -> list[dict[str, Any]]:
    """The stored entries of the machines these records (``RunRecord``) were measured on. Never raises: a verdict
    without stored spreads uses the assumed ones and says so."""
    try:
        return entries([(getattr(r, "system", None) or {}).get("fingerprint") for r in records])
    except Exception:  # an unreadable data dir must not break a report
        return []


def save_entry(fingerprint: str, entry: Mapping[str, Any]) -> Path:
    """Store ``entry`` for ``fingerprint``, replacing the entry of the same configuration. Returns the file."""
    p = path()
    lock = p.with_name(f".{p.name}.lock")
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            raw_ok = True
            try:
                json.loads(p.read_text())
            except FileNotFoundError:
                pass
            except (OSError, ValueError):
                raw_ok = False
            if not raw_ok:  # keep a damaged file aside instead of losing what a person might recover from it
                os.replace(p, p.with_name(f"{p.name}.damaged"))
            machines = load_all(p)
            kept = [e for e in machines.get(fingerprint, []) if any(e.get(k) != entry.get(k) for k in KEY_FIELDS)]
            machines[fingerprint] = [*kept, dict(entry)]
            atomic_write(p, json.dumps({"schema": SCHEMA, "machines": machines}, indent=1).encode())
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return p
