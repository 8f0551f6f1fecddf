"""Alternate a headless `workbench run` and the same run in the UI (Pilot), comparing p50 (docs/performance.md)."""

import asyncio
import json
import statistics
import subprocess
import sys
import time

from workbench.tui.app import WorkbenchApp

CFG = dict(model="resnet18", engines=("onnxruntime",), duration_s=8, warmup_s=1, cores=(1,))


def headless():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "run",
            "-m",
            "resnet18",
            "-e",
            "onnxruntime",
            "--cores",
            "1",
            "--duration",
            "8",
            "--warmup",
            "1s",
            "--no-save",
            "--json",
            "-",
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)["results"][0]["latency_ms"]["p50"]


async def ui(measure_keys=False):
    app = WorkbenchApp(initial=dict(CFG))
    lat = []
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.query_one("#setup").engines:
            await pilot.pause(0.05)
        await pilot.press("r")
        from workbench.tui.widgets.live import LivePane

        while app.query_one(LivePane).fraction <= 0.1:
            await pilot.pause(0.05)
        if measure_keys:
            for i in range(20):
                key, want = ("2", "setup") if i % 2 == 0 else ("3", "live")
                t0 = time.perf_counter()
                await pilot.press(key)
                while app.view != want:
                    await pilot.pause(0.001)
                lat.append((time.perf_counter() - t0) * 1000)
                await pilot.pause(0.1)
        while app.running:
            await pilot.pause(0.1)
        from workbench.tui.widgets.results import ResultsPane

        rec = app.query_one(ResultsPane).record
        return rec.results[0].latency_ms["p50"], lat


async def main():
    rows = []
    for i in range(3):
        h = headless()
        u, lat = await ui(measure_keys=(i == 0))
        rows.append((h, u))
        print(f"pair {i + 1}: headless p50 {h:.3f} ms  UI p50 {u:.3f} ms  diff {100 * (u / h - 1):+.2f}%", flush=True)
        if lat:
            print(
                f"key->view change while streaming: median {statistics.median(lat):.1f} ms, max {max(lat):.1f} ms (n={len(lat)})",
                flush=True,
            )


asyncio.run(main())
