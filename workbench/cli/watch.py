"""``workbench watch``: follow a run started in another terminal (or SSH session) through its live event stream."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from workbench.cli.args import add_args, add_command, add_switches, number
from workbench.errors import WorkbenchError
from workbench.measure import events as ev
from workbench.measure.live import follow, list_live_runs
from workbench.report.text import ProgressLine
from workbench.units import duration, ms, rate


class NothingToWatch(WorkbenchError):
    exit_code = 1


def _pick(run_id: str | None, wait_s: float) -> str:
    deadline = time.monotonic() + wait_s
    while True:
        runs = list_live_runs()
        if run_id:
            match = [r for r in runs if r["run_id"].startswith(run_id)]
            if match:
                return match[0]["run_id"]
        elif runs:
            return runs[0]["run_id"]
        if time.monotonic() >= deadline:
            what = f"run {run_id!r}" if run_id else "run"
            raise NothingToWatch(f"no {what} in flight; start one with `workbench run ...` (or pass --wait SECONDS)")
        time.sleep(0.2)


def watch(run_id: str | None = None, *, wait_s: float = 0.0, as_json: bool = False) -> int:
    """Print the run's progress until it ends. Exit 0 when it finished cleanly, 1 otherwise."""
    rid = _pick(run_id, wait_s)
    progress = ProgressLine(enabled=None if not as_json else False)
    exit_code = 1
    generate = False  # a generate run: per-token latency and the time to first token
    for event in follow(rid):
        if as_json:
            print(json.dumps(ev.event_to_dict(event)), flush=True)
        if isinstance(event, ev.RunStarted):
            generate = (event.config or {}).get("mode") == "generate"
            if not as_json:
                what = "sweep" if (event.config or {}).get("kind") == "sweep" else "run"
                print(
                    f"watching {what} {event.run_id}: {event.model} on {', '.join(event.engines)} (pid {event.pid})",
                    flush=True,
                )
        elif isinstance(event, (ev.SweepStarted, ev.CellStarted, ev.CellFinished, ev.SweepFinished)):
            progress.clear()
            code = _sweep_event(event, as_json)
            if code is not None:
                exit_code = code
        elif isinstance(event, ev.Stage):
            if progress.enabled:
                progress.update(progress.fraction, event.message + " …")
            elif not as_json:
                print(event.message, flush=True)
        elif isinstance(event, ev.Progress):
            text = progress_text(event, generate)
            if progress.enabled:
                progress.update(event.fraction, text)
            elif not as_json:
                print(f"{event.fraction * 100:5.1f}%  {text}", flush=True)
        elif isinstance(event, (ev.EngineFailed, ev.EngineLoaded)) and not as_json:
            progress.clear()
            if isinstance(event, ev.EngineFailed):
                print(f"{event.engine} failed: {event.error}", flush=True)
            else:
                print(f"loaded {event.engine} in {duration(event.load_ms)}", flush=True)
        elif isinstance(event, ev.RunFinished):
            progress.clear()
            exit_code = event.exit_code
            if not as_json:
                from workbench.report.text import render_results
                from workbench.result import RunRecord

                print(render_results(RunRecord.from_dict(event.record)), flush=True)
        elif isinstance(event, ev.RunAborted):
            progress.clear()
            if not as_json:
                print(f"run {rid} ended: {event.reason}", file=sys.stderr, flush=True)
            exit_code = 1
    return exit_code


def progress_text(event: ev.Progress, generate: bool = False) -> str:
    """One engine's progress: p50, p99 and throughput; a generate run's say they are per output token, with
    tokens/s, and the time to first token's range so far (its live histogram's p0.1–p99 edges and count)."""
    tok = "tok " if generate or event.ttft_hist else ""
    text = f"{event.engine}  n={event.iterations}  {tok}p50 {ms(event.p50_ms)} ms  p99 {ms(event.p99_ms)} ms"
    if event.throughput:
        text += f"  {rate(event.throughput, ' tok/s' if tok else '/s')}"
    edges, counts = event.ttft_hist.get("edges_ms") or [], event.ttft_hist.get("counts") or []
    if len(edges) >= 2 and counts:
        text += f"  TTFT {ms(edges[0])}–{ms(edges[-1])} ms (p0.1–p99, n={sum(counts)})"
    return text


def _sweep_event(event: Any, as_json: bool) -> int | None:
    """One line per sweep event, as `workbench sweep` prints them; the exit code once the sweep has finished."""
    if isinstance(event, ev.SweepFinished):
        if not as_json:
            print(f"sweep {event.sweep_id} {event.state}: {event.done}/{event.total} cells", flush=True)
        return 0 if event.state == "complete" else 1
    if as_json:
        return None
    if isinstance(event, ev.SweepStarted):
        print(f"sweep {event.sweep_id}: {event.total} cells ({event.done} done before)", flush=True)
    elif isinstance(event, ev.CellStarted):
        eta = f" · ETA {duration(event.eta_s * 1000)}" if event.eta_s is not None else ""
        print(f"cell {event.index + 1}/{event.total}: {event.label}{eta}", flush=True)
    elif isinstance(event, ev.CellFinished):
        from workbench.report.sweep import cell_finished_line

        print(cell_finished_line(event), flush=True)
    return None


def register(sub: Any) -> None:
    p = add_command(
        sub, "watch", cmd_watch, help="follow the live progress of a run or sweep started in another terminal"
    )
    add_args(
        p,
        ("run_id", "run or sweep id to follow (default: the newest in flight)", {"nargs": "?"}),
        ("--wait", "seconds to wait for a run to start (default 0)", {"type": number, "default": 0.0}),
    )
    add_switches(p, ("--json", "print events as JSON lines"))


def cmd_watch(args: argparse.Namespace) -> int:
    return watch(args.run_id, wait_s=args.wait, as_json=args.json)
