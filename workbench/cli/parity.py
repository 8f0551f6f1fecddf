"""``workbench parity``: check that engines compute the same outputs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli.args import add_engine_option_arg, add_help_with_engine_options, add_model_args


def register(sub: Any) -> None:
    p = sub.add_parser(
        "parity",
        help="check that engines compute the same outputs",
        description="Feed one identical seeded input to every engine and compare each output with the reference "
        "(torch fp32 for built-ins, ONNX Runtime fp32 for .onnx files, OpenVINO fp32 for IR): max abs "
        "error, relative L2 error, top-1 agreement. Tolerances depend on the precision "
        "(docs/methodology.md). Exit 0 when all pass, 1 when any fails.",
        add_help=False,
    )
    add_help_with_engine_options(p)
    add_model_args(p, engines_default="torch,onnxruntime,openvino")
    add_engine_option_arg(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_parity)


def cmd_parity(args: argparse.Namespace) -> int:
    from workbench.measure.parity import run_parity
    from workbench.report.text import table
    from workbench.units import MISSING

    report = run_parity(
        args.model,
        args.engines,
        precision=args.precision,
        device=args.device,
        batch=args.batch,
        shapes=dict(args.shape) or None,
        seed=args.seed,
        engine_options=tuple(args.engine_options),
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        rows = []
        for e in report["engines"]:
            p = e.get("parity") or {}
            rows.append(
                [
                    e["engine"],
                    e.get("precision_effective") or MISSING,
                    f"{p['max_abs']:.2e}" if p.get("max_abs") is not None else MISSING,
                    f"{p['rel_l2']:.2e}" if p.get("rel_l2") is not None else MISSING,
                    f"{p['top1']:.0%}" if p.get("top1") is not None else MISSING,
                    f"{p['tolerance']:.0e}" if p.get("tolerance") is not None else MISSING,
                    (p.get("status") or "error").upper(),
                    e.get("error") or p.get("message") or "",
                ]
            )
        print(
            f"{report['model']}  batch {report['batch']}  reference {report['reference']}  input seed {report['seed']}"
        )
        print(table(["engine", "prec", "max abs", "rel L2", "top-1", "tol", "verdict", "detail"], rows))
    return 0 if report["passed"] else 1
