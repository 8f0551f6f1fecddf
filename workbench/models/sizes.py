"""Sizes of a model's artifacts per engine format and precision: parameters, bytes on disk, bytes after ``gzip -9``.

The table pruning and quantization studies publish (``workbench size``). For each artifact:

* ``params`` — elements of the stored weight tensors (ONNX initializers, OpenVINO ``Constant`` ops, the torch
  state dict's tensors; quantized models count their int8 weights and their scales/zero points);
* ``bytes`` — what the files take on disk (an IR's ``.xml`` + ``.bin``; torch int8: its ``state_dict`` as
  ``torch.save`` writes it — FX graph mode quantizes at load, so there is no cached file);
* ``gzip_bytes`` — the same bytes through ``gzip.compress(..., compresslevel=9)`` (each file on its own, summed).

fp32 artifacts are the cached exports; int8 ones the files model preparation quantized
(:mod:`workbench.models.quantize`) and, for torch, the FX-quantized built-in. bf16/fp16 have no files of their
own: the engines run the fp32 files in those precisions (autocast, OpenVINO hints).

:func:`artifact_sizes` imports onnx, openvino and torch: run it in a child (``python -m workbench.models.sizes``,
as :mod:`workbench.cli.size` does), not in a UI process.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from workbench_engines.base import ModelArtifact

#: (format, engine that runs it) in the order rows are listed.
ROWS = (("torch-builtin", "torch"), ("onnx", "onnxruntime"), ("openvino", "openvino"))


def gzip_size(data: bytes) -> int:
    """Bytes of ``data`` after gzip at level 9 (``gzip -9``)."""
    return len(gzip.compress(data, compresslevel=9))


def file_sizes(paths: list[Path]) -> tuple[int, int]:
    """``(bytes on disk, gzip -9 bytes)`` of files, each compressed on its own."""
    raw = packed = 0
    for p in paths:
        data = p.read_bytes()
        raw += len(data)
        packed += gzip_size(data)
    return raw, packed


def format_files(fmt: str, path: str) -> list[Path]:
    """The files one format's model takes (an IR's ``.xml`` and its ``.bin``)."""
    p = Path(path)
    return [p, p.with_suffix(".bin")] if fmt == "openvino" else [p]


def onnx_params(path: str) -> int:
    import numpy as np
    import onnx

    model = onnx.load(path, load_external_data=False)
    return int(sum(int(np.prod(t.dims)) if t.dims else 1 for t in model.graph.initializer))


def openvino_params(path: str) -> int:
    import openvino as ov

    model = ov.Core().read_model(path)
    total = 0
    for op in model.get_ops():
        if op.get_type_name() == "Constant":
            n = 1
            for d in op.get_output_shape(0):
                n *= int(d)
            total += n
    return total


def _state_params(state: Any) -> int:
    total = 0
    for value in state.values():
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            if hasattr(item, "numel"):
                total += int(item.numel())
    return total


def torch_sizes(artifact: ModelArtifact, precision: str) -> dict[str, Any]:
    """The torch-builtin artifact at ``precision``: the cached state dict (fp32) or the FX-quantized module's."""
    import torch

    from workbench.models.resolve import load_torch_builtin

    path = artifact.files["torch-builtin"]
    module = load_torch_builtin(artifact)
    if precision == "fp32":
        raw, packed = file_sizes([Path(path)])
        return {"params": _state_params(module.state_dict()), "bytes": raw, "gzip_bytes": packed, "file": path}
    from workbench_engines.torch_precision import calibration_samples, quantize_int8

    samples = calibration_samples(artifact.variants.get("int8"), artifact)
    quantized, report = quantize_int8(module, samples, "auto", torch, name=artifact.name)
    state = quantized.state_dict()
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    return {
        "params": _state_params(state),
        "bytes": len(data),
        "gzip_bytes": gzip_size(data),
        "file": None,
        "how": f"torch {report['path']} state_dict (quantized at load, not cached)",
    }


def artifact_sizes(artifact: ModelArtifact, precisions: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per (format, precision) the artifact has: ``format``, ``engine``, ``precision``, ``params``,
    ``bytes``, ``gzip_bytes``, ``file``; a format that could not be made has ``error`` instead."""
    rows: list[dict[str, Any]] = []
    for precision in precisions:
        variant = artifact.variants.get(precision) if precision != "fp32" else None
        for fmt, engine in ROWS:
            base = {"format": fmt, "engine": engine, "precision": precision}
            if fmt == "torch-builtin":
                if "torch-builtin" not in artifact.files or (precision != "fp32" and variant is None):
                    continue
                try:
                    rows.append({**base, **torch_sizes(artifact, precision)})
                except Exception as exc:  # one row says why; the other formats are still listed
                    rows.append({**base, "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]}"})
                continue
            if precision == "fp32":
                path = artifact.files.get(fmt)
            else:
                if variant is None:
                    continue
                if fmt in variant.errors:
                    rows.append({**base, "error": variant.errors[fmt]})
                    continue
                path = variant.files.get(fmt)
            if not path:
                continue
            raw, packed = file_sizes(format_files(fmt, path))
            params = onnx_params(path) if fmt == "onnx" else openvino_params(path)
            rows.append({**base, "params": params, "bytes": raw, "gzip_bytes": packed, "file": path})
    return rows


def _main() -> int:
    """``python -m workbench.models.sizes OUT.json`` with ``{"artifact": ..., "precisions": [...]}`` on stdin."""
    job = json.loads(sys.stdin.readline())
    os.dup2(2, 1)  # library chatter to stderr
    rows = artifact_sizes(ModelArtifact.from_dict(job["artifact"]), tuple(job["precisions"]))
    Path(sys.argv[1]).write_text(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
