"""MLPerf LoadGen scenarios: what a scenario run asks of LoadGen, how its settings are checked, and how LoadGen's
own logs become the result's ``loadgen`` entry. Pure (no LoadGen import, no process): the benchmark process runs
the test (:mod:`workbench.measure.loadgen_run`), the runner assembles the result.

The four scenarios (MLPerf Inference's; docs/methodology.md, "Latency under load"):

* ``singlestream`` — one query of one sample at a time, the next issued when the previous completes; the metric is
  the 90th-percentile latency (LoadGen's default percentile).
* ``multistream`` — queries of ``samples_per_query`` samples (default 8), one at a time; the metric is the
  99th-percentile query latency.
* ``server`` — queries of one sample arriving at random (Poisson) at ``target_qps``; VALID only when the
  ``percentile`` of the latencies stays within ``latency_bound_ms``.
* ``offline`` — every sample in one query; the metric is samples per second.

A LoadGen *sample* is one call of the engine at the run's ``--batch`` (so with ``--batch 8`` a sample is 8 items).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from workbench.errors import UsageError

SCENARIOS: tuple[str, ...] = ("singlestream", "multistream", "server", "offline")
#: LoadGen's own names (``TestScenario`` members, the ``FromConfig`` scenario strings)
LOADGEN_NAMES: dict[str, str] = {
    "singlestream": "SingleStream",
    "multistream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
}
#: the latency percentile each scenario is judged on when none is given (LoadGen's defaults)
DEFAULT_PERCENTILE: dict[str, float] = {"singlestream": 90.0, "multistream": 99.0, "server": 99.0, "offline": 99.0}
#: queries a scenario needs at least when none are asked for: early stopping at the 99th percentile cannot pass
#: with fewer, even with no query over the bound (measured with LoadGen 6.0.17: MultiStream 662, Server 459 —
#: "Processed 392 queries. Would need to run at least 67 more"); SingleStream LoadGen's default (its p90 estimate
#: passes from 64); Offline is one query
DEFAULT_MIN_QUERIES: dict[str, int] = {"singlestream": 100, "multistream": 662, "server": 460, "offline": 1}
DEFAULT_SAMPLES_PER_QUERY = 8
#: distinct samples in the query sample library when none are asked for (MLPerf's performance sample counts are
#: larger, but they exist to defeat caches of real data sets; seeded inputs of one shape need only be distinct) ...
DEFAULT_QSL_SAMPLES = 16
#: ... capped so that the default library stays within this much memory (a large input holds fewer samples)
QSL_MEMORY_MB = 256
#: what to install when LoadGen is missing
INSTALL_HINT = "pip install mlcommons-loadgen"


@dataclass(frozen=True)
class Scenario:
    """What one scenario run asks of LoadGen (travels to the benchmark process in :attr:`wire.Job.scenario`).

    ``latency_bound_ms``: the Server bound (None: LoadGen's default, 100 ms — or the official rule's with
    ``mlperf_rules``); ``percentile``: the percentile judged against it (None: :data:`DEFAULT_PERCENTILE`);
    ``min_queries`` None: :data:`DEFAULT_MIN_QUERIES`; ``duration_s``: LoadGen's minimum duration; ``seed``: its
    three random seeds (query schedule, sample indices, sample library); ``mlperf_rules``: apply the official
    ``mlperf.conf`` minimums (600 s, seeds, per-model bounds) for ``model`` first; ``qsl_samples``: distinct
    samples in the query sample library (None: :func:`qsl_size`'s default); ``issue_core``: the engine was given one
    thread fewer than the pinned cores, leaving a core to LoadGen's issuing thread (recorded; the runner sets the
    threads).
    """

    name: str
    duration_s: float
    target_qps: float | None = None
    latency_bound_ms: float | None = None
    percentile: float | None = None
    samples_per_query: int | None = None
    min_queries: int | None = None
    seed: int = 0
    mlperf_rules: bool = False
    model: str = ""
    qsl_samples: int | None = None
    issue_core: bool = False

    @property
    def effective_percentile(self) -> float:
        return self.percentile if self.percentile is not None else DEFAULT_PERCENTILE[self.name]

    @property
    def effective_min_queries(self) -> int:
        return self.min_queries if self.min_queries is not None else DEFAULT_MIN_QUERIES[self.name]

    @property
    def effective_samples_per_query(self) -> int:
        if self.name != "multistream":
            return 1
        return self.samples_per_query or DEFAULT_SAMPLES_PER_QUERY

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "duration_s": self.duration_s,
            "target_qps": self.target_qps,
            "latency_bound_ms": self.latency_bound_ms,
            "percentile": self.percentile,
            "samples_per_query": self.samples_per_query,
            "min_queries": self.min_queries,
            "seed": self.seed,
            "mlperf_rules": self.mlperf_rules,
            "model": self.model,
            "qsl_samples": self.qsl_samples,
            "issue_core": self.issue_core,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scenario":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def qsl_size(asked: int | None, sample_bytes: int, *, all_given: bool = False) -> tuple[int, str]:
    """How many distinct samples the query sample library holds, and why: one when every input was given
    (``--input``/``--inputs`` are one sample), the number asked for, else :data:`DEFAULT_QSL_SAMPLES` capped to
    :data:`QSL_MEMORY_MB` of inputs (at least one)."""
    if all_given:
        return 1, "every input given (--input/--inputs): one sample"
    if asked is not None:
        return max(1, int(asked)), "asked (--qsl-samples)"
    fit = max(1, (QSL_MEMORY_MB << 20) // max(1, int(sample_bytes)))
    if fit < DEFAULT_QSL_SAMPLES:
        return fit, f"default {DEFAULT_QSL_SAMPLES}, capped to {QSL_MEMORY_MB} MB of inputs"
    return DEFAULT_QSL_SAMPLES, f"default {DEFAULT_QSL_SAMPLES}"


def check_scenario(
    name: str | None,
    *,
    target_qps: float | None = None,
    latency_bound_ms: float | None = None,
    percentile: float | None = None,
    samples_per_query: int | None = None,
    min_queries: int | None = None,
    mode: str = "latency",
    find_max_qps: bool = False,
    mlperf_rules: bool = False,
) -> None:
    """One :class:`UsageError` line for an impossible scenario setting (bound 0, QPS <= 0, a Server run without a
    target QPS, a scenario in throughput or train mode). Nothing to check without a scenario."""
    if name is None:
        given = [
            flag
            for flag, v in (
                ("--target-qps", target_qps),
                ("--latency-bound", latency_bound_ms),
                ("--samples-per-query", samples_per_query),
                ("--min-queries", min_queries),
                ("--mlperf-rules", True if mlperf_rules else None),
            )
            if v is not None
        ]
        if given and not find_max_qps:
            raise UsageError(f"{given[0]} needs --scenario singlestream|multistream|server|offline")
        if not find_max_qps:
            return
    if name is not None and name not in SCENARIOS:
        raise UsageError(f"--scenario must be one of {', '.join(SCENARIOS)}, not {name!r}")
    if target_qps is not None and not (target_qps > 0 and target_qps < float("inf")):
        raise UsageError(f"--target-qps must be a number of queries per second > 0, not {target_qps:g}")
    if latency_bound_ms is not None and not (latency_bound_ms > 0 and latency_bound_ms < float("inf")):
        raise UsageError(f"--latency-bound must be > 0 (e.g. 100ms), not {latency_bound_ms:g} ms")
    if percentile is not None and not 0 < percentile < 100:
        raise UsageError(f"--percentile must be between 0 and 100 (exclusive), not {percentile:g}")
    if samples_per_query is not None and samples_per_query < 1:
        raise UsageError(f"--samples-per-query must be >= 1, not {samples_per_query}")
    if min_queries is not None and min_queries < 1:
        raise UsageError(f"--min-queries must be >= 1, not {min_queries}")
    if samples_per_query is not None and name not in ("multistream", None):
        raise UsageError("--samples-per-query applies to --scenario multistream only")
    if name == "server" and target_qps is None and not find_max_qps:
        raise UsageError("--scenario server needs --target-qps N (or --find-max-qps to search for it)")
    if mode != "latency":
        raise UsageError(
            f"a LoadGen scenario drives the engine itself (one call per sample); use --mode latency, not {mode}"
        )


def check_loadgen() -> str:
    """LoadGen's version; :class:`UsageError` naming what to install when it cannot be imported."""
    try:
        import mlperf_loadgen  # noqa: F401  (a small native module; no engine)
    except ImportError as exc:
        raise UsageError(
            f"LoadGen scenarios need MLPerf LoadGen, which is not importable ({exc}): {INSTALL_HINT}"
        ) from None
    try:
        from importlib.metadata import version

        return version("mlcommons-loadgen")
    except Exception:
        return "unknown"


