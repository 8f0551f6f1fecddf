"""Measure how fast the TUI reacts to keys while a run streams (docs/performance.md, issue 19).

For each press: the time from the key event posted to the app until its action runs ("handled"), and until the next
frame is written to the terminal ("painted": App._display, called once per frame even in the headless driver). Two
kinds of key, alternating views (2 = Setup, 3 = Live) and a letter typed into a Setup field, first with nothing
running, then while resnet18 runs on onnxruntime pinned to the last core (the app's thread stays off that core).

    python docs/measure/key_latency.py 80 24
    python docs/measure/key_latency.py 120 40
"""

import asyncio
import os
import statistics
import sys
import time

from textual import events

from workbench.tui.app import WorkbenchApp
from workbench.tui.widgets.live import LivePane

PRESSES = 20


class Clock:
    """When the last action ran and the last frame was written (perf_counter seconds)."""

    def __init__(self) -> None:
        self.action = 0.0
        self.frame = 0.0


async def press(app, clock: Clock, key: str, character: str | None, wait_action: bool) -> tuple[float, float]:
    t0 = time.perf_counter()
    app.post_message(events.Key(key, character))
    deadline = t0 + 5
    while wait_action and clock.action < t0 and time.perf_counter() < deadline:
        await asyncio.sleep(0.0002)
    handled = (clock.action - t0) * 1000 if wait_action else float("nan")
    start = max(clock.action, t0)
    while clock.frame <= start and time.perf_counter() < deadline:
        await asyncio.sleep(0.0002)
    return handled, (clock.frame - t0) * 1000


async def series(app, clock: Clock) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"view handled": [], "view painted": [], "typed painted": []}
    for i in range(PRESSES):
        key = "2" if i % 2 == 0 else "3"
        handled, painted = await press(app, clock, key, key, True)
        out["view handled"].append(handled)
        out["view painted"].append(painted)
        await asyncio.sleep(0.15)
    app.action_show_view("setup")
    await asyncio.sleep(0.3)
    field = app.query_one("#setup-inputs")
    field.focus()
    await asyncio.sleep(0.3)
    for _ in range(PRESSES):
        _, painted = await press(app, clock, "x", "x", False)
        out["typed painted"].append(painted)
        await asyncio.sleep(0.1)
    field.value = ""
    app.query_one("#setup").focus()
    await asyncio.sleep(0.2)
    return out


async def main(size: tuple[int, int]) -> None:
    last = sorted(os.sched_getaffinity(0))[-1]
    app = WorkbenchApp(
        initial=dict(model="resnet18", engines=("onnxruntime",), duration_s=30, warmup_s=0.5, cores=(last,))
    )
    clock = Clock()
    show_view = app.action_show_view

    def timed_show_view(name: str) -> None:
        clock.action = time.perf_counter()
        show_view(name)

    app.action_show_view = timed_show_view  # type: ignore[method-assign]
    display = app._display

    def timed_display(*args, **kwargs):
        result = display(*args, **kwargs)
        clock.frame = time.perf_counter()
        return result

    app._display = timed_display  # type: ignore[method-assign]
    async with app.run_test(size=size) as pilot:
        while not app.query_one("#setup").engines:
            await pilot.pause(0.05)
        await pilot.pause(1)
        idle = await series(app, clock)
        app.action_run_bench()
        while app.query_one(LivePane).fraction <= 0.05:
            await pilot.pause(0.05)
        busy = await series(app, clock)
        app.action_stop(confirmed=True)
        while app.running:
            await pilot.pause(0.05)
    print(f"{size[0]}x{size[1]}  (median / max ms over {PRESSES} presses)")
    for name in idle:
        a, b = idle[name], busy[name]
        print(
            f"  {name:<14} idle {statistics.median(a):6.1f} / {max(a):6.1f}"
            f"   run streaming {statistics.median(b):6.1f} / {max(b):6.1f}"
        )


asyncio.run(main((int(sys.argv[1]), int(sys.argv[2]))))
