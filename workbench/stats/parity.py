"""Do the engines compute the same function? Compare outputs against a reference.

The reference is the fp32 output of ``artifact.reference_engine`` (torch for built-ins, ONNX Runtime for
``.onnx`` files, OpenVINO for IR files) on the same seeded input. Each output tensor is compared by

* ``max_abs``  — max |out − ref|
* ``rel_l2``   — ‖out − ref‖₂ / ‖ref‖₂ (the pass/fail criterion, tolerance by precision below)
* ``top1``     — for classifiers, the fraction of the *decisive* batch items (or OCR timesteps) whose argmax
  agrees (:func:`top1_agreement`: an item whose reference top-1 is a near-tie says nothing and is left out).

Tolerances on ``rel_l2`` (see docs/methodology.md): fp32 1e-3 (different kernels and summation orders give
1e-7…1e-5; a wrong model, TF32 or a silent bf16 gives ≥ 1e-3), fp16 5e-2, bf16 2e-1, int8 3e-1 — measured
half-precision errors of deep random-weight networks reach 3e-2 (fp16) and 1.3e-1 (bf16) on resnet50, and int8
(static, 10 synthetic calibration samples) 1.9e-1…2.0e-1 on resnet50 on all three engines, while a wrong function
gives ≈ 1 or more. In fp32 a classifier must also agree on every *decisive* top-1 (:func:`top1_agreement`).
With the default fp32 tolerance an output also passes when every element is within :data:`FP32_FLOOR` (1e-6) of
the reference: float32 rounding on an output that is ~0 everywhere (a detector's map with nothing to detect), where
any relative error is large; such a pass is marked ``passed_on: "floor"`` and called a weak check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from workbench.result import Parity
from workbench_engines.base import NOTE_CONVERTED, NOTE_SKIPPED

TOLERANCES = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 2e-1, "int8": 3e-1, "mixed": 3e-1}
#: fp32 with the default tolerance: an output also passes when every element is within this of the reference —
#: float32 rounding on an output that is ~0 everywhere (a detector's probability map on an input with nothing to
#: detect: values ~1e-7, so any rounding is a large *relative* error). Measured (docs/methodology.md): correct
#: engines differ there by at most 1.3e-7; outside such outputs the relative rule decides.
FP32_FLOOR = 1e-6
CLASSIFIER_TASKS = ("image-classification", "text-classification", "ocr")
#: How many standard deviations of the tolerance's top-1/top-2 gap noise a reference margin must exceed for its
#: item to be decisive (:func:`top1_agreement`): a one-sided 3σ, a 0.13 % chance of a flip within the tolerance.
NEAR_TIE_SIGMAS = 3.0


@dataclass(frozen=True)
class Top1:
    """Top-1 agreement over the decisive items of one or more classifier outputs (:func:`top1_agreement`)."""

    decisive: int  # items whose reference top-1 margin is beyond what the tolerance lets an output move
    agree: int  # of those, how many have the same argmax
    near_ties: int  # items left out: the reference's top-1 margin is within what the tolerance allows

    @property
    def items(self) -> int:
        return self.decisive + self.near_ties

    @property
    def fraction(self) -> float | None:
        """Agreement over the decisive items; None when there is none."""
        return self.agree / self.decisive if self.decisive else None

    def __add__(self, other: "Top1") -> "Top1":
        return Top1(self.decisive + other.decisive, self.agree + other.agree, self.near_ties + other.near_ties)

    def omitted(self, tolerance_label: str, reference: str = "reference") -> str | None:
        """Why no agreement is reported (no decisive item), else None."""
        if self.decisive or not self.items:
            return None
        return (
            f"{reference} top-1 is a near-tie on {self.near_ties} of {self.items} item{'s' * (self.items != 1)} "
            f"(margin within what the {tolerance_label} lets an output move)"
        )

    def fields(self, tolerance_label: str, reference: str = "reference") -> dict[str, Any]:
        """``top1``, ``top1_items`` (decisive), ``top1_near_ties`` and ``top1_omitted`` for a record."""
        return {
            "top1": self.fraction,
            "top1_items": self.decisive,
            "top1_near_ties": self.near_ties,
            "top1_omitted": self.omitted(tolerance_label, reference),
        }


def top1_agreement(r: np.ndarray, o: np.ndarray, *, rtol: float, atol: float | None = None) -> Top1:
    """Top-1 agreement of ``o`` with the reference ``r`` (classifier logits, classes on the last axis), counted
    only over the items whose reference top-1 is *decisive* under the tolerance.

    An item is a row of the last axis (a batch item, an OCR timestep). Its reference margin is
    ``m = r[top-1] − r[top-2]``. The relative-L2 tolerance accepts ‖out − ref‖ ≤ ``rtol`` · ‖ref‖; spread evenly over
    the item's ``n`` logits, that is a root-mean-square error of ``rtol · rms(r)`` per logit, with
    ``rms(r) = ‖r‖₂ / √n`` — the item's own scale, measured the way the tolerance measures it (so a model whose
    logits are large, or tiny, needs a proportionally large, or tiny, margin). The top-1/top-2 gap then moves by the
    difference of two such errors, whose RMS is ``√2 · rtol · rms(r)``. The item is decisive when
    ``m > NEAR_TIE_SIGMAS · √2 · rtol · rms(r)`` (3σ: an output inside the tolerance flips it with < 0.13 %
    chance), and a near-tie otherwise: an argmax flip there is what the tolerance already accepts, not evidence of
    a wrong function. With ``atol`` (every logit may move by up to ``atol``) the bar is at least ``2 · atol``, the
    gap a top-1 loses when it drops by ``atol`` and the runner-up rises by ``atol``.

    Why the tolerance and not the engine's observed difference: an argmax can only flip where the margin is at
    most twice the item's largest absolute difference, so "decisive by the observed difference" would make a
    decisive flip impossible by construction and the check would say nothing. Why not the worst case (the whole
    error budget ``rtol · ‖r‖`` on the two top logits): it grows with √n, and on 1000 classes in bf16 it would call
    every item of a trained network a near-tie.
    """
    r2 = r.reshape(-1, r.shape[-1]).astype(np.float64)
    o2 = o.reshape(-1, o.shape[-1]).astype(np.float64)
    top2 = -np.partition(-r2, 1, axis=-1)[:, :2]
    margin = top2[:, 0] - top2[:, 1]
    rms = np.sqrt(np.mean(r2 * r2, axis=-1))
    bar = NEAR_TIE_SIGMAS * np.sqrt(2.0) * rtol * rms
    if atol is not None:
        bar = np.maximum(bar, 2.0 * atol)
    decisive = margin > bar
    agree = np.argmax(r2, axis=-1) == np.argmax(o2, axis=-1)
    n_decisive = int(np.count_nonzero(decisive))
    return Top1(n_decisive, int(np.count_nonzero(agree & decisive)), int(decisive.size - n_decisive))


def is_classifier_output(task: str, r: np.ndarray) -> bool:
    """Whether top-1 agreement applies to this output: a classifier's, with classes on a last axis of ≥ 2."""
    return task in CLASSIFIER_TASKS and r.ndim >= 2 and r.shape[-1] > 1


