"""``workbench matrix``: what runs on this machine (models × engines × devices × precisions), from real attempts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workbench.cli.args import add_args, add_command, add_files, add_switches, comma_items, engines_list, number


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "matrix",
        cmd_matrix,
        help="what runs here: models × engines × precisions → works / unsupported / failed",
        description="Attempt every model × engine × device × precision the way a run would: prepare the model "
        "(export, convert, quantize for int8; cached), load it in the engine's benchmark process and run one "
        "inference. Each cell says works (with the precision the engine really ran, load and first-inference "
        "times), unsupported or failed, with the one-line reason. Cells are cached per engine version, "
        "workbench version and machine; --refresh attempts them again. Exit 0 when the matrix was produced "
        "(failed cells included), 2 on bad input, 130 when interrupted (finished cells stay cached).",
    )
    add_args(
        p,
        (
            "--models -m",
            "comma-separated built-in names or model files, or 'all' for every built-in "
            "(default resnet18,mobilenet_v3_small,distilbert: every cell exports its model, which takes a while)",
            {"type": comma_items, "default": None},
        ),
        ("--engines -e", "comma-separated engines (default: all installed)", {"type": engines_list, "default": None}),
        (
            "--precisions -p",
            "comma-separated: fp32,bf16,fp16,int8 (default fp32)",
            {"type": comma_items, "default": ("fp32",)},
        ),
        ("--device --devices", "default cpu", {"dest": "devices", "type": comma_items, "default": ("cpu",)}),
    )
    add_switches(p, ("--refresh", "attempt every cell again instead of using the cache"))
    add_args(
        p,
        ("--timeout", "seconds each cell's preparation and load may take (600)", {"type": number, "default": 600.0}),
    )
    add_switches(p, ("--json", "every cell as JSON on stdout instead of the table"))
    add_files(p, ("--markdown", "also write the table as Markdown to FILE"))


def cmd_matrix(args: argparse.Namespace) -> int:
    from workbench.campaign.matrix import Cell, MatrixInterrupted, run_matrix
    from workbench.report.matrix import render_markdown, render_matrix
    from workbench.report.text import ProgressLine
    from workbench.units import duration

    if args.markdown and not Path(args.markdown).expanduser().parent.is_dir():
        from workbench.errors import UsageError

        raise UsageError(f"--markdown {args.markdown}: the folder {Path(args.markdown).parent} does not exist")
    progress = ProgressLine()

    def on_progress(done: int, total: int, cell: Cell | None, eta: float | None) -> None:
        if cell is None:
            progress.clear()
            return
        eta_text = duration(eta * 1000) if eta is not None else "…"
        where = cell.where + (" (cached)" if cell.cached else "")
        progress.update(
            done / total if total else 1.0, f"{done}/{total} cells, {total - done} left · {where} · ETA {eta_text}"
        )

    try:
        matrix = run_matrix(
            args.models,
            args.engines,
            precisions=args.precisions,
            devices=args.devices,
            refresh=args.refresh,
            timeout=args.timeout,
            on_progress=on_progress,
        )
    except MatrixInterrupted as exc:
        progress.clear()
        print(
            f"interrupted after {len(exc.cells)} of {exc.total} cells; the finished ones are kept in the cache",
            file=sys.stderr,
        )
        return 130
    finally:
        progress.clear()
    report = matrix.to_dict()
    if args.markdown:
        path = Path(args.markdown).expanduser()
        try:
            path.write_text(render_markdown(report))
        except OSError as exc:
            from workbench.errors import UsageError

            raise UsageError(f"cannot write --markdown {args.markdown}: {exc.strerror or exc}") from None
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_matrix(report))
    return 0
