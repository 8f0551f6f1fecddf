"""workbench.stats.summary: pure functions checked against numpy on seeded known distributions (numpy only, fast)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from workbench.stats import summary as stats
from workbench.stats.histogram import LogHistogram
from workbench.stats.summary import (
    Summary,
    coefficient_of_variation,
    mad_outliers,
    mann_whitney,
    mann_whitney_from_histograms,
    median_ci,
    median_ci_ranks,
    norm_ppf,
    percentile,
    percentile_key,
    summarize,
    summary_from_histogram,
    throughput,
)

QS = (0, 1, 25, 50, 90, 95, 97.5, 99, 99.9, 100)


def _dists(n: int = 20_000, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "normal": rng.normal(10.0, 2.0, n),
        "lognormal": rng.lognormal(np.log(5.0), 0.4, n),
        "exponential": rng.exponential(3.0, n),
        "bimodal": np.concatenate([rng.normal(5.0, 0.3, n // 2), rng.normal(9.0, 0.5, n - n // 2)]),
        "int_ns": rng.lognormal(np.log(4e6), 0.2, n).astype(np.int64),
    }


# ---------------------------------------------------------------------------------------- summarize / percentile
@pytest.mark.parametrize("name", ["normal", "lognormal", "exponential", "bimodal", "int_ns"])
def test_summarize_matches_numpy(name: str) -> None:
    x = _dists()[name]
    s = summarize(x, percentiles=QS)
    expected = np.percentile(x, QS)
    for q, e in zip(QS, expected):
        assert s.percentiles[percentile_key(q)] == e  # exactly numpy's default linear method
        assert percentile(x, q) == e
    assert s.count == x.size
    assert s.mean == pytest.approx(np.mean(x), rel=1e-12)
    assert s.std == pytest.approx(np.std(x, ddof=1), rel=1e-12)
    assert s.min == x.min() and s.max == x.max()
    lo, hi = s.median_ci
    assert lo <= np.median(x) <= hi
    assert s.outliers == mad_outliers(x)


def test_summarize_default_keys_and_immutability() -> None:
    s = summarize(_dists()["lognormal"])
    assert list(s.percentiles) == ["p50", "p90", "p95", "p99", "p999"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.mean = 1.0  # type: ignore[misc]
    d = s.to_dict()
    assert d["p999"] == s.percentiles["p999"] and d["median_ci"] == list(s.median_ci) and d["count"] == s.count
    ms = s.scaled(1e-6)
    assert ms.mean == pytest.approx(s.mean * 1e-6) and ms.count == s.count and ms.outliers == s.outliers
    assert ms.percentiles["p50"] == pytest.approx(s.percentiles["p50"] * 1e-6)


@pytest.mark.parametrize(
    "q,key",
    [
        (50, "p50"),
        (50.0, "p50"),
        (90, "p90"),
        (99.9, "p999"),
        (99.99, "p9999"),
        (97.5, "p97.5"),
        (0, "p0"),
        (100, "p100"),
        (99.5, "p99.5"),
        (12.25, "p12.25"),
    ],
)
def test_percentile_key(q: float, key: str) -> None:
    assert percentile_key(q) == key


def test_percentile_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0, 2.0], 101)
    with pytest.raises(ValueError, match="percentile"):
        percentile_key(-1)


# ------------------------------------------------------------------------------------------------ edge cases
@pytest.mark.parametrize(
    "fn",
    [
        summarize,
        lambda a: percentile(a, 50),
        median_ci,
        mad_outliers,
        coefficient_of_variation,
        lambda a: mann_whitney(a, [1.0]),
        lambda a: mann_whitney([1.0], a),
    ],
)
def test_empty_raises_clear_value_error(fn) -> None:
    with pytest.raises(ValueError, match="empty"):
        fn(np.array([], dtype=np.float64))


def test_non_finite_and_bad_shape_raise() -> None:
    with pytest.raises(ValueError, match="NaN"):
        summarize(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="1-D"):
        summarize(np.ones((2, 2)))


def test_single_sample() -> None:
    s = summarize(np.array([7.0]))
    assert s.count == 1 and s.mean == 7.0 and s.min == 7.0 and s.max == 7.0
    assert math.isnan(s.std)  # undefined with ddof=1, reported as such rather than 0
    assert s.median_ci == (7.0, 7.0)
    assert s.outliers == 0
    assert all(v == 7.0 for v in s.percentiles.values())
    assert math.isnan(coefficient_of_variation([7.0]))


def test_all_equal_values() -> None:
    x = np.full(1000, 3.25)
    s = summarize(x)
    assert s.std == 0.0 and s.outliers == 0 and s.median_ci == (3.25, 3.25)
    assert mad_outliers(x) == 0


def test_mad_zero_falls_back_to_mean_absolute_deviation() -> None:
    x = np.array([5.0] * 100 + [6.0])  # MAD == 0 but one sample clearly off
    assert mad_outliers(x) == 1


# ------------------------------------------------------------------------------------------------ median CI
@pytest.mark.parametrize("n,j,k", [(1, 1, 1), (5, 1, 5), (6, 1, 6), (10, 2, 9), (20, 6, 15), (100, 40, 61)])
def test_median_ci_ranks_exact_small_n(n: int, j: int, k: int) -> None:
    # Reference values from binomial tables (e.g. n=10 → x(2), x(9); n=100 → x(40), x(61)).
    assert median_ci_ranks(n, 0.95) == (j, k)


def test_median_ci_ranks_coverage_is_at_least_confidence() -> None:
    for n in (7, 30, 101, 500, 1000):
        j, k = median_ci_ranks(n, 0.95)
        # P(j <= B <= k-1) for B ~ Binomial(n, 1/2), exact integer arithmetic
        cover = sum(math.comb(n, i) for i in range(j, k)) / 2**n
        assert cover >= 0.95
        # and j is the largest such rank (the interval is not wider than needed)
        if j + 1 <= k - 1:
            tighter = sum(math.comb(n, i) for i in range(j + 1, k - 1)) / 2**n
            assert tighter < 0.95


def test_median_ci_ranks_normal_path_continues_exact_path() -> None:
    j_exact, _ = median_ci_ranks(1000, 0.95)
    j_norm, _ = median_ci_ranks(1001, 0.95)
    assert abs(j_norm - j_exact) <= 1
    j, k = median_ci_ranks(10_000, 0.95)
    assert j + k == 10_001 and j == math.floor(5000 + 0.5 - 1.959963984540054 * 100 / 2)


def test_median_ci_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError, match="confidence"):
        median_ci([1.0, 2.0], 1.0)


@pytest.mark.parametrize("n", [101, 1500])  # exact binomial path and normal-approximation path
def test_median_ci_coverage(n: int) -> None:
    rng = np.random.default_rng(1234 + n)
    true_median = 5.0  # lognormal(log 5, s) has median exactly 5
    hits = 0
    trials = 400
    for _ in range(trials):
        lo, hi = median_ci(rng.lognormal(np.log(true_median), 0.5, n), 0.95)
        hits += lo <= true_median <= hi
    assert 0.90 <= hits / trials <= 0.99


# ------------------------------------------------------------------------------------------------ outliers
def _reference_mad_outliers(x: np.ndarray, threshold: float = 3.5) -> int:
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    return int(np.sum(0.6745 * np.abs(x - med) / mad > threshold))


def test_mad_outliers_detects_injected_outliers() -> None:
    rng = np.random.default_rng(7)
    base = rng.normal(100.0, 1.0, 10_000)
    x = np.concatenate([base, np.full(50, 200.0), np.full(20, 10.0)])
    rng.shuffle(x)
    got = mad_outliers(x)
    assert got == _reference_mad_outliers(x)
    # 70 injected, plus the normal tail beyond 3.5 sigma (~0.05 % of 10k, i.e. ~5)
    assert 70 <= got <= 85
    assert mad_outliers(base) == _reference_mad_outliers(base) <= 15
    assert mad_outliers(x, threshold=1e9) == 0


# ------------------------------------------------------------------------------------------------ throughput / CV
def test_throughput_is_items_over_wall_time() -> None:
    assert throughput(1000, 2.0) == 500.0
    assert throughput(0, 1.0) == 0.0
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="elapsed"):
            throughput(10, bad)
    with pytest.raises(ValueError, match="item"):
        throughput(-1, 1.0)


def test_coefficient_of_variation() -> None:
    x = _dists()["normal"]
    assert coefficient_of_variation(x) == pytest.approx(np.std(x, ddof=1) / np.mean(x), rel=1e-12)


# ------------------------------------------------------------------------------------------------ normal helpers
def test_norm_ppf_inverts_erfc() -> None:
    assert norm_ppf(0.975) == pytest.approx(1.959963984540054, abs=1e-12)
    assert norm_ppf(0.5) == pytest.approx(0.0, abs=1e-15)
    for p in (1e-12, 1e-6, 0.01, 0.02425, 0.1, 0.3, 0.7, 0.9, 0.99, 1 - 1e-9):
        x = norm_ppf(p)
        assert 0.5 * math.erfc(-x / math.sqrt(2)) == pytest.approx(p, rel=1e-9)
    with pytest.raises(ValueError):
        norm_ppf(1.0)


# ------------------------------------------------------------------------------------------------ Mann-Whitney
def _brute_u(a: np.ndarray, b: np.ndarray) -> float:
    diff = b[:, None] - a[None, :]
    return float(np.sum(diff > 0) + 0.5 * np.sum(diff == 0))


def test_mann_whitney_u_matches_pair_count_with_ties() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(0, 20, 150).astype(float)
    b = rng.integers(2, 22, 120).astype(float)
    u, z, p, effect = mann_whitney(a, b)
    assert u == _brute_u(a, b)
    assert z > 0 and 0.0 <= p <= 1.0  # b is shifted up
    assert effect == pytest.approx(np.median(b) / np.median(a))
    # Orientation is antisymmetric: swapping the samples mirrors u around na*nb/2 and flips z.
    u2, z2, p2, _ = mann_whitney(b, a)
    assert u + u2 == pytest.approx(a.size * b.size)
    assert z2 == pytest.approx(-z) and p2 == pytest.approx(p)


def test_mann_whitney_reference_value() -> None:
    # Hand-checkable: no ties, complete separation. U = 9, mu = 4.5, var = 3*3*7/12 = 5.25.
    u, z, p, _ = mann_whitney([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert u == 9.0
    assert z == pytest.approx((9 - 4.5 - 0.5) / math.sqrt(5.25))
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))


def test_mann_whitney_all_tied_gives_p_one() -> None:
    u, z, p, effect = mann_whitney([2.0] * 10, [2.0] * 7)
    assert (u, z, p, effect) == (35.0, 0.0, 1.0, 1.0)


def test_mann_whitney_same_distribution_mostly_not_significant() -> None:
    rng = np.random.default_rng(11)
    trials = 200
    not_sig = 0
    for _ in range(trials):
        a = rng.lognormal(np.log(5.0), 0.2, 300)
        b = rng.lognormal(np.log(5.0), 0.2, 300)
        not_sig += mann_whitney(a, b)[2] > 0.05
    assert not_sig / trials >= 0.9


def _shifted_pair(n: int = 2000, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.lognormal(np.log(4e6), 0.2, n).astype(np.int64)
    b = (rng.lognormal(np.log(4e6), 0.2, n) * 1.05).astype(np.int64)
    return a, b


def test_mann_whitney_detects_5_percent_shift() -> None:
    a, b = _shifted_pair()
    u, z, p, effect = mann_whitney(a, b)
    assert p < 1e-6 and z > 0
    assert effect == pytest.approx(1.05, abs=0.02)


def test_mann_whitney_from_histograms_agrees_with_raw() -> None:
    for seed, (a, b) in enumerate([_shifted_pair(), _shifted_pair(seed=9)]):
        if seed == 1:  # also a same-distribution pair
            b = np.random.default_rng(99).lognormal(np.log(4e6), 0.2, 2000).astype(np.int64)
        ha, hb = LogHistogram(), LogHistogram()
        ha.add(a)
        hb.add(b)
        u, z, p, eff = mann_whitney(a, b)
        hu, hz, hp, heff = mann_whitney_from_histograms(ha, hb)
        n_pairs = a.size * b.size
        assert abs(hu - u) / n_pairs < 1e-3  # within-bucket pairs are counted as ties
        assert hz == pytest.approx(z, abs=0.02)
        assert heff == pytest.approx(eff, rel=2e-3)
        if p < 1e-6:
            assert hp < 1e-6
        else:
            assert hp == pytest.approx(p, abs=0.01)


def test_mann_whitney_from_histograms_checks_inputs() -> None:
    a = LogHistogram()
    a.add(np.array([1000, 2000]))
    with pytest.raises(ValueError, match="non-empty"):
        mann_whitney_from_histograms(a, LogHistogram())
    other = LogHistogram(rel_precision=0.01)
    other.add(np.array([1000]))
    with pytest.raises(ValueError, match="layout"):
        mann_whitney_from_histograms(a, other)


# ------------------------------------------------------------------------------------------------ histogram summary
def test_summary_from_histogram_matches_summarize() -> None:
    x = _dists(n=100_000)["int_ns"]
    h = LogHistogram()
    h.add(x)
    hs = summary_from_histogram(h)
    s = summarize(x)
    assert isinstance(hs, Summary)
    assert hs.count == s.count and hs.min == s.min and hs.max == s.max
    assert hs.mean == pytest.approx(s.mean, rel=1e-12)
    assert hs.std == pytest.approx(s.std, rel=1e-9)
    bound = h.relative_error_bound * (1 + 1e-9)
    for key, v in s.percentiles.items():
        assert abs(hs.percentiles[key] - v) <= bound * v
    for got, ref in zip(hs.median_ci, s.median_ci):
        assert abs(got - ref) <= bound * ref
    assert abs(hs.outliers - s.outliers) <= max(3, 0.05 * s.outliers)
    with pytest.raises(ValueError, match="empty"):
        summary_from_histogram(LogHistogram())


def test_module_imports_only_stdlib_and_numpy() -> None:
    import ast
    import sys

    import workbench.stats.histogram as hist_mod

    for mod in (stats, hist_mod):
        tree = ast.parse(open(mod.__file__, encoding="utf-8").read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("numpy", "workbench", "__future__"), name


def test_speedup_against_the_reference_engine_is_shown():
    """The reference engine's parity is "reference" (not compared with itself); a speedup against it is shown when
    the other engine passed, and hidden when it failed."""
    from workbench.result import EngineResult
    from workbench.stats.parity import is_reference, reference_parity
    from workbench.stats.speedup import speedup

    def res(engine: str, p50: float, status: str) -> EngineResult:
        return EngineResult(
            engine=engine,
            model="m",
            device="cpu",
            mode="latency",
            batch=1,
            threads=1,
            cores=[0],
            precision_requested="fp32",
            latency_ms={"p50": p50},
            parity={"status": status},
        )

    assert is_reference("torch", "fp32", "cpu", "torch")
    assert not is_reference("torch", "bf16", "cpu", "torch") and not is_reference("openvino", "fp32", "cpu", "torch")
    assert reference_parity("torch fp32").status == "reference"
    base = res("torch", 10.0, "reference")
    assert speedup(base, base, "latency") == (1.0, "baseline")
    assert speedup(res("openvino", 5.0, "pass"), base, "latency") == (2.0, None)
    value, note = speedup(res("openvino", 5.0, "fail"), base, "latency")
    assert value is None and "parity fail" in note


def test_parity_reports_each_output_and_where_it_diverges():
    import numpy as np

    from workbench.stats.parity import compare

    rng = np.random.default_rng(0)
    ref = {
        "boxes": rng.normal(size=(1, 4, 5)).astype(np.float32),
        "scores": rng.normal(size=(1, 10)).astype(np.float32),
    }
    out = {k: v.copy() for k, v in ref.items()}
    out["scores"][0, 7] += 1.0  # one element of one output is wrong
    p = compare(ref, out, precision="fp32", task="generic", reference="onnxruntime fp32")
    assert p.status == "fail" and p.tolerance == 1e-3 and p.tolerance_source == "default fp32"
    by_name = {o["name"]: o for o in p.outputs}
    assert by_name["boxes"]["status"] == "pass" and by_name["boxes"]["max_abs"] == 0.0
    scores = by_name["scores"]
    assert scores["status"] == "fail" and scores["max_abs_index"] == [0, 7]
    assert scores["max_abs"] == pytest.approx(1.0, rel=1e-5)
    assert scores["max_abs_values"][1] - scores["max_abs_values"][0] == pytest.approx(1.0, rel=1e-5)
    assert "output 'scores'" in p.message and "(0, 7)" in p.message and "--rtol" in p.message
    # a looser relative tolerance, recorded as the user's
    loose = compare(ref, out, precision="fp32", task="generic", reference="x", rtol=1.0)
    assert loose.status == "pass" and loose.tolerance == 1.0 and loose.tolerance_source == "user"
    # an absolute floor passes outputs whose largest difference is small, whatever the relative error
    tiny_ref = {"y": np.full((3,), 1e-9, np.float32)}
    tiny_out = {"y": np.full((3,), 2e-9, np.float32)}
    # fp32 by default: an output ~0 everywhere passes on the rounding floor (FP32_FLOOR), and says it is weak
    weak = compare(tiny_ref, tiny_out, precision="fp32", task="generic", reference="x")
    assert weak.status == "pass" and weak.floor == 1e-6 and weak.outputs[0]["passed_on"] == "floor"
    assert "weak check" in weak.message
    beyond = {"y": np.full((3,), 5e-6, np.float32)}
    assert compare(tiny_ref, beyond, precision="fp32", task="generic", reference="x").status == "fail"
    assert compare(tiny_ref, tiny_out, precision="fp16", task="generic", reference="x").status == "fail"
    floor = compare(tiny_ref, tiny_out, precision="fp32", task="generic", reference="x", atol=1e-6)
    assert floor.status == "pass" and floor.atol == 1e-6
    # NaNs and shape mismatches fail with a reason, per output
    nan = compare(
        {"y": np.ones(3)}, {"y": np.array([1.0, np.nan, 1.0])}, precision="fp32", task="generic", reference="x"
    )
    assert nan.status == "fail" and "1 NaN/Inf" in nan.message
    shape = compare({"y": np.ones(3)}, {"y": np.ones(4)}, precision="fp32", task="generic", reference="x")
    assert shape.status == "fail" and "differs from the reference" in shape.message
