"""Argument types and shared options of the ``workbench`` subcommands (argparse, no heavy imports)."""

from __future__ import annotations

import argparse
from typing import Any, Callable


def comma_items(value: str, error: str = "give at least one item, comma-separated") -> tuple[str, ...]:
    """``a, b,c`` -> ``("a", "b", "c")`` (blanks dropped); none at all is a usage error saying ``error``."""
    items = tuple(s.strip() for s in value.split(",") if s.strip())
    if not items:
        raise argparse.ArgumentTypeError(error)
    return items


def engines_list(value: str) -> tuple[str, ...]:
    return comma_items(value, "give at least one engine, e.g. torch,onnxruntime,openvino")


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


def input_arg(value: str) -> tuple[str, str]:
    """``sr=16000`` -> ``("sr", "16000")`` (syntax only; values and files are checked against the model when the
    run starts, see :func:`workbench.models.inputs.resolve_inputs`)."""
    from workbench.models.inputs import split_input_arg

    try:
        return split_input_arg(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def channels_arg(value: str) -> tuple[float, ...]:
    """``0.485,0.456,0.406`` (R,G,B) or one number for every channel."""
    try:
        items = tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        items = ()
    if len(items) not in (1, 3):
        raise argparse.ArgumentTypeError(f"bad value {value!r}: give R,G,B (three numbers) or one number")
    return items


def add_input_args(p: argparse.ArgumentParser) -> None:
    """``--input NAME=VALUE`` (repeatable), ``--inputs FILE.npz`` and the ``--image-*`` preprocessing options."""
    g = p.add_argument_group(
        "input values",
        "by default every input gets seeded generated values; these give real ones to every engine\n"
        "and the parity reference alike (recorded in the result; docs/methodology.md, Inputs)",
    )
    g.add_argument(
        "--input",
        dest="input_values",
        action="append",
        type=input_arg,
        default=[],
        metavar="NAME=VALUE",
        help="a value for one input: a number or true/false (a scalar, or a fill value for the input's shape, "
        "e.g. sr=16000, mask=1), a .npy file (x=a.npy), or an image (x=photo.jpg, see --image-*); repeatable",
    )
    g.add_argument(
        "--inputs", dest="inputs_file", metavar="FILE.npz", help="several inputs at once: arrays keyed by input name"
    )
    # defaults live in workbench.models.inputs.ImagePrep (not imported here: --help stays light)
    g.add_argument("--image-layout", metavar="nchw|nhwc", help="layout of image inputs (default nchw)")
    g.add_argument(
        "--image-mean",
        type=channels_arg,
        metavar="R,G,B",
        help="subtracted per channel after scaling (default ImageNet's 0.485,0.456,0.406)",
    )
    g.add_argument(
        "--image-std",
        type=channels_arg,
        metavar="R,G,B",
        help="divides per channel after the mean (default ImageNet's 0.229,0.224,0.225)",
    )
    g.add_argument(
        "--image-scale",
        type=number,
        metavar="255|1",
        help="pixels are divided by this first: 255 gives [0, 1] (default), 1 keeps 0…255",
    )


def input_request(args: argparse.Namespace) -> Any:
    """The :class:`workbench.models.inputs.InputRequest` of the ``add_input_args`` options."""
    from dataclasses import replace

    from workbench.models.inputs import ImagePrep, InputRequest

    given = {"layout": args.image_layout, "mean": args.image_mean, "std": args.image_std, "scale": args.image_scale}
    image = replace(ImagePrep(), **{k: v for k, v in given.items() if v is not None})
    return InputRequest(given=tuple(args.input_values), file=args.inputs_file, image=image)


def add_tolerance_args(p: argparse.ArgumentParser) -> None:
    """``--rtol`` / ``--atol`` of the parity check (docs/methodology.md says when to use them)."""
    p.add_argument(
        "--rtol",
        type=number,
        help="parity: relative L2 tolerance instead of the precision's default (fp32 1e-3, fp16 5e-2, bf16 2e-1, "
        "int8 3e-1); recorded in the result",
    )
    p.add_argument(
        "--atol",
        type=number,
        help="parity: an output whose largest absolute difference is at most this also passes; recorded",
    )


RAW = argparse.RawDescriptionHelpFormatter


def add_command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], *, engine_help: bool = False, **kw: Any
) -> argparse.ArgumentParser:
    """One subcommand: ``sub.add_parser(name, **kw)`` with ``func`` as its handler. ``engine_help``: its
    ``-h/--help`` also lists the engines' declared options (:func:`add_help_with_engine_options`)."""
    if engine_help:
        kw["add_help"] = False
    p: argparse.ArgumentParser = sub.add_parser(name, **kw)
    if engine_help:
        add_help_with_engine_options(p)
    p.set_defaults(func=func)
    return p


def add_args(p: Any, *specs: tuple[str, str | None, dict[str, Any]]) -> None:
    """Arguments from a table of ``(flags, help, kwargs)``: ``flags`` is one string (``"--quiet -q"``, or a
    positional name), ``help`` its help text (``None`` for none), ``kwargs`` the rest of ``add_argument``'s."""
    for flags, text, kw in specs:
        p.add_argument(*flags.split(), help=text, **kw)


def add_switches(p: Any, *specs: tuple[str, str]) -> None:
    """``store_true`` flags from ``(flags, help)`` pairs (flags as in :func:`add_args`)."""
    add_args(p, *((flags, text, {"action": "store_true"}) for flags, text in specs))


def add_files(p: Any, *specs: tuple[str, str]) -> None:
    """``FILE`` options (``metavar="FILE"``) from ``(flags, help)`` pairs."""
    add_args(p, *((flags, text, {"metavar": "FILE"}) for flags, text in specs))


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
        default=None,
        help="comma-separated engines (workbench engines lists them)"
        + (
            f"; default {engines_default}: those installed here that can read the model (named engines must)"
            if engines_default
            else ""
        ),
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda where an NVIDIA GPU is present")
    p.add_argument(
        "--precision",
        "-p",
        default="fp32",
        choices=["fp32", "bf16", "fp16", "int8", "int4"],
        help="precision to request (int4: weights, --mode generate only); results record what the engine really "
        "used (default fp32)",
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
