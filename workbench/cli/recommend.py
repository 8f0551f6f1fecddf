"""``workbench recommend``: the best configuration per objective without measuring every combination.

The search itself is :mod:`workbench.campaign.recommend` (hints → successive halving → coordinate descent →
confirmation beside torch eager fp32; docs/methodology.md, "How recommend searches"). This module turns the flags
into the search spaces, shows progress with an ETA on stderr, prints each objective's winner (its numbers, drift,
speedup over torch eager fp32 measured in the same command, the ``workbench run`` command that reproduces it), the
latency-vs-throughput Pareto front as a table and a chart, and what was not tried; saves the whole recommendation
to the history as one sweep record, and writes ``--json``. Exit codes: 0 a recommendation for every objective, 1 an
objective without one (every candidate failed), 2 bad usage, 130 interrupted (what ran is saved).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import socket
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Sequence

from workbench.cli.args import (
    RAW,
    add_args,
    add_command,
    add_switches,
    comma_items,
    cpu_list,
    engines_list,
    number,
    positive_int,
    shape_arg,
)
from workbench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.campaign.cells import CellSpec, SweepSpec
    from workbench.campaign.recommend import Measurement, Outcome, Recommendation
    from workbench.result import RunRecord

#: ``--duration`` by name: (final duration s, warm-up s)
DURATION_PRESETS: dict[str, tuple[float, float]] = {"tiny": (0.3, 0.1), "short": (1.0, 0.3), "standard": (3.0, 0.5)}
CHART_WIDTH = 80
CHART_HEIGHT = 20
EXAMPLES_SHOWN = 4

EXAMPLES = """\
examples:
  workbench recommend -m resnet50                                   lowest latency at batch 1
  workbench recommend -m resnet50 --objective throughput --latency-budget 50
  workbench recommend -m resnet50 --objective latency,throughput,memory --time-budget 10 --json rec.json
  workbench recommend -m tiny_cnn -e onnxruntime,openvino --duration tiny
  workbench recommend -m llama-512 --objective tokens-per-s --ttft-budget 200ms --prompt-tokens 128

Every number comes from a real run in a pinned benchmark process (one per evaluation). The search does not run
every combination: it starts from each engine's own defaults, drops bad engine × precision candidates early with
short runs (successive halving), walks threads / streams / requests / batch one axis at a time while that helps
(coordinate descent), then measures the winner and torch eager fp32 at the full duration side by side. It prints
what it skipped, and saves everything as one sweep: `workbench report ID --html FILE` shows it again.

exit codes: 0 a recommendation for every objective, 1 an objective had none (every candidate failed),
2 bad usage, 130 interrupted (what ran is saved)
"""


def _duration(value: str) -> tuple[float, float | None]:
    """``--duration``: seconds, or a preset name (its warm-up comes with it)."""
    v = value.strip().lower()
    if v in DURATION_PRESETS:
        d, w = DURATION_PRESETS[v]
        return d, w
    try:
        seconds = float(v[:-1] if v.endswith("s") else v)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"bad --duration {value!r}: seconds (3, 0.5s) or one of {', '.join(DURATION_PRESETS)}"
        ) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"--duration must be > 0 seconds, not {seconds:g}")
    return seconds, None


def _ttft(value: str) -> float:
    """``200ms``, ``0.2s``, ``200`` (ms) -> milliseconds (the argparse type of ``--ttft-budget``)."""
    from workbench.cli.run import latency_bound

    return latency_bound(value)


def _words(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(comma_items(value)))


def register(sub: Any) -> None:
    """Add the command to the main CLI's subparsers."""
    p = add_command(
        sub,
        "recommend",
        cmd_recommend,
        help="search engines × precisions × threads × streams × batch for the best configuration",
        description="Find the best configuration of a model on this machine for an objective — latency (p50 at "
        "batch 1), throughput (items/s, batches up to --max-batch) or memory (peak RSS of the benchmark process) "
        "— without measuring every combination, and compare it with torch eager fp32 measured in the same command.",
        epilog=EXAMPLES,
        formatter_class=RAW,
    )
    add_args(
        p,
        ("--model -m", "built-in model name or a model file", {"required": True}),
        (
            "--engines -e",
            "comma-separated engines to search (default: torch,onnxruntime,openvino, those installed)",
            {"type": engines_list, "default": None},
        ),
        (
            "--objective -o",
            "what to optimise; several comma-separated (default latency)",
            {"default": "latency", "metavar": "latency|throughput|memory|cost|energy|tokens-per-s"},
        ),
        (
            "--ttft-budget",
            "tokens-per-s: the time to first token (p99 of the generations) a winner must stay within, e.g. 200ms",
            {"type": _ttft, "default": None, "metavar": "DURATION"},
        ),
        (
            "--prompt-tokens",
            "tokens-per-s: the prompt length every generation has (default 128)",
            {"type": positive_int, "default": None, "metavar": "N"},
        ),
        (
            "--new-tokens",
            "tokens-per-s: tokens generated per generation (default 64)",
            {"type": positive_int, "default": None, "metavar": "N"},
        ),
        (
            "--latency-budget",
            "p99 per inference call a throughput, memory, cost or energy winner must stay within (ms)",
            {"type": number, "default": None, "metavar": "MS"},
        ),
        (
            "--time-budget",
            "minutes of measuring the search may use; it stops there and says so (default: no limit)",
            {"type": number, "default": None, "metavar": "MIN"},
        ),
        (
            "--max-drift",
            "largest output drift (relative L2 against the fp32 reference) a winner may have",
            {"type": number, "default": None, "metavar": "REL_L2"},
        ),
        (
            "--precisions -p",
            "precisions to consider, where each engine offers them (default fp32,bf16,int8; int4 weights too for "
            "tokens-per-s)",
            {"type": _words, "default": None},
        ),
        ("--cores -c", "the core pool, e.g. 0-7 (default: all allowed)", {"type": cpu_list, "default": None}),
    )
    _add_measure_args(p)
    from workbench.cli.pricing import add_price_arg

    add_price_arg(p)


