"""Do the engines compute the same function? Compare outputs against a reference.

The reference is the fp32 output of ``artifact.reference_engine`` (torch for built-ins, ONNX Runtime for
``.onnx`` files, OpenVINO for IR files) on the same seeded input. Each output tensor is compared by

* ``max_abs``  — max |out − ref|
* ``rel_l2``   — ‖out − ref‖₂ / ‖ref‖₂ (the pass/fail criterion, tolerance by precision below)
* ``top1``     — for classifiers, the fraction of batch items (or OCR timesteps) whose argmax agrees.

Tolerances on ``rel_l2`` (see docs/methodology.md): fp32 1e-3 (different kernels and summation orders give
1e-7…1e-5; a wrong model, TF32 or a silent bf16 gives ≥ 1e-3), fp16 5e-2, bf16 2e-1, int8 3e-1 — measured
half-precision errors of deep random-weight networks reach 3e-2 (fp16) and 1.3e-1 (bf16) on resnet50, and int8
(static, 10 synthetic calibration samples) 1.9e-1…2.0e-1 on resnet50 on all three engines, while a wrong function
gives ≈ 1 or more. In fp32 a classifier must also agree on every top-1.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from workbench.result import Parity

TOLERANCES = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 2e-1, "int8": 3e-1, "mixed": 3e-1}
CLASSIFIER_TASKS = ("image-classification", "text-classification", "ocr")
#: An engine run exactly as the reference (same engine, fp32, CPU) is not compared with itself: it *is* the
#: reference. Its status says so instead of a "pass" that compared nothing.
REFERENCE = "reference"
#: Statuses under which an engine's outputs may be trusted as the reference's function (speedups are shown).
AGREES = ("pass", REFERENCE)


def is_reference(engine: str, precision: str, device: str, reference_engine: str) -> bool:
    """Whether a run of ``engine`` at ``precision`` on ``device`` is the reference computation itself."""
    return engine == reference_engine and precision == "fp32" and device == "cpu"


def reference_parity(reference: str) -> Parity:
    return Parity(status=REFERENCE, reference=reference, message="this engine is the reference (compared with nothing)")


def pair_outputs(ref: Mapping[str, Any], out: Mapping[str, Any]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Match outputs by name, falling back to order (engines name outputs differently)."""
    if set(ref) == set(out):
        return [(k, np.asarray(ref[k]), np.asarray(out[k])) for k in ref]
    return [(k, np.asarray(r), np.asarray(o)) for (k, r), o in zip(ref.items(), out.values())]


def _one(name: str, r: np.ndarray, o: np.ndarray, *, task: str, rtol: float, atol: float | None) -> dict[str, Any]:
    """The comparison of one output tensor: which element diverges most, by how much, and whether it passes."""
    entry: dict[str, Any] = {"name": name, "shape": list(r.shape)}
    if r.shape != o.shape:
        if r.size != o.size:
            entry.update(status="fail", message=f"shape {tuple(o.shape)} differs from the reference {tuple(r.shape)}")
            return entry
        o = o.reshape(r.shape)
    r64, o64 = r.astype(np.float64), o.astype(np.float64)
    if not np.all(np.isfinite(o64)):
        bad = int(np.size(o64) - np.count_nonzero(np.isfinite(o64)))
        entry.update(status="fail", message=f"{bad} NaN/Inf values")
        return entry
    diff = np.abs(o64 - r64)
    if diff.size:
        flat = int(np.argmax(diff))
        entry["max_abs"] = float(diff.flat[flat])
        entry["max_abs_index"] = [int(i) for i in np.unravel_index(flat, diff.shape)]
        entry["max_abs_values"] = [float(r64.flat[flat]), float(o64.flat[flat])]  # reference, engine
    else:
        entry["max_abs"] = 0.0
    denom = float(np.linalg.norm(r64))
    norm = float(np.linalg.norm(o64 - r64))
    entry["rel_l2"] = norm / denom if denom > 0 else norm
    if task in CLASSIFIER_TASKS and r.ndim >= 2 and r.shape[-1] > 1:
        entry["top1"] = float(np.mean(np.argmax(r64, axis=-1) == np.argmax(o64, axis=-1)))
    close = entry["rel_l2"] <= rtol or (atol is not None and entry["max_abs"] <= atol)
    entry["status"] = "pass" if close else "fail"
    if not close:
        entry["message"] = f"relative L2 error {entry['rel_l2']:.2e} exceeds the tolerance {rtol:.0e}"
    return entry


def compare(
    ref: Mapping[str, Any],
    out: Mapping[str, Any],
    *,
    precision: str,
    task: str,
    reference: str,
    rtol: float | None = None,
    atol: float | None = None,
) -> Parity:
    """Compare one engine's outputs with the reference outputs, output by output. Pure: no engine involved.

    ``rtol`` replaces the precision's relative-L2 tolerance (:data:`TOLERANCES`); ``atol``, when given, also passes
    an output whose largest absolute difference is at most ``atol`` (for outputs near zero, where a relative error
    says little). Both are recorded in the result. The run passes when every output passes and, in fp32 with the
    default tolerances, a classifier agrees on every top-1.
    """
    tol = rtol if rtol is not None else TOLERANCES.get(precision, TOLERANCES["fp32"])
    pairs = pair_outputs(ref, out)
    if not pairs:
        return Parity(status="error", reference=reference, message="no outputs to compare")
    per = [_one(name, r, o, task=task, rtol=tol, atol=atol) for name, r, o in pairs]
    failed = [e for e in per if e["status"] != "pass"]
    top1s = [e["top1"] for e in per if "top1" in e]
    top1 = min(top1s) if top1s else None
    strict_top1 = precision == "fp32" and rtol is None and atol is None
    ok = not failed and (not strict_top1 or top1 is None or top1 == 1.0)
    message = None
    if failed:
        worst = failed[0] if len(failed) == 1 else max(failed, key=lambda e: e.get("rel_l2", float("inf")))
        which = f"output {worst['name']!r}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        message = f"{which}: {worst['message']}"
        if "max_abs_index" in worst:
            message += f"; largest difference {worst['max_abs']:.3g} at index {tuple(worst['max_abs_index'])}"
        if precision not in ("fp32",) or rtol is None:
            message += " (--rtol/--atol set the tolerance)"
    elif not ok:
        message = f"top-1 agrees on only {top1:.0%} of items"
    measured = [e for e in per if "rel_l2" in e]
    return Parity(
        status="pass" if ok else "fail",
        reference=reference,
        max_abs=max((e["max_abs"] for e in measured), default=None),
        rel_l2=max((e["rel_l2"] for e in measured), default=None),
        top1=top1,
        tolerance=tol,
        atol=atol,
        tolerance_source="user" if rtol is not None or atol is not None else f"default {precision}",
        outputs=per,
        message=message,
    )
