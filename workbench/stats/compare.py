"""Compare two runs, and gate CI on regressions — with verdicts that survive an A/A check.

``compare(baseline, candidate)`` pairs the engine results of two :class:`~workbench.result.RunRecord` and, for each
pair, reports deltas/ratios of p50, p90, p99, mean and throughput plus a verdict per metric: ``"faster"``,
``"slower"``, ``"no significant change"`` or ``"not tested"`` (a result failed or a value is missing).

The rule (:mod:`workbench.stats.verdict`, shared with every other cross-run verdict)
    Two runs are two benchmark processes at two moments, and this machine's speed drifts between them far more
    than within one. So a verdict is a test of ``ln(candidate / baseline)`` against the **run-to-run spread**:
    with one run on each side, the spread of that metric measured on this machine (``workbench doctor --aa``) or
    the documented assumed spread; with ≥ 3 repeats on each side, Welch's test between the per-repeat values
    (floored at the measured spread). A change is called faster/slower only when it is significant at
    α = 0.01 *and* at least 1 % (:data:`PRACTICAL_PCT`). Each verdict carries its ``1 - α`` confidence interval,
    the basis ("one run each", "between repeats (5 vs 5)") and the spread it used, and the reports print them.
    The within-run tests used before (Mann-Whitney U on the histograms, quantile z-tests) called 5 of 5 A/A pairs
    faster or slower on a cloud VM (docs/methodology.md); each run's own sampling error still enters as a small
    variance term.

Like for like
    Runs of different models, input shapes or loads (LoadGen scenario settings, :data:`~workbench.stats.verdict.LOAD_FIELDS`) are refused (:class:`~workbench.errors.UsageError`) unless
    ``force=True``: a ratio between two functions is not a speed change. A configuration, precision, library or
    machine difference is kept as a warning, and the reports print those *first*.

``gate(comparison, fail_above_pct, metric)`` turns a comparison into a :class:`GateResult` for CI (its exit code,
the status of every pair and the regressions found; :func:`workbench.report.compare.gate_markdown` renders it):
exit 1 when a paired engine of the candidate is slower than the baseline beyond run-to-run variation by more than
``fail_above_pct`` on ``metric`` (p50, p90, p99 or throughput — for throughput, slower means lower), or when an
engine that worked in the baseline failed in the candidate; exit 2 when the two runs share no engine (nothing was
checked); 0 otherwise.

This module is statistics and verdicts only: it reads no files or history (operands and the machine's stored
spreads are resolved by ``workbench.cli.history``) and renders no reports (``workbench.report.compare``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from workbench.errors import UsageError
from workbench.result import EngineResult, RunRecord
from workbench.stats.verdict import (
    ALPHA,
    MIN_REPEATS,
    PRACTICAL_PCT,
    Side,
    drift_within,
    load_mismatch,
    ratio_test,
    result_key,
    spread_for,
    student_t_sf,
)
from workbench.units import MISSING, as_float, json_safe, p_value, percent

__all__ = [
    "ALPHA",
    "PRACTICAL_PCT",
    "MIN_REPEATS",
    "METRICS",
    "GATE_METRICS",
    "MISMATCH_CODES",
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

METRICS = ("p50", "p90", "p99", "mean", "throughput")  # deltas reported for these
GATE_METRICS = ("p50", "p90", "p99", "throughput")  # verdicts (and gates) for these
#: warnings that say the two sides are not like for like: the reports print them first
MISMATCH_CODES = (
    "model_differs",
    "load_differs",
    "shapes_differ",
    "config_differs",
    "precision_differs",
    "machine_differs",
)

FASTER, SLOWER, SAME, UNTESTED = "faster", "slower", "no significant change", "not tested"


# ------------------------------------------------------------------------------------------------ math helpers


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
    """Two-sample z-test of quantile ``q`` of two histograms: ``(z, p_two_sided)``; ``z > 0`` when b's is larger.

    A *within-run* test: it knows only each run's sampling error, not the drift between runs, so compare no longer
    decides on it (see :mod:`workbench.stats.verdict`); kept for analyses inside one run."""
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
    statistic: float | None = None  # t of ln(candidate/baseline) over its standard error
    change_pct: float | None = None
    worse_pct: float | None = None
    significant: bool = False
    practical: bool = False
    note: str | None = None
    #: the change's confidence interval, in percent of the baseline ([lo, hi]; 1 - alpha)
    ci_pct: list[float] | None = None
    #: what the verdict rests on: "one run each", "between repeats (5 vs 5)", …
    basis: str | None = None
    #: the run-to-run spread used (workbench.stats.verdict.Spread.to_dict()); None when repeats alone decided
    spread: dict[str, Any] | None = None
    df: float | None = None


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

    @property
    def mismatches(self) -> list[str]:
        """What is not like for like between the two sides (model forced, inputs, configuration, precision,
        machine): the lines a report shows before any number."""
        out = [w["message"] for w in self.warnings if w["code"] in MISMATCH_CODES]
        out += [w["message"] for p in self.pairs for w in p.warnings if w["code"] in MISMATCH_CODES]
        return list(dict.fromkeys(out))

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


_QUANTILE = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def _se_log(r: EngineResult, metric: str, h: Any) -> float:
    """The standard error of ``ln(metric)`` from the run's own samples: the order-statistic interval of the
    histogram, else the stored median CI; 0 when neither is there (throughput: its sampling error is negligible
    next to the run-to-run spread)."""
    q = _QUANTILE.get(metric)
    if q is None:
        return 0.0
    if h is not None:
        mid = float(h.quantile(q))
        return _quantile_se(h, q) / mid if mid > 0 else 0.0
    ci, p50 = r.median_ci_ms, as_float((r.latency_ms or {}).get("p50"))
    if metric == "p50" and ci and len(ci) == 2 and p50:
        return abs(float(ci[1]) - float(ci[0])) / (2 * 1.959963984540054) / p50
    return 0.0


def side(r: EngineResult, metric: str, h: Any = None) -> Side:
    """One result's :class:`~workbench.stats.verdict.Side` for ``metric``: its value, its per-repeat values
    (``repeats[i][metric]``, stored since per-repeat percentiles were kept), its sampling error and, for p50 and
    throughput, its drift within its rounds (``repeats[i]["blocks"]``)."""
    reps = tuple(
        v for v in (as_float(rep.get(metric)) for rep in r.repeats or [] if isinstance(rep, Mapping)) if v is not None
    )
    drift, dof = 0.0, None
    if metric in ("p50", "throughput"):  # the blocks are medians: they show how the run's speed drifted
        drift, dof = drift_within(rep.get("blocks") or [] for rep in r.repeats or [] if isinstance(rep, Mapping))
    return Side(_metric_value(r, metric), reps, _se_log(r, metric, h), drift, dof)


def _verdict(
    metric: str,
    ra: EngineResult,
    rb: EngineResult,
    ha: Any,
    hb: Any,
    delta: MetricDelta,
    spreads: Sequence[Mapping[str, Any]] | None,
    model: str | None,
    alpha: float,
    practical_pct: float,
) -> Verdict:
    spread = spread_for(spreads, metric, result_key(rb, model))
    sa, sb = side(ra, metric, ha), side(rb, metric, hb)
    if metric == "throughput":  # higher is better: test the inverse, so "worse" reads the same way as latency
        sa, sb = sa.inverted(), sb.inverted()
    t = ratio_test(sa, sb, spread, alpha=alpha, practical_pct=practical_pct)
    if t.p_value is None or delta.worse_pct is None:
        return Verdict(
            metric,
            UNTESTED,
            "none",
            change_pct=delta.change_pct,
            worse_pct=delta.worse_pct,
            note=f"no {metric} value in one of the runs; not tested",
        )
    verdict = (SLOWER if delta.worse_pct > 0 else FASTER) if t.significant and t.practical else SAME
    ci = t.ci
    ci_pct = None
    if ci:  # the interval of the worse-ratio, as a change of the metric itself
        lo, hi = (1 / ci[1], 1 / ci[0]) if metric == "throughput" else ci
        ci_pct = [(lo - 1) * 100, (hi - 1) * 100]
    return Verdict(
        metric,
        verdict,
        f"run-to-run ratio test ({t.basis})",
        t.p_value,
        t.statistic,
        delta.change_pct,
        delta.worse_pct,
        t.significant,
        t.practical,
        None,
        ci_pct,
        t.basis,
        t.spread.to_dict() if t.spread else None,
        t.df,
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


def _shapes(rec: RunRecord, without_batch: bool) -> dict[str, Any]:
    out = {}
    for spec in (rec.model or {}).get("inputs") or []:
        if isinstance(spec, Mapping) and spec.get("name") is not None:
            shape = list(spec.get("shape") or [])
            out[str(spec["name"])] = (shape[1:] if without_batch else shape, spec.get("dtype"))
    return out


def mismatch(a: RunRecord, b: RunRecord) -> str | None:
    """Why ``a`` and ``b`` are not runs of the same function (a different model, or different input names, shapes
    or dtypes), in one line; None when they are. The batch dimension is left out when the batches differ (that is
    a configuration difference, reported as such)."""
    ma, mb = (a.model or {}).get("name"), (b.model or {}).get("name")
    if ma != mb:
        return f"different models: {_fmt(ma)} vs {_fmt(mb)}"
    load = load_mismatch(a.config, b.config)
    if load:  # LoadGen scenarios: a latency is only comparable under the same load
        return f"different load (LoadGen scenario settings): {load}"
    batch_differs = (a.config or {}).get("batch") != (b.config or {}).get("batch")
    sa, sb = _shapes(a, batch_differs), _shapes(b, batch_differs)
    if sa and sb and sa != sb:
        diff = [
            f"{k} {_fmt((sa.get(k) or (None,))[0])} → {_fmt((sb.get(k) or (None,))[0])}"
            for k in dict.fromkeys([*sa, *sb])
            if sa.get(k) != sb.get(k)
        ]
        return f"{_fmt(ma)} with different inputs: " + ", ".join(diff[:4])
    return None


def _record_warnings(a: RunRecord, b: RunRecord) -> list[dict[str, str]]:
    out = []
    why = mismatch(a, b)
    if why:
        code = (
            "model_differs"
            if why.startswith("different models")
            else ("load_differs" if why.startswith("different load") else "shapes_differ")
        )
        out.append({"code": code, "message": why + " (compared with --force)"})
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
    a: RunRecord,
    b: RunRecord,
    metric: str = "p50",
    *,
    alpha: float = ALPHA,
    practical_pct: float = PRACTICAL_PCT,
    spreads: Sequence[Mapping[str, Any]] | None = None,
    force: bool = False,
) -> Comparison:
    """Compare baseline ``a`` with candidate ``b``; the headline verdict of each pair is on ``metric``.

    ``metric`` is one of :data:`GATE_METRICS`. Verdicts for all of them are computed anyway (see module docs for
    the rule). ``spreads``: the A/A spreads stored for the machine(s) the runs come from
    (``workbench.machine.spread.entries``); without them the assumed spread is used, and the verdicts say so.
    Raises :class:`UsageError` for an unknown metric, and for runs of different models or input shapes unless
    ``force``.
    """
    metric = _check_metric(metric)
    why = mismatch(a, b)
    if why and not force:
        raise UsageError(
            f"{why}: a ratio between two different functions is not a speed change",
            hint="compare runs of the same model and inputs, or add --force to see the numbers side by side anyway",
        )
    model = str((b.model or {}).get("name") or "") or None
    pairs_raw, left_a, left_b = _pair(list(a.results), list(b.results))
    pairs: list[PairComparison] = []
    warnings = _record_warnings(a, b)
    for ra, rb, how in pairs_raw:
        pairs.append(_pair_comparison(ra, rb, how, spreads, model, alpha, practical_pct))
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


def _pair_comparison(
    ra: EngineResult,
    rb: EngineResult,
    how: str,
    spreads: Sequence[Mapping[str, Any]] | None,
    model: str | None,
    alpha: float,
    practical_pct: float,
) -> PairComparison:
    """One engine's baseline and candidate results compared: deltas on every metric, a verdict per gate metric
    (untested when a side failed), the pair's warnings."""
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
        verdicts = {
            m: _verdict(m, ra, rb, ha, hb, deltas[m], spreads, model, alpha, practical_pct) for m in GATE_METRICS
        }
        for h, r, which in ((ha, ra, "baseline"), (hb, rb, "candidate")):
            if h is not None and h.count < 30:
                pw.append(
                    {
                        "code": "few_samples",
                        "message": f"{r.engine}: only {h.count} samples in the {which}; tests have little power",
                    }
                )
    return PairComparison(
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
            failures.append(
                f"{p.label}: {metric} {percent(v.change_pct, signed=True)} ({p_text(v.p_value)}; {v.basis})"
            )
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