def _add_measure_args(p: argparse.ArgumentParser) -> None:
    """How long each evaluation measures, what the search may try, and what is written and kept."""
    add_args(
        p,
        (
            "--duration -d",
            "measured seconds of the confirmation and baseline runs; halving starts at 1/6 of it (default 3; "
            "tiny = 0.3 s, short = 1 s)",
            {"type": _duration, "default": (3.0, None), "metavar": "SECONDS|tiny|short|standard"},
        ),
        ("--warmup", "warm-up seconds per evaluation (default 0.5)", {"type": number, "default": None}),
        ("--iterations", "minimum measured iterations per run (10)", {"type": positive_int, "default": 10}),
        ("--max-batch", "largest batch the throughput search tries (32)", {"type": positive_int, "default": 32}),
        ("--shape", "bind an input", {"action": "append", "type": shape_arg, "default": [], "metavar": "NAME=DIMS"}),
        ("--seed", "seed for built-in weights and inputs (default 0)", {"type": int, "default": 0}),
        ("--json", "write the recommendation as JSON to FILE (- for stdout)", {"metavar": "FILE"}),
    )
    add_switches(
        p,
        ("--no-chart", "no Pareto chart"),
        ("--no-save", "do not save the recommendation to the history"),
    )
    add_args(
        p,
        ("--tag", "tag the saved sweep (repeatable)", {"action": "append", "default": []}),
        ("--note", "a note stored with the saved sweep", {}),
    )
    add_switches(
        p,
        ("--quiet -q", "no progress on stderr"),
        # issue #13: from stored results (e.g. a fleet sweep collected from a cluster) instead of measuring here
        (
            "--across-machines",
            "measure nothing: the best machine (node type) per objective from the stored results of --model, "
            "with each machine's best configuration and the spread (objectives latency, throughput, cost, energy; docs/fleet.md)",
        ),
    )


# ---- setting up --------------------------------------------------------------------------------------------------
def _engines(args: argparse.Namespace) -> tuple[str, ...]:
    from workbench.measure.runner import DEFAULT_ENGINES, installed_engines
    from workbench_engines.registry import canonical, require

    if args.engines:
        engines = tuple(dict.fromkeys(canonical(e) for e in args.engines))
        for e in engines:
            require(e, "cpu")  # named engines must be here: one-line error otherwise
        return engines
    engines, skipped = installed_engines(DEFAULT_ENGINES)
    for s in skipped:
        print(f"note: {s['message']}", file=sys.stderr)
    if not engines:
        raise UsageError("no engine is installed: pip install onnxruntime openvino torch")
    return engines


def _pool(args: argparse.Namespace) -> list[int]:
    from workbench.machine.cpus import allowed_cores, format_cpu_list

    allowed = allowed_cores()
    if not args.cores:
        return allowed
    bad = sorted(set(args.cores) - set(allowed))
    if bad:
        raise UsageError(
            f"--cores {format_cpu_list(bad)} not available: this process may use cores {format_cpu_list(allowed)}"
        )
    return list(args.cores)


