"""workbench.models.inputs: seeded synthetic inputs."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.errors import UsageError
from workbench.models.inputs import DEFAULT_VOCAB, make_inputs
from workbench_engines.base import TensorSpec

SPECS = (
    TensorSpec("pixel_values", (2, 3, 8, 8), "float32", "image"),
    TensorSpec("half", (4, 5), "float16", "data"),
    TensorSpec("input_ids", (2, 64), "int64", "tokens", vocab_size=7),
    TensorSpec("free_ids", (2, 500), "int32", "tokens"),
    TensorSpec("attention_mask", (2, 64), "int64", "mask"),
    TensorSpec("token_type_ids", (2, 64), "int64", "data"),
    TensorSpec("flags", (3,), "bool", "data"),
    TensorSpec("bool_mask", (3,), "bool", "mask"),
)


def test_same_seed_same_arrays_and_other_seed_differs() -> None:
    a, b, c = make_inputs(SPECS, seed=3), make_inputs(SPECS, seed=3), make_inputs(SPECS, seed=4)
    assert list(a) == [s.name for s in SPECS]
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["pixel_values"], c["pixel_values"])
    assert not np.array_equal(a["input_ids"], c["input_ids"])


def test_dtypes_shapes_and_ranges() -> None:
    feeds = make_inputs(SPECS)
    for spec in SPECS:
        assert feeds[spec.name].shape == spec.shape
        assert feeds[spec.name].dtype == np.dtype(spec.dtype)
    image = feeds["pixel_values"]
    assert abs(float(image.mean())) < 0.5 and 0.5 < float(image.std()) < 1.5  # ~N(0, 1)
    assert np.isfinite(feeds["half"]).all()
    ids = feeds["input_ids"]
    assert ids.min() >= 0 and ids.max() < 7 and len(np.unique(ids)) > 1
    free = feeds["free_ids"]
    assert free.min() >= 0 and free.max() < DEFAULT_VOCAB
    assert (feeds["attention_mask"] == 1).all()
    assert (feeds["token_type_ids"] == 0).all()
    assert not feeds["flags"].any() and feeds["bool_mask"].all()


def test_symbolic_shape_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="--shape x="):
        make_inputs([TensorSpec("x", ("batch", 3), "float32")])


def test_unknown_dtype_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="dtype"):
        make_inputs([TensorSpec("x", (1, 3), "complex64")])
