"""``workbench parity``: check that engines compute the same outputs."""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli.args import (
    add_command,
    add_engine_option_arg,
    add_input_args,
    add_model_args,
    add_switches,
    add_tolerance_args,
    input_request,
)


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "parity",
        cmd_parity,
        engine_help=True,
        help="check that engines compute the same outputs",
        description="Feed one identical input (seeded generated values, or the ones given with --input/--inputs) "
        "to every engine and compare each output with the reference "
        "(torch fp32 for built-ins, ONNX Runtime fp32 for .onnx files, OpenVINO fp32 for IR): max abs "
        "error, relative L2 error, top-1 agreement (over the items whose reference top-1 is not a near-tie), per "
        "output. Tolerances depend on the precision (docs/methodology.md; --rtol/--atol override them). "
        "Exit 0 when all pass, 1 when any fails.",
    )
    add_model_args(p, engines_default="torch,onnxruntime,openvino")
    add_engine_option_arg(p)
    add_tolerance_args(p)
    add_input_args(p)
    add_switches(p, ("--json", "machine-readable output (with every output's results)"))


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


def _rule_cell(p: dict[str, Any]) -> str:
    """The pass rule's tolerance and its source: ``≤1e-03 fp32``, ``≤5e-03 user``, ``≤1e-03|atol 1e-04 user``."""
    from workbench.report.parity import tolerance_source, tolerance_value
    from workbench.units import MISSING

    if p.get("tolerance") is None:
        return MISSING
    cell = f"≤{tolerance_value(p['tolerance'])}"
    if p.get("atol") is not None:
        cell += f"|atol {tolerance_value(p['atol'])}"
    return f"{cell} {tolerance_source(p).removesuffix(' default')}"


RULE_NOTE = (
    "rule: PASS when every output's rel L2 ≤ its tol (the precision's, or --rtol; or max abs ≤ --atol);\n"
    "      fp32 default: every decisive top-1 must agree too. A near-tie (reference top-1 margin within what\n"
    "      the tolerance lets an output move) is not counted in top-1: its argmax says nothing (docs/methodology.md)"
)


def render_parity(report: dict[str, Any]) -> str:
    """One row per engine and, when the model has several outputs or a check failed, one indented row per
    output: its name, the largest absolute difference with its index, relative L2, top-1 and status; the rule
    (the tolerance, where it came from) beside the verdict and under the table."""
    from workbench.report.parity import top1_cell, top1_note
    from workbench.report.text import describe_inputs, table
    from workbench.units import MISSING

    rows: list[list[str]] = []
    for e in report["engines"]:
        p = e.get("parity") or {}
        detail = e.get("error") or p.get("message") or top1_note(p, short=True) or ""
        rows.append(
            [
                e["engine"],
                e.get("precision_effective") or MISSING,
                _sci(p.get("max_abs")),
                _sci(p.get("rel_l2")),
                top1_cell(p),
                _rule_cell(p),
                (p.get("status") or "error").upper(),
                detail,
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
                        top1_cell(o) if "top1" in o else "",
                        "",
                        str(o.get("status") or "").upper(),
                        o.get("message") or top1_note(o, short=True) or "",
                    ]
                )
    head = f"{report['model']}  batch {report['batch']}  reference {report['reference']}  input seed {report['seed']}"
    lines = [head]
    given = describe_inputs(report.get("inputs") or {})
    if given:
        lines.append(f"inputs given: {given}")
    lines.append(table(["engine", "prec", "max abs", "rel L2", "top-1", "rel L2 tol", "verdict", "detail"], rows))
    if any((e.get("parity") or {}).get("tolerance") is not None for e in report["engines"]):
        lines.append(RULE_NOTE)
    lines += [f"note: {s['message']}" for s in report.get("skipped") or []]
    return "\n".join(lines)