def _check_model(model: str, objectives: Sequence[str]) -> None:
    """A name that is neither a built-in nor an existing file, a causal LM asked for an inference objective, or
    another model asked for tokens/s: one line (exit 2) before anything runs."""
    from pathlib import Path

    from workbench.campaign.space import GENERATE_OBJECTIVES
    from workbench.errors import ModelError
    from workbench.models import zoo
    from workbench.models.generative import is_generative

    generate = [o for o in objectives if o in GENERATE_OBJECTIVES]
    others = [o for o in objectives if o not in GENERATE_OBJECTIVES]
    if is_generative(model):
        if others:
            raise UsageError(
                f"{model} is a causal language model: recommend it with --objective tokens-per-s "
                f"(not {', '.join(others)})"
            )
        return
    if not zoo.is_builtin(model) and not Path(model).expanduser().exists():
        raise ModelError(zoo.unknown_model_message(model))
    if generate and zoo.is_builtin(model):
        raise UsageError(
            f"--objective tokens-per-s needs a causal language model (tiny-llama, llama-512, qwen2-512, llama-1b "
            f"or a Hugging Face causal-LM folder); {model} is not one"
        )


def _spaces(args: argparse.Namespace, objectives: Sequence[str], engines: Sequence[str], cores: int) -> list[Any]:
    """One search space per objective over ``engines`` on ``cores``; tokens-per-s at the run's prompt and
    generated lengths (the sweep defaults when not given)."""
    from workbench.campaign.recommend import build_space
    from workbench.measure.settings import SWEEP

    generate = "tokens-per-s" in objectives
    precisions = _precisions(args, engines, generate)
    lengths = {
        "prompt_tokens": args.prompt_tokens or SWEEP.prompt_tokens,
        "new_tokens": args.new_tokens or SWEEP.new_tokens,
    }
    return [
        build_space(o, engines, precisions, cores, max_batch=args.max_batch, **(lengths if generate else {}))
        for o in objectives
    ]


def _precisions(args: argparse.Namespace, engines: Sequence[str], generate: bool) -> dict[str, tuple[str, ...]]:
    """What each engine may be asked for: its declared CPU precisions (for generation the ones it generates at,
    bf16 only where the CPU has it), within --precisions."""
    from workbench_engines.registry import get_engine_class

    wanted = args.precisions or (("fp32", "bf16", "int8", "int4") if generate else ("fp32", "bf16", "int8"))
    if not generate:
        return {e: tuple(p for p in get_engine_class(e).precisions("cpu") if p in wanted) for e in engines}
    from workbench.errors import UnsupportedError
    from workbench.measure.config import generate_precisions
    from workbench_engines.generate import GENERATE_PRECISIONS, check_precision

    out: dict[str, tuple[str, ...]] = {}
    for e in engines:
        ok = []
        for p in generate_precisions(e):
            try:
                if e in GENERATE_PRECISIONS:
                    check_precision(e, p)
            except UnsupportedError:
                continue  # e.g. bf16 on a CPU without native bf16
            if p in wanted:
                ok.append(p)
        out[e] = tuple(ok)
    return out


def _check_numbers(args: argparse.Namespace) -> None:
    for flag, value, unit in (
        ("--latency-budget", args.latency_budget, "ms"),
        ("--time-budget", args.time_budget, "minutes"),
    ):
        if value is not None and not value > 0:
            raise UsageError(f"{flag} must be a number of {unit} > 0, not {value:g}")
    if args.max_drift is not None and not args.max_drift >= 0:
        raise UsageError(f"--max-drift must be >= 0, not {args.max_drift:g}")
    if args.warmup is not None and args.warmup < 0:
        raise UsageError(f"--warmup must be >= 0 seconds, not {args.warmup:g}")
    from workbench.campaign.space import parse_objectives
    from workbench_engines.base import GENERATE_ONLY_PRECISIONS, PRECISIONS

    generate = "tokens-per-s" in parse_objectives(args.objective)
    for p in args.precisions or ():
        if p not in PRECISIONS and not (generate and p in GENERATE_ONLY_PRECISIONS):
            only = " (int4 weights: with --objective tokens-per-s)" if p in GENERATE_ONLY_PRECISIONS else ""
            raise UsageError(f"--precisions must be among {', '.join(PRECISIONS)}, not {p!r}{only}")
    for flag, value in (("--ttft-budget", args.ttft_budget), ("--prompt-tokens", args.prompt_tokens)):
        if value is not None and not generate:
            raise UsageError(f"{flag} applies to --objective tokens-per-s (a causal LM's text generation)")
    if args.new_tokens is not None and not generate:
        raise UsageError("--new-tokens applies to --objective tokens-per-s (a causal LM's text generation)")
    if args.new_tokens is not None and args.new_tokens < 2:
        raise UsageError(f"--new-tokens must be >= 2 (a first token and a decode step), not {args.new_tokens}")
    if args.ttft_budget is not None and not args.ttft_budget > 0:
        raise UsageError(f"--ttft-budget must be > 0 (e.g. 200ms), not {args.ttft_budget:g} ms")


