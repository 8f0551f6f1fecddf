"""The ``workbench`` command.

``workbench`` alone opens the terminal UI; subcommands run the same core headless, with exit codes a script
can trust: 0 all good, 1 a run (or a parity check, or a regression gate) failed, 2 bad usage or input,
130 interrupted. Every module behind a subcommand is imported only when that subcommand runs, so ``--help`` never
imports torch, openvino, onnxruntime or textual.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Sequence

from . import __version__
from .errors import UsageError, WorkbenchError

EPILOG = """\
examples:
  workbench                                   open the terminal UI
  workbench engines                           what this machine can benchmark
  workbench run --model resnet50 --engines torch,onnxruntime,openvino --cores 0-3 --duration 10
  workbench run --model my.onnx --shape input=8x3x224x224 --mode throughput --json result.json
  workbench parity --model distilbert --engines torch,onnxruntime,openvino
  workbench watch                             follow a run started in another terminal
  workbench history list                      past runs, newest first
  workbench compare --baseline base.json --candidate latest --fail-above 5

State (model cache, history, live streams) lives in XDG dirs, or under $WORKBENCH_HOME when set.
"""


# ---- argument helpers ----------------------------------------------------------------------------------------
def _engines(value: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    if not items:
        raise argparse.ArgumentTypeError("give at least one engine, e.g. torch,onnxruntime,openvino")
    return items


def _cores(value: str) -> tuple[int, ...]:
    from .sysinfo import parse_cpu_list

    try:
        return tuple(parse_cpu_list(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shape(value: str) -> tuple[str, tuple[int, ...]]:
    name, sep, dims = value.rpartition("=")
    if not sep:
        name, dims = "*", value
    try:
        shape = tuple(int(d) for d in dims.lower().replace(",", "x").split("x") if d)
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"bad shape {value!r}: use NAME=1x3x224x224 (positive integers)")
    return name.strip() or "*", shape


def _warmup(value: str) -> tuple[float, int | None]:
    """'2s' or '2.5' → seconds; '20it' / '20i' / '20x' → iterations."""
    v = value.strip().lower()
    try:
        for suffix in ("it", "i", "x"):
            if v.endswith(suffix):
                n = int(v[: -len(suffix)])
                if n < 0:
                    raise ValueError
                return 0.0, n
        seconds = float(v[:-1] if v.endswith("s") else v)
        if seconds < 0:
            raise ValueError
        return seconds, None
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad --warmup {value!r}: use seconds (2s, 0.5) or iterations (20it)") from None


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    return n


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2 (no usage dump on stderr spam)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _add_model_args(p: argparse.ArgumentParser, *, engines_default: str | None) -> None:
    p.add_argument("--model", "-m", required=True,
                   help="built-in model name (workbench models) or a file: .onnx, OpenVINO .xml (+.bin), "
                        "TorchScript .pt, torch.export .pt2")
    p.add_argument("--engines", "-e", type=_engines, default=_engines(engines_default) if engines_default else None,
                   help="comma-separated engines (workbench engines lists them)"
                        + (f"; default {engines_default}" if engines_default else ""))
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda where an NVIDIA GPU is present")
    p.add_argument("--precision", "-p", default="fp32", choices=["fp32", "bf16", "fp16", "int8"],
                   help="precision to request; results record what the engine really used (default fp32)")
    p.add_argument("--batch", "-b", type=_positive_int, default=1, help="batch size (default 1)")
    p.add_argument("--shape", action="append", type=_shape, default=[], metavar="NAME=DIMS",
                   help="bind an input's shape, e.g. input_ids=1x128 (repeatable; needed for symbolic dims)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights of built-ins and for inputs (default 0)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="workbench", description="Benchmark inference engines side by side on this machine.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("ui", help="open the terminal UI (the default with no command)")
    p.add_argument("--model", "-m", help="preselect a model (built-in name or file)")
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser(
        "run", help="benchmark a model on one or more engines",
        description="Benchmark a model on each engine in its own pinned process, interleaving rounds, and print "
                    "a side-by-side table (latency percentiles, throughput, load and first-inference time, "
                    "memory, effective precision, parity and speedup vs the baseline).",
        epilog="examples:\n"
               "  workbench run -m resnet18 -e torch,onnxruntime,openvino --cores 1 --duration 3 --json r.json\n"
               "  workbench run -m resnet50 -e openvino --mode throughput --streams 2 --cores 0-3\n"
               "  workbench run -m bert_base -e torch,onnxruntime --repeats 5 --duration 60   # 5 x 60 s protocol\n"
               "\nexit codes: 0 all good, 1 an engine failed or parity failed, 2 bad usage or input",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_model_args(p, engines_default="torch,onnxruntime,openvino")
    p.add_argument("--mode", choices=["latency", "throughput"], default="latency",
                   help="latency: one request in flight; throughput: several (default latency)")
    p.add_argument("--requests", type=_positive_int, help="requests in flight in throughput mode (default: engine's optimum)")
    p.add_argument("--streams", type=_positive_int, help="OpenVINO streams in throughput mode (default: automatic)")
    p.add_argument("--threads", "-t", type=_positive_int, help="intra-op threads (default: number of pinned cores)")
    p.add_argument("--cores", "-c", type=_cores,
                   help="cores to pin each benchmark process to: 1, 0-3, 0,2 (default: all but one when > 2)")
    p.add_argument("--duration", "-d", type=_float, default=5.0, help="measured seconds per round (default 5)")
    p.add_argument("--iterations", "-n", type=_positive_int, default=10,
                   help="minimum measured iterations per round; the round runs until both minimums are met (default 10)")
    p.add_argument("--warmup", "-w", type=_warmup, default=(1.0, None),
                   help="warm-up before each round, excluded from stats: seconds (1s) or iterations (20it) (default 1s)")
    p.add_argument("--repeats", "-r", type=_positive_int, default=1, help="independent rounds per engine, interleaved (default 1)")
    p.add_argument("--percentile", action="append", type=_float, default=[], metavar="P",
                   help="report an extra latency percentile, e.g. 97.5 or 99.99 (repeatable)")
    p.add_argument("--baseline", help="engine the speedups are relative to (default: the first engine)")
    p.add_argument("--no-parity", action="store_true", help="skip the output check (speedups are then not shown)")
    p.add_argument("--timeout", type=_float, default=300.0, help="seconds a benchmark process may stay silent (default 300)")
    p.add_argument("--json", metavar="FILE", help="write the result as JSON (- for stdout)")
    p.add_argument("--csv", metavar="FILE", help="write one CSV row per engine")
    p.add_argument("--markdown", metavar="FILE", help="write a markdown table")
    p.add_argument("--save-samples", action="store_true", help="keep raw latencies in a side file of the history")
    p.add_argument("--no-save", action="store_true", help="do not record this run in the results history")
    p.add_argument("--tag", action="append", default=[], help="label the run in the history (repeatable)")
    p.add_argument("--note", help="free-text note stored with the run")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "parity", help="check that engines compute the same outputs",
        description="Feed one identical seeded input to every engine and compare each output with the reference "
                    "(torch fp32 for built-ins, ONNX Runtime fp32 for .onnx files, OpenVINO fp32 for IR): max abs "
                    "error, relative L2 error, top-1 agreement. Tolerances depend on the precision "
                    "(docs/methodology.md). Exit 0 when all pass, 1 when any fails.")
    _add_model_args(p, engines_default="torch,onnxruntime,openvino")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_parity)

    p = sub.add_parser("engines", help="engines installed here, their versions and devices")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--quick", action="store_true", help="do not import engines to probe their devices")
    p.set_defaults(func=cmd_engines)

    p = sub.add_parser("models", help="built-in models")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("sysinfo", help="what this machine is: CPU, ISA flags, NUMA, memory, governor, GPUs")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_sysinfo)

    p = sub.add_parser("doctor", help="check the machine for noise before benchmarking; measure harness overhead")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--cores", "-c", type=_cores, help="cores to check (default: the benchmark default)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("watch", help="follow the live progress of a run started in another terminal")
    p.add_argument("run_id", nargs="?", help="run to follow (default: the newest run in flight)")
    p.add_argument("--wait", type=_float, default=0.0, help="seconds to wait for a run to start (default 0)")
    p.add_argument("--json", action="store_true", help="print events as JSON lines")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("serve", help="serve the UI to a browser (textual-serve), on 127.0.0.1 by default")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    try:
        from . import cmd_history
    except ImportError:  # pragma: no cover - ships with the package
        cmd_history = None
    if cmd_history is not None:
        cmd_history.register(sub)
    return parser


# ---- commands ------------------------------------------------------------------------------------------------
def cmd_ui(args: argparse.Namespace) -> int:
    from .tui.app import run_app

    kwargs: dict[str, Any] = {}
    if getattr(args, "model", None):
        kwargs["model"] = args.model
    return run_app(**kwargs) or 0


def _run_config(args: argparse.Namespace):
    from .runner import RunConfig

    warmup_s, warmup_iters = args.warmup
    return RunConfig(
        model=args.model, engines=args.engines, device=args.device, precision=args.precision, mode=args.mode,
        batch=args.batch, threads=args.threads, cores=args.cores, duration_s=args.duration,
        min_iterations=args.iterations, warmup_s=warmup_s, warmup_iterations=warmup_iters, repeats=args.repeats,
        requests=args.requests, streams=args.streams, shapes=tuple(args.shape), seed=args.seed,
        baseline=args.baseline, save_samples=args.save_samples, parity=not args.no_parity, tags=tuple(args.tag),
        note=args.note, timeout_s=args.timeout, percentiles=tuple(args.percentile),
    )


def _progress_printer(progress) -> Callable[[Any], None]:
    from . import events as ev
    from .fmt import ms

    def on_event(event: Any) -> None:
        if isinstance(event, ev.Progress):
            extra = f"  p50 {ms(event.p50_ms)} ms  p99 {ms(event.p99_ms)} ms" if event.p50_ms is not None else ""
            thr = f"  {event.throughput:,.1f}/s" if event.throughput else ""
            rnd = f" round {event.round + 1}/{event.rounds}" if event.rounds > 1 else ""
            progress.update(event.fraction, f"{event.engine}{rnd}  n={event.iterations}{extra}{thr}")
        elif isinstance(event, ev.Stage):
            progress.update(0.0 if event.stage != "loading" else progress.fraction, event.message + " …")
        elif isinstance(event, ev.EngineLoaded):
            eff = event.effective
            progress.message(f"loaded {event.engine}: {event.load_ms:,.0f} ms, first inference "
                             f"{event.first_inference_ms:,.1f} ms, {eff.get('precision')} x{eff.get('threads')} threads")
        elif isinstance(event, ev.EngineFailed):
            progress.message(f"{event.engine} failed: {event.error}")

    return on_event


def render_results(record) -> str:
    from .fmt import ms, num, table

    rows = []
    for r in record.results:
        if not r.ok:
            rows.append([r.engine, "-", "-", "-", "-", "-", "-", "-", "-", "-", "FAILED", r.error or ""])
            continue
        lat = r.latency_ms or {}
        parity = (r.parity or {}).get("status", "-")
        speed = f"{r.speedup:.2f}x" if r.speedup is not None else ("-" if not r.speedup_note else "n/a")
        rows.append([
            r.engine, r.precision_effective or "?", ms(lat.get("p50")), ms(lat.get("p90")), ms(lat.get("p99")),
            f"{ms(lat.get('mean'))}±{ms(lat.get('std'))}", num(r.throughput), num(r.load_ms, 0),
            ms(r.first_inference_ms), num(r.peak_rss_mb, 0), parity, speed,
        ])
    headers = ["engine", "prec", "p50 ms", "p90 ms", "p99 ms", "mean±std ms", "items/s", "load ms", "1st ms",
               "RSS MB", "parity", "speedup"]
    c = record.config
    cores = c.get("cores") or []
    from .export import format_cores

    cores_s = format_cores(cores)
    cpu = ((record.system or {}).get("cpu") or {}).get("model")
    head = (f"{record.model['name']}  batch {c.get('batch')}  {c.get('mode')}  threads {c.get('threads')}  "
            f"cores {cores_s}  {c.get('duration_s'):g}s x {c.get('repeats')}  run {record.run_id}")
    lines = [head, table(headers, rows)]
    notes = []
    for r in record.results:
        if r.speedup_note and r.speedup_note != "baseline" and r.speedup is None and r.ok:
            notes.append(f"  {r.engine}: speedup {r.speedup_note}")
        p = r.parity or {}
        if p.get("status") in ("fail", "error") and p.get("message"):
            notes.append(f"  {r.engine}: parity {p['status']}: {p['message']}")
        for w in r.warnings:
            notes.append(f"  {r.engine}: [{w['code']}] {w['message']}")
    for w in record.warnings:
        notes.append(f"  [{w['code']}] {w['message']}")
    if notes:
        lines.append("notes:")
        lines += notes
    if isinstance(cpu, str) and cpu:
        lines.append(f"machine: {cpu}")
    return "\n".join(lines)


def _write_outputs(record, args: argparse.Namespace) -> None:
    from .export import write

    for fmt, target in (("json", args.json), ("csv", args.csv), ("markdown", args.markdown)):
        if not target:
            continue
        if target == "-":
            from .export import get_exporter

            text = get_exporter(fmt).render([record])
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            write(target, fmt, [record])


def cmd_run(args: argparse.Namespace) -> int:
    from .fmt import ProgressLine
    from .runner import Runner

    config = _run_config(args)
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
    if args.json != "-":
        print(render_results(record), flush=True)  # results first: nothing below may lose them
    problems = 0
    if not args.no_save:
        try:
            from .history import HistoryStore

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


def cmd_parity(args: argparse.Namespace) -> int:
    from .fmt import table
    from .parity_run import run_parity

    report = run_parity(args.model, args.engines, precision=args.precision, device=args.device, batch=args.batch,
                        shapes=dict(args.shape) or None, seed=args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        rows = []
        for e in report["engines"]:
            p = e.get("parity") or {}
            rows.append([
                e["engine"], e.get("precision_effective") or "-",
                f"{p['max_abs']:.2e}" if p.get("max_abs") is not None else "-",
                f"{p['rel_l2']:.2e}" if p.get("rel_l2") is not None else "-",
                f"{p['top1']:.0%}" if p.get("top1") is not None else "-",
                f"{p['tolerance']:.0e}" if p.get("tolerance") is not None else "-",
                (p.get("status") or "error").upper(), e.get("error") or p.get("message") or "",
            ])
        print(f"{report['model']}  batch {report['batch']}  reference {report['reference']}  input seed {report['seed']}")
        print(table(["engine", "prec", "max abs", "rel L2", "top-1", "tol", "verdict", "detail"], rows))
    return 0 if report["passed"] else 1


def cmd_engines(args: argparse.Namespace) -> int:
    from workbench_engines.registry import engine_infos, probe

    infos = [i.to_dict() for i in engine_infos()]
    if not args.quick:
        for info in infos:
            if info["installed"]:
                devices, err = probe(info["name"])
                if devices is not None:
                    info["devices"] = list(devices)
                    info["note"] = None
                else:
                    info["note"] = f"probe failed: {err}"
    if args.json:
        print(json.dumps(infos, indent=2))
        return 0
    from .fmt import table

    rows = [[i["name"], i["display_name"], i["version"] or "-", "yes" if i["installed"] else "no",
             ",".join(i["devices"]) or "-", ",".join(i["precisions"]), ",".join(i["formats"]), i["note"] or ""]
            for i in infos]
    print(table(["engine", "name", "version", "installed", "devices", "precisions", "formats", "note"], rows))
    return 0


def _model_entries() -> list[dict[str, Any]]:
    from . import zoo

    entries = []
    for name in zoo.names():
        m = zoo.get(name)
        entries.append({"name": m.name, "task": m.task, "description": m.description, "params": m.params,
                        "source": m.source, "outputs": list(m.outputs),
                        "inputs": [t.to_dict() for t in m.input_specs(1)]})
    return entries


def cmd_models(args: argparse.Namespace) -> int:
    models = _model_entries()
    if args.json:
        print(json.dumps(models, indent=2))
        return 0
    from .fmt import table
    from .zoo import human_count

    rows = []
    for d in models:
        inputs = " ".join(f"{i['name']}:{'x'.join(map(str, i['shape']))}" for i in d["inputs"])
        rows.append([d["name"], d["task"], human_count(d["params"]) if d.get("params") else "-", inputs,
                     d["description"]])
    print(table(["model", "task", "params", "inputs (batch 1)", "description"], rows, align="llrll"))
    print("\nAlso: any .onnx, OpenVINO .xml (+.bin), TorchScript .pt or torch.export .pt2 file path.")
    return 0


def cmd_sysinfo(args: argparse.Namespace) -> int:
    from . import sysinfo

    info = sysinfo.collect()
    print(json.dumps(info, indent=2, default=str) if args.json else sysinfo.format_table(info))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import run_doctor

    return run_doctor(cores=args.cores, as_json=args.json)


def cmd_watch(args: argparse.Namespace) -> int:
    from .watch import watch

    return watch(args.run_id, wait_s=args.wait, as_json=args.json)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from .tui.serve import serve
    except ImportError as exc:
        raise UsageError(f"serving needs textual-serve: pip install 'inference-workbench[serve]' ({exc})") from None
    return serve(args.host, args.port) or 0


# ---- entry point ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        func = cmd_ui
    try:
        return int(func(args) or 0)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # never a traceback to the user; WORKBENCH_DEBUG=1 shows it
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"error: internal error ({type(exc).__name__}: {first}); rerun with WORKBENCH_DEBUG=1 "
              f"for details and please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
