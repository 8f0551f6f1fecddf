"""The scaling analysis of a sweep (workbench.stats.scaling): exact arithmetic on hand-built sweep records.

The records here are fixtures with chosen round numbers — never presented as measurements.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from workbench.result import EngineResult, RunRecord
from workbench.stats.scaling import (
    analyse,
    batch_scaling,
    cell_of,
    cells_of,
    describe_key,
    memory_searches,
    pareto_front,
    precision_gains,
    sparsity_study,
    thread_scaling,
)


def key(engine: str, precision: str, t: int, b: int, mode: str, sp: float = 0.0) -> str:
    return f"{engine}|{precision}|t{t}|b{b}|{mode}|s-|r-|sp{sp:g}"


def cell_result(
    engine: str,
    *,
    precision: str = "fp32",
    threads: int = 1,
    batch: int = 1,
    mode: str = "latency",
    p50: float | None = 10.0,
    throughput: float | None = None,
    rss: float | None = 100.0,
    parity: str = "pass",
    effective: str | None = None,
    error: str | None = None,
    sparsity: float = 0.0,
    sizes: dict[str, Any] | None = None,
    probe_group: str | None = None,
    model: str = "tiny_cnn",
) -> EngineResult:
    """One sweep cell's result; ``error`` makes it a failed cell (no numbers)."""
    cell: dict[str, Any] = {
        "engine": engine,
        "precision": precision,
        "threads": threads,
        "batch": batch,
        "mode": mode,
        "streams": None,
        "requests": None,
        "sparsity": sparsity,
        "key": key(engine, precision, threads, batch, mode, sparsity),
    }
    if probe_group:
        cell.update(search="max-memory", group=probe_group)
    failed = error is not None
    r = EngineResult(
        engine=engine,
        model=model,
        status="failed" if failed else "ok",
        error=error,
        precision_requested=precision,
        precision_effective=None if failed else (effective or precision),
        threads=threads,
        batch=batch,
        mode=mode,
        latency_ms=None if failed else {"p50": p50, "p90": (p50 or 0) * 1.2, "p99": (p50 or 0) * 1.5, "mean": p50},
        throughput=None if failed else (throughput if throughput is not None else batch * 1000.0 / (p50 or 1)),
        peak_rss_mb=None if failed else rss,
        iterations=0 if failed else 100,
        parity=None if failed else {"status": parity, "rel_l2": 1e-6},
        cell=cell,
    )
    if sizes is not None:
        r.sparsity = sizes  # EngineResult.sparsity (issue #12): target, achieved, file_bytes, gzip_bytes, ...
    return r


def sweep_record(results: list[EngineResult], memory_search: dict[str, Any] | None = None, **kw: Any) -> RunRecord:
    fields: dict[str, Any] = dict(
        run_id="5eed5eed5eed",
        created="2025-01-02T03:04:05+00:00",
        model={"name": "tiny_cnn"},
        config={"model": "tiny_cnn", "device": "cpu"},
        system={"cpu": {"model": "Xeon Test CPU"}, "hostname": "node1"},
        versions={"workbench": "0.0"},
        results=results,
        kind="sweep",
        sweep={
            "spec": {
                "model": "tiny_cnn",
                "engines": sorted({r.engine for r in results}),
                "precisions": ["fp32"],
                "threads": [1, 2, 4],
                "batches": [1],
                "modes": ["latency"],
                "streams": [None],
                "requests": [None],
                "sparsities": [0.0],
                "device": "cpu",
                "duration_s": 0.5,
                "warmup_s": 0.1,
                "min_iterations": 10,
                "seed": 0,
                "parity": True,
            },
            "state": "complete",
            "cells_total": len(results),
            "cells_done": len(results),
            "pid": 1,
            "host": "node1",
            "elapsed_s": 12.5,
            "started": "2025-01-02T03:00:00+00:00",
            "memory_search": memory_search or {},
        },
    )
    fields.update(kw)
    return RunRecord(**fields)