def _spec(args: argparse.Namespace, engines: Sequence[str], spaces: Sequence[Any], pool: list[int]) -> "SweepSpec":
    from workbench.campaign.cells import SweepSpec
    from workbench.measure.settings import SWEEP

    duration, preset_warmup = args.duration
    warmup = args.warmup if args.warmup is not None else (preset_warmup if preset_warmup is not None else 0.5)

    def union(attr: str) -> tuple[Any, ...]:
        seen: dict[Any, None] = {}
        for s in spaces:
            for v in getattr(s, attr):
                seen.setdefault(v, None)
        return tuple(seen)

    precisions = tuple(dict.fromkeys(p for s in spaces for _, ps in s.precisions for p in ps))
    return SweepSpec(
        model=args.model,
        engines=tuple(engines),
        precisions=precisions,
        threads=union("threads"),
        batches=union("batches"),
        modes=tuple(dict.fromkeys(s.mode for s in spaces)),
        streams=union("streams"),
        requests=union("requests"),
        prompt_tokens=tuple(s.prompt_tokens for s in spaces if s.prompt_tokens is not None)[:1]
        or (SWEEP.prompt_tokens,),
        new_tokens=tuple(s.new_tokens for s in spaces if s.new_tokens is not None)[:1] or (SWEEP.new_tokens,),
        cores=tuple(pool),
        duration_s=duration,
        warmup_s=warmup,
        min_iterations=args.iterations,
        seed=args.seed,
        parity=True,
        shapes=tuple(args.shape),
        tags=tuple(args.tag),
        note=args.note,
    )


# ---- progress ----------------------------------------------------------------------------------------------------
class _Progress:
    """Evaluations done, time used of the budget and an ETA: a redrawn line on a terminal; on a pipe one line per
    stage (a search under nohup still logs where it is)."""

    def __init__(self, quiet: bool) -> None:
        from workbench.report.text import ProgressLine

        self.quiet = quiet
        self.line = ProgressLine(enabled=False if quiet else None)
        self.stage = ""
        self.text = ""

    def __call__(self, p: Any) -> None:
        from workbench.units import duration

        if self.quiet:
            return
        used = duration(p.used_s * 1000) if p.used_s > 0 else "0 s"
        budget = f" of {duration(p.budget_s * 1000)} budget" if p.budget_s is not None else ""
        total = p.used_s + p.eta_s
        frac = p.used_s / total if total > 0 else 0.0
        if p.budget_s is not None:
            frac = max(frac, p.used_s / p.budget_s)
        head = f"{p.objective}: {p.stage}"
        self.text = f"{head} · {p.evaluations} evaluations · {used}{budget} · ETA {duration(p.eta_s * 1000)}"
        if p.label:
            self.text += f" · {p.label}"
        if not self.line.enabled and head != self.stage:
            print(self.text, file=sys.stderr, flush=True)
        self.stage = head
        self.line.update(min(1.0, frac), self.text)

    def on_event(self, event: Any) -> None:
        from workbench.measure import events as ev

        if not self.quiet and isinstance(event, ev.Stage) and event.stage == "preparing":
            self.line.update(self.line.fraction, f"{self.text} · {event.message}")

    def clear(self) -> None:
        self.line.clear()


