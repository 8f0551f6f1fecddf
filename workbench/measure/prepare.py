"""Prepare a model (build, export, convert on a cache miss) in a child process.

Why not in the caller: exporting a built-in imports torch/onnx/openvino and can take tens of seconds. In the UI that
would load the engines into the app process and could not be interrupted; in a child it can be killed at once and
the caller stays lean. A cache hit costs ~0.2 s of process start. Errors come back as the same one-line
:mod:`workbench.errors` exceptions the in-process call would raise.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from typing import Any, Callable

from workbench import errors

_ERRORS = {
    cls.__name__: cls
    for cls in (
        errors.ModelError,
        errors.UsageError,
        errors.UnsupportedError,
        errors.EngineUnavailable,
        errors.WorkbenchError,
    )
}


def prepare(
    model: str,
    *,
    batch: int = 1,
    shapes: dict | None = None,
    formats: set[str] | None = None,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
    on_start: Callable[[subprocess.Popen], None] | None = None,
):
    """Resolve ``model`` into a ModelArtifact in a child process. Raises RunFailed("stopped by user") when
    ``should_stop()`` turns true while it works."""
    from workbench_engines.base import ModelArtifact

    job = {
        "model": model,
        "batch": batch,
        "shapes": {k: list(v) for k, v in (shapes or {}).items()},
        "formats": sorted(formats) if formats is not None else None,
        "seed": seed,
    }
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workbench.measure.prepare"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
        if on_start is not None:
            on_start(proc)
        try:
            proc.stdin.write(json.dumps(job).encode() + b"\n")
            proc.stdin.close()
            out = b""
            while True:
                ready, _, _ = select.select([proc.stdout], [], [], 0.2)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 1 << 16)
                    if not chunk:
                        break
                    out += chunk
                elif should_stop is not None and should_stop():
                    raise errors.RunFailed("stopped by user")
            proc.wait()
            if should_stop is not None and should_stop():
                raise errors.RunFailed("stopped by user")
        finally:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
                proc.wait()
        lines = out.decode(errors="replace").strip().splitlines()
        try:
            reply = json.loads(lines[-1]) if lines else {}
        except ValueError:
            reply = {}
        if "artifact" in reply:
            return ModelArtifact.from_dict(reply["artifact"])
        if "error" in reply:
            raise _ERRORS.get(reply.get("kind"), errors.WorkbenchError)(reply["error"])
        err.seek(0)
        tail = [l for l in err.read().decode(errors="replace").strip().splitlines() if l.strip()]
        detail = tail[-1] if tail else f"exit code {proc.returncode}"
        raise errors.ModelError(f"preparing {model!r} failed: {detail}")


def _main() -> int:
    job: dict[str, Any] = json.loads(sys.stdin.readline())
    proto = os.dup(1)
    os.dup2(2, 1)  # library chatter goes to stderr, never into the reply
    try:
        from workbench.models.resolve import resolve

        shapes = {k: tuple(v) for k, v in (job.get("shapes") or {}).items()} or None
        formats = set(job["formats"]) if job.get("formats") is not None else None
        art = resolve(job["model"], batch=job["batch"], shapes=shapes, formats=formats, seed=job["seed"])
        reply: dict[str, Any] = {"artifact": art.to_dict()}
    except errors.WorkbenchError as exc:
        kind = next((c.__name__ for c in type(exc).__mro__ if c.__name__ in _ERRORS), "WorkbenchError")
        reply = {"error": str(exc), "kind": kind}
    os.write(proto, (json.dumps(reply) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(_main())
