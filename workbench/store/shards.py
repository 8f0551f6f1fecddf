"""The history's files: shards of at most :data:`SHARD_SIZE` runs, their index, and the atomic TinyDB storage.

Shards (sweep scale). One TinyDB file is rewritten whole on every insert, which cost 0.5-0.8 s per ``add`` at
10,000 runs. So the history is split into TinyDB files of at most :data:`SHARD_SIZE` runs. New runs go to the
head, ``history.json``; once it holds ``SHARD_SIZE`` runs the next write hard-links it as the next
``history/runs-NNNN.json`` (no rewrite) and atomically replaces the head with a new one. Each shard is
self-contained: its ``runs`` table and a ``systems`` table with the machine descriptions its runs use (see
:mod:`workbench.store.codec`).

``history/index.json`` caches each sealed shard's ``(run_id, created, doc_id)`` triples and document count, keyed
by the shard's file signature (inode, size, mtime); a shard whose signature changed is rescanned and the index
rewritten, a missing or unreadable index is rebuilt.

A :class:`_Session` is the shards of one locked operation (:class:`workbench.store.history.HistoryStore` takes the
lock): it loads shards on demand, moves corrupt ones aside, splits a single-file history, seals a full head and
writes what changed, one write per shard, when it closes.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import errno
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

from tinydb import TinyDB
from tinydb.storages import Storage

from workbench.errors import WorkbenchError
from workbench.paths import atomic_write
from workbench.paths import fsync_dir as _fsync_dir
from workbench.store.codec import _EPOCH, SYSTEMS, TABLE, _index_fields, _record_ok, created_at, migrate_record


class HistoryError(WorkbenchError):
    """The history file cannot be used (locked for too long, unreadable, not writable)."""

    exit_code = 2


class _Corrupt(Exception):
    """Internal: the file on disk is not a history database."""


class _Owner(Protocol):
    """What a :class:`_Session` needs of its store (:class:`workbench.store.history.HistoryStore`)."""

    path: Path
    shard_dir: Path
    shard_size: int

    def _say(self, message: str) -> None: ...


def _beside(path: Path, label: str) -> Path:
    """A free name beside ``path`` for keeping it: ``history.json.<label>-<timestamp>[-N]``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
        n += 1
    return target


def _validate(data: Any) -> None:
    """Raise :class:`_Corrupt` unless ``data`` has TinyDB's shape: {table: {doc_id: {...}}}."""
    if not isinstance(data, dict):
        raise _Corrupt("top level is not an object")
    for name, table in data.items():
        if not isinstance(table, dict):
            raise _Corrupt(f"table {name!r} is not an object")
        for doc_id, doc in table.items():
            if not isinstance(doc, dict):
                raise _Corrupt(f"document {doc_id!r} is not an object")
            try:
                int(doc_id)
            except (TypeError, ValueError):
                raise _Corrupt(f"document id {doc_id!r} is not an integer") from None