# ---- the command -------------------------------------------------------------------------------------------------
def cmd_recommend(args: argparse.Namespace) -> int:
    from workbench.campaign.recommend import CellEvaluator, Search, parse_objectives

    if getattr(args, "across_machines", False):
        return _recommend_across_machines(args)
    objectives = parse_objectives(args.objective)
    _check_numbers(args)
    from workbench.cli.pricing import PriceSource

    prices = PriceSource(getattr(args, "price_per_hour", None))
    price = _this_machine_price(prices)  # the flag, else this machine's entry in the prices file, else None
    if "energy" in objectives:
        from workbench.machine.energy import open_meter

        meter, why = open_meter("cpu")
        if meter is None:
            raise UsageError(f"--objective energy needs energy counters, and this machine has none readable: {why}")
    _check_model(args.model, objectives)
    engines = _engines(args)
    pool = _pool(args)
    spaces = _spaces(args, objectives, engines, len(pool))
    spec = _spec(args, engines, spaces, pool)
    from workbench.campaign.cells import check_spec
    from workbench.machine.cpus import allowed_cores

    check_spec(spec, allowed_cores())
    progress = _Progress(args.quiet)
    evaluator = CellEvaluator(spec, on_event=progress.on_event)
    search = Search(
        evaluator,
        duration_s=spec.duration_s,
        time_budget_s=args.time_budget * 60 if args.time_budget is not None else None,
        latency_budget_ms=args.latency_budget,
        price_per_hour=price.per_hour if price is not None else None,
        max_drift=args.max_drift,
        ttft_budget_ms=args.ttft_budget,
        on_progress=progress,
        margins=run_to_run_margins(spec.model),
    )
    from workbench.cli.sweep import interrupt_on_signals

    started, t0 = _now(), time.monotonic()
    restore = interrupt_on_signals()  # SIGTERM / SIGHUP (a lost SSH session) stop it like Ctrl-C
    try:
        rec = search.run(spaces)
    except KeyboardInterrupt:
        evaluator.stop()
        progress.clear()
        where = ""
        if not args.no_save and search.tried:
            record = build_record(spec, None, search.tried, evaluator, "interrupted", started, time.monotonic() - t0)
            saved_id = _save(record)
            where = f"; the {len(search.tried)} evaluations so far are saved as sweep {saved_id}" if saved_id else ""
        print(f"interrupted{where}", file=sys.stderr)
        return 130
    finally:
        restore()
        progress.clear()
    commands = {o.objective: run_command(spec, o.best.cell) for o in rec.outcomes if o.best is not None}
    record = build_record(spec, rec, rec.tried, evaluator, "complete", started, time.monotonic() - t0, commands)
    if price is not None:
        from workbench.machine.prices import attach_costs

        attach_costs(record, price)
    run_id = _save(record) if not args.no_save else None
    doc = recommendation_json(rec, spec, commands, run_id)
    if args.json != "-":
        print(render(rec, spec, commands, run_id, chart=not args.no_chart), flush=True)
    if args.json:
        text = json.dumps(doc, indent=2, default=str)
        if args.json == "-":
            sys.stdout.write(text + "\n")
        else:
            from workbench.report.export import write_text

            write_text(args.json, text)
            print(f"wrote {args.json}", file=sys.stderr)
    return 0 if all(o.best is not None for o in rec.outcomes) else 1


def _this_machine_price(prices: Any) -> Any:
    """This machine's :class:`~workbench.machine.prices.Price` (the flag, else the prices file), or None."""
    from workbench.machine import sysinfo

    try:
        system = sysinfo.collect()
    except Exception:  # no machine description: only the flag or the partition can price it
        system = {}
    return prices.for_system(system)


def run_to_run_margins(model: str) -> dict[str, float]:
    """Per objective, the difference one measurement each must show on this machine to be real (the search keeps
    candidates inside it and takes no step inside it): from the A/A spread ``workbench doctor --aa`` stored for
    this machine, else the assumed one."""
    from workbench.machine import sysinfo
    from workbench.machine.spread import entries
    from workbench.stats.verdict import min_detectable, spread_for

    try:
        stored = entries([sysinfo.collect().get("fingerprint")])
    except Exception:  # no machine description: the assumed spread
        stored = []
    return {
        "latency": min_detectable(spread_for(stored, "p50", {"model": model})),
        "throughput": min_detectable(spread_for(stored, "throughput", {"model": model})),
        # $/M at a fixed price varies as 1/throughput; joules per item have no stored A/A spread (the assumed one)
        "cost": min_detectable(spread_for(stored, "throughput", {"model": model})),
        "energy": min_detectable(spread_for(stored, "j_per_item", {"model": model})),
    }


def _now() -> str:
    from workbench.result import now_iso

    return now_iso()


def _save(record: "RunRecord") -> str | None:
    try:
        from workbench.store.history import HistoryStore

        HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr)).put(record)
        return record.run_id
    except Exception as exc:  # the measurements stand even if the history cannot take them
        print(f"warning: recommendation not saved to history: {exc}", file=sys.stderr)
        return None


def run_command(spec: "SweepSpec", cell: "CellSpec") -> str:
    """The ``workbench run`` command that measures ``cell`` alone (same model, cores, shapes, seed, duration)."""
    from workbench.campaign.cells import cores_for
    from workbench.machine.cpus import format_cpu_list

    pool = list(spec.cores or ())
    parts = ["workbench", "run", "-m", shlex.quote(spec.model), "-e", cell.engine]
    if cell.precision != "fp32":
        parts += ["--precision", cell.precision]
    parts += ["--threads", str(cell.threads)]
    if pool:
        parts += ["--cores", format_cpu_list(cores_for(cell, pool))]
    if cell.batch != 1:
        parts += ["--batch", str(cell.batch)]
    if cell.mode != "latency":
        parts += ["--mode", cell.mode]
    if cell.streams is not None:
        parts += ["--streams", str(cell.streams)]
    if cell.requests is not None:
        parts += ["--requests", str(cell.requests)]
    if cell.prompt_tokens is not None:
        parts += ["--prompt-tokens", str(cell.prompt_tokens)]
    if cell.new_tokens is not None:
        parts += ["--new-tokens", str(cell.new_tokens)]
    for name, dims in spec.shapes:
        parts += ["--shape", f"{name}={'x'.join(map(str, dims))}" if name != "*" else "x".join(map(str, dims))]
    if spec.seed:
        parts += ["--seed", str(spec.seed)]
    parts += ["--duration", f"{spec.duration_s:g}"]
    return " ".join(parts)


