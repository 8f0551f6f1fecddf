"""Drive the ``workbench`` CLI from tests: the real command in a child process (:func:`wb`), or the history/compare
subcommands in-process through the same argparse registration the CLI uses (:func:`run_cli`)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from workbench.cli import history as cmd_history


def wb(
    *args: str, timeout: float = 240, env: Mapping[str, str] | None = None, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m workbench ARGS`` in a child, its output captured as text. The child inherits this process's
    environment (WORKBENCH_HOME from tests/conftest.py; a fleet's WORKBENCH_CACHE travels on to sbatch) plus ``env``;
    ``home`` runs it on that WORKBENCH_HOME, without WORKBENCH_HISTORY."""
    child = {**os.environ, **(env or {})}
    if home is not None:
        child["WORKBENCH_HOME"] = str(home)
        child.pop("WORKBENCH_HISTORY", None)
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], capture_output=True, text=True, timeout=timeout, env=child
    )


def history_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench")
    cmd_history.register(parser.add_subparsers(dest="command"))
    return parser


def run_cli(argv: list[str]) -> int:
    args = history_parser().parse_args(argv)
    return args.func(args)
