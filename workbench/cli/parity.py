"""``workbench parity``: check that engines compute the same outputs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli.args import (
    add_engine_option_arg,
    add_help_with_engine_options,
    add_input_args,
    add_model_args,
    add_tolerance_args,
    input_request,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "parity",
        help="check that engines compute the same outputs",
        description="Feed one identical input (seeded generated values, or the ones given with --input/--inputs) "
        "to every engine and compare each output with the reference "
        "(torch fp32 for built-ins, ONNX Runtime fp32 for .onnx files, OpenVINO fp32 for IR): max abs "
        "error, relative L2 error, top-1 agreement, per output. Tolerances depend on the precision "
        "(docs/methodology.md; --rtol/--atol override them). Exit 0 when all pass, 1 when any fails.",
        add_help=False,
    )
    add_help_with_engine_options(p)
    add_model_args(p, engines_default="torch,onnxruntime,openvino")
    add_engine_option_arg(p)
    add_tolerance_args(p)
    add_input_args(p)
    p.add_argument("--json", action="store_true", help="machine-readable output (with every output's results)")
    p.set_defaults(func=cmd_parity)


def cmd_parity(args: argparse.Namespace) -> int:
    from workbench.measure.parity import run_parity
    from workbench.measure.runner import DEFAULT_ENGINES

    report = run_parity(
        args.model,
        args.engines or DEFAULT_ENGINES,
        engines_explicit=args.engines is not None,
        precision=args.precision,
        device=args.device,
        batch=args.batch,
        shapes=dict(args.shape) or None,
        seed=args.seed,
        engine_options=tuple(args.engine_options),
        inputs=input_request(args),
        rtol=args.rtol,
        atol=args.atol,
    )
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render_parity(report))
    return 0 if report["passed"] else 1


def _sci(value: Any, fmt: str = ".2e") -> str:
    from workbench.units import MISSING, as_float

    f = as_float(value)
    return MISSING if f is None else format(f, fmt)


def render_parity(report: dict[str, Any]) -> str:
    """One row per engine and, when the model has several outputs or a check failed, one indented row per
    output: its name, the largest absolute difference with its index, relative L2, top-1 and status."""
    from workbench.report.text import describe_inputs, table
    from workbench.units import MISSING

    rows: list[list[str]] = []
    for e in report["engines"]:
        p = e.get("parity") or {}
        tol = _sci(p.get("tolerance"), ".0e") if p.get("tolerance") is not None else MISSING
        if p.get("atol") is not None:
            tol += f" | atol {_sci(p['atol'], '.0e')}"
        rows.append(
            [
                e["engine"],
                e.get("precision_effective") or MISSING,
                _sci(p.get("max_abs")),
                _sci(p.get("rel_l2")),
                f"{p['top1']:.0%}" if p.get("top1") is not None else MISSING,
                tol,
                (p.get("status") or "error").upper(),
                e.get("error") or p.get("message") or "",
            ]
        )
        outputs = p.get("outputs") or []
        if len(outputs) > 1 or (outputs and p.get("status") == "fail"):
            for o in outputs:
                where = f" at {tuple(o['max_abs_index'])}" if o.get("max_abs_index") else ""
                rows.append(
                    [
                        f"  {o.get('name')}",
                        "",
                        _sci(o.get("max_abs")) + where if o.get("max_abs") is not None else MISSING,
                        _sci(o.get("rel_l2")),
                        f"{o['top1']:.0%}" if o.get("top1") is not None else "",
                        "",
                        str(o.get("status") or "").upper(),
                        o.get("message") or "",
                    ]
                )
    head = f"{report['model']}  batch {report['batch']}  reference {report['reference']}  input seed {report['seed']}"
    lines = [head]
    given = describe_inputs(report.get("inputs") or {})
    if given:
        lines.append(f"inputs given: {given}")
    lines.append(table(["engine", "prec", "max abs", "rel L2", "top-1", "tol", "verdict", "detail"], rows))
    lines += [f"note: {s['message']}" for s in report.get("skipped") or []]
    return "\n".join(lines)
