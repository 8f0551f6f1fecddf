"""Seeded synthetic inputs for a model's :class:`~workbench_engines.base.TensorSpec` list.

Latency does not depend on the values, but some inputs must be *valid*: token ids must index the embedding
table, masks must be ones, and segment/type ids must be small. The same seed gives identical arrays, so every
engine in a comparison sees exactly the same inputs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from workbench.errors import UsageError
from workbench_engines.base import TensorSpec

#: Range of token ids when a spec does not know its vocabulary size (safe for any real embedding table).
DEFAULT_VOCAB = 100


def make_inputs(specs: Sequence[TensorSpec], seed: int = 0) -> dict[str, np.ndarray]:
    """One array per spec, keyed by input name, drawn from ``numpy.random.default_rng(seed)`` in spec order.

    * float inputs (roles ``image``/``data``): N(0, 1) in the spec's dtype (float32, float16, ...);
    * ``tokens``: integers in ``[0, vocab_size)`` (``[0, 100)`` when ``vocab_size`` is None);
    * ``mask``: ones (``True`` for bool);
    * other integer or bool inputs (segment/type ids, flags): zeros.

    Raises UsageError when a spec still has symbolic dims or a dtype numpy cannot make.
    """
    rng = np.random.default_rng(seed)
    return {spec.name: _make_one(spec, rng) for spec in specs}


def _make_one(spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    if not spec.is_static:
        dims = "x".join(str(d) for d in spec.shape)
        raise UsageError(
            f"input {spec.name!r} has unresolved shape {dims}: pass --shape {spec.name}=... with sizes for every dim"
        )
    shape = tuple(int(d) for d in spec.shape)
    dtype = numpy_dtype(spec.dtype)
    if dtype.kind == "f" or spec.dtype == "bfloat16":
        if spec.role == "mask":
            return np.ones(shape, dtype=dtype)
        return rng.standard_normal(shape, dtype=np.float32).astype(dtype)
    if dtype.kind in "iu":
        if spec.role == "mask":
            return np.ones(shape, dtype=dtype)
        if spec.role == "tokens":
            high = spec.vocab_size or DEFAULT_VOCAB
            high = min(high, int(np.iinfo(dtype).max) + 1)
            return rng.integers(0, high, size=shape, dtype=dtype)
        return np.zeros(shape, dtype=dtype)
    if dtype.kind == "b":
        return np.ones(shape, dtype=dtype) if spec.role == "mask" else np.zeros(shape, dtype=dtype)
    raise UsageError(f"input {spec.name!r} has dtype {spec.dtype}, which the workbench cannot generate inputs for")


def numpy_dtype(name: str) -> np.dtype:
    """The numpy dtype for a dtype name (``bfloat16`` needs the ml_dtypes package). Raises UsageError."""
    try:
        return np.dtype(name)
    except TypeError:
        pass
    if name == "bfloat16":
        try:
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:
            raise UsageError("bfloat16 inputs need the ml_dtypes package: pip install ml_dtypes") from None
    raise UsageError(f"unknown input dtype {name!r}")
