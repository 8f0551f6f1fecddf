"""``workbench history …`` and ``workbench compare …``: the headless commands over the results history.

The main CLI calls :func:`register` with its subparsers; every parser sets ``func=handler`` where
``handler(args) -> int`` is the exit code. User errors are raised as :class:`~workbench.errors.WorkbenchError`
(the main CLI prints ``error: <line>``). With ``--json`` only machine-readable JSON goes to stdout; notices (a
corrupt history moved aside, …) always go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from workbench.cli.args import RAW, add_args, add_command, add_switches
from workbench.errors import UsageError
from workbench.report.text import table
from workbench.result import RunRecord
from workbench.units import MISSING, json_safe, ms, rate, significant

__all__ = [
    "register",
    "cmd_list",
    "cmd_show",
    "cmd_delete",
    "cmd_tag",
    "cmd_export",
    "cmd_import",
    "cmd_trend",
    "cmd_compare",
    "resolve_operand",
]

TREND_METRICS = ("p50", "p90", "p99", "mean", "throughput", "j_per_item", "usd_per_million")
#: trend metrics that are not latencies in ms: their heading (shown as a table, never on the latency chart)
_TREND_UNITS = {"throughput": "throughput", "j_per_item": "J/item", "usd_per_million": "$/M items"}


def _store() -> Any:
    from workbench.store.history import HistoryStore

    return HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr))


def _print_json(doc: Any) -> None:
    sys.stdout.write(json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n")


def _local(created: str) -> str:
    """ISO timestamp → local 'YYYY-mm-dd HH:MM' (as stored when it cannot be parsed)."""
    from workbench.store.history import parse_when

    try:
        return parse_when(created).astimezone().strftime("%Y-%m-%d %H:%M")
    except (ValueError, TypeError):
        return str(created)


def _sweep_cell(rec: RunRecord) -> str:
    """A sweep's list entry: its state, cells done/total, engines, and its fastest cell."""
    from workbench.campaign.sweep import effective_state

    info = rec.sweep or {}
    engines = ",".join(dict.fromkeys(r.engine for r in rec.results)) or ",".join(
        (info.get("spec") or {}).get("engines") or []
    )
    ok = [r for r in rec.results if r.ok and (r.latency_ms or {}).get("p50") is not None]
    best = min(ok, key=lambda r: float((r.latency_ms or {}).get("p50") or 0.0), default=None)
    fastest = ""
    if best is not None:
        from workbench.campaign.cells import CellSpec

        where = CellSpec.from_dict(best.cell).label() if best.cell else best.engine
        fastest = f"; best p50 {ms((best.latency_ms or {})['p50'])}ms {where}"
    total = info.get("cells_total") or len(rec.results)
    fleet = info.get("fleet") or {}  # issue #13: a sweep collected from a cluster says where it ran
    where_run = f" · on {','.join(fleet.get('nodes') or []) or '?'} [{fleet.get('fingerprint')}]" if fleet else ""
    return f"sweep {len(rec.results)}/{total} cells, {effective_state(rec)}: {engines}{fastest}{where_run}"


def _engines_cell(rec: RunRecord) -> str:
    if rec.kind == "sweep":
        return _sweep_cell(rec)
    parts = []
    for r in rec.results:
        if not r.ok:
            parts.append(f"{r.engine} failed")
        else:
            p50 = (r.latency_ms or {}).get("p50")
            ran = r.precision_effective or r.precision_requested
            name = r.engine if ran in (None, "fp32") else f"{r.engine} {ran}"  # say it when it is not fp32
            parts.append(f"{name} {ms(p50)}ms" if p50 is not None else name)
    return ", ".join(parts)


def _cfg(rec: RunRecord, key: str) -> str:
    if rec.kind == "sweep":  # the axis: 1,2,4
        axis = ((rec.sweep or {}).get("spec") or {}).get({"batch": "batches"}.get(key, key))
        if axis:
            return ",".join("auto" if v is None else str(v) for v in axis)
    value = (rec.config or {}).get(key)
    if value is None and rec.results:
        value = getattr(rec.results[0], key, None)
    if value is None:
        return "auto" if key == "threads" else MISSING
    return str(value)


# ------------------------------------------------------------------------------------------------------ history


