"""``workbench report RUN``: a run or a sweep, in the terminal or as files.

RUN is what ``workbench compare`` takes (:func:`workbench.cli.history.resolve_operand`): a history run id, a
unique prefix, ``latest``/``latest~N``, or a result file written by ``workbench run --json``. A sweep (a record with
``kind == "sweep"``, issue #11) resolves the same way.

Without a file flag the report is printed: :func:`workbench.report.text.render_results` for a run,
:func:`workbench.report.sweep.render_sweep` for a sweep (``--no-charts`` leaves the plotext charts out).
``--html FILE`` writes the self-contained HTML page (:func:`workbench.report.html.render_html`, which renders a
sweep with ``render_sweep_html``); ``--csv``/``--markdown``/``--json FILE`` write the sweep exports of
:mod:`workbench.report.sweep` (for a run, the ordinary exporters of :mod:`workbench.report.export`). Every file is
written atomically (:func:`workbench.report.export.write_text`), so an interrupted report never leaves half a file
where a previous one was. :func:`load_subject` is the one place RUN is turned into what gets rendered, and
``_RENDERERS`` maps the output format to a renderer.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable

from workbench.cli.args import RAW, add_command, add_files, add_switches
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


def _is_sweep(record: RunRecord) -> bool:
    return getattr(record, "kind", "run") == "sweep"


def _render_html(record: RunRecord) -> str:
    from workbench.report.html import render_html

    return render_html(record)  # dispatches a sweep to render_sweep_html


def _render_csv(record: RunRecord) -> str:
    if _is_sweep(record):
        from workbench.report.sweep import sweep_csv

        return sweep_csv(record)
    from workbench.report.export import render

    return render("csv", [record])


def _render_markdown(record: RunRecord) -> str:
    if _is_sweep(record):
        from workbench.report.sweep import sweep_markdown

        return sweep_markdown(record)
    from workbench.report.export import render

    return render("markdown", [record])


def _render_json(record: RunRecord) -> str:
    if _is_sweep(record):
        import json

        from workbench.report.sweep import sweep_json

        return json.dumps(sweep_json(record), indent=2, allow_nan=False, default=str) + "\n"
    from workbench.report.export import render

    return render("json", [record])


_RENDERERS: dict[str, Callable[[RunRecord], str]] = {
    "html": _render_html,
    "csv": _render_csv,
    "markdown": _render_markdown,
    "json": _render_json,
}


def render_text(record: RunRecord, charts: bool = True) -> str:
    """The terminal report: the sweep rendering for a sweep, the results table for a run."""
    if _is_sweep(record):
        from workbench.report.sweep import render_sweep

        return render_sweep(record, charts=charts)
    from workbench.report.text import render_results

    return render_results(record)


def write_report(path: str, text: str, flag: str = "--html") -> Path:
    """Write ``text`` to ``path`` atomically (:func:`workbench.report.export.write_text`); ``flag`` names the
    option in a one-line error (a directory, a missing folder)."""
    from workbench.report.export import write_text

    return write_text(path, text, flag=flag)


def cmd_report(args: argparse.Namespace) -> int:
    record = load_subject(args.run)  # resolve before rendering: a bad RUN writes nothing
    wanted: list[tuple[str, str]] = [
        (fmt, str(getattr(args, fmt))) for fmt in ("html", "csv", "markdown", "json") if getattr(args, fmt, None)
    ]
    paths = [os.path.abspath(os.path.expanduser(p)) for _, p in wanted]
    if len(set(paths)) != len(paths):
        raise UsageError(
            "two report files have the same name", hint="give each of --html/--csv/--markdown/--json its own FILE"
        )
    if not wanted:
        print(render_text(record, charts=not args.no_charts))
        return 0
    texts = [(fmt, path, _RENDERERS[fmt](record)) for fmt, path in wanted]  # render all before writing any
    what = "sweep" if _is_sweep(record) else "run"
    for fmt, path, text in texts:
        written = write_report(path, text, flag=f"--{fmt}")
        print(f"wrote the {fmt} report of {what} {record.run_id} to {written}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "report",
        cmd_report,
        help="a run or sweep in the terminal, or as one self-contained HTML file, CSV, Markdown or JSON",
        description="Show a run or a sweep. Without a file option it is printed: a run's results table, or a "
        "sweep's cells, thread and batch scaling (speedup and parallel efficiency), precision gain, memory search, "
        "sparsity study and Pareto front with terminal charts. --html FILE writes one self-contained HTML file "
        "(the machine, the configuration, the tables and inline SVG charts; no network, no script; it prints and "
        "follows the reader's light/dark setting). --csv/--markdown/--json FILE write the tables (for a sweep, one "
        "CSV row per cell; the JSON is the record plus its analysis). Exit 0 when shown or written, 2 for a bad RUN "
        "or FILE.",
        epilog="examples:\n  workbench report latest\n  workbench report latest --html run.html\n"
        "  workbench report SWEEP_ID --html sweep.html --csv sweep.csv\n"
        "  workbench report result.json --markdown run.md",
        formatter_class=RAW,
    )
    p.add_argument(
        "run", metavar="RUN", help="a run or sweep id or unique prefix, latest, latest~N, or a result JSON file"
    )
    add_files(
        p,
        ("--html", "write the self-contained HTML report to FILE (atomically)"),
        ("--csv", "write CSV to FILE (a sweep: one row per cell)"),
    )
    p.add_argument("--markdown", "--md", metavar="FILE", dest="markdown", help="write the tables as Markdown to FILE")
    add_files(p, ("--json", 'write JSON to FILE (a sweep: the record plus "analysis")'))
    add_switches(p, ("--no-charts", "print without the terminal charts"))
