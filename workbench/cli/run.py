"""``workbench run``: benchmark a model on one or more engines and print the side-by-side table."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from workbench.cli.args import (
    RAW,
    add_args,
    add_command,
    add_engine_option_arg,
    add_files,
    add_input_args,
    add_model_args,
    add_switches,
    add_tolerance_args,
    cpu_list,
    input_request,
    number,
    positive_int,
    warmup_arg,
)
from workbench.measure.settings import RUN
from workbench.report.text import render_results


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "run",
        cmd_run,
        engine_help=True,
        help="benchmark a model on one or more engines",
        description="Benchmark a model on each engine in its own pinned process, interleaving rounds, and print "
        "a side-by-side table (latency percentiles, throughput, load and first-inference time, "
        "memory, effective precision, parity and speedup vs the baseline).",
        epilog="examples:\n"
        "  workbench run -m resnet18 -e torch,onnxruntime,openvino --cores 1 --duration 3 --json r.json\n"
        "  workbench run -m resnet50 -e openvino --mode throughput --streams 2 --cores 0-3\n"
        "  workbench run -m resnet50 -e openvino,onnxruntime --mode throughput --engine-option openvino.streams=2\n"
        "  workbench run -m bert_base -e torch,onnxruntime --repeats 5 --duration 60   # 5 x 60 s protocol\n"
        "  workbench run -m resnet50 -e torch,onnxruntime,openvino --precision int8   # vs each engine's fp32\n"
        "  workbench run -m resnet18 -e torch --mode train --batch 8 --optimizer adamw   # timed training steps\n"
        "  workbench run -m resnet18 -e torch,onnxruntime,openvino --sparsity 0.9   # 90 % of weights pruned\n"
        "  workbench run -m vad.onnx -e onnxruntime,openvino --input sr=16000 --input x=chunk.npy\n"
        "  workbench run -m model.onnx --input pixel_values=cat.jpg --rtol 5e-3   # a real image, looser parity\n"
        "  workbench run -m resnet18 -e onnxruntime --scenario server --target-qps 40 --latency-bound 250ms\n"
        "  workbench run -m resnet18 -e onnxruntime,openvino --find-max-qps --latency-bound 100ms --percentile 99\n"
        "\nexit codes: 0 all good, 1 an engine failed or parity failed, 2 bad usage or input",
        formatter_class=RAW,
    )
    add_model_args(p, engines_default="torch,onnxruntime,openvino")
    _add_mode_args(p)
    add_engine_option_arg(p)
    _add_protocol_args(p)
    add_tolerance_args(p)
    add_input_args(p)
    add_precision_args(p)
    add_scenario_args(p)
    _add_output_args(p)


def latency_bound(value: str) -> float:
    """``100ms``, ``0.1s``, ``100`` (ms) -> milliseconds (argparse type; the value itself is checked later)."""
    from workbench.measure.scenario import parse_duration_ms

    try:
        return parse_duration_ms(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_scenario_args(p: argparse.ArgumentParser) -> None:
    """``--scenario`` and its settings, ``--find-max-qps`` (MLPerf LoadGen; docs/methodology.md)."""
    g = p.add_argument_group(
        "latency under load (MLPerf LoadGen scenarios)",
        "LoadGen drives the engine inside its pinned benchmark process; the result carries LoadGen's verdict\n"
        "(VALID/INVALID and why), its percentiles and the achieved rate. One LoadGen sample is one engine call\n"
        "at --batch. --duration is LoadGen's minimum duration; a short run is only indicative (--mlperf-rules).",
    )
    add_args(
        g,
        (
            "--scenario",
            "singlestream (one query at a time, p90), multistream (queries of --samples-per-query samples, p99), "
            "server (random arrivals at --target-qps, judged against --latency-bound), offline (all at once)",
            {"choices": ["singlestream", "multistream", "server", "offline"]},
        ),
        ("--target-qps", "server: arrival rate in queries/s; offline: the expected rate", {"type": number}),
        (
            "--latency-bound",
            "server / --find-max-qps: the latency bound, e.g. 100ms or 0.25s, at the percentile given by "
            "--percentile (default p99) (default LoadGen's 100ms)",
            {"type": latency_bound, "metavar": "DURATION"},
        ),
        ("--samples-per-query", "multistream: samples per query (default 8)", {"type": positive_int}),
        (
            "--qsl-samples",
            "distinct input samples in LoadGen's sample library, seeded seed, seed+1, ... (default 16, fewer when "
            "they would exceed 256 MB; 1 when every input is given)",
            {"type": positive_int, "metavar": "N"},
        ),
        (
            "--min-queries",
            "queries LoadGen must issue at least (default: multistream 662, which early stopping needs; "
            "offline 1; else 100)",
            {"type": positive_int},
        ),
    )
    add_switches(
        g,
        ("--mlperf-rules", "apply the official mlperf.conf minimums (600 s, seeds, early stopping): a quotable run"),
        (
            "--issue-core",
            "server / --find-max-qps: engine threads = pinned cores - 1, leaving one core to LoadGen's issuing "
            "thread (less issue delay, one core less compute)",
        ),
        (
            "--find-max-qps",
            "search the highest server QPS that stays VALID under --latency-bound: an offline run, then "
            "bisected server probes, confirmed with repeats (each engine on its own)",
        ),
    )


def _add_mode_args(p: argparse.ArgumentParser) -> None:
    """``--mode`` and what it tunes: the optimizer, sparsity, requests and streams."""
    add_args(
        p,
        (
            "--mode",
            "latency: one request in flight; throughput: several; train: timed training steps (forward, loss, "
            "backward, optimizer step; torch only); generate: greedy text generation of a causal LM (time to "
            "first token, per-token latency, tokens/s, token parity) (default latency)",
            {"choices": ["latency", "throughput", "train", "generate"], "default": "latency"},
        ),
        (
            "--prompt-tokens",
            f"generate: prompt length in tokens, built from a fixed built-in text (default {RUN.prompt_tokens})",
            {"type": positive_int, "default": RUN.prompt_tokens, "metavar": "N"},
        ),
        (
            "--new-tokens",
            "generate: tokens to generate per generation (greedy unless --sample); EOS does not stop it "
            f"(default {RUN.new_tokens})",
            {"type": positive_int, "default": RUN.new_tokens, "metavar": "N"},
        ),
        (
            "--prompt",
            "generate: the prompt as text, or a file holding it (BOS + its tokens; replaces --prompt-tokens)",
            {"metavar": "TEXT|FILE"},
        ),
        (
            "--sample",
            "generate: draw each token (seeded with --seed) instead of the greedy pick; tokens are then not "
            "compared across engines (their generators differ)",
            {"action": "store_true"},
        ),
        (
            "--temperature",
            "generate --sample: divide the logits by T before drawing (default 1)",
            {"type": number, "metavar": "T"},
        ),
        (
            "--top-k",
            "generate --sample: draw among the K most likely tokens (default 0: all)",
            {"type": int, "metavar": "K"},
        ),
        (
            "--top-p",
            "generate --sample: draw among the most likely tokens whose probability reaches P (default 1: all)",
            {"type": number, "metavar": "P"},
        ),
        (
            "--optimizer",
            "train mode's optimizer (default sgd); shorthand for --engine-option torch.optimizer=NAME",
            {"choices": ["sgd", "adamw"]},
        ),
        (
            "--sparsity",
            "prune this fraction of a built-in's conv/linear weights to zero (global magnitude) before export, "
            "for every engine alike, e.g. 0.5 (default 0: dense)",
            {"type": number, "default": 0.0, "metavar": "FRACTION"},
        ),
        (
            "--requests",
            "requests the harness keeps in flight in throughput mode, any engine (default: engine's optimum)",
            {"type": positive_int},
        ),
        (
            "--streams",
            "OpenVINO streams in throughput mode (default: automatic); shorthand for --engine-option openvino.streams=N",
            {"type": positive_int},
        ),
    )


def _add_protocol_args(p: argparse.ArgumentParser) -> None:
    """Threads, cores, and how long and how often each engine is measured."""
    add_args(
        p,
        ("--threads -t", "intra-op threads (default: number of pinned cores)", {"type": positive_int}),
        (
            "--cores -c",
            "cores to pin each benchmark process to: 1, 0-3, 0,2 (default: all but one when > 2)",
            {"type": cpu_list},
        ),
        (
            "--duration -d",
            f"measured seconds per round (default {RUN.duration_s:g})",
            {"type": number, "default": RUN.duration_s},
        ),
        (
            "--iterations -n",
            "minimum measured iterations per round; the round runs until both minimums are met (default 10)",
            {"type": positive_int, "default": 10},
        ),
        (
            "--warmup -w",
            "warm-up before each round, excluded from stats: seconds (1s) or iterations (20it) (default 1s)",
            {"type": warmup_arg, "default": (1.0, None)},
        ),
        (
            "--repeats -r",
            "independent rounds per engine, interleaved (default 1)",
            {"type": positive_int, "default": 1},
        ),
        (
            "--percentile",
            "report an extra latency percentile, e.g. 97.5 or 99.99 (repeatable); with --scenario or "
            "--find-max-qps the last one is also the percentile LoadGen judges (default p90 singlestream, else p99)",
            {"action": "append", "type": number, "default": [], "metavar": "P"},
        ),
        ("--baseline", "engine the speedups are relative to (default: the first engine)", {}),
    )
    add_switches(p, ("--no-parity", "skip the output check (speedups are then not shown)"))


def _add_output_args(p: argparse.ArgumentParser) -> None:
    """The timeout, the files written, and what the history keeps."""
    p.add_argument(
        "--timeout", type=number, default=300.0, help="seconds a benchmark process may stay silent (default 300)"
    )
    add_files(
        p,
        ("--json", "write the result as JSON (- for stdout)"),
        ("--csv", "write one CSV row per engine"),
        ("--markdown", "write a markdown table"),
    )
    add_switches(
        p,
        ("--save-samples", "keep raw latencies in a side file of the history"),
        ("--no-save", "do not record this run in the results history"),
    )
    add_args(
        p,
        ("--tag", "label the run in the history (repeatable)", {"action": "append", "default": []}),
        ("--note", "free-text note stored with the run", {}),
    )
    from workbench.cli.pricing import add_price_arg

    add_price_arg(p)
    add_switches(
        p,
        ("--quiet -q", "no progress bar"),
        (
            "--verbose -v",
            "with each diagnostic (an advisory part that failed), its traceback; with a failed engine, "
            "its full error text",
        ),
    )


#: ``workbench run`` options that are :class:`RunConfig` fields of the same name and value
_AS_GIVEN = (
    "model", "device", "precision", "mode", "batch", "threads", "cores", "repeats", "requests", "seed", "baseline",
    "save_samples", "note", "rtol", "atol", "calibration_samples", "calibration_data", "drift_samples", "sparsity",
)  # fmt: skip


def _run_config(args: argparse.Namespace):
    from workbench.measure.runner import DEFAULT_ENGINES, RunConfig

    warmup_s, warmup_iters = args.warmup
    return RunConfig(
        **{name: getattr(args, name) for name in _AS_GIVEN},
        engines=args.engines or DEFAULT_ENGINES,
        engines_explicit=args.engines is not None,
        duration_s=args.duration,
        min_iterations=args.iterations,
        warmup_s=warmup_s,
        warmup_iterations=warmup_iters,
        engine_options=_engine_options(args),
        shapes=tuple(args.shape),
        parity=not args.no_parity,
        tags=tuple(args.tag),
        timeout_s=args.timeout,
        percentiles=tuple(args.percentile),
        inputs=input_request(args),
        fp32_baseline=not args.no_fp32_baseline,
        prompt_tokens=args.prompt_tokens,
        new_tokens=args.new_tokens,
        prompt=_prompt_text(args.prompt),
        sample=args.sample,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        **_scenario_fields(args),
    )


def _scenario_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The RunConfig fields of the scenario options. With a scenario, the last ``--percentile`` is also the one its
    latency is judged at (and still reported)."""
    scenario = getattr(args, "scenario", None)
    judged = args.percentile[-1] if args.percentile and (scenario or getattr(args, "find_max_qps", False)) else None
    return {
        "scenario": scenario,
        "target_qps": args.target_qps,
        "latency_bound_ms": args.latency_bound,
        "latency_percentile": judged,
        "samples_per_query": args.samples_per_query,
        "min_queries": args.min_queries,
        "mlperf_rules": args.mlperf_rules,
        "qsl_samples": args.qsl_samples,
        "issue_core": args.issue_core,
    }