def cmd_list(args: argparse.Namespace) -> int:
    store = _store()
    records = store.list(
        model=getattr(args, "model", None),
        engine=getattr(args, "engine", None),
        tag=getattr(args, "tag", None),
        since=getattr(args, "since", None),
        limit=getattr(args, "limit", 20),
    )
    if getattr(args, "json", False):
        from workbench.result import SCHEMA_VERSION

        _print_json({"schema": SCHEMA_VERSION, "runs": [r.to_dict() for r in records]})
        return 0
    if not records:
        total = store.count()
        print(
            "no runs in the history yet — `workbench run` stores one"
            if not total
            else f"no runs match (the history holds {total})"
        )
        return 0
    rows = [
        [
            r.run_id,
            _local(r.created),
            str((r.model or {}).get("name") or "?") + _load_label(r),
            _engines_cell(r),
            _cfg(r, "batch"),
            _cfg(r, "threads"),
            ",".join(r.tags),
        ]
        for r in records
    ]
    print(table(["id", "created", "model", "engines (p50)", "batch", "threads", "tags"], rows, align="llllrrl"))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from workbench.report.export import JsonExporter, MarkdownExporter

    rec = _store().get(args.id)
    if getattr(args, "json", False):
        sys.stdout.write(JsonExporter().render([rec]))
        return 0
    if rec.kind == "sweep":  # one result per cell: the sweep's own tables (its config is per cell)
        from workbench.report.sweep import render_sweep

        out = [render_sweep(rec, charts=False).rstrip("\n"), ""]
        cfg: dict[str, Any] = {}
    else:
        out = [MarkdownExporter().render_one(rec).rstrip("\n"), ""]
        cfg = rec.config or {}
    if cfg:
        out.append("config: " + ", ".join(f"{k}={v}" for k, v in cfg.items() if not isinstance(v, (dict, list))))
    if rec.versions:
        out.append("versions: " + ", ".join(f"{k} {v}" for k, v in rec.versions.items() if v))
    fp = (rec.system or {}).get("fingerprint")
    if fp:
        out.append(f"machine fingerprint: {fp}")
    if rec.note:
        out.append(f"note: {rec.note}")
    for r in rec.results:
        if r.samples_file:
            out.append(f"raw samples ({r.engine}): {r.samples_file}")
    print("\n".join(out))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store()
    ids = list(dict.fromkeys(store.get(i).run_id for i in args.ids))  # resolve all first: no partial delete
    n = store.delete(ids)
    if getattr(args, "json", False):
        _print_json({"deleted": n, "run_ids": ids})
    else:
        print(f"deleted {n} run{'s' if n != 1 else ''}: {', '.join(ids)}")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    """Add tags to a stored run (``--remove``: take them off); the run is stored again with :meth:`HistoryStore.put`."""
    from dataclasses import replace

    from workbench.result import retagged

    store = _store()
    rec = store.get(args.id)
    tags = list(dict.fromkeys(args.tags))
    try:
        new = retagged(rec.tags, remove=tags) if args.remove else retagged(rec.tags, add=tags)
    except ValueError as exc:
        raise UsageError(str(exc), hint="give each tag as its own argument: history tag ID ci nightly") from None
    if new != list(rec.tags):
        store.put(replace(rec, tags=new))
    if getattr(args, "json", False):
        _print_json({"run_id": rec.run_id, "tags": new})
    else:
        print(f"run {rec.run_id} tags: {', '.join(new) if new else '(none)'}")
    return 0


def _filtered(args: argparse.Namespace, store: Any) -> list[RunRecord]:
    ids = getattr(args, "ids", None) or []
    if ids:
        return [store.get(i) for i in dict.fromkeys(ids)]
    return store.list(model=args.model, engine=args.engine, tag=args.tag, since=args.since, limit=args.limit)


def cmd_export(args: argparse.Namespace) -> int:
    from workbench.report.export import get_exporter, write

    exporter = get_exporter(args.format)  # validate before reading the history
    records = _filtered(args, _store())
    if args.output:
        path = write(args.output, exporter.name, records)
        print(f"exported {len(records)} run{'s' if len(records) != 1 else ''} to {path}", file=sys.stderr)
    else:
        sys.stdout.write(exporter.render(records))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from workbench.report.export import load_records

    records: list[RunRecord] = []
    for path in args.files:  # read and check every file before storing anything
        records.extend(load_records(path))
    added, skipped = _store().import_records(records)
    if getattr(args, "json", False):
        _print_json({"added": added, "skipped_duplicates": skipped})
    else:
        print(
            f"imported {added} run{'s' if added != 1 else ''}, skipped {skipped} duplicate{'s' if skipped != 1 else ''}"
        )
    return 0