def parse_duration_ms(text: str) -> float:
    """``100ms``, ``0.1s``, ``250us``, ``100`` (milliseconds) -> milliseconds. ValueError otherwise."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)\s*(ms|s|us|µs|ns)?\s*", text.lower())
    if not m:
        raise ValueError(f"bad duration {text!r}: use 100ms, 0.1s or 250us")
    value = float(m.group(1))
    unit = m.group(2) or "ms"
    return value * {"ms": 1.0, "s": 1e3, "us": 1e-3, "µs": 1e-3, "ns": 1e-6}[unit]


# ---- LoadGen's logs ----------------------------------------------------------------------------------------------
_MLLOG = ":::MLLOG "


def parse_detail(text: str) -> dict[str, Any]:
    """``key -> value`` of LoadGen's detail log (``mlperf_log_detail.txt``: one ``:::MLLOG {json}`` per line; a
    key logged twice keeps its last value). Lines that are not MLLOG JSON are ignored."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith(_MLLOG):
            continue
        try:
            entry = json.loads(line[len(_MLLOG) :])
        except ValueError:
            continue
        if isinstance(entry, dict) and "key" in entry:
            out[str(entry["key"])] = entry.get("value")
    return out


def _ms(ns: Any) -> float | None:
    return float(ns) / 1e6 if isinstance(ns, (int, float)) else None