def _prompt_text(value: str | None) -> str | None:
    """``--prompt``: a file's text when ``value`` names a file, else the text itself. UsageError in one line for an
    unreadable or empty prompt."""
    import os

    from workbench.errors import UsageError

    if value is None:
        return None
    if os.path.isfile(value):
        try:
            with open(value, encoding="utf-8") as fh:
                value = fh.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--prompt {value}: cannot read it as UTF-8 text ({type(exc).__name__})") from None
    if not value.strip():
        raise UsageError("--prompt is empty")
    return value


def add_precision_args(p: argparse.ArgumentParser) -> None:
    """Calibration of ``--precision int8`` and the fp32 baseline / drift of any precision below fp32."""
    g = p.add_argument_group(
        "below fp32 (--precision bf16|fp16|int8)",
        "each engine is also measured at fp32 in the same rounds: the table shows the speedup over the same\n"
        "engine's fp32 and the drift of its outputs against fp32 (docs/methodology.md, Drift)",
    )
    g.add_argument(
        "--calibration-samples",
        type=positive_int,
        metavar="N",
        help="int8: calibration samples (default 10 generated ones, or all of --calibration-data)",
    )
    g.add_argument(
        "--calibration-data",
        metavar="FILE.npz|DIR",
        help="int8: calibrate on real data: an .npz of arrays keyed by input name with a leading sample axis, "
        "or a folder of .npz/.npy/image files (one sample each)",
    )
    g.add_argument(
        "--drift-samples",
        type=positive_int,
        default=8,
        metavar="N",
        help="seeded inputs the drift against fp32 is measured on (default 8)",
    )
    g.add_argument(
        "--no-fp32-baseline",
        action="store_true",
        help="do not measure each engine at fp32 too (no speedup over fp32, no drift)",
    )


