"""Results across machines: which hardware is best for a model, at what precision and settings.

Stored results (plain runs and sweeps, local or collected from a cluster with ``workbench fleet collect``) are
grouped by *machine*: the hardware part of the record's machine fingerprint — CPU model, architecture, sockets,
physical cores, logical CPUs, ISA flags (AVX-512, VNNI, AMX, BF16 …) and memory (whole GiB). Kernel and engine
versions are left out of the grouping on purpose: two nodes of one node type are one machine even when one has a
newer kernel; the distinct full fingerprints of a machine are listed with it.

Per machine and objective the *best configuration* is the configuration (engine, effective precision, threads,
batch, mode, streams, requests, sparsity) with the best value, where a configuration measured several times
(repeats, several nodes of the type) counts with its median, and the min–max of its repeats is reported. The
*spread* says how much it matters: within a machine, worst configuration ÷ best (how much settings matter there);
across machines, the best machine's value against each other machine's (``vs best``) and worst ÷ best overall.

Objectives: ``latency`` — p50 per inference call (per batch), lower is better; ``throughput`` — items per second,
higher is better; ``cost`` — dollars per million items at the machine's price per hour (results priced with
``--price-per-hour`` or the prices file), lower is better; ``energy`` — joules per item where the machine's energy
counters were read, lower is better. A machine without a price or without energy counters has no value for that
objective and is left out of its ranking (never estimated). Results whose output parity failed are left out (a faster wrong answer is not a better
configuration); results that failed have no numbers and are counted only.

Pure: records in, plain data out. No I/O.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from workbench.result import EngineResult, RunRecord
from workbench.units import as_float

__all__ = [
    "HARDWARE_KEYS",
    "OBJECTIVES",
    "Objective",
    "Config",
    "Measurement",
    "ConfigStats",
    "Machine",
    "Ranking",
    "MachineComparison",
    "hardware_fields",
    "machine_key",
    "machine_label",
    "compare_machines",
    "recommend_across_machines",
]

#: the fingerprint fields that name a machine (node type); the rest of the fingerprint (kernel, engine versions)
#: varies within one node type
HARDWARE_KEYS: tuple[str, ...] = (
    "cpu_model",
    "machine",
    "sockets",
    "physical_cores",
    "logical_cpus",
    "isa",
    "memory_total_gib",
)

#: parity states that keep a result out of the ranking
_BAD_PARITY = ("fail", "error")


@dataclass(frozen=True)
class Objective:
    name: str
    metric: str  # "p50" | "throughput" | "usd_per_million" | "j_per_item"
    unit: str  # "ms" | "items/s" | "$/M items" | "J/item"
    lower_is_better: bool
    description: str
    #: the run-to-run spread a verdict on this objective uses (workbench.stats.verdict.SPREAD_METRICS): $/M at a
    #: fixed price varies exactly as 1/throughput
    spread_metric: str = ""

    def value(self, r: EngineResult) -> float | None:
        if self.metric == "throughput":
            return as_float(r.throughput)
        if self.metric == "usd_per_million":
            return as_float((r.cost or {}).get("usd_per_million"))
        if self.metric == "j_per_item":
            e = r.energy or {}
            return as_float(e.get("j_per_item")) if e.get("status") == "measured" else None
        return as_float((r.latency_ms or {}).get(self.metric))

    def better(self, a: float, b: float) -> bool:
        return a < b if self.lower_is_better else a > b

    def ratio(self, best: float, other: float) -> float | None:
        """How much worse ``other`` is than ``best`` (>= 1)."""
        if not best or not other:
            return None
        return other / best if self.lower_is_better else best / other


OBJECTIVES: dict[str, Objective] = {
    "latency": Objective("latency", "p50", "ms", True, "p50 per inference call (per batch), lower is better"),
    "throughput": Objective("throughput", "throughput", "items/s", False, "items per second, higher is better"),
    "cost": Objective(
        "cost",
        "usd_per_million",
        "$/M items",
        True,
        "dollars per million items at the machine's price per hour, lower is better",
        spread_metric="throughput",
    ),
    "energy": Objective(
        "energy", "j_per_item", "J/item", True, "joules per item from the energy counters, lower is better"
    ),
}


# ------------------------------------------------------------------------------------------------------ machines
def hardware_fields(system: Mapping[str, Any] | None) -> dict[str, Any]:
    """The :data:`HARDWARE_KEYS` of a record's ``system`` (its ``fingerprint_fields``, else the summary or the
    full sysinfo fields). Missing values are None."""
    system = system or {}
    fp = system.get("fingerprint_fields")
    if isinstance(fp, Mapping):
        return {k: fp.get(k) for k in HARDWARE_KEYS}
    cpu = system.get("cpu") if isinstance(system.get("cpu"), Mapping) else {}
    mem = system.get("memory") if isinstance(system.get("memory"), Mapping) else {}
    total = mem.get("total_bytes") if mem else None
    gib = round(total / (1 << 30)) if isinstance(total, (int, float)) else system.get("memory_total_gib")
    isa = system.get("isa") if system.get("isa") is not None else (cpu or {}).get("highlights")
    return {
        "cpu_model": system.get("cpu_model") or (cpu or {}).get("model"),
        "machine": (cpu or {}).get("machine"),
        "sockets": system.get("sockets") or (cpu or {}).get("sockets"),
        "physical_cores": system.get("physical_cores") or (cpu or {}).get("physical_cores"),
        "logical_cpus": system.get("logical_cpus") or (cpu or {}).get("logical_cpus"),
        "isa": sorted(isa) if isinstance(isa, (list, tuple)) else None,
        "memory_total_gib": round(gib) if isinstance(gib, (int, float)) else None,
    }


def machine_key(system: Mapping[str, Any] | None) -> str:
    """A 12-hex-digit key of the machine's hardware (:func:`hardware_fields`); the record's full fingerprint when
    no hardware field is known; "unknown" without either."""
    fields = hardware_fields(system)
    if all(v in (None, [], "") for v in fields.values()):
        fp = (system or {}).get("fingerprint")
        return str(fp) if fp else "unknown"
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def machine_label(fields: Mapping[str, Any]) -> str:
    """``Intel Xeon Platinum 8480+ · 2×56 cores/224 CPUs · 503 GiB · AMX-BF16 AVX512-VNNI``."""
    cpu = str(fields.get("cpu_model") or "unknown CPU")
    for noise in ("(R)", "(TM)", "(tm)", " CPU", " Processor"):
        cpu = cpu.replace(noise, "")
    cpu = " ".join(cpu.split())
    sockets, cores, cpus = fields.get("sockets"), fields.get("physical_cores"), fields.get("logical_cpus")
    parts = [cpu]
    if cores:
        per = (
            f"{sockets}×{int(cores) // int(sockets)}"
            if sockets and int(sockets) > 1 and int(cores) % int(sockets) == 0
            else f"{cores}"
        )
        parts.append(f"{per} cores" + (f"/{cpus} CPUs" if cpus and cpus != cores else ""))
    elif cpus:
        parts.append(f"{cpus} CPUs")
    if fields.get("memory_total_gib"):
        parts.append(f"{fields['memory_total_gib']} GiB")
    isa = [f for f in (fields.get("isa") or []) if f.startswith(("AMX", "AVX512-", "AVX-VNNI"))] or list(
        fields.get("isa") or []
    )[:3]
    if isa:
        parts.append(" ".join(isa))
    return " · ".join(parts)


# ------------------------------------------------------------------------------------------------------ configs
@dataclass(frozen=True)
class Config:
    """What was set (and what the engine really ran: ``precision`` is the effective one)."""

    engine: str
    precision: str
    threads: int | None
    batch: int
    mode: str
    streams: int | None = None
    requests: int | None = None
    sparsity: float = 0.0
    device: str = "cpu"

    def label(self) -> str:
        parts = [
            self.engine,
            self.precision,
            f"t{self.threads if self.threads is not None else 'auto'}",
            f"b{self.batch}",
            self.mode,
        ]
        if self.streams is not None:
            parts.append(f"s{self.streams}")
        if self.requests is not None:
            parts.append(f"r{self.requests}")
        if self.sparsity:
            parts.append(f"sparsity {self.sparsity:g}")
        if self.device != "cpu":
            parts.append(self.device)
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__) | {"label": self.label()}

    @classmethod
    def of(cls, r: EngineResult) -> "Config":
        cell = r.cell or {}
        sparsity = as_float(cell.get("sparsity")) or 0.0
        mode = str(r.mode or "latency")
        # streams and requests in flight only mean something in throughput mode (as a sweep's cells say)
        streams = cell.get("streams", r.streams) if mode == "throughput" else None
        requests = cell.get("requests", r.requests) if mode == "throughput" else None
        return cls(
            engine=r.engine,
            precision=str(r.precision_effective or r.precision_requested or "fp32"),
            threads=r.threads,
            batch=int(r.batch or 1),
            mode=mode,
            streams=streams,
            requests=requests,
            sparsity=float(sparsity),
            device=str(r.device or "cpu"),
        )


@dataclass(frozen=True)
class Measurement:
    """One stored result of one configuration on one machine."""

    run_id: str
    created: str
    host: str | None
    fingerprint: str | None
    p50_ms: float | None
    p99_ms: float | None
    throughput: float | None
    parity: str | None
    precision_requested: str
    usd_per_million: float | None = None
    j_per_item: float | None = None

    def value(self, objective: Objective) -> float | None:
        return {
            "throughput": self.throughput,
            "usd_per_million": self.usd_per_million,
            "j_per_item": self.j_per_item,
        }.get(objective.metric, self.p50_ms)


@dataclass
class ConfigStats:
    """A configuration on a machine: its measurements and, per objective, the median of them."""

    config: Config
    measurements: list[Measurement] = field(default_factory=list)

    def values(self, objective: Objective) -> list[float]:
        return [v for m in self.measurements if (v := m.value(objective)) is not None and v > 0]

    def value(self, objective: Objective) -> float | None:
        vals = self.values(objective)
        return float(statistics.median(vals)) if vals else None

    def summary(self, objective: Objective) -> dict[str, Any]:
        vals = self.values(objective)
        return {
            "config": self.config.to_dict(),
            "value": self.value(objective),
            "repeats": len(vals),
            "min": min(vals) if vals else None,
            "max": max(vals) if vals else None,
            "run_ids": sorted({m.run_id for m in self.measurements}),
            "hosts": sorted({m.host for m in self.measurements if m.host}),
        }


@dataclass
class Machine:
    """One machine (node type): its hardware, the records and hosts seen, its configurations."""

    key: str
    fields: dict[str, Any]
    fingerprints: set[str] = field(default_factory=set)
    hosts: set[str] = field(default_factory=set)
    run_ids: set[str] = field(default_factory=set)
    configs: dict[Config, ConfigStats] = field(default_factory=dict)
    failed: int = 0  # results with no numbers
    excluded_parity: int = 0  # results left out because their outputs did not match the reference

    @property
    def label(self) -> str:
        return machine_label(self.fields)

    def best(self, objective: Objective) -> ConfigStats | None:
        best: ConfigStats | None = None
        best_v: float | None = None
        for cs in self.configs.values():
            v = cs.value(objective)
            if v is None:
                continue
            if (
                best_v is None
                or objective.better(v, best_v)
                or (v == best_v and best is not None and cs.config.label() < best.config.label())
            ):
                best, best_v = cs, v
        return best

    def spread(self, objective: Objective) -> dict[str, Any]:
        """Across this machine's configurations: how many have a value, the best and worst value, worst ÷ best."""
        vals = [v for cs in self.configs.values() if (v := cs.value(objective)) is not None]
        if not vals:
            return {"configs": 0, "best": None, "worst": None, "ratio": None}
        best = min(vals) if objective.lower_is_better else max(vals)
        worst = max(vals) if objective.lower_is_better else min(vals)
        return {"configs": len(vals), "best": best, "worst": worst, "ratio": objective.ratio(best, worst)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "fields": dict(self.fields),
            "fingerprints": sorted(self.fingerprints),
            "hosts": sorted(self.hosts),
            "runs": sorted(self.run_ids),
            "configs": len(self.configs),
            "failed": self.failed,
            "excluded_parity": self.excluded_parity,
        }


