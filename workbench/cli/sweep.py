"""``workbench sweep``: engines × precisions × threads × batches × modes × streams × requests × sparsity, one pinned
benchmark process per cell, saved as one history record after every cell; ``--resume ID`` continues one.

Also the hidden ``workbench sweep-cell JOB OUT`` a Slurm array task runs (:func:`workbench.campaign.sweep.run_cell_job`).
Exit codes: 0 every cell ran, 1 some cell failed (its row says why), 2 bad usage, 130 interrupted (finished cells
are saved; the message names the ``--resume`` command).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any, Callable

from workbench.campaign.axes import parse_ints
from workbench.cli.args import (
    add_input_args,
    cpu_list,
    engine_option_arg,
    engines_list,
    input_request,
    number,
    positive_int,
    shape_arg,
)
from workbench.errors import UsageError

EXAMPLES = """\
examples:
  workbench sweep -m resnet50 -e onnxruntime,openvino --threads 1,2,4,8 --batch 1,8,32 --precision fp32,int8
  workbench sweep -m resnet50 -e openvino --mode throughput --streams 1,2,4 --threads 4
  workbench sweep -m resnet50 -e onnxruntime --batch 1 --max-memory 2048     largest batch under 2 GB peak RSS
  workbench sweep -m resnet18 -e torch,onnxruntime,openvino --sparsity 0,0.5,0.9
  workbench sweep -m resnet18 -e torch --mode train --batch 8,32 --threads 1,2
  workbench sweep -m llama-512 -e torch,openvino,onnxruntime --mode generate --prompt-tokens 32,512 \
      --new-tokens 64 --precision fp32,int8,int4 --threads 1,2
  workbench sweep -m resnet18 -e onnxruntime --scenario server --target-qps 10,20,40 --latency-bound 100ms
  workbench sweep --resume 3f2a9c                  continue an interrupted sweep (Ctrl-C, kill -9, lost SSH)
  workbench sweep -m resnet50 -e openvino --threads 1,8,32 --on slurm --partition xeon-spr,xeon-icx --dry-run

Each cell is one engine at one setting, measured in its own benchmark process pinned to the first THREADS cores
(of --cores, or of the cores this process may use). The sweep is saved to the history after every cell, so nothing
finished is lost; `workbench report ID` shows it again (--html for a page with the scaling charts).
"""


def _ints(value: str) -> tuple[int, ...]:
    """An axis of whole numbers by the one rule of :func:`workbench.campaign.axes.parse_ints` (the UI's too)."""
    try:
        return parse_ints(None, value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _words(value: str) -> tuple[str, ...]:
    items = tuple(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))
    if not items:
        raise argparse.ArgumentTypeError("give at least one item, comma-separated")
    return items


def _floats(value: str, what: str = "a number") -> tuple[float, ...]:
    """Comma-separated numbers, duplicates dropped (argparse errors name ``what`` each must be)."""
    out = []
    for item in _words(value):
        try:
            out.append(float(item))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} is not {what}") from None
    return tuple(dict.fromkeys(out))


def _fractions(value: str) -> tuple[float, ...]:
    out = _floats(value)
    bad = [f for f in out if not 0 <= f < 1]
    if bad:
        raise argparse.ArgumentTypeError(f"{bad[0]:g} is not a fraction in [0, 1)")
    return out


