"""``workbench size``: parameters, on-disk and ``gzip -9`` size of a model's artifacts per engine format and
precision (the table pruning/quantization studies publish). The numbers come from :mod:`workbench.models.sizes`,
run in a child process after the model (and its int8 files) is prepared like ``workbench run`` prepares it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from workbench.cli.args import RAW, add_args, add_command, add_switches, positive_int, shape_arg
from workbench.errors import ModelError, UsageError

SIZE_PRECISIONS = ("fp32", "int8")


def precision_list(value: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(s.strip().lower() for s in value.split(",") if s.strip()))
    bad = [p for p in items if p not in SIZE_PRECISIONS]
    if bad and any(p in ("bf16", "fp16") for p in bad):
        raise argparse.ArgumentTypeError(
            f"{bad[0]} has no files of its own (the engines run the fp32 files in {bad[0]}); sizes exist for "
            f"{', '.join(SIZE_PRECISIONS)}"
        )
    if bad or not items:
        raise argparse.ArgumentTypeError(f"bad precision list {value!r}: choose from {', '.join(SIZE_PRECISIONS)}")
    return items


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "size",
        cmd_size,
        help="parameters, on-disk and gzip -9 size of a model per engine format and precision",
        description="Prepare the model's artifacts (the fp32 exports and, for int8, the quantized files, cached like "
        "'workbench run' does) and print, per engine format and precision: parameters (stored weight elements), "
        "bytes on disk and bytes after gzip -9.",
        epilog="examples:\n  workbench size -m resnet50\n  workbench size -m resnet18 --precision fp32 --markdown",
        formatter_class=RAW,
    )
    add_args(
        p,
        ("--model -m", "built-in model name or a model file", {"required": True}),
        (
            "--precision -p",
            "comma-separated: fp32,int8 (default both)",
            {"type": precision_list, "default": SIZE_PRECISIONS},
        ),
        ("--batch -b", "batch size the files are made for", {"type": positive_int, "default": 1}),
        ("--shape", None, {"action": "append", "type": shape_arg, "default": [], "metavar": "NAME=DIMS"}),
        ("--seed", "seed of built-in weights (default 0)", {"type": int, "default": 0}),
        ("--calibration-samples", "int8 calibration samples", {"type": positive_int, "metavar": "N"}),
        ("--calibration-data", "int8: calibrate on real data", {"metavar": "FILE.npz|DIR"}),
    )
    add_switches(
        p.add_mutually_exclusive_group(),
        ("--json", "print the rows as JSON"),
        ("--markdown", "print a markdown table"),
    )
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds the size measurement may take")


def measure(artifact: Any, precisions: Sequence[str], timeout: float) -> list[dict[str, Any]]:
    """The rows of :func:`workbench.models.sizes.artifact_sizes`, computed in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sizes.json"
        job = json.dumps({"artifact": artifact.to_dict(), "precisions": list(precisions)})
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "workbench.models.sizes", str(out)],
                input=job + "\n",
                capture_output=True,
                text=True,
                timeout=timeout,
                start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            raise ModelError(f"measuring sizes took longer than {timeout:g} s (--timeout)") from None
        if proc.returncode != 0 or not out.is_file():
            tail = [line for line in proc.stderr.strip().splitlines() if line.strip()]
            raise ModelError(f"measuring sizes failed: {tail[-1] if tail else f'exit code {proc.returncode}'}")
        rows: list[dict[str, Any]] = json.loads(out.read_text())
        return rows


def render(rows: Sequence[dict[str, Any]], model: str, *, markdown: bool = False) -> str:
    """The size table (text or markdown); numbers through :mod:`workbench.units`."""
    from workbench.report.text import table
    from workbench.units import MISSING, bytes_iec, count, percent

    fp32 = {r["format"]: r for r in rows if r["precision"] == "fp32" and "bytes" in r}
    headers = ["format", "engine", "precision", "params", "on disk", "gzip -9", "gzip ratio", "vs fp32"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["format"], r["engine"], r["precision"], MISSING, MISSING, MISSING, MISSING, r["error"]])
            continue
        base = fp32.get(r["format"])
        vs = percent(100.0 * r["bytes"] / base["bytes"], decimals=0) if base and r is not base else MISSING
        ratio_g = percent(100.0 * r["gzip_bytes"] / r["bytes"], decimals=0) if r["bytes"] else MISSING
        body.append(
            [
                r["format"],
                r["engine"],
                r["precision"],
                count(r["params"]),
                bytes_iec(r["bytes"]),
                bytes_iec(r["gzip_bytes"]),
                ratio_g,
                vs,
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
        return f"**{model}** — sizes per engine format and precision\n\n" + "\n".join(lines)
    notes = [f"  {r['format']} {r['precision']}: {r['how']}" for r in rows if r.get("how")]
    text = f"{model}: sizes per engine format and precision (gzip ratio = gzip -9 / on disk)\n" + table(headers, body)
    return text + ("\n" + "\n".join(notes) if notes else "")


def cmd_size(args: argparse.Namespace) -> int:
    from workbench.measure.prepare import prepare
    from workbench.models.quantize import CalibrationRequest, check_calibration

    precisions: tuple[str, ...] = args.precision
    if "int8" not in precisions and (args.calibration_samples or args.calibration_data):
        raise UsageError("--calibration-samples/--calibration-data apply to int8: add it to --precision")
    calibration = {"samples": args.calibration_samples, "data": args.calibration_data}
    check_calibration(CalibrationRequest.from_dict(calibration))
    int8 = "int8" in precisions
    artifact = prepare(
        args.model,
        batch=args.batch,
        shapes=dict(args.shape) or None,
        formats={"torch-builtin", "onnx", "openvino"},
        seed=args.seed,
        precision="int8" if int8 else "fp32",
        quantize={"onnxruntime": {}, "openvino": {}, "torch": {}} if int8 else None,
        calibration=calibration,
    )
    rows = measure(artifact, precisions, args.timeout)
    if args.json:
        print(json.dumps({"model": artifact.name, "rows": rows}, indent=2))
    else:
        print(render(rows, artifact.name, markdown=args.markdown))
    return 1 if any("error" in r for r in rows) else 0
