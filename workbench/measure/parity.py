"""``workbench parity``: load every engine in its own process, feed one seeded input, compare with the reference.

No timing happens here — only outputs. The reference is the fp32 CPU output of ``artifact.reference_engine``
(torch for built-ins, ONNX Runtime for ``.onnx`` files, OpenVINO for IR), always from its own process.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from workbench.measure.config import check_tolerances, formats_for, installed_engines, readable_engines
from workbench.measure.procs import ChildFailed, load_once
from workbench.measure.wire import Job
from workbench.models.inputs import (
    InputRequest,
    check_request,
    record_inputs,
    resolve_inputs,
    with_input_hint,
    write_job_inputs,
)
from workbench.stats.parity import AGREES, compare, is_reference, reference_parity
from workbench_engines.base import ModelArtifact


def _outputs(job: Job, timeout: float) -> tuple[dict[str, Any], dict[str, Any] | None]:
    return load_once(job, timeout, want_outputs=True)


def run_parity(
    model: str,
    engines: tuple[str, ...],
    *,
    precision: str = "fp32",
    device: str = "cpu",
    batch: int = 1,
    shapes: dict | None = None,
    seed: int = 0,
    timeout: float = 600.0,
    engine_options: Iterable[tuple[str, str, Any]] = (),
    inputs: InputRequest | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    engines_explicit: bool = True,
) -> dict[str, Any]:
    """Returns a JSON-able report: model, reference, inputs, rtol/atol, engines[{engine, precision_effective,
    parity (with per-output results), error}], passed.

    ``engine_options`` (``(engine, name, value)``, as ``--engine-option``) are validated against the adapters'
    declarations and reach each engine's process; the reference runs with its engine's defaults. ``inputs`` (the
    given values, else every input is generated from ``seed``) reach every engine and the reference alike;
    ``rtol``/``atol`` replace the precision's tolerance (:func:`workbench.stats.parity.compare`)."""
    from workbench_engines.registry import options_by_engine

    request = inputs or InputRequest()
    checks = partial(_check_flags, rtol, atol, request)
    names, skipped, options, artifact = _prepare(
        model, engines, engines_explicit, device, precision, batch, shapes, seed, engine_options, checks
    )
    resolved = resolve_inputs(request, artifact.inputs) if not request.empty else None
    report: dict[str, Any] = {
        "model": artifact.name,
        "batch": batch,
        "seed": seed,
        "precision": precision,
        "device": device,
        "reference": f"{artifact.reference_engine} fp32",
        "engine_options": options_by_engine(options),
        "inputs": record_inputs(request, resolved),
        "rtol": rtol,
        "atol": atol,
        "skipped": skipped,
    }
    needs_folder = resolved is not None and bool(resolved.arrays)
    with tempfile.TemporaryDirectory(prefix="inputs-", dir=_tmp_dir()) if needs_folder else nullcontext("") as folder:
        job_inputs = write_job_inputs(resolved, Path(folder)) if resolved is not None else {}

        report.update(
            _compare_engines(
                artifact,
                names,
                _job_maker(artifact, options, seed, job_inputs),
                timeout=timeout,
                precision=precision,
                device=device,
                rtol=rtol,
                atol=atol,
                given=resolved.names if resolved is not None else (),
            )
        )
    return report


