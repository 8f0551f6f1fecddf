"""Scaling analysis of a sweep: pure arithmetic over a sweep record's cells.

A sweep (:class:`~workbench.result.RunRecord` with ``kind == "sweep"``) holds one
:class:`~workbench.result.EngineResult` per measured cell, each carrying its ``cell`` (the
:class:`workbench.campaign.cells.CellSpec` dict plus ``"key"``). This module reads them as :class:`Cell` rows and
derives the tables people publish (docs/methodology.md, "Scaling analysis"):

* **thread scaling** per (engine, precision, batch, mode, streams, requests, sparsity): p50 latency, throughput,
  peak RSS, *speedup* against the 1-thread cell and *parallel efficiency* = speedup ÷ threads. The speedup is the
  throughput ratio in throughput mode and the p50-latency ratio (1-thread p50 ÷ p50) in latency mode
  (:attr:`ThreadScaling.basis` says which). Without a usable 1-thread cell the speedup is taken against the smallest
  thread count that ran and scaled by that count (it assumes linear scaling up to there), and the note says so;
* **batch scaling** per (engine, precision, threads, mode, streams, requests, sparsity): throughput, p50 per call
  and *per-item latency* = p50 ÷ batch, and the throughput gain over the smallest batch;
* **precision gain** of each lower-precision cell over the same engine's fp32 cell with the same other axes (same
  ratio rule as the speedup; shown as a gain only when both cells pass parity — the project's speedup rule);
* the **sparsity study** (when a sweep has several sparsity values): throughput, latency, on-disk and ``gzip -9``
  sizes (from ``result.sparsity``) against the dense cell of the same other axes;
* the **memory-bounded batch search** outcomes (``record.sweep["memory_search"]``): best batch, its throughput, the
  batch → peak RSS curve;
* the **Pareto front** of p50 latency against throughput (:func:`workbench.stats.pareto.pareto_front`, reusable on
  any points, re-exported here); for generate cells, time to first token against decode tokens/s
  (:func:`generation_front`).

Failed cells stay in every table as rows with their error; they never break the arithmetic. Memory-search probes
(``cell["search"] == "max-memory"``) are kept apart from the grid (:attr:`SweepAnalysis.probes`). Pure: no I/O, no
engines, no processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from workbench.result import EngineResult, RunRecord
from workbench.stats.pareto import pareto_front
from workbench.units import as_float

__all__ = [
    "PROBE_SEARCH",
    "Cell",
    "ThreadRow",
    "ThreadScaling",
    "BatchRow",
    "BatchScaling",
    "PrecisionGain",
    "SparsityRow",
    "SparsityGroup",
    "Probe",
    "MemorySearch",
    "SweepAnalysis",
    "cell_of",
    "cells_of",
    "thread_scaling",
    "batch_scaling",
    "precision_gains",
    "sparsity_study",
    "memory_searches",
    "pareto_front",
    "pareto_cells",
    "analyse",
    "AXES",
    "generation_front",
    "describe",
    "describe_key",
    "cell_key",
    "speedup_basis",
]

#: ``cell["search"]`` of the memory-bounded batch search's probes
PROBE_SEARCH = "max-memory"

#: the axes of a cell, in the order labels and group titles name them
AXES: tuple[str, ...] = (
    "engine",
    "precision",
    "threads",
    "batch",
    "mode",
    "streams",
    "requests",
    "sparsity",
    "prompt_tokens",
    "new_tokens",
    "scenario",
    "target_qps",
)

#: axes only some cells have (generate cells' lengths, LoadGen cells' scenario and rate): absent, not None, elsewhere
OPTIONAL_AXES: tuple[str, ...] = ("prompt_tokens", "new_tokens", "scenario", "target_qps")

# ---------------------------------------------------------------------------------------------------- cells


def _int(value: Any) -> int | None:
    f = as_float(value)
    return int(f) if f is not None and f == int(f) else None


def _positive(value: Any) -> float | None:
    f = as_float(value)
    return f if f is not None and f > 0 else None


@dataclass(frozen=True)
class Cell:
    """One measured cell of a sweep, read from its :class:`EngineResult` (see :func:`cell_of`).

    ``precision``, ``threads``, ``batch``, ``mode``, ``streams``, ``requests`` and ``sparsity`` are the cell's axis
    values (what the sweep asked for; ``streams``/``requests`` None where they do not apply); ``*_effective`` are
    what the engine reported running. Numbers are None when missing (always for a failed cell)."""

    key: str
    engine: str
    model: str
    precision: str
    threads: int | None
    batch: int
    mode: str
    streams: int | None
    requests: int | None
    sparsity: float
    status: str
    error: str | None
    #: a generate cell's prompt and generated lengths; a LoadGen cell's scenario and Server rate (None elsewhere)
    prompt_tokens: int | None = None
    new_tokens: int | None = None
    scenario: str | None = None
    target_qps: float | None = None
    precision_effective: str | None = None
    streams_effective: int | None = None
    requests_effective: int | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    throughput: float | None = None
    peak_rss_mb: float | None = None
    parity: str | None = None
    parity_rel_l2: float | None = None
    iterations: int | None = None
    #: a generate cell's time to first token (p50) and decode tokens/s (``result.generation``; None elsewhere)
    ttft_p50_ms: float | None = None
    decode_tokens_per_s: float | None = None
    #: a memory-bounded batch search's probe, and the group key it probed
    probe: bool = False
    group: str | None = None
    #: ``result.sparsity``: the achieved fraction and the model file sizes (None when not recorded)
    sparsity_achieved: float | None = None
    file_bytes: float | None = None
    gzip_bytes: float | None = None
    #: position of the result in ``record.results``
    index: int = 0
    #: the result it was read from (the column registry renders its measured cells); not part of its data
    result: EngineResult | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def per_item_ms(self) -> float | None:
        """p50 per call ÷ batch: the latency one item costs when it travels in a batch."""
        return self.p50_ms / self.batch if self.p50_ms is not None and self.batch > 0 else None

    def axes(self, *drop: str) -> dict[str, Any]:
        """The axis values (``AXES``) except ``drop``; the generation and load axes only where the cell has them
        (a latency cell's axes read as before they existed)."""
        return {
            a: getattr(self, a) for a in AXES if a not in drop and not (a in OPTIONAL_AXES and getattr(self, a) is None)
        }

    def label(self) -> str:
        """Short human text, as :meth:`workbench.campaign.cells.CellSpec.label`: ``openvino int8 t2 b8 throughput``."""
        return describe(self.axes())

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.pop("result", None)
        d["label"] = self.label()
        d["per_item_ms"] = self.per_item_ms
        return d


def describe(axes: Mapping[str, Any]) -> str:
    """Axis values as a label: ``openvino fp32 t4 b8 throughput s2 r4 sparsity 0.5`` (absent axes are skipped)."""
    parts: list[str] = []
    for a in AXES:
        if a not in axes:
            continue
        v = axes[a]
        if a in ("engine", "precision", "mode"):
            parts.append(str(v))
        elif a == "threads" and v is not None:
            parts.append(f"t{v}")
        elif a == "batch" and v:
            parts.append(f"b{v}")
        elif a == "streams" and v is not None:
            parts.append(f"s{v}")
        elif a == "requests" and v is not None:
            parts.append(f"r{v}")
        elif a == "sparsity" and v:
            parts.append(f"sparsity {float(v):g}")
        elif a == "prompt_tokens" and v is not None:
            parts.append(f"p{v}")
        elif a == "new_tokens" and v is not None:
            parts.append(f"n{v}")
        elif a == "scenario" and v is not None:
            parts.append(str(v))
        elif a == "target_qps" and v is not None:
            parts.append(f"{float(v):g} qps")
    return " ".join(parts)


def describe_key(key: str) -> str:
    """A cell or group key (``openvino|fp32|t4|b0|latency|s-|r-|sp0``, with ``|p128|n64`` for a generate cell and
    ``|server|q40`` for a LoadGen one) as a label (``openvino fp32 t4 latency``); an unreadable key is returned as
    is."""
    parts = str(key).split("|")
    if len(parts) < 8:
        return str(key)
    engine, precision, t, b, mode, s, r, sp = parts[:8]
    axes: dict[str, Any] = {"engine": engine, "precision": precision, "mode": mode}
    axes["threads"] = _int(t[1:]) if t.startswith("t") else None
    axes["batch"] = (_int(b[1:]) or 0) if b.startswith("b") else 0
    axes["streams"] = _int(s[1:]) if s.startswith("s") else None
    axes["requests"] = _int(r[1:]) if r.startswith("r") else None
    axes["sparsity"] = (as_float(sp[2:]) or 0.0) if sp.startswith("sp") else 0.0
    rest = parts[8:]
    if len(rest) >= 2 and rest[0].startswith("p") and rest[1].startswith("n"):
        axes["prompt_tokens"], axes["new_tokens"] = _int(rest[0][1:]), _int(rest[1][1:])
        rest = rest[2:]
    if len(rest) >= 2 and rest[1].startswith("q"):
        axes["scenario"], axes["target_qps"] = rest[0], as_float(rest[1][1:])
    return describe(axes)


def cell_key(
    engine: str,
    precision: str,
    threads: int | None,
    batch: int,
    mode: str,
    streams: Any,
    requests: Any,
    sparsity: float,
    extra: Mapping[str, Any] | None = None,
) -> str:
    s = "-" if streams is None else str(streams)
    r = "-" if requests is None else str(requests)
    key = f"{engine}|{precision}|t{threads}|b{batch}|{mode}|s{s}|r{r}|sp{sparsity:g}"
    e = extra or {}
    if e.get("prompt_tokens") is not None or e.get("new_tokens") is not None:
        key += f"|p{_dash(e.get('prompt_tokens'))}|n{_dash(e.get('new_tokens'))}"
    if e.get("scenario") is not None:
        key += f"|{e['scenario']}|q{_dash(e.get('target_qps'))}"
    return key


def _dash(value: Any) -> str:
    f = as_float(value)
    return "-" if f is None else f"{f:g}"


def cell_of(result: EngineResult, index: int = 0) -> Cell:
    """The :class:`Cell` of one result. Axis values come from ``result.cell`` and fall back to the result's own
    fields (a result without a cell, e.g. from an older sweep); sizes from ``result.sparsity`` when present.
    Never raises on missing or malformed fields."""
    c: Mapping[str, Any] = result.cell if isinstance(result.cell, Mapping) else {}
    lat: Mapping[str, Any] = result.latency_ms if isinstance(result.latency_ms, Mapping) else {}
    info_raw = getattr(result, "sparsity", None)
    info: Mapping[str, Any] = info_raw if isinstance(info_raw, Mapping) else {}
    parity: Mapping[str, Any] = result.parity if isinstance(result.parity, Mapping) else {}
    engine = str(c.get("engine") or result.engine)
    precision = str(c.get("precision") or result.precision_requested or "fp32")
    threads = _int(c.get("threads")) if "threads" in c else _int(result.threads)
    batch = _int(c.get("batch")) if "batch" in c else _int(result.batch)
    mode = str(c.get("mode") or result.mode or "latency")
    streams = _int(c.get("streams")) if "streams" in c else None
    requests = _int(c.get("requests")) if "requests" in c else None
    sparsity = as_float(c.get("sparsity"))
    if sparsity is None:
        sparsity = as_float(info.get("target")) or 0.0
    batch = batch if batch is not None and batch > 0 else 1
    extra: dict[str, Any] = {
        "prompt_tokens": _int(c.get("prompt_tokens")),
        "new_tokens": _int(c.get("new_tokens")),
        "scenario": str(c["scenario"]) if c.get("scenario") is not None else None,
        "target_qps": as_float(c.get("target_qps")),
    }
    key = c.get("key")
    if not isinstance(key, str) or not key:
        key = cell_key(engine, precision, threads, batch, mode, streams, requests, sparsity, extra)
    status = str(result.status or "failed")
    ok = status == "ok"
    return Cell(
        key=key,
        engine=engine,
        model=str(result.model or ""),
        precision=precision,
        threads=threads,
        batch=batch,
        mode=mode,
        streams=streams,
        requests=requests,
        sparsity=float(sparsity),
        status=status,
        error=None if ok else (result.error or "failed with no error message"),
        **extra,
        precision_effective=result.precision_effective,
        streams_effective=_int(result.streams),
        requests_effective=_int(result.requests),
        p50_ms=_positive(lat.get("p50")) if ok else None,
        p90_ms=_positive(lat.get("p90")) if ok else None,
        p99_ms=_positive(lat.get("p99")) if ok else None,
        throughput=_positive(result.throughput) if ok else None,
        peak_rss_mb=_positive(result.peak_rss_mb),
        parity=str(parity["status"]) if parity.get("status") is not None else None,
        parity_rel_l2=as_float(parity.get("rel_l2")),
        iterations=_int(result.iterations),
        ttft_p50_ms=_positive(_part(result.generation, "ttft_ms", "p50")) if ok else None,
        decode_tokens_per_s=_positive(_part(result.generation, "tokens_per_s", "decode")) if ok else None,
        probe=c.get("search") == PROBE_SEARCH,
        group=str(c["group"]) if c.get("group") is not None else None,
        sparsity_achieved=as_float(info.get("achieved")),
        file_bytes=_positive(info.get("file_bytes")),
        gzip_bytes=_positive(info.get("gzip_bytes")),
        index=index,
        result=result,
    )


def _part(d: Any, part: str, key: str) -> Any:
    """``d[part][key]`` where both are mappings (a result's ``generation`` entry), else None."""
    inner = d.get(part) if isinstance(d, Mapping) else None
    return inner.get(key) if isinstance(inner, Mapping) else None


def cells_of(results: Iterable[EngineResult]) -> list[Cell]:
    """Every result as a :class:`Cell`, in run order; a key measured twice (a resumed sweep) keeps the later result
    at the earlier place. Probes are kept (see :attr:`Cell.probe`)."""
    by_key: dict[tuple[str, bool], Cell] = {}
    for i, r in enumerate(results):
        c = cell_of(r, i)
        by_key[(c.key, c.probe)] = c  # a dict keeps the first insertion's position
    return list(by_key.values())


# ------------------------------------------------------------------------------------------------- ratios


def speedup_basis(mode: str) -> str:
    """``"throughput"`` (ratio of items/s) in throughput mode, ``"latency"`` (ratio of p50s, inverted) otherwise."""
    return "throughput" if mode == "throughput" else "latency"


def _metric(c: Cell, basis: str) -> float | None:
    return c.throughput if basis == "throughput" else c.p50_ms


def _ratio(c: Cell, base: Cell, basis: str) -> float | None:
    """How much faster ``c`` is than ``base``: items/s ratio (throughput) or base p50 ÷ p50 (latency)."""
    a, b = _metric(c, basis), _metric(base, basis)
    if a is None or b is None:
        return None
    return a / b if basis == "throughput" else b / a


def judge(
    c: Cell, base: Cell, basis: str, spreads: Sequence[Mapping[str, Any]] | None = None
) -> tuple[tuple[float, float] | None, bool | None]:
    """The interval of ``c``'s speed over ``base``'s (:func:`_ratio`) and whether it is beyond run-to-run
    variation — two cells are two runs, judged by :func:`workbench.stats.verdict.ratio_test` against this machine's
    spread (``spreads``: the stored A/A entries; the assumed spread without them). ``(None, None)`` when a value
    is missing."""
    from workbench.stats.verdict import Side, config_key, ratio_test, spread_for

    metric = "throughput" if basis == "throughput" else "p50"
    tc, tb = _metric(c, basis), _metric(base, basis)
    if tc is None or tb is None:
        return None, None
    sc, sb = Side(tc), Side(tb)
    if basis == "throughput":  # compare times per item, so the ratio below is the speed ratio either way
        sc, sb = sc.inverted(), sb.inverted()
    key = config_key(c.model, c.engine, c.precision_effective or c.precision, c.threads, c.batch, c.mode)
    t = ratio_test(sc, sb, spread_for(spreads, metric, key))
    return t.ci, t.beyond_noise


def _agrees(status: str | None) -> bool:
    from workbench.stats.parity import AGREES  # lazily: stats.parity imports numpy, this module does not

    return status in AGREES


def _group(cells: Iterable[Cell], drop: str) -> dict[tuple[Any, ...], list[Cell]]:
    out: dict[tuple[Any, ...], list[Cell]] = {}
    for c in cells:
        if c.probe:
            continue
        out.setdefault(tuple(c.axes(drop).items()), []).append(c)
    return out


# ------------------------------------------------------------------------------------------------ threads


class _Group:
    """What the scaling groups (threads, batches, sparsity) share: a title from their fixed axes, and the shape of
    their plain data (axes, title, the group's own fields, note, rows)."""

    axes: dict[str, Any]
    note: str | None
    rows: Sequence[Any]

    @property
    def title(self) -> str:
        return describe(self.axes)

    def _doc(self, **fields: Any) -> dict[str, Any]:
        rows = [r.to_dict() for r in self.rows]
        return {"axes": dict(self.axes), "title": self.title, **fields, "note": self.note, "rows": rows}


@dataclass(frozen=True)
class ThreadRow:
    """One thread count of a :class:`ThreadScaling`. ``speedup``/``efficiency`` are None for a failed cell."""

    cell: Cell
    speedup: float | None
    efficiency: float | None
    #: the speedup's interval and whether it is beyond run-to-run variation (None: base row or not computed)
    ci: tuple[float, float] | None = None
    significant: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        c = self.cell
        return {
            "speedup_ci": list(self.ci) if self.ci else None,
            "speedup_significant": self.significant,
            "key": c.key,
            "threads": c.threads,
            "status": c.status,
            "error": c.error,
            "p50_ms": c.p50_ms,
            "p99_ms": c.p99_ms,
            "throughput": c.throughput,
            "peak_rss_mb": c.peak_rss_mb,
            "speedup": self.speedup,
            "efficiency": self.efficiency,
        }


@dataclass(frozen=True)
class ThreadScaling(_Group):
    """Thread scaling of one group: every axis but ``threads`` fixed (``axes``).

    ``basis``: ``"throughput"`` (speedup = items/s ÷ the base's items/s) or ``"latency"`` (base p50 ÷ p50).
    ``base_threads``: the thread count speedups are taken against (1 when that cell ran; otherwise the smallest
    that ran, and speedups are scaled by it — ``estimated`` is True and ``note`` says so); None when nothing ran."""

    axes: dict[str, Any]
    basis: str
    base_threads: int | None
    estimated: bool
    note: str | None
    rows: list[ThreadRow]

    def to_dict(self) -> dict[str, Any]:
        return self._doc(basis=self.basis, base_threads=self.base_threads, estimated=self.estimated)


def thread_scaling(cells: Sequence[Cell], spreads: Sequence[Mapping[str, Any]] | None = None) -> list[ThreadScaling]:
    """One :class:`ThreadScaling` per group of grid cells (probes excluded) with at least two thread counts, in
    first-seen order; rows by thread count. Speedup and efficiency as in the module docstring; each speedup with
    its interval and whether it is beyond run-to-run variation (:func:`judge`, ``spreads``)."""
    out = []
    for axes_items, members in _group(cells, "threads").items():
        members = [c for c in members if c.threads is not None and c.threads > 0]
        if len({c.threads for c in members}) < 2:
            continue
        members.sort(key=lambda c: (c.threads or 0, c.index))
        axes = dict(axes_items)
        basis = speedup_basis(str(axes.get("mode")))
        usable = [c for c in members if c.ok and _metric(c, basis) is not None]
        base = next((c for c in usable if c.threads == 1), None) or (usable[0] if usable else None)
        note = None
        if base is None:
            note = "no cell of this group ran: no speedups"
        elif base.threads != 1:
            why = "the 1-thread cell failed" if any(c.threads == 1 for c in members) else "no 1-thread cell"
            note = (
                f"{why}: speedups are against {base.threads} threads × {base.threads} "
                f"(assumes linear scaling up to {base.threads} threads)"
            )
        rows = []
        for c in members:
            speedup = efficiency = None
            ci: tuple[float, float] | None = None
            significant: bool | None = None
            if base is not None and c.ok and base.threads:
                r = _ratio(c, base, basis)
                if r is not None:
                    speedup = r * base.threads
                    efficiency = speedup / (c.threads or 1)
                    if c is not base:
                        ci, significant = judge(c, base, basis, spreads)
                        ci = (ci[0] * base.threads, ci[1] * base.threads) if ci else None
            rows.append(ThreadRow(c, speedup, efficiency, ci, significant))
        out.append(
            ThreadScaling(
                axes=axes,
                basis=basis,
                base_threads=base.threads if base is not None else None,
                estimated=base is not None and base.threads != 1,
                note=note,
                rows=rows,
            )
        )
    return out


# ------------------------------------------------------------------------------------------------ batches


@dataclass(frozen=True)
class BatchRow:
    """One batch of a :class:`BatchScaling`: ``gain`` = items/s ÷ the base batch's items/s (None when failed)."""

    cell: Cell
    gain: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.cell
        return {
            "key": c.key,
            "batch": c.batch,
            "status": c.status,
            "error": c.error,
            "p50_ms": c.p50_ms,
            "per_item_ms": c.per_item_ms,
            "throughput": c.throughput,
            "peak_rss_mb": c.peak_rss_mb,
            "gain": self.gain,
        }


@dataclass(frozen=True)
class BatchScaling(_Group):
    """Batch scaling of one group: every axis but ``batch`` fixed. ``base_batch``: the smallest batch that ran
    (the throughput gains are against it); None when nothing ran."""

    axes: dict[str, Any]
    base_batch: int | None
    note: str | None
    rows: list[BatchRow]

    def to_dict(self) -> dict[str, Any]:
        return self._doc(base_batch=self.base_batch)


def batch_scaling(cells: Sequence[Cell]) -> list[BatchScaling]:
    """One :class:`BatchScaling` per group of grid cells with at least two batch sizes (probes excluded: the
    memory search has its own table), in first-seen order; rows by batch."""
    out = []
    for axes_items, members in _group(cells, "batch").items():
        if len({c.batch for c in members}) < 2:
            continue
        members.sort(key=lambda c: (c.batch, c.index))
        usable = [c for c in members if c.ok and c.throughput is not None]
        base = usable[0] if usable else None
        rows = []
        for c in members:
            gain = None
            if base is not None and c.ok and c.throughput is not None and base.throughput:
                gain = c.throughput / base.throughput
            rows.append(BatchRow(c, gain))
        out.append(
            BatchScaling(
                axes=dict(axes_items),
                base_batch=base.batch if base is not None else None,
                note=None if base is not None else "no cell of this group ran",
                rows=rows,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------- precision


@dataclass(frozen=True)
class PrecisionGain:
    """A lower-precision cell against the same engine's fp32 cell with the same other axes.

    ``ratio``: fp32 p50 ÷ p50 (latency mode) or items/s ÷ fp32 items/s (throughput mode), whenever both ran;
    ``gain`` is that ratio only when both cells pass parity (otherwise None and ``note`` says why, keeping the
    ratio); ``notes`` add what a reader must know (an fp32 cell that really ran bf16, ...)."""

    cell: Cell
    fp32: Cell
    basis: str
    ratio: float | None
    gain: float | None
    note: str | None
    #: the ratio's interval and whether it is beyond run-to-run variation (:func:`judge`)
    ci: tuple[float, float] | None = None
    significant: bool | None = None

    @property
    def title(self) -> str:
        return describe(self.cell.axes("precision"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.cell.key,
            "fp32_key": self.fp32.key,
            "title": self.title,
            "engine": self.cell.engine,
            "precision": self.cell.precision,
            "precision_effective": self.cell.precision_effective,
            "fp32_precision_effective": self.fp32.precision_effective,
            "basis": self.basis,
            "p50_ms": self.cell.p50_ms,
            "fp32_p50_ms": self.fp32.p50_ms,
            "throughput": self.cell.throughput,
            "fp32_throughput": self.fp32.throughput,
            "ratio": self.ratio,
            "gain": self.gain,
            "ci": list(self.ci) if self.ci else None,
            "significant": self.significant,
            "note": self.note,
        }


def precision_gains(cells: Sequence[Cell], spreads: Sequence[Mapping[str, Any]] | None = None) -> list[PrecisionGain]:
    """One :class:`PrecisionGain` per lower-precision grid cell that has an fp32 counterpart (same engine,
    threads, batch, mode, streams, requests, sparsity), in run order. Cells without one are left out."""
    fp32 = {tuple(c.axes("precision").items()): c for c in cells if not c.probe and c.precision == "fp32"}
    out = []
    for c in cells:
        if c.probe or c.precision == "fp32":
            continue
        base = fp32.get(tuple(c.axes("precision").items()))
        if base is None:
            continue
        basis = speedup_basis(c.mode)
        notes: list[str] = []
        value: float | None = None
        if not c.ok:
            notes.append(f"{c.precision} cell failed: {c.error}")
        elif not base.ok:
            notes.append(f"fp32 cell failed: {base.error}")
        else:
            value = _ratio(c, base, basis)
            bad = [f"{name} cell" for name, x in ((c.precision, c), ("fp32", base)) if not _agrees(x.parity)]
            if bad:
                which = " and the ".join(bad)
                worst = c.parity if not _agrees(c.parity) else base.parity
                notes.append(f"not a gain: parity {worst or 'missing'} for the {which}")
        if base.precision_effective and base.precision_effective != "fp32":
            notes.append(f"the fp32 cell ran in {base.precision_effective}")
        if c.precision_effective and c.precision_effective != c.precision:
            notes.append(f"{c.precision} requested, ran in {c.precision_effective}")
        shown = value is not None and c.ok and base.ok and _agrees(c.parity) and _agrees(base.parity)
        ci, significant = judge(c, base, basis, spreads) if value is not None else (None, None)
        out.append(
            PrecisionGain(
                cell=c,
                fp32=base,
                basis=basis,
                ratio=value,
                gain=value if shown else None,
                note="; ".join(notes) or None,
                ci=ci,
                significant=significant,
            )
        )
    return out


# ----------------------------------------------------------------------------------------------- sparsity


@dataclass(frozen=True)
class SparsityRow:
    """One sparsity value of a :class:`SparsityGroup`: ``speedup`` against the dense cell (same ratio rule as the
    thread speedup), ``gzip_vs_dense`` = gzip -9 bytes ÷ the dense cell's (None where either is missing)."""

    cell: Cell
    speedup: float | None
    gzip_vs_dense: float | None
    file_vs_dense: float | None

    def to_dict(self) -> dict[str, Any]:
        c = self.cell
        return {
            "key": c.key,
            "sparsity": c.sparsity,
            "achieved": c.sparsity_achieved,
            "status": c.status,
            "error": c.error,
            "p50_ms": c.p50_ms,
            "throughput": c.throughput,
            "file_bytes": c.file_bytes,
            "gzip_bytes": c.gzip_bytes,
            "speedup": self.speedup,
            "gzip_vs_dense": self.gzip_vs_dense,
            "file_vs_dense": self.file_vs_dense,
            "parity": c.parity,
        }


@dataclass(frozen=True)
class SparsityGroup(_Group):
    """The sparsity study of one model × engine (other axes fixed, ``axes``): rows by sparsity, the dense cell
    (sparsity 0) the baseline; ``note`` when there is no dense cell that ran."""

    model: str
    axes: dict[str, Any]
    basis: str
    note: str | None
    rows: list[SparsityRow]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, **self._doc(basis=self.basis)}


def _size_ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def sparsity_study(cells: Sequence[Cell]) -> list[SparsityGroup]:
    """The sparsity study (model × engine × sparsity), only when the grid holds more than one sparsity value;
    one group per model and other axes with at least two sparsity values. The dense row is the baseline."""
    grid = [c for c in cells if not c.probe]
    if len({c.sparsity for c in grid}) < 2:
        return []
    groups: dict[tuple[Any, ...], list[Cell]] = {}
    for c in grid:
        groups.setdefault((c.model, *c.axes("sparsity").items()), []).append(c)
    out = []
    for gkey, members in groups.items():
        if len({c.sparsity for c in members}) < 2:
            continue
        members.sort(key=lambda c: (c.sparsity, c.index))
        axes = dict(gkey[1:])
        basis = speedup_basis(str(axes.get("mode")))
        dense = next((c for c in members if c.sparsity == 0), None)
        note = None
        if dense is None:
            note = "no dense (sparsity 0) cell: no baseline"
        elif not dense.ok:
            note = f"the dense cell failed: {dense.error}"
        rows = []
        for c in members:
            usable = dense is not None and dense.ok and c.ok
            rows.append(
                SparsityRow(
                    cell=c,
                    speedup=_ratio(c, dense, basis) if usable and dense is not None else None,
                    gzip_vs_dense=_size_ratio(c.gzip_bytes, dense.gzip_bytes) if dense is not None else None,
                    file_vs_dense=_size_ratio(c.file_bytes, dense.file_bytes) if dense is not None else None,
                )
            )
        out.append(SparsityGroup(model=str(gkey[0]), axes=axes, basis=basis, note=note, rows=rows))
    return out


# ------------------------------------------------------------------------------------------- memory search


@dataclass(frozen=True)
class Probe:
    """One probe of a memory-bounded batch search: the batch, its benchmark process's peak RSS, status, whether it
    stayed under the limit."""

    batch: int | None
    peak_rss_mb: float | None
    status: str | None
    fits: bool | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MemorySearch:
    """The outcome of one memory-bounded batch search (``record.sweep["memory_search"][group]``): ``best`` is the
    measured cell of the best batch when the results hold it (its throughput is the search's answer)."""

    group: str
    limit_mb: float | None
    best_batch: int | None
    best_key: str | None
    best: Cell | None
    probes: list[Probe]
    reason: str | None

    @property
    def title(self) -> str:
        return describe_key(self.group)

    @property
    def throughput(self) -> float | None:
        return self.best.throughput if self.best is not None else None

    def curve(self) -> list[tuple[int, float]]:
        """The RSS curve: ``(batch, peak RSS MB)`` of the probes that have both, by batch."""
        return sorted(
            (p.batch, p.peak_rss_mb) for p in self.probes if p.batch is not None and p.peak_rss_mb is not None
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "title": self.title,
            "limit_mb": self.limit_mb,
            "best_batch": self.best_batch,
            "best_key": self.best_key,
            "throughput": self.throughput,
            "best_peak_rss_mb": self.best.peak_rss_mb if self.best is not None else None,
            "probes": [p.to_dict() for p in self.probes],
            "reason": self.reason,
        }


def memory_searches(sweep: Mapping[str, Any] | None, cells: Sequence[Cell]) -> list[MemorySearch]:
    """The memory searches of a sweep dict (``record.sweep``), each with its best cell looked up in ``cells`` (the
    grid cell with ``best_key`` first, then a probe of that group and batch). Malformed entries are read as far as
    they go."""
    raw = (sweep or {}).get("memory_search") if isinstance(sweep, Mapping) else None
    if not isinstance(raw, Mapping):
        return []
    out = []
    for group, s in raw.items():
        if not isinstance(s, Mapping):
            continue
        probes = []
        for p in s.get("probes") or []:
            if not isinstance(p, Mapping):
                continue
            fits = p.get("fits")
            probes.append(
                Probe(
                    batch=_int(p.get("batch")),
                    peak_rss_mb=_positive(p.get("peak_rss_mb")),
                    status=str(p["status"]) if p.get("status") is not None else None,
                    fits=fits if isinstance(fits, bool) else None,
                )
            )
        probes.sort(key=lambda p: (p.batch is None, p.batch or 0))
        best_batch = _int(s.get("best_batch"))
        best_key = s.get("best_key") if isinstance(s.get("best_key"), str) else None
        best = None
        if best_key:
            candidates = [c for c in cells if c.key == best_key]
            best = next((c for c in candidates if not c.probe), None) or next(iter(candidates), None)
        if best is None and best_batch is not None:
            best = next((c for c in cells if c.probe and c.group == str(group) and c.batch == best_batch), None)
        reason = s.get("reason")
        out.append(
            MemorySearch(
                group=str(group),
                limit_mb=_positive(s.get("limit_mb")),
                best_batch=best_batch,
                best_key=best_key,
                best=best,
                probes=probes,
                reason=str(reason) if reason else None,
            )
        )
    return out


# ---------------------------------------------------------------------------------------------- the front


def pareto_cells(cells: Sequence[Cell]) -> list[Cell]:
    """The Pareto front of the grid cells that ran: p50 latency per call against throughput (items/s). Training
    steps and text generations are other workloads, not points on an inference front: they are left out
    (generations have :func:`generation_front`); so are LoadGen cells LoadGen called INVALID."""
    pts: list[tuple[float, float, Cell]] = []
    for c in cells:
        if c.ok and not c.probe and c.mode not in ("train", "generate") and c.p50_ms is not None:
            if c.throughput is not None and _valid_load(c):
                pts.append((c.p50_ms, c.throughput, c))
    return [p[2] for p in pareto_front(pts)]


def _valid_load(c: Cell) -> bool:
    """A LoadGen cell counts on a front only when LoadGen called it VALID (an INVALID Server rate was not served
    within its bound: its numbers are not an operating point); a timed-loop cell always counts."""
    if c.scenario is None or c.result is None:
        return True
    lg = c.result.loadgen if isinstance(c.result.loadgen, Mapping) else {}
    return lg.get("validity") == "VALID"


def generation_front(cells: Sequence[Cell]) -> list[Cell]:
    """The Pareto front of the generate cells that ran: time to first token (p50, lower is better) against decode
    tokens/s (higher is better; per sequence, the inverse of the per-output-token latency at batch 1) — the
    TTFT/TPOT trade-off (prompt length, precision, threads, engine)."""
    pts = [
        (c.ttft_p50_ms, c.decode_tokens_per_s, c)
        for c in cells
        if c.ok and c.mode == "generate" and c.ttft_p50_ms is not None and c.decode_tokens_per_s is not None
    ]
    return [p[2] for p in pareto_front(pts)]


# ------------------------------------------------------------------------------------------------ together


@dataclass(frozen=True)
class SweepAnalysis:
    """Everything :func:`analyse` derives from a sweep record."""

    cells: list[Cell]
    probes: list[Cell]
    threads: list[ThreadScaling] = field(default_factory=list)
    batches: list[BatchScaling] = field(default_factory=list)
    precision: list[PrecisionGain] = field(default_factory=list)
    sparsity: list[SparsityGroup] = field(default_factory=list)
    memory: list[MemorySearch] = field(default_factory=list)
    pareto: list[Cell] = field(default_factory=list)
    #: generate cells: time to first token vs decode tokens/s (:func:`generation_front`)
    generation_pareto: list[Cell] = field(default_factory=list)

    def thread_row(self, key: str) -> ThreadRow | None:
        """The thread-scaling row of the cell ``key`` (None when it is in no thread-scaling group)."""
        return _find(self.threads, key)

    def precision_gain(self, key: str) -> PrecisionGain | None:
        return next((g for g in self.precision if g.cell.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able): the scaling tables, searches and the front by cell key."""
        return {
            "thread_scaling": [t.to_dict() for t in self.threads],
            "batch_scaling": [b.to_dict() for b in self.batches],
            "precision_gain": [g.to_dict() for g in self.precision],
            "sparsity": [s.to_dict() for s in self.sparsity],
            "memory_search": [m.to_dict() for m in self.memory],
            "pareto": [
                {"key": c.key, "label": c.label(), "p50_ms": c.p50_ms, "throughput": c.throughput} for c in self.pareto
            ],
            "generation_pareto": [
                {
                    "key": c.key,
                    "label": c.label(),
                    "ttft_p50_ms": c.ttft_p50_ms,
                    "tpot_p50_ms": c.p50_ms,
                    "decode_tokens_per_s": c.decode_tokens_per_s,
                }
                for c in self.generation_pareto
            ],
            "cells": {
                "total": len(self.cells),
                "ok": sum(1 for c in self.cells if c.ok),
                "failed": sum(1 for c in self.cells if not c.ok),
                "probes": len(self.probes),
            },
        }


def _find(groups: Sequence[ThreadScaling], key: str) -> ThreadRow | None:
    for g in groups:
        for r in g.rows:
            if r.cell.key == key:
                return r
    return None


def analyse(record: RunRecord, spreads: Sequence[Mapping[str, Any]] | None = None) -> SweepAnalysis:
    """The whole analysis of a sweep record (any record works: a run's results read as cells too). ``spreads``:
    the machine's stored A/A entries (``workbench.machine.spread.entries``) the speedups and gains are judged
    against; without them, the assumed run-to-run spread."""
    every = cells_of(record.results)
    grid = [c for c in every if not c.probe]
    return SweepAnalysis(
        cells=grid,
        probes=[c for c in every if c.probe],
        threads=thread_scaling(grid, spreads),
        batches=batch_scaling(grid),
        precision=precision_gains(grid, spreads),
        sparsity=sparsity_study(grid),
        memory=memory_searches(record.sweep, every),
        pareto=pareto_cells(grid),
        generation_pareto=generation_front(grid),
    )
