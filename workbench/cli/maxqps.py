"""``workbench run --find-max-qps``: the highest Server QPS each engine serves within ``--latency-bound`` at
``--percentile`` (default p99), from LoadGen runs (:mod:`workbench.campaign.maxqps`). The record it saves holds, per
engine, the last run at the answer with the search (``qps_search``: the Offline rate, every probe, the
confirmation) beside it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from typing import Any, Callable


def _check(config: Any) -> Any:
    from workbench.campaign.qps_search import check_search

    return check_search(config)


def cmd_find_max_qps(
    args: argparse.Namespace,
    config: Any,
    progress_printer: Callable[[Any], Callable[[Any], None]],
    write_outputs: Callable[[Any, argparse.Namespace], None],
) -> int:
    from workbench.campaign.maxqps import find_max_qps
    from workbench.campaign.qps_search import search_record
    from workbench.measure.config import preparation
    from workbench.measure.prepare import prepare
    from workbench.measure.runner import Runner
    from workbench.report.loadgen import render_search
    from workbench.report.text import ProgressLine, render_results
    from workbench.units import eta, ms, rate

    checked = _check(config)
    config = replace(config, engines=checked.engines, cores=checked.cores, threads=checked.threads)
    progress = ProgressLine(enabled=False if args.quiet else None)
    on_event = progress_printer(progress)
    progress.message(f"preparing {config.model} …")
    artifact = prepare(config.model, **preparation(checked))
    reference_cache: dict[str, Any] = {}  # the parity reference runs once for every probe
    last: dict[str, Any] = {}

    def probe(cfg: Any) -> Any:
        record = Runner(cfg, on_event=on_event, artifact=artifact, reference_cache=reference_cache).run()
        last[cfg.engines[0]] = record
        return record

    def on_probe(p: dict[str, Any]) -> None:
        what = "offline" if p["kind"] == "offline" else f"server {rate(p['target_qps'])} QPS ({p['kind']})"
        # an Offline run's latency is where a sample sat in its one query: not worth a line
        lat = f" p{checked_pct:g} {ms(p['latency_ms'])} ms" if p["kind"] != "offline" and p.get("latency_ms") else ""
        took = f" [{eta(p.get('elapsed_s'))} so far"
        left = p.get("eta_s")
        took += f", about {eta(left)} left]" if left is not None else "]"
        progress.clear()
        print(
            f"{p['engine']}: {what} -> {p['validity']}{lat}, achieved {rate(p['qps'])}/s{took}",
            file=sys.stderr,
            flush=True,
        )

    checked_pct = config.latency_percentile if config.latency_percentile is not None else 99.0
    try:
        searches = find_max_qps(config, probe=probe, on_probe=None if args.quiet else on_probe)
    except KeyboardInterrupt:
        progress.clear()
        print("interrupted: nothing was saved", file=sys.stderr)
        return 130
    finally:
        progress.clear()
    record = search_record(config, searches, last)
    if record is None:  # pragma: no cover - find_max_qps runs an offline probe per engine
        print("error: the search made no run", file=sys.stderr)
        return 1
    results = record.results
    if args.json != "-":
        print(render_results(record), flush=True)
        print(render_search([s.to_dict() for s in searches]), flush=True)
    if not args.no_save:
        try:
            from workbench.store.history import HistoryStore

            HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr)).add(record)
        except Exception as exc:
            print(f"warning: run not saved to history: {exc}", file=sys.stderr)
    try:
        write_outputs(record, args)
    except Exception as exc:
        print(f"error: could not write results: {exc}", file=sys.stderr)
        return 1
    return 1 if any(not r.ok for r in results) or any(s.offline_qps is None for s in searches) else 0
