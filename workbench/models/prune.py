"""Global magnitude pruning of a built-in's conv and linear weights (``--sparsity``), and what it achieved.

``workbench run --sparsity 0.5`` zeroes the half of all convolution and linear weights (together, across layers)
with the smallest magnitude — ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured`` and an exact
element count, then ``prune.remove`` so the zeros are the weights themselves, not a mask. Biases, norms and
embeddings are left alone. It happens once, in model preparation, *before* export
(:func:`workbench.models.resolve.resolve`): the pruned state dict, its ONNX export and its IR are cached under their
own key, so every engine runs the same pruned function and the torch parity reference is that function too.
Deterministic: the dense weights are the seeded built-in's, and magnitude pruning has no randomness.

Zeroed weights alone make nothing faster on dense kernels; what they do change is how well the files compress,
which the report carries (bytes and ``gzip -9`` bytes of each file an engine loads, :func:`with_file_sizes`).

The achieved sparsity is measured, never assumed: zeros among the pruned tensors after pruning, overall and per
layer (:func:`measure`). Imports torch inside functions only.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from workbench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch

    from workbench_engines.base import ModelArtifact

#: Bump when the pruning changes (which layers, the criterion): pruned cache entries are then rebuilt.
PRUNE_FORMAT = 1
METHOD = "global magnitude (L1 unstructured, exact count) over conv and linear weights"
#: The file beside the pruned weights that keeps the report and the cached file sizes.
REPORT_FILE = "sparsity.json"


def check_sparsity(sparsity: float) -> float:
    """``sparsity`` as a float in [0, 1); UsageError in one line otherwise."""
    try:
        value = float(sparsity)
    except (TypeError, ValueError):
        raise UsageError(f"--sparsity must be a fraction in [0, 1), not {sparsity!r}") from None
    if not 0 <= value < 1:
        raise UsageError(f"--sparsity must be a fraction in [0, 1), not {value:g}")
    return value


def cache_fields(sparsity: float) -> dict[str, Any]:
    """What a pruned built-in's cached files depend on beyond the dense ones (added to their cache key)."""
    return {"target": round(float(sparsity), 6), "method": METHOD, "format": PRUNE_FORMAT}


def prunable(module: "torch.nn.Module") -> list[tuple[str, Any]]:
    """``(qualified name, layer)`` of every convolution (1-3 D, transposed too) and linear layer with a weight,
    in module order."""
    from torch import nn

    return [
        (name, m)
        for name, m in module.named_modules()
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)) and getattr(m, "weight", None) is not None
    ]


def prune_global(module: "torch.nn.Module", sparsity: float) -> dict[str, Any]:
    """Zero the ``round(sparsity * N)`` smallest-magnitude weights of all N conv/linear weights of ``module``, in
    place and permanently (the pruning re-parametrisation is removed). Returns :func:`measure`'s report.

    Raises UsageError when the module has no conv or linear layer to prune."""
    import torch
    from torch.nn.utils import prune

    sparsity = check_sparsity(sparsity)
    layers = prunable(module)
    if not layers:
        raise UsageError("--sparsity: this model has no convolution or linear layers to prune")
    total = sum(int(m.weight.numel()) for _, m in layers)
    count = int(round(sparsity * total))
    if count > 0:
        params = [(m, "weight") for _, m in layers]
        with torch.no_grad():
            prune.global_unstructured(params, pruning_method=prune.L1Unstructured, amount=count)
            for m, name in params:
                prune.remove(m, name)
    return measure(module, sparsity)


def measure(module: "torch.nn.Module", target: float) -> dict[str, Any]:
    """The sparsity ``module`` really has: zeros among its conv/linear weights, overall (``achieved``) and per
    layer (``layers``: ``"<name>.weight"`` -> fraction), with ``weights`` (how many) and ``zeros``."""
    import torch

    per_layer: dict[str, float] = {}
    zeros = total = 0
    with torch.no_grad():
        for name, m in prunable(module):
            w = m.weight
            z, n = int((w == 0).sum()), int(w.numel())
            per_layer[f"{name}.weight" if name else "weight"] = z / n
            zeros += z
            total += n
    return {
        "target": float(target),
        "achieved": zeros / total if total else 0.0,
        "weights": total,
        "zeros": zeros,
        "layers": per_layer,
        #: layers global pruning emptied entirely (their output no longer depends on their input)
        "empty_layers": [name for name, fraction in per_layer.items() if fraction >= 1.0],
        "method": METHOD,
    }


