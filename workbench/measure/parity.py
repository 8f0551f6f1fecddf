"""``workbench parity``: load every engine in its own process, feed one seeded input, compare with the reference.

No timing happens here — only outputs. The reference is the fp32 CPU output of ``artifact.reference_engine``
(torch for built-ins, ONNX Runtime for ``.onnx`` files, OpenVINO for IR), always from its own process.
"""

from __future__ import annotations

from typing import Any

from workbench.measure.procs import ChildFailed, EngineProcess
from workbench.stats.parity import compare


def _outputs(job: dict[str, Any], timeout: float) -> tuple[dict, dict]:
    proc = EngineProcess(job)
    try:
        return proc.wait_loaded(timeout, want_outputs=True)
    finally:
        proc.close()


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
) -> dict[str, Any]:
    """Returns a JSON-able report: model, reference, engines[{engine, precision_effective, parity, error}], passed."""
    from workbench.errors import UsageError
    from workbench.measure.runner import formats_for
    from workbench.models.resolve import resolve
    from workbench_engines.registry import canonical, get_engine_class, require

    names = tuple(dict.fromkeys(canonical(e) for e in engines))
    if not names:
        raise UsageError("no engines given")
    for n in names:
        require(n, device)
    artifact = resolve(model, batch=batch, shapes=shapes, formats=formats_for(names + ("torch",)), seed=seed)
    for n in names:
        get_engine_class(n).pick_format(artifact)
    ref_engine = artifact.reference_engine
    ref_label = f"{ref_engine} fp32"

    def job(engine: str, prec: str, dev: str) -> dict[str, Any]:
        return {
            "engine": engine,
            "artifact": artifact.to_dict(),
            "device": dev,
            "precision": prec,
            "threads": None,
            "cores": None,
            "mode": "latency",
            "seed": seed,
            "outputs": True,
        }

    report: dict[str, Any] = {
        "model": artifact.name,
        "batch": batch,
        "seed": seed,
        "precision": precision,
        "device": device,
        "reference": ref_label,
        "engines": [],
    }
    try:
        require(ref_engine)
        _, reference = _outputs(job(ref_engine, "fp32", "cpu"), timeout)
        ref_error = None
    except ChildFailed as exc:
        reference, ref_error = None, f"reference {ref_label} failed: {exc}"
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
            else:
                entry["parity"] = compare(
                    reference,
                    outputs,
                    precision=eff.get("precision") or precision,
                    task=artifact.task,
                    reference=ref_label,
                ).to_dict()
        except ChildFailed as exc:
            entry["error"] = str(exc)
            entry["parity"] = {"status": "error", "reference": ref_label, "message": str(exc)}
        report["engines"].append(entry)
    report["passed"] = all((e.get("parity") or {}).get("status") == "pass" for e in report["engines"])
    return report
