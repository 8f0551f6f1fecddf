"""Exporters: one small interface, one class per format (after hyperfine's ``export/``).

An exporter turns a list of :class:`~workbench.result.RunRecord` into text:

* ``json`` — a single run is written exactly as ``workbench run --json`` writes it (the RunRecord dict); several
  runs become ``{"schema": 1, "runs": [...]}``. Both read back with :func:`load_records`.
* ``csv`` — one row per engine result, flat columns (see :data:`CSV_COLUMNS`), latencies in ms.
* ``markdown`` — a table per run plus a line with model/batch/threads/cores/machine and the warnings.

:func:`write` writes atomically (temporary file + ``os.replace``), so an interrupted export never leaves half a file
where a previous one was.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Protocol

from workbench.errors import UsageError, closest
from workbench.report.columns import VIEWS, column, format_cores, headers, raw_row, results_view, texts, view_keys
from workbench.result import SCHEMA_VERSION, EngineResult, RunRecord
from workbench.units import MISSING, as_float, json_safe, ms, ratio, significant

__all__ = [
    "Exporter",
    "JsonExporter",
    "CsvExporter",
    "MarkdownExporter",
    "EXPORTERS",
    "CSV_COLUMNS",
    "get_exporter",
    "render",
    "write",
    "load_records",
    "records_from_json",
    "format_cores",
]


class Exporter(Protocol):
    """``name`` is what ``--format`` takes; ``suffix`` the usual file extension; ``render`` the whole document."""

    name: str
    suffix: str

    def render(self, records: list[RunRecord]) -> str: ...


# ---------------------------------------------------------------------------------------------------- helpers


def _lat(r: EngineResult, key: str) -> float | None:
    return as_float((r.latency_ms or {}).get(key))


def _machine(record: RunRecord) -> str:
    sysinfo = record.system or {}
    fields = sysinfo.get("fingerprint_fields") or {}
    for key in ("cpu_model", "cpu", "cpu_brand"):
        value = sysinfo.get(key) or fields.get(key)
        if value:
            return str(value)
    cpu = sysinfo.get("cpu")
    if isinstance(cpu, Mapping):
        for key in ("model", "brand", "name"):
            if cpu.get(key):
                return str(cpu[key])
    return str(sysinfo.get("hostname") or sysinfo.get("fingerprint") or "unknown machine")


# ----------------------------------------------------------------------------------------------------- JSON


class JsonExporter:
    name = "json"
    suffix = ".json"

    def render(self, records: list[RunRecord]) -> str:
        if len(records) == 1:
            doc: Any = records[0].to_dict()
        else:
            doc = {"schema": SCHEMA_VERSION, "runs": [r.to_dict() for r in records]}
        return json.dumps(json_safe(doc), indent=2, allow_nan=False, default=_json_default) + "\n"


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# ------------------------------------------------------------------------------------------------------ CSV

#: the CSV's columns (the ``csv`` view of :mod:`workbench.report.columns`)
CSV_COLUMNS: tuple[str, ...] = VIEWS["csv"]


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return value


class CsvExporter:
    name = "csv"
    suffix = ".csv"

    def rows(self, records: list[RunRecord]) -> list[dict[str, Any]]:
        return [raw_row("csv", r, rec) for rec in records for r in rec.results]

    def render(self, records: list[RunRecord]) -> str:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in self.rows(records):
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        return buf.getvalue()


# ------------------------------------------------------------------------------------------------- Markdown

#: the Markdown results table's headings (the ``markdown`` view of :mod:`workbench.report.columns`)
MARKDOWN_HEADER = headers("markdown")


def _markdown_vs_fp32(rec: RunRecord) -> list[str]:
    """Below fp32: each engine against its own fp32 measured in the same run, with the drift of its outputs."""
    below = [r for r in rec.results if r.fp32_baseline]
    if not below:
        return []
    lines = [
        "",
        "| engine | ran | fp32 p50 ms | p50 ms | vs own fp32 | drift rel L2 | drift |",
        "|---|---|---:|---:|---:|---:|:---:|",
    ]
    for r in below:
        base_p50 = ((r.fp32_baseline or {}).get("latency_ms") or {}).get("p50")
        vs = ratio(r.speedup_vs_fp32) if r.speedup_vs_fp32 is not None else MISSING
        drift = r.drift or {}
        cells = [
            r.engine,
            r.precision_effective or MISSING,
            ms(base_p50),
            ms(_lat(r, "p50")),
            vs,
            significant(drift.get("rel_l2")),
            drift.get("status") or MISSING,
        ]
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


def _md(text: Any) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


class MarkdownExporter:
    name = "markdown"
    suffix = ".md"

    def render(self, records: list[RunRecord]) -> str:
        parts = [self.render_one(rec) for rec in records]
        return "\n".join(parts) if parts else "_no runs_\n"

    def render_one(self, rec: RunRecord) -> str:
        cfg = rec.config or {}
        first = rec.results[0] if rec.results else None
        model = (rec.model or {}).get("name") or (first.model if first else "?")
        batch = cfg.get("batch", first.batch if first else None)
        threads = cfg.get("threads", first.threads if first else None)
        cores = cfg.get("cores", first.cores if first else None)
        lines = [f"### Run `{rec.run_id}` — {_md(model)} ({_md(rec.created)})", ""]
        info = [
            f"model **{_md(model)}**",
            f"batch {batch if batch is not None else MISSING}",
            f"threads {threads if threads is not None else 'auto'}",
            f"cores {format_cores(cores) if isinstance(cores, (list, tuple)) else (cores or 'all')}",
            f"machine {_md(_machine(rec))}",
        ]
        if rec.tags:
            info.append("tags " + ", ".join(_md(t) for t in rec.tags))
        lines.append(" · ".join(info))
        lines.append("")
        view = results_view(rec, "markdown")  # --mode generate: TTFT, per-token latency, tokens/s, token parity
        keys = view_keys(view, rec.results, rec)  # energy and cost only when a result measured them
        header = headers(view, keys)
        lines.append("| " + " | ".join(header) + " |")
        align = [
            ":---:" if k == "parity" else ("---:" if column(k).numeric and i else "---") for i, k in enumerate(keys)
        ]
        lines.append("|" + "|".join(align) + "|")
        for r in rec.results:
            if not r.ok:
                lines.append(
                    f"| {_md(r.engine)} | {MISSING} | failed: {_md(r.error or 'unknown error')} |"
                    + " |" * (len(header) - 3)
                )
                continue
            cells = texts(view, r, rec, keys)
            lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
        lines += _markdown_vs_fp32(rec)
        from workbench.report.loadgen import markdown_loadgen

        lines += markdown_loadgen(rec, _md)
        warnings = list(rec.warnings or [])
        for r in rec.results:
            warnings.extend(
                {**w, "message": f"{r.engine}: {w.get('message', '')}"} if isinstance(w, Mapping) else w
                for w in r.warnings or []
            )
        if warnings:
            lines.append("")
            lines.append("Warnings:")
            for w in warnings:
                if isinstance(w, Mapping):
                    code = w.get("code")
                    lines.append(f"- {'`' + _md(code) + '` ' if code else ''}{_md(w.get('message', ''))}")
                else:
                    lines.append(f"- {_md(w)}")
        lines.append("")
        return "\n".join(lines)


# -------------------------------------------------------------------------------------------------- registry

EXPORTERS: dict[str, type] = {"json": JsonExporter, "csv": CsvExporter, "markdown": MarkdownExporter}
_ALIASES = {"md": "markdown"}


def get_exporter(fmt: str) -> Exporter:
    """The exporter for ``fmt`` (json, csv, markdown/md); :class:`UsageError` naming the choices otherwise."""
    key = (fmt or "").strip().lower()
    key = _ALIASES.get(key, key)
    cls = EXPORTERS.get(key)
    if cls is None:
        guess = closest(key, list(EXPORTERS))
        raise UsageError(
            f"unknown export format {fmt!r}; choose one of {', '.join(EXPORTERS)}",
            hint=f"did you mean {guess!r}?" if guess else None,
        )
    return cls()


def render(fmt: str, records: list[RunRecord]) -> str:
    return get_exporter(fmt).render(list(records))


def write(path: "str | os.PathLike[str]", fmt: str, records: list[RunRecord]) -> Path:
    """Render ``records`` as ``fmt`` and write them to ``path`` atomically; returns the path."""
    return write_text(path, render(fmt, records))


def write_text(path: "str | os.PathLike[str]", text: str, *, flag: str = "--output") -> Path:
    """Write a rendered report to ``path`` atomically (mode 0644); returns the path. A directory or a missing parent
    folder is a :class:`UsageError` naming ``flag`` (the option the path came from)."""
    from workbench.store.history import HistoryError, atomic_write_bytes

    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(f"{target} is a directory", hint=f"give a file name for {flag}")
    if not target.parent.exists():
        raise UsageError(f"cannot write {target}: the directory {target.parent} does not exist")
    try:
        atomic_write_bytes(target, text.encode("utf-8"), mode=0o644)
    except HistoryError as exc:
        raise UsageError(exc.message) from None
    return target


# ---------------------------------------------------------------------------------------------------- reading


def records_from_json(doc: Any, source: str = "input") -> list[RunRecord]:
    """Records from a parsed JSON document: one run, ``{"runs": [...]}`` or a list of runs (migrated to the
    current schema). Raises :class:`UsageError` with one line when the document is not a result file."""
    from workbench.store.history import migrate_record

    if isinstance(doc, Mapping) and "runs" in doc and "results" not in doc:
        runs = doc["runs"]
        if not isinstance(runs, list):
            raise UsageError(f"{source}: 'runs' is not a list; not a workbench export")
    elif isinstance(doc, Mapping):
        runs = [doc]
    elif isinstance(doc, list):
        runs = doc
    else:
        raise UsageError(f"{source} is not a workbench result file (expected a JSON object)")
    out = []
    for i, run in enumerate(runs):
        where = source if len(runs) == 1 else f"{source}: run {i + 1}"
        if not isinstance(run, Mapping):
            raise UsageError(f"{where} is not a JSON object; not a workbench result")
        missing = [
            k
            for k, alts in (("run_id", ("run_id", "id")), ("results", ("results",)))
            if not any(a in run for a in alts)
        ]
        if missing:
            raise UsageError(f"{where} is not a workbench result: missing {', '.join(missing)}")
        try:
            d = migrate_record(run)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc.message}") from None
        missing = [k for k in ("run_id", "created", "results") if k not in d]
        if missing:
            raise UsageError(f"{where} is not a workbench result: missing {', '.join(missing)}")
        if not isinstance(d["results"], list) or not all(
            isinstance(r, Mapping) and isinstance(r.get("engine"), str) for r in d["results"]
        ):
            raise UsageError(f"{where}: 'results' must be a list of engine results with an 'engine' name")
        d = dict(d)
        for key in ("model", "config", "system", "versions"):
            if not isinstance(d.get(key), Mapping):
                d[key] = {} if d.get(key) is None else ({"name": d[key]} if key == "model" else {})
        d["run_id"] = str(d["run_id"])
        try:
            out.append(RunRecord.from_dict(d))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{where} is not a valid workbench result ({exc})") from None
    return out


def load_records(path: "str | os.PathLike[str]") -> list[RunRecord]:
    """Read runs from a result file (``workbench run --json`` output or an export with ``"runs"``).

    Raises :class:`UsageError` with one line for a missing, unreadable, non-JSON or non-result file.
    """
    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"no such file: {p}") from None
    except IsADirectoryError:
        raise UsageError(f"{p} is a directory, not a result file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {p}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise UsageError(f"{p} is empty; not a workbench result file")
    try:
        doc = json.loads(raw)
    except UnicodeDecodeError:
        raise UsageError(f"{p} is not a text file; not a workbench result") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{p} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except ValueError as exc:
        raise UsageError(f"{p} is not valid JSON ({exc})") from None
    return records_from_json(doc, str(p))
