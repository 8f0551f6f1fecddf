"""A/A check of the compare verdicts on this machine (docs/methodology.md, "Verdicts between runs").

    python docs/measure/aa_verdicts.py -m mobilenet_v3_small -e onnxruntime --runs 6 --duration 3 --threads 2

1. ``--spread-runs`` runs (default 10) measure this machine's run-to-run spread, as ``workbench doctor --aa`` does.
2. ``--runs`` more identical runs, one after another; every consecutive pair is judged three ways:
   the within-run tests compare used before (Mann-Whitney U on the histograms for p50), the new rule with the
   assumed spread, and the new rule with the spread measured in step 1.
3. A real change: the same configuration with half the threads, judged against the last A/A run with both spreads.

Every run is a real ``Runner`` run (its own pinned benchmark process); nothing is saved to the history. Prints one
JSON document.
"""

import argparse
import json
import sys
from dataclasses import replace

from workbench.campaign.aa import measure_spread
from workbench.machine import sysinfo
from workbench.measure.runner import RunConfig, Runner
from workbench.stats.compare import ALPHA, compare
from workbench.stats.histogram import LogHistogram
from workbench.stats.summary import mann_whitney_from_histograms


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", "--model", default="mobilenet_v3_small")
    ap.add_argument("-e", "--engine", default="onnxruntime")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--spread-runs", type=int, default=10)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    cores = tuple(range(args.threads))
    config = RunConfig(
        model=args.model, engines=(args.engine,), threads=args.threads, cores=cores, duration_s=args.duration
    )
    log = sys.stderr

    print(f"measuring the spread: {args.spread_runs} runs", file=log, flush=True)
    aa = measure_spread(
        config, args.spread_runs, on_run=lambda i, r: print(f"  spread run {i + 1}", file=log, flush=True)
    )
    measured = [aa.entry]

    runs = []
    for i in range(args.runs):
        runs.append(Runner(config, live=False).run())
        print(f"  A/A run {i + 1}: p50 {runs[-1].results[0].latency_ms['p50']:.4f} ms", file=log, flush=True)
    pairs = []
    for a, b in zip(runs, runs[1:]):
        ha = LogHistogram.from_dict(a.results[0].histogram)
        hb = LogHistogram.from_dict(b.results[0].histogram)
        _, _, p_mw, _ = mann_whitney_from_histograms(ha, hb, regroup=True)
        assumed = compare(a, b).pairs[0].verdicts["p50"]
        with_measured = compare(a, b, spreads=measured).pairs[0].verdicts["p50"]
        change = assumed.change_pct
        pairs.append(
            {
                "change_pct": change,
                "within_run_mann_whitney": {
                    "p": p_mw,
                    "called_different": bool(p_mw < ALPHA and abs(change or 0) >= 1.0),
                },
                "assumed": {"verdict": assumed.verdict, "p": assumed.p_value, "ci_pct": assumed.ci_pct},
                "measured": {
                    "verdict": with_measured.verdict,
                    "p": with_measured.p_value,
                    "ci_pct": with_measured.ci_pct,
                },
            }
        )
    half = max(1, args.threads // 2)
    slow = Runner(replace(config, threads=half, cores=cores[:half]), live=False).run()
    halving = {
        "threads": [args.threads, half],
        "change_pct": compare(runs[-1], slow).pairs[0].verdicts["p50"].change_pct,
        "assumed": compare(runs[-1], slow).pairs[0].verdicts["p50"].verdict,
        "measured": compare(runs[-1], slow, spreads=measured).pairs[0].verdicts["p50"].verdict,
    }
    doc = {
        "machine": sysinfo.collect().get("cpu", {}).get("model"),
        "config": {"model": args.model, "engine": args.engine, "threads": args.threads, "duration_s": args.duration},
        "spread": {k: aa.entry[k] for k in ("runs", "sigma", "values")},
        "aa_p50_ms": [r.results[0].latency_ms["p50"] for r in runs],
        "pairs": pairs,
        "false_verdicts": {
            "within_run_mann_whitney": sum(p["within_run_mann_whitney"]["called_different"] for p in pairs),
            "assumed": sum(p["assumed"]["verdict"] in ("faster", "slower") for p in pairs),
            "measured": sum(p["measured"]["verdict"] in ("faster", "slower") for p in pairs),
            "pairs": len(pairs),
        },
        "halving_threads": halving,
    }
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
