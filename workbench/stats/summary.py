"""Latency statistics as small pure functions (stdlib + numpy only).

Every function takes a 1-D array of samples in any unit (ns or ms) and returns numbers in that same unit, except
:func:`throughput` (items/s) and the ratio-valued :func:`coefficient_of_variation`. Empty input raises
:class:`ValueError` with a readable message; so does NaN/inf. The same :class:`Summary` is produced from raw
samples (:func:`summarize`) and from the streaming :class:`workbench.stats.histogram.LogHistogram`
(:func:`summary_from_histogram`), so the runner can keep memory flat on long runs and still report the same fields.

Definitions (stated once, so reports can cite them):

* percentiles: numpy's default ``linear`` method (``np.percentile``), ``q`` in [0, 100].
* std: sample standard deviation (``ddof=1``); ``nan`` for a single sample (undefined, not zero).
* median CI: distribution-free confidence interval from binomial order statistics. For ``n <= 1000`` the ranks come
  from the exact Binomial(n, 1/2) tail (integer arithmetic with :func:`math.comb`), so coverage is *at least* the
  requested confidence; above that the normal approximation with continuity correction is used. For tiny ``n``
  (e.g. ``n < 6`` at 95 %) no pair of order statistics reaches the confidence and the interval is ``(min, max)``.
* outliers: modified z-score ``0.6745 * |x - median| / MAD > threshold`` (Iglewicz & Hoaglin, threshold 3.5). When
  MAD is 0 the mean absolute deviation stands in (``|x - median| / (1.253314 * MeanAD)``); when that is 0 as well
  (all values equal) there are no outliers.
* Mann-Whitney U: two-sided, normal approximation with tie correction and a 0.5 continuity correction; ``p`` from
  :func:`math.erfc`. Oriented on ``b``: ``u`` counts pairs with ``b > a`` (ties count 1/2), ``z > 0`` means ``b``
  tends to be larger (slower), ``effect = median(b) / median(a)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers (histogram imports this module)
    from workbench.stats.histogram import LogHistogram

__all__ = [
    "DEFAULT_PERCENTILES",
    "Summary",
    "coefficient_of_variation",
    "mad_outliers",
    "mann_whitney",
    "mann_whitney_from_histograms",
    "median_ci",
    "median_ci_ranks",
    "norm_ppf",
    "percentile",
    "percentile_key",
    "summarize",
    "summary_from_histogram",
    "throughput",
]

DEFAULT_PERCENTILES: tuple[float, ...] = (50, 90, 95, 99, 99.9)

#: Up to this many samples the median-CI ranks come from the exact binomial tail; above it, the normal approximation.
EXACT_BINOMIAL_MAX_N = 1000

MAD_SCALE = 0.6745  # Phi^-1(0.75): makes MAD comparable to a standard deviation for normal data
MEANAD_SCALE = 1.253314  # sqrt(pi/2): same for the mean absolute deviation (fallback when MAD == 0)


# --------------------------------------------------------------------------------------------------------------------
# Summary record
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one sample set, all values in the unit of the input.

    ``percentiles`` is keyed by :func:`percentile_key` (``"p50"``, ``"p999"`` for 99.9, ``"p97.5"``).
    ``std`` is ``nan`` when ``count == 1``.
    """

    count: int
    mean: float
    std: float
    min: float
    max: float
    percentiles: Mapping[str, float] = field(hash=False)
    median_ci: tuple[float, float]
    outliers: int

    def scaled(self, factor: float) -> "Summary":
        """The same summary with every value multiplied by ``factor`` (e.g. ``1e-6`` for ns → ms)."""
        f = float(factor)
        return replace(
            self,
            mean=self.mean * f,
            std=self.std * f,
            min=self.min * f,
            max=self.max * f,
            percentiles={k: v * f for k, v in self.percentiles.items()},
            median_ci=(self.median_ci[0] * f, self.median_ci[1] * f),
        )

    def to_dict(self) -> dict[str, Any]:
        """Flat JSON-friendly dict: count, mean, std, min, max, the percentile keys, median_ci [lo, hi], outliers."""
        d: dict[str, Any] = {"count": self.count, "mean": self.mean, "std": self.std, "min": self.min, "max": self.max}
        d.update(self.percentiles)
        d["median_ci"] = [self.median_ci[0], self.median_ci[1]]
        d["outliers"] = self.outliers
        return d


