"""Sweep cells: what one cell of a sweep is, how a sweep's axes expand into cells, and the cell's stable key.

A *cell* is one configuration measured on its own: one engine at one precision, thread count, batch, mode, number
of OpenVINO streams, requests in flight and weight sparsity. A :class:`SweepSpec` is the axes (lists) plus what
every cell shares (the model, duration, warm-up, seed, the core pool); :func:`expand` turns it into the ordered
list of :class:`CellSpec` the sweep runs. Axes that cannot apply to a cell collapse rather than multiply: streams
exist only for OpenVINO in throughput mode, requests only in throughput mode.

The same types are used by the local sweep (:mod:`workbench.campaign.sweep`), the recommender's search and the Slurm
backend, whose array task runs one cell from its JSON file. This module is pure: no engine imports, no processes.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping, Sequence

from workbench.errors import UsageError
from workbench.measure.settings import SWEEP
from workbench.result import EngineResult
from workbench.stats.scaling import cell_key

#: engines whose ``streams`` option a sweep's streams axis sets (``openvino.streams``)
STREAM_ENGINES: tuple[str, ...] = ("openvino",)


def _known(cls: type, d: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``d`` that are fields of the dataclass ``cls`` (newer or older files carry others)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


@dataclass(frozen=True)
class CellSpec:
    """One configuration of a sweep. ``streams``/``requests`` are None where they do not apply (or are left to the
    engine); ``sparsity`` is the fraction of conv/linear weights pruned to zero before export (0: dense).
    ``prompt_tokens``/``new_tokens``: a ``generate`` cell's lengths (None in other modes); ``scenario`` and
    ``target_qps``: a latency cell run as a LoadGen scenario (None: the back-to-back timed loop; QPS only for
    Server)."""

    engine: str
    precision: str = "fp32"
    threads: int = 1
    batch: int = 1
    mode: str = "latency"
    streams: int | None = None
    requests: int | None = None
    sparsity: float = 0.0
    prompt_tokens: int | None = None
    new_tokens: int | None = None
    scenario: str | None = None
    target_qps: float | None = None

    def key(self) -> str:
        """A stable text key: two cells with the same key measure the same thing (resume, dedupe, Slurm files).
        The generation and load axes are appended only where they apply, so older keys read the same
        (:func:`workbench.stats.scaling.cell_key`, which also keys results read back without one)."""
        extra: dict[str, Any] = {"prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens}
        extra |= {"scenario": self.scenario, "target_qps": self.target_qps}
        return cell_key(
            self.engine,
            self.precision,
            self.threads,
            self.batch,
            self.mode,
            self.streams,
            self.requests,
            self.sparsity,
            extra,
        )

    def label(self) -> str:
        """Short human text: ``openvino int8 t2 b8 throughput s2``, ``torch int4 t2 b1 generate p128 n64``,
        ``onnxruntime fp32 t2 b1 latency server 40 qps``."""
        parts = [self.engine, self.precision, f"t{self.threads}", f"b{self.batch}", self.mode]
        if self.streams is not None:
            parts.append(f"s{self.streams}")
        if self.requests is not None:
            parts.append(f"r{self.requests}")
        if self.sparsity:
            parts.append(f"sparsity {self.sparsity:g}")
        if self.prompt_tokens is not None:
            parts.append(f"p{self.prompt_tokens}")
        if self.new_tokens is not None:
            parts.append(f"n{self.new_tokens}")
        if self.scenario is not None:
            parts.append(self.scenario)
        if self.target_qps is not None:
            parts.append(f"{self.target_qps:g} qps")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def stored(self) -> dict[str, Any]:
        """The cell as a result keeps it (``EngineResult.cell``, the journal, Slurm job files): its fields and key."""
        return self.to_dict() | {"key": self.key()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "CellSpec":
        return cls(**_known(cls, d))


@dataclass(frozen=True)
class SweepSpec:
    """The axes of a sweep and what all its cells share. ``cores``: the pool a cell with ``t`` threads takes its
    first ``t`` cores from (None: the cores this process may use)."""

    model: str
    engines: tuple[str, ...]
    precisions: tuple[str, ...] = (SWEEP.precision,)
    threads: tuple[int, ...] = (1,)
    batches: tuple[int, ...] = (SWEEP.batch,)
    modes: tuple[str, ...] = (SWEEP.mode,)
    streams: tuple[int | None, ...] = (None,)
    requests: tuple[int | None, ...] = (None,)
    sparsities: tuple[float, ...] = (0.0,)
    #: ``generate`` cells: prompt lengths × tokens generated (other modes ignore them); one prompt text for all
    prompt_tokens: tuple[int, ...] = (SWEEP.prompt_tokens,)
    new_tokens: tuple[int, ...] = (SWEEP.new_tokens,)
    prompt: str | None = None
    #: latency cells as LoadGen scenarios (None: the timed loop) × Server target QPS (None where not Server), and
    #: the scenario settings every such cell shares (RunConfig's latency_bound_ms, latency_percentile,
    #: samples_per_query, min_queries, mlperf_rules)
    scenarios: tuple[str | None, ...] = (None,)
    target_qps: tuple[float | None, ...] = (None,)
    scenario_settings: dict[str, Any] = field(default_factory=dict)
    device: str = SWEEP.device
    cores: tuple[int, ...] | None = None
    duration_s: float = SWEEP.duration_s
    warmup_s: float = SWEEP.warmup_s
    min_iterations: int = SWEEP.min_iterations
    seed: int = SWEEP.seed
    parity: bool = SWEEP.parity
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    #: memory-bounded batch search: the largest batch whose benchmark process peak RSS stays under this (MB);
    #: replaces the batch axis with a search per (engine, precision, threads, mode, streams, requests, sparsity)
    max_memory_mb: float | None = None
    max_batch: int = 1024  # the search's upper end
    #: per-engine options every cell of that engine gets, ``(engine, name, value)``
    engine_options: tuple[tuple[str, str, Any], ...] = ()
    #: given input values (``workbench.models.inputs.InputRequest.to_dict()``); empty: every input is generated
    inputs: dict[str, Any] = field(default_factory=dict)
    #: int8 cells: calibration samples (None: the default) and real data to calibrate on
    calibration_samples: int | None = None
    calibration_data: str | None = None
    tags: tuple[str, ...] = ()
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free-form, stored with the sweep (e.g. the recommender)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shapes"] = {k: list(v) for k, v in self.shapes}
        d["engine_options"] = [list(t) for t in self.engine_options]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "SweepSpec":
        kw = _known(cls, d)
        for name in (
            "engines",
            "precisions",
            "threads",
            "batches",
            "modes",
            "streams",
            "requests",
            "sparsities",
            "prompt_tokens",
            "new_tokens",
            "scenarios",
            "target_qps",
            "tags",
        ):
            if name in kw and kw[name] is not None:
                kw[name] = tuple(kw[name])
        if kw.get("cores") is not None:
            kw["cores"] = tuple(kw["cores"])
        shapes = kw.get("shapes") or {}
        kw["shapes"] = tuple((k, tuple(v)) for k, v in (shapes.items() if isinstance(shapes, Mapping) else shapes))
        kw["engine_options"] = tuple(tuple(t) for t in (kw.get("engine_options") or ()))
        return cls(**kw)

    def options_for(self, engine: str) -> dict[str, Any]:
        return {name: value for e, name, value in self.engine_options if e == engine}


def applies(cell: CellSpec) -> CellSpec:
    """``cell`` with the axes that cannot apply to it cleared: streams outside OpenVINO throughput, requests outside
    throughput mode, prompt and generated lengths outside generate mode, LoadGen scenarios outside latency mode,
    a target QPS outside the Server scenario."""
    streams = cell.streams if (cell.engine in STREAM_ENGINES and cell.mode == "throughput") else None
    requests = cell.requests if cell.mode == "throughput" else None
    generate = cell.mode == "generate"
    scenario = cell.scenario if cell.mode == "latency" else None
    return replace(
        cell,
        streams=streams,
        requests=requests,
        prompt_tokens=cell.prompt_tokens if generate else None,
        new_tokens=cell.new_tokens if generate else None,
        scenario=scenario,
        target_qps=cell.target_qps if scenario == "server" else None,
    )


def expand(spec: SweepSpec, batches: Sequence[int] | None = None) -> list[CellSpec]:
    """The cells of ``spec`` in run order, de-duplicated after :func:`applies` (``batches`` overrides the batch
    axis). Order: sparsity, precision, batch, mode, prompt length, tokens generated, scenario, target QPS, threads,
    streams, requests, engine — engines innermost, so a partial sweep already compares engines at the same
    settings, and all cells of a prepared model come together."""
    seen: dict[str, CellSpec] = {}
    axes: dict[str, Sequence[Any]] = {
        "sparsity": spec.sparsities,
        "precision": spec.precisions,
        "batch": batches if batches is not None else spec.batches,
        "mode": spec.modes,
        "prompt_tokens": spec.prompt_tokens,
        "new_tokens": spec.new_tokens,
        "scenario": spec.scenarios,
        "target_qps": spec.target_qps,
        "threads": spec.threads,
        "streams": spec.streams,
        "requests": spec.requests,
        "engine": spec.engines,
    }
    for combo in itertools.product(*axes.values()):
        values = dict(zip(axes, combo))
        values.update(threads=int(values["threads"]), batch=int(values["batch"]), sparsity=float(values["sparsity"]))
        cell = applies(CellSpec(**values))
        seen.setdefault(cell.key(), cell)
    return list(seen.values())


def group_key(cell: CellSpec) -> str:
    """The cell's key without its batch: the cells a memory-bounded batch search varies the batch of."""
    return replace(cell, batch=0).key()