# ------------------------------------------------------------------------------------------------ threads


def test_thread_scaling_latency_mode_uses_the_p50_ratio_and_keeps_a_failed_cell():
    cells = cells_of(
        [
            cell_result("onnxruntime", threads=1, p50=10.0),
            cell_result("onnxruntime", threads=2, p50=6.0),
            cell_result("onnxruntime", threads=4, error="engine crashed: SIGSEGV"),
        ]
    )
    (g,) = thread_scaling(cells)
    assert g.basis == "latency" and g.base_threads == 1 and not g.estimated and g.note is None
    assert g.axes == {
        "engine": "onnxruntime",
        "precision": "fp32",
        "batch": 1,
        "mode": "latency",
        "streams": None,
        "requests": None,
        "sparsity": 0.0,
    }
    one, two, four = g.rows
    assert [r.cell.threads for r in g.rows] == [1, 2, 4]
    assert one.speedup == 1.0 and one.efficiency == 1.0
    assert two.speedup == pytest.approx(10.0 / 6.0) and two.efficiency == pytest.approx(10.0 / 6.0 / 2)
    assert four.speedup is None and four.efficiency is None
    assert not four.cell.ok and four.cell.error == "engine crashed: SIGSEGV"
    assert four.to_dict()["error"] == "engine crashed: SIGSEGV" and four.to_dict()["status"] == "failed"


def test_thread_scaling_throughput_mode_uses_the_throughput_ratio():
    cells = cells_of(
        [
            # p50 gets worse with threads here; throughput mode must ignore it and take items/s
            cell_result("openvino", threads=1, mode="throughput", p50=10.0, throughput=100.0),
            cell_result("openvino", threads=2, mode="throughput", p50=12.0, throughput=190.0),
            cell_result("openvino", threads=4, mode="throughput", p50=15.0, throughput=360.0),
        ]
    )
    (g,) = thread_scaling(cells)
    assert g.basis == "throughput"
    assert [r.speedup for r in g.rows] == pytest.approx([1.0, 1.9, 3.6])
    assert [r.efficiency for r in g.rows] == pytest.approx([1.0, 0.95, 0.9])


def test_without_a_1_thread_cell_speedups_are_scaled_from_the_smallest_and_say_so():
    cells = cells_of(
        [
            cell_result("openvino", threads=2, mode="throughput", throughput=200.0),
            cell_result("openvino", threads=4, mode="throughput", throughput=360.0),
        ]
    )
    (g,) = thread_scaling(cells)
    assert g.estimated and g.base_threads == 2
    assert "no 1-thread cell" in (g.note or "") and "linear" in (g.note or "")
    assert [r.speedup for r in g.rows] == pytest.approx([2.0, 3.6])
    assert [r.efficiency for r in g.rows] == pytest.approx([1.0, 0.9])
    failed_one = cells_of(
        [
            cell_result("openvino", threads=1, error="out of memory"),
            cell_result("openvino", threads=2, p50=5.0),
            cell_result("openvino", threads=4, p50=3.0),
        ]
    )
    (g,) = thread_scaling(failed_one)
    assert g.estimated and g.base_threads == 2 and "the 1-thread cell failed" in (g.note or "")
    assert [r.speedup for r in g.rows] == pytest.approx([None, 2.0, 2 * 5.0 / 3.0])
    nothing = cells_of([cell_result("torch", threads=t, error="boom") for t in (1, 2)])
    (g,) = thread_scaling(nothing)
    assert g.base_threads is None and "no cell" in (g.note or "") and all(r.speedup is None for r in g.rows)