def build_record(
    spec: "SweepSpec",
    rec: "Recommendation | None",
    tried: Sequence["Measurement"],
    evaluator: Any,
    state: str,
    started: str,
    elapsed_s: float,
    commands: dict[str, str] | None = None,
) -> "RunRecord":
    """One sweep record: ``results`` = the last measurement of every evaluated cell (an EngineResult with ``cell``
    set), ``sweep["spec"]["extra"]["recommend"]`` = the whole recommendation (every evaluation, what was skipped,
    the winners)."""
    from workbench.campaign.cells import failed_result
    from workbench.result import EngineResult, RunRecord, new_run_id, now_iso

    last: dict[str, EngineResult] = {}
    for m in tried:
        r = m.result
        if r is None:  # an evaluator that raised: keep the failure as a result too
            r = failed_result(m.cell, spec.model, m.error)
        r.cell = m.cell.stored()
        last.pop(m.cell.key(), None)
        last[m.cell.key()] = r
    extra: dict[str, Any] = {"objectives": [], "strategy": None, "state": state, "tried": [m.to_dict() for m in tried]}
    if rec is not None:
        extra = recommendation_json(rec, spec, commands or {}, None) | {"state": state}
    first = getattr(evaluator, "first_record", None)
    system: dict[str, Any] = dict(first.system) if first is not None and first.system else {}
    if not system:
        try:
            from workbench.machine import sysinfo

            system = sysinfo.collect()
        except Exception:  # the measurements stand without a machine description
            system = {}
    return RunRecord(
        run_id=new_run_id(),
        created=now_iso(),
        model=first.model if first is not None else {"name": os.path.basename(spec.model), "source": spec.model},
        config=(first.config | {"engines": list(spec.engines)})
        if first is not None
        else {"model": spec.model, "engines": list(spec.engines), "device": spec.device},
        system=system,
        versions=dict(first.versions) if first is not None else dict(system.get("versions") or {}),
        results=list(last.values()),
        tags=list(spec.tags) + ["recommend"],
        note=spec.note,
        kind="sweep",
        sweep={
            "spec": replace(spec, extra={"recommend": extra}).to_dict(),
            "state": state,
            "cells_total": len(last),  # what it measured: a search is complete without running its whole space
            "cells_done": len(last),
            "space_size": rec.space_size if rec is not None else None,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "elapsed_s": round(elapsed_s, 3),
            "started": started,
            "updated": now_iso(),
        },
    )


def recommendation_json(
    rec: "Recommendation", spec: "SweepSpec", commands: dict[str, str], run_id: str | None
) -> dict[str, Any]:
    d = rec.to_dict()
    for objective, best in d["best"].items():
        best["command"] = commands.get(objective)
    d["model"] = spec.model
    d["cores"] = list(spec.cores or ())
    d["run_id"] = run_id
    return d


# ---- rendering ---------------------------------------------------------------------------------------------------
def _num(m: "Measurement") -> str:
    from workbench.units import duration, rate, significant

    if m.cell.mode == "generate":
        return " · ".join(
            [
                f"TTFT p50 {duration(m.ttft_p50_ms)} (p99 {duration(m.ttft_p99_ms)})",
                f"per token p50 {duration(m.p50_ms)} (p99 {duration(m.p99_ms)})",
                rate(m.decode_tokens_per_s, " tokens/s"),
                f"peak RSS {m.peak_rss_mb:.0f} MB" if m.peak_rss_mb is not None else "peak RSS —",
            ]
        )
    parts = [
        f"p50 {duration(m.p50_ms)}",
        f"p99 {duration(m.p99_ms)}",
        rate(m.throughput, " items/s"),
        f"peak RSS {m.peak_rss_mb:.0f} MB" if m.peak_rss_mb is not None else "peak RSS —",
    ]
    if m.usd_per_million is not None:
        parts.append(f"${significant(m.usd_per_million)} per million items")
    if m.j_per_item is not None:
        parts.append(f"{significant(m.j_per_item)} J/item")
    return " · ".join(parts)


def _drift(m: "Measurement") -> str:
    if m.rel_l2 is None:
        status = m.parity_status or "not checked"
        return f"drift: — (parity {status})"
    return f"drift: rel L2 {m.rel_l2:.3g} against the fp32 reference (parity {m.parity_status or '—'})"