def check_spec(spec: SweepSpec, allowed: Sequence[int]) -> None:
    """Impossible axes, in one line each. ``allowed``: the cores the sweep may use. Raises UsageError."""
    from workbench_engines.base import ALL_MODES as MODES
    from workbench_engines.base import GENERATE_ONLY_PRECISIONS, PRECISIONS

    if not spec.engines:
        raise UsageError("no engines to sweep: pass -e onnxruntime,openvino")
    for name, values in (("--threads", spec.threads), ("--batch", spec.batches)):
        if not values:
            raise UsageError(f"{name} needs at least one value")
        bad = [v for v in values if not isinstance(v, int) or v < 1]
        if bad:
            raise UsageError(f"{name} values must be whole numbers >= 1, not {bad[0]}")
    for name, optional in (("--streams", spec.streams), ("--requests", spec.requests)):
        wrong = [v for v in optional if v is not None and (not isinstance(v, int) or v < 1)]
        if wrong:
            raise UsageError(f"{name} values must be whole numbers >= 1, not {wrong[0]}")
    for p in spec.precisions:
        if p not in PRECISIONS and p not in GENERATE_ONLY_PRECISIONS:
            raise UsageError(f"--precision must be among {', '.join(PRECISIONS)}, not {p!r}")
    for m in spec.modes:
        if m not in MODES:
            raise UsageError(f"--mode must be among {', '.join(MODES)}, not {m!r}")
    only = [p for p in spec.precisions if p in GENERATE_ONLY_PRECISIONS]
    if only and set(spec.modes) != {"generate"}:
        raise UsageError(f"--precision {only[0]} (weights) applies to --mode generate only; sweep other modes apart")
    _check_generation_axes(spec)
    _check_load_axes(spec)
    for sp in spec.sparsities:
        if not 0 <= sp < 1:
            raise UsageError(f"--sparsity values must be in [0, 1), not {sp:g}")
    pool = list(spec.cores) if spec.cores else list(allowed)
    too_many = [t for t in spec.threads if t > len(pool)]
    if too_many:
        raise UsageError(
            f"--threads {max(too_many)} needs {max(too_many)} cores, but the sweep may use {len(pool)} "
            f"({', '.join(map(str, pool))}): each cell pins one thread per core; lower --threads or widen --cores"
        )
    if spec.duration_s <= 0:
        raise UsageError(f"--duration must be > 0 seconds for a sweep, not {spec.duration_s:g}")
    if spec.max_memory_mb is not None and spec.max_memory_mb <= 0:
        raise UsageError(f"--max-memory must be a number of MB > 0, not {spec.max_memory_mb:g}")
    if spec.max_batch < 1:
        raise UsageError(f"--max-batch must be >= 1, not {spec.max_batch}")


