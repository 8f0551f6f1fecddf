"""``workbench report RUN --html FILE``: one self-contained HTML report of a run.

RUN is what ``workbench compare`` takes (:func:`workbench.cli.history.resolve_operand`): a history run id, a
unique prefix, ``latest``/``latest~N``, or a result file written by ``workbench run --json``. The page is rendered
by :func:`workbench.report.html.render_html` and written atomically (temporary file + ``os.replace``), so an
interrupted report never leaves half a file where a previous one was.

Sweeps (issue #11) will resolve here too: :func:`load_subject` is the one place RUN is turned into what gets
rendered, and ``_RENDERERS`` maps the output format to a renderer.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable

from workbench.errors import UsageError
from workbench.result import RunRecord

__all__ = ["register", "cmd_report", "load_subject", "write_report"]


def load_subject(spec: str) -> RunRecord:
    """The run ``spec`` names (history id/prefix/``latest~N`` or a result file); :class:`UsageError` otherwise."""
    from workbench.cli.history import resolve_operand

    store = None
    if not os.path.isfile(os.path.expanduser(spec)):
        from workbench.store.history import HistoryStore

        store = HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    return resolve_operand(spec, store)


def _render_html(record: RunRecord) -> str:
    from workbench.report.html import render_html

    return render_html(record)


_RENDERERS: dict[str, Callable[[RunRecord], str]] = {"html": _render_html}


def write_report(path: str, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`workbench.report.export.write_text`)."""
    from workbench.report.export import write_text

    return write_text(path, text, flag="--html")


def cmd_report(args: argparse.Namespace) -> int:
    if not args.html:
        raise UsageError("say which report to write", hint="e.g. `workbench report latest --html run.html`")
    record = load_subject(args.run)  # resolve before rendering: a bad RUN writes nothing
    path = write_report(args.html, _RENDERERS["html"](record))
    print(f"wrote the report of run {record.run_id} to {path}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML report of a run (machine, configuration, results, charts)",
        description="Write one self-contained HTML file about a run: the machine, the configuration, the results "
        "table, a latency histogram per engine and a p50/p99 chart (inline SVG), the warnings and notes. It needs "
        "no network and no other file, prints, and follows the reader's light/dark setting. Exit 0 when written, "
        "2 for a bad RUN or FILE.",
        epilog="examples:\n  workbench report latest --html run.html\n  workbench report result.json --html run.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN", help="a run id or unique prefix, latest, latest~N, or a result JSON file")
    p.add_argument("--html", metavar="FILE", required=True, help="write the HTML report to FILE (atomically)")
    p.set_defaults(func=cmd_report)