@dataclass
class Ranking:
    """The machines ranked by their best configuration for one objective (best first)."""

    objective: Objective
    rows: list[dict[str, Any]]  # machine key, label, best (ConfigStats.summary), vs_best, spread

    @property
    def winner(self) -> dict[str, Any] | None:
        return self.rows[0] if self.rows else None

    def spread(self) -> float | None:
        """The worst machine's best value against the best machine's (>= 1)."""
        vals = [r["best"]["value"] for r in self.rows if r["best"]["value"]]
        if len(vals) < 2:
            return None
        return self.objective.ratio(vals[0], vals[-1])

    def to_dict(self) -> dict[str, Any]:
        o = self.objective
        return {
            "objective": o.name,
            "metric": o.metric,
            "unit": o.unit,
            "lower_is_better": o.lower_is_better,
            "description": o.description,
            "winner": self.winner,
            "spread": self.spread(),
            "machines": self.rows,
        }


@dataclass
class MachineComparison:
    model: str | None
    machines: list[Machine]
    rankings: dict[str, Ranking]
    records: int
    results: int

    def cost_points(self) -> list[dict[str, Any]]:
        """Every priced configuration of every machine with a p50 (each its median): ``machine``, ``label``,
        ``config``, ``p50_ms``, ``usd_per_million`` — the plane :meth:`cost_front` is drawn on. Empty without prices."""
        lat, cost = OBJECTIVES["latency"], OBJECTIVES["cost"]
        pts = []
        for m in self.machines:
            for cs in m.configs.values():
                p50, usd = cs.value(lat), cs.value(cost)
                if p50 is not None and usd is not None:
                    pts.append(
                        {
                            "machine": m.key,
                            "label": m.label,
                            "config": cs.config.to_dict(),
                            "p50_ms": p50,
                            "usd_per_million": usd,
                        }
                    )
        return pts

    def cost_front(self) -> list[dict[str, Any]]:
        """The Pareto front of p50 latency × dollars per million items over every priced configuration of every
        machine (each its median): what no other (machine, configuration) beats on both. Empty without prices."""
        from workbench.stats.pareto import cost_front

        return [p for _, _, p in cost_front((p["p50_ms"], p["usd_per_million"], p) for p in self.cost_points())]

    def to_dict(self) -> dict[str, Any]:
        d = {
            "model": self.model,
            "records": self.records,
            "results": self.results,
            "machines": [m.to_dict() for m in self.machines],
            "objectives": {name: r.to_dict() for name, r in self.rankings.items()},
        }
        if "cost" in self.rankings:
            d["latency_cost_front"] = self.cost_front()
        return d


