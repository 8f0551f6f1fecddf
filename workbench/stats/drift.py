"""Drift: how far a lower precision moves a model's outputs from the same engine's fp32 outputs. Pure.

Parity (:mod:`workbench.stats.parity`) asks whether two engines compute the same function on one input. Drift asks
what a lower precision costs: the same engine, the same model, fp32 against bf16/fp16/int8, on several seeded inputs
(``--drift-samples``, 8 by default). Per input and output tensor:

* ``rel_l2``  — ‖low − fp32‖₂ / ‖fp32‖₂;
* ``max_abs`` — max |low − fp32|;
* ``top1``    — for classifiers, whether each *decisive* item's argmax agrees: an item whose fp32 top-1 wins by a
  margin within what the precision's tolerance lets an output move is a near-tie and is left out
  (:func:`workbench.stats.parity.top1_agreement`).

Summarised over the inputs: ``rel_l2`` pools them — per output, ‖Δ‖ over every input together ÷ ‖fp32‖ over every
input together, the worst output — so one input whose outputs happen to sit near zero (a 2-logit classifier with
random weights) cannot blow the figure up the way its own ratio does; ``rel_l2_worst`` and ``rel_l2_mean`` are the
worst and the mean of the per-input ratios; then the largest absolute difference, and top-1 agreement as the
fraction of the decisive items (all inputs, every classifier output) whose argmax agrees — ``top1_items`` of them,
``top1_near_ties`` left out, ``top1_omitted`` saying why when every item was a near-tie. ``status`` is ``within``
when the pooled relative L2 is inside the precision's tolerance (the same table as parity,
:data:`workbench.stats.parity.TOLERANCES`; docs/methodology.md), ``over`` when not, ``error`` when outputs are
missing, mis-shaped or not finite. Top-1 agreement is reported, not gated: the built-ins carry seeded random
weights whose logits sit close together, so a flipped near-tie says little about a trained model — and near-ties are
why it is counted over decisive items only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from workbench.stats.parity import TOLERANCES, Top1, is_classifier_output, pair_outputs, tolerance_label, top1_agreement

WITHIN = "within"
OVER = "over"
ERROR = "error"


@dataclass(frozen=True)
class Drift:
    """The drift of one engine's lower precision against its fp32 (see the module docstring)."""

    status: str  # within | over | error
    precision: str
    samples: int  # inputs compared
    tolerance: float | None = None  # the relative-L2 tolerance applied
    rel_l2: float | None = None  # pooled over the inputs, worst output (the gated figure)
    rel_l2_worst: float | None = None  # the worst single input's (worst output's) relative L2
    rel_l2_mean: float | None = None  # mean over inputs of each input's worst output
    max_abs: float | None = None
    top1: float | None = None  # fraction of the decisive items whose argmax agrees (classifiers); None: none decisive
    top1_items: int | None = None  # how many items that fraction is over (the decisive ones; older records: all)
    message: str | None = None
    top1_near_ties: int | None = None  # items left out of top1: fp32's top-1 margin within the tolerance
    top1_omitted: str | None = None  # why top1 is None for a classifier (every item a near-tie)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tolerance(precision: str) -> float:
    """The relative-L2 tolerance for ``precision`` (fp32's for an unknown one)."""
    return TOLERANCES.get(precision, TOLERANCES["fp32"])


def drift(
    baseline: Sequence[Mapping[str, Any]],
    lowered: Sequence[Mapping[str, Any]],
    *,
    precision: str,
    task: str = "generic",
) -> Drift:
    """Compare ``lowered[i]`` (outputs at ``precision`` on input ``i``) with ``baseline[i]`` (fp32 on the same input).

    Both are sequences of ``{output name: array}``, one per input, in the same order. Pure: no engine involved.
    """
    tol = tolerance(precision)
    n = min(len(baseline), len(lowered))
    if n == 0:
        return Drift(ERROR, precision, 0, tol, message="no outputs to compare")
    if len(baseline) != len(lowered):
        return Drift(ERROR, precision, n, tol, message=f"{len(lowered)} outputs for {len(baseline)} fp32 inputs")
    worst: list[float] = []
    max_abs = 0.0
    t1: Top1 | None = None
    pooled: dict[str, list[float]] = {}  # output -> [Σ‖Δ‖², Σ‖fp32‖²]
    for i in range(n):
        pairs = pair_outputs(baseline[i], lowered[i])
        if not pairs:
            return Drift(ERROR, precision, n, tol, message=f"input {i}: no outputs to compare")
        per_input = 0.0
        for name, r, o in pairs:
            if r.shape != o.shape:
                if r.size != o.size:
                    return Drift(
                        ERROR,
                        precision,
                        n,
                        tol,
                        message=f"output {name!r}: shape {o.shape} differs from fp32 {r.shape}",
                    )
                o = o.reshape(r.shape)
            r64, o64 = r.astype(np.float64), o.astype(np.float64)
            if not np.all(np.isfinite(o64)):
                bad = int(o64.size - np.count_nonzero(np.isfinite(o64)))
                return Drift(ERROR, precision, n, tol, message=f"output {name!r}: {bad} NaN/Inf values at {precision}")
            diff = o64 - r64
            if diff.size:
                max_abs = max(max_abs, float(np.max(np.abs(diff))))
            denom = float(np.linalg.norm(r64))
            norm = float(np.linalg.norm(diff))
            per_input = max(per_input, norm / denom if denom > 0 else norm)
            acc = pooled.setdefault(name, [0.0, 0.0])
            acc[0] += norm * norm
            acc[1] += denom * denom
            if is_classifier_output(task, r64):
                one = top1_agreement(r64, o64, rtol=tol)
                t1 = one if t1 is None else t1 + one
        worst.append(per_input)
    rel = max(float(np.sqrt(d / r)) if r > 0 else float(np.sqrt(d)) for d, r in pooled.values())
    status = WITHIN if rel <= tol else OVER
    message = None
    if status == OVER:
        message = f"relative L2 drift {rel:.2e} exceeds the {precision} tolerance {tol:.0e}"
    return Drift(
        status=status,
        precision=precision,
        samples=n,
        tolerance=tol,
        rel_l2=rel,
        rel_l2_worst=max(worst),
        rel_l2_mean=float(np.mean(worst)),
        max_abs=max_abs,
        message=message,
        **(t1.fields(tolerance_label(precision, None, None), "fp32") if t1 is not None else {}),
    )