# --------------------------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------------------------


def _as_samples(samples: Any, what: str = "samples") -> np.ndarray:
    a = np.asarray(samples)
    if a.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array; got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{what} is empty: at least one sample is needed")
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ValueError(f"{what} must be numeric; got dtype {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return a


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not (0.0 < c < 1.0):
        raise ValueError(f"confidence must be strictly between 0 and 1; got {confidence!r}")
    return c


def _check_percentile(q: float) -> float:
    qf = float(q)
    if not (0.0 <= qf <= 100.0):
        raise ValueError(f"percentile must be within [0, 100]; got {q!r}")
    return qf


# --------------------------------------------------------------------------------------------------------------------
# Normal distribution helpers (no scipy)
# --------------------------------------------------------------------------------------------------------------------


def _norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_ppf(p: float) -> float:
    """Inverse of the standard normal CDF (Acklam's rational approximation + one Halley step; ~1e-15 relative)."""
    p = float(p)
    if not (0.0 < p < 1.0):
        raise ValueError(f"norm_ppf needs 0 < p < 1; got {p!r}")
    a = (
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    )
    b = (
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    )
    c = (
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    )
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    p_low = 0.02425
    if p < p_low:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
        )
    elif p <= 1.0 - p_low:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
        )
    else:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
        )
    # One Halley refinement step against the exact CDF (via erfc).
    e = _norm_cdf(x) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


# --------------------------------------------------------------------------------------------------------------------
# Percentiles
# --------------------------------------------------------------------------------------------------------------------


def percentile_key(q: float) -> str:
    """Key for percentile ``q`` (0..100, not a fraction).

    50 → ``"p50"``, 99.9 → ``"p999"``, 99.99 → ``"p9999"``, 97.5 → ``"p97.5"``.

    Whole numbers drop the decimal point; the "nines" family (99.9, 99.99, …) drops the dot by convention; any other
    fractional percentile keeps it.
    """
    qf = _check_percentile(q)
    if qf == int(qf):
        return f"p{int(qf)}"
    s = repr(qf)  # shortest round-tripping form, e.g. '97.5', '99.9'
    if "e" in s or "E" in s:
        s = np.format_float_positional(qf, trim="-")
    head, _, tail = s.partition(".")
    if head == "99" and tail and set(tail) == {"9"}:
        return f"p{head}{tail}"
    return f"p{s}"


def percentile(samples: Any, q: float) -> float:
    """Percentile ``q`` (0..100) with numpy's default linear interpolation (identical to ``np.percentile``)."""
    a = _as_samples(samples)
    return float(np.percentile(a, _check_percentile(q)))


# --------------------------------------------------------------------------------------------------------------------
# Median confidence interval
# --------------------------------------------------------------------------------------------------------------------


