"""``workbench serve``: the same TUI in a browser, through textual-serve.

Bound to 127.0.0.1 unless told otherwise: the app shows this machine's hardware and history and can start
benchmarks, so exposing it is an explicit choice (reach it from your desk with ``ssh -L 8000:127.0.0.1:8000``).
Each browser session runs its own ``python -m workbench.tui.app`` process.
"""

from __future__ import annotations

import shlex
import sys
from typing import Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def app_command(args: Sequence[str] = ()) -> str:
    """The command textual-serve runs per session (this interpreter, so the same environment)."""
    return " ".join(shlex.quote(a) for a in (sys.executable, "-m", "workbench.tui.app", *args))


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    public_url: str | None = None,
    app_args: Sequence[str] = (),
    debug: bool = False,
) -> None:
    """Serve the TUI over HTTP until interrupted. Raises UsageError when textual-serve is not installed."""
    try:
        from textual_serve.server import Server
    except ImportError:
        from workbench.errors import UsageError

        raise UsageError("workbench serve needs textual-serve: pip install 'inference-workbench[serve]'") from None
    server = Server(app_command(app_args), host=host, port=port, title="Inference Workbench", public_url=public_url)
    server.serve(debug=debug)
