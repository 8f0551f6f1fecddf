"""ONNX Runtime on the workbench's export vs optimum's export of the same weights (docs/performance.md).

Builds a transformers built-in through the workbench (its cached seeded weights), saves those weights with
``save_pretrained``, exports them with optimum's ONNX exporter (``optimum-cli export onnx``, run from a separate
virtual environment: optimum is not a workbench dependency), and times both ONNX files — plus, with ``--before``,
the workbench's previous export (static shapes, opset 17) — with the workbench's own ONNX Runtime adapter, so every
file gets the same session options (intra-op threads, inter-op 1, sequential, ORT_ENABLE_ALL). Files are timed in
rounds, each file a few seconds per round, the order rotated every round; a pair is one round's p50s.
Both files must compute the same function: the script checks their outputs against each other first.

    python -m venv /tmp/optenv && /tmp/optenv/bin/pip install optimum-onnx onnxruntime torch
    flock /tmp/cpu.lock python docs/measure/ort_vs_optimum.py -m bert_base --optimum-cli /tmp/optenv/bin/optimum-cli
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--model", default="bert_base", choices=("bert_base", "distilbert"))
    p.add_argument("--optimum-cli", default="/tmp/optenv/bin/optimum-cli", help="optimum-cli of the optimum venv")
    p.add_argument("--optimum-onnx", help="an optimum export made before (skips the export)")
    p.add_argument("--pairs", type=int, default=6, help="rounds (each one p50 per file); default 6")
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per file and round; default 3")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cores", default="0,1", help="cores to pin to (before any engine is imported)")
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--before", action="store_true", help="also time the previous export (static, opset 17)")
    p.add_argument("--json", help="write the numbers here")
    return p.parse_args()


def optimum_export(model_dir: Path, out: Path, cli: str) -> Path:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [cli, "export", "onnx", "--model", str(model_dir), "--task", "text-classification", str(out)]
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out / "model.onnx"


def main() -> int:
    args = parse()
    cores = [int(c) for c in args.cores.split(",")]
    os.sched_setaffinity(0, cores)  # before any engine creates its thread pool
    import numpy as np
    import torch

    from workbench.models import zoo
    from workbench.models.inputs import make_inputs
    from workbench.models.resolve import export_onnx, resolve, resolve_file
    from workbench_engines.base import LoadSettings
    from workbench_engines.onnxruntime_engine import OnnxRuntimeEngine

    seq = {"input_ids": (1, args.seq)}
    art = resolve(args.model, shapes=seq, formats={"torch-builtin", "onnx"})
    work = Path(tempfile.mkdtemp(prefix="ort-vs-optimum-"))
    files = {"workbench": art}
    module = zoo.build_module(args.model, calibrate=False)  # eager attention, as the workbench exports it
    module.load_state_dict(torch.load(art.files["torch-builtin"], map_location="cpu", weights_only=True))
    if args.optimum_onnx:
        opt_path = Path(args.optimum_onnx)
    else:
        module.model.save_pretrained(str(work / "hf"))  # the same weights the workbench exports
        opt_path = optimum_export(work / "hf", work / "optimum", args.optimum_cli)
    files["optimum"] = resolve_file(opt_path, shapes={n: seq["input_ids"] for n in ("input_ids", "attention_mask")})
    if args.before:
        info = zoo.get(args.model)
        static = zoo.recipe_for(info.inputs, (), transformers=True, outputs=info.outputs)
        export_onnx(module, art.inputs, work / "static.onnx", info.outputs, static)
        files["workbench before (static, opset 17)"] = replace(
            art, files={"onnx": str(work / "static.onnx")}, export={}
        )

    feeds = make_inputs(art.inputs, seed=0)  # the same token ids for every file; token types (optimum's) zeros
    loaded = {}
    for label, artifact in files.items():
        model = OnnxRuntimeEngine.load(artifact, LoadSettings(threads=args.threads))
        model.set_inputs({s.name: feeds.get(s.name, np.zeros(s.shape, np.int64)) for s in model.inputs})
        for _ in range(5):
            model.infer()
        loaded[label] = model
    ref = next(iter(loaded["workbench"].outputs().values()))
    for label, model in loaded.items():
        out = next(iter(model.outputs().values()))
        err = float(np.linalg.norm(out - ref) / np.linalg.norm(ref))
        assert err < 1e-4, f"{label} computes another function (relative L2 {err:.2e})"
    eff = loaded["workbench"].effective()
    print(
        f"session options (every file): {eff.threads} intra-op threads, {eff.extra['inter_op_threads']} inter-op, "
        f"{eff.extra['graph_optimization']}; pinned to cores {args.cores}"
    )

    p50s: dict[str, list[float]] = {label: [] for label in loaded}
    labels = list(loaded)
    for r in range(args.pairs):  # every file takes every position equally often: A B, B A (A B C, B C A, C A B)
        order = labels[r % len(labels) :] + labels[: r % len(labels)]
        for label in order:
            model, lat = loaded[label], []
            end = time.perf_counter() + args.seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter_ns()
                model.infer()
                lat.append(time.perf_counter_ns() - t0)
            p50s[label].append(statistics.median(lat) / 1e6)
    report = {"model": args.model, "seq": args.seq, "threads": args.threads, "cores": args.cores,
              "pairs": args.pairs, "seconds": args.seconds, "p50_ms": p50s, "ratio_to_optimum": {}}  # fmt: skip
    print(f"{args.model}, batch 1, seq {args.seq}: p50 per round (ms), ratio to optimum's p50 in the same round")
    for label in labels:
        ratios = [a / b for a, b in zip(p50s[label], p50s["optimum"], strict=True)]
        report["ratio_to_optimum"][label] = {
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
        }
        print(
            f"  {label:38s} p50 median {statistics.median(p50s[label]):7.2f} ms   ratio median "
            f"{statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