def write_report(folder: Path, report: Mapping[str, Any]) -> None:
    """Keep ``report`` as ``folder/sparsity.json`` (atomic). Raises ModelError when the cache cannot be written."""
    from workbench import paths
    from workbench.errors import ModelError

    paths.atomic_write(
        folder / REPORT_FILE, json.dumps(report, indent=1, sort_keys=True).encode(), 0o644, error=ModelError
    )


def read_report(folder: Path) -> dict[str, Any] | None:
    """The report kept in ``folder``, or None when there is none (or it is damaged)."""
    try:
        found = json.loads((folder / REPORT_FILE).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and "achieved" in found and "layers" in found else None


# ---- sizes of the files engines load ---------------------------------------------------------------------------
def _signature(files: list[Path]) -> list[list[Any]]:
    out = []
    for f in files:
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


def with_file_sizes(artifact: "ModelArtifact") -> "ModelArtifact":
    """``artifact`` whose ``sparsity`` report also says, per precision and format, the bytes and ``gzip -9``
    bytes (:func:`workbench.models.sizes.file_sizes`) of each file an engine loads: ``files[precision][format] =
    {"file", "file_bytes", "gzip_bytes"}`` (fp32: the pruned exports; int8: the quantized files made from them).

    Compressing takes seconds for large models, so sizes are cached in the pruned folder's report by each file's
    path, size and mtime. A dense artifact is returned as it is."""
    from workbench.models.sizes import file_sizes, format_files

    if artifact.sparsity is None:
        return artifact
    report = dict(artifact.sparsity)
    folder = Path(str(report.get("folder") or ""))
    kept = read_report(folder) if folder.is_dir() else None
    cache: dict[str, Any] = dict((kept or {}).get("size_cache") or {})
    wanted: dict[str, dict[str, str]] = {"fp32": {f: p for f, p in artifact.files.items() if not Path(p).is_dir()}}
    for precision, variant in artifact.variants.items():
        wanted[precision] = dict(variant.files)
    files: dict[str, dict[str, Any]] = {}
    changed = False
    for precision, by_format in wanted.items():
        for fmt, path in by_format.items():
            members = format_files(fmt, path)
            if not all(m.is_file() for m in members):
                continue
            sig = _signature(members)
            hit = cache.get(path)
            if not (isinstance(hit, dict) and hit.get("signature") == sig):
                raw, packed = file_sizes(members)
                hit = {"signature": sig, "file_bytes": raw, "gzip_bytes": packed}
                cache[path] = hit
                changed = True
            files.setdefault(precision, {})[fmt] = {
                "file": path,
                "file_bytes": hit["file_bytes"],
                "gzip_bytes": hit["gzip_bytes"],
            }
    if changed and kept is not None:
        try:
            write_report(folder, {**kept, "size_cache": cache})
        except Exception:  # only a speed-up for the next preparation: the sizes above stand
            pass
    report["files"] = files
    return replace(artifact, sparsity=report)


def result_entry(artifact: "ModelArtifact", engine: str, precision: str) -> dict[str, Any] | None:
    """What an engine's result records of a pruned model (:attr:`workbench.result.EngineResult.sparsity`):
    ``target``, ``achieved``, ``layers`` (per layer), ``empty_layers`` (pruned entirely), ``weights``, ``zeros``,
    ``method``, and the ``format``, ``file``, ``file_bytes`` and ``gzip_bytes`` of the file ``engine`` loads at
    ``precision`` (None where it loads none of its own: torch int8 quantizes the pruned weights at load). None for
    a dense model."""
    if artifact.sparsity is None:
        return None
    from workbench.errors import WorkbenchError
    from workbench_engines.registry import get_engine_class

    s = artifact.sparsity
    entry: dict[str, Any] = {k: s.get(k) for k in ("target", "achieved", "weights", "zeros", "method")}
    entry["layers"] = dict(s.get("layers") or {})
    entry["empty_layers"] = list(s.get("empty_layers") or [])
    try:
        fmt: str | None = get_engine_class(engine).pick_format(artifact)
    except (WorkbenchError, KeyError):
        fmt = None
    files = (s.get("files") or {}).get(precision if precision == "int8" else "fp32") or {}
    found = files.get(fmt) if fmt is not None else None
    entry.update(
        {
            "format": fmt,
            "file": (found or {}).get("file"),
            "file_bytes": (found or {}).get("file_bytes"),
            "gzip_bytes": (found or {}).get("gzip_bytes"),
        }
    )
    return entry
