"""Generation harness check (docs/performance.md, *Text generation*): the torch manual KV-cache loop timed
in-process, without the workbench, against the same loop run by ``workbench run --mode generate`` (a pinned
benchmark process, samples streamed to the parent); then OpenVINO GenAI's own perf_metrics against our timing of
the same generations (from the same run's JSON).

    python docs/measure/generate_overhead.py [MODEL] [GENERATIONS]      # default llama-512, 20

Both sides use cores 0-1, 2 threads, prompt 128 tokens, 64 new tokens, greedy, and the same prompt ids.
"""

import os
import sys

os.sched_setaffinity(0, {0, 1})  # pin before torch is imported, as the benchmark child does
import json
import statistics
import subprocess
import tempfile
import time

from workbench.models.generative import prompt_ids, resolve_generative
from workbench_engines.base import LoadSettings
from workbench_engines.generate import load_torch

MODEL = sys.argv[1] if len(sys.argv) > 1 else "llama-512"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20
PROMPT, NEW = 128, 64

art = resolve_generative(MODEL, formats={"hf-causal-lm", "openvino-genai"})
ids = [prompt_ids(art, None, PROMPT)]  # a batch of one prompt
gen = load_torch(art, LoadSettings(threads=2, mode="generate"))
for _ in range(2):
    gen.generate(ids, NEW)
ttft, tpot = [], []
t_start = time.perf_counter()
for _ in range(N):
    tr = gen.generate(ids, NEW)
    ttft.append(tr.step_ns[0] / 1e6)
    tpot += [s / 1e6 for s in tr.step_ns[1:]]
inproc = {"ttft_p50": statistics.median(ttft), "tpot_mean": statistics.mean(tpot), "tpot_p50": statistics.median(tpot)}
del gen

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "r.json")
    cmd = ["workbench", "run", "-m", MODEL, "--mode", "generate", "-e", "torch,openvino", "-c", "0-1", "-t", "2"]
    cmd += ["--prompt-tokens", str(PROMPT), "--new-tokens", str(NEW), "-d", "0", "-n", str(N), "-w", "2it"]
    cmd += ["-q", "--no-save", "--json", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rec = json.load(open(out))
by = {r["engine"]: r for r in rec["results"]}
g = by["torch"]["generation"]
wb = {"ttft_p50": g["ttft_ms"]["p50"], "tpot_mean": g["tpot_ms"]["mean"], "tpot_p50": g["tpot_ms"]["p50"]}
print(f"{MODEL}: prompt {PROMPT}, new {NEW}, {N} generations, cores 0-1, 2 threads")
print(f"{'torch loop':24} {'TTFT p50 ms':>12} {'tok mean ms':>12} {'tok p50 ms':>11}")
for label, d in (("in-process", inproc), ("via workbench", wb)):
    print(f"{label:24} {d['ttft_p50']:12.3f} {d['tpot_mean']:12.3f} {d['tpot_p50']:11.3f}")
print(
    f"{'workbench / in-process':24} {wb['ttft_p50'] / inproc['ttft_p50']:12.3f} "
    f"{wb['tpot_mean'] / inproc['tpot_mean']:12.3f} {wb['tpot_p50'] / inproc['tpot_p50']:11.3f}"
)
ov = by["openvino"]["generation"]
own = ov.get("engine_timing") or {}
print(
    f"openvino: ours TTFT mean {ov['ttft_ms']['mean']:.3f} ms, mean tok {ov['tpot_ms']['mean']:.3f} ms; "
    f"perf_metrics TTFT {own.get('ttft_ms', float('nan')):.3f} ms, TPOT {own.get('tpot_ms', float('nan')):.3f} ms "
    f"(ours {100 * (own.get('ttft_ours_vs_engine') or 0):+.1f} % / {100 * (own.get('tpot_ours_vs_engine') or 0):+.1f} %)"
)
