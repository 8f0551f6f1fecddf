"""``workbench doctor``: check the machine for noise up front and measure the harness's own overhead.

The overhead is measured through the real path — a pinned benchmark process running the no-op engine — so the
number is what every timed iteration of a real run pays: ``loop ns/iter`` (wall time of the measured loop divided
by iterations: timer calls, sample store, stop checks) and the ``timer floor`` (median of the no-op latencies:
what a measured latency can never go below).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from workbench.cli.args import cpu_list
from workbench.report.text import table


def harness_overhead(cores: tuple[int, ...] | None = None, duration_s: float = 1.0) -> dict[str, Any]:
    from workbench.measure.runner import RunConfig, Runner
    from workbench_engines.base import ModelArtifact, TensorSpec

    artifact = ModelArtifact(
        name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1,), "float32"),)
    )
    config = RunConfig(
        model="noop",
        engines=("noop",),
        cores=cores,
        threads=1,
        duration_s=duration_s,
        warmup_s=0.2,
        parity=False,
        min_iterations=1000,
    )
    record = Runner(config, live=False, artifact=artifact).run()
    res = record.results[0]
    if not res.ok or not res.latency_ms or not res.latency_ms.get("p50") or not res.duration_s or not res.iterations:
        return {"error": res.error or "the no-op run measured nothing"}
    loop_ns = res.duration_s * 1e9 / res.iterations
    return {
        "loop_ns_per_iter": loop_ns,
        "timer_floor_ns": float(res.latency_ms["p50"] or 0.0) * 1e6,
        "iterations": res.iterations,
        "cores": res.cores,
    }


def run_doctor(cores: tuple[int, ...] | None = None, as_json: bool = False) -> int:
    """Check the cores a benchmark would use (``cores``, default: the benchmark default) and nothing else: the
    noise checks (background load, steal, governor, SMT siblings) and the overhead run all watch the same set."""
    from workbench.machine.cpus import default_cores
    from workbench.machine.doctor import doctor_report
    from workbench_engines.registry import engine_infos

    cores = tuple(cores) if cores else default_cores()
    engines = [(i.name, i.installed, i.version) for i in engine_infos()]
    checks: list[dict[str, Any]] = list(doctor_report(engines=engines, cores=cores))
    overhead = harness_overhead(cores)
    if "error" in overhead:
        checks.append({"name": "harness overhead", "status": "fail", "detail": overhead["error"]})
    else:
        status = "ok" if overhead["loop_ns_per_iter"] <= 2000 else "warn"
        checks.append(
            {
                "name": "harness overhead",
                "status": status,
                "detail": f"{overhead['loop_ns_per_iter']:.0f} ns per timed iteration (target <= 2000), "
                f"timer floor {overhead['timer_floor_ns']:.0f} ns, pinned to {list(overhead['cores'])}",
            }
        )
    if as_json:
        print(json.dumps({"cores": list(cores), "checks": checks, "overhead": overhead}, indent=2, default=str))
    else:
        print(
            table(
                ["check", "status", "detail"],
                [[c["name"], c["status"].upper(), c["detail"]] for c in checks],
                align="lll",
            )
        )
    return 1 if any(c["status"] == "fail" for c in checks) else 0


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check the machine for noise before benchmarking; measure harness overhead")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--cores", "-c", type=cpu_list, help="cores to check (default: the benchmark default)")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    return run_doctor(cores=args.cores, as_json=args.json)