def _early_stopping_lines(text: Any) -> list[str]:
    if not isinstance(text, str):
        return []
    parts = [p.strip() for p in text.split("*")]
    return [" ".join(p.split()) for p in parts if p.strip()]


def loadgen_entry(detail: Mapping[str, Any], scenario: Scenario, *, issue: Mapping[str, Any] | None = None) -> dict:
    """The result's ``loadgen`` entry of one LoadGen test from its detail log's keys: the verdict (``validity``
    VALID/INVALID, ``valid``, ``reasons``: every constraint that failed, in LoadGen's words where it gives them),
    the early-stopping estimate, LoadGen's latency percentiles (ms), the achieved rate (``qps``: completed samples
    per second for Server, samples per second for Offline, queries per second for SingleStream; None for
    MultiStream, whose only metric is its latency percentile), and the
    settings LoadGen really used (``effective_*`` keys)."""
    d = detail
    validity = str(d.get("result_validity") or "UNKNOWN")
    reasons: list[str] = []
    if d.get("result_perf_constraints_met") is False:
        bound = _ms(d.get("effective_target_latency_ns"))
        pct = d.get("effective_target_latency_percentile")
        where = (
            f" ({_pct(pct)} latency above the {bound:g} ms bound)"
            if bound is not None and isinstance(pct, (int, float))
            else ""
        )
        reasons.append("performance constraints not met" + where)
    if d.get("result_min_duration_met") is False:
        reasons.append("min duration not met")
    if d.get("result_min_queries_met") is False:
        reasons.append("min queries not met")
    if d.get("early_stopping_met") is False:
        reasons.append("early stopping not met")
    said = str(d.get("result_invalid_reason") or "").strip()
    if said:
        reasons.append(said)
    percentiles = {}
    for key, value in d.items():
        m = re.fullmatch(r"result_([0-9.]+)_percentile_latency_ns", key)
        if m and isinstance(value, (int, float)):
            percentiles[_pct_key(float(m.group(1)))] = value / 1e6
    name = scenario.name
    if name == "server":
        qps = d.get("result_completed_samples_per_sec")
    elif name == "offline":
        qps = d.get("result_samples_per_second")
    elif name == "singlestream":
        qps = d.get("result_qps_with_loadgen_overhead")
    else:
        qps = None
    target_pct = d.get("effective_target_latency_percentile")
    pct_value = float(target_pct) * 100 if isinstance(target_pct, (int, float)) else scenario.effective_percentile
    entry: dict[str, Any] = {
        "scenario": name,
        "validity": validity,
        "valid": validity == "VALID",
        "reasons": reasons,
        "early_stopping": _early_stopping_lines(d.get("early_stopping_result")),
        "latency_ms": percentiles,
        "mean_ms": _ms(d.get("result_mean_latency_ns")),
        "min_ms": _ms(d.get("result_min_latency_ns")),
        "max_ms": _ms(d.get("result_max_latency_ns")),
        "qps": float(qps) if isinstance(qps, (int, float)) else None,
        "qps_without_overhead": d.get("result_qps_without_loadgen_overhead"),
        "scheduled_qps": d.get("result_scheduled_samples_per_sec"),
        "queries": d.get("result_query_count"),
        "overlatency_queries": d.get("result_overlatency_query_count"),
        "target_qps": d.get("effective_target_qps") if name == "server" else None,
        # Offline: the rate LoadGen sized its one query by (not a target: Offline has none)
        "expected_qps": d.get("effective_target_qps") if name == "offline" else None,
        "latency_bound_ms": _ms(d.get("effective_target_latency_ns")) if name == "server" else None,
        "percentile": pct_value,
        "samples_per_query": d.get("effective_samples_per_query"),
        "min_duration_s": (d["effective_min_duration_ms"] / 1e3)
        if isinstance(d.get("effective_min_duration_ms"), (int, float))
        else None,
        "min_queries": d.get("effective_min_query_count"),
        "mlperf_rules": scenario.mlperf_rules,
        "loadgen_version": str(d.get("loadgen_version") or "") or None,
    }
    entry["target_latency_ms"] = percentiles.get(_pct_key(pct_value))
    if issue:
        entry["issue"] = dict(issue)
    return entry


