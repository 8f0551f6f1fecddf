"""Compare two runs with a significance test, and gate CI on regressions.

``compare(baseline, candidate)`` pairs the engine results of two :class:`~workbench.result.RunRecord` and, for each
pair, reports deltas/ratios of p50, p90, p99, mean and throughput plus a verdict per metric: ``"faster"``,
``"slower"``, ``"no significant change"`` or ``"not tested"`` (a result failed or the data needed for a test was
not stored).

Which test, and why
    * **p50 (and the default verdict): Mann-Whitney U** on the stored latency histograms
      (:func:`workbench.stats.summary.mann_whitney_from_histograms`, two-sided, α = 0.01). Latency distributions are skewed
      and heavy-tailed, so a t-test on means is dominated by a few stalls; Mann-Whitney is rank-based,
      distribution-free and needs only the histogram we keep (not raw samples). Its null hypothesis is "neither
      run tends to be slower", which is what a user means by "did it change?".
    * **p90/p99: a two-sample z-test of the quantiles** with distribution-free standard errors from binomial order
      statistics (the rank interval ``n·q ± z·sqrt(n·q·(1-q))`` mapped through each histogram), because a rank test
      on the whole distribution says little about the tail.
    * **throughput: Welch's t-test on the per-repeat throughputs** when both runs have ≥ 3 repeats (unequal
      variances, Student-t p-value computed here with the regularised incomplete beta function). With fewer
      repeats there is no sample of throughputs to test, so the verdict follows the p50 latency test (its
      significance; the throughput change must point the same way) and the verdict's ``test`` says so.
    * **Practical threshold.** A test over tens of thousands of samples flags a 0.2 % shift as "significant";
      nobody should act on that. A change is only called faster/slower when it is significant *and*
      ``|change| >= 1 %`` of the baseline value (:data:`PRACTICAL_PCT`).

``gate(comparison, fail_above_pct, metric)`` turns a comparison into a :class:`GateResult` for CI (its exit code,
the status of every pair and the regressions found; :func:`workbench.report.compare.gate_markdown` renders it):
exit 1 when a paired engine of the candidate is significantly slower than the baseline by more than
``fail_above_pct`` on ``metric`` (p50, p99 or throughput — for throughput, slower means lower), or when an engine
that worked in the baseline failed in the candidate; exit 2 when the two runs share no engine (nothing was
checked); 0 otherwise.

This module is statistics and verdicts only: it reads no files or history (operands are resolved by
``workbench.cli.history``) and renders no reports (``workbench.report.compare``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from workbench.errors import UsageError
from workbench.result import EngineResult, RunRecord
from workbench.stats.summary import mann_whitney_from_histograms
from workbench.units import MISSING, as_float, json_safe, p_value, percent

__all__ = [
    "ALPHA",
    "PRACTICAL_PCT",
    "METRICS",
    "GATE_METRICS",
    "MetricDelta",
    "Verdict",
    "PairComparison",
    "Comparison",
    "GateRow",
    "GateResult",
    "compare",
    "gate",
    "p_text",
    "welch_t_test",
    "student_t_sf",
    "quantile_z_test",
]

ALPHA = 0.01
PRACTICAL_PCT = 1.0
METRICS = ("p50", "p90", "p99", "mean", "throughput")  # deltas reported for these
GATE_METRICS = ("p50", "p90", "p99", "throughput")  # verdicts (and gates) for these
MIN_REPEATS = 3

FASTER, SLOWER, SAME, UNTESTED = "faster", "slower", "no significant change", "not tested"


# ------------------------------------------------------------------------------------------------ math helpers


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """Two-sided p-value ``P(|T| >= |t|)`` of Student's t with ``df`` degrees of freedom."""
    if not math.isfinite(t):
        return 0.0
    if df <= 0 or not math.isfinite(df):
        return math.erfc(abs(t) / math.sqrt(2.0))
    return min(1.0, max(0.0, _betainc(df / 2.0, 0.5, df / (df + t * t))))


