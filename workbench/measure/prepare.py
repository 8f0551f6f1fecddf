"""Prepare a model (build, export, convert on a cache miss) in a child process.

Why not in the caller: exporting a built-in imports torch/onnx/openvino and can take tens of seconds. In the UI that
would load the engines into the app process and could not be interrupted; in a child it can be killed at once and
the caller stays lean. A cache hit costs ~0.2 s of process start. Errors come back as the same one-line
:mod:`workbench.errors` exceptions the in-process call would raise.

The child speaks the benchmark process's protocol (:mod:`workbench.measure.wire`): a :class:`~wire.PrepareJob` as
one JSON line on stdin, one ``J`` frame back (``artifact`` or ``error``); it is killed with
:func:`~wire.kill_process_group` like every child the workbench starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Any, Callable, Mapping

from workbench import errors
from workbench.measure import wire

if TYPE_CHECKING:  # pragma: no cover - typing only
    from workbench_engines.base import ModelArtifact


def prepare(
    model: str,
    *,
    batch: int = 1,
    shapes: Mapping[str, tuple[int, ...]] | None = None,
    formats: set[str] | None = None,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    precision: str = "fp32",
    quantize: Mapping[str, Mapping[str, Any]] | None = None,
    calibration: Mapping[str, Any] | None = None,
    sparsity: float = 0.0,
) -> "ModelArtifact":
    """Resolve ``model`` into a ModelArtifact in a child process. Raises RunFailed("stopped by user") when
    ``should_stop()`` turns true while it works.

    ``precision`` ``int8`` also makes the quantized files for the engines in ``quantize`` (engine -> options),
    calibrated as ``calibration`` says (:class:`workbench.models.quantize.CalibrationRequest` as a dict).
    ``sparsity`` above 0 prunes a built-in's conv/linear weights first (:mod:`workbench.models.prune`): every
    file of the artifact, and the quantized ones made from them, is the pruned model."""
    from workbench_engines.base import ModelArtifact

    job = wire.PrepareJob(
        model=model,
        batch=batch,
        shapes={k: tuple(v) for k, v in (shapes or {}).items()},
        formats=tuple(sorted(formats)) if formats is not None else None,
        seed=seed,
        precision=precision,
        quantize={k: dict(v) for k, v in (quantize or {}).items()},
        calibration=dict(calibration or {}),
        sparsity=float(sparsity or 0.0),
    )
    stopped = should_stop or (lambda: False)
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
        reply: dict[str, Any] | None = None
        stdin, stdout = proc.stdin, proc.stdout
        if stdin is None or stdout is None:  # pragma: no cover - both are pipes above
            raise RuntimeError("prepare: the child has no pipes")
        try:
            try:
                stdin.write(job.to_json().encode() + b"\n")
                stdin.close()
            except OSError:
                pass  # the child is gone: the read below says so
            reader = wire.FrameReader()
            while reply is None:
                try:
                    frame = wire.read_frame(stdout.fileno(), reader, 0.2, chunk_size=1 << 16)
                except EOFError:
                    break
                if frame is not None:
                    if frame.kind == wire.JSON:
                        reply = frame.message()
                elif stopped():
                    raise errors.RunFailed("stopped by user")
            proc.wait()
            if stopped():
                raise errors.RunFailed("stopped by user")
        finally:
            if proc.returncode is None:
                wire.kill_process_group(proc)
            stdout.close()
        if reply is not None and reply.get("type") == "artifact":
            return ModelArtifact.from_dict(reply["artifact"])
        if reply is not None and reply.get("type") == "error":
            wire.raise_error(reply, default=errors.ModelError)
        err.seek(0)
        tail = [line for line in err.read().decode(errors="replace").strip().splitlines() if line.strip()]
        detail = tail[-1] if tail else f"exit code {proc.returncode}"
        raise errors.ModelError(f"preparing {model!r} failed: {detail}")


def _main() -> int:
    job = wire.PrepareJob.from_json(sys.stdin.readline())
    chan = wire.FrameWriter(os.dup(1))
    os.dup2(2, 1)  # library chatter goes to stderr, never into the reply
    try:
        from workbench.models.generative import FORMAT_OF, resolve_generative
        from workbench.models.resolve import resolve

        if job.formats is not None and set(job.formats) & set(FORMAT_OF.values()):  # --mode generate
            chan.json(
                type="artifact",
                artifact=resolve_generative(
                    job.model,
                    formats=set(job.formats) if job.formats is not None else None,
                    seed=job.seed,
                    precision=job.precision,
                ).to_dict(),
            )
            return 0
        art = resolve(
            job.model,
            batch=job.batch,
            shapes=dict(job.shapes) or None,
            formats=set(job.formats) if job.formats is not None else None,
            seed=job.seed,
            sparsity=job.sparsity,
        )
        if job.precision == "int8":
            from workbench.models.quantize import CalibrationRequest, prepare_int8

            art = prepare_int8(
                art, job.quantize, calibration=CalibrationRequest.from_dict(job.calibration), seed=job.seed
            )
        if art.sparsity is not None:  # the sizes of the files the engines load, the quantized ones too
            from workbench.models.prune import with_file_sizes

            art = with_file_sizes(art)
    except errors.WorkbenchError as exc:  # anything else is a bug: its traceback goes to stderr
        chan.json(**wire.error_message(exc))
        return 0
    chan.json(type="artifact", artifact=art.to_dict())
    return 0


if __name__ == "__main__":
    sys.exit(_main())