def early_stopping_needs(entry: Mapping[str, Any] | None) -> int | None:
    """The queries LoadGen said an INVALID run would need on top of those it ran, when early stopping is the only
    constraint that failed (the latency at the percentile was within the bound: the run was too short to tell, not
    too slow); None otherwise."""
    e = entry or {}
    if e.get("valid") or any(r.startswith("performance constraints") for r in e.get("reasons") or []):
        return None
    for line in e.get("early_stopping") or []:
        m = re.search(r"need to run at least (\d+) more queries", line)
        if m:
            return int(m.group(1))
    return None


#: the confidence LoadGen's early stopping judges a latency percentile at
EARLY_STOPPING_CONFIDENCE = 0.99


def early_stopping_allowance(queries: int, percentile: float, confidence: float = EARLY_STOPPING_CONFIDENCE) -> int:
    """How many of ``queries`` may be over the latency bound for LoadGen's early stopping to pass at
    ``percentile`` (Server): the largest ``h`` with P(Binomial(queries, 1 - percentile/100) <= h) <= 1 - confidence
    — fewer than that many over-bound queries would be too unlikely were the true percentile over the bound.
    -1 when even none over the bound cannot pass (too few queries). Agrees with LoadGen 6.0.17's own messages:
    459 queries pass at p99 with none over, 460 with one over need "at least 202 more" (662)."""
    n = int(queries)
    q = 1.0 - float(percentile) / 100.0
    if n <= 0 or not 0.0 < q < 1.0:
        return -1
    log_q, log_1q = math.log(q), math.log1p(-q)
    cdf, h = 0.0, -1
    while h + 1 <= n:
        k = h + 1
        log_pmf = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_q + (n - k) * log_1q
        cdf += math.exp(log_pmf)
        if cdf > 1.0 - confidence:
            break
        h = k
    return h


def _pct_key(p: float) -> str:
    """99.0 -> ``p99``, 99.9 -> ``p99.9``, 97 -> ``p97``."""
    return f"p{p:g}"


def _pct(p: float) -> str:
    return f"p{p * 100:g}"


def worst(entries: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The entry a result shows for several rounds: a scenario repeated is only as good as its worst round (the
    first INVALID one, else the one with the highest latency at its percentile); it carries ``rounds`` and
    ``valid_rounds``."""
    items = [dict(e) for e in entries]
    if not items:
        return None
    invalid = [e for e in items if not e.get("valid")]
    pick = invalid[0] if invalid else max(items, key=lambda e: e.get("target_latency_ms") or 0.0)
    return {**pick, "rounds": len(items), "valid_rounds": len(items) - len(invalid)}


__all__ = [
    "DEFAULT_MIN_QUERIES",
    "DEFAULT_PERCENTILE",
    "DEFAULT_QSL_SAMPLES",
    "INSTALL_HINT",
    "LOADGEN_NAMES",
    "SCENARIOS",
    "Scenario",
    "check_loadgen",
    "check_scenario",
    "EARLY_STOPPING_CONFIDENCE",
    "early_stopping_allowance",
    "early_stopping_needs",
    "loadgen_entry",
    "parse_detail",
    "parse_duration_ms",
    "qsl_size",
    "worst",
]