def _parse_metrics(text: str) -> list[str]:
    metrics = [m.strip().lower() for m in (text or "").split(",") if m.strip()]
    bad = [m for m in metrics if m not in TREND_METRICS]
    if bad or not metrics:
        raise UsageError(
            f"unknown metric {bad[0] if bad else text!r}; choose from {', '.join(TREND_METRICS)} (comma-separated)"
        )
    return list(dict.fromkeys(metrics))


def _load_label(r: RunRecord) -> str:
    """`` [server 40 QPS]`` for a LoadGen scenario run, `` [max QPS ≤100 ms]`` for a search; empty otherwise."""
    c = r.config or {}
    search = c.get("find_max_qps")
    if isinstance(search, dict):
        return f" [max QPS p{search.get('percentile', 99):g} ≤{search.get('latency_bound_ms', 0):g} ms]"
    if not c.get("scenario"):
        return ""
    qps = f" {c['target_qps']:g} QPS" if isinstance(c.get("target_qps"), (int, float)) else ""
    return f" [{c['scenario']}{qps}]"


def trend_points(
    records: list[RunRecord], engine: str, device: str | None = None, precision: str | None = None
) -> list[dict[str, Any]]:
    """One point per run (oldest first) for ``engine``: created, run_id, p50/p90/p99/mean in ms, throughput."""
    points = []
    for rec in sorted(records, key=lambda r: r.created):
        for r in rec.results:
            if r.engine.lower() != engine.lower() or not r.ok:
                continue
            if r.scenario:  # latencies under a LoadGen load are not points of the back-to-back trend
                continue
            if device and r.device != device:
                continue
            if precision and (r.precision_effective or r.precision_requested) != precision:
                continue
            lat = r.latency_ms or {}
            points.append(
                {
                    "run_id": rec.run_id,
                    "created": rec.created,
                    "batch": r.batch,
                    "threads": r.threads,
                    "precision": r.precision_effective or r.precision_requested,
                    **{m: lat.get(m) for m in ("p50", "p90", "p99", "mean")},
                    "throughput": r.throughput,
                    "j_per_item": (r.energy or {}).get("j_per_item")
                    if (r.energy or {}).get("status") == "measured"
                    else None,
                    "usd_per_million": (r.cost or {}).get("usd_per_million"),
                }
            )
            break
    return points


