"""TEST FIXTURE DATA for the TUI tests and snapshots.

Nothing here was measured: these are hand-written records and machine descriptions that make snapshots
deterministic. The product never shows them; the Results pane labels a fixture record "TEST FIXTURE DATA".
"""

from __future__ import annotations

from workbench.result import EngineResult, RunRecord
from workbench.tui.services import ModelChoice
from workbench_engines.base import EngineInfo

FIXTURE_SYSINFO = {
    "hostname": "fixture-host",
    "cpu": {
        "model": "Fixture CPU (test data)",
        "machine": "x86_64",
        "sockets": 1,
        "physical_cores": 8,
        "logical_cpus": 8,
        "flags": {"avx2": True, "avx512f": True, "avx512_vnni": True, "avx512_bf16": True, "amx_tile": False},
    },
    "numa": [{"node": 0, "cpus": list(range(8))}],
    "memory": {"total_bytes": 32 * 1024**3},
    "frequency": {"governors": {"performance": list(range(8))}, "turbo": True},
    "smt": {"active": False},
    "virtualisation": {},
    "gpus": [],
    "versions": {"torch": "0.0.0-fixture", "onnxruntime": "0.0.0-fixture", "openvino": None},
}

FIXTURE_ENGINES = (
    EngineInfo("torch", "PyTorch", True, "0.0.0-fixture", ("cpu",), ("torch-builtin",), ("fp32", "bf16")),
    EngineInfo("onnxruntime", "ONNX Runtime", True, "0.0.0-fixture", ("cpu",), ("onnx",), ("fp32",)),
    EngineInfo(
        "openvino", "OpenVINO", False, None, (), ("openvino",), ("fp32",), note="not installed: pip install openvino"
    ),
)

FIXTURE_MODELS = (
    ModelChoice("resnet18", "fixture model entry", "image-classification"),
    ModelChoice("tiny_cnn", "fixture model entry", "image-classification"),
    ModelChoice("tiny-llama", "fixture model entry", "text-generation", generative=True),
)

FIXTURE_CPUS = tuple(range(8))


def _result(
    engine: str,
    p50: float,
    thr: float,
    *,
    precision: str = "fp32",
    speedup: float | None = None,
    note: str | None = None,
    warnings: tuple[tuple[str, str], ...] = (),
) -> EngineResult:
    return EngineResult(
        engine=engine,
        model="resnet18",
        engine_version="0.0.0-fixture",
        threads=7,
        cores=list(range(1, 8)),
        precision_requested="fp32",
        precision_effective=precision,
        latency_ms={
            "mean": p50 * 1.05,
            "std": p50 * 0.04,
            "min": p50 * 0.9,
            "max": p50 * 1.9,
            "p50": p50,
            "p90": p50 * 1.1,
            "p95": p50 * 1.15,
            "p99": p50 * 1.3,
            "p999": p50 * 1.6,
        },
        median_ci_ms=[p50 * 0.99, p50 * 1.01],
        outliers=2,
        throughput=thr,
        iterations=1000,
        duration_s=5.0,
        load_ms=120.0,
        first_inference_ms=9.5,
        peak_rss_mb=310.0,
        cpu_util_pct=97.0,
        parity={
            "status": "pass",
            "reference": "torch fp32",
            "rel_l2": 1.2e-7,
            "max_abs": 3.0e-6,
            "tolerance": 1e-3,
            "tolerance_source": "default fp32",
            "top1": 1.0,
            "top1_items": 1,
            "top1_near_ties": 0,
        },
        speedup=speedup,
        speedup_note=note,
        warnings=[{"code": c, "message": m} for c, m in warnings],
    )


def fixture_record(
    run_id: str = "fixture0001", created: str = "2001-02-03T12:00:00+00:00", scale: float = 1.0
) -> RunRecord:
    """A complete two-engine run (TEST FIXTURE DATA)."""
    return RunRecord(
        run_id=run_id,
        created=created,
        model={"name": "resnet18", "source": "builtin", "task": "image-classification"},
        config={
            "model": "resnet18",
            "engines": ["torch", "onnxruntime"],
            "mode": "latency",
            "batch": 1,
            "precision": "fp32",
            "device": "cpu",
            "threads": 7,
            "cores": list(range(1, 8)),
            "duration_s": 5.0,
            "warmup_s": 1.0,
            "repeats": 1,
        },
        system={"hostname": "fixture-host", "cpu": {"model": "Fixture CPU (test data)"}},
        versions={"torch": "0.0.0-fixture", "onnxruntime": "0.0.0-fixture"},
        results=[
            _result("torch", 8.0 * scale, 125.0 / scale, speedup=1.0, note="baseline"),
            _result(
                "onnxruntime",
                5.0 * scale,
                200.0 / scale,
                speedup=1.6,
                warnings=(("few-samples", "fixture warning: only a fixture"),),
            ),
        ],
        baseline="torch",
    )