def test_thread_groups_hold_every_other_axis_fixed():
    cells = cells_of(
        [
            cell_result("torch", threads=1, batch=1, p50=10.0),
            cell_result("torch", threads=2, batch=1, p50=5.0),
            cell_result("torch", threads=1, batch=8, p50=40.0),
            cell_result("torch", threads=2, batch=8, p50=25.0),
            cell_result("onnxruntime", threads=1, batch=1, p50=9.0),  # one thread count only: no group
        ]
    )
    groups = thread_scaling(cells)
    assert [(g.axes["engine"], g.axes["batch"]) for g in groups] == [("torch", 1), ("torch", 8)]
    assert groups[1].rows[1].speedup == pytest.approx(1.6) and groups[1].rows[1].efficiency == pytest.approx(0.8)


# ------------------------------------------------------------------------------------------------ batches


def test_batch_scaling_per_item_latency_and_gain():
    cells = cells_of(
        [
            cell_result("openvino", batch=1, p50=10.0),  # 100 items/s
            cell_result("openvino", batch=8, p50=40.0),  # 200 items/s
            cell_result("openvino", batch=16, error="killed: out of memory"),
        ]
    )
    (g,) = batch_scaling(cells)
    assert g.base_batch == 1 and g.axes["threads"] == 1 and "batch" not in g.axes
    b1, b8, b16 = g.rows
    assert b1.cell.per_item_ms == 10.0 and b8.cell.per_item_ms == 5.0 and b16.cell.per_item_ms is None
    assert b1.gain == 1.0 and b8.gain == pytest.approx(2.0) and b16.gain is None
    assert b8.to_dict()["per_item_ms"] == 5.0 and b16.to_dict()["error"] == "killed: out of memory"


# ---------------------------------------------------------------------------------------------- precision


def test_precision_gain_against_the_same_engines_fp32_cell():
    cells = cells_of(
        [
            cell_result("openvino", p50=8.0),
            cell_result("openvino", precision="int8", p50=4.0),
            cell_result("onnxruntime", p50=10.0),
            cell_result("onnxruntime", precision="int8", p50=5.0, parity="fail"),
            cell_result("torch", precision="int8", p50=3.0),  # no torch fp32 cell: nothing to compare
            cell_result("openvino", mode="throughput", throughput=100.0, effective="bf16"),
            cell_result("openvino", precision="bf16", mode="throughput", throughput=150.0),
            cell_result("onnxruntime", threads=2, p50=6.0),
            cell_result("onnxruntime", precision="int8", threads=2, error="no int8 kernels"),
        ]
    )
    gains = precision_gains(cells)
    assert [(g.cell.engine, g.cell.precision, g.cell.mode, g.cell.threads) for g in gains] == [
        ("openvino", "int8", "latency", 1),
        ("onnxruntime", "int8", "latency", 1),
        ("openvino", "bf16", "throughput", 1),
        ("onnxruntime", "int8", "latency", 2),
    ]
    ov, ort, ov_bf16, ort_failed = gains
    assert ov.basis == "latency" and ov.ratio == 2.0 and ov.gain == 2.0 and ov.note is None
    assert ov.fp32.key == key("openvino", "fp32", 1, 1, "latency")
    assert ort.ratio == 2.0 and ort.gain is None and "parity fail" in (ort.note or "")  # a ratio, not a gain
    assert ov_bf16.basis == "throughput" and ov_bf16.gain == pytest.approx(1.5)
    assert "the fp32 cell ran in bf16" in (ov_bf16.note or "")
    assert ort_failed.ratio is None and ort_failed.gain is None and "no int8 kernels" in (ort_failed.note or "")


# ----------------------------------------------------------------------------------------------- sparsity


