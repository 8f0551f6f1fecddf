"""Verdicts that hold: top-1 agreement counted only over decisive items (the reference's top-1 margin beyond what the
tolerance lets an output move), the fp32 top-1 rule applied to those alone, and the rule shown next to the verdict.

Synthetic numpy logits; no engine involved."""

from __future__ import annotations

import numpy as np

from workbench.result import EngineResult, Parity, RunRecord
from workbench.stats.drift import drift
from workbench.stats.parity import compare, top1_agreement

CLS = "image-classification"


def _logits(rows: int = 1, classes: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((rows, classes))


def _set_margin(row: np.ndarray, margin: float) -> tuple[int, int]:
    """Make ``row``'s top-1 win over its top-2 by exactly ``margin``; returns (top-1, top-2) indices."""
    order = np.argsort(row)
    first, second = int(order[-1]), int(order[-2])
    row[first] = row[second] + margin
    return first, second


# ---- the near-tie rule (stats.parity.top1_agreement) --------------------------------------------------------------
def test_margin_is_measured_against_the_tolerance_at_the_items_own_scale():
    ref = _logits(2, 10)
    for row, margin in zip(ref, (0.02, 2.0)):  # per-logit RMS ≈ 1: the fp32 bar is 3·√2·1e-3·rms ≈ 4e-3
        _set_margin(row, margin)
    t = top1_agreement(ref, ref, rtol=1e-3)
    assert (t.decisive, t.agree, t.near_ties) == (2, 2, 0)
    t = top1_agreement(ref, ref, rtol=2e-1)  # bf16: the bar is ≈ 0.85·rms — the 0.02 margin is a near-tie
    assert (t.decisive, t.near_ties) == (1, 1) and t.fraction == 1.0
    scaled = top1_agreement(ref * 1e3, ref * 1e3, rtol=2e-1)  # scale-free: the same items are decisive
    assert (scaled.decisive, scaled.near_ties) == (1, 1)
    # an absolute tolerance: a logit may move by atol, so a margin of 2·atol or less is a near-tie
    assert top1_agreement(ref[:1], ref[:1], rtol=1e-6, atol=0.0101).near_ties == 1
    assert top1_agreement(ref[:1], ref[:1], rtol=1e-6, atol=0.0099).decisive == 1


def test_a_flipped_near_tie_passes_fp32_and_top1_is_omitted_with_the_reason():
    ref = _logits(1, 1000)
    first, second = _set_margin(ref[0], 1e-4)  # the reference's top-1 wins by 1e-4 on logits of scale 1
    out = ref.copy()
    out[0, second] += 2e-4  # kernel rounding flips the argmax; rel L2 ≈ 6e-6
    p = compare({"y": ref}, {"y": out}, precision="fp32", task=CLS, reference="torch fp32")
    assert np.argmax(out) != np.argmax(ref) and p.rel_l2 is not None and p.rel_l2 < 1e-5
    assert p.status == "pass" and p.message is None
    assert p.top1 is None and p.top1_items == 0 and p.top1_near_ties == 1
    assert p.top1_omitted == (
        "reference top-1 is a near-tie on 1 of 1 item (margin within what the fp32 tolerance 1e-03 lets an output move)"
    )
    (o,) = p.outputs or []
    assert o["top1"] is None and o["top1_near_ties"] == 1 and o["top1_omitted"] == p.top1_omitted


def test_a_decisive_flip_in_fp32_fails_even_within_the_relative_l2_tolerance():
    ref = _logits(1, 1000)
    first, second = _set_margin(ref[0], 0.01)  # decisive: the fp32 bar is ≈ 4e-3
    out = ref.copy()
    out[0, second] += 0.011  # the error sits on the two top logits: rel L2 ≈ 3.5e-4, inside 1e-3
    p = compare({"y": ref}, {"y": out}, precision="fp32", task=CLS, reference="torch fp32")
    assert p.rel_l2 is not None and p.rel_l2 < 1e-3 and (p.outputs or [{}])[0]["status"] == "pass"
    assert p.status == "fail" and p.top1 == 0.0 and p.top1_items == 1 and p.top1_near_ties == 0
    assert p.message is not None and p.message.startswith("top-1 differs on 1 of 1 item whose reference top-1 is")
    # with a user tolerance the top-1 rule is off: reported, not gated
    loose = compare({"y": ref}, {"y": out}, precision="fp32", task=CLS, reference="torch fp32", rtol=1e-3)
    assert loose.status == "pass" and loose.top1 == 0.0 and loose.tolerance_source == "user"
    # below fp32 top-1 is reported, not gated
    bf16 = compare({"y": ref}, {"y": out}, precision="bf16", task=CLS, reference="torch fp32")
    assert bf16.status == "pass"


def test_mixed_items_count_only_the_decisive_ones():
    ref = _logits(4, 100, seed=3)
    seconds = [_set_margin(row, m)[1] for row, m in zip(ref, (1e-4, 1e-4, 1.0, 1.0))]
    out = ref.copy()
    out[0, seconds[0]] += 2e-4  # both near-ties flip
    out[1, seconds[1]] += 2e-4
    p = compare({"y": ref}, {"y": out}, precision="fp32", task=CLS, reference="torch fp32")
    assert p.status == "pass" and p.top1 == 1.0 and p.top1_items == 2 and p.top1_near_ties == 2
    assert p.top1_omitted is None  # some items were decisive: the agreement is given, over those
    out[2, seconds[2]] += 1.001  # one decisive item flips too (rel L2 ≈ 7e-3: it fails on both counts)
    bad = compare({"y": ref}, {"y": out}, precision="fp32", task=CLS, reference="torch fp32")
    assert bad.status == "fail" and bad.top1 == 0.5 and bad.top1_items == 2


def test_non_classifier_outputs_have_no_top1():
    ref = _logits(2, 10)
    p = compare({"y": ref}, {"y": ref}, precision="fp32", task="generic", reference="x")
    assert p.status == "pass" and p.top1 is None and p.top1_items is None and p.top1_omitted is None


def test_drift_counts_top1_over_the_decisive_items_and_says_why_when_none_is():
    rng = np.random.default_rng(1)
    fp32 = [{"y": rng.standard_normal((2, 1000))} for _ in range(4)]  # random-weight logits: near-ties at int8
    low = [{"y": o["y"] + 0.1 * rng.standard_normal((2, 1000))} for o in fp32]
    d = drift(fp32, low, precision="int8", task=CLS)
    assert d.status == "within" and d.top1 is None and d.top1_items == 0 and d.top1_near_ties == 8
    assert d.top1_omitted == (
        "fp32 top-1 is a near-tie on 8 of 8 items (margin within what the int8 tolerance 3e-01 lets an output move)"
    )
    for o in fp32[:2]:  # two inputs whose classes win clearly
        o["y"][:, 0] += 10.0
    d = drift(fp32, [{"y": o["y"] + 0.1 * rng.standard_normal((2, 1000))} for o in fp32], precision="int8", task=CLS)
    assert d.top1 == 1.0 and d.top1_items == 4 and d.top1_near_ties == 4 and d.top1_omitted is None


def test_old_records_without_the_new_fields_still_load():
    old = {"status": "pass", "reference": "torch fp32", "rel_l2": 1e-6, "top1": 0.0, "tolerance": 1e-3}
    assert Parity(**old).top1_items is None
    r = EngineResult.from_dict({"engine": "onnxruntime", "model": "m", "parity": old})
    assert r.parity == old


# ---- how the verdict is said (report.parity and its callers) ------------------------------------------------------
def test_rule_and_top1_text():
    from workbench.report.parity import rule_text, tolerance_value, top1_cell, top1_note, top1_text, verdict_text

    p = {"status": "pass", "reference": "torch fp32", "rel_l2": 3.1e-6, "tolerance": 1e-3}
    p |= {"tolerance_source": "default fp32", "top1": 1.0, "top1_items": 1, "top1_near_ties": 0}
    assert rule_text(p) == "rel L2 3.1e-06 ≤ 1e-03 (fp32 default)"
    assert top1_text(p) == "top-1 100% (1 item)" and top1_cell(p) == "100%" and top1_note(p) is None
    assert verdict_text(p) == "pass vs torch fp32: rel L2 3.1e-06 ≤ 1e-03 (fp32 default), top-1 100% (1 item)"
    tie = p | {"rel_l2": 1.2e-1, "tolerance": 2e-1, "tolerance_source": "default bf16", "top1": None}
    tie |= {"top1_items": 0, "top1_near_ties": 8, "top1_omitted": "reference top-1 is a near-tie on 8 of 8 items"}
    assert verdict_text(tie) == "pass vs torch fp32: rel L2 1.2e-01 ≤ 2e-01 (bf16 default), top-1 n/a: near-tie (8/8)"
    assert top1_cell(tie) == "n/a" and top1_note(tie) == "top-1 n/a: reference top-1 is a near-tie on 8 of 8 items"
    some = p | {"top1_items": 3, "top1_near_ties": 5}
    assert top1_text(some) == "top-1 100% of 3 decisive (5 near-ties)" and top1_cell(some) == "100% 3/8"
    assert "3 of 8 items" in (top1_note(some) or "")
    assert top1_note(some, short=True) == "top-1 over 3 of 8 items (5 near-ties)"
    assert top1_note(tie, short=True) == "near-tie on 8 of 8 items: top-1 not counted"
    fail = p | {"status": "fail", "rel_l2": 0.5}
    assert rule_text(fail) == "rel L2 5.0e-01 > 1e-03 (fp32 default)"
    floor = p | {"rel_l2": 0.5, "max_abs": 2e-5, "atol": 1e-4, "tolerance_source": "user"}
    assert rule_text(floor) == "max |Δ| 2.0e-05 ≤ atol 1e-04 (user)"
    old = {"status": "pass", "reference": "torch fp32", "rel_l2": 1e-6, "top1": 0.4}  # before tolerances/near-ties
    assert rule_text(old) is None and verdict_text(old) is None and top1_text(old) == "top-1 40%"
    assert top1_cell(old) == "40%" and top1_cell({"status": "reference"}) == "—"
    assert tolerance_value(1.5e-3) == "1.5e-03" and tolerance_value(5e-2) == "5e-02"


def _record(parity: dict, drift_: dict | None = None) -> RunRecord:
    res = EngineResult(engine="onnxruntime", model="resnet18", latency_ms={"p50": 2.0}, throughput=500.0)
    res.parity = parity
    if drift_ is not None:
        res.drift, res.fp32_baseline, res.precision_requested = drift_, {"status": "ok"}, "int8"
    ref = EngineResult(engine="torch", model="resnet18", latency_ms={"p50": 4.0}, throughput=250.0)
    ref.parity = {"status": "reference", "reference": "torch fp32"}
    return RunRecord(
        run_id="r",
        created="2001-01-01T00:00:00+00:00",
        model={"name": "resnet18"},
        config={"precision": "fp32"},
        system={},
        versions={},
        results=[ref, res],
    )


def test_the_terminal_notes_state_the_rule_behind_pass():
    from workbench.report.text import result_notes

    p = {"status": "pass", "reference": "torch fp32", "rel_l2": 1.2e-1, "max_abs": 0.3, "tolerance": 2e-1}
    p |= {"tolerance_source": "default bf16", "top1": None, "top1_items": 0, "top1_near_ties": 1}
    p |= {"top1_omitted": "reference top-1 is a near-tie on 1 of 1 item"}
    notes = result_notes(_record(p))
    assert (
        "note",
        "onnxruntime: parity pass vs torch fp32: rel L2 1.2e-01 ≤ 2e-01 (bf16 default), top-1 n/a: near-tie (1/1)",
    ) in notes
    assert not any("torch: parity" in text for _, text in notes)  # the reference compares nothing


def test_workbench_parity_table_shows_the_rule_and_the_omitted_top1():
    from workbench.cli.parity import render_parity

    ref = _logits(1, 1000)
    _, second = _set_margin(ref[0], 1e-4)
    out = ref.copy()
    out[0, second] += 2e-4
    p = compare({"y": ref}, {"y": out}, precision="fp32", task=CLS, reference="torch fp32").to_dict()
    report = {"model": "m", "batch": 1, "reference": "torch fp32", "seed": 0}
    report["engines"] = [{"engine": "onnxruntime", "precision_effective": "fp32", "parity": p}]
    text = render_parity(report)
    row = next(line for line in text.splitlines() if line.startswith("onnxruntime"))
    assert "≤1e-03 fp32" in row and " n/a " in row and "PASS" in row
    assert row.rstrip().endswith("near-tie on 1 of 1 item: top-1 not counted")
    assert "rule: PASS when every output's rel L2 ≤ its tol" in text


def test_below_fp32_table_and_summary_omit_a_near_tie_top1():
    from workbench.report.precision import drift_cells, precision_notes, precision_summary

    d = {"status": "within", "precision": "int8", "samples": 8, "tolerance": 0.3, "rel_l2": 0.19, "max_abs": 1.2}
    d |= {"top1": None, "top1_items": 0, "top1_near_ties": 8, "top1_omitted": "fp32 top-1 is a near-tie on 8 of 8"}
    assert drift_cells(d) == ["0.1900", "1.200", "n/a", "within"]
    rec = _record({"status": "pass"}, d)
    assert "  onnxruntime: drift top-1 n/a: fp32 top-1 is a near-tie on 8 of 8" in precision_notes(rec)
    summary = precision_summary(rec.results[1]) or ""
    assert "drift within: rel L2 0.1900 ≤ 0.3000 (int8 tolerance, 8 inputs)" in summary
    assert "top-1 n/a: near-tie (8/8)" in summary
    old = {"status": "within", "rel_l2": 0.01, "top1": 0.5, "top1_items": 8}  # a record from before near-ties
    assert drift_cells(old)[2] == "50%"


def test_random_weight_imagenet_logits_are_near_ties_below_fp32():
    """The case of issue 18: a 1000-class random-weight classifier's top-1 at bf16 or int8 is (nearly always) a
    near-tie; the verdict passes on rel L2 and top-1 is omitted or counted over the few decisive items, never a bare
    0%."""
    rng = np.random.default_rng(7)
    ref = rng.standard_normal((8, 1000))
    out = ref + 0.03 * rng.standard_normal(ref.shape)  # rel L2 3e-2
    int8 = compare({"y": ref}, {"y": out}, precision="int8", task=CLS, reference="torch fp32")
    assert int8.status == "pass" and int8.top1 is None and int8.top1_near_ties == 8
    assert "int8 tolerance 3e-01" in (int8.top1_omitted or "")
    bf16 = compare({"y": ref}, {"y": out}, precision="bf16", task=CLS, reference="torch fp32")
    assert bf16.status == "pass" and bf16.top1 == 1.0 and (bf16.top1_items, bf16.top1_near_ties) == (1, 7)
    fp16 = compare({"y": ref}, {"y": out}, precision="fp16", task=CLS, reference="torch fp32")
    assert (fp16.top1_items, fp16.top1_near_ties) == (3, 5)  # a tighter tolerance: more items are decisive
