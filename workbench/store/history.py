"""The results history: every run the workbench measured, kept in one TinyDB JSON file.

Where: ``data_dir()/history.json`` (``WORKBENCH_HISTORY`` overrides the path; ``WORKBENCH_HOME`` moves
``data_dir()``). Raw samples, when a run keeps them, live beside it in ``data_dir()/samples/`` and a record points
to them through :attr:`EngineResult.samples_file`; the record itself stays compact (summary stats and the sparse
histogram).

Safety. TinyDB is neither thread- nor process-safe and its ``JSONStorage`` rewrites the file in place, so a kill in
the middle of a write leaves half a file. This module therefore

* opens the database per operation, under an ``fcntl.flock`` on ``history.json.lock`` (shared for reads,
  exclusive for writes) plus an in-process ``threading.Lock`` (one writer per process);
* writes through :class:`AtomicJSONStorage`: serialise, write a temporary file in the same directory, flush,
  ``fsync``, ``os.replace`` over the old file, ``fsync`` the directory. A reader sees the old file or the new
  one, never a mix, and ``kill -9`` at any moment leaves a readable history;
* creates the history and its lock file with mode 0600 (results describe your machine);
* moves a corrupt file (invalid JSON, wrong structure) aside to ``history.json.corrupt-YYYYmmdd-HHMMSS`` and
  carries on with a fresh one, reporting that in one line through the ``notice`` callback.

TinyDB's ``CachingMiddleware`` is not used: its cache outlives the lock. Within one locked operation the storage
parses the file once (TinyDB reads the whole database several times per insert).

Layout. Table ``runs`` holds one document per run: a small plain-JSON index (``run_id``, ``created``, ``schema``,
``model``, ``engines``, ``tags``) that list/get/filters read, and ``z``, the full record JSON deflate-compressed with a
frozen preset dictionary and base64-encoded. Table ``systems`` holds each distinct machine description once
(content-addressed; a run points to it with ``sys``). With 10,000 runs of three engines each this keeps the file
around 45 MB and ``list(limit=50)`` around 0.4 s, where plain JSON documents took 100 MB and 4.5 s (parsing is
per token). A document without ``z`` is read as a plain record dict, so hand-written or older entries still load.

Schema. Every record carries ``schema`` (:data:`workbench.result.SCHEMA_VERSION`). Older records are upgraded on
read by the functions in :data:`MIGRATIONS` (``{from_version: fn(record) -> record}``), applied in a chain; the
file itself is never rewritten just to migrate.
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
from typing import Any, Callable, Iterable, Iterator, Mapping

from tinydb import TinyDB
from tinydb.storages import Storage

from workbench.errors import UsageError, WorkbenchError
from workbench.paths import data_dir
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
]

TABLE = "runs"
LOCK_TIMEOUT_S = 30.0
_REQUIRED = ("run_id", "created", "results")

Notice = Callable[[str], None]


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


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(str(path), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._loaded = False
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
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        atomic_write_bytes(self.path, payload)
        self._data = data
        self._loaded = True

    def close(self) -> None:
        self._data = None
        self._loaded = False


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-"


def atomic_write_bytes(path: Path, payload: bytes, mode: int = 0o600) -> None:
    """Write ``payload`` to ``path`` so that readers (and a crash) see either the old or the new content.

    Temporary file in the same directory → write → flush → fsync → ``os.replace`` → fsync the directory.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{_tmp_prefix(path)}{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise HistoryError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if exc.errno == errno.ENOSPC:
            raise HistoryError(f"no space left to write {path}; the previous version is intact") from None
        raise HistoryError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


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
    """One stored run while an operation scans the table: its index fields, decoded on demand."""

    __slots__ = ("doc_id", "raw", "index", "_created")

    def __init__(self, doc_id: int, raw: Mapping[str, Any], index: Mapping[str, Any]) -> None:
        self.doc_id = doc_id
        self.raw = raw
        self.index = index
        self._created: _dt.datetime | None = None

    @property
    def run_id(self) -> str:
        return self.index["run_id"]

    @property
    def created(self) -> _dt.datetime:
        if self._created is None:
            self._created = created_at(self.index.get("created"))
        return self._created


def _sort_newest(docs: list[_Doc]) -> list[_Doc]:
    return sorted(docs, key=lambda d: (d.created, d.doc_id), reverse=True)


# ----------------------------------------------------------------------------------------------------- store


class HistoryStore:
    """The run history. Every method opens the file, does its work under the lock and closes it again.

    ``notice`` receives one-line messages about things the user should know but that did not stop the
    operation (a corrupt file moved aside, unreadable records skipped). Without a callback they collect in
    :attr:`notices`.
    """

    def __init__(
        self,
        path: "str | os.PathLike[str] | None" = None,
        *,
        notice: Notice | None = None,
        lock_timeout_s: float = LOCK_TIMEOUT_S,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else history_path()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.notices: list[str] = []
        self._notice = notice
        self.lock_timeout_s = lock_timeout_s

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

    @contextmanager
    def _open(self, write: bool) -> Iterator[TinyDB]:
        """One locked operation on a TinyDB over :class:`AtomicJSONStorage`.

        Reads take a shared lock; if the file turns out corrupt, the operation is redone under the exclusive
        lock, which moves the file aside.
        """
        if not write:
            with self._flock(exclusive=False):
                storage = AtomicJSONStorage(self.path)
                try:
                    storage.load()
                except _Corrupt:
                    pass  # redo below under the exclusive lock
                else:
                    db = TinyDB(storage=lambda: storage)
                    try:
                        yield db
                    finally:
                        db.close()
                    return
        with _thread_lock(self.path), self._flock(exclusive=True):
            storage = AtomicJSONStorage(self.path)
            try:
                storage.load()
            except _Corrupt as exc:
                self._move_aside(str(exc))
                storage = AtomicJSONStorage(self.path)
                storage.load()
            if write:
                self._clean_stale_tmp()
            db = TinyDB(storage=lambda: storage)
            try:
                yield db
            finally:
                db.close()
            if write:
                self._ensure_mode()

    def _move_aside(self, reason: str) -> None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(self.path, target)
        except OSError as exc:
            raise HistoryError(
                f"the history file {self.path} is corrupt ({reason}) and cannot be moved aside: {exc.strerror or exc}"
            ) from None
        _fsync_dir(self.path.parent)
        self._say(f"history file was corrupt; moved it to {target}; starting a new one")

    def _clean_stale_tmp(self) -> None:
        """Remove temporary files left by a writer that was killed (we hold the exclusive lock: none is live)."""
        prefix = _tmp_prefix(self.path)
        try:
            names = os.listdir(self.path.parent)
        except OSError:
            return
        for name in names:
            if name.startswith(prefix):
                try:
                    os.unlink(self.path.parent / name)
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

    def _scan(self, db: TinyDB) -> list[_Doc]:
        """Every run's index (no record is decoded here); unusable documents are skipped with a notice."""
        out: list[_Doc] = []
        bad = 0
        for doc in db.table(TABLE).all():
            if "z" in doc:
                if isinstance(doc.get("run_id"), str) and doc["run_id"] and isinstance(doc.get("created"), str):
                    out.append(_Doc(doc.doc_id, doc, doc))
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
            out.append(_Doc(doc.doc_id, doc, _index_fields(d)))
        if bad:
            self._say(f"skipped {bad} unreadable record{'s' if bad != 1 else ''} in the history file {self.path}")
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
            if "z" in doc.raw:
                d = _unpack_record(doc.raw["z"])
                key = doc.raw.get("sys")
                if key:
                    d["system"] = dict(systems.get(key) or {})
            else:
                d = dict(doc.raw)
            if d.get("schema") != SCHEMA_VERSION:
                d = migrate_record(d)
            if not _record_ok(d):
                raise ValueError("missing run_id, created or results")
        except (ValueError, TypeError, KeyError, zlib.error, WorkbenchError) as exc:
            self._say(f"skipped unreadable run {doc.run_id} in the history file ({exc})")
            return None
        return d

    def _records(self, docs: list[_Doc], systems: Mapping[str, Mapping[str, Any]]) -> list[RunRecord]:
        out = []
        for doc in docs:
            d = self._decode(doc, systems)
            if d is None:
                continue
            try:
                out.append(_to_record(d))
            except (TypeError, ValueError, AttributeError) as exc:
                self._say(f"skipped unreadable run {doc.run_id} in the history file ({exc})")
        return out

    def count(self) -> int:
        """Number of stored runs."""
        with self._open(write=False) as db:
            return len(db.table(TABLE))

    def list(
        self,
        model: str | None = None,
        engine: str | None = None,
        tag: str | None = None,
        since: "str | _dt.datetime | None" = None,
        limit: int | None = 50,
    ) -> list[RunRecord]:
        """Runs newest first, optionally filtered.

        ``model`` matches the model name (case-insensitive); ``engine`` keeps runs with a result for that engine
        (case-insensitive); ``tag`` keeps runs carrying that tag; ``since`` is a datetime, a span such as
        ``'7d'``/``'24h'`` or an ISO date. ``limit=None`` (or 0) returns all.
        """
        since_dt = parse_since(since)
        model_l = model.lower() if model else None
        engine_l = engine.lower() if engine else None
        with self._open(write=False) as db:
            picked = []
            for doc in self._scan(db):
                ix = doc.index
                if model_l is not None and str(ix.get("model") or "").lower() != model_l:
                    continue
                if engine_l is not None and engine_l not in (str(e).lower() for e in ix.get("engines") or []):
                    continue
                if tag is not None and tag not in (ix.get("tags") or []):
                    continue
                if since_dt is not None and doc.created < since_dt:
                    continue
                picked.append(doc)
            picked = _sort_newest(picked)
            if limit:
                picked = picked[: max(0, int(limit))]
            return self._records(picked, self._systems(db))

    def ids(self) -> builtins.list[str]:
        """All run ids, newest first."""
        with self._open(write=False) as db:
            return [d.run_id for d in _sort_newest(self._scan(db))]

    def get(self, run_id_or_prefix: str) -> RunRecord:
        """One run by full id, unique prefix (like git), ``latest`` or ``latest~N`` (N runs before the newest).

        Raises :class:`UsageError` with one line when nothing or more than one run matches.
        """
        key = (run_id_or_prefix or "").strip()
        if not key:
            raise UsageError("empty run id", hint="give a run id, a unique prefix of one, or 'latest'")
        with self._open(write=False) as db:
            docs = self._scan(db)
            m = re.fullmatch(r"latest(?:~(\d+))?", key, re.IGNORECASE)
            if m:
                back = int(m.group(1) or 0)
                ordered = _sort_newest(docs)
                if not ordered:
                    raise UsageError(
                        f"the history is empty, so there is no {key!r} run", hint="`workbench run` stores one"
                    )
                if back >= len(ordered):
                    raise UsageError(f"{key!r} does not exist: the history holds only {len(ordered)} run(s)")
                chosen = ordered[back]
            else:
                low = key.lower()
                exact = [d for d in docs if d.run_id.lower() == low]
                matches = exact or _sort_newest([d for d in docs if d.run_id.lower().startswith(low)])
                if not matches:
                    raise UsageError(f"no run {key!r} in the history", hint="see `workbench history list`")
                if len(matches) > 1:
                    shown = ", ".join(d.run_id for d in matches[:4])
                    more = f" and {len(matches) - 4} more" if len(matches) > 4 else ""
                    raise UsageError(
                        f"run id prefix {key!r} is ambiguous: it matches {shown}{more}", hint="give more characters"
                    )
                chosen = matches[0]
            records = self._records([chosen], self._systems(db))
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
        """Store many runs in one write; returns ``(added, skipped_duplicates)``.

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
        with self._open(write=True) as db:
            runs = db.table(TABLE)
            existing = {d.run_id for d in self._scan(db)}
            known_sys = set(self._systems(db))
            fresh, new_systems = [], {}
            for index, key, system in encoded:
                if index["run_id"] in existing:
                    continue
                existing.add(index["run_id"])
                fresh.append(index)
                if key and key not in known_sys and key not in new_systems:
                    new_systems[key] = system
            if new_systems:
                # Both tables share one cached storage, so these two inserts cost one write each; write the
                # systems first: a run must never point at a missing system.
                db.table(SYSTEMS).insert_multiple({"key": k, "system": v} for k, v in new_systems.items())
            if fresh:
                runs.insert_multiple(fresh)
        return len(fresh), len(encoded) - len(fresh)

    def delete(self, ids: "Iterable[str] | str") -> int:
        """Delete runs by exact run_id (resolve prefixes with :meth:`get` first); returns how many were deleted.

        Their raw-sample side files are removed too, but only files inside the samples directory: a record
        imported from elsewhere cannot make this delete an arbitrary file.
        """
        wanted = {ids} if isinstance(ids, str) else set(ids)
        if not wanted:
            return 0
        removed: list[dict[str, Any]] = []
        with self._open(write=True) as db:
            docs = self._scan(db)
            doomed = [d for d in docs if d.run_id in wanted]
            if doomed:
                systems = self._systems(db)
                for d in doomed:
                    full = self._decode(d, systems)
                    if full is not None:
                        removed.append(full)
                db.table(TABLE).remove(doc_ids=[d.doc_id for d in doomed])
                doomed_ids = {d.doc_id for d in doomed}
                still_used = {d.raw.get("sys") for d in docs if d.doc_id not in doomed_ids}
                orphans = [doc.doc_id for doc in db.table(SYSTEMS).all() if doc.get("key") not in still_used]
                if orphans:
                    db.table(SYSTEMS).remove(doc_ids=orphans)
        for full in removed:
            for r in full.get("results") or []:
                if isinstance(r, dict) and r.get("samples_file"):
                    self._remove_samples_file(str(r["samples_file"]))
        return len(doomed)

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
