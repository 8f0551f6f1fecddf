"""LoadGen against the workbench's own loop, and the max-QPS search (docs/performance.md, "Latency under load").

    python docs/measure/loadgen_scenarios.py pairs -m resnet18 -e onnxruntime --cores 0,1 --pairs 3 --duration 10
    python docs/measure/loadgen_scenarios.py maxqps -m resnet18 -e onnxruntime --cores 0,1 --bound 100ms --repeats 5

``pairs``: alternating runs on the same engine and cores — ``workbench run --mode latency`` and ``workbench run
--scenario singlestream`` (LoadGen issuing one query at a time) — and the ratio of their p50 and p90 per pair
(SingleStream's from LoadGen's own log and from the workbench's per-query timestamps), with the median over pairs.

``maxqps``: ``workbench run --find-max-qps`` timed end to end, then ``--repeats`` Server runs at the QPS it found
(or at ``--rerun-at`` when it confirmed none), with the probes' settings: how many of them LoadGen calls VALID.

Every run is a real ``workbench run`` command (its own pinned benchmark process), not saved to the history.
Prints one JSON document; the CPU model is read from /proc/cpuinfo.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def wb(args: list[str], *, show: bool = False) -> dict:
    """``workbench run ARGS`` (not saved); ``show``: its progress lines (the search's probes) go to our stderr."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = [sys.executable, "-m", "workbench", "run", *args, "--no-save", "--json", str(out)]
        if not show:
            cmd.append("-q")
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=None if show else subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr or ''}")
        return json.loads(out.read_text())


def pairs(a: argparse.Namespace) -> dict:
    common = ["-m", a.model, "-e", a.engine, "--cores", a.cores, "-d", str(a.duration), "--no-parity"]
    rows = []
    for i in range(a.pairs):
        order = ["latency", "singlestream"] if i % 2 == 0 else ["singlestream", "latency"]
        got = {}
        for kind in order:
            extra = ["--mode", "latency"] if kind == "latency" else ["--scenario", "singlestream"]
            got[kind] = wb(common + extra)["results"][0]
        lat = got["latency"]["latency_ms"]
        ss = got["singlestream"]
        lg = ss["loadgen"]["latency_ms"]
        rows.append(
            {
                "order": order,
                "latency_p50": lat["p50"],
                "latency_p90": lat["p90"],
                "singlestream_p50_loadgen": lg["p50"],
                "singlestream_p90_loadgen": lg["p90"],
                "singlestream_p50_own": ss["latency_ms"]["p50"],
                "singlestream_validity": ss["loadgen"]["validity"],
                "ratio_p50": lg["p50"] / lat["p50"],
                "ratio_p90": lg["p90"] / lat["p90"],
            }
        )
    return {
        "pairs": rows,
        "median_ratio_p50": statistics.median(r["ratio_p50"] for r in rows),
        "median_ratio_p90": statistics.median(r["ratio_p90"] for r in rows),
    }


def maxqps(a: argparse.Namespace) -> dict:
    common = ["-m", a.model, "-e", a.engine, "--cores", a.cores, "--no-parity"]
    if a.min_queries:  # the probes' and the re-runs' minimum queries (default: the 460 early stopping needs at p99)
        common += ["--min-queries", str(a.min_queries)]
    t0 = time.monotonic()
    rec = wb(common + ["--find-max-qps", "--latency-bound", a.bound, "-d", str(a.duration)], show=True)
    took = time.monotonic() - t0
    search = rec["results"][0]["qps_search"]
    best = search["best"]
    out = {
        "search_s": took,
        "offline_qps": search["offline_qps"],
        "first_estimate": search.get("first_estimate"),
        "resolution": search.get("resolution"),
        "best": best,
        "confirmed": f"{search['confirmed']}/{search['confirm_runs']}",
        "min_queries": search.get("min_queries"),
        "allowed_over": search.get("allowed_over"),
        "probes": search["probes"],
    }
    rerun_at = best["target_qps"] if best else a.rerun_at
    out["rerun_at"] = rerun_at
    if rerun_at:
        # the re-runs use the probes' settings: at least PROBE_BOUNDS bounds long, the same minimum queries
        from workbench.campaign.maxqps import PROBE_BOUNDS
        from workbench.measure.scenario import parse_duration_ms

        duration = max(a.duration, PROBE_BOUNDS * parse_duration_ms(a.bound) / 1e3)
        reruns = []
        for _ in range(a.repeats):
            t1 = time.monotonic()
            r = wb(
                common
                + ["--scenario", "server", "--target-qps", str(rerun_at), "--latency-bound", a.bound]
                + ["-d", str(duration)]
            )["results"][0]["loadgen"]
            reruns.append(
                {
                    "validity": r["validity"],
                    "p99_ms": r["target_latency_ms"],
                    "qps": r["qps"],
                    "queries": r["queries"],
                    "overlatency_queries": r.get("overlatency_queries"),
                    "issue_delay_ms": r.get("issue_delay_ms"),
                    "seconds": time.monotonic() - t1,
                }
            )
        out["reruns"] = reruns
        out["valid_reruns"] = sum(r["validity"] == "VALID" for r in reruns)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["pairs", "maxqps"])
    ap.add_argument("-m", "--model", default="resnet18")
    ap.add_argument("-e", "--engine", default="onnxruntime")
    ap.add_argument("--cores", default="0,1")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--bound", default="100ms")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-queries", type=int, help="maxqps: --min-queries for the probes and the re-runs")
    ap.add_argument("--rerun-at", type=float, help="maxqps: the rate to re-run at when the search confirmed none")
    a = ap.parse_args()
    doc = {"cpu": cpu_model(), "command": " ".join(sys.argv), **(pairs(a) if a.what == "pairs" else maxqps(a))}
    print(json.dumps(doc, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
