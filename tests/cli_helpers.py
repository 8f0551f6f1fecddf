"""Drive the history/compare subcommands in-process, through the same argparse registration the CLI uses."""

from __future__ import annotations

import argparse

from workbench.cli import history as cmd_history


def history_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench")
    cmd_history.register(parser.add_subparsers(dest="command"))
    return parser


def run_cli(argv: list[str]) -> int:
    args = history_parser().parse_args(argv)
    return args.func(args)