def register(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="measure every combination of engines, precisions, threads, batches, modes, streams, sparsity",
        description="Sweep a model over engines × precisions × threads × batches × modes × streams × requests × "
        "sparsity (× prompt and generated lengths for generate cells, × LoadGen scenario and target QPS for "
        "latency cells). Each cell runs in its own benchmark process pinned to THREADS cores; progress shows cells "
        "done/left, the current cell and an ETA. The sweep is one history record, saved after every cell; "
        "--resume ID continues it without repeating finished cells. The output ends with thread and batch "
        "scaling, precision gain and charts.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", "-m", help="built-in model name or a model file (required unless --resume)")
    p.add_argument("--engines", "-e", type=engines_list, default=None, help="comma-separated (default: installed)")
    _add_axis_args(p)
    p.add_argument("--cores", "-c", type=cpu_list, default=None, help="the core pool, e.g. 0-7 (default: all allowed)")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda where an NVIDIA GPU is present")
    from workbench.cli.pricing import add_price_arg

    add_price_arg(p)
    p.add_argument("--duration", "-d", type=number, default=3.0, help="measured seconds per cell (default 3)")
    p.add_argument("--warmup", type=number, default=0.5, help="warm-up seconds per cell (default 0.5)")
    p.add_argument("--iterations", type=positive_int, default=10, help="minimum measured iterations per cell (10)")
    p.add_argument("--shape", action="append", type=shape_arg, default=[], metavar="NAME=DIMS", help="bind an input")
    p.add_argument("--seed", type=int, default=0, help="seed for built-in weights and inputs (default 0)")
    p.add_argument("--no-parity", action="store_true", help="skip the output check against the fp32 reference")
    p.add_argument(
        "--calibration-samples", type=positive_int, metavar="N",
        help="int8 cells: calibration samples (default 10 generated ones, or all of --calibration-data)",
    )  # fmt: skip
    p.add_argument(
        "--calibration-data", metavar="FILE.npz|DIR", help="int8 cells: calibrate on real data (as workbench run)"
    )
    p.add_argument(
        "--engine-option", action="append", type=engine_option_arg, default=[], metavar="ENGINE.NAME=VALUE",
        help="an engine option every cell of that engine gets (workbench engines --options)",
    )  # fmt: skip
    p.add_argument(
        "--max-memory", type=number, default=None, metavar="MB",
        help="instead of the batch axis: search the largest batch whose benchmark process peak RSS stays under MB",
    )  # fmt: skip
    p.add_argument("--max-batch", type=positive_int, default=1024, help="upper end of the --max-memory search (1024)")
    add_input_args(p)
    p.add_argument("--resume", metavar="ID", help="continue an interrupted sweep (history id or prefix)")
    p.add_argument("--retry-failed", action="store_true", help="with --resume: run failed cells again too")
    p.add_argument("--tag", action="append", default=[], help="tag the sweep (repeatable)")
    p.add_argument("--note", help="a note stored with the sweep")
    p.add_argument("--no-charts", action="store_true", help="tables only, no terminal charts")
    p.add_argument("--json", metavar="FILE", help="write the sweep and its analysis as JSON to FILE (- for stdout)")
    p.add_argument("--csv", metavar="FILE", help="write one row per cell as CSV to FILE (- for stdout)")
    p.add_argument("--markdown", metavar="FILE", help="write the tables as Markdown to FILE (- for stdout)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    _add_slurm_args(p)
    p.set_defaults(func=cmd_sweep)

    cell = sub.add_parser("sweep-cell", help=argparse.SUPPRESS, description="Run one sweep cell from a job file.")
    cell.add_argument("job", type=Path)
    cell.add_argument("out", type=Path)
    cell.set_defaults(func=cmd_sweep_cell)
    # keep the hidden command out of `workbench --help`
    sub._choices_actions = [a for a in sub._choices_actions if a.dest != "sweep-cell"]


def _add_axis_args(p: argparse.ArgumentParser) -> None:
    """The axes besides engines: precisions, threads, batches, modes, streams, requests, sparsities."""
    p.add_argument(
        "--precision", "--precisions", "-p", dest="precisions", type=_words, default=("fp32",),
        help="comma-separated precisions: fp32,bf16,fp16,int8 (default fp32)",
    )  # fmt: skip
    p.add_argument(
        "--threads", "-t", type=_ints, default=None, help="comma-separated thread counts (default: all cores)"
    )
    p.add_argument("--batch", "-b", dest="batches", type=_ints, default=(1,), help="comma-separated batch sizes (1)")
    p.add_argument(
        "--mode", "--modes", dest="modes", type=_words, default=("latency",),
        help="comma-separated: latency, throughput, train (torch only), generate (a causal LM) (default latency)",
    )  # fmt: skip
    p.add_argument("--streams", type=_ints, default=None, help="OpenVINO streams in throughput mode, comma-separated")
    p.add_argument(
        "--requests", type=_ints, default=None, help="requests in flight in throughput mode, comma-separated"
    )
    p.add_argument(
        "--sparsity", dest="sparsities", type=_fractions, default=(0.0,),
        help="comma-separated fractions of conv/linear weights pruned before export, e.g. 0,0.5,0.9 (default 0)",
    )  # fmt: skip
    _add_generation_axes(p)
    _add_load_axes(p)


def _add_generation_axes(p: argparse.ArgumentParser) -> None:
    """``--mode generate`` cells: prompt lengths × tokens generated (× batch, threads and precision as usual)."""
    from workbench.measure.settings import SWEEP

    g = p.add_argument_group("text generation cells (--mode generate; int4 weights allowed in --precision)")
    g.add_argument(
        "--prompt-tokens", type=_ints, default=(SWEEP.prompt_tokens,), metavar="LIST",
        help=f"prompt lengths in tokens, comma-separated (default {SWEEP.prompt_tokens})",
    )  # fmt: skip
    g.add_argument(
        "--new-tokens", type=_ints, default=(SWEEP.new_tokens,), metavar="LIST",
        help=f"tokens generated per generation, comma-separated (default {SWEEP.new_tokens})",
    )  # fmt: skip
    g.add_argument("--prompt", metavar="TEXT|FILE", help="one prompt for every cell (replaces --prompt-tokens)")


def _qps_list(value: str) -> tuple[float, ...]:
    return _floats(value, "a number of queries per second")


def _add_load_axes(p: argparse.ArgumentParser) -> None:
    """Latency cells as MLPerf LoadGen scenarios, and Server target QPS, as axes (settings shared by every cell)."""
    from workbench.cli.run import latency_bound

    g = p.add_argument_group("latency under load (latency cells as MLPerf LoadGen scenarios; docs/methodology.md)")
    g.add_argument(
        "--scenario", "--scenarios", dest="scenarios", type=_words, default=None, metavar="LIST",
        help="comma-separated: singlestream, multistream, server, offline (default: none, the timed loop)",
    )  # fmt: skip
    g.add_argument(
        "--target-qps", type=_qps_list, default=None, metavar="LIST",
        help="server cells: arrival rates in queries/s, comma-separated, e.g. 10,20,40",
    )  # fmt: skip
    g.add_argument(
        "--latency-bound", type=latency_bound, default=None, metavar="DURATION",
        help="server cells: the bound at --percentile, e.g. 100ms (default LoadGen's 100ms)",
    )  # fmt: skip
    g.add_argument("--percentile", type=number, default=None, help="the percentile LoadGen judges (default p90/p99)")
    g.add_argument("--samples-per-query", type=positive_int, default=None, help="multistream: samples per query (8)")
    g.add_argument("--min-queries", type=positive_int, default=None, help="queries LoadGen must issue at least")
    g.add_argument("--mlperf-rules", action="store_true", help="the official mlperf.conf minimums (600 s a cell)")


def _scenario_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The LoadGen settings every scenario cell shares (RunConfig field names), those given only."""
    given = {
        "latency_bound_ms": args.latency_bound,
        "latency_percentile": args.percentile,
        "samples_per_query": args.samples_per_query,
        "min_queries": args.min_queries,
        "mlperf_rules": True if args.mlperf_rules else None,
    }
    return {k: v for k, v in given.items() if v is not None}


def _add_slurm_args(p: argparse.ArgumentParser) -> None:
    """``--on slurm`` and its settings (docs/fleet.md)."""
    slurm = p.add_argument_group("cluster (Slurm): docs/fleet.md")
    slurm.add_argument("--on", choices=["local", "slurm"], default="local", help="where the cells run (local)")
    slurm.add_argument("--partition", type=_words, default=None, help="Slurm partitions, comma-separated")
    slurm.add_argument("--dry-run", action="store_true", help="print the batch script that would be submitted")
    slurm.add_argument("--fleet-dir", type=Path, default=None, help="shared directory for jobs and results")
    slurm.add_argument("--no-exclusive", action="store_true", help="do not ask for exclusive nodes")
    slurm.add_argument("--physical-cores", action="store_true", help="--hint=nomultithread: one thread per core")
    slurm.add_argument("--time", type=positive_int, default=None, metavar="MIN", help="time limit per cell (minutes)")


def spec_from_args(args: argparse.Namespace) -> Any:
    """The :class:`~workbench.campaign.cells.SweepSpec` the flags describe (defaults filled: installed engines, all
    cores as the thread count). Raises UsageError."""
    from workbench.campaign.cells import SweepSpec
    from workbench.machine.cpus import allowed_cores
    from workbench.measure.runner import DEFAULT_ENGINES, installed_engines
    from workbench_engines.registry import canonical, require

    if not args.model:
        raise UsageError("give the model to sweep with -m (or --resume ID to continue a sweep)")
    if args.engines:
        engines = tuple(dict.fromkeys(canonical(e) for e in args.engines))
        for e in engines:
            require(e, args.device)
    else:
        engines, skipped = installed_engines(DEFAULT_ENGINES, args.device)
        for s in skipped:
            print(f"note: {s['message']}", file=sys.stderr)
        if not engines:
            raise UsageError("no engine is installed: pip install onnxruntime openvino torch")
    _check_mode_fits_model(args.model, args.modes)
    pool = list(args.cores) if args.cores else allowed_cores()
    threads = args.threads or (len(pool),)
    return SweepSpec(
        model=args.model,
        engines=engines,
        precisions=args.precisions,
        threads=threads,
        batches=args.batches,
        modes=args.modes,
        streams=args.streams or (None,),
        requests=args.requests or (None,),
        sparsities=args.sparsities,
        prompt_tokens=args.prompt_tokens,
        new_tokens=args.new_tokens,
        prompt=args.prompt,
        scenarios=args.scenarios or (None,),
        target_qps=args.target_qps or (None,),
        scenario_settings=_scenario_settings(args),
        cores=tuple(args.cores) if args.cores else None,
        device=args.device,
        duration_s=args.duration,
        warmup_s=args.warmup,
        min_iterations=args.iterations,
        seed=args.seed,
        parity=not args.no_parity,
        shapes=tuple(args.shape),
        max_memory_mb=args.max_memory,
        max_batch=args.max_batch,
        engine_options=tuple(args.engine_option),
        inputs=_inputs(args),
        calibration_samples=args.calibration_samples,
        calibration_data=args.calibration_data,
        tags=tuple(args.tag),
        note=args.note,
    )


def _check_mode_fits_model(model: str, modes: tuple[str, ...]) -> None:
    """A causal LM sweeps in generate mode only, and generate mode needs one: one line before any cell runs."""
    from workbench.models.generative import is_generative_source

    generative = is_generative_source(model)
    other = [m for m in modes if m != "generate"]
    if generative and other:
        raise UsageError(f"{model} is a causal language model: sweep it with --mode generate (not {', '.join(other)})")
    if not generative and "generate" in modes:
        raise UsageError(f"--mode generate needs a causal language model (e.g. tiny-llama, llama-512); {model} is not")


def _inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--input``/``--inputs``/``--image-*`` values as the spec stores them (checked like a run's)."""
    from workbench.models.inputs import check_request

    request = input_request(args)
    check_request(request)
    return {} if request.empty else request.to_dict()


class _Progress:
    """Cells done/left, the current cell and an ETA: a redrawn line on a terminal, one line per finished cell
    always (a sweep under nohup or over a pipe still logs where it is)."""

    def __init__(self, quiet: bool) -> None:
        from workbench.report.text import ProgressLine

        self.quiet = quiet
        self.line = ProgressLine(enabled=False if quiet else None)
        self.current = ""
        self.done = 0
        self.total = 0

    def __call__(self, event: Any) -> None:
        from workbench.measure import events as ev
        from workbench.units import duration, ms

        if self.quiet:
            return
        if isinstance(event, ev.SweepStarted):
            self.total, self.done = event.total, event.done
            again = f" ({event.done} done before)" if event.done else ""
            self.line.clear()
            print(f"sweep {event.sweep_id}: {event.total} cells{again}", file=sys.stderr, flush=True)
        elif isinstance(event, ev.CellStarted):
            self.total = max(self.total, event.total)
            self.current = event.label
            eta = f" · ETA {duration(event.eta_s * 1000)}" if event.eta_s is not None else ""
            self._draw(0.0, f"{self.current}{eta}")
        elif isinstance(event, ev.Progress):
            self._draw(event.fraction, f"{self.current}  p50 {ms(event.p50_ms)} ms")
        elif isinstance(event, ev.Stage):
            self._draw(0.0, f"{self.current}: {event.message}")
        elif isinstance(event, ev.CellFinished):
            from workbench.report.sweep import cell_finished_line

            self.done = event.done
            self.line.clear()
            print(cell_finished_line(event, eta=True), file=sys.stderr, flush=True)

    def _draw(self, cell_fraction: float, text: str) -> None:
        total = max(self.total, 1)
        frac = min(1.0, (self.done + max(0.0, min(1.0, cell_fraction))) / total)
        self.line.update(frac, f"{self.done}/{self.total} cells, {max(self.total - self.done, 0)} left · {text}")

    def clear(self) -> None:
        self.line.clear()


def interrupt_on_signals() -> Callable[[], None]:
    """SIGTERM (kill, Slurm's scancel) and SIGHUP (a lost SSH session) stop the sweep like Ctrl-C, so the cell in
    flight is killed and the record says interrupted. Returns a function restoring the previous handlers."""

    def raise_interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    saved = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            saved[sig] = signal.signal(sig, raise_interrupt)
        except (ValueError, OSError):  # not the main thread
            continue

    def restore() -> None:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    return restore


def cmd_sweep(args: argparse.Namespace) -> int:
    from workbench.campaign.cells import SweepSpec
    from workbench.campaign.sweep import Sweep, SweepInterrupted, sweep_cells
    from workbench.store.history import HistoryStore

    store = HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    resume = None
    if args.resume:
        resume = store.get(args.resume)
        stored = (resume.sweep or {}).get("spec") if resume.kind == "sweep" else None
        if not stored:
            raise UsageError(f"{resume.run_id} is a run, not a sweep; only sweeps can be resumed")
        spec = SweepSpec.from_dict(stored)
    else:
        spec = spec_from_args(args)
    if args.on == "slurm":
        return _submit_slurm(args, spec)
    if args.dry_run:
        from workbench.campaign.cells import check_spec
        from workbench.machine.cpus import allowed_cores

        check_spec(spec, allowed_cores())
        cells, notes = sweep_cells(spec)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        for cell in cells:
            print(cell.label())
        return 0
    from workbench.cli.pricing import PriceSource

    price = PriceSource(getattr(args, "price_per_hour", None))
    progress = _Progress(args.quiet)
    sweep = Sweep(spec, store=store, on_event=progress, resume=resume, retry_failed=args.retry_failed, live=True)
    for note in sweep.notes:
        print(f"note: {note}", file=sys.stderr)
    restore = interrupt_on_signals()
    try:
        record = sweep.run()
    except SweepInterrupted as exc:
        progress.clear()
        done = len(exc.record.results)
        print(
            f"interrupted: {done} finished cells are saved in sweep {exc.record.run_id}; "
            f"continue with `workbench sweep --resume {exc.record.run_id}`",
            file=sys.stderr,
        )
        return 130
    finally:
        restore()
        progress.clear()
    if any(r.ok for r in record.results):
        before = [r.cost for r in record.results]
        price.apply(record)
        if [r.cost for r in record.results] != before:
            store.put(record)
    _print_and_write(record, args)
    return 0 if all(r.ok for r in record.results) else 1


def _print_and_write(record: Any, args: argparse.Namespace) -> None:
    from workbench.report.export import write_text
    from workbench.report.sweep import render_sweep, sweep_csv, sweep_json, sweep_markdown

    if "-" not in (args.json, args.csv, args.markdown):
        print(render_sweep(record, charts=not args.no_charts), flush=True)
    import json

    for target, render in (
        (args.json, lambda: json.dumps(sweep_json(record), indent=2, default=str)),
        (args.csv, lambda: sweep_csv(record)),
        (args.markdown, lambda: sweep_markdown(record)),
    ):
        if not target:
            continue
        text = render()
        if target == "-":
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            write_text(target, text)


def _submit_slurm(args: argparse.Namespace, spec: Any) -> int:
    from workbench.campaign.cells import check_spec
    from workbench.campaign.sweep import sweep_cells

    try:
        from workbench.cluster.fleet import submit_sweep
    except ImportError:
        raise UsageError("the Slurm backend is not available in this installation") from None
    if not args.partition:
        raise UsageError("--on slurm needs --partition NAME[,NAME...] (sinfo lists them)")
    cores = max(spec.threads)
    check_spec(spec, list(range(max(cores, len(spec.cores or ()), 1))))  # the nodes' cores, not this login node's
    cells, notes = sweep_cells(spec)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    submission = submit_sweep(
        spec,
        cells,
        list(args.partition),
        dry_run=args.dry_run,
        fleet_dir=args.fleet_dir,
        exclusive=not args.no_exclusive,
        physical_cores=args.physical_cores,
        time_limit_min=args.time,
    )
    print(submission.describe() if hasattr(submission, "describe") else submission)
    return 0


def cmd_sweep_cell(args: argparse.Namespace) -> int:
    from workbench.campaign.sweep import run_cell_job

    restore = interrupt_on_signals()
    try:
        return run_cell_job(args.job, args.out)
    except KeyboardInterrupt:
        print("cell interrupted (SIGTERM/SIGHUP/Ctrl-C): no result written", file=sys.stderr)
        return 130
    finally:
        restore()