def _engine_options(args: argparse.Namespace) -> tuple[tuple[str, str, Any], ...]:
    """``--engine-option`` items, ``--streams N`` first as ``openvino.streams=N`` and ``--optimizer NAME`` as
    ``torch.optimizer=NAME`` (an explicit ``--engine-option`` of the same name wins)."""
    items: list[tuple[str, str, Any]] = []
    if args.streams is not None:
        items.append(("openvino", "streams", args.streams))
    if getattr(args, "optimizer", None) is not None:
        items.append(("torch", "optimizer", args.optimizer))
    return tuple(items + list(args.engine_options))


def _progress_printer(progress) -> Callable[[Any], None]:
    from workbench.measure import events as ev
    from workbench.units import duration, ms, rate

    def on_event(event: Any) -> None:
        if isinstance(event, ev.Progress):
            extra = f"  p50 {ms(event.p50_ms)} ms  p99 {ms(event.p99_ms)} ms" if event.p50_ms is not None else ""
            thr = f"  {rate(event.throughput, '/s')}" if event.throughput else ""
            rnd = f" round {event.round + 1}/{event.rounds}" if event.rounds > 1 else ""
            progress.update(event.fraction, f"{event.engine}{rnd}  n={event.iterations}{extra}{thr}")
        elif isinstance(event, ev.Stage):
            progress.update(0.0 if event.stage != "loading" else progress.fraction, event.message + " …")
        elif isinstance(event, ev.EngineLoaded):
            eff = event.effective
            progress.message(
                f"loaded {event.engine}: {duration(event.load_ms)}, first inference "
                f"{duration(event.first_inference_ms)}, {eff.get('precision')} x{eff.get('threads')} threads"
            )
        elif isinstance(event, ev.EngineFailed):
            progress.message(f"{event.engine} failed: {event.error}")

    return on_event


