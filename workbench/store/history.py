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

Documents. Table ``runs`` holds one document per run: a small plain-JSON index (``run_id``, ``created``,
``schema``, ``model``, ``engines``, ``tags``) that list/get/filters read, and ``z``, the full record JSON
deflate-compressed with a frozen preset dictionary and base64-encoded. Table ``systems`` holds each distinct machine
description once per shard (content-addressed; a run points to it with ``sys``). A document without ``z`` is read
as a plain record dict, so hand-written or older entries still load.

Schema. Every record carries ``schema`` (:data:`workbench.result.SCHEMA_VERSION`). Older records are upgraded on
read by the functions in :data:`MIGRATIONS` (``{from_version: fn(record) -> record}``), applied in a chain; the
files are never rewritten just to migrate.
"""

from __future__ import annotations

import base64
import builtins
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import re
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from tinydb import TinyDB
from tinydb.storages import Storage

from workbench.errors import UsageError, WorkbenchError
from workbench.paths import atomic_write, data_dir
from workbench.paths import fsync_dir as _fsync_dir
from workbench.paths import tmp_prefix as _tmp_prefix
from workbench.result import SCHEMA_VERSION, RunRecord

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
]

TABLE = "runs"
LOCK_TIMEOUT_S = 30.0
_REQUIRED = ("run_id", "created", "results")

Notice = Callable[[str], None]


#: a new sweep starts a fresh head shard when the head already holds this many runs (see HistoryStore.put)
SWEEP_SEAL_MIN = 16


class HistoryError(WorkbenchError):
    """The history file cannot be used (locked for too long, unreadable, not writable)."""

    exit_code = 2


class _Corrupt(Exception):
    """Internal: the file on disk is not a history database."""


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


def _beside(path: Path, label: str) -> Path:
    """A free name beside ``path`` for keeping it: ``history.json.<label>-<timestamp>[-N]``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{label}-{stamp}-{n}")
        n += 1
    return target


# --------------------------------------------------------------------------------------------------- storage


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

    One instance lives for exactly one locked operation (see :meth:`HistoryStore._open`): the parsed data is
    cached for that operation only, which is safe because the caller holds the file lock throughout.
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


# ------------------------------------------------------------------------------------------------ migrations


def _v0_to_v1(d: dict[str, Any]) -> dict[str, Any]:
    """v0 (prototype) → v1.

    v0 records had ``id`` (not ``run_id``), ``timestamp`` as epoch seconds (not ISO ``created``), ``model`` as a
    plain name, ``machine`` (not ``system``), no ``versions``/``config``; each result had ``latency`` in ms with
    ``median`` (not ``p50``) and ``version`` (not ``engine_version``).
    """
    out = dict(d)
    if "run_id" not in out and "id" in out:
        out["run_id"] = str(out.pop("id"))
    if "created" not in out:
        ts = out.pop("timestamp", None)
        if isinstance(ts, (int, float)):
            out["created"] = _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).isoformat(timespec="seconds")
        elif isinstance(ts, str):
            out["created"] = ts
        else:
            out["created"] = "1970-01-01T00:00:00+00:00"
    if isinstance(out.get("model"), str):
        out["model"] = {"name": out["model"]}
    out.setdefault("model", {})
    if "system" not in out:
        out["system"] = out.pop("machine", None) or {}
    out.setdefault("versions", {})
    out.setdefault("config", {})
    results = []
    for r in out.get("results") or []:
        r = dict(r)
        lat = r.pop("latency", None)
        if lat is not None and "latency_ms" not in r:
            lat = dict(lat)
            if "median" in lat and "p50" not in lat:
                lat["p50"] = lat.pop("median")
            r["latency_ms"] = lat
        if "version" in r and "engine_version" not in r:
            r["engine_version"] = r.pop("version")
        r.setdefault("model", out["model"].get("name", ""))
        for key in ("batch", "threads", "mode", "device"):
            if key not in r and key in out["config"]:
                r[key] = out["config"][key]
        results.append(r)
    out["results"] = results
    out["schema"] = 1
    return out


#: ``{from_version: fn(record_dict) -> record_dict}``; each step must return the next version.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}


def migrate_record(d: Mapping[str, Any]) -> dict[str, Any]:
    """Upgrade one record dict to :data:`SCHEMA_VERSION` (records without ``schema`` are v0).

    A record from a *newer* workbench is returned as is: :meth:`RunRecord.from_dict` ignores fields it does not
    know, so an older workbench can still list and compare what it understands.
    """
    out = dict(d)
    version = out.get("schema", 0)
    if not isinstance(version, int):
        try:
            version = int(version)
        except (TypeError, ValueError):
            version = 0
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise UsageError(f"cannot upgrade a schema {version} record: no migration from version {version}")
        out = step(out)
        new_version = out.get("schema", version + 1)
        version = new_version if isinstance(new_version, int) and new_version > version else version + 1
        out["schema"] = version
    return out


