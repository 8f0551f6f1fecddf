"""A max-QPS search from start to record, for the front ends (``workbench run --find-max-qps`` and the UI's Load
choice "max QPS under a bound"): check the config, prepare the model once, run :func:`workbench.campaign.maxqps.
find_max_qps` with a probe per Runner run, and make the record it saves — per engine, the last run at the answer with
the search (``qps_search``: the Offline rate, every probe, the confirmation) beside it.

The probe is injectable (tests drive the search with a fake one and prepare nothing); the caller sees each probe
through ``on_probe`` and each probe's Runner through ``on_runner`` (to stop it).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from workbench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.campaign.maxqps import SearchResult
    from workbench.measure.runner import RunConfig, Runner
    from workbench.result import RunRecord

__all__ = ["check_search", "search_record", "run_search"]


def check_search(config: "RunConfig") -> "RunConfig":
    """The search's settings checked (one line, exit 2, each) and the config validated as its Server runs will be
    (engines, cores, threads filled in). UsageError / EngineUnavailable otherwise."""
    from workbench.measure.runner import validate
    from workbench.measure.scenario import check_loadgen, check_scenario

    if config.scenario is not None:
        raise UsageError("--find-max-qps makes its own offline and server runs: leave out --scenario")
    if config.target_qps is not None:
        raise UsageError("--find-max-qps searches the target QPS itself: leave out --target-qps")
    if config.latency_bound_ms is None:
        raise UsageError("--find-max-qps needs --latency-bound, e.g. --latency-bound 100ms")
    if config.repeats != 1:
        raise UsageError("--find-max-qps confirms its answer with its own repeats: leave out --repeats")
    check_scenario(
        None,
        latency_bound_ms=config.latency_bound_ms,
        percentile=config.latency_percentile,
        min_queries=config.min_queries,
        mode=config.mode,
        find_max_qps=True,
    )
    check_loadgen()
    return validate(replace(config, scenario="server", target_qps=1.0))


def search_record(
    config: "RunConfig", searches: "list[SearchResult]", last: "dict[str, RunRecord]"
) -> "RunRecord | None":
    """The record of a finished search: the results at each engine's answer, each with its ``qps_search``; the
    config says ``find_max_qps`` (bound, percentile). None when no probe ran."""
    from workbench.result import new_run_id, now_iso

    if not searches or searches[0].engine not in last:
        return None
    base = last[searches[0].engine]
    results = []
    for s in searches:
        res = s.result
        if res is None:
            continue
        res.qps_search = s.to_dict()
        results.append(res)
    cfg = dict(base.config)
    cfg.update(
        scenario="server",
        target_qps=None,
        find_max_qps={"latency_bound_ms": searches[0].latency_bound_ms, "percentile": searches[0].percentile},
        engines=list(config.engines),
    )
    return replace(base, run_id=new_run_id(), created=now_iso(), results=results, config=cfg, baseline=None)


def run_search(
    config: "RunConfig",
    *,
    on_event: Callable[[Any], None] | None = None,
    on_probe: Callable[[dict[str, Any]], None] | None = None,
    on_runner: Callable[["Runner"], None] | None = None,
    probe: Callable[["RunConfig"], "RunRecord"] | None = None,
) -> tuple["RunRecord | None", "list[SearchResult]"]:
    """Check ``config`` (:func:`check_search`), prepare its model once and search each engine's max QPS; returns
    the record (:func:`search_record`) and the searches. ``probe`` replaces the Runner run of one config (then
    nothing is prepared: tests); ``on_runner`` sees each probe's Runner before it runs (to stop it). Blocking."""
    from workbench.campaign.maxqps import find_max_qps

    last: dict[str, Any] = {}
    run_one: Callable[["RunConfig"], "RunRecord"]
    if probe is None:
        from workbench.measure.config import preparation
        from workbench.measure.prepare import prepare
        from workbench.measure.runner import Runner

        checked = check_search(config)
        config = replace(config, engines=checked.engines, cores=checked.cores, threads=checked.threads)
        artifact = prepare(config.model, **preparation(checked))
        reference_cache: dict[str, Any] = {}  # the parity reference runs once for every probe

        def runner_run(cfg: "RunConfig") -> "RunRecord":
            runner = Runner(cfg, on_event=on_event, artifact=artifact, reference_cache=reference_cache)
            if on_runner is not None:
                on_runner(runner)
            return runner.run()

        run_one = runner_run
    else:
        run_one = probe

    def recorded(cfg: "RunConfig") -> "RunRecord":
        record = run_one(cfg)
        last[cfg.engines[0]] = record
        return record

    searches = find_max_qps(config, probe=recorded, on_probe=on_probe)
    return search_record(config, searches, last), searches