def _write_outputs(record, args: argparse.Namespace) -> None:
    from workbench.report.export import write

    for fmt, target in (("json", args.json), ("csv", args.csv), ("markdown", args.markdown)):
        if not target:
            continue
        if target == "-":
            from workbench.report.export import get_exporter

            text = get_exporter(fmt).render([record])
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            write(target, fmt, [record])


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.cli.sweep import interrupt_on_signals

    restore = interrupt_on_signals()  # SIGTERM / SIGHUP (kill, a lost SSH session) stop the run like Ctrl-C
    try:
        return _run_or_search(args)
    finally:
        restore()


def _run_or_search(args: argparse.Namespace) -> int:
    """The run (or ``--find-max-qps`` search) itself; an interrupt stops its benchmark processes and exits 130."""
    from workbench.cli.pricing import PriceSource
    from workbench.measure.runner import Runner
    from workbench.report.text import ProgressLine

    if args.find_max_qps:
        from workbench.cli.maxqps import cmd_find_max_qps

        return cmd_find_max_qps(args, _run_config(args), _progress_printer, _write_outputs)
    config = _run_config(args)
    price = PriceSource(args.price_per_hour)
    progress = ProgressLine(enabled=False if args.quiet else None)
    runner = Runner(config, on_event=_progress_printer(progress))
    try:
        record = runner.run()
    except KeyboardInterrupt:
        runner.stop()
        progress.clear()
        print("interrupted: nothing was saved", file=sys.stderr)
        return 130
    finally:
        progress.clear()
    price.apply(record)
    if args.json != "-":
        print(render_results(record), flush=True)  # results first: nothing below may lose them
    print_diagnostics(record.diagnostics, verbose=args.verbose)
    if args.verbose:
        print_error_details(record.results)
    problems = 0
    if not args.no_save:
        try:
            from workbench.store.history import HistoryStore

            HistoryStore(notice=lambda msg: print(f"warning: {msg}", file=sys.stderr)).add(record)
        except Exception as exc:  # the measurement stands even if the history cannot take it
            print(f"warning: run not saved to history: {exc}", file=sys.stderr)
    try:
        _write_outputs(record, args)
    except Exception as exc:
        print(f"error: could not write results: {exc}", file=sys.stderr)
        problems += 1
    failed = [r for r in record.results if not r.ok]
    parity_failed = [r for r in record.results if (r.parity or {}).get("status") == "fail"]
    return 1 if failed or parity_failed or problems else 0


def print_error_details(results: list[Any]) -> None:
    """The full error text of each failed engine (its one line is in the table), to stderr."""
    for r in results:
        if not r.ok and r.error_detail:
            print(f"{r.engine} failed: full error text:\n{r.error_detail.rstrip()}", file=sys.stderr)


def print_diagnostics(diagnostics: list[dict[str, str]], *, verbose: bool = False) -> None:
    """One stderr line per advisory part of the run that failed (the numbers stand; what is missing is named)."""
    for d in diagnostics:
        who = f" ({d['engine']})" if d.get("engine") else ""
        print(
            f"warning: {d['where']}{who} failed: {d['error']}; the record's warnings may be incomplete"
            + ("" if verbose else " (--verbose shows why)"),
            file=sys.stderr,
        )
        if verbose and d.get("detail"):
            print(d["detail"].rstrip(), file=sys.stderr)