def _model_name(rec: RunRecord) -> str:
    return str((rec.model or {}).get("name") or "")


def _versus(
    o: Objective,
    best: ConfigStats | None,
    other: ConfigStats | None,
    model: str | None,
    spreads: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[float] | None, bool | None]:
    """``other``'s best against the winner's: the interval of "how much worse" (>= 1 is worse) and whether it is
    beyond run-to-run variation (:func:`workbench.stats.verdict.ratio_test`; each configuration's repeated
    measurements are its repeats, a single one is judged against the spread)."""
    from workbench.stats.verdict import Side, ratio_test, spread_for

    if best is None or other is None:
        return None, None

    def side(c: ConfigStats) -> Side:
        vals = c.values(o)
        v = c.value(o)
        s = Side(v, tuple(vals))
        return s.inverted() if o.metric == "throughput" else s  # time per item: "worse" is above 1 for both

    key = {"model": model, "engine": other.config.engine, "threads": other.config.threads, "batch": other.config.batch}
    t = ratio_test(side(best), side(other), spread_for(spreads, o.spread_metric or o.metric, key))
    return (list(t.ci) if t.ci else None), (t.beyond_noise if t.p_value is not None else None)


def compare_machines(
    records: Iterable[RunRecord],
    model: str | None = None,
    objectives: Sequence[str] = ("latency", "throughput"),
    spreads: Sequence[Mapping[str, Any]] | None = None,
) -> MachineComparison:
    """Group the results of ``records`` (of ``model``, case-insensitive, when given) by machine and rank the
    machines per objective by their best configuration. ``objectives``: names in :data:`OBJECTIVES`; an unknown
    one raises ValueError. Each machine after the first says whether it is behind the best beyond run-to-run
    variation (``vs_best_significant``; False is a tie), judged against ``spreads`` (stored A/A entries of the
    machines; the assumed spread without them)."""
    objs = []
    for name in objectives:
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
        objs.append(OBJECTIVES[name])
    wanted = model.lower() if model else None
    machines: dict[str, Machine] = {}
    n_records = n_results = 0
    for rec in records:
        if wanted is not None and _model_name(rec).lower() != wanted:
            continue
        n_records += 1
        system = rec.system or {}
        key = machine_key(system)
        m = machines.get(key)
        if m is None:
            m = machines[key] = Machine(key, hardware_fields(system))
        if system.get("fingerprint"):
            m.fingerprints.add(str(system["fingerprint"]))
        m.run_ids.add(rec.run_id)
        rec_host = system.get("hostname")
        for r in rec.results:
            n_results += 1
            host = (r.cell or {}).get("node") or rec_host
            if host:
                m.hosts.add(str(host))
            if not r.ok:
                m.failed += 1
                continue
            parity = (r.parity or {}).get("status")
            if parity in _BAD_PARITY:
                m.excluded_parity += 1
                continue
            lat = r.latency_ms or {}
            meas = Measurement(
                run_id=rec.run_id,
                created=rec.created,
                host=str(host) if host else None,
                fingerprint=system.get("fingerprint"),
                p50_ms=as_float(lat.get("p50")),
                p99_ms=as_float(lat.get("p99")),
                throughput=as_float(r.throughput),
                parity=parity,
                precision_requested=r.precision_requested,
                usd_per_million=OBJECTIVES["cost"].value(r),
                j_per_item=OBJECTIVES["energy"].value(r),
            )
            cfg = Config.of(r)
            m.configs.setdefault(cfg, ConfigStats(cfg)).measurements.append(meas)

    rankings: dict[str, Ranking] = {}
    for o in objs:
        rows: list[dict[str, Any]] = []
        for m in machines.values():
            best = m.best(o)
            if best is None:
                continue
            rows.append({"machine": m.key, "label": m.label, "best": best.summary(o), "spread": m.spread(o)})
        rows.sort(key=lambda row: (row["best"]["value"] if o.lower_is_better else -row["best"]["value"], row["label"]))
        top = rows[0]["best"]["value"] if rows else None
        best_of = {m.key: m.best(o) for m in machines.values()}
        for i, row in enumerate(rows):
            row["vs_best"] = o.ratio(top, row["best"]["value"]) if top else None
            if i and top:  # is this machine's best really behind the winner's, beyond run-to-run variation?
                ci, beyond = _versus(o, best_of[rows[0]["machine"]], best_of[row["machine"]], model, spreads)
                row["vs_best_ci"], row["vs_best_significant"] = ci, beyond
        rankings[o.name] = Ranking(o, rows)
    ordered = sorted(machines.values(), key=lambda m: (m.label, m.key))
    return MachineComparison(model, ordered, rankings, n_records, n_results)


def recommend_across_machines(
    records: Iterable[RunRecord], model: str, objectives: Sequence[str] = ("latency", "throughput")
) -> dict[str, Any]:
    """Per objective: the best machine for ``model`` with its best configuration, every machine's best
    configuration (ranked), and the spread across machines — from stored results. Plain JSON-able data;
    ``{"model", "objectives": {name: {"winner", "machines", "spread", ...}}, "machines": [...]}``."""
    return compare_machines(records, model, objectives).to_dict()