def tolerance_label(precision: str, rtol: float | None, atol: float | None) -> str:
    """How a tolerance is named in a reason: ``fp32 tolerance 1e-03``, ``user tolerance 5e-03``."""
    tol = rtol if rtol is not None else TOLERANCES.get(precision, TOLERANCES["fp32"])
    who = "user" if rtol is not None or atol is not None else precision
    return f"{who} tolerance {tol:.0e}" + (f" (atol {atol:.0e})" if atol is not None else "")


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


def _is_note(key: str) -> bool:
    return key.startswith((NOTE_SKIPPED, NOTE_CONVERTED))


def output_notes(outputs: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``(skipped, converted)``: the outputs an engine could not give as arrays, and how it turned non-tensor
    outputs into arrays (:func:`workbench_engines.base.comparable_outputs`), by output name."""
    skipped = {
        k.removeprefix(NOTE_SKIPPED): str(np.asarray(v)) for k, v in outputs.items() if k.startswith(NOTE_SKIPPED)
    }
    converted = {
        k.removeprefix(NOTE_CONVERTED): str(np.asarray(v)) for k, v in outputs.items() if k.startswith(NOTE_CONVERTED)
    }
    return skipped, converted


def pair_outputs(ref: Mapping[str, Any], out: Mapping[str, Any]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Match outputs by name, falling back to order (engines name outputs differently). Notes about non-tensor
    outputs (:func:`output_notes`) are not outputs and are left out."""
    ref = {k: v for k, v in ref.items() if not _is_note(k)}
    out = {k: v for k, v in out.items() if not _is_note(k)}
    if set(ref) == set(out):
        return [(k, np.asarray(ref[k]), np.asarray(out[k])) for k in ref]
    return [(k, np.asarray(r), np.asarray(o)) for (k, r), o in zip(ref.items(), out.values())]


def _one(
    name: str,
    r: np.ndarray,
    o: np.ndarray,
    *,
    task: str,
    rtol: float,
    atol: float | None,
    label: str,
    floor: float | None = None,
) -> dict[str, Any]:
    """The comparison of one output tensor: which element diverges most, by how much, and whether it passes."""
    entry: dict[str, Any] = {"name": name, "shape": list(r.shape)}
    if r.dtype.kind in "USO" or o.dtype.kind in "USO":
        return _same_strings(entry, r, o)
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
    if is_classifier_output(task, r64):
        t = top1_agreement(r64, o64, rtol=rtol, atol=atol)
        entry["_top1"] = t
        entry.update(t.fields(label))
    close = entry["rel_l2"] <= rtol or (atol is not None and entry["max_abs"] <= atol)
    if not close and floor is not None and entry["max_abs"] <= floor:
        close = True
        entry["passed_on"] = "floor"
        entry["message"] = (
            f"relative L2 {entry['rel_l2']:.2e} is over {rtol:.0e}, but every element is within {floor:.0e} of the "
            f"reference (float32 rounding on an output that is ~0 here, ‖ref‖ {denom:.1e}): a weak check, give a "
            "real input (--input)"
        )
    entry["status"] = "pass" if close else "fail"
    if not close:
        entry["message"] = f"relative L2 error {entry['rel_l2']:.2e} exceeds the tolerance {rtol:.0e}"
    return entry


def _same_strings(entry: dict[str, Any], r: np.ndarray, o: np.ndarray) -> dict[str, Any]:
    """A string output (or any non-numeric one) passes when every element equals the reference's: there is no
    tolerance for text. ``mismatched`` counts the elements that differ."""
    if r.shape != o.shape:
        entry.update(status="fail", message=f"shape {tuple(o.shape)} differs from the reference {tuple(r.shape)}")
        return entry
    if r.dtype.kind not in "USO" or o.dtype.kind not in "USO":
        entry.update(status="fail", message=f"the output is {o.dtype}, the reference's {r.dtype}")
        return entry
    equal = np.asarray(r.astype(str) == o.astype(str))
    differ = int(equal.size - np.count_nonzero(equal))
    entry.update(compared="exact (strings)", mismatched=differ, status="pass" if differ == 0 else "fail")
    if differ:
        first = [int(i) for i in np.unravel_index(int(np.argmin(equal)), equal.shape)] if equal.ndim else []
        entry["message"] = f"{differ} of {equal.size} strings differ from the reference (first at index {tuple(first)})"
    return entry


def _skipped_text(skipped: Mapping[str, str]) -> str:
    return "; ".join(f"output {name!r} ({why})" for name, why in skipped.items())


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
    default tolerances, a classifier agrees on every *decisive* top-1 (:func:`top1_agreement`; a flipped near-tie
    does not fail it). ``top1`` is the agreement over the decisive items of every classifier output, ``top1_items``
    how many were decisive, ``top1_near_ties`` how many were left out, ``top1_omitted`` why no agreement is
    reported when none was decisive.
    """
    tol = rtol if rtol is not None else TOLERANCES.get(precision, TOLERANCES["fp32"])
    label = tolerance_label(precision, rtol, atol)
    pairs = pair_outputs(ref, out)
    skipped, converted = output_notes(ref)
    skipped.update({k: v for k, v in output_notes(out)[0].items() if k not in skipped})
    if not pairs:
        why = f" ({_skipped_text(skipped)})" if skipped else ""
        return Parity(status="error", reference=reference, message=f"no outputs to compare{why}")
    floor = FP32_FLOOR if precision == "fp32" and rtol is None and atol is None else None
    per = [_one(name, r, o, task=task, rtol=tol, atol=atol, label=label, floor=floor) for name, r, o in pairs]
    for entry in per:
        if entry["name"] in converted:
            entry["compared"] = converted[entry["name"]]
    tops = [e.pop("_top1") for e in per if "_top1" in e]
    t1 = sum(tops[1:], tops[0]) if tops else None
    failed = [e for e in per if e["status"] != "pass"]
    strict_top1 = precision == "fp32" and rtol is None and atol is None
    flips = t1.decisive - t1.agree if t1 is not None else 0
    ok = not failed and (not strict_top1 or flips == 0)
    message = None
    if failed:
        worst = failed[0] if len(failed) == 1 else max(failed, key=lambda e: e.get("rel_l2", float("inf")))
        which = f"output {worst['name']!r}" + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else "")
        message = f"{which}: {worst['message']}"
        if "max_abs_index" in worst:
            message += f"; largest difference {worst['max_abs']:.3g} at index {tuple(worst['max_abs_index'])}"
        if precision not in ("fp32",) or rtol is None:
            message += " (--rtol/--atol set the tolerance)"
    elif not ok and t1 is not None:
        message = (
            f"top-1 differs on {flips} of {t1.decisive} item{'s' * (t1.decisive != 1)} whose reference top-1 is "
            f"decisive (margin beyond what the {label} lets an output move)"
        )
    on_floor = [e for e in per if e.get("passed_on") == "floor"]
    if on_floor and ok:
        which = ", ".join(repr(e["name"]) for e in on_floor)
        message = (
            f"output {which} passed on the fp32 rounding floor: every element within {FP32_FLOOR:.0e} of the "
            "reference, the output ~0 everywhere on this input (a weak check: give a real input with --input)"
        )
    if skipped:
        note = f"not compared: {_skipped_text(skipped)}"
        message = f"{message}; {note}" if message else note
        per += [{"name": name, "status": "skipped", "message": why} for name, why in skipped.items()]
    measured = [e for e in per if "rel_l2" in e]
    return Parity(
        floor=floor,
        status="pass" if ok else "fail",
        reference=reference,
        max_abs=max((e["max_abs"] for e in measured), default=None),
        rel_l2=max((e["rel_l2"] for e in measured), default=None),
        tolerance=tol,
        atol=atol,
        tolerance_source="user" if rtol is not None or atol is not None else f"default {precision}",
        outputs=per,
        message=message,
        **(t1.fields(label) if t1 is not None else {}),
    )