def _record_ok(d: Mapping[str, Any]) -> bool:
    return (
        isinstance(d.get("run_id"), str)
        and bool(d["run_id"])
        and isinstance(d.get("created"), str)
        and isinstance(d.get("results"), list)
        and all(isinstance(r, dict) and isinstance(r.get("engine"), str) for r in d["results"])
    )


def _to_record(d: Mapping[str, Any]) -> RunRecord:
    d = dict(d)
    d.setdefault("model", {})
    d.setdefault("config", {})
    d.setdefault("system", {})
    d.setdefault("versions", {})
    return RunRecord.from_dict(d)


# --------------------------------------------------------------------------------------------------- helpers


_SINCE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(value: str) -> _dt.datetime:
    """An ISO date or datetime → aware UTC datetime (naive values are taken as UTC)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    stamp = _dt.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=_dt.timezone.utc)
    return stamp.astimezone(_dt.timezone.utc)


def parse_since(value: "str | _dt.datetime | _dt.date | None", now: _dt.datetime | None = None) -> _dt.datetime | None:
    """``'7d'``, ``'24h'``, ``'30m'``, ``'2w'``, an ISO date (``2026-05-01``) or datetime → aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=_dt.timezone.utc) if value.tzinfo is None else value.astimezone(_dt.timezone.utc)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc)
    text = str(value).strip()
    m = _SINCE_RE.match(text)
    if m:
        now = now or _dt.datetime.now(_dt.timezone.utc)
        return now - _dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])
    try:
        return parse_when(text)
    except ValueError:
        raise UsageError(
            f"invalid --since value {value!r}", hint="use a span such as 7d, 24h, 30m, 2w or a date such as 2026-05-01"
        ) from None


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


def created_at(created: Any) -> _dt.datetime:
    """Parse a record's ``created`` field; unparseable values sort as the epoch."""
    if isinstance(created, str):
        try:
            return parse_when(created)
        except ValueError:
            pass
    return _EPOCH