def _prepare(
    model: str,
    engines: tuple[str, ...],
    engines_explicit: bool,
    device: str,
    precision: str,
    batch: int,
    shapes: dict | None,
    seed: int,
    engine_options: Iterable[tuple[str, str, Any]],
    checks: Callable[[], None],
) -> tuple[tuple[str, ...], list[dict[str, str]], tuple[tuple[str, str, Any], ...], ModelArtifact]:
    """The engines to compare (the defaults: those installed here that can read the model, with a warning for
    each one skipped), their checked options, and the resolved model with the formats they and the reference
    need; ``checks`` (the flags' own) run before the model is resolved. Raises UsageError / EngineUnavailable /
    UnsupportedError."""
    from workbench.errors import UsageError
    from workbench.models.resolve import resolve
    from workbench_engines.formats import builtin_reference_engine
    from workbench_engines.registry import canonical, check_engine_options, get_engine_class, require

    names = tuple(dict.fromkeys(canonical(e) for e in engines))
    skipped: list[dict[str, str]] = []
    if not engines_explicit:  # the defaults: skip what is not installed here or cannot read the model
        names, skipped = installed_engines(names, device)
    if not names:
        raise UsageError("no engines given" if engines_explicit else "none of the default engines is installed")
    for n in names:
        require(n, device)
    options = check_engine_options(engine_options, engines=names, precision=precision, mode="latency")
    checks()
    wanted = names + (builtin_reference_engine(),)
    artifact = resolve(model, batch=batch, shapes=shapes, formats=formats_for(wanted), seed=seed)
    if not engines_explicit:
        names, unreadable = readable_engines(names, artifact)
        skipped += unreadable
        if not names:
            raise UsageError(
                f"no default engine can read {artifact.name!r}: " + "; ".join(s["message"] for s in skipped)
            )
    for n in names:
        get_engine_class(n).pick_format(artifact)
    return names, skipped, options, artifact


def _check_flags(rtol: float | None, atol: float | None, request: InputRequest) -> None:
    check_tolerances(rtol, atol)
    check_request(request)


def _job_maker(
    artifact: ModelArtifact, options: tuple[tuple[str, str, Any], ...], seed: int, job_inputs: dict[str, Any]
) -> Callable[..., Job]:
    """``job(engine, precision, device, reference=False)``: an engine's outputs-only job with its given options
    (the reference runs with its engine's defaults) and the given inputs."""

    def job(engine: str, prec: str, dev: str, *, reference: bool = False) -> Job:
        given = {} if reference else {n: v for e, n, v in options if e == engine}
        return Job(
            engine,
            artifact.to_dict(),
            device=dev,
            precision=prec,
            seed=seed,
            outputs=True,
            options=given,
            inputs=job_inputs,
        )

    return job


def _tmp_dir() -> Path:
    from workbench.paths import cache_dir

    folder = cache_dir() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _compare_engines(
    artifact: Any,
    names: tuple[str, ...],
    job: Callable[..., Job],
    *,
    timeout: float,
    precision: str,
    device: str,
    rtol: float | None,
    atol: float | None,
    given: Collection[str],
) -> dict[str, Any]:
    """The reference's outputs, then each engine's, compared: ``{"engines": [...], "passed": bool}``."""
    from workbench_engines.registry import require

    ref_engine = artifact.reference_engine
    ref_label = f"{ref_engine} fp32"
    report: dict[str, Any] = {"engines": []}
    try:
        require(ref_engine)
        _, reference = _outputs(job(ref_engine, "fp32", "cpu", reference=True), timeout)
        ref_error = None
    except ChildFailed as exc:
        reference, ref_error = None, with_input_hint(f"reference {ref_label} failed: {exc}", artifact.inputs, given)
    except Exception as exc:  # reference engine missing
        reference, ref_error = None, str(exc)
    for name in names:
        entry: dict[str, Any] = {"engine": name}
        try:
            loaded, outputs = _outputs(job(name, precision, device), timeout)
            eff = loaded.get("effective", {})
            entry["precision_effective"] = eff.get("precision")
            entry["engine_version"] = loaded.get("engine_version")
            if reference is None:
                entry["parity"] = {"status": "error", "reference": ref_label, "message": ref_error}
            elif is_reference(name, precision, device, ref_engine):
                entry["parity"] = reference_parity(ref_label).to_dict()
            else:
                entry["parity"] = compare(
                    reference,
                    outputs or {},  # wait_loaded(want_outputs=True) returns them
                    precision=eff.get("precision") or precision,
                    task=artifact.task,
                    reference=ref_label,
                    rtol=rtol,
                    atol=atol,
                ).to_dict()
        except ChildFailed as exc:
            message = with_input_hint(str(exc), artifact.inputs, given)
            entry["error"] = message
            entry["parity"] = {"status": "error", "reference": ref_label, "message": message}
        report["engines"].append(entry)
    report["passed"] = all((e.get("parity") or {}).get("status") in AGREES for e in report["engines"])
    return report
