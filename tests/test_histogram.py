"""workbench.stats.histogram.LogHistogram against numpy on seeded data (numpy only, fast)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from workbench.stats import summary as stats
from workbench.stats.histogram import LogHistogram, _geometry


def _lognormal_ns(n: int, seed: int = 0, median_ns: float = 5e6, sigma: float = 0.3) -> np.ndarray:
    return np.random.default_rng(seed).lognormal(np.log(median_ns), sigma, n).astype(np.int64)


def _hist(x: np.ndarray, **kw) -> LogHistogram:
    h = LogHistogram(**kw)
    h.add(x)
    return h


# ------------------------------------------------------------------------------------------------ layout
def test_default_layout() -> None:
    h = LogHistogram()
    assert (h.lo_ns, h.hi_ns, h.rel_precision) == (100, 1e12, 0.001)
    assert h.n_buckets == math.ceil(math.log(1e10) / math.log1p(0.001))
    assert h.bucket_counts().size == h.n_buckets + 2 and h.bucket_counts().dtype == np.int64
    assert h.relative_error_bound == pytest.approx(math.sqrt(1.001) - 1)
    assert h.relative_error_bound <= 0.001 / 2
    ext, mids, *_ = _geometry(100.0, 1e12, 0.001)
    edges = ext[1:-1]
    assert edges[0] == 100 and edges[-1] == 1e12 and np.all(np.diff(edges) > 0)
    ratios = edges[1:-1] / edges[:-2]
    assert np.allclose(ratios, 1.001, rtol=1e-9)


def test_bucket_assignment_matches_edges_exactly() -> None:
    ext, *_ = _geometry(100.0, 1e12, 0.001)
    edges = ext[1:-1]
    rng = np.random.default_rng(2)
    pick = edges[rng.integers(0, edges.size, 20_000)]
    x = np.concatenate(
        [
            pick,
            np.nextafter(pick, 0),
            np.nextafter(pick, np.inf),  # exactly on and next to bucket edges
            rng.uniform(0, 1e12, 20_000),
            np.array([0.0, 99.999, 100.0, 1e12, 2e12]),
        ]
    )
    h = _hist(x)
    expected = np.bincount(np.searchsorted(ext, x, side="right") - 1, minlength=h.bucket_counts().size)
    assert np.array_equal(h.bucket_counts(), expected)


def test_rejects_bad_layout_and_bad_samples() -> None:
    with pytest.raises(ValueError, match="rel_precision"):
        LogHistogram(rel_precision=0)
    with pytest.raises(ValueError, match="lo_ns"):
        LogHistogram(lo_ns=10, hi_ns=5)
    h = LogHistogram()
    with pytest.raises(ValueError, match="NaN"):
        h.add(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="non-negative"):
        h.add(np.array([5, -1]))
    assert h.count == 0  # a rejected batch leaves nothing behind
    h.add(np.array([], dtype=np.int64))
    assert h.count == 0


# ------------------------------------------------------------------------------------------------ accuracy
@pytest.mark.parametrize("n,sigma", [(100_000, 0.3), (1_000_000, 0.1), (200_000, 1.0)])
def test_quantiles_within_documented_relative_error(n: int, sigma: float) -> None:
    x = _lognormal_ns(n, seed=n, sigma=sigma)
    h = _hist(x)
    qs = np.array([0, 1e-4, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9999, 1.0])
    got = h.quantiles(qs)
    ref = np.percentile(x, qs * 100)
    rel = np.abs(got - ref) / ref
    assert rel.max() <= h.relative_error_bound * (1 + 1e-9), rel.max()
    assert got[0] == x.min() and got[-1] == x.max()  # exact extremes
    assert h.quantile(0.5) == got[6]


def test_moments_are_exact() -> None:
    x = _lognormal_ns(300_000, seed=4)
    h = LogHistogram()
    for chunk in np.array_split(x, 37):  # streamed in frames, as the runner does
        h.add(chunk)
    assert h.count == x.size
    assert h.sum_ns == int(x.sum())
    assert h.mean_ns == pytest.approx(x.mean(), rel=1e-14)
    assert h.std_ns == pytest.approx(x.std(ddof=1), rel=1e-10)
    assert h.min_ns == x.min() and h.max_ns == x.max()


def test_float_input_and_tight_distribution() -> None:
    # CV of 0.01 %: a naive sum-of-squares would lose the variance to cancellation.
    x = np.random.default_rng(8).normal(1e9, 1e5, 50_000)
    h = _hist(x)
    assert h.mean_ns == pytest.approx(x.mean(), rel=1e-14)
    assert h.std_ns == pytest.approx(x.std(ddof=1), rel=1e-8)


def test_underflow_and_overflow() -> None:
    x = np.array([0, 50, 99, 1000, 5000, 2_000_000_000_000], dtype=np.int64)
    h = _hist(x)
    c = h.bucket_counts()
    assert c[0] == 3 and c[-1] == 1 and c.sum() == 6
    assert h.quantile(0.0) == 0 and h.quantile(1.0) == 2e12
    assert h.min_ns == 0 and h.max_ns == 2_000_000_000_000
    vals, w = h.to_weighted()
    assert np.all(np.diff(vals) > 0) and w.sum() == 6


# ------------------------------------------------------------------------------------------------ merge
def test_merge_equals_adding_all() -> None:
    parts = [_lognormal_ns(n, seed=s) for s, n in enumerate([10_000, 1, 25_000, 3_000])]
    merged = LogHistogram()
    for p in parts:
        merged.merge(_hist(p))
    merged.merge(LogHistogram())  # empty merge is a no-op
    whole = _hist(np.concatenate(parts))
    assert np.array_equal(merged.bucket_counts(), whole.bucket_counts())
    assert merged.count == whole.count and merged.sum_ns == whole.sum_ns
    assert merged.min_ns == whole.min_ns and merged.max_ns == whole.max_ns
    assert merged.std_ns == pytest.approx(whole.std_ns, rel=1e-12)
    assert np.array_equal(merged.quantiles([0.01, 0.5, 0.99]), whole.quantiles([0.01, 0.5, 0.99]))
    assert merged.median_ci() == whole.median_ci()


def test_merge_rejects_other_layout() -> None:
    with pytest.raises(ValueError, match="layout"):
        LogHistogram().merge(LogHistogram(rel_precision=0.01))
    with pytest.raises(TypeError):
        LogHistogram().merge(np.zeros(3))  # type: ignore[arg-type]


def test_copy_is_independent() -> None:
    h = _hist(_lognormal_ns(1000))
    c = h.copy()
    assert c == h
    c.add(np.array([123_456]))
    assert c != h and h.count == 1000


# ------------------------------------------------------------------------------------------------ serialisation
@pytest.mark.parametrize("n", [0, 1, 10_000])
def test_to_dict_round_trip(n: int) -> None:
    h = _hist(_lognormal_ns(n, seed=3)) if n else LogHistogram()
    text = json.dumps(h.to_dict())
    back = LogHistogram.from_dict(json.loads(text))
    assert back == h
    if n:
        assert back.mean_ns == h.mean_ns
        assert back.std_ns == h.std_ns or (n == 1 and math.isnan(back.std_ns))
        assert np.array_equal(back.quantiles([0.5, 0.99]), h.quantiles([0.5, 0.99]))


def test_to_dict_is_compact() -> None:
    # A typical 10k-sample latency record (5 ms median, 30 % spread) stays within a few KB of JSON.
    assert len(json.dumps(_hist(_lognormal_ns(10_000, sigma=0.3)).to_dict())) < 3_000
    # and a long run does not grow with the sample count beyond the occupied buckets
    assert len(json.dumps(_hist(_lognormal_ns(1_000_000, sigma=0.05)).to_dict())) < 3_000


def test_from_dict_rejects_malformed() -> None:
    d = _hist(_lognormal_ns(100)).to_dict()
    with pytest.raises(ValueError, match="format"):
        LogHistogram.from_dict({**d, "format": "other"})
    with pytest.raises(ValueError, match="lacks"):
        LogHistogram.from_dict({k: v for k, v in d.items() if k != "counts"})
    with pytest.raises(ValueError, match="inconsistent"):
        LogHistogram.from_dict({**d, "count": 99})
    with pytest.raises(ValueError, match="malformed"):
        LogHistogram.from_dict({**d, "bins": "u2:not base64!"})


# ------------------------------------------------------------------------------------------------ median CI / outliers
def test_median_ci_coverage_histogram() -> None:
    rng = np.random.default_rng(77)
    true_median = 4e6
    trials, hits = 400, 0
    for _ in range(trials):
        h = _hist(rng.lognormal(np.log(true_median), 0.3, 1500).astype(np.int64))  # normal-approximation ranks
        lo, hi = h.median_ci(0.95)
        hits += lo <= true_median <= hi
    assert 0.90 <= hits / trials <= 0.99


def test_median_ci_matches_raw_order_statistics() -> None:
    x = _lognormal_ns(5_000, seed=12)
    lo, hi = _hist(x).median_ci()
    rlo, rhi = stats.median_ci(x)
    bound = LogHistogram().relative_error_bound
    assert abs(lo - rlo) <= bound * rlo and abs(hi - rhi) <= bound * rhi


def test_mad_outliers_from_buckets() -> None:
    rng = np.random.default_rng(21)
    base = rng.lognormal(np.log(2e6), 0.05, 20_000)
    x = np.concatenate([base, np.full(40, 8e6), np.full(10, 2e5)]).astype(np.int64)
    h = _hist(x)
    raw = stats.mad_outliers(x)
    assert 50 <= raw <= 80
    assert abs(h.mad_outliers() - raw) <= 3
    assert h.mad_outliers(threshold=1e9) == 0


# ------------------------------------------------------------------------------------------------ edge cases
def test_empty_histogram() -> None:
    h = LogHistogram()
    assert h.count == 0
    for fn in (
        lambda: h.mean_ns,
        lambda: h.std_ns,
        lambda: h.min_ns,
        lambda: h.max_ns,
        lambda: h.quantile(0.5),
        h.median_ci,
        h.mad_outliers,
    ):
        with pytest.raises(ValueError, match="empty"):
            fn()
    assert h.binned() == {"edges_ms": [], "counts": [], "overflow": 0, "underflow": 0}
    vals, w = h.to_weighted()
    assert vals.size == 0 and w.size == 0


def test_single_sample() -> None:
    h = _hist(np.array([1_234_567]))
    assert h.quantile(0.0) == h.quantile(0.5) == h.quantile(1.0) == 1_234_567
    assert h.mean_ns == 1_234_567 and math.isnan(h.std_ns)
    assert h.median_ci() == (1_234_567, 1_234_567) and h.mad_outliers() == 0
    b = h.binned(n_bins=5)
    assert sum(b["counts"]) == 1


def test_all_equal_values() -> None:
    h = _hist(np.full(10_000, 3_000_000, dtype=np.int64))
    assert np.all(h.quantiles([0, 0.1, 0.5, 0.999, 1]) == 3_000_000)  # clamped to the exact min == max
    assert h.std_ns == 0.0 and h.mad_outliers() == 0
    assert h.median_ci() == (3e6, 3e6)
    b = h.binned()
    assert sum(b["counts"]) == 10_000 and b["edges_ms"][0] == 3.0


def test_quantile_argument_checked() -> None:
    h = _hist(np.array([1000, 2000]))
    with pytest.raises(ValueError, match="within"):
        h.quantile(1.5)
    with pytest.raises(ValueError, match="within"):
        h.quantiles([0.5, float("nan")])


# ------------------------------------------------------------------------------------------------ binned / weighted
def test_binned_counts_sum_to_count() -> None:
    x = _lognormal_ns(50_000, seed=6)
    h = _hist(x)
    b = h.binned(n_bins=40)
    assert len(b["edges_ms"]) == 41 and len(b["counts"]) == 40
    assert sum(b["counts"]) == h.count
    assert np.all(np.diff(b["edges_ms"]) > 0)
    assert b["edges_ms"][0] == pytest.approx(x.min() / 1e6)
    assert b["edges_ms"][-1] == pytest.approx(np.percentile(x, 99.5) / 1e6, rel=1e-3)
    assert b["underflow"] == 0
    assert b["overflow"] == pytest.approx(0.005 * x.size, abs=25)
    assert b["counts"][-1] >= b["overflow"]
    # trimmed both sides
    b2 = h.binned(n_bins=10, lo_q=0.01, hi_q=0.99)
    assert sum(b2["counts"]) == h.count and b2["underflow"] == pytest.approx(0.01 * x.size, abs=30)
    with pytest.raises(ValueError):
        h.binned(n_bins=0)
    with pytest.raises(ValueError):
        h.binned(lo_q=0.5, hi_q=0.5)


def test_to_weighted_reproduces_the_distribution() -> None:
    x = _lognormal_ns(100_000, seed=9)
    h = _hist(x)
    vals, w = h.to_weighted()
    assert w.sum() == x.size and np.all(w > 0) and np.all(np.diff(vals) > 0)
    assert np.average(vals, weights=w) == pytest.approx(x.mean(), rel=h.relative_error_bound)
