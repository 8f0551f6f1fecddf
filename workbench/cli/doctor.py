"""``workbench doctor``: check the machine for noise up front and measure the harness's own overhead.

The overhead is measured through the real path — a pinned benchmark process running the no-op engine — so the
number is what every timed iteration of a real run pays: ``loop ns/iter`` (wall time of the measured loop divided
by iterations: timer calls, sample store, stop checks) and the ``timer floor`` (median of the no-op latencies:
what a measured latency can never go below).
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Mapping

from workbench.cli.args import add_args, add_command, cpu_list
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


def _aa_config(args: argparse.Namespace) -> Any:
    """The one-engine :class:`~workbench.measure.runner.RunConfig` that ``doctor --aa`` repeats; usage errors for
    what cannot make a spread."""
    from workbench.campaign.aa import MIN_RUNS
    from workbench.errors import UsageError
    from workbench.measure.runner import RunConfig

    if not args.model:
        raise UsageError("--aa needs the model to measure: -m MODEL", hint="e.g. `workbench doctor --aa -m resnet18`")
    engines = args.engines or ("onnxruntime",)
    if len(engines) != 1:
        raise UsageError(f"--aa measures one engine at a time; got {', '.join(engines)}", hint="run it once per engine")
    if args.runs < MIN_RUNS:
        raise UsageError(f"--runs must be at least {MIN_RUNS} (a spread needs several runs), not {args.runs}")
    return RunConfig(
        model=args.model,
        engines=tuple(engines),
        precision=args.precision,
        mode=args.mode,
        batch=args.batch,
        threads=args.threads,
        cores=tuple(args.cores) if args.cores else None,
        duration_s=args.duration,
    )


def _aa_progress(args: argparse.Namespace) -> Callable[[int, Any], None]:
    """One line per finished run (to stderr under --json, so stdout stays JSON)."""
    import sys

    from workbench.units import ms, rate

    def progress(i: int, record: Any) -> None:
        r = record.results[0]
        print(
            f"[{i + 1}/{args.runs}] {r.engine} {record.model.get('name')}: p50 {ms((r.latency_ms or {}).get('p50'))} ms,"
            f" {rate(r.throughput)} items/s",
            file=sys.stderr if args.json else sys.stdout,
            flush=True,
        )

    return progress


def _spread_rows(entry: Mapping[str, Any]) -> list[list[str]]:
    """Per metric: the range over the runs, the run-to-run spread and the smallest change a compare of one run
    each can call (99% two-sided, t with runs - 1 df)."""
    from workbench.stats.verdict import ALPHA, SPREAD_METRICS, t_quantile
    from workbench.units import ms, percent, rate

    crit = t_quantile(ALPHA, entry["runs"] - 1)
    rows = []
    for m in SPREAD_METRICS:
        sigma = entry["sigma"].get(m)
        if sigma is None:
            continue
        vals = entry["values"][m]
        fmt = rate if m == "throughput" else ms
        mdc = 100 * (pow(2.718281828459045, crit * sigma * 2**0.5) - 1)
        rows.append([m, f"{fmt(min(vals))} – {fmt(max(vals))}", f"±{percent(100 * sigma)}", f"±{percent(mdc)}"])
    return rows


def _print_spread(entry: Mapping[str, Any], rows: list[list[str]], fingerprint: str | None, stored: Any) -> None:
    headers = [
        "metric",
        f"range over {entry['runs']} runs",
        "run-to-run spread",
        "smallest change one run each can call",
    ]
    print()
    print(table(headers, rows, align="lrrr"))
    print(
        f"\n{entry['engine']} {entry['model']} {entry['precision']} t{entry['threads']} b{entry['batch']} "
        f"{entry['mode']}: a `workbench compare` of one run each calls a change only beyond the last column "
        f"(99% two-sided, t with {entry['runs'] - 1} df); with --repeats 3 or more the repeats decide, never below "
        "this spread."
    )
    if stored:
        print(
            f"stored for this machine (fingerprint {fingerprint}) in {stored}; compare, the CI gate, "
            "speedups, sweeps and recommend use it from now on"
        )


def run_aa(args: argparse.Namespace) -> int:
    """``doctor --aa``: run one configuration ``--runs`` times (each its own process), print the spread between
    the runs and what it means for a compare of one run each, and store it for this machine."""
    from workbench.campaign.aa import measure_spread
    from workbench.machine.spread import save_entry

    config = _aa_config(args)
    result = measure_spread(config, args.runs, on_run=_aa_progress(args))
    entry = result.entry
    stored = save_entry(result.fingerprint, entry) if result.fingerprint and not args.no_save else None
    rows = _spread_rows(entry)
    if args.json:
        print(json.dumps({"fingerprint": result.fingerprint, "stored": str(stored) if stored else None, **entry}))
        return 0
    _print_spread(entry, rows, result.fingerprint, stored)
    return 0


def register(sub: Any) -> None:
    from workbench.cli.args import engines_list, positive_int

    p = add_command(
        sub,
        "doctor",
        cmd_doctor,
        help="check the machine for noise before benchmarking; measure harness overhead and the run-to-run spread",
        description="Check the cores a benchmark would use for noise (background load, steal, governor, SMT "
        "siblings) and measure the harness's own overhead. With --aa, run one configuration several times, each "
        "run its own benchmark process, and store how much its p50, p90, p99 and throughput move between runs on "
        "this machine: every verdict between runs (compare, the CI gate, speedups, sweeps, recommend) is judged "
        "against that spread.",
        epilog="examples:\n  workbench doctor\n  workbench doctor --aa -m resnet18 -e onnxruntime   # 10 runs of 2 s, about a minute",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_args(
        p,
        ("--json", "machine-readable output", {"action": "store_true"}),
        ("--cores -c", "cores to check (default: the benchmark default)", {"type": cpu_list}),
    )
    add_args(
        p.add_argument_group("A/A spread (--aa)"),
        ("--aa", "measure this machine's run-to-run spread for -m/-e", {"action": "store_true"}),
        ("--model -m", "the model to measure (a built-in name or a file)", {}),
        ("--engines -e", "the one engine to measure (default onnxruntime)", {"type": engines_list}),
        (
            "--runs",
            "separate runs (default 10; at least 3: fewer runs know less)",
            {"type": positive_int, "default": 10},
        ),
        ("--duration", "seconds measured per run (default 2)", {"type": float, "default": 2.0}),
        ("--threads -t", "threads (default: one per pinned core)", {"type": positive_int}),
        ("--batch -b", "batch size (default 1)", {"type": positive_int, "default": 1}),
        ("--precision -p", "precision", {"default": "fp32", "choices": ["fp32", "bf16", "fp16", "int8"]}),
        ("--mode", "mode (default latency)", {"default": "latency", "choices": ["latency", "throughput"]}),
        ("--no-save", "print the spread without storing it", {"action": "store_true"}),
    )


def cmd_doctor(args: argparse.Namespace) -> int:
    if getattr(args, "aa", False):
        return run_aa(args)
    return run_doctor(cores=args.cores, as_json=args.json)
