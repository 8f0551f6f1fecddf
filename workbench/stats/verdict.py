"""The one rule for judging a ratio between two measurements: is the difference beyond run-to-run variation?

Every verdict that compares numbers from *different benchmark processes* goes through :func:`ratio_test`:
``workbench compare`` and its CI gate, the speedup of one engine over another inside a run, a sweep's thread
scaling and precision gain, ``compare --by machine`` and recommend's elimination steps.

Why a rule of its own
    Samples inside one run are not independent draws of "the run's speed": the machine drifts between runs
    (frequency, neighbours, cache and memory placement, where a thread pool landed) far more than within one. On a
    2-vCPU cloud VM six identical runs of mobilenet_v3_small on ONNX Runtime gave p50s 1.43–1.59 ms (sd of ln p50
    4.2 %), while each run's own median was known to ±0.3 %. A test over one run's samples (Mann-Whitney on the
    histograms, a quantile z-test) is therefore overconfident about a difference *between* runs: it called 5 of 5
    such A/A pairs faster or slower. pyperf answers this by comparing per-process values, hyperfine by repeating
    the whole command; we do the same with what a run has.

The model
    ``ln(value of a run) = ln(true value) + e``, ``e ~ N(0, σ²)``, where σ (:class:`Spread`) is the run-to-run
    spread of that metric on this machine. The test is on ``d = ln(b / a)``; its variance is the sum of each side's:

    * **one run** (fewer than :data:`MIN_REPEATS` repeats): ``σ²`` plus the run's own sampling variance
      (``se_log²``, from the histogram's order statistics; tiny for a median over thousands of samples);
    * **repeats** (≥ :data:`MIN_REPEATS` per-repeat values): the sample variance of the per-repeat ``ln`` values
      over their count — Welch's test, as pyperf compares per-process values — but never less than ``σ²/k`` when σ
      was *measured* on this machine (repeats of one run share a process, so they cannot show the process-to-process
      part of the spread; an *assumed* σ does not override what repeats show).

    Degrees of freedom combine by Welch–Satterthwaite: a repeats' variance has ``k - 1``, a measured σ has the
    ``runs - 1`` of the A/A measurement that gave it, an assumed σ is taken as known. The verdict is a difference
    when the two-sided p-value is below :data:`ALPHA` *and* the change is at least :data:`PRACTICAL_PCT` (nobody
    should act on a 0.3 % shift, however certain). The interval is the ``1 - ALPHA`` confidence interval of the
    ratio, ``exp(d ± t·se)``.

Where σ comes from (:func:`spread_for`)
    ``workbench doctor --aa`` runs one configuration several times, each run its own process, and stores the spread
    per machine fingerprint (``workbench.machine.spread``). A verdict uses, in order: the spread measured for the
    same configuration, for the same model and engine, the largest measured on this machine, or the
    :data:`ASSUMED` spread (measured on a 2-vCPU cloud VM, docs/methodology.md) — and says which.

Pure functions, standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Sequence

from workbench.units import percent

__all__ = [
    "ALPHA",
    "PRACTICAL_PCT",
    "MIN_REPEATS",
    "SPREAD_METRICS",
    "KEY_FIELDS",
    "LOAD_FIELDS",
    "load_key",
    "load_mismatch",
    "config_key",
    "result_key",
    "ASSUMED",
    "Spread",
    "Side",
    "RatioTest",
    "ratio_test",
    "paired_test",
    "interval_text",
    "change_text",
    "spread_for",
    "spread_from_values",
    "history_entries",
    "drift_within",
    "spread_text",
    "min_detectable",
    "spreads_sentence",
    "student_t_sf",
    "t_quantile",
    "welch_df",
]

ALPHA = 0.01
PRACTICAL_PCT = 1.0
MIN_REPEATS = 3
#: the metrics a spread is kept for
SPREAD_METRICS = ("p50", "p90", "p99", "throughput")

FASTER, SLOWER, SAME, UNTESTED = "faster", "slower", "no significant change", "not tested"


# ------------------------------------------------------------------------------------------------ Student's t


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


def student_t_sf(t: float, df: float | None) -> float:
    """Two-sided p-value ``P(|T| >= |t|)`` of Student's t with ``df`` degrees of freedom (normal for None/inf)."""
    if not math.isfinite(t):
        return 0.0
    if df is None or df <= 0 or not math.isfinite(df):
        return math.erfc(abs(t) / math.sqrt(2.0))
    return min(1.0, max(0.0, _betainc(df / 2.0, 0.5, df / (df + t * t))))