def _trend_chart(points: list[dict[str, Any]], metrics: list[str], title: str) -> str:
    import plotext as plt

    plt.clf()
    cols, rows = shutil.get_terminal_size((100, 30))
    plt.plotsize(max(40, min(cols, 160)), max(12, min(rows - 4, 30)))
    plt.title(title)
    x = list(range(1, len(points) + 1))
    lat = [m for m in metrics if m != "throughput"]
    for m in lat:
        xs = [i for i, p in zip(x, points) if p.get(m) is not None]
        ys = [float(p[m]) for p in points if p.get(m) is not None]
        if xs:
            plt.plot(xs, ys, label=f"{m} (ms)", marker="braille")
    if lat:
        plt.ylabel("latency ms")
    if "throughput" in metrics:
        xs = [i for i, p in zip(x, points) if p.get("throughput") is not None]
        ys = [float(p["throughput"]) for p in points if p.get("throughput") is not None]
        if xs:
            side = "right" if lat else None
            plt.plot(xs, ys, label="throughput (/s)", marker="braille", yside=side)
            plt.ylabel("items/s", yside=side)
    step = max(1, len(points) // 8)
    ticks = x[::step]
    plt.xticks(ticks, [_local(points[i - 1]["created"])[5:10] for i in ticks])
    plt.xlabel("run (date)")
    return plt.build()


def cmd_trend(args: argparse.Namespace) -> int:
    metrics = _parse_metrics(args.metric)
    records = _store().list(model=args.model, engine=args.engine, since=args.since, limit=None)
    points = trend_points(records, args.engine, args.device, args.precision)
    if args.last:
        points = points[-args.last :]
    if getattr(args, "json", False):
        _print_json({"model": args.model, "engine": args.engine, "metrics": metrics, "points": points})
        return 0
    if not points:
        raise UsageError(
            f"no successful {args.engine} runs of model {args.model!r} in the history",
            hint="see `workbench history list --model ...`",
        )
    configs = {(p["batch"], p["threads"], p["precision"]) for p in points}
    title = f"{args.model} · {args.engine} · {len(points)} run{'s' if len(points) != 1 else ''}"
    value = any(m in ("j_per_item", "usd_per_million") for m in metrics)
    if args.plain or value or not sys.stdout.isatty() or len(points) < 2:
        rows = [
            [
                p["run_id"],
                _local(p["created"]),
                *[
                    rate(p[m]) if m == "throughput" else significant(p[m]) if m in _TREND_UNITS else ms(p[m])
                    for m in metrics
                ],
            ]
            for p in points
        ]
        print(title)
        print(
            table(
                ["id", "created", *[_TREND_UNITS.get(m, f"{m} ms") for m in metrics]],
                rows,
                align="ll" + "r" * len(metrics),
            )
        )
    else:
        print(_trend_chart(points, metrics, title))
    if len(configs) > 1:
        print(
            "note: these runs differ in batch/threads/precision: "
            + "; ".join(f"batch {b}, threads {t or 'auto'}, {pr}" for b, t, pr in sorted(configs, key=str)),
            file=sys.stderr,
        )
    return 0


# ------------------------------------------------------------------------------------------------------ compare


def resolve_operand(spec: str, store: Any = None) -> RunRecord:
    """A run from a run id, unique prefix, ``latest``/``latest~N`` (from the history) or a path to a JSON result.

    A file holding several runs is an error (say which one with its run id instead). Raises :class:`UsageError`.
    """
    text = (spec or "").strip()
    if not text:
        raise UsageError("empty run reference", hint="give a run id, 'latest', 'latest~1' or a result file")
    path = Path(text).expanduser()
    looks_like_path = os.sep in text or text.endswith(".json") or text.startswith(".")
    if path.is_file() or (looks_like_path and not text.lower().startswith("latest")):
        from workbench.report.export import load_records

        records = load_records(path)
        if len(records) != 1:
            ids = ", ".join(r.run_id for r in records[:4])
            raise UsageError(
                f"{path} holds {len(records)} runs ({ids}{'…' if len(records) > 4 else ''}); compare needs exactly one",
                hint="import it with `workbench history import` and give a run id",
            )
        return records[0]
    if store is None:
        from workbench.store.history import HistoryStore

        store = HistoryStore()
    return store.get(text)


def cmd_compare(args: argparse.Namespace) -> int:
    from workbench.report.compare import gate_report, render_comparison
    from workbench.stats.compare import compare

    if getattr(args, "by", None) == "machine":
        return cmd_compare_machines(args)
    if (args.baseline or args.candidate) and (args.a or args.b):
        raise UsageError("give the runs either as A B or as --baseline/--candidate, not both")
    base_spec = args.baseline or args.a
    cand_spec = args.candidate or args.b
    if not base_spec or not cand_spec:
        raise UsageError(
            "compare needs two runs",
            hint="e.g. `workbench compare latest~1 latest` or "
            "`workbench compare --baseline base.json --candidate latest`",
        )
    store = None if all(_is_file(s) for s in (base_spec, cand_spec)) else _store()
    baseline = resolve_operand(base_spec, store)
    candidate = resolve_operand(cand_spec, store)
    for rec in (baseline, candidate):
        if rec.kind == "sweep":
            raise UsageError(
                f"{rec.run_id} is a sweep (one result per cell), not a run; compare two runs, or read the sweep "
                f"with `workbench report {rec.run_id}`",
                hint="`workbench compare --by machine -m MODEL` compares stored results across machines",
            )
    from workbench.store.history import run_to_run_entries

    spreads = run_to_run_entries(store, baseline, candidate)
    comparison = compare(baseline, candidate, metric=args.metric, spreads=spreads, force=args.force)
    if args.fail_above is not None:
        code, summary = gate_report(comparison, args.fail_above, args.metric)
        if args.json:
            doc = comparison.to_dict()
            doc["gate"] = {
                "exit_code": code,
                "metric": args.metric,
                "fail_above_pct": args.fail_above,
                "summary_markdown": summary,
            }
            _print_json(doc)
        else:
            sys.stdout.write(summary)
        return code
    if args.json:
        _print_json(comparison.to_dict())
    else:
        sys.stdout.write(render_comparison(comparison))
    return 0


def _is_file(spec: str) -> bool:
    return os.path.isfile(os.path.expanduser(spec))


# ----------------------------------------------------------------------------------------------------- register


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _percent(text: str) -> float:
    try:
        value = float(str(text).rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage such as 5, got {text!r}") from None
    if not (value >= 0) or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, got {text!r}")
    return value


def _add_filters(p: argparse.ArgumentParser, limit: int | None) -> None:
    add_args(
        p,
        ("--model", "only runs of this model (name, case-insensitive)", {}),
        ("--engine", "only runs with a result for this engine (torch, onnxruntime, openvino, …)", {}),
        ("--tag", "only runs carrying this tag", {}),
        ("--since", "only runs newer than this: a span (7d, 24h, 30m, 2w) or a date (2026-05-01)", {}),
    )
    p.add_argument(
        "--limit",
        type=_non_negative_int,
        default=limit,
        help=f"at most this many runs, newest first (0 = all; default {limit or 'all'})",
    )


_RUN_ID = "run id, unique prefix, 'latest' or 'latest~N'"


def register(subparsers: Any) -> None:
    """Add ``history`` (list/show/delete/tag/export/import/trend) and ``compare`` to the main CLI's subparsers."""
    hist = add_command(
        subparsers,
        "history",
        _history_default,
        help="list, show, export, import and plot stored runs",
        formatter_class=RAW,
        description="Every `workbench run` is stored in the local history (WORKBENCH_HISTORY overrides its path).",
        epilog="examples:\n"
        "  workbench history list --model resnet18 --since 7d\n"
        "  workbench history show latest\n"
        "  workbench history tag latest baseline\n"
        "  workbench history export --format csv --output runs.csv\n"
        "  workbench history trend --model resnet18 --engine openvino",
    )
    hsub = hist.add_subparsers(dest="history_command", metavar="COMMAND")
    _register_list_show_delete(hsub)
    _register_export_import(hsub)
    _register_trend(hsub)
    _register_compare(subparsers)


def _register_list_show_delete(hsub: Any) -> None:
    p = add_command(
        hsub,
        "list",
        cmd_list,
        help="list stored runs, newest first",
        formatter_class=RAW,
        description="List stored runs, newest first, with each engine's p50 latency.",
        epilog="examples:\n  workbench history list\n"
        "  workbench history list --engine openvino --since 24h --limit 100\n"
        "  workbench history list --json | jq '.runs[].run_id'",
    )
    _add_filters(p, 20)
    add_switches(p, ("--json", 'print {"schema": 1, "runs": [...]} instead of a table'))

    p = add_command(
        hsub,
        "show",
        cmd_show,
        help="show one run in full",
        formatter_class=RAW,
        description="Show one run: every engine's latencies, throughput, parity and warnings.",
        epilog="examples:\n  workbench history show 3fa2\n  workbench history show latest --json",
    )
    p.add_argument("id", metavar="ID", help=_RUN_ID)
    add_switches(p, ("--json", "print the run as JSON (as `workbench run --json` writes it)"))

    p = add_command(
        hsub,
        "delete",
        cmd_delete,
        help="delete runs (and their raw-sample files)",
        formatter_class=RAW,
        description="Delete runs by id or unique prefix. All ids are resolved before anything "
        "is deleted; there is no prompt.",
        epilog="examples:\n  workbench history delete 3fa2 91bc\n  workbench history delete latest",
    )
    p.add_argument("ids", nargs="+", metavar="ID", help=_RUN_ID)
    add_switches(
        p,
        ("-y --yes", "accepted for scripts; delete never prompts"),
        ("--json", 'print {"deleted": N, "run_ids": [...]}'),
    )

    p = add_command(
        hsub,
        "tag",
        cmd_tag,
        help="add tags to a stored run (or remove them)",
        formatter_class=RAW,
        description="Add tags to a stored run; with --remove, take them off. A tag is one word; "
        "`history list --tag TAG` finds the runs carrying it.",
        epilog="examples:\n  workbench history tag latest baseline\n  workbench history tag 3fa2 ci nightly\n"
        "  workbench history tag 3fa2 nightly --remove",
    )
    p.add_argument("id", metavar="ID", help=_RUN_ID)
    p.add_argument("tags", nargs="+", metavar="TAG", help="tags to add (with --remove: to remove)")
    add_switches(
        p,
        ("--remove", "remove the given tags instead of adding them"),
        ("--json", 'print {"run_id": ID, "tags": [...]}'),
    )


def _register_export_import(hsub: Any) -> None:
    p = add_command(
        hsub,
        "export",
        cmd_export,
        help="export runs as JSON, CSV or Markdown",
        formatter_class=RAW,
        description="Export runs (all, the filtered ones or the given ids). JSON re-imports with "
        "`workbench history import`; CSV has one row per engine result.",
        epilog="examples:\n  workbench history export --format markdown latest\n"
        "  workbench history export --format csv --since 30d --output runs.csv\n"
        "  workbench history export --model resnet18 --output resnet18.json",
    )
    add_args(
        p,
        ("ids", "export only these runs (default: all that match the filters)", {"nargs": "*", "metavar": "ID"}),
        ("--format -f", "json (default), csv or markdown", {"default": "json"}),
        ("--output -o", "write to FILE (atomically) instead of stdout", {"metavar": "FILE"}),
    )
    _add_filters(p, None)

    p = add_command(
        hsub,
        "import",
        cmd_import,
        help="import runs from result/export JSON files",
        formatter_class=RAW,
        description="Import runs from `workbench run --json` output or `history export` JSON. "
        "Runs already in the history (same run id) are skipped.",
        epilog="examples:\n  workbench history import result.json\n  workbench history import ci/*.json",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON result or export files")
    add_switches(p, ("--json", 'print {"added": N, "skipped_duplicates": M}'))


def _register_trend(hsub: Any) -> None:
    p = add_command(
        hsub,
        "trend",
        cmd_trend,
        help="plot a metric over time for one model and engine",
        formatter_class=RAW,
        description="Chart p50/p99/throughput of one model+engine across stored runs (a table when "
        "stdout is not a terminal, or with --plain).",
        epilog="examples:\n  workbench history trend --model resnet18 --engine openvino\n"
        "  workbench history trend --model bert-tiny --engine torch --metric p99 --plain",
    )
    add_args(
        p,
        ("--model", "model name", {"required": True}),
        ("--engine", "engine name", {"required": True}),
        (
            "--metric",
            f"comma-separated metrics from {', '.join(TREND_METRICS)} (default p50,p99,throughput)",
            {"default": "p50,p99,throughput"},
        ),
        ("--device", "only results on this device", {}),
        ("--precision", "only results with this effective precision (fp32, bf16, …)", {}),
        ("--since", "only runs newer than this (7d, 24h, 2026-05-01)", {}),
        ("--last", "only the last N runs (0 = all)", {"type": _non_negative_int, "default": 0}),
    )
    add_switches(p, ("--plain", "a table instead of a chart"), ("--json", "print the points as JSON"))


def _register_compare(subparsers: Any) -> None:
    p = add_command(
        subparsers,
        "compare",
        cmd_compare,
        help="compare two runs (significance test) or gate CI on a regression",
        formatter_class=RAW,
        description="Compare a baseline run with a candidate run, engine by engine. A change is called faster or "
        "slower only when it is beyond run-to-run variation: with one run each, against the spread this machine "
        "shows between identical runs (measured by `workbench doctor --aa`, else an assumed spread, and the "
        "report says which); with --repeats 3 or more on both sides, by Welch's test between the repeats. Both "
        "at alpha 0.01 AND a change of at least 1%; each verdict has its 99% interval. Runs of different models "
        "or input shapes are refused (--force shows them anyway); other differences are listed first. With "
        "--fail-above the command exits 1 when the candidate is slower beyond that variation by more than that "
        "percentage.",
        epilog="runs are given as a run id, a unique prefix, 'latest', 'latest~1' or a path to a result JSON.\n\n"
        "examples:\n  workbench compare latest~1 latest\n"
        "  workbench doctor --aa -m resnet18 -e onnxruntime   # measure this machine's run-to-run spread first\n"
        "  workbench compare 3fa2 91bc --metric p99 --json\n"
        "  workbench compare --baseline main.json --candidate pr.json --fail-above 5   # CI gate\n\n"
        "exit codes with --fail-above: 0 no regression, 1 regression, 2 nothing comparable / bad input",
    )
    add_args(
        p,
        ("a", "baseline run", {"nargs": "?", "metavar": "A"}),
        ("b", "candidate run", {"nargs": "?", "metavar": "B"}),
        ("--baseline", "baseline run (alternative to A)", {"metavar": "RUN"}),
        ("--candidate", "candidate run (alternative to B)", {"metavar": "RUN"}),
        (
            "--metric",
            "metric for the verdict and the gate (default p50)",
            {"default": "p50", "choices": ("p50", "p90", "p99", "throughput")},
        ),
        (
            "--fail-above",
            "exit 1 if the candidate is significantly slower by more than PCT percent",
            {"type": _percent, "metavar": "PCT"},
        ),
    )
    add_switches(
        p,
        ("--json", "print the comparison as JSON"),
        ("--force", "compare runs of different models or input shapes anyway (the numbers are not a speed change)"),
    )
    _add_machine_compare_args(p)


# ------------------------------------------------------------------------------- compare --by machine (issue #13)


def _add_machine_compare_args(p: argparse.ArgumentParser) -> None:
    """``compare --by machine -m M [--objective ...] [--html FILE]``: stored results of a model across machines."""
    g = p.add_argument_group("across machines (docs/fleet.md)")
    g.add_argument(
        "--by",
        choices=("machine",),
        help="compare the stored results of one model (-m) grouped by machine: the best configuration per machine",
    )
    g.add_argument("--model", "-m", help="with --by machine: the model whose stored results to compare")
    g.add_argument(
        "--objective",
        default="latency,throughput",
        help="with --by machine: latency (p50 per call), throughput (items/s), cost ($ per million items, priced "
        "results or the prices file), energy (J per item, where measured); comma-separated (default latency,throughput)",
    )
    g.add_argument("--html", metavar="FILE", help="with --by machine: also write the comparison as an HTML page")


def machine_comparison(model: str, objective: str = "latency,throughput") -> Any:
    """The stored results of ``model`` across machines (:func:`workbench.stats.machines.compare_machines`): what
    ``compare --by machine`` and ``recommend --across-machines`` show, and what a UI view can render."""
    from workbench.stats.machines import OBJECTIVES, compare_machines

    objectives = [o.strip() for o in (objective or "").split(",") if o.strip()]
    bad = [o for o in objectives if o not in OBJECTIVES]
    if bad or not objectives:
        raise UsageError(f"--objective must be among {', '.join(OBJECTIVES)} (comma-separated), not {objective!r}")
    records = _store().list(model=model, limit=None)
    from workbench.machine.spread import for_records

    records = list(records)
    if "cost" in objectives:
        _price_stored(records)
    return compare_machines(records, model, objectives, spreads=for_records(*records))


def _price_stored(records: list[Any]) -> None:
    """Results stored without a price get one from the prices file, by their machine (the price is the file's now;
    a result priced when it ran keeps its own)."""
    from workbench.cli.pricing import PriceSource
    from workbench.machine.prices import cost_entry

    prices = PriceSource(None)
    for rec in records:
        price = None
        for r in rec.results:
            if r.cost is None and r.ok:
                price = price or prices.for_system(rec.system, here=False)
                if price is None:
                    break
                r.cost = cost_entry(r, price)


def cmd_compare_machines(args: argparse.Namespace) -> int:
    from workbench.report.machines import render_machines, render_machines_html

    if args.a or args.b or args.baseline or args.candidate or args.fail_above is not None:
        raise UsageError("--by machine compares all stored results of a model: give -m MODEL, not runs or a gate")
    if not args.model:
        raise UsageError(
            "--by machine needs the model: -m MODEL", hint="e.g. `workbench compare --by machine -m resnet50`"
        )
    cmp = machine_comparison(args.model, args.objective)
    if not cmp.machines:
        raise UsageError(f"no stored results of model {args.model!r}", hint="see `workbench history list`")
    if args.html:
        from workbench.report.export import write_text

        path = write_text(args.html, render_machines_html(cmp), flag="--html")
        print(f"wrote the comparison across machines to {path}", file=sys.stderr)
    if args.json:
        _print_json(cmp.to_dict())
    else:
        print(render_machines(cmp))
    return 0


def _history_default(args: argparse.Namespace) -> int:
    """``workbench history`` alone lists the last 20 runs."""
    ns = argparse.Namespace(model=None, engine=None, tag=None, since=None, limit=20, json=getattr(args, "json", False))
    return cmd_list(ns)