def _label(m: "Measurement") -> str:
    text = m.cell.label()
    if m.precision_effective and m.precision_effective != m.cell.precision:
        text += f" (ran {m.precision_effective})"
    extra = []
    if m.cell.streams is None and m.streams_effective is not None and m.cell.mode == "throughput":
        extra.append(f"streams {m.streams_effective} chosen by the engine")
    if m.cell.requests is None and m.requests_effective is not None and m.cell.mode == "throughput":
        extra.append(f"requests {m.requests_effective} chosen by the engine")
    return text + (f" [{', '.join(extra)}]" if extra else "")


def _outcome_lines(
    o: "Outcome", commands: dict[str, str], budget_ms: float | None, ttft_budget_ms: float | None = None
) -> list[str]:
    from workbench.units import ratio

    what = {
        "latency": "lowest p50 latency",
        "throughput": "highest throughput",
        "memory": "smallest peak RSS",
        "cost": "fewest dollars per million items",
        "energy": "fewest joules per item",
        "tokens-per-s": "most decode tokens/s",
    }
    lines = [f"{o.objective} ({what[o.objective]}):"]
    if o.best is None:
        lines.append("  no recommendation: " + ("; ".join(o.notes) or o.stopped or "nothing ran"))
        return lines
    b = o.best
    lines.append(f"  {_label(b)}")
    lines.append(f"  {_num(b)}  (confirmed over {b.duration_s:g} s)")
    lines.append(f"  {_drift(b)}")
    if budget_ms is not None and o.meets_budget is not None:
        lines.append(f"  latency budget {budget_ms:g} ms: " + ("met (p99)" if o.meets_budget else "NOT met (p99)"))
    if ttft_budget_ms is not None and o.meets_ttft_budget is not None:
        met = "met (p99)" if o.meets_ttft_budget else "NOT met (p99)"
        lines.append(f"  time-to-first-token budget {ttft_budget_ms:g} ms: {met}")
    base = o.baseline
    if base is not None:
        if base.ok:
            basis, fig = _basis(o.space.mode, base)
            sp = f"{ratio(o.speedup)} ({basis})" if o.speedup is not None else f"not shown ({o.speedup_note})"
            mem = f", {ratio(o.memory_ratio)} less peak RSS" if o.objective == "memory" and o.memory_ratio else ""
            lines.append(f"  speedup over torch eager fp32 ({base.cell.label()}, {fig}, same command): {sp}{mem}")
        else:
            lines.append(f"  speedup over torch eager fp32: not shown (the baseline failed: {base.error})")
    lines.append(f"  reproduce: {commands.get(o.objective, '')}")
    for note in o.notes:
        lines.append(f"  note: {note}")
    if o.stopped:
        lines.append(f"  note: {o.stopped}")
    return lines


def _basis(mode: str, base: "Measurement") -> tuple[str, str]:
    """What a speedup over the baseline is a ratio of, and the baseline's figure."""
    from workbench.units import duration

    if mode == "throughput" and base.throughput:
        return "throughput", f"{base.throughput:.4g} items/s"
    if mode == "generate" and base.decode_tokens_per_s:
        return "decode tokens/s", f"{base.decode_tokens_per_s:.4g} tokens/s"
    return "p50", duration(base.p50_ms)


def _chart(rec: "Recommendation") -> str | None:
    import plotext as plt

    pts: dict[str, Measurement] = {}
    for m in rec.tried:
        if m.ok and m.p50_ms and m.throughput:
            k = m.cell.key()
            if k not in pts or m.duration_s >= pts[k].duration_s:
                pts[k] = m
    if not pts:
        return None
    front = rec.pareto
    plt.clf()
    plt.plotsize(CHART_WIDTH, CHART_HEIGHT)
    plt.theme("clear")
    lat = [m.p50_ms for m in pts.values() if m.p50_ms]
    if lat and max(lat) / min(lat) > 20:
        plt.xscale("log")
    plt.scatter([m.p50_ms for m in pts.values()], [m.throughput for m in pts.values()], marker="dot", label="evaluated")
    if front:
        plt.plot([m.p50_ms for m in front], [m.throughput for m in front], marker="braille", label="Pareto front")
        plt.scatter([m.p50_ms for m in front], [m.throughput for m in front], marker="●")
    plt.title("latency vs throughput")
    plt.xlabel("p50 ms per call")
    plt.ylabel("items/s")
    return re.sub(r"\x1b\[[0-9;]*m", "", plt.build()).rstrip()


def _axis_value(v: Any) -> str:
    return "auto" if v is None else str(v)


def _skipped_summary(rec: "Recommendation") -> list[str]:
    n, total = len(rec.skipped), rec.space_size
    if not n:
        return [f"skipped none of the {total} configurations"]
    by_reason: dict[str, list[str]] = {}
    for s in rec.skipped:
        reason = str(s["reason"])
        head = reason.split(" (", 1)[0] if reason.startswith(("torch", "onnxruntime", "openvino")) else reason
        key = "engine × precision dropped by the halving or failed" if " dropped" in reason else head
        by_reason.setdefault(key, []).append(str(s["label"]))
    lines = [f"skipped {n} of {total} configurations (--json lists them all):"]
    for reason, labels in by_reason.items():
        eg = ", ".join(labels[:EXAMPLES_SHOWN]) + (", …" if len(labels) > EXAMPLES_SHOWN else "")
        lines.append(f"  {len(labels)}: {reason}: e.g. {eg}")
    return lines