_THREAD_LOCKS: dict[str, threading.RLock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def _thread_lock(path: Path) -> threading.RLock:
    key = os.path.abspath(str(path))
    with _THREAD_LOCKS_GUARD:
        lock = _THREAD_LOCKS.get(key)
        if lock is None:
            lock = _THREAD_LOCKS[key] = threading.RLock()
        return lock


# ---------------------------------------------------------------------------------------------- on-disk layout
#
# Table "runs": one document per run, {"run_id", "created", "schema", "model", "engines", "tags", "sys", "z"}.
# The first fields are a small plain-JSON index (what list/get/filters need); "z" is the full RunRecord JSON
# (without "system"), deflate-compressed with a fixed preset dictionary and base64-encoded, so that parsing a
# 10,000-run file touches a few tokens per run instead of hundreds, and the file stays well under 50 MB.
# Table "systems": {"key", "system"} — each distinct machine description stored once, content-addressed by "sys".
# A document without "z" is read as a plain record dict (older layout, hand-written, or a v0 record).

SYSTEMS = "systems"
_BLOB_V1 = "z1:"
#: Frozen preset dictionary for ``z1:`` blobs. NEVER change it: stored blobs need it byte for byte to decode.
#: A new layout gets a new prefix and a new dictionary.
_ZDICT_V1 = (
    b'{"run_id":"","created":"","model":{"name":"","source":"zoo","task":"image-classification","inputs":{}},'
    b'"config":{"mode":"latency","batch":1,"threads":null,"cores":null,"device":"cpu","precision":"fp32",'
    b'"warmup":0,"duration_s":0,"repeats":3},"versions":{"workbench":"","python":"","numpy":"","torch":"",'
    b'"onnxruntime":"","openvino":"","transformers":""},"baseline":"torch","tags":[],"note":null,"warnings":[],'
    b'"schema":1,"results":[{"engine":"onnxruntime","model":"","status":"ok","error":null,"engine_version":null,'
    b'"device":"cpu","mode":"latency","batch":1,"threads":null,"cores":null,"precision_requested":"fp32",'
    b'"precision_effective":null,"streams":null,"requests":null,"latency_ms":{"mean":0,"std":0,"min":0,"max":0,'
    b'"p50":0,"p90":0,"p95":0,"p99":0,"p999":0},"median_ci_ms":null,"outliers":null,"throughput":null,'
    b'"iterations":0,"duration_s":0.0,"load_ms":null,"first_inference_ms":null,"peak_rss_mb":null,'
    b'"cpu_util_pct":null,"parity":{"status":"pass","reference":"torch fp32","max_abs":null,"rel_l2":null,'
    b'"top1":null,"tolerance":null,"message":null},"speedup":null,"speedup_note":null,"warnings":[{"code":"",'
    b'"message":""}],"repeats":[{"p50":0,"mean":0,"throughput":0,"iterations":0}],"histogram":{"format":'
    b'"loghist/1","lo_ns":100.0,"hi_ns":1000000000000.0,"rel_precision":0.001,"count":0,"sum_ns":0,"m2_ns2":0,'
    b'"min_ns":0,"max_ns":0,"bins":"u1:","counts":"u2:"},"samples_file":null,"effective":{"threads":null,'
    b'"precision":"fp32"}}]}'
)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot store a {type(value).__name__} in the history")


def _pack_record(d: Mapping[str, Any]) -> str:
    raw = json.dumps(d, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode("utf-8")
    co = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, _ZDICT_V1)
    return _BLOB_V1 + base64.b64encode(co.compress(raw) + co.flush()).decode("ascii")


def _unpack_record(blob: Any) -> dict[str, Any]:
    if not isinstance(blob, str) or not blob.startswith(_BLOB_V1):
        raise ValueError("unknown record encoding")
    do = zlib.decompressobj(15, _ZDICT_V1)
    raw = do.decompress(base64.b64decode(blob[len(_BLOB_V1) :], validate=True)) + do.flush()
    d = json.loads(raw)
    if not isinstance(d, dict):
        raise ValueError("record is not an object")
    return d


def _system_key(system: Mapping[str, Any]) -> str:
    canon = json.dumps(system, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()[:20]


def _encode(d: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, dict[str, Any] | None]:
    """A record dict → (runs-table document, system key, system) — system is None when kept inline."""
    body = dict(d)
    system = body.pop("system", None)
    key = None
    if isinstance(system, Mapping) and system:
        system = dict(system)
        key = _system_key(system)
    else:
        body["system"] = system if system is not None else {}
        system = None
    index = _index_fields(body)
    index["sys"] = key
    index["z"] = _pack_record(body)
    return index, key, system


def _index_fields(d: Mapping[str, Any]) -> dict[str, Any]:
    model = d.get("model")
    name = model.get("name") if isinstance(model, Mapping) else model
    return {
        "run_id": d["run_id"],
        "created": d["created"],
        "schema": d.get("schema", 0),
        "model": None if name is None else str(name),
        "engines": sorted({str(r.get("engine")) for r in d.get("results") or [] if isinstance(r, Mapping)}),
        "tags": [str(t) for t in d.get("tags") or []],
    }


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


# ----------------------------------------------------------------------------------------------------- shards

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


# ----------------------------------------------------------------------------------------------------- store


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

    def _move_aside(self, path: Path, reason: str, head: bool) -> None:
        target = _beside(path, "corrupt")
        try:
            os.replace(path, target)
        except OSError as exc:
            raise HistoryError(
                f"the history file {path} is corrupt ({reason}) and cannot be moved aside: {exc.strerror or exc}"
            ) from None
        _fsync_dir(path.parent)
        if head:
            self._say(f"history file was corrupt; moved it to {target}; starting a new one")
        else:
            self._say(f"history shard {path.name} was corrupt; moved it to {target}; the other shards are intact")

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

    def _scan(self, db: TinyDB, seq: int = HEAD, path: Path | None = None) -> builtins.list[_Doc]:
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
            where = path or self.path
            self._say(f"skipped {bad} unreadable record{'s' if bad != 1 else ''} in the history file {where}")
        return out

    @staticmethod
    def _systems(db: TinyDB) -> dict[str, dict[str, Any]]:
        return {
            d["key"]: d["system"]
            for d in db.table(SYSTEMS).all()
            if isinstance(d.get("key"), str) and isinstance(d.get("system"), dict)
        }

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


_T = TypeVar("_T")


class _Session:
    """The shards of one locked operation: the head, the sealed shards' index, and the shards loaded so far.

    ``writable`` sessions hold the exclusive lock: they move corrupt files aside, split a single-file history,
    and write what they changed (one write per shard) when they close. Read sessions raise
    :class:`_NeedsExclusive` instead; they may refresh the index, which is only a cache of the shards.
    """

    def __init__(self, store: HistoryStore, *, writable: bool, migrate: bool) -> None:
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
            self.store._move_aside(path, str(exc), head=seq == HEAD)
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
            docs = self.store._scan(shard.db, seq, shard.path)
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
            shard._systems = HistoryStore._systems(shard.db)
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
