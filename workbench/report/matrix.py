"""The compatibility matrix (:mod:`workbench.campaign.matrix`) as a text table and as Markdown.

Rows are model × precision (× device when there are several), columns the engines. A cell reads ``✓ works`` (with
``(ran X)`` when the engine ran another precision than asked, and its load / first-inference times), ``– unsupported
[n]`` or ``✗ failed [n]``; ``[n]`` numbers the one-line reasons listed below the table (a reason shared by several
cells has one number). Cells served from the cache carry ``†`` and the summary says when they were measured.
Numbers come from :mod:`workbench.units`. Both renderings take :meth:`Matrix.to_dict`'s dict.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from workbench.report.text import table
from workbench.units import MISSING, duration

CACHED_MARK = "†"
MARKS = {"works": "✓", "unsupported": "–", "failed": "✗"}


def _when(iso: str | None) -> str:
    """``2025-05-01 10:02 UTC`` from an ISO timestamp (``now_iso``), or — when there is none."""
    if not iso:
        return MISSING
    text = str(iso).replace("T", " ")
    day, _, rest = text.partition(" ")
    clock = rest[:5]
    zone = " UTC" if rest.endswith("+00:00") else ""
    return f"{day} {clock}{zone}".strip()


def _grid(report: Mapping[str, Any]) -> tuple[list[str], list[list[str]], list[str], str]:
    """``(headers, rows, reasons, summary)`` shared by the text and Markdown renderings."""
    engines: list[str] = list(report.get("engines") or [])
    devices: list[str] = list(report.get("devices") or [])
    several = len(devices) > 1
    cells: Sequence[Mapping[str, Any]] = report.get("cells") or []
    by_row: dict[tuple[str, str, str], dict[str, Mapping[str, Any]]] = {}
    for c in cells:
        by_row.setdefault((c["model"], c["precision"], c["device"]), {})[c["engine"]] = c
    reasons: list[str] = []
    rows: list[list[str]] = []
    for (model, precision, device), row in by_row.items():
        line = [model, precision] + ([device] if several else [])
        for engine in engines:
            found = row.get(engine)
            line.append(_cell_text(found, reasons) if found is not None else "")
        rows.append(line)
    headers = ["model", "precision"] + (["device"] if several else []) + engines
    return headers, rows, reasons, _summary(cells)


def _cell_text(c: Mapping[str, Any], reasons: list[str]) -> str:
    status = str(c.get("status") or "failed")
    text = f"{MARKS.get(status, '?')} {status}"
    if status == "works":
        eff = c.get("precision_effective")
        if eff and eff != c.get("precision"):
            text += f" (ran {eff})"
        text += f" · {duration(c.get('load_ms'))} / {duration(c.get('first_inference_ms'))}"
    else:
        reason = str(c.get("reason") or "no reason given")
        if reason not in reasons:
            reasons.append(reason)
        text += f" [{reasons.index(reason) + 1}]"
    if c.get("cached"):
        text += f" {CACHED_MARK}"
    return text


def _summary(cells: Sequence[Mapping[str, Any]]) -> str:
    counts = {s: sum(1 for c in cells if c.get("status") == s) for s in MARKS}
    text = f"{len(cells)} cells: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    cached = [c for c in cells if c.get("cached")]
    if cached:
        times = sorted(str(c.get("measured_at")) for c in cached if c.get("measured_at"))
        when = ""
        if times:
            first, last = _when(times[0]), _when(times[-1])
            when = f", measured {first}" if first == last else f", measured {first} – {last}"
        text += f"; {len(cached)} from the cache ({CACHED_MARK}{when}; --refresh attempts them again)"
    return text


def render_matrix(report: Mapping[str, Any]) -> str:
    """The matrix as an aligned text table, the numbered reasons and a summary line."""
    headers, rows, reasons, summary = _grid(report)
    head = (
        f"compatibility matrix · device {', '.join(report.get('devices') or [])} · machine {report.get('machine')}"
        f" · workbench {report.get('workbench_version')}"
    )
    lines = [head, table(headers, rows, align="l" * len(headers))]
    lines.append("works: load time / first inference (in the engine's benchmark process)")
    lines += [f"[{i}] {r}" for i, r in enumerate(reasons, 1)]
    lines.append(summary)
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Mapping[str, Any]) -> str:
    """The same matrix as a Markdown table, with the reasons as a numbered list."""
    headers, rows, reasons, summary = _grid(report)
    lines = [
        f"## Compatibility matrix (device {', '.join(report.get('devices') or [])}, machine "
        f"`{report.get('machine')}`, workbench {report.get('workbench_version')})",
        "",
        "| " + " | ".join(_md(h) for h in headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    lines += ["", "works: load time / first inference (in the engine's benchmark process)", ""]
    lines += [f"{i}. {_md(r)}" for i, r in enumerate(reasons, 1)]
    lines += ["", _md(summary), ""]
    return "\n".join(lines)