def _check_generation_axes(spec: SweepSpec) -> None:
    """Prompt and generated lengths: whole numbers, at least one prompt token and two generated (a first token and
    a decode step)."""
    for name, values, least in (("--prompt-tokens", spec.prompt_tokens, 1), ("--new-tokens", spec.new_tokens, 2)):
        if not values:
            raise UsageError(f"{name} needs at least one value")
        bad = [v for v in values if not isinstance(v, int) or v < least]
        if bad:
            raise UsageError(f"{name} values must be whole numbers >= {least}, not {bad[0]}")


def _check_load_axes(spec: SweepSpec) -> None:
    """LoadGen scenarios (latency cells only) and their settings, by the run's own rule
    (:func:`workbench.measure.scenario.check_scenario`), once per scenario of the axis."""
    scenarios = [s for s in spec.scenarios if s is not None]
    qps: list[float | None] = [q for q in spec.target_qps if q is not None]
    if not scenarios:
        if qps or spec.scenario_settings:
            raise UsageError("--target-qps and the LoadGen settings need --scenario (e.g. --scenario server)")
        return
    if "latency" not in spec.modes:
        raise UsageError("--scenario applies to latency cells: add latency to --mode")
    if qps and "server" not in scenarios:
        raise UsageError("--target-qps applies to the server scenario: add server to --scenario")
    from workbench.measure.scenario import check_scenario

    st = spec.scenario_settings
    for name in scenarios:
        for rate in (qps or [None]) if name == "server" else [None]:
            check_scenario(
                name,
                target_qps=rate,
                latency_bound_ms=st.get("latency_bound_ms"),
                percentile=st.get("latency_percentile"),
                samples_per_query=st.get("samples_per_query"),
                min_queries=st.get("min_queries"),
                mlperf_rules=bool(st.get("mlperf_rules")),
            )


def failed_result(
    cell: CellSpec,
    model: str,
    error: str | None,
    *,
    device: str = "cpu",
    cores: Sequence[int] | None = None,
    detail: str | None = None,
) -> EngineResult:
    """The result of a cell that did not run (a local failure, a Slurm task that left no result, an evaluator that
    raised): its one-line reason (``detail``: the full text) with the cell's settings and key."""
    return EngineResult(
        engine=cell.engine,
        model=model,
        status="failed",
        error=error,
        error_detail=detail,
        device=device,
        mode=cell.mode,
        batch=cell.batch,
        threads=cell.threads,
        cores=list(cores) if cores is not None else None,
        precision_requested=cell.precision,
        streams=cell.streams,
        requests=cell.requests,
        cell=cell.stored(),
    )


def cores_for(cell: CellSpec, pool: Sequence[int]) -> tuple[int, ...]:
    """The cores a cell is pinned to: the first ``threads`` of the pool (one thread per core)."""
    return tuple(pool[: cell.threads])


__all__ = ["CellSpec", "SweepSpec", "applies", "check_spec", "cores_for", "expand", "failed_result", "group_key"]
