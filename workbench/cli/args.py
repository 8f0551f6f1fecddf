"""Argument types and shared options of the ``workbench`` subcommands (argparse, no heavy imports)."""

from __future__ import annotations

import argparse


def engines_list(value: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    if not items:
        raise argparse.ArgumentTypeError("give at least one engine, e.g. torch,onnxruntime,openvino")
    return items


def cpu_list(value: str) -> tuple[int, ...]:
    from workbench.machine.cpus import parse_cpu_list

    try:
        return tuple(parse_cpu_list(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def shape_arg(value: str) -> tuple[str, tuple[int, ...]]:
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


def warmup_arg(value: str) -> tuple[float, int | None]:
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
        raise argparse.ArgumentTypeError(
            f"bad --warmup {value!r}: use seconds (2s, 0.5) or iterations (20it)"
        ) from None


def positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    return n


def number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None


def engine_option_arg(value: str) -> tuple[str, str, str]:
    """``openvino.streams=2`` -> ``("openvino", "streams", "2")`` (the syntax only: the engine's declaration is
    checked when the run is validated, see :func:`workbench_engines.registry.check_engine_options`)."""
    from workbench_engines.base import split_option

    try:
        return split_option(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


ENGINE_OPTIONS_HEADING = "engine options (--engine-option ENGINE.NAME=VALUE, declared by each engine):"


class _HelpWithEngineOptions(argparse.Action):
    """``-h/--help`` that appends the engines' declared options to the epilog — generated from the declarations
    only when help is asked for, so building the parser loads no adapter (and none imports its engine)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(
            option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, help="show this help message and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        import sys

        from workbench_engines.registry import options_help

        listing = options_help() or "  (no engine declares options)"
        parser.print_help()
        sys.stdout.write(f"\n{ENGINE_OPTIONS_HEADING}\n{listing}\n")
        parser.exit()


def add_help_with_engine_options(p: argparse.ArgumentParser) -> None:
    """A ``-h/--help`` that also lists the engines' declared options. ``p`` must be made with ``add_help=False``."""
    p.add_argument("-h", "--help", action=_HelpWithEngineOptions)


def add_engine_option_arg(p: argparse.ArgumentParser) -> None:
    """``--engine-option ENGINE.NAME=VALUE`` (repeatable) into ``args.engine_options``."""
    p.add_argument(
        "--engine-option",
        dest="engine_options",
        action="append",
        type=engine_option_arg,
        default=[],
        metavar="ENGINE.NAME=VALUE",
        help="an option of one engine, e.g. openvino.streams=2 (repeatable; listed below and by "
        "'workbench engines --options')",
    )


class Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2 (no usage dump on stderr spam)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def add_model_args(p: argparse.ArgumentParser, *, engines_default: str | None) -> None:
    from workbench_engines.formats import describe_files

    p.add_argument(
        "--model",
        "-m",
        required=True,
        help=f"built-in model name (workbench models) or a model file: {describe_files()}",
    )
    p.add_argument(
        "--engines",
        "-e",
        type=engines_list,
        default=engines_list(engines_default) if engines_default else None,
        help="comma-separated engines (workbench engines lists them)"
        + (f"; default {engines_default}" if engines_default else ""),
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda where an NVIDIA GPU is present")
    p.add_argument(
        "--precision",
        "-p",
        default="fp32",
        choices=["fp32", "bf16", "fp16", "int8"],
        help="precision to request; results record what the engine really used (default fp32)",
    )
    p.add_argument("--batch", "-b", type=positive_int, default=1, help="batch size (default 1)")
    p.add_argument(
        "--shape",
        action="append",
        type=shape_arg,
        default=[],
        metavar="NAME=DIMS",
        help="bind an input's shape, e.g. input_ids=1x128 (repeatable; needed for symbolic dims)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for weights of built-ins and for inputs (default 0)")
