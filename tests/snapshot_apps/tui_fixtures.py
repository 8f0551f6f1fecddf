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