def test_sparsity_study_against_the_dense_row():
    dense = {"target": 0.0, "achieved": 0.0, "file_bytes": 4_000_000, "gzip_bytes": 3_600_000}
    half = {"target": 0.5, "achieved": 0.49, "file_bytes": 4_000_000, "gzip_bytes": 1_800_000}
    cells = cells_of(
        [
            cell_result("openvino", p50=10.0, sizes=dense),
            cell_result("openvino", p50=8.0, sparsity=0.5, sizes=half),
            cell_result("openvino", sparsity=0.9, error="pruning failed"),
            cell_result("torch", p50=20.0),  # no sizes recorded: read as missing
            cell_result("torch", p50=16.0, sparsity=0.5, sizes={"target": 0.5}),
        ]
    )
    groups = sparsity_study(cells)
    assert [(g.model, g.axes["engine"]) for g in groups] == [("tiny_cnn", "openvino"), ("tiny_cnn", "torch")]
    ov, torch = groups
    assert ov.basis == "latency" and ov.note is None
    d, h, n = ov.rows
    assert d.speedup == 1.0 and h.speedup == pytest.approx(1.25) and n.speedup is None
    assert h.gzip_vs_dense == pytest.approx(0.5) and h.file_vs_dense == 1.0
    assert h.cell.sparsity_achieved == 0.49 and h.cell.gzip_bytes == 1_800_000
    assert n.cell.error == "pruning failed" and n.gzip_vs_dense is None
    assert torch.rows[1].speedup == pytest.approx(1.25)
    assert torch.rows[1].gzip_vs_dense is None and torch.rows[1].cell.file_bytes is None
    assert sparsity_study(cells_of([cell_result("torch", p50=1.0), cell_result("torch", threads=2)])) == []


def test_a_result_without_a_sparsity_attribute_or_cell_is_read_defensively():
    r = EngineResult(engine="torch", model="m", threads=2, batch=4, mode="throughput", throughput=10.0)
    assert getattr(r, "sparsity", None) is None
    c = cell_of(r)
    assert c.key == "torch|fp32|t2|b4|throughput|s-|r-|sp0" and c.sparsity == 0.0 and c.file_bytes is None
    assert c.ok and c.p50_ms is None and c.per_item_ms is None and c.throughput == 10.0
    junk = EngineResult(engine="x", model="m", latency_ms={"p50": "nan"}, throughput=float("inf"), cell={"batch": 0})
    j = cell_of(junk)
    assert j.p50_ms is None and j.throughput is None and j.batch == 1


def test_a_resumed_sweep_keeps_the_later_result_of_a_cell_at_its_place():
    first = cell_result("torch", threads=1, error="interrupted")
    other = cell_result("torch", threads=2, p50=5.0)
    again = cell_result("torch", threads=1, p50=10.0)
    cells = cells_of([first, other, again])
    assert [(c.threads, c.ok) for c in cells] == [(1, True), (2, True)]
    assert cells[0].index == 2


# ------------------------------------------------------------------------------------------- memory search


def test_memory_search_best_batch_throughput_and_curve():
    group = "openvino|fp32|t4|b0|latency|s-|r-|sp0"
    best = key("openvino", "fp32", 4, 8, "latency")
    results = [
        cell_result("openvino", threads=4, batch=2, p50=5.0, rss=300.0, probe_group=group),
        cell_result("openvino", threads=4, batch=8, p50=16.0, rss=380.0),  # the best batch, measured in full
    ]
    sweep = {
        "memory_search": {
            group: {
                "limit_mb": 400,
                "best_batch": 8,
                "best_key": best,
                "probes": [
                    {"batch": 16, "peak_rss_mb": 520.0, "status": "ok", "fits": False},
                    {"batch": 2, "peak_rss_mb": 300.0, "status": "ok", "fits": True},
                    {"batch": 8, "peak_rss_mb": 380.0, "status": "ok", "fits": True},
                    "junk",
                ],
                "reason": "batch 16 went over 400 MB",
            },
            "broken": "not a dict",
        }
    }
    (m,) = memory_searches(sweep, cells_of(results))
    assert m.title == "openvino fp32 t4 latency" and m.limit_mb == 400.0 and m.best_batch == 8
    assert m.best is not None and not m.best.probe and m.best.key == best
    assert m.throughput == pytest.approx(8 * 1000.0 / 16.0)
    assert m.curve() == [(2, 300.0), (8, 380.0), (16, 520.0)]
    assert [p.fits for p in m.probes] == [True, True, False]
    assert memory_searches(None, []) == [] and memory_searches({"memory_search": []}, []) == []
    none_fit = {"memory_search": {group: {"limit_mb": 10, "best_batch": None, "probes": [], "reason": "batch 1 over"}}}
    (m,) = memory_searches(none_fit, [])
    assert m.best is None and m.throughput is None and m.reason == "batch 1 over"


