"""Do the engines compute the same function? Compare outputs against a reference.

The reference is the fp32 output of ``artifact.reference_engine`` (torch for built-ins, ONNX Runtime for
``.onnx`` files, OpenVINO for IR files) on the same seeded input. Each output tensor is compared by

* ``max_abs``  — max |out − ref|
* ``rel_l2``   — ‖out − ref‖₂ / ‖ref‖₂ (the pass/fail criterion, tolerance by precision below)
* ``top1``     — for classifiers, the fraction of batch items (or OCR timesteps) whose argmax agrees.

Tolerances on ``rel_l2`` (see docs/methodology.md): fp32 1e-3 (different kernels and summation orders give
1e-7…1e-5; a wrong model, TF32 or a silent bf16 gives ≥ 1e-3), fp16 5e-2, bf16 2e-1, int8 2e-1 — measured
half-precision errors of deep random-weight networks reach 3e-2 (fp16) and 1.3e-1 (bf16) on resnet50, while a
wrong function gives ≈ 1 or more. In fp32 a classifier must also agree on every top-1.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from workbench.result import Parity

TOLERANCES = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 2e-1, "int8": 2e-1, "mixed": 2e-1}
CLASSIFIER_TASKS = ("image-classification", "text-classification", "ocr")


def _pairs(ref: Mapping[str, Any], out: Mapping[str, Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Match outputs by name, falling back to order (engines name outputs differently)."""
    if set(ref) == set(out):
        return [(np.asarray(ref[k]), np.asarray(out[k])) for k in ref]
    return [(np.asarray(r), np.asarray(o)) for r, o in zip(ref.values(), out.values())]


def compare(ref: Mapping[str, Any], out: Mapping[str, Any], *, precision: str, task: str, reference: str) -> Parity:
    """Compare one engine's outputs with the reference outputs. Pure: no engine involved."""
    tol = TOLERANCES.get(precision, TOLERANCES["fp32"])
    pairs = _pairs(ref, out)
    if not pairs:
        return Parity(status="error", reference=reference, message="no outputs to compare")
    worst_abs, worst_rel, top1s = 0.0, 0.0, []
    for r, o in pairs:
        if r.shape != o.shape:
            if r.size == o.size:
                o = o.reshape(r.shape)
            else:
                return Parity(
                    status="fail",
                    reference=reference,
                    tolerance=tol,
                    message=f"output shape {tuple(o.shape)} differs from reference {tuple(r.shape)}",
                )
        r64, o64 = r.astype(np.float64), o.astype(np.float64)
        if not np.all(np.isfinite(o64)):
            return Parity(status="fail", reference=reference, tolerance=tol, message="output has NaN/Inf values")
        diff = o64 - r64
        worst_abs = max(worst_abs, float(np.max(np.abs(diff))) if diff.size else 0.0)
        denom = float(np.linalg.norm(r64))
        rel = float(np.linalg.norm(diff)) / denom if denom > 0 else float(np.linalg.norm(diff))
        worst_rel = max(worst_rel, rel)
        if task in CLASSIFIER_TASKS and r.ndim >= 2 and r.shape[-1] > 1:
            top1s.append(float(np.mean(np.argmax(r64, axis=-1) == np.argmax(o64, axis=-1))))
    top1 = min(top1s) if top1s else None
    ok = worst_rel <= tol and (precision != "fp32" or top1 is None or top1 == 1.0)
    message = None
    if not ok:
        if worst_rel > tol:
            message = f"relative L2 error {worst_rel:.2e} exceeds the {precision} tolerance {tol:.0e}"
        else:
            message = f"top-1 agrees on only {top1:.0%} of items"
    return Parity(
        status="pass" if ok else "fail",
        reference=reference,
        max_abs=worst_abs,
        rel_l2=worst_rel,
        top1=top1,
        tolerance=tol,
        message=message,
    )


def load_npz(blob: bytes) -> dict[str, np.ndarray]:
    import io

    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