def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """1-based ranks ``(j, k)`` such that ``[x_(j), x_(k)]`` is a ``confidence`` CI of the median of ``n`` samples.

    ``P(x_(j) <= median <= x_(k)) = P(j <= B <= k - 1)`` with ``B ~ Binomial(n, 1/2)`` for any continuous
    distribution. ``j`` is the largest rank with ``P(B <= j - 1) <= (1 - confidence) / 2`` and ``k = n + 1 - j``:
    exact for ``n <= EXACT_BINOMIAL_MAX_N`` (integer arithmetic), normal approximation with continuity correction
    above. When no rank qualifies (tiny ``n``) the interval is the full range ``(1, n)``.
    """
    n = int(n)
    if n < 1:
        raise ValueError("median CI needs at least one sample; got an empty sample set")
    alpha_half = (1.0 - _check_confidence(confidence)) / 2.0
    if n <= EXACT_BINOMIAL_MAX_N:
        total = 1 << n  # 2**n
        cum = 0
        j = 0
        # Largest j with P(B <= j-1) <= alpha/2 : walk the lower tail in exact integers.
        for i in range(0, n // 2 + 1):
            cum += math.comb(n, i)  # cum = sum_{t<=i} C(n,t) = 2^n P(B <= i)
            if cum / total <= alpha_half:
                j = i + 1
            else:
                break
    else:
        z = norm_ppf(1.0 - alpha_half)
        j = int(math.floor(n / 2.0 + 0.5 - z * math.sqrt(n) / 2.0))
    j = max(1, min(j, (n + 1) // 2))
    k = n + 1 - j
    return j, k


def median_ci(samples: Any, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free ``confidence`` interval ``(lo, hi)`` of the median (see :func:`median_ci_ranks`)."""
    a = _as_samples(samples)
    j, k = median_ci_ranks(a.size, confidence)
    part = np.partition(a, (j - 1, k - 1))
    return float(part[j - 1]), float(part[k - 1])


# --------------------------------------------------------------------------------------------------------------------
# Outliers, spread, throughput
# --------------------------------------------------------------------------------------------------------------------


def _outliers_from_deviations(dev: np.ndarray, weights: np.ndarray | None, mad: float, threshold: float) -> int:
    """Count (weighted) deviations whose modified z-score exceeds ``threshold``."""
    if mad > 0.0:
        z = MAD_SCALE * dev / mad
    else:
        n = dev.size if weights is None else float(weights.sum())
        mean_ad = float(dev.sum() if weights is None else (dev * weights).sum()) / n
        if mean_ad <= 0.0:
            return 0
        z = dev / (MEANAD_SCALE * mean_ad)
    hit = z > threshold
    return int(hit.sum() if weights is None else weights[hit].sum())


def mad_outliers(samples: Any, threshold: float = 3.5) -> int:
    """Number of samples with modified z-score ``0.6745 * |x - median| / MAD > threshold`` (see module docs)."""
    a = _as_samples(samples).astype(np.float64, copy=False)
    med = float(np.median(a))
    dev = np.abs(a - med)
    mad = float(np.median(dev))
    return _outliers_from_deviations(dev, None, mad, float(threshold))


def coefficient_of_variation(samples: Any) -> float:
    """Sample std (ddof=1) over mean; ``nan`` for one sample or a zero mean."""
    a = _as_samples(samples)
    if a.size < 2:
        return float("nan")
    mean = float(np.mean(a))
    if mean == 0.0:
        return float("nan")
    return float(np.std(a, ddof=1)) / abs(mean)


def throughput(items: float, elapsed_s: float) -> float:
    """Items per second over wall-clock time (not ``1 / mean latency``, which ignores overlap and gaps).

    Raises :class:`ValueError` when ``elapsed_s`` is not a positive finite number or ``items`` is negative.
    """
    e = float(elapsed_s)
    if not math.isfinite(e) or e <= 0.0:
        raise ValueError(f"throughput needs a positive elapsed time; got {elapsed_s!r} s")
    it = float(items)
    if not math.isfinite(it) or it < 0:
        raise ValueError(f"throughput needs a non-negative item count; got {items!r}")
    return it / e


# --------------------------------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------------------------------


def summarize(samples: Any, percentiles: Iterable[float] = DEFAULT_PERCENTILES, confidence: float = 0.95) -> Summary:
    """All descriptive statistics of ``samples`` in one :class:`Summary` (same unit as the input)."""
    a = _as_samples(samples)
    qs = [_check_percentile(q) for q in percentiles]
    pv = np.percentile(a, qs) if qs else np.empty(0)
    pct = {percentile_key(q): float(v) for q, v in zip(qs, pv)}
    std = float(np.std(a, ddof=1)) if a.size > 1 else float("nan")
    return Summary(
        count=int(a.size),
        mean=float(np.mean(a)),
        std=std,
        min=float(a.min()),
        max=float(a.max()),
        percentiles=pct,
        median_ci=median_ci(a, confidence),
        outliers=mad_outliers(a),
    )


def summary_from_histogram(
    h: "LogHistogram", percentiles: Iterable[float] = DEFAULT_PERCENTILES, confidence: float = 0.95
) -> Summary:
    """The :class:`Summary` of a :class:`~workbench.stats.histogram.LogHistogram`, in ns.

    count, mean, std, min and max are exact; percentiles, the median CI and the outlier count come from the buckets
    (relative error bound: ``h.relative_error_bound``). Use ``.scaled(1e-6)`` for milliseconds.
    """
    if h.count == 0:
        raise ValueError("histogram is empty: at least one sample is needed for a summary")
    qs = [_check_percentile(q) for q in percentiles]
    pv = h.quantiles(np.asarray(qs, dtype=np.float64) / 100.0) if qs else np.empty(0)
    pct = {percentile_key(q): float(v) for q, v in zip(qs, pv)}
    return Summary(
        count=int(h.count),
        mean=float(h.mean_ns),
        std=float(h.std_ns),
        min=float(h.min_ns),
        max=float(h.max_ns),
        percentiles=pct,
        median_ci=h.median_ci(confidence),
        outliers=h.mad_outliers(),
    )


# --------------------------------------------------------------------------------------------------------------------
# Mann-Whitney U
# --------------------------------------------------------------------------------------------------------------------


def _mw_from_grouped(ca: np.ndarray, cb: np.ndarray) -> tuple[float, float, float]:
    """U (for b), z and two-sided p from per-group counts of a and b over groups sorted by value (ties = group)."""
    ca = ca.astype(np.float64)
    cb = cb.astype(np.float64)
    na, nb = float(ca.sum()), float(cb.sum())
    t = ca + cb
    n = na + nb
    before = np.cumsum(t) - t  # number of observations in lower groups
    midrank = before + (t + 1.0) / 2.0
    r_b = float(np.dot(cb, midrank))
    u = r_b - nb * (nb + 1.0) / 2.0
    mu = na * nb / 2.0
    tie_term = float(np.sum(t**3 - t)) / (n * (n - 1.0)) if n > 1 else 0.0
    var = na * nb / 12.0 * ((n + 1.0) - tie_term)
    if var <= 0.0:
        return u, 0.0, 1.0
    diff = u - mu
    z = math.copysign(max(abs(diff) - 0.5, 0.0), diff) / math.sqrt(var)
    p = min(1.0, math.erfc(abs(z) / math.sqrt(2.0)))
    return u, z, p


def mann_whitney(a_samples: Any, b_samples: Any) -> tuple[float, float, float, float]:
    """Two-sided Mann-Whitney U test of raw samples ``a`` vs ``b``: ``(u, z, p_two_sided, effect)``.

    ``u`` = pairs with ``b > a`` plus half the ties; ``z > 0`` means ``b`` tends to be larger; ``p`` from the normal
    approximation with tie and continuity correction; ``effect = median(b) / median(a)`` (``nan`` if median(a) is 0).
    """
    a = _as_samples(a_samples, "a_samples").astype(np.float64, copy=False)
    b = _as_samples(b_samples, "b_samples").astype(np.float64, copy=False)
    values, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    g = values.size
    ca = np.bincount(inverse[: a.size], minlength=g)
    cb = np.bincount(inverse[a.size :], minlength=g)
    u, z, p = _mw_from_grouped(ca, cb)
    ma = float(np.median(a))
    effect = float(np.median(b)) / ma if ma != 0.0 else float("nan")
    return u, z, p, effect


def mann_whitney_from_histograms(
    a: "LogHistogram", b: "LogHistogram", *, regroup: bool = False
) -> tuple[float, float, float, float]:
    """:func:`mann_whitney` on two histograms: ``(u, z, p_two_sided, effect)``.

    With the same bucket layout, samples in the same bucket (0.1 % wide by default) are treated as ties, which
    slightly lowers ``|z|`` relative to the raw-sample test. Histograms of different layouts raise
    :class:`ValueError` unless ``regroup``: then the bins of both are grouped by their representative values
    (equal representatives are ties). ``effect`` is the ratio of the histogram medians ``b / a``.
    """
    if a.count == 0 or b.count == 0:
        raise ValueError("Mann-Whitney needs two non-empty histograms")
    if a.same_layout(b):
        ca, cb = a.bucket_counts(), b.bucket_counts()
        nz = np.flatnonzero(ca + cb)
        ca, cb = ca[nz], cb[nz]
    elif regroup:
        va, wa = a.to_weighted()
        vb, wb = b.to_weighted()
        values, inverse = np.unique(np.concatenate([va, vb]), return_inverse=True)
        ca = np.bincount(inverse[: va.size], weights=wa, minlength=values.size)
        cb = np.bincount(inverse[va.size :], weights=wb, minlength=values.size)
    else:
        raise ValueError("Mann-Whitney needs histograms with the same bucket layout (lo_ns, hi_ns, rel_precision)")
    u, z, p = _mw_from_grouped(ca, cb)
    ma = a.quantile(0.5)
    effect = b.quantile(0.5) / ma if ma != 0.0 else float("nan")
    return u, z, p, effect
