"""Measure key handling while a run streams: time from a posted key to its action (docs/performance.md)."""

import asyncio
import statistics
import sys
import time

from textual import events

from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.live import LivePane


async def presses(app, n=16):
    handled, painted = [], []
    for i in range(n):
        key, want = ("2", "setup") if i % 2 == 0 else ("3", "live")
        app._t_action = None
        t0 = time.perf_counter()
        app.post_message(events.Key(key, key))
        while app._t_action is None:
            await asyncio.sleep(0.0005)
        handled.append((app._t_action - t0) * 1000)
        # painted: wait until the screen's next refresh completes
        pass
        await asyncio.sleep(0)
        painted.append((time.perf_counter() - t0) * 1000)
        await asyncio.sleep(0.2)
    return handled


async def main(size):
    app = WorkbenchApp(
        initial=dict(model="resnet18", engines=("onnxruntime",), duration_s=20, warmup_s=0.5, cores=(1,))
    )
    orig = app.action_show_view

    def wrapped(name):
        app._t_action = time.perf_counter()
        return orig(name)

    app.action_show_view = wrapped
    async with app.run_test(size=size) as pilot:
        while not app.query_one("#setup").engines:
            await pilot.pause(0.05)
        await pilot.pause(1)
        idle = await presses(app)
        await pilot.press("r")
        while app.query_one(LivePane).fraction <= 0.05:
            await pilot.pause(0.05)
        busy = await presses(app)
        await pilot.press("s")
    print(
        size,
        f"key->handler idle median {statistics.median(idle):.1f} max {max(idle):.1f} | running median {statistics.median(busy):.1f} max {max(busy):.1f} ms",
    )


asyncio.run(main((int(sys.argv[1]), int(sys.argv[2]))))
