"""Ask an engine which devices it sees, in a child process of its own: an engine that crashes or hangs on import
cannot take the caller (``workbench engines``, the UI) with it."""

from __future__ import annotations

import json
import subprocess
import sys

from workbench.measure.wire import kill_process_group


def probe(name: str, timeout: float = 90.0) -> tuple[tuple[str, ...] | None, str | None]:
    """``(devices, None)`` from the engine's own device query, or ``(None, one-line error)``."""
    code = (
        "import json\nfrom workbench_engines.registry import get_engine_class\n"
        f"print(json.dumps(list(get_engine_class({name!r}).probe_devices())))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # so a hang is killed with everything it started
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(proc)
        proc.communicate()
        return None, f"importing {name} took more than {timeout:g} s"
    finally:
        if proc.returncode is None:
            kill_process_group(proc)
    if proc.returncode != 0:
        lines = [line for line in err.strip().splitlines() if line.strip()]
        return None, (lines[-1] if lines else f"exit code {proc.returncode}")
    try:
        return tuple(json.loads(out.strip().splitlines()[-1])), None
    except (ValueError, IndexError):
        return None, "unreadable probe output"