def fixture_history() -> tuple[RunRecord, ...]:
    return (
        fixture_record("fixture0002", "2001-02-04T12:00:00+00:00", scale=0.9),
        fixture_record("fixture0001", "2001-02-03T12:00:00+00:00"),
    )


def fixture_app(**kwargs):
    """A WorkbenchApp with every live input replaced by fixed data (frozen utilisation bars)."""
    from workbench.tui.app import WorkbenchApp

    options = dict(
        sysinfo=FIXTURE_SYSINFO,
        engines=FIXTURE_ENGINES,
        models=FIXTURE_MODELS,
        cpus=FIXTURE_CPUS,
        live_cpu=False,
        history=fixture_history(),
    )
    options.update(kwargs)
    app = WorkbenchApp(**options)
    app.animation_level = "none"  # no tab-underline / scroll animations to wait for in tests
    return app


def fixture_live_events(precision: str = "int8"):
    """TEST FIXTURE DATA: the events of a three-engine run in flight (seeded synthetic lognormal latencies, one
    slow outlier per engine); below fp32 each engine's fp32 baseline variant streams too."""
    import numpy as np

    from workbench.measure import events as ev
    from workbench.measure.precision import baseline_name
    from workbench.stats.histogram import LogHistogram

    run_id = "fixturelive1"
    engines = ("torch", "onnxruntime", "openvino")
    out: list = [
        ev.RunStarted(
            run_id=run_id,
            model="resnet18",
            engines=engines,
            config={"precision": precision, "mode": "latency", "batch": 1},
            pid=1,
        )
    ]
    names = [(e, 1.0) for e in engines]
    if precision != "fp32":
        names += [(baseline_name(e), 1.8) for e in engines]
    for i, (name, slower) in enumerate(names):
        rng = np.random.default_rng(100 + i)
        base_ms = (4.0, 2.5, 2.0)[i % 3] * slower
        samples = rng.lognormal(np.log(base_ms * 1e6), 0.08, 600).astype(np.int64)
        samples[0] = int(base_ms * 40 * 1e6)  # one slow outlier, 40× the median
        hist = LogHistogram()
        hist.add(samples)
        p50, p99 = (float(v) / 1e6 for v in np.percentile(samples, [50, 99]))
        out.append(
            ev.EngineLoaded(
                run_id=run_id,
                engine=name,
                load_ms=100.0 + i,
                first_inference_ms=5.0,
                effective={"precision": precision if name in engines else "fp32", "threads": 7},
            )
        )
        out.append(
            ev.Progress(
                run_id=run_id,
                engine=name,
                round=0,
                rounds=1,
                iterations=600,
                elapsed_s=2.0,
                target_s=5.0,
                fraction=0.4,
                p50_ms=p50,
                p99_ms=p99,
                throughput=1000.0 / p50,
                hist=hist.binned(40, lo_q=0.001, hi_q=0.99, log=True),
            )
        )
    return out


def feed_live(app, precision: str = "int8", eta_s: float = 12.0) -> None:
    """Show :func:`fixture_live_events` in the app's Live pane as a run in flight, with a fixed ETA."""
    from workbench.tui.widgets.live import LivePane

    live = app.query_one(LivePane)
    live.begin(("torch", "onnxruntime", "openvino"), "resnet18 · preparing the model…", origin="run")
    for event in fixture_live_events(precision):
        live.apply(event)
    live._eta_s = eta_s
    live._render_status()
    live._redraw()


# ---- --mode generate (TEST FIXTURE DATA: hand-written numbers, nothing measured) -----------------------------------
def _gen_result(
    engine: str,
    ttft: float,
    tpot: float,
    *,
    precision: str = "fp32",
    agree: int = 8,
    speedup: float | None = None,
    note: str | None = None,
) -> EngineResult:
    pcts = {"p50": 1.0, "p90": 1.1, "p95": 1.15, "p99": 1.4}
    diverged = agree < 8
    parity = {
        "status": ("diverged" if precision != "fp32" else "fail") if diverged else "pass",
        "reference": "torch fp32",
        "kind": "tokens",
        "tokens_compared": 8,
        "tokens_agree": agree,
        "first_divergence": agree if diverged else None,
        "rel_l2": 2.0e-7 if not diverged else 3.1e-2,
        "message": (
            f"greedy tokens diverge from torch fp32's at position {agree} ({agree} of 8 agree)"
            if diverged
            else "all 8 greedy tokens equal torch fp32's"
        ),
    }
    if engine == "torch" and precision == "fp32":
        parity = {"status": "reference", "kind": "tokens", "reference": "torch fp32"}
    return EngineResult(
        engine=engine,
        model="tiny-llama",
        engine_version="0.0.0-fixture",
        mode="generate",
        threads=7,
        cores=list(range(1, 8)),
        precision_requested=precision,
        precision_effective=precision,
        latency_ms={f"p{k[1:]}" if k != "mean" else k: tpot * f for k, f in {**pcts, "mean": 1.05}.items()},
        iterations=700,
        duration_s=5.0,
        load_ms=300.0,
        peak_rss_mb=420.0,
        parity=parity,
        speedup=speedup,
        speedup_note=note,
        generation={
            "ttft_ms": {k: ttft * f for k, f in {**pcts, "mean": 1.05}.items()},
            "tpot_ms": {k: tpot * f for k, f in {**pcts, "mean": 1.05}.items()},
            "tokens_per_s": {"decode": 1000.0 / (tpot * 1.05), "end_to_end": 1000.0 / (tpot * 1.3)},
            "prompt_tokens": 16,
            "new_tokens": 8,
            "batch": 1,
            "generations": 100,
            "tokens": 800,
            "decode_steps": 700,
        },
    )