class AtomicJSONStorage(Storage):
    """A TinyDB storage that reads the JSON file once per operation and replaces it atomically on write.

    One instance lives for exactly one locked operation (a :class:`_Session` makes one per shard it loads): the
    parsed data is cached for that operation only, which is safe because the caller holds the file lock throughout.
    Compact JSON (no indent, no spaces) keeps a 10,000-run history fast to parse and write.
    """

    def __init__(self, path: Path, *, defer: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.defer = defer
        self._loaded = False
        self._dirty = False
        self._data: dict[str, dict[str, Any]] | None = None

    def load(self) -> dict[str, dict[str, Any]] | None:
        """Parse the file; ``None`` when missing or empty. Raises :class:`_Corrupt` or :class:`HistoryError`."""
        try:
            with open(self.path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            raise HistoryError(
                f"cannot read the history file {self.path}: {exc.strerror or exc}",
                hint="check its permissions or set WORKBENCH_HISTORY to another path",
            ) from None
        if not raw.strip():
            data = None
        else:
            try:
                data = json.loads(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                raise _Corrupt(f"invalid JSON ({exc})") from None
            _validate(data)
        self._data = data
        self._loaded = True
        return data

    def read(self) -> dict[str, dict[str, Any]] | None:
        if not self._loaded:
            return self.load()
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        self._loaded = True
        self._dirty = True
        if not self.defer:
            self.flush()

    def flush(self) -> None:
        """Write the pending data (a ``defer=True`` storage turns several TinyDB writes into this one)."""
        if not self._dirty or self._data is None:
            return
        payload = json.dumps(self._data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.path, payload)
        self._dirty = False

    def clear(self) -> None:
        """Treat the file as empty for this operation (nothing is written unless TinyDB writes)."""
        self._data = None
        self._loaded = True
        self._dirty = False

    def close(self) -> None:
        self._data = None
        self._loaded = False
        self._dirty = False


def atomic_write_bytes(path: Path, payload: bytes, mode: int = 0o600) -> None:
    """:func:`workbench.paths.atomic_write` with the history's error (:class:`HistoryError`)."""
    atomic_write(path, payload, mode, error=HistoryError)


class _Doc:
    """One stored run while an operation scans a shard: its index fields, decoded on demand.

    ``raw`` is None for a reference taken from the shard index (``run_id``/``created`` only); :meth:`_Session.resolve`
    loads the document itself.
    """

    __slots__ = ("doc_id", "raw", "index", "shard", "_created")

    def __init__(self, doc_id: int, raw: Mapping[str, Any] | None, index: Mapping[str, Any], shard: int = 0) -> None:
        self.doc_id = doc_id
        self.raw = raw
        self.index = index
        self.shard = shard
        self._created: _dt.datetime | None = None

    @property
    def run_id(self) -> str:
        return self.index["run_id"]

    @property
    def created(self) -> _dt.datetime:
        if self._created is None:
            self._created = created_at(self.index.get("created"))
        return self._created


def _sort_newest(docs: Iterable[_Doc]) -> list[_Doc]:
    return sorted(docs, key=lambda d: (d.created, d.shard, d.doc_id), reverse=True)


#: Runs per shard file. The head (``history.json``) is sealed into ``<dir>/runs-NNNN.json`` once it holds this many.
SHARD_SIZE = 250
#: The head's place in the sort order: newer than every sealed shard.
HEAD = 1 << 62
_SHARD_RE = re.compile(r"^runs-(\d+)\.json$")
_SHARD_PREFIX_RE = re.compile(r"^runs-(\d+)\.json")
INDEX_NAME = "index.json"
_INDEX_FORMAT = "wb-history-index/1"


def shard_dir_for(path: Path) -> Path:
    """Where the sealed shards of the history ``path`` live: ``data/history.json`` → ``data/history/``."""
    path = Path(path)
    stem = path.with_suffix("")
    return stem if stem != path else path.with_name(path.name + ".d")


class _NeedsExclusive(Exception):
    """Internal: a read found something only a writer may repair (a corrupt file, a single-file history)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Entry:
    """The index entry of one sealed shard: its file signature, document count and (run_id, created, doc_id)."""

    __slots__ = ("sig", "n", "runs", "newest")

    def __init__(self, sig: list[int], n: int, runs: builtins.list[list[Any]], newest: Any = None) -> None:
        self.sig = sig
        self.n = n
        self.runs = runs
        if isinstance(newest, str):  # stored in the index: parsing 10,000 dates per operation would dominate
            self.newest = created_at(newest)
        else:
            self.newest = max((created_at(r[1]) for r in runs), default=_EPOCH)

    def to_json(self) -> dict[str, Any]:
        return {"sig": self.sig, "n": self.n, "newest": self.newest.isoformat(), "runs": self.runs}


def _sig(path: Path) -> builtins.list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


class _Shard:
    """One TinyDB file opened for one locked operation (the head or a sealed shard)."""

    __slots__ = ("seq", "path", "storage", "db", "_docs", "_systems")

    def __init__(self, seq: int, path: Path, storage: "AtomicJSONStorage") -> None:
        self.seq = seq
        self.path = path
        self.storage = storage
        self.db = TinyDB(storage=lambda: storage)
        self._docs: builtins.list[_Doc] | None = None
        self._systems: dict[str, dict[str, Any]] | None = None

    def changed(self) -> None:
        self._docs = None
        self._systems = None

    def runs_len(self) -> int:
        return len((self.storage.read() or {}).get(TABLE) or {})


def _move_aside(path: Path, reason: str, head: bool, say: Callable[[str], None]) -> None:
    """Move a corrupt shard file aside (``<name>.corrupt-<timestamp>``) and say so in one line."""
    target = _beside(path, "corrupt")
    try:
        os.replace(path, target)
    except OSError as exc:
        raise HistoryError(
            f"the history file {path} is corrupt ({reason}) and cannot be moved aside: {exc.strerror or exc}"
        ) from None
    _fsync_dir(path.parent)
    if head:
        say(f"history file was corrupt; moved it to {target}; starting a new one")
    else:
        say(f"history shard {path.name} was corrupt; moved it to {target}; the other shards are intact")


def _scan(db: TinyDB, seq: int, path: Path, say: Callable[[str], None]) -> builtins.list[_Doc]:
    """Every run's index in one shard (no record is decoded here); unusable documents are skipped with a notice."""
    out: list[_Doc] = []
    bad = 0
    for doc in db.table(TABLE).all():
        if "z" in doc:
            if isinstance(doc.get("run_id"), str) and doc["run_id"] and isinstance(doc.get("created"), str):
                out.append(_Doc(doc.doc_id, doc, doc, seq))
            else:
                bad += 1
            continue
        try:  # a plain record dict (older layout or a v0 record)
            d = migrate_record(doc)
        except WorkbenchError:
            d = None
        if d is None or not _record_ok(d):
            bad += 1
            continue
        out.append(_Doc(doc.doc_id, doc, _index_fields(d), seq))
    if bad:
        say(f"skipped {bad} unreadable record{'s' if bad != 1 else ''} in the history file {path}")
    return out


def _systems(db: TinyDB) -> dict[str, dict[str, Any]]:
    return {
        d["key"]: d["system"]
        for d in db.table(SYSTEMS).all()
        if isinstance(d.get("key"), str) and isinstance(d.get("system"), dict)
    }


# -------------------------------------------------------------------------------------------------- sessions


class _Session:
    """The shards of one locked operation: the head, the sealed shards' index, and the shards loaded so far.

    ``writable`` sessions hold the exclusive lock: they move corrupt files aside, split a single-file history,
    and write what they changed (one write per shard) when they close. Read sessions raise
    :class:`_NeedsExclusive` instead; they may refresh the index, which is only a cache of the shards.
    """

    def __init__(self, store: _Owner, *, writable: bool, migrate: bool) -> None:
        self.store = store
        self.writable = writable
        self.loaded: dict[int, _Shard] = {}
        self.dirty: set[int] = set()  # shards whose content changed (written on close)
        self.reindex: set[int] = set()  # sealed shards whose index entry must be rebuilt on close
        self._index_dirty = False
        head = self._load(HEAD, store.path)
        assert head is not None
        self.head = head
        self.sealed = self._list_sealed()
        self.entries = self._load_index()
        if self.entries and head.runs_len():
            newest = self.entries[max(self.entries)]
            head_sig = _sig(store.path)
            if head_sig is not None and head_sig[0] == newest.sig[0]:  # a seal interrupted before the new head
                head.storage.clear()
                head.changed()
        if head.runs_len() > store.shard_size and migrate:
            if not writable:
                raise _NeedsExclusive("migrate")
            self._split_head()

    # ------------------------------------------------------------------ loading

    def _load(self, seq: int, path: Path) -> _Shard | None:
        storage = AtomicJSONStorage(path, defer=True)
        try:
            storage.load()
        except _Corrupt as exc:
            if not self.writable:
                raise _NeedsExclusive("corrupt") from None
            _move_aside(path, str(exc), head=seq == HEAD, say=self.store._say)
            if seq != HEAD:
                return None
            storage = AtomicJSONStorage(path, defer=True)
            storage.load()
        shard = _Shard(seq, path, storage)
        self.loaded[seq] = shard
        return shard

    def _list_sealed(self) -> dict[int, Path]:
        try:
            names = os.listdir(self.store.shard_dir)
        except OSError:
            return {}
        out = {}
        for name in names:
            m = _SHARD_RE.match(name)
            if m:
                out[int(m.group(1))] = self.store.shard_dir / name
        return dict(sorted(out.items()))

    def _next_seq(self) -> int:
        try:
            names = os.listdir(self.store.shard_dir)
        except OSError:
            names = []
        nums = [int(m.group(1)) for m in map(_SHARD_PREFIX_RE.match, names) if m]
        return max([0, *nums, *self.sealed]) + 1

    def _load_index(self) -> dict[int, _Entry]:
        """The index entries of every sealed shard, rebuilt for shards whose file signature changed."""
        if not self.sealed:
            return {}
        stored: dict[str, Any] = {}
        try:
            raw = json.loads((self.store.shard_dir / INDEX_NAME).read_bytes())
            if isinstance(raw, dict) and raw.get("format") == _INDEX_FORMAT and isinstance(raw.get("shards"), dict):
                stored = raw["shards"]
        except (OSError, ValueError, UnicodeDecodeError):
            stored = {}
        entries: dict[int, _Entry] = {}
        stale = []
        for seq, path in self.sealed.items():
            e = stored.get(path.name)
            sig = _sig(path)
            if isinstance(e, dict) and sig is not None and e.get("sig") == sig and isinstance(e.get("runs"), list):
                try:
                    entries[seq] = _Entry(sig, int(e.get("n", len(e["runs"]))), e["runs"], e.get("newest"))
                    if not isinstance(e.get("newest"), str):
                        self._index_dirty = True
                    continue
                except (TypeError, ValueError, IndexError):
                    pass
            stale.append(seq)
        if len(entries) != len(stored):
            self._index_dirty = True
        for seq in stale:  # load all first: a corrupt one sends a read to the exclusive lock before any notice
            if self._load(seq, self.sealed[seq]) is None:
                del self.sealed[seq]
        for seq in stale:
            if seq in self.sealed:
                entries[seq] = self._entry(seq)
                self._index_dirty = True
        return entries

    def _entry(self, seq: int) -> _Entry:
        shard = self.loaded[seq]
        runs = [[d.run_id, d.index.get("created"), d.doc_id] for d in self.docs(seq)]
        return _Entry(_sig(shard.path) or [0, 0, 0], shard.runs_len(), runs)

    def shard(self, seq: int) -> _Shard | None:
        if seq in self.loaded:
            return self.loaded[seq]
        path = self.sealed.get(seq)
        if path is None:
            return None
        shard = self._load(seq, path)
        if shard is None:
            self.sealed.pop(seq, None)
            self.entries.pop(seq, None)
            self._index_dirty = True
        return shard

    def docs(self, seq: int) -> builtins.list[_Doc]:
        shard = self.shard(seq)
        if shard is None:
            return []
        if shard._docs is None:
            docs = _scan(shard.db, seq, shard.path, self.store._say)
            if seq == HEAD and self.entries and shard.runs_len() > self.store.shard_size:
                sealed_ids = self._sealed_ids()  # a split interrupted before its last step: sealed copies win
                docs = [d for d in docs if d.run_id not in sealed_ids]
            shard._docs = docs
        return shard._docs

    def systems(self, seq: int) -> dict[str, dict[str, Any]]:
        shard = self.shard(seq)
        if shard is None:
            return {}
        if shard._systems is None:
            shard._systems = _systems(shard.db)
        return shard._systems

    def _sealed_ids(self) -> set[str]:
        return {r[0] for e in self.entries.values() for r in e.runs}

    def all_ids(self) -> set[str]:
        return self._sealed_ids() | {d.run_id for d in self.docs(HEAD)}

    def refs(self) -> builtins.list[_Doc]:
        """Every readable run: sealed ones as index references, the head's as documents."""
        out = [
            _Doc(int(r[2]), None, {"run_id": r[0], "created": r[1]}, seq)
            for seq, e in self.entries.items()
            for r in e.runs
        ]
        out.extend(self.docs(HEAD))
        return out

    def resolve(self, ref: _Doc) -> _Doc | None:
        if ref.raw is not None:
            return ref
        for d in self.docs(ref.shard):
            if d.doc_id == ref.doc_id and d.run_id == ref.run_id:
                return d
        return None

    def count(self) -> int:
        return self.head.runs_len() + sum(e.n for e in self.entries.values())

    def pick(
        self, keep: Callable[[_Doc], bool] | None, since: _dt.datetime | None, limit: int | None
    ) -> builtins.list[_Doc]:
        """Matching runs newest first: shards are walked newest first and the walk stops once ``limit`` runs are
        found and no older shard can hold a newer one."""
        head_docs = self.docs(HEAD)
        order = [(max((d.created for d in head_docs), default=_EPOCH), HEAD)]
        order += [(e.newest, seq) for seq, e in self.entries.items()]
        order.sort(reverse=True)
        picked: list[_Doc] = []
        for newest, seq in order:
            if since is not None and newest < since:
                continue
            if limit and len(picked) >= limit:
                kth = picked[limit - 1]
                if (newest, seq) < (kth.created, kth.shard):
                    break
            for d in self.docs(seq):
                if since is not None and d.created < since:
                    continue
                if keep is None or keep(d):
                    picked.append(d)
            picked = _sort_newest(picked)
            if limit:
                del picked[limit:]
        return picked

    # ------------------------------------------------------------------ writing

    def touched(self, seq: int) -> None:
        shard = self.loaded[seq]
        shard.changed()
        self.dirty.add(seq)
        if seq != HEAD:
            self.reindex.add(seq)

    def append(self, items: builtins.list[tuple[dict[str, Any], str | None, dict[str, Any] | None]]) -> None:
        """Add encoded runs to the head, sealing it whenever it is full (one write per shard)."""
        size = self.store.shard_size
        i = 0
        while i < len(items):
            n = self.head.runs_len()
            if n >= size:
                self._seal_head()
                continue
            chunk = items[i : i + size - n]
            i += len(chunk)
            known = self.systems(HEAD)
            new_systems: dict[str, dict[str, Any]] = {}
            for _index, key, system in chunk:
                if key and system is not None and key not in known and key not in new_systems:
                    new_systems[key] = system
            db = self.head.db
            if new_systems:
                # A deferred storage: both inserts become one write, systems first (a run never points at nothing).
                db.table(SYSTEMS).insert_multiple({"key": k, "system": v} for k, v in new_systems.items())
            db.table(TABLE).insert_multiple(index for index, _key, _system in chunk)
            self.touched(HEAD)

    def _seal_head(self) -> None:
        """The full head becomes the next sealed shard without a rewrite: hard-linked as ``runs-NNNN.json``, then
        the head is replaced (atomically, on close) by a new one, so ``history.json`` never goes missing. Until that
        replace the head and the newest shard are one inode, which the next session reads as an empty head."""
        head = self.head
        head.storage.flush()
        self.dirty.discard(HEAD)
        seq = self._next_seq()
        target = self.store.shard_dir / f"runs-{seq:04d}.json"
        try:
            self.store.shard_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                os.link(self.store.path, target)
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise
                os.rename(self.store.path, target)  # no hard links here: a rename, and a short missing head
        except OSError as exc:
            raise HistoryError(f"cannot seal the history shard {target}: {exc.strerror or exc}") from None
        _fsync_dir(self.store.shard_dir)
        _fsync_dir(self.store.path.parent)
        head.seq, head.path, head.storage.path = seq, target, target
        head.changed()
        self.loaded[seq] = head
        self.sealed[seq] = target
        self.reindex.add(seq)
        self.entries[seq] = self._entry(seq)
        fresh = AtomicJSONStorage(self.store.path, defer=True)
        fresh.write({})  # replaced on close, whatever the path still holds
        self.head = self.loaded[HEAD] = _Shard(HEAD, self.store.path, fresh)
        self.dirty.add(HEAD)

    def _split_head(self) -> None:
        """Split a single-file history (the layout before shards) into sealed shards plus a head.

        The original is kept as ``<name>.migrated-<timestamp>`` (a hard link, else a copy) before anything is
        written; sealed shards are written one by one (each atomically) and the head is replaced last. A crash in
        between leaves the original in place and the next operation redoes the split, skipping runs already sealed.
        """
        store, head = self.store, self.head
        data = head.storage.read() or {}
        runs = sorted((data.get(TABLE) or {}).items(), key=lambda kv: int(kv[0]))
        system_docs = list((data.get(SYSTEMS) or {}).values())
        kept = self._keep_original()
        size = store.shard_size
        chunks = [runs[k : k + size] for k in range(0, len(runs), size)]
        last = chunks.pop()
        sealed_ids = self._sealed_ids()
        written = 0

        def shard_data(chunk: builtins.list[tuple[str, Any]]) -> dict[str, Any]:
            keys = {doc.get("sys") for _i, doc in chunk if isinstance(doc, dict)}
            used = [s for s in system_docs if isinstance(s, dict) and s.get("key") in keys]
            return {TABLE: dict(chunk), SYSTEMS: {str(k + 1): s for k, s in enumerate(used)}}

        store.shard_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for chunk in chunks:
            chunk = [(i, doc) for i, doc in chunk if not (isinstance(doc, dict) and doc.get("run_id") in sealed_ids)]
            if not chunk:
                continue
            seq = self._next_seq()
            target = store.shard_dir / f"runs-{seq:04d}.json"
            payload = json.dumps(shard_data(chunk), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            atomic_write_bytes(target, payload)
            self.sealed[seq] = target
            if self._load(seq, target) is not None:
                self.entries[seq] = self._entry(seq)
                self._index_dirty = True
            written += 1
        head.storage.write(shard_data(last))
        head.storage.flush()
        head.changed()
        self._write_index()
        store._say(
            f"history file held {len(runs)} runs in one file; split it into {written} shard"
            f"{'s' if written != 1 else ''} in {store.shard_dir} plus the newest {len(last)} in {store.path}; "
            f"the original is kept as {kept}"
        )

    def _keep_original(self) -> Path:
        path = self.store.path
        try:
            ino = os.stat(path).st_ino
            for p in path.parent.glob(f"{path.name}.migrated-*"):
                if os.stat(p).st_ino == ino:
                    return p  # an interrupted split already kept it
        except OSError:
            pass
        target = _beside(path, "migrated")
        try:
            os.link(path, target)
        except OSError:
            atomic_write_bytes(target, path.read_bytes())
        _fsync_dir(path.parent)
        return target

    def _write_index(self) -> None:
        if not self._index_dirty:
            return
        doc = {
            "format": _INDEX_FORMAT,
            "shards": {self.sealed[seq].name: e.to_json() for seq, e in sorted(self.entries.items())},
        }
        try:
            atomic_write_bytes(
                self.store.shard_dir / INDEX_NAME,
                json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
            )
        except HistoryError:
            if self.writable:
                raise
            return  # a read-only history: the index is only a cache
        self._index_dirty = False

    def close(self) -> None:
        """Write every changed shard once (an emptied sealed shard is removed), then the index."""
        for seq in sorted(self.dirty):
            shard = self.loaded[seq]
            if seq != HEAD and shard.runs_len() == 0:
                try:
                    os.unlink(shard.path)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise HistoryError(f"cannot remove {shard.path}: {exc.strerror or exc}") from None
                _fsync_dir(shard.path.parent)
                self.sealed.pop(seq, None)
                self.entries.pop(seq, None)
                self.reindex.discard(seq)
                self._index_dirty = True
                continue
            shard.storage.flush()
        self.dirty.clear()
        for seq in sorted(self.reindex):
            if seq in self.sealed:
                self.entries[seq] = self._entry(seq)
                self._index_dirty = True
        self.reindex.clear()
        self._write_index()
        for shard in self.loaded.values():
            shard.db.close()