def render(
    rec: "Recommendation", spec: "SweepSpec", commands: dict[str, str], run_id: str | None, *, chart: bool = True
) -> str:
    """The recommendation as terminal text (no colour)."""
    from workbench.campaign.recommend import OUTSIDE_SPACE
    from workbench.machine.cpus import format_cpu_list
    from workbench.report.text import table
    from workbench.units import duration, rate

    cores = format_cpu_list(spec.cores or ())
    tried_keys = {m.cell.key() for m in rec.tried}
    budget = f" (time budget {duration(rec.time_budget_s * 1000)})" if rec.time_budget_s is not None else ""
    out = [
        f"recommend {os.path.basename(spec.model)} · cores {cores} · engines {', '.join(spec.engines)}",
        f"{len(rec.tried)} evaluations of {len(tried_keys)} configurations out of {rec.space_size}, "
        f"{duration(rec.time_used_s * 1000)} of measuring{budget}",
        "",
    ]
    for o in rec.outcomes:
        out += _outcome_lines(o, commands, rec.latency_budget_ms, rec.ttft_budget_ms)
        out.append("")
    if rec.generation_pareto:
        rows = [
            [m.cell.label(), duration(m.ttft_p50_ms), duration(m.p50_ms), rate(m.decode_tokens_per_s, "/s"),
             m.parity_status or "—", f"{m.duration_s:g} s"]
            for m in rec.generation_pareto
        ]  # fmt: skip
        out.append(
            f"Pareto front, time to first token vs decode tokens/s ({len(rec.generation_pareto)} of the "
            "configurations that ran):"
        )
        out.append(table(["configuration", "TTFT p50", "per token p50", "tokens/s", "tokens", "run"], rows,
                         align="lrrrlr"))  # fmt: skip
        out.append("")
    if rec.pareto:
        rows = [
            [m.cell.label(), duration(m.p50_ms), duration(m.p99_ms), rate(m.throughput, "/s"), f"{m.duration_s:g} s"]
            for m in rec.pareto
        ]
        out.append(f"Pareto front, latency vs throughput ({len(rec.pareto)} of the configurations that ran):")
        out.append(table(["configuration", "p50", "p99", "throughput", "run"], rows, align="lrrrr"))
        text = _chart(rec) if chart else None
        if text:
            out += ["", text]
        out.append("")
    for o in rec.outcomes:
        steps = [f"halving {' → '.join(str(len(r['candidates'])) for r in o.rounds)}"] if o.rounds else []
        if o.survivors:
            steps.append(f"descended {', '.join(o.survivors)}")
        if o.moves:
            moves = "; ".join(
                f"{' '.join(str(mv['from']).split(' ')[:2])} {mv['axis']} → {_axis_value(mv.get('value'))}"
                for mv in o.moves
            )
            steps.append(f"moved {moves}")
        if steps:
            out.append(f"how ({o.objective}): " + " · ".join(steps))
    out += _skipped_summary(rec)
    out.append(f"not in the search space: {OUTSIDE_SPACE}")
    if run_id:
        out.append(f"saved as sweep {run_id}: workbench report {run_id} --html FILE")
    return "\n".join(out)


__all__ = ["build_record", "cmd_recommend", "recommendation_json", "register", "render", "run_command"]


# ---- --across-machines (issue #13): from stored results, no measuring -------------------------------------------
def _recommend_across_machines(args: argparse.Namespace) -> int:
    """The best machine per objective for ``--model`` from the history (workbench.stats.machines), printed, and
    with ``--json FILE`` written as JSON. The latency, throughput, cost and energy objectives apply (memory is a
    per-machine search only)."""
    import json
    import sys

    from workbench.cli.history import machine_comparison
    from workbench.errors import UsageError
    from workbench.report.machines import render_recommendation
    from workbench.units import json_safe

    cmp = machine_comparison(args.model, args.objective)
    if not cmp.machines:
        raise UsageError(
            f"no stored results of model {args.model!r} to compare machines with",
            hint="run a sweep on each node type first (`workbench sweep --on slurm ...`, then `workbench fleet collect`)",
        )
    if args.json:
        text = json.dumps(json_safe(cmp.to_dict()), indent=2, allow_nan=False) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
            return 0
        from workbench.report.export import write_text

        write_text(args.json, text, flag="--json")
    print(render_recommendation(cmp))
    return 0
