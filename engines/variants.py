"""Lower-precision variants of a model: the files model preparation quantized, and what went into them.

A quantized ONNX model is still format ``onnx`` and a quantized IR still ``openvino``: the format table
(:mod:`workbench_engines.formats`) says how to *read* a file, not at which precision it computes. So an artifact's
``files`` stay the fp32 models, and :attr:`ModelArtifact.variants <workbench_engines.base.ModelArtifact.variants>`
maps a precision (``"int8"``) to a :class:`PrecisionVariant`: its own format -> file table, the formats that could
not be made (with the one-line reason, e.g. the op the quantizer refused), the calibration set every engine shares
and, per format, how it was made (tool, scheme, time, cache hit). The variants are made once, in model
preparation (:mod:`workbench.models.quantize`), and cached like the fp32 exports.

The torch adapter quantizes at load (FX graph mode runs in the benchmark process); it reads only the shared
calibration set (``calibration["file"]``, an ``.npz`` keyed by input name with a leading sample axis).

Standard library only: this travels to every benchmark process inside the artifact's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class PrecisionVariant:
    """The files of one model at ``precision`` (see the module docstring).

    ``files``: format -> path of the quantized model (for ``openvino`` the ``.xml``, its ``.bin`` beside it).
    ``errors``: format -> why that format could not be made, one line (the adapter raises it as the engine's
    error row; the other engines still run). ``calibration``: ``source`` (``synthetic`` | ``real``), ``path``
    (the user's data, None for synthetic), ``count`` (samples used), ``seed`` (synthetic), ``file`` (the ``.npz``
    of the samples themselves). ``details``: format -> what made it (``tool``, ``scheme``, ``quantize_ms``,
    ``cached``, library versions).
    """

    precision: str
    files: Mapping[str, str] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)
    calibration: Mapping[str, Any] = field(default_factory=dict)
    details: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "files": dict(self.files),
            "errors": dict(self.errors),
            "calibration": dict(self.calibration),
            "details": {k: dict(v) for k, v in self.details.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PrecisionVariant":
        return cls(
            precision=str(d["precision"]),
            files=dict(d.get("files") or {}),
            errors=dict(d.get("errors") or {}),
            calibration=dict(d.get("calibration") or {}),
            details={k: dict(v) for k, v in (d.get("details") or {}).items()},
        )

    def report(self, fmt: str | None) -> dict[str, Any]:
        """What a result records about this variant for the format an engine loaded: the details of ``fmt`` and
        the calibration (without the samples file, which is a cache detail)."""
        calibration = {k: v for k, v in self.calibration.items() if k != "file"}
        return {**(dict(self.details.get(fmt, {})) if fmt else {}), "calibration": calibration}


def variants_from_dict(d: Mapping[str, Any] | None) -> dict[str, PrecisionVariant]:
    """``ModelArtifact.to_dict()["variants"]`` back into variants (absent: none)."""
    return {str(k): PrecisionVariant.from_dict(v) for k, v in (d or {}).items()}
