"""The ``workbench`` command.

``workbench`` alone opens the terminal UI; subcommands run the same core headless, with exit codes a script
can trust: 0 all good, 1 a run (or a parity check, or a regression gate) failed, 2 bad usage or input,
130 interrupted. Every module behind a subcommand is imported only when that subcommand runs, so ``--help`` never
imports torch, openvino, onnxruntime or textual.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

from workbench import __version__
from workbench.cli.args import Parser, add_args, add_command
from workbench.errors import UsageError, WorkbenchError

EPILOG = """\
examples:
  workbench                                   open the terminal UI
  workbench engines                           what this machine can benchmark
  workbench run --model resnet50 --engines torch,onnxruntime,openvino --cores 0-3 --duration 10
  workbench run --model my.onnx --shape input=8x3x224x224 --mode throughput --json result.json
  workbench parity --model distilbert --engines torch,onnxruntime,openvino
  workbench matrix --precisions fp32,int8 --markdown matrix.md   what runs here, from real attempts
  workbench watch                             follow a run started in another terminal
  workbench history list                      past runs, newest first
  workbench compare --baseline base.json --candidate latest --fail-above 5

State (model cache, history, live streams) lives in XDG dirs, or under $WORKBENCH_HOME when set.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="workbench",
        description="Benchmark inference engines side by side on this machine.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = add_command(sub, "ui", cmd_ui, help="open the terminal UI (the default with no command)")
    p.add_argument("--model", "-m", help="preselect a model (built-in name or file)")

    from workbench.cli import doctor, fleet, history, info, matrix, parity, recommend, report, run, size, sweep, watch

    for module in (run, parity, info, doctor, watch, size, matrix, sweep, recommend, fleet, report):
        module.register(sub)

    p = add_command(sub, "serve", cmd_serve, help="serve the UI to a browser (textual-serve), on 127.0.0.1 by default")
    add_args(p, ("--host", None, {"default": "127.0.0.1"}), ("--port", None, {"type": int, "default": 8000}))
    history.register(sub)
    return parser


# ---- commands ------------------------------------------------------------------------------------------------
def cmd_ui(args: argparse.Namespace) -> int:
    from workbench.tui.app import run_app

    kwargs: dict[str, Any] = {}
    if getattr(args, "model", None):
        kwargs["model"] = args.model
    return run_app(**kwargs) or 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from workbench.tui.serve import serve
    except ImportError as exc:
        raise UsageError(f"serving needs textual-serve: pip install 'inference-workbench[serve]' ({exc})") from None
    serve(args.host, args.port)
    return 0


# ---- entry point ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit:  # --help, --version, a usage error: flush here, where a gone reader can be caught
            sys.stdout.flush()
            raise
    except BrokenPipeError:  # `workbench run --help | head`: the reader left; say nothing more
        return _reader_gone()
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
        return _reader_gone()
    except Exception as exc:  # never a traceback to the user; WORKBENCH_DEBUG=1 shows it
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(
            f"error: internal error ({type(exc).__name__}: {first}); rerun with WORKBENCH_DEBUG=1 "
            f"for details and please report it",
            file=sys.stderr,
        )
        return 1


def _reader_gone() -> int:
    """Exit quietly after the reader of stdout went away (``| head``): point stdout at /dev/null so that the
    interpreter's final flush does not print "Exception ignored ... BrokenPipeError" either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (tests): nothing to flush
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