def t_quantile(alpha: float, df: float | None) -> float:
    """The critical value ``t`` with ``P(|T| >= t) = alpha`` (bisection on :func:`student_t_sf`)."""
    lo, hi = 0.0, 1.0
    while student_t_sf(hi, df) > alpha:
        hi *= 2.0
        if hi > 1e6:
            return hi
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if student_t_sf(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def welch_df(parts: Iterable[tuple[float, float | None]]) -> float | None:
    """Welch–Satterthwaite degrees of freedom of a sum of variances ``(variance, df)``; ``df`` None = known."""
    parts = list(parts)
    total = sum(v for v, _ in parts)
    denom = sum(v * v / df for v, df in parts if df is not None and math.isfinite(df) and df > 0)
    if total <= 0 or denom <= 0:
        return None
    return total * total / denom


# ---------------------------------------------------------------------------------------------------- spread


@dataclass(frozen=True)
class Spread:
    """The run-to-run spread of one metric: the standard deviation of ``ln(value)`` between separate runs (≈ the
    relative spread). ``df``: degrees of freedom of the estimate (None: taken as known). ``source``:
    ``"measured"`` (an A/A measurement on this machine) or ``"assumed"`` (:data:`ASSUMED`). ``detail``: what it
    was measured on, for the sentence a verdict prints."""

    sigma: float
    df: float | None = None
    source: str = "assumed"
    detail: str = ""

    @property
    def pct(self) -> float:
        """The spread as a percentage of the value (``±pct``)."""
        return 100.0 * math.expm1(self.sigma)

    @property
    def measured(self) -> bool:
        return self.source == "measured"

    def to_dict(self) -> dict[str, Any]:
        return {"sigma": self.sigma, "pct": self.pct, "df": self.df, "source": self.source, "detail": self.detail}


#: The run-to-run spread assumed where none was measured: the sd of ln(value) between runs of one configuration.
#: On a 2-vCPU cloud VM (AMD EPYC, Firecracker/KVM) A/A runs of one configuration moved by 4.2 % (p50) in a quiet
#: hour and by 19–20 % in a busy one (docs/methodology.md); 8 % lies between, so one run each calls a change beyond
#: about 34 % — a halving of threads, not a 10 % regression. Tails drift more than the median between runs.
#: Measuring the machine (``workbench doctor --aa``) replaces these.
ASSUMED: dict[str, Spread] = {
    m: Spread(s, None, "assumed", "not measured on this machine")
    for m, s in {"p50": 0.08, "p90": 0.12, "p99": 0.16, "throughput": 0.09}.items()
}


def min_detectable(spread: Spread, alpha: float = ALPHA) -> float:
    """The smallest relative difference one run each can call real at ``alpha``: ``exp(t·√2·σ) - 1`` (0.20 for
    the assumed 8 % p50 spread gives 0.34). Searches use it as the margin a step must gain."""
    return math.expm1(t_quantile(alpha, spread.df) * math.sqrt(2.0) * spread.sigma)


def spread_text(s: Spread) -> str:
    """``"±4.2 % (measured: …)"`` — the spread a verdict used, as the sentence ends it."""
    return f"±{s.pct:.1f} % ({s.source}{': ' + s.detail if s.detail else ''})"


def spreads_sentence(basis: str, spreads: Mapping[str, Mapping[str, Any] | None], hint: str = "") -> str:
    """One sentence for several metrics judged on the same basis: ``"one run each; run-to-run spread here p50
    ±5.1 %, p99 ±16.2 % (assumed: not measured on this machine; HINT)"``. ``spreads``: metric ->
    :meth:`Spread.to_dict` (None: repeats alone decided)."""
    used = {m: s for m, s in spreads.items() if s}
    if not used:
        return basis
    parts = ", ".join(f"{m} ±{float(s['pct']):.1f} %" for m, s in used.items())
    sources = list(
        dict.fromkeys(
            f"{s.get('source')}: {s.get('detail')}" if s.get("detail") else str(s.get("source")) for s in used.values()
        )
    )
    tail = "; ".join(sources)
    if hint and any(s.get("source") == "assumed" for s in used.values()):
        tail += f"; {hint}"
    return f"{basis}; run-to-run spread here {parts} ({tail})"


def drift_within(block_lists: Iterable[Sequence[float]]) -> tuple[float, float | None]:
    """``(variance, df)`` of a run's ``ln(median)`` from its rounds' time-block medians (each round's list from
    ``repeats[i]["blocks"]``): the pooled variance of ln(block median) within each round over the number of
    blocks. A run the machine slowed down in for a second knows its own speed less well than a steady one; the
    verdict takes the larger of this and the machine's run-to-run spread. ``(0.0, None)`` without blocks."""
    ss, dof, n = 0.0, 0, 0
    for blocks in block_lists:
        logs = [math.log(v) for v in blocks if isinstance(v, (int, float)) and v > 0]
        if len(logs) < 3:
            continue
        m = sum(logs) / len(logs)
        ss += sum((x - m) ** 2 for x in logs)
        dof += len(logs) - 1
        n += len(logs)
    if dof == 0:
        return 0.0, None
    return ss / dof / n, float(dof)


def spread_from_values(values: Sequence[float]) -> tuple[float, int] | None:
    """``(sigma, df)`` of positive ``values`` (one per run): the sample sd of their logarithms; None below two."""
    logs = [math.log(v) for v in values if isinstance(v, (int, float)) and v > 0 and math.isfinite(v)]
    if len(logs) < 2:
        return None
    m = sum(logs) / len(logs)
    return math.sqrt(sum((x - m) ** 2 for x in logs) / (len(logs) - 1)), len(logs) - 1


#: the configuration a spread is measured for (and an A/A entry replaced by)
KEY_FIELDS = ("model", "engine", "precision", "threads", "batch", "mode", "scenario")

#: a run's load (``workbench run --scenario``/``--find-max-qps``, in its record's config): two runs are like for
#: like only when all of these agree — a latency under 40 QPS of random arrivals is not the back-to-back latency
LOAD_FIELDS = (
    "scenario",
    "target_qps",
    "latency_bound_ms",
    "latency_percentile",
    "samples_per_query",
    "min_queries",
    "mlperf_rules",
    "find_max_qps",
    "qsl_samples",
)


def config_key(
    model: Any, engine: Any, precision: Any, threads: Any, batch: Any, mode: Any, scenario: Any = None
) -> dict[str, Any]:
    """The configuration (:data:`KEY_FIELDS`) a spread is looked up by and stored for (``scenario`` None: the mode's
    own loop; a stored entry without one matches only such runs)."""
    return dict(zip(KEY_FIELDS, (model, engine, precision, threads, batch, mode, scenario)))


def result_key(r: Any, model: Any) -> dict[str, Any]:
    """:func:`config_key` of an :class:`~workbench.result.EngineResult` (the precision that ran) of ``model``."""
    return config_key(
        model,
        r.engine,
        r.precision_effective or r.precision_requested,
        r.threads,
        r.batch,
        r.mode,
        getattr(r, "scenario", None),
    )


def load_key(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The load a run was measured under (:data:`LOAD_FIELDS` of its record's config; None where not given)."""
    c = config or {}
    return {k: c.get(k) or None for k in LOAD_FIELDS}


def load_mismatch(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> str | None:
    """Why two runs' loads differ (``scenario server → none, target_qps 40 → —``), or None when alike."""
    ka, kb = load_key(a), load_key(b)
    diffs = [
        f"{k} {ka[k] if ka[k] is not None else '—'} → {kb[k] if kb[k] is not None else '—'}"
        for k in LOAD_FIELDS
        if ka[k] != kb[k]
    ]
    return ", ".join(diffs) if diffs else None


def history_entries(records: Iterable[Any], fingerprint: str | None) -> list[dict[str, Any]]:
    """Spread entries (the shape :func:`spread_for` reads) from stored runs of this machine: every configuration
    (model, engine, precision that ran, threads, batch, mode) with at least :data:`MIN_HISTORY_RUNS` successful
    runs on the machine ``fingerprint`` gives the spread between them. Identical runs are an A/A measurement; runs
    that differ by a real change inflate the spread, which can only make a verdict more cautious, never call noise
    a change. ``records``: :class:`~workbench.result.RunRecord` objects (sweeps are left out: their cells share a
    prepared model and a process start-up pattern that single runs do not)."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for rec in records:
        if getattr(rec, "kind", "run") != "run" or (rec.system or {}).get("fingerprint") != fingerprint:
            continue
        model = (rec.model or {}).get("name")
        for r in rec.results:
            if r.ok:
                groups.setdefault(tuple(result_key(r, model).values()), []).append(r)
    out = []
    for key, results in groups.items():
        if len(results) < MIN_HISTORY_RUNS:
            continue
        values = {
            m: [float(v) for v in (r.throughput if m == "throughput" else (r.latency_ms or {}).get(m) for r in results)
                if isinstance(v, (int, float)) and v > 0]
            for m in SPREAD_METRICS
        }  # fmt: skip
        sigma = {m: est[0] for m, vs in values.items() if (est := spread_from_values(vs)) is not None}
        out.append({**config_key(*key), "runs": len(results), "sigma": sigma, "origin": "history"})
    return out


#: stored runs of one configuration that make a spread (fewer know too little)
MIN_HISTORY_RUNS = 3


def _describe(entry: Mapping[str, Any], how: str) -> str:
    if entry.get("origin") == "history":
        return f"{entry.get('runs')} stored runs of this configuration in the history ({how})"
    what = " ".join(
        str(entry.get(k))
        for k in ("model", "engine", "precision")
        if entry.get(k) is not None and (k != "precision" or entry.get(k) != "fp32")
    )
    t = entry.get("threads")
    return (
        f"A/A {how}, {entry.get('runs', '?')} runs of {what}"
        + (f" t{t}" if t else "")
        + (f", {str(entry.get('created', ''))[:10]}" if entry.get("created") else "")
    )


def spread_for(
    entries: Sequence[Mapping[str, Any]] | None, metric: str, key: Mapping[str, Any] | None = None
) -> Spread:
    """The spread of ``metric`` a verdict should use, from a machine's stored A/A entries
    (``workbench.machine.spread``: each has the configuration fields of :data:`KEY_FIELDS`, ``runs`` and
    ``sigma: {metric: value}``). In order: the entry of the same configuration as ``key``, those of the same model
    and engine, every one on this machine, else :data:`ASSUMED`. Several entries are pooled (the variances weighted
    by their degrees of freedom, which add up): a typical spread of this machine, known better than any one."""
    usable = [e for e in entries or () if isinstance((e.get("sigma") or {}).get(metric), (int, float))]
    key = key or {}

    def df_of(e: Mapping[str, Any]) -> float | None:
        runs = e.get("runs")
        return float(runs) - 1 if isinstance(runs, int) and runs >= 2 else None

    def pick(cands: list[Mapping[str, Any]], how: str) -> Spread | None:
        if not cands:
            return None
        if len(cands) == 1:
            e = cands[0]
            return Spread(float(e["sigma"][metric]), df_of(e), "measured", _describe(e, how))
        weights = [(df_of(e) or 1.0, float(e["sigma"][metric])) for e in cands]
        dof = sum(w for w, _ in weights)
        sigma = math.sqrt(sum(w * s * s for w, s in weights) / dof)
        return Spread(sigma, dof, "measured", f"A/A pooled over {len(cands)} stored measurements, {how}")

    same = [e for e in usable if all(e.get(k) == key.get(k) for k in KEY_FIELDS if key.get(k) is not None)]
    near = [e for e in usable if e.get("model") == key.get("model") and e.get("engine") == key.get("engine")]
    return (
        (pick(same, "for this configuration") if key else None)
        or (pick(near, "of this model and engine") if key else None)
        or pick(usable, "of this machine")
        or ASSUMED.get(metric, ASSUMED["p50"])
    )


# ------------------------------------------------------------------------------------------------------- test


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its value, the per-repeat values it was measured as (empty: one run), and the
    standard error of ``ln(value)`` from the run's own samples (0 when unknown)."""

    value: float | None
    repeats: tuple[float, ...] = ()
    se_log: float = 0.0
    #: the variance of ``ln(value)`` from the run's drift within its rounds, and its degrees of freedom
    #: (:func:`drift_within`; 0 when unknown)
    drift_var: float = 0.0
    drift_df: float | None = None

    def inverted(self) -> "Side":
        """The same measurement as its reciprocal (items/s → time per item), so that "worse" is a ratio above 1
        for latency and throughput alike. Variances of a logarithm do not change under it."""
        return replace(
            self, value=1.0 / self.value if self.value else None, repeats=tuple(1.0 / v for v in self.repeats if v)
        )

    def usable_repeats(self) -> list[float]:
        return [v for v in self.repeats if isinstance(v, (int, float)) and v > 0 and math.isfinite(v)]


@dataclass
class RatioTest:
    """The outcome of :func:`ratio_test` on ``b / a``."""

    ratio: float | None
    change_pct: float | None
    ci: tuple[float, float] | None  # the ratio's (1 - alpha) confidence interval
    p_value: float | None
    statistic: float | None  # t (or z with known spreads)
    df: float | None
    significant: bool
    practical: bool
    basis: str  # "one run each" | "repeats (5 vs 5)" | ...
    spread: Spread | None  # the run-to-run spread used (None: repeats alone decided)
    alpha: float = ALPHA
    notes: list[str] = field(default_factory=list)

    @property
    def beyond_noise(self) -> bool:
        """A real difference: significant and at least the practical threshold."""
        return self.significant and self.practical

    def sentence(self) -> str:
        """``"one run each; run-to-run spread here ±4.2 % (measured: …)"``: what the verdict rests on."""
        if self.spread is None:
            return self.basis
        return f"{self.basis}; run-to-run spread here {spread_text(self.spread)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratio": self.ratio,
            "change_pct": self.change_pct,
            "ci": list(self.ci) if self.ci else None,
            "p_value": self.p_value,
            "statistic": self.statistic,
            "df": self.df,
            "significant": self.significant,
            "practical": self.practical,
            "basis": self.basis,
            "spread": self.spread.to_dict() if self.spread else None,
            "alpha": self.alpha,
        }


def _side_parts(s: Side, spread: Spread) -> tuple[list[tuple[float, float | None]], int, bool]:
    """Variance parts ``[(variance, df)]`` of ``ln(s.value)``, the repeats used (0: one run), and whether the
    machine's spread entered."""
    reps = s.usable_repeats()
    if len(reps) >= MIN_REPEATS:
        logs = [math.log(v) for v in reps]
        m = sum(logs) / len(logs)
        s2 = sum((x - m) ** 2 for x in logs) / (len(logs) - 1)
        k = len(logs)
        if spread.measured and spread.sigma**2 > s2:
            return [(spread.sigma**2 / k, spread.df)], k, True
        return [(s2 / k, float(k - 1))], k, False
    # one run: the machine's spread between runs — or, when this run drifted more within itself, that drift
    parts = [(spread.sigma**2, spread.df) if spread.sigma**2 >= s.drift_var else (s.drift_var, s.drift_df)]
    if s.se_log > 0:
        parts.append((s.se_log**2, None))
    return parts, 0, True


def ratio_test(
    a: Side,
    b: Side,
    spread: Spread,
    *,
    alpha: float = ALPHA,
    practical_pct: float = PRACTICAL_PCT,
) -> RatioTest:
    """Is ``b`` different from ``a`` beyond run-to-run variation? (see the module docs for the model).

    ``spread``: this metric's run-to-run spread on the machine (:func:`spread_for`). Returns the ratio ``b/a``, the
    change in percent, its ``1 - alpha`` interval, the p-value and whether the difference is significant and
    practical. Missing or non-positive values give an untested result (``p_value`` None)."""
    va, vb = a.value, b.value
    if not (isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va > 0 and vb > 0):
        return RatioTest(None, None, None, None, None, None, False, False, "missing value", None, alpha)
    r = vb / va
    pa, ka, ma = _side_parts(a, spread)
    pb, kb, mb = _side_parts(b, spread)
    parts = pa + pb
    var = sum(v for v, _ in parts)
    df = welch_df(parts)
    if ka == 0 and kb == 0:
        basis = "one run each"
    elif ka and kb:
        basis = f"between repeats ({ka} vs {kb})"
    else:
        basis = f"repeats ({ka or 1} vs {kb or 1}; a single run counts at the run-to-run spread)"
    used = spread if (ma or mb) else None
    if ma and mb and (ka or kb) and spread.measured:
        basis += ", floored at the measured run-to-run spread"
    return _conclude(r, var, df, basis, used, alpha, practical_pct)


def _conclude(
    r: float, var: float, df: float | None, basis: str, used: Spread | None, alpha: float, practical_pct: float
) -> RatioTest:
    """The test of ``ln r`` with variance ``var`` and ``df`` degrees of freedom: p-value, interval, verdict."""
    d = math.log(r)
    change = (r - 1.0) * 100.0
    practical = abs(change) >= practical_pct
    if var <= 0:
        same = d == 0
        return RatioTest(r, change, (r, r), 1.0 if same else 0.0, 0.0, df, not same, practical, basis, used, alpha)
    se = math.sqrt(var)
    t = d / se
    p = student_t_sf(t, df)
    crit = t_quantile(alpha, df)
    ci = (math.exp(d - crit * se), math.exp(d + crit * se))
    return RatioTest(r, change, ci, p, t, df, p < alpha, practical, basis, used, alpha)


def paired_test(
    a: Side, b: Side, spread: Spread, *, alpha: float = ALPHA, practical_pct: float = PRACTICAL_PCT
) -> RatioTest:
    """:func:`ratio_test` for two measurements taken in the same interleaved rounds (``a.repeats[i]`` and
    ``b.repeats[i]`` from round ``i``, as ``workbench run`` measures its engines A B C, B C A, …). With at least
    :data:`MIN_REPEATS` rounds the per-round log-ratios are tested (a slow drift of the machine hits both sides of
    a round alike and cancels), floored at the measured run-to-run spread of two processes (``2σ²/k``); with fewer,
    the two sides are two runs and :func:`ratio_test` decides."""
    ra, rb = a.usable_repeats(), b.usable_repeats()
    va, vb = a.value, b.value
    k = len(ra)
    if (
        k < MIN_REPEATS
        or k != len(rb)
        or k != len(a.repeats)
        or k != len(b.repeats)
        or not (isinstance(va, (int, float)) and isinstance(vb, (int, float)) and va > 0 and vb > 0)
    ):
        return ratio_test(a, b, spread, alpha=alpha, practical_pct=practical_pct)
    r = vb / va
    logs = [math.log(y / x) for x, y in zip(ra, rb)]
    m = sum(logs) / k
    var = sum((x - m) ** 2 for x in logs) / (k - 1) / k
    df: float | None = float(k - 1)
    basis = f"paired over {k} interleaved rounds"
    used: Spread | None = None
    if spread.measured and 2 * spread.sigma**2 / k > var:
        var, df, used = 2 * spread.sigma**2 / k, spread.df, spread
        basis += ", floored at the measured run-to-run spread"
    return _conclude(r, var, df, basis, used, alpha, practical_pct)


def interval_text(ci: Sequence[float] | None, alpha: float = ALPHA) -> str:
    """``"99% CI 1.41–1.64×"``, or empty."""
    if not ci:
        return ""
    return f"{100 * (1 - alpha):g}% CI {ci[0]:.3g}–{ci[1]:.3g}×"


def change_text(t: RatioTest) -> str:
    """``"+3.1 % (99% CI -9.8 … +17.6 %)"`` for a test's change and interval."""
    if t.change_pct is None:
        return "—"
    out = percent(t.change_pct, signed=True)
    if t.ci:
        lo, hi = ((t.ci[0] - 1) * 100, (t.ci[1] - 1) * 100)
        out += f" ({100 * (1 - t.alpha):g}% CI {percent(lo, signed=True)} … {percent(hi, signed=True)})"
    return out
