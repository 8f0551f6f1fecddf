"""The results history: every run the workbench measured, kept in TinyDB JSON files (shards).

Where: the head ``data_dir()/history.json`` (``WORKBENCH_HISTORY`` overrides the path; ``WORKBENCH_HOME`` moves
``data_dir()``) plus sealed shards ``data_dir()/history/runs-NNNN.json`` and their index ``history/index.json``.
Raw samples, when a run keeps them, live in ``data_dir()/samples/`` and a record points to them through
:attr:`EngineResult.samples_file`; the record itself stays compact (summary stats and the sparse histogram).

Shards (sweep scale). One TinyDB file is rewritten whole on every insert, which cost 0.5-0.8 s per ``add`` at
10,000 runs. So the history is split into TinyDB files of at most :data:`SHARD_SIZE` runs. New runs go to the
head, ``history.json``; once it holds ``SHARD_SIZE`` runs the next write hard-links it as the next
``history/runs-NNNN.json`` (no rewrite) and atomically replaces the head with a new one. Each shard is self-contained: its ``runs`` table
and a ``systems`` table with the machine descriptions its runs use. That costs one small copy of a machine
description per shard, and buys one write per shard touched (never two files that must agree) and real
isolation: a corrupt shard loses its own runs only. The head keeps the path it always had, so a history under
``SHARD_SIZE`` runs is byte for byte the old layout, ``WORKBENCH_HISTORY`` still names a file, and an older
workbench still reads the newest runs.

``history/index.json`` caches each sealed shard's ``(run_id, created, doc_id)`` triples and document count, keyed
by the shard's file signature (inode, size, mtime); a shard whose signature changed (a delete rewrote it) is
rescanned and the index rewritten, a missing or unreadable index is rebuilt. With it ``count``, ``ids``, prefix
lookups and duplicate checks read no shard; ``list``/``latest~N`` walk shards newest first (by their newest
``created``) and stop once ``limit`` runs are found and no older shard can hold a newer one, so ``list(limit=50)``
reads the head and a shard or two. Filters only make the walk go further; ``since`` skips older shards outright.

Single-file histories (before shards). A head holding more than ``SHARD_SIZE`` runs is split on first open (a
read escalates to the exclusive lock for it; a read-only history is read as it is): the original is kept as
``history.json.migrated-<timestamp>`` (a hard link, else a copy) before anything is written, full chunks are
written as sealed shards (each atomically), and the head is replaced by the newest chunk last. A crash in between
leaves the original in place, readers ignore head runs that are already sealed, and the next open redoes the
split skipping them. Documents are copied verbatim (unreadable ones too: nothing is dropped).

Safety. TinyDB is neither thread- nor process-safe and its ``JSONStorage`` rewrites the file in place, so a kill in
the middle of a write leaves half a file. This module therefore

* runs every operation under an ``fcntl.flock`` on ``history.json.lock`` (shared for reads, exclusive for
  writes; one lock for all shards) plus an in-process ``threading.Lock`` (one writer per process);
* writes through :class:`AtomicJSONStorage`: serialise, write a temporary file in the same directory, flush,
  ``fsync``, ``os.replace`` over the old file, ``fsync`` the directory. A reader sees the old file or the new
  one, never a mix, and ``kill -9`` at any moment leaves a readable history. Within one operation the storage is
  deferred, so the runs and systems inserts into one shard are one write;
* creates every file with mode 0600 (results describe your machine), the shard directory 0700;
* moves a corrupt head (invalid JSON, wrong structure) aside to ``history.json.corrupt-YYYYmmdd-HHMMSS`` and
  carries on with a fresh one, and a corrupt sealed shard to ``runs-NNNN.json.corrupt-...`` while the other
  shards keep working, reporting each in one line through the ``notice`` callback.

TinyDB's ``CachingMiddleware`` is not used: its cache outlives the lock. Within one locked operation the storage
parses each file once (TinyDB reads the whole database several times per insert).

Modules. This one is the store (:class:`HistoryStore`: locking, reading, writing, sweep journals);
:mod:`workbench.store.codec` packs a record into a document and back (the frozen preset dictionary, schema
migrations); :mod:`workbench.store.shards` holds the files (atomic storage, shards, their index, one operation's
session). The names other modules use are importable from here as before.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import fcntl
import json
import os
import re
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from workbench.errors import UsageError, WorkbenchError
from workbench.paths import data_dir
from workbench.paths import fsync_dir as _fsync_dir
from workbench.paths import tmp_prefix as _tmp_prefix
from workbench.result import SCHEMA_VERSION, RunRecord
from workbench.store.codec import (
    MIGRATIONS,
    SYSTEMS,
    TABLE,
    _encode,
    _json_default,
    _record_ok,
    _to_record,
    _unpack_record,
    migrate_record,
    parse_since,
    parse_when,
)
from workbench.store.shards import (
    HEAD,
    INDEX_NAME,
    SHARD_SIZE,
    AtomicJSONStorage,
    HistoryError,
    _Doc,
    _NeedsExclusive,
    _Session,
    _sort_newest,
    atomic_write_bytes,
    shard_dir_for,
)

__all__ = [
    "HistoryStore",
    "HistoryError",
    "AtomicJSONStorage",
    "MIGRATIONS",
    "migrate_record",
    "parse_since",
    "history_path",
    "samples_dir",
    "TABLE",
    "SYSTEMS",
    "SHARD_SIZE",
    "shard_dir_for",
    "atomic_write_bytes",
    "parse_when",
]

LOCK_TIMEOUT_S = 30.0

Notice = Callable[[str], None]


#: a new sweep starts a fresh head shard when the head already holds this many runs (see HistoryStore.put)
SWEEP_SEAL_MIN = 16

_T = TypeVar("_T")


# ----------------------------------------------------------------------------------------------------- paths


def history_path() -> Path:
    """The history file: ``$WORKBENCH_HISTORY`` if set, else ``data_dir()/history.json``."""
    override = os.environ.get("WORKBENCH_HISTORY")
    if override:
        return Path(override).expanduser()
    return data_dir() / "history.json"


def samples_dir() -> Path:
    """Where raw-sample side files live (``data_dir()/samples``); created on demand by whoever writes them."""
    return data_dir() / "samples"


_THREAD_LOCKS: dict[str, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    key = os.path.abspath(str(path))
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(key)
        if lock is None:
            lock = _THREAD_LOCKS[key] = threading.RLock()
        return lock


class HistoryStore:
    """The run history. Every method takes the lock, does its work on the shards it needs and releases it.

    ``notice`` receives one-line messages about things the user should know but that did not stop the
    operation (a corrupt file moved aside, unreadable records skipped, a single-file history split). Without a
    callback they collect in :attr:`notices`. ``shard_size`` (default :data:`SHARD_SIZE`) is the number of runs
    per shard file.
    """

    def __init__(
        self,
        path: "str | os.PathLike[str] | None" = None,
        *,
        notice: Notice | None = None,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
        shard_size: int | None = None,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else history_path()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.shard_dir = shard_dir_for(self.path)
        self.notices: list[str] = []
        self._notice = notice
        self.lock_timeout_s = lock_timeout_s
        self.shard_size = max(1, int(shard_size if shard_size is not None else SHARD_SIZE))

    def __repr__(self) -> str:
        return f"HistoryStore({str(self.path)!r})"

    # -------------------------------------------------------------------------------------- locking

    def _say(self, message: str) -> None:
        self.notices.append(message)
        if self._notice is not None:
            self._notice(message)

    @contextmanager
    def _flock(self, exclusive: bool) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(str(self.lock_path), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            fd = -1
            if not exclusive:  # a read-only history (another user's, a read-only mount) can still be read
                try:
                    fd = os.open(str(self.lock_path), os.O_RDONLY)
                except OSError:
                    fd = -1
            if fd < 0:
                raise HistoryError(
                    f"cannot open the history lock {self.lock_path}: {exc.strerror or exc}",
                    hint="check the permissions of the data directory or set WORKBENCH_HISTORY",
                ) from None
        try:
            op = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            deadline = time.monotonic() + self.lock_timeout_s
            delay = 0.001
            while True:
                try:
                    fcntl.flock(fd, op | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise HistoryError(
                            f"the history is locked by another workbench process (waited {self.lock_timeout_s:g} s)",
                            hint=f"try again; if no workbench is running, remove {self.lock_path}",
                        ) from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.05)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _run(self, write: bool, fn: "Callable[[_Session], _T]") -> "_T":
        """Run ``fn`` on a :class:`_Session` under the lock.

        Reads take the shared lock; if they find a corrupt file or a single-file history to split, the operation
        is redone under the exclusive lock, which moves the file aside or splits it. A read-only history that
        needs splitting is read as it is.
        """
        if not write:
            try:
                with self._flock(exclusive=False):
                    return self._in_session(False, fn, migrate=True)
            except _NeedsExclusive as need:
                reason = need.reason
            try:
                return self._exclusive(False, fn)
            except HistoryError:
                if reason != "migrate":
                    raise
            with self._flock(exclusive=False):
                try:
                    return self._in_session(False, fn, migrate=False)
                except _NeedsExclusive:
                    raise HistoryError(
                        f"the history {self.path} needs repair and cannot be written", hint="check its permissions"
                    ) from None
        return self._exclusive(True, fn)

    def _exclusive(self, write: bool, fn: "Callable[[_Session], _T]") -> "_T":
        with _thread_lock(self.path), self._flock(exclusive=True):
            self._clean_stale_tmp()
            result = self._in_session(True, fn, migrate=True, repair=True)
            if write:
                self._ensure_mode()
            return result

    def _in_session(self, write: bool, fn: "Callable[[_Session], _T]", *, migrate: bool, repair: bool = False) -> "_T":
        session = _Session(self, writable=write or repair, migrate=migrate)
        result = fn(session)
        session.close()
        return result

    def _clean_stale_tmp(self) -> None:
        """Remove temporary files left by a writer that was killed (we hold the exclusive lock: none is live)."""
        for directory, prefixes in (
            (self.path.parent, (_tmp_prefix(self.path),)),
            (self.shard_dir, (".runs-", f".{INDEX_NAME}.tmp-")),
        ):
            try:
                names = os.listdir(directory)
            except OSError:
                continue
            for name in names:
                if name.startswith(prefixes) and ".tmp-" in name:
                    try:
                        os.unlink(directory / name)
                    except OSError:
                        pass

    def _ensure_mode(self) -> None:
        for p in (self.path, self.lock_path):
            try:
                if os.stat(p).st_mode & 0o077:
                    os.chmod(p, 0o600)
            except OSError:
                pass

    # ------------------------------------------------------------------------------------- reading
    def _decode(self, doc: _Doc, systems: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
        """The full, migrated record dict of one document; None (with a notice) if it cannot be decoded."""
        try:
            raw = doc.raw
            if raw is None:
                raise ValueError("document not loaded")
            if "z" in raw:
                d = _unpack_record(raw["z"])
                key = raw.get("sys")
                if key:
                    d["system"] = dict(systems.get(key) or {})
            else:
                d = dict(raw)
            if d.get("schema") != SCHEMA_VERSION:
                d = migrate_record(d)
            if not _record_ok(d):
                raise ValueError("missing run_id, created or results")
        except (ValueError, TypeError, KeyError, zlib.error, WorkbenchError) as exc:
            self._say(f"skipped unreadable run {doc.run_id} in the history file ({exc})")
            return None
        return d

    def _records(self, docs: builtins.list[_Doc], session: "_Session") -> builtins.list[RunRecord]:
        out = []
        for ref in docs:
            doc = session.resolve(ref)
            if doc is None:
                continue
            d = self._decode(doc, session.systems(doc.shard))
            if d is None:
                continue
            try:
                rec = _to_record(d)
            except (TypeError, ValueError, AttributeError) as exc:
                self._say(f"skipped unreadable run {doc.run_id} in the history file ({exc})")
                continue
            if rec.kind == "sweep":
                self._merge_journal(rec)
            out.append(rec)
        return out

    # ---- sweep journals: every finished cell, durable at once, between the (periodic) saves of its sweep ------
    def journal_path(self, sweep_id: str) -> Path:
        """The append-only file of a sweep's finished cells (``journals/<id>.jsonl`` beside the history file)."""
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", sweep_id or ""):
            raise UsageError(f"not a sweep id: {sweep_id!r}")
        return self.path.parent / "journals" / f"{sweep_id}.jsonl"

    def append_cell(self, sweep_id: str, result: Mapping[str, Any]) -> None:
        """Append one finished cell's result to the sweep's journal and fsync it (one small write, no rewrite): a
        sweep killed with -9 between two saves of its record loses nothing. Raises HistoryError."""
        path = self.journal_path(sweep_id)
        line = json.dumps(result, separators=(",", ":"), ensure_ascii=False, default=_json_default) + "\n"
        try:
            fresh = not path.exists()
            if fresh:
                path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
            if fresh:
                _fsync_dir(path.parent)
        except OSError as exc:
            raise HistoryError(f"cannot append to the sweep journal {path}: {exc.strerror or exc}") from None

    def journal_cells(self, sweep_id: str) -> builtins.list[dict[str, Any]]:
        """The cells in a sweep's journal, in order; a torn last line (a crash mid-write) is skipped."""
        try:
            text = self.journal_path(sweep_id).read_text(encoding="utf-8")
        except (FileNotFoundError, UsageError):
            return []
        except OSError as exc:
            self._say(f"cannot read the sweep journal of {sweep_id}: {exc.strerror or exc}")
            return []
        cells = []
        for line in text.splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict):
                cells.append(d)
        return cells

    def drop_journal(self, sweep_id: str) -> None:
        """Remove a sweep's journal once its record holds every cell (after the final save)."""
        try:
            self.journal_path(sweep_id).unlink()
        except (FileNotFoundError, UsageError):
            pass
        except OSError as exc:
            self._say(f"could not remove the sweep journal of {sweep_id}: {exc.strerror or exc}")

    def _merge_journal(self, rec: RunRecord) -> None:
        """Cells a sweep's journal holds that its stored record does not yet (saved periodically) join it."""
        from workbench.result import EngineResult

        if (rec.sweep or {}).get("state") == "complete":
            return
        cells = self.journal_cells(rec.run_id)
        if not cells:
            return
        have = {str((r.cell or {}).get("key")) for r in rec.results}
        for d in cells:
            key = str((d.get("cell") or {}).get("key"))
            if key in have:
                continue
            try:
                rec.results.append(EngineResult.from_dict(d))
            except (TypeError, ValueError):
                continue
            have.add(key)
        if rec.sweep is not None:
            rec.sweep = dict(rec.sweep) | {"cells_done": len(rec.results)}

    def count(self) -> int:
        """Number of stored runs."""
        return self._run(False, lambda s: s.count())

    def list(
        self,
        model: str | None = None,
        engine: str | None = None,
        tag: str | None = None,
        since: "str | _dt.datetime | None" = None,
        limit: int | None = 50,
    ) -> builtins.list[RunRecord]:
        """Runs newest first, optionally filtered.

        ``model`` matches the model name (case-insensitive); ``engine`` keeps runs with a result for that engine
        (case-insensitive); ``tag`` keeps runs carrying that tag; ``since`` is a datetime, a span such as
        ``'7d'``/``'24h'`` or an ISO date. ``limit=None`` (or 0) returns all.
        """
        since_dt = parse_since(since)
        model_l = model.lower() if model else None
        engine_l = engine.lower() if engine else None

        def keep(doc: _Doc) -> bool:
            ix = doc.index
            if model_l is not None and str(ix.get("model") or "").lower() != model_l:
                return False
            if engine_l is not None and engine_l not in (str(e).lower() for e in ix.get("engines") or []):
                return False
            return tag is None or tag in (ix.get("tags") or [])

        n = max(0, int(limit)) if limit else None

        def op(s: _Session) -> builtins.list[RunRecord]:
            return self._records(s.pick(keep, since_dt, n), s)

        return self._run(False, op)

    def ids(self) -> builtins.list[str]:
        """All run ids, newest first."""
        return self._run(False, lambda s: [d.run_id for d in _sort_newest(s.refs())])

    def get(self, run_id_or_prefix: str) -> RunRecord:
        """One run by full id, unique prefix (like git), ``latest`` or ``latest~N`` (N runs before the newest).

        Raises :class:`UsageError` with one line when nothing or more than one run matches.
        """
        key = (run_id_or_prefix or "").strip()
        if not key:
            raise UsageError("empty run id", hint="give a run id, a unique prefix of one, or 'latest'")

        def op(s: _Session) -> tuple[_Doc, builtins.list[RunRecord]]:
            m = re.fullmatch(r"latest(?:~(\d+))?", key, re.IGNORECASE)
            if m:
                back = int(m.group(1) or 0)
                ordered = s.pick(None, None, back + 1)
                if not ordered:
                    raise UsageError(
                        f"the history is empty, so there is no {key!r} run", hint="`workbench run` stores one"
                    )
                if back >= len(ordered):
                    raise UsageError(f"{key!r} does not exist: the history holds only {len(ordered)} run(s)")
                chosen = ordered[back]
            else:
                low = key.lower()
                refs = s.refs()
                exact = [d for d in refs if d.run_id.lower() == low]
                matches = exact or _sort_newest([d for d in refs if d.run_id.lower().startswith(low)])
                if not matches:
                    raise UsageError(f"no run {key!r} in the history", hint="see `workbench history list`")
                if len(matches) > 1:
                    shown = ", ".join(d.run_id for d in matches[:4])
                    more = f" and {len(matches) - 4} more" if len(matches) > 4 else ""
                    raise UsageError(
                        f"run id prefix {key!r} is ambiguous: it matches {shown}{more}", hint="give more characters"
                    )
                chosen = matches[0]
            return chosen, self._records([chosen], s)

        chosen, records = self._run(False, op)
        if not records:
            raise UsageError(
                f"run {chosen.run_id} is stored but unreadable",
                hint=f"delete it with `workbench history delete {chosen.run_id}`",
            )
        return records[0]

    # ------------------------------------------------------------------------------------- writing

    def add(self, record: RunRecord) -> str:
        """Store one run; returns its run_id. A run already stored (same run_id) is not added again."""
        self.import_records([record])
        return record.run_id

    def import_records(self, records: Iterable[RunRecord | Mapping[str, Any]]) -> tuple[int, int]:
        """Store many runs, one write per shard touched; returns ``(added, skipped_duplicates)``.

        Accepts :class:`RunRecord` objects or record dicts (migrated first). Duplicates — by run_id, against the
        store and within ``records`` — are skipped.
        """
        encoded: list[tuple[dict[str, Any], str | None, dict[str, Any] | None]] = []
        for rec in records:  # validate and compress before taking the lock
            if isinstance(rec, RunRecord):
                d = rec.to_dict()
            elif isinstance(rec, Mapping):
                d = migrate_record(rec)
                if not _record_ok(d):
                    raise UsageError("cannot store a record without run_id, created and results")
                try:
                    d = _to_record(d).to_dict()
                except (TypeError, ValueError, AttributeError) as exc:
                    raise UsageError(f"run {d.get('run_id')}: not a valid workbench result ({exc})") from None
            else:
                raise TypeError(f"expected RunRecord or dict, got {type(rec).__name__}")
            if not isinstance(d.get("run_id"), str) or not d["run_id"]:
                raise UsageError("cannot store a run without a run_id")
            if not isinstance(d.get("created"), str):
                raise UsageError(f"run {d['run_id']}: 'created' must be an ISO timestamp string")
            encoded.append(_encode(d))
        if not encoded:
            return 0, 0

        def op(s: _Session) -> int:
            existing = s.all_ids()
            fresh = []
            for item in encoded:
                rid = item[0]["run_id"]
                if rid in existing:
                    continue
                existing.add(rid)
                fresh.append(item)
            s.append(fresh)
            return len(fresh)

        added = self._run(True, op)
        return added, len(encoded) - added

    def delete(self, ids: "Iterable[str] | str") -> int:
        """Delete runs by exact run_id (resolve prefixes with :meth:`get` first); returns how many were deleted.

        Their raw-sample side files are removed too, but only files inside the samples directory: a record
        imported from elsewhere cannot make this delete an arbitrary file. Machine descriptions no run of the
        shard uses any more are removed with them.
        """
        wanted = {ids} if isinstance(ids, str) else set(ids)
        if not wanted:
            return 0

        def op(s: _Session) -> tuple[int, builtins.list[dict[str, Any]]]:
            return self._remove(s, wanted)

        n, removed = self._run(True, op)
        for run_id in wanted:
            self.drop_journal(run_id)
        for full in removed:
            for r in full.get("results") or []:
                if isinstance(r, dict) and r.get("samples_file"):
                    self._remove_samples_file(str(r["samples_file"]))
        return n

    def _remove(
        self, s: "_Session", wanted: set[str], *, decode: bool = True, head_only: bool = False
    ) -> tuple[int, builtins.list[dict[str, Any]]]:
        """Remove the runs ``wanted`` within a write session; returns how many, and (``decode``) their decoded
        records. ``head_only``: look in the head shard alone (a put of the sweep in progress)."""
        removed: list[dict[str, Any]] = []
        by_shard: dict[int, list[_Doc]] = {}
        for ref in s.docs(HEAD) if head_only else s.refs():
            if ref.run_id in wanted:
                by_shard.setdefault(ref.shard, []).append(ref)
        n = 0
        for seq, refs in by_shard.items():
            shard = s.shard(seq)
            if shard is None:
                continue
            docs = s.docs(seq)
            doomed_ids = {r.doc_id for r in refs}
            doomed = [d for d in docs if d.doc_id in doomed_ids]
            systems = s.systems(seq)
            for d in doomed if decode else ():
                full = self._decode(d, systems)
                if full is not None:
                    removed.append(full)
            shard.db.table(TABLE).remove(doc_ids=[d.doc_id for d in doomed])
            still_used = {d.raw.get("sys") for d in docs if d.doc_id not in doomed_ids and d.raw is not None}
            orphans = [doc.doc_id for doc in shard.db.table(SYSTEMS).all() if doc.get("key") not in still_used]
            if orphans:
                shard.db.table(SYSTEMS).remove(doc_ids=orphans)
            s.touched(seq)
            n += len(doomed)
        return n, removed

    def put(self, record: RunRecord) -> str:
        """Store ``record``, replacing a stored run with the same run_id (a sweep saved after every cell, a fleet
        collect); one locked write. Returns its run_id. Raw-sample files of the replaced version are kept."""
        d = record.to_dict()
        if not isinstance(d.get("run_id"), str) or not d["run_id"]:
            raise UsageError("cannot store a run without a run_id")
        item = _encode(d)

        def op(s: _Session) -> None:
            if any(doc.run_id == d["run_id"] for doc in s.docs(HEAD)):
                self._remove(s, {d["run_id"]}, decode=False, head_only=True)
            elif d["run_id"] in s.all_ids():
                self._remove(s, {d["run_id"]}, decode=False)
            elif record.kind == "sweep" and s.head.runs_len() >= SWEEP_SEAL_MIN:
                # a sweep is put again after every cell: start it in a fresh head (sealing is a hard link, not a
                # rewrite), so each put rewrites the sweep and a few runs rather than a full shard
                s._seal_head()
            s.append([item])

        self._run(True, op)
        return record.run_id

    def _remove_samples_file(self, name: str) -> None:
        path = Path(name).expanduser()
        roots = {samples_dir().resolve(), (self.path.parent / "samples").resolve()}
        if not path.is_absolute():
            path = samples_dir() / path if len(path.parts) == 1 else data_dir() / path
        try:
            resolved = path.resolve()
        except OSError:
            return
        if not any(root in resolved.parents for root in roots):
            self._say(f"kept {path}: it lies outside the samples directory")
            return
        try:
            resolved.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            self._say(f"could not remove the samples file {resolved}: {exc.strerror or exc}")


def run_to_run_entries(store: "HistoryStore | None", *records: RunRecord) -> list[dict[str, Any]]:
    """What a verdict between ``records`` knows of their machines' run-to-run spread: the A/A measurements stored
    by ``workbench doctor --aa`` (:mod:`workbench.machine.spread`) and, from ``store``, the spread between the
    *other* stored runs of one configuration on the same machine (:func:`workbench.stats.verdict.history_entries`;
    the compared runs are left out, or a real change between them would widen the spread that judges it). Never
    raises: without either, the verdicts use the assumed spread and say so."""
    from workbench.machine.spread import for_records
    from workbench.stats.verdict import history_entries

    out = for_records(*records)
    if store is None:
        return out
    fingerprints = [fp for fp in dict.fromkeys((r.system or {}).get("fingerprint") for r in records) if fp]
    compared = {r.run_id for r in records}  # the pair itself would hide the very change it is asked about
    try:
        for model in dict.fromkeys(str((r.model or {}).get("name") or "") for r in records):
            if not model or not fingerprints:
                continue
            others = [r for r in store.list(model=model, limit=None) if r.run_id not in compared]
            for fp in fingerprints:
                out += history_entries(others, fp)
    except Exception:  # an unreadable history must not break a comparison
        return out
    return out
