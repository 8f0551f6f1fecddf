"""The stored form of one run: a record dict packed into a ``runs`` document and back, and its schema migrations.

Table ``runs`` holds one document per run: a small plain-JSON index (``run_id``, ``created``, ``schema``, ``model``,
``engines``, ``tags``, ``sys``) that list/get/filters read, and ``z``, the full record JSON (without ``system``)
deflate-compressed with a frozen preset dictionary and base64-encoded, so that parsing a 10,000-run file touches a
few tokens per run instead of hundreds. Table ``systems`` holds each distinct machine description once per shard,
``{"key", "system"}``, content-addressed by ``sys``. A document without ``z`` is read as a plain record dict (an older
layout, hand-written, or a v0 record).

Schema. Every record carries ``schema`` (:data:`workbench.result.SCHEMA_VERSION`). Older records are upgraded on read
by the functions in :data:`MIGRATIONS` (``{from_version: fn(record) -> record}``), applied in a chain; the files are
never rewritten just to migrate.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import re
import zlib
from typing import Any, Callable, Mapping

from workbench.errors import UsageError
from workbench.result import SCHEMA_VERSION, RunRecord

TABLE = "runs"
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


# ----------------------------------------------------------------------------------------------------- dates

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