def fixture_generate_record(run_id: str = "fixturegen1") -> RunRecord:
    """A three-engine ``--mode generate`` run of tiny-llama (TEST FIXTURE DATA): torch is the token reference,
    onnxruntime agrees with it, openvino at the same precision diverges at token 3 (no speedup shown)."""
    return RunRecord(
        run_id=run_id,
        created="2001-02-05T12:00:00+00:00",
        model={"name": "tiny-llama", "source": "builtin", "task": "text-generation"},
        config={
            "model": "tiny-llama",
            "engines": ["torch", "onnxruntime", "openvino"],
            "mode": "generate",
            "batch": 1,
            "precision": "fp32",
            "device": "cpu",
            "threads": 7,
            "cores": list(range(1, 8)),
            "duration_s": 5.0,
            "warmup_s": 1.0,
            "repeats": 1,
            "prompt_tokens": 16,
            "new_tokens": 8,
        },
        system={"hostname": "fixture-host", "cpu": {"model": "Fixture CPU (test data)"}},
        versions={"torch": "0.0.0-fixture"},
        results=[
            _gen_result("torch", 3.0, 1.2, speedup=1.0, note="baseline"),
            _gen_result("onnxruntime", 4.1, 0.6, speedup=2.0),
            _gen_result(
                "openvino", 2.2, 0.5, agree=3, note="2.40× ratio of medians, not a speedup: parity failed for openvino"
            ),
        ],
        baseline="torch",
    )


def fixture_generate_events():
    """TEST FIXTURE DATA: a three-engine generate run in flight; each progress carries the per-token histogram
    (``hist``) and the time-to-first-token one (``ttft_hist``), from seeded synthetic lognormal samples."""
    import numpy as np

    from workbench.measure import events as ev
    from workbench.stats.histogram import LogHistogram

    run_id = "fixturegen1"
    engines = ("torch", "onnxruntime", "openvino")
    out: list = [
        ev.RunStarted(
            run_id=run_id,
            model="tiny-llama",
            engines=engines,
            config={"precision": "fp32", "mode": "generate", "batch": 1, "prompt_tokens": 16, "new_tokens": 8},
            pid=1,
        )
    ]
    for i, name in enumerate(engines):
        rng = np.random.default_rng(200 + i)
        tpot_ms, ttft_ms = (1.2, 0.6, 0.5)[i], (3.0, 4.1, 2.2)[i]
        tok = rng.lognormal(np.log(tpot_ms * 1e6), 0.1, 700).astype(np.int64)
        first = rng.lognormal(np.log(ttft_ms * 1e6), 0.05, 100).astype(np.int64)
        hist, ttft_hist = LogHistogram(), LogHistogram()
        hist.add(tok)
        ttft_hist.add(first)
        p50, p99 = (float(v) / 1e6 for v in np.percentile(tok, [50, 99]))
        out.append(
            ev.EngineLoaded(
                run_id=run_id, engine=name, load_ms=300.0 + i, first_inference_ms=5.0,
                effective={"precision": "fp32", "threads": 7},
            )
        )  # fmt: skip
        out.append(
            ev.Progress(
                run_id=run_id,
                engine=name,
                round=0,
                rounds=1,
                iterations=700,
                elapsed_s=2.0,
                target_s=5.0,
                fraction=0.4,
                p50_ms=p50,
                p99_ms=p99,
                throughput=1000.0 / p50,
                hist=hist.binned(40, lo_q=0.001, hi_q=0.99, log=True),
                ttft_hist=ttft_hist.binned(40, lo_q=0.001, hi_q=0.99, log=True),
            )
        )
    return out


def feed_generate_live(app, eta_s: float = 12.0) -> None:
    """Show :func:`fixture_generate_events` in the app's Live pane as a generate run in flight."""
    from workbench.tui.widgets.live import LivePane

    live = app.query_one(LivePane)
    live.begin(("torch", "onnxruntime", "openvino"), "tiny-llama · preparing the model…", origin="run")
    for event in fixture_generate_events():
        live.apply(event)
    live._eta_s = eta_s
    live._render_status()
    live._redraw()