# ------------------------------------------------------------------------------------------------- Pareto


def test_pareto_front_keeps_the_non_dominated_sorted_by_latency():
    points = [
        (10.0, 100.0, "a"),
        (5.0, 80.0, "b"),  # faster, less throughput: on the front
        (12.0, 90.0, "c"),  # dominated by a
        (20.0, 300.0, "d"),
        (20.0, 250.0, "e"),  # same latency as d, less throughput: dominated
        (30.0, 300.0, "f"),  # same throughput as d, slower: dominated
        (5.0, 80.0, "b2"),  # an exact duplicate of a front point: kept
        (None, 500.0, "bad"),
        (1.0, float("nan"), "nan"),
    ]
    front = pareto_front(points)  # type: ignore[arg-type]
    assert [p[2] for p in front] == ["b", "b2", "a", "d"]
    assert front[0] == (5.0, 80.0, "b")  # the points themselves, payload untouched
    assert pareto_front([]) == []
    assert [p[2] for p in pareto_front([(1.0, 1.0, "x"), (1.0, 1.0, "y")])] == ["x", "y"]


def test_analyse_puts_it_together_and_is_plain_data():
    group = "torch|fp32|t1|b0|latency|s-|r-|sp0"
    rec = sweep_record(
        [
            cell_result("torch", threads=1, p50=10.0),
            cell_result("torch", threads=2, p50=5.0),
            cell_result("torch", threads=2, batch=4, p50=10.0),
            cell_result("torch", precision="int8", threads=2, p50=2.5),
            cell_result("torch", threads=1, batch=2, p50=11.0, probe_group=group),
            cell_result("torch", threads=4, error="boom"),
        ],
        memory_search={group: {"limit_mb": 100, "best_batch": 2, "best_key": None, "probes": []}},
    )
    a = analyse(rec)
    assert len(a.cells) == 5 and len(a.probes) == 1 and a.probes[0].probe
    assert a.thread_row(key("torch", "fp32", 2, 1, "latency")).speedup == 2.0  # type: ignore[union-attr]
    assert a.precision_gain(key("torch", "int8", 2, 1, "latency")).gain == 2.0  # type: ignore[union-attr]
    assert a.memory[0].best is not None and a.memory[0].best.probe  # found through its group and batch
    # the front: int8 t2 (2.5 ms, 400/s) beats every fp32 cell except batch 4 (10 ms, 400/s): 2.5 ms dominates it
    assert [c.key for c in a.pareto] == [key("torch", "int8", 2, 1, "latency")]
    d = a.to_dict()
    assert d["cells"] == {"total": 5, "ok": 4, "failed": 1, "probes": 1}
    assert d["thread_scaling"][0]["rows"][1]["speedup"] == 2.0
    assert d["batch_scaling"][0]["rows"][1]["per_item_ms"] == 2.5
    json.dumps(d, allow_nan=False)


def test_describe_key():
    assert describe_key("openvino|int8|t4|b0|throughput|s2|r-|sp0.5") == "openvino int8 t4 throughput s2 sparsity 0.5"
    assert describe_key("not a key") == "not a key"


def test_training_steps_are_not_points_on_the_inference_pareto_front():
    from workbench.stats.scaling import cells_of, pareto_cells

    results = [
        cell_result("onnxruntime", p50=2.0, throughput=500.0),
        cell_result("torch", p50=1.0, throughput=900.0, mode="train"),  # "better" on both, but a training step
    ]
    front = pareto_cells(cells_of(results))
    assert [(c.engine, c.mode) for c in front] == [("onnxruntime", "latency")]