def welch_t_test(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Welch's unequal-variance t-test of ``b`` vs ``a``: ``(t, df, p_two_sided)``; ``t > 0`` when mean(b) > mean(a).

    Needs at least two values per side. Zero variance on both sides gives p = 1 for equal means, 0 otherwise.
    """
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        raise ValueError("Welch's t-test needs at least two values per group")
    ma, mb = sum(a) / na, sum(b) / nb
    va = sum((x - ma) ** 2 for x in a) / (na - 1)
    vb = sum((x - mb) ** 2 for x in b) / (nb - 1)
    se2 = va / na + vb / nb
    if se2 <= 0.0:
        return (
            (0.0, float(na + nb - 2), 1.0) if ma == mb else (math.copysign(math.inf, mb - ma), float(na + nb - 2), 0.0)
        )
    t = (mb - ma) / math.sqrt(se2)
    df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)) if (va > 0 or vb > 0) else float(na + nb - 2)
    return t, df, student_t_sf(t, df)


def _quantile_se(h: Any, q: float, z: float = 1.959963984540054) -> float:
    """Standard error of quantile ``q`` of a histogram from the order-statistic interval ``q ± z·sqrt(q(1-q)/n)``."""
    n = h.count
    half = z * math.sqrt(q * (1.0 - q) / n)
    lo, hi = h.quantiles([max(0.0, q - half), min(1.0, q + half)])
    return float(hi - lo) / (2.0 * z)


def quantile_z_test(ha: Any, hb: Any, q: float) -> tuple[float, float]:
    """Two-sample z-test of quantile ``q`` of two histograms: ``(z, p_two_sided)``; ``z > 0`` when b's is larger."""
    qa, qb = ha.quantile(q), hb.quantile(q)
    se = math.hypot(_quantile_se(ha, q), _quantile_se(hb, q))
    if se <= 0.0:
        return (0.0, 1.0) if qa == qb else (math.copysign(math.inf, qb - qa), 0.0)
    z = (qb - qa) / se
    return z, math.erfc(abs(z) / math.sqrt(2.0))


# ------------------------------------------------------------------------------------------------- data types


@dataclass
class MetricDelta:
    """One metric of a pair. ``worse_pct`` > 0 means the candidate is worse (higher latency, lower throughput)."""

    metric: str
    unit: str
    baseline: float | None
    candidate: float | None
    delta: float | None = None  # candidate - baseline
    ratio: float | None = None  # candidate / baseline
    change_pct: float | None = None  # (candidate - baseline) / baseline * 100
    worse_pct: float | None = None


@dataclass
class Verdict:
    metric: str
    verdict: str  # faster | slower | no significant change | not tested
    test: str  # which test produced it
    p_value: float | None = None
    statistic: float | None = None  # z (Mann-Whitney, quantile) or t (Welch)
    change_pct: float | None = None
    worse_pct: float | None = None
    significant: bool = False
    practical: bool = False
    note: str | None = None


@dataclass
class PairComparison:
    engine: str
    device: str
    precision_baseline: str | None
    precision_candidate: str | None
    paired_by: str  # "engine+device+precision" | "engine"
    deltas: dict[str, MetricDelta]
    verdicts: dict[str, Verdict]
    warnings: list[dict[str, str]] = field(default_factory=list)
    samples_baseline: int | None = None
    samples_candidate: int | None = None
    failed: str | None = None  # None | "baseline" | "candidate" | "both"

    @property
    def label(self) -> str:
        prec = self.precision_candidate or self.precision_baseline or "?"
        if self.precision_baseline and self.precision_candidate and self.precision_baseline != self.precision_candidate:
            prec = f"{self.precision_baseline}→{self.precision_candidate}"
        return f"{self.engine} ({self.device}, {prec})"

    def verdict(self, metric: str) -> Verdict:
        return self.verdicts[metric]


@dataclass
class Comparison:
    baseline_id: str
    candidate_id: str
    baseline_created: str
    candidate_created: str
    baseline_model: str
    candidate_model: str
    metric: str
    alpha: float
    practical_pct: float
    pairs: list[PairComparison]
    unpaired_baseline: list[str] = field(default_factory=list)
    unpaired_candidate: list[str] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    @property
    def verdicts(self) -> list[Verdict]:
        """The headline verdict (chosen metric) of every pair."""
        return [p.verdicts[self.metric] for p in self.pairs]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for p, pd in zip(self.pairs, d["pairs"]):
            pd["label"] = p.label
            pd["verdict"] = p.verdicts[self.metric].verdict
        return json_safe(d)


# ------------------------------------------------------------------------------------------------------ compare


def _metric_value(r: EngineResult, metric: str) -> float | None:
    if metric == "throughput":
        return as_float(r.throughput)
    return as_float((r.latency_ms or {}).get(metric))


def _delta(metric: str, a: float | None, b: float | None) -> MetricDelta:
    unit = "items/s" if metric == "throughput" else "ms"
    d = MetricDelta(metric, unit, a, b)
    if a is not None and b is not None:
        d.delta = b - a
        if a != 0:
            d.ratio = b / a
            d.change_pct = (b - a) / abs(a) * 100.0
            d.worse_pct = -d.change_pct if metric == "throughput" else d.change_pct
    return d


def _histogram(r: EngineResult) -> Any:
    if not r.histogram:
        return None
    try:
        from workbench.stats.histogram import LogHistogram

        h = LogHistogram.from_dict(r.histogram)
    except (ImportError, ValueError, TypeError, KeyError):
        return None
    return h if h.count > 0 else None


def _decide(
    metric: str, worse_pct: float | None, p: float | None, alpha: float, practical_pct: float
) -> tuple[str, bool, bool]:
    if worse_pct is None or p is None:
        return UNTESTED, False, False
    significant = p < alpha
    practical = abs(worse_pct) >= practical_pct
    if significant and practical:
        return (SLOWER if worse_pct > 0 else FASTER), significant, practical
    return SAME, significant, practical


def _latency_verdict(
    metric: str,
    q: float,
    ra: EngineResult,
    rb: EngineResult,
    ha: Any,
    hb: Any,
    delta: MetricDelta,
    alpha: float,
    practical_pct: float,
) -> Verdict:
    test = "Mann-Whitney U (histograms)" if metric == "p50" else f"quantile z-test (order statistics, q={q:g})"
    if ha is None or hb is None:
        # Fallback for p50: the stored 95 % median CIs give each median's standard error.
        ca, cb = ra.median_ci_ms, rb.median_ci_ms
        if metric == "p50" and ca and cb and len(ca) == 2 and len(cb) == 2 and delta.delta is not None:
            se = math.hypot((cb[1] - cb[0]), (ca[1] - ca[0])) / (2 * 1.959963984540054)
            if se > 0:
                z = delta.delta / se
                p = math.erfc(abs(z) / math.sqrt(2.0))
                v, sig, prac = _decide(metric, delta.worse_pct, p, alpha, practical_pct)
                return Verdict(
                    metric,
                    v,
                    "z-test of medians from stored 95% CIs",
                    p,
                    z,
                    delta.change_pct,
                    delta.worse_pct,
                    sig,
                    prac,
                    "no histogram stored; used the median confidence intervals",
                )
        return Verdict(
            metric,
            UNTESTED,
            test,
            change_pct=delta.change_pct,
            worse_pct=delta.worse_pct,
            note="no latency histogram stored for one of the runs; significance not tested",
        )
    if metric == "p50":
        if not ha.same_layout(hb):
            test = "Mann-Whitney U (histograms, re-grouped: layouts differ)"
        _, z, p, _ = mann_whitney_from_histograms(ha, hb, regroup=True)
    else:
        z, p = quantile_z_test(ha, hb, q)
    v, sig, prac = _decide(metric, delta.worse_pct, p, alpha, practical_pct)
    return Verdict(metric, v, test, p, z, delta.change_pct, delta.worse_pct, sig, prac)


def _repeat_throughputs(r: EngineResult) -> list[float]:
    out = []
    for rep in r.repeats or []:
        v = as_float(rep.get("throughput")) if isinstance(rep, Mapping) else None
        if v is not None:
            out.append(v)
    return out


def _throughput_verdict(
    ra: EngineResult, rb: EngineResult, delta: MetricDelta, p50: Verdict, alpha: float, practical_pct: float
) -> Verdict:
    ta, tb = _repeat_throughputs(ra), _repeat_throughputs(rb)
    if len(ta) >= MIN_REPEATS and len(tb) >= MIN_REPEATS:
        t, df, p = welch_t_test(ta, tb)
        v, sig, prac = _decide("throughput", delta.worse_pct, p, alpha, practical_pct)
        return Verdict(
            "throughput",
            v,
            f"Welch t-test (per-repeat throughput, {len(ta)} vs {len(tb)} repeats)",
            p,
            t,
            delta.change_pct,
            delta.worse_pct,
            sig,
            prac,
            f"df={df:.1f}",
        )
    note = (
        f"fewer than {MIN_REPEATS} repeats ({len(ta)} vs {len(tb)}): no throughput sample to test; "
        "the verdict follows the p50 latency test"
    )
    if delta.worse_pct is None or p50.p_value is None:
        return Verdict(
            "throughput",
            UNTESTED,
            "p50 latency test (fallback)",
            change_pct=delta.change_pct,
            worse_pct=delta.worse_pct,
            note=note,
        )
    v, sig, prac = _decide("throughput", delta.worse_pct, p50.p_value, alpha, practical_pct)
    if v != SAME and p50.verdict != v:  # latency and throughput disagree on the direction
        note += "; latency and throughput changes point in opposite directions"
        v = SAME
    return Verdict(
        "throughput",
        v,
        "p50 latency test (fallback)",
        p50.p_value,
        p50.statistic,
        delta.change_pct,
        delta.worse_pct,
        sig,
        prac,
        note,
    )


def _fmt(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v):
            from workbench.machine.cpus import format_cpu_list

            return format_cpu_list(v)
        return ",".join(str(x) for x in v) if v else "[]"
    return MISSING if v is None else str(v)


def _pair_warnings(ra: EngineResult, rb: EngineResult) -> list[dict[str, str]]:
    out = []
    diffs = []
    for key in ("batch", "threads", "cores", "mode", "streams", "requests", "precision_requested", "device"):
        a, b = getattr(ra, key), getattr(rb, key)
        if a != b:
            diffs.append(f"{key} {_fmt(a)} → {_fmt(b)}")
    if diffs:
        out.append({"code": "config_differs", "message": f"{ra.engine}: " + ", ".join(diffs)})
    if ra.precision_effective != rb.precision_effective:
        out.append(
            {
                "code": "precision_differs",
                "message": f"{ra.engine}: effective precision {_fmt(ra.precision_effective)} → "
                f"{_fmt(rb.precision_effective)}; the speed difference may come from that",
            }
        )
    if ra.engine_version != rb.engine_version and ra.engine_version and rb.engine_version:
        out.append(
            {"code": "engine_version_differs", "message": f"{ra.engine} {ra.engine_version} → {rb.engine_version}"}
        )
    return out


def _pair(
    ra_list: list[EngineResult], rb_list: list[EngineResult]
) -> tuple[list[tuple[EngineResult, EngineResult, str]], list[EngineResult], list[EngineResult]]:
    """Pair by (engine, device, precision_effective), then by engine alone among the leftovers."""
    left_a, left_b = list(ra_list), list(rb_list)
    pairs = []

    def take(key_fn: Any, how: str) -> None:
        for ra in list(left_a):
            for rb in left_b:
                if key_fn(ra) == key_fn(rb):
                    pairs.append((ra, rb, how))
                    left_a.remove(ra)
                    left_b.remove(rb)
                    break

    take(lambda r: (r.engine, r.device, r.precision_effective or r.precision_requested), "engine+device+precision")
    take(lambda r: (r.engine, r.device), "engine+device")
    take(lambda r: r.engine, "engine")
    return pairs, left_a, left_b


def _record_warnings(a: RunRecord, b: RunRecord) -> list[dict[str, str]]:
    out = []
    ma, mb = (a.model or {}).get("name"), (b.model or {}).get("name")
    if ma != mb:
        out.append({"code": "model_differs", "message": f"different models: {_fmt(ma)} vs {_fmt(mb)}"})
    sa, sb = a.system or {}, b.system or {}
    fa, fb = sa.get("fingerprint"), sb.get("fingerprint")
    if fa and fb and fa != fb:
        fields_a, fields_b = sa.get("fingerprint_fields") or {}, sb.get("fingerprint_fields") or {}
        keys = [k for k in dict.fromkeys([*fields_a, *fields_b]) if fields_a.get(k) != fields_b.get(k)]
        what = ", ".join(keys) if keys else "fields not recorded"
        detail = "; ".join(
            f"{k}: {_fmt(fields_a.get(k))} → {_fmt(fields_b.get(k))}"
            for k in keys[:4]
            if not isinstance(fields_a.get(k), (list, dict)) and not isinstance(fields_b.get(k), (list, dict))
        )
        out.append(
            {
                "code": "machine_differs",
                "message": f"the runs come from different machines/setups (fingerprint {fa} vs {fb}; differs in: "
                f"{what}){' — ' + detail if detail else ''}",
            }
        )
    elif bool(fa) != bool(fb):
        out.append(
            {
                "code": "machine_unknown",
                "message": "one run has no machine fingerprint; cannot tell whether both ran on the same machine",
            }
        )
    va, vb = a.versions or {}, b.versions or {}
    vdiff = [f"{k} {_fmt(va.get(k))} → {_fmt(vb.get(k))}" for k in dict.fromkeys([*va, *vb]) if va.get(k) != vb.get(k)]
    if vdiff:
        out.append({"code": "versions_differ", "message": "library versions differ: " + ", ".join(vdiff)})
    ca, cb = a.config or {}, b.config or {}
    cdiff = [
        f"{k} {_fmt(ca.get(k))} → {_fmt(cb.get(k))}"
        for k in ("batch", "threads", "cores", "mode", "precision")
        if ca.get(k) != cb.get(k)
    ]
    if cdiff:
        out.append({"code": "config_differs", "message": "run configuration differs: " + ", ".join(cdiff)})
    return out


def compare(
    a: RunRecord, b: RunRecord, metric: str = "p50", *, alpha: float = ALPHA, practical_pct: float = PRACTICAL_PCT
) -> Comparison:
    """Compare baseline ``a`` with candidate ``b``; the headline verdict of each pair is on ``metric``.

    ``metric`` is one of :data:`GATE_METRICS`. Verdicts for all of them are computed anyway (see module docs for
    the tests). Raises :class:`UsageError` for an unknown metric.
    """
    metric = _check_metric(metric)
    pairs_raw, left_a, left_b = _pair(list(a.results), list(b.results))
    pairs: list[PairComparison] = []
    warnings = _record_warnings(a, b)
    for ra, rb, how in pairs_raw:
        deltas = {m: _delta(m, _metric_value(ra, m), _metric_value(rb, m)) for m in METRICS}
        pw = _pair_warnings(ra, rb)
        failed_side = None
        if not ra.ok or not rb.ok:
            failed_side = "both" if not (ra.ok or rb.ok) else ("baseline" if not ra.ok else "candidate")
            failed = rb if not rb.ok else ra
            note = f"{failed_side} failed: {failed.error or 'unknown error'}"
            verdicts = {m: Verdict(m, UNTESTED, "none", note=note) for m in GATE_METRICS}
            pw.append({"code": "engine_failed", "message": f"{ra.engine}: {note}"})
        else:
            ha, hb = _histogram(ra), _histogram(rb)
            verdicts = {}
            for m, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
                verdicts[m] = _latency_verdict(m, q, ra, rb, ha, hb, deltas[m], alpha, practical_pct)
            verdicts["throughput"] = _throughput_verdict(
                ra, rb, deltas["throughput"], verdicts["p50"], alpha, practical_pct
            )
            for h, r, side in ((ha, ra, "baseline"), (hb, rb, "candidate")):
                if h is not None and h.count < 30:
                    pw.append(
                        {
                            "code": "few_samples",
                            "message": f"{r.engine}: only {h.count} samples in the {side}; tests have little power",
                        }
                    )
        pairs.append(
            PairComparison(
                engine=ra.engine,
                device=ra.device if ra.device == rb.device else f"{ra.device}→{rb.device}",
                precision_baseline=ra.precision_effective or ra.precision_requested,
                precision_candidate=rb.precision_effective or rb.precision_requested,
                paired_by=how,
                deltas=deltas,
                verdicts=verdicts,
                warnings=pw,
                samples_baseline=_count(ra),
                samples_candidate=_count(rb),
                failed=failed_side,
            )
        )
    unpaired_a = [f"{r.engine} ({r.device}, {r.precision_effective or r.precision_requested})" for r in left_a]
    unpaired_b = [f"{r.engine} ({r.device}, {r.precision_effective or r.precision_requested})" for r in left_b]
    if unpaired_a:
        warnings.append({"code": "unpaired", "message": "only in the baseline: " + ", ".join(unpaired_a)})
    if unpaired_b:
        warnings.append({"code": "unpaired", "message": "only in the candidate: " + ", ".join(unpaired_b)})
    return Comparison(
        baseline_id=a.run_id,
        candidate_id=b.run_id,
        baseline_created=a.created,
        candidate_created=b.created,
        baseline_model=str((a.model or {}).get("name") or ""),
        candidate_model=str((b.model or {}).get("name") or ""),
        metric=metric,
        alpha=alpha,
        practical_pct=practical_pct,
        pairs=pairs,
        unpaired_baseline=unpaired_a,
        unpaired_candidate=unpaired_b,
        warnings=warnings,
    )


def _count(r: EngineResult) -> int | None:
    if isinstance(r.histogram, Mapping) and isinstance(r.histogram.get("count"), int):
        return r.histogram["count"]
    return r.iterations or None


def _check_metric(metric: str) -> str:
    m = (metric or "").strip().lower()
    if m not in GATE_METRICS:
        raise UsageError(f"unknown metric {metric!r}; choose one of {', '.join(GATE_METRICS)}")
    return m


# --------------------------------------------------------------------------------------------------------- gate


def p_text(p: float | None) -> str:
    """``"p=0.003"``, ``"p<0.000001"`` (:func:`workbench.units.p_value`), or :data:`~workbench.units.MISSING`."""
    s = p_value(p)
    if s == MISSING:
        return s
    return f"p{s}" if s.startswith("<") else f"p={s}"


@dataclass
class GateRow:
    """One paired engine in a gate: its verdict and delta on the gate's metric and ``"ok"`` or ``"FAIL"``."""

    pair: PairComparison
    verdict: Verdict
    delta: MetricDelta
    status: str


@dataclass
class GateResult:
    """The outcome of :func:`gate`: ``exit_code`` 0 (pass), 1 (regression) or 2 (nothing could be paired)."""

    exit_code: int
    metric: str
    threshold_pct: float
    rows: list[GateRow]
    failures: list[str]  # one line per regression, "<pair label>: <why>"

    @property
    def head(self) -> str:
        return {0: "PASS", 1: "FAIL", 2: "NOT CHECKED"}[self.exit_code]


def gate(comparison: Comparison, fail_above_pct: float, metric: str | None = None) -> GateResult:
    """The CI verdict on ``comparison`` (render it with :func:`workbench.report.compare.gate_markdown`).

    Exit 1 when any pair's candidate is significantly slower on ``metric`` (its verdict is ``"slower"``) by more
    than ``fail_above_pct`` percent, or when a pair's candidate failed although its baseline worked, or when the
    chosen metric could not be tested but got worse by more than the threshold (a gate must not pass what it
    could not check). Exit 2 when no engine could be paired. Otherwise 0. Raises :class:`UsageError` for an
    unknown metric or a threshold that is not a percentage >= 0.
    """
    metric = _check_metric(metric or comparison.metric)
    try:
        threshold = float(fail_above_pct)
    except (TypeError, ValueError):
        raise UsageError(f"--fail-above must be a number of percent; got {fail_above_pct!r}") from None
    if not math.isfinite(threshold) or threshold < 0:
        raise UsageError(f"--fail-above must be a percentage >= 0; got {fail_above_pct!r}")
    failures: list[str] = []
    rows: list[GateRow] = []
    for p in comparison.pairs:
        v = p.verdicts[metric]
        d = p.deltas[metric]
        status = "ok"
        if p.failed == "candidate":
            status = "FAIL"
            failures.append(f"{p.label}: {v.note}")
        elif v.verdict == SLOWER and v.worse_pct is not None and v.worse_pct > threshold:
            status = "FAIL"
            failures.append(f"{p.label}: {metric} {percent(v.change_pct, signed=True)} ({p_text(v.p_value)})")
        elif v.verdict == UNTESTED and v.worse_pct is not None and v.worse_pct > threshold:
            status = "FAIL"
            failures.append(
                f"{p.label}: {metric} {percent(v.change_pct, signed=True)} and could not be tested ({v.note})"
            )
        rows.append(GateRow(p, v, d, status))
    code = 1 if failures else 0
    if not comparison.pairs:
        code = 2
    return GateResult(code, metric, threshold, rows, failures)
