"""The search space of ``workbench recommend``: per objective, the cells its search may pick from — engines ×
precisions × threads, and for the throughput objective OpenVINO streams × requests in flight × batch
(:func:`build_space`) — and the objectives themselves. Pure data; the search lives in
:mod:`workbench.campaign.recommend`, which re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from workbench.campaign.cells import STREAM_ENGINES, CellSpec
from workbench.errors import UsageError

OBJECTIVES: tuple[str, ...] = ("latency", "throughput", "memory", "cost", "energy", "tokens-per-s")
#: objectives searched in generate mode (a causal LM): decode tokens/s, within a time-to-first-token budget
GENERATE_OBJECTIVES: tuple[str, ...] = ("tokens-per-s",)
#: objectives searched in throughput mode (batch, streams, requests): what a served deployment pays for is items
#: per second, per dollar (cost) or per joule (energy)
THROUGHPUT_OBJECTIVES: tuple[str, ...] = ("throughput", "cost", "energy")
#: the precisions a search considers, where the engine declares them (fp16 is a GPU precision: not searched on CPU)
SEARCH_PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")
#: the precisions a generation search considers (int4 weights too), where the engine generates at them
GENERATE_SEARCH_PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8", "int4")
#: the throughput objective's batch axis (bounded further by ``max_batch``)
BATCH_AXIS: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
#: the precision an engine starts from (its hint): the first of these it offers — int8 kernels (VNNI/AMX) are the
#: usual winner on a server CPU, then bf16; the others are the precision axis of the descent
HINT_PRECISIONS: tuple[str, ...] = ("int4", "int8", "bf16", "fp32")


def threads_axis(cores: int) -> tuple[int, ...]:
    """Powers of two below ``cores``, and ``cores``: 6 → (1, 2, 4, 6)."""
    if cores < 1:
        raise UsageError("no cores to search threads over")
    values = [t for t in (1 << i for i in range(cores.bit_length())) if t < cores]
    return tuple(values + [cores])


def _pow2_upto(n: int) -> list[int]:
    return [v for v in (1 << i for i in range(max(1, n).bit_length() + 1)) if v <= n]


@dataclass(frozen=True)
class SearchSpace:
    """The cells an objective's search may pick from. ``precisions``: per engine; ``streams`` apply to
    :data:`~workbench.campaign.cells.STREAM_ENGINES` in throughput mode only (and never exceed the cell's threads);
    ``requests`` to throughput mode only; None in those axes means "left to the engine"."""

    objective: str
    mode: str
    engines: tuple[str, ...]
    precisions: tuple[tuple[str, tuple[str, ...]], ...]
    threads: tuple[int, ...]
    batches: tuple[int, ...] = (1,)
    streams: tuple[int | None, ...] = (None,)
    requests: tuple[int | None, ...] = (None,)
    #: generate mode: the prompt and generated lengths every cell of the space has (None in other modes)
    prompt_tokens: int | None = None
    new_tokens: int | None = None

    def precisions_of(self, engine: str) -> tuple[str, ...]:
        return dict(self.precisions).get(engine, ())

    def axis(self, name: str, cell: CellSpec) -> tuple[Any, ...]:
        """The values axis ``name`` can take for ``cell`` (the other axes as in ``cell``)."""
        if name == "precision":  # ordered by bits, as the descent walks it: int8, bf16, fp32
            order = {p: i for i, p in enumerate(HINT_PRECISIONS)}
            return tuple(sorted(self.precisions_of(cell.engine), key=lambda p: order.get(p, len(order))))
        if name == "threads":
            return self.threads
        if name == "batch":
            return self.batches
        if name == "streams":
            if self.mode != "throughput" or cell.engine not in STREAM_ENGINES:
                return (None,)
            return tuple(s for s in self.streams if s is None or s <= cell.threads)
        if name == "requests":
            return self.requests if self.mode == "throughput" else (None,)
        raise ValueError(f"unknown axis {name!r}")

    def contains(self, cell: CellSpec) -> bool:
        return (
            cell.engine in self.engines
            and cell.precision in self.precisions_of(cell.engine)
            and cell.mode == self.mode
            and cell.sparsity == 0.0
            and (cell.prompt_tokens, cell.new_tokens) == (self.prompt_tokens, self.new_tokens)
            and all(getattr(cell, a) in self.axis(a, cell) for a in ("threads", "batch", "streams", "requests"))
        )

    def cells(self) -> list[CellSpec]:
        """Every cell of the space (what an exhaustive sweep would run), in a stable order."""
        out: list[CellSpec] = []
        for e in self.engines:
            for p in self.precisions_of(e):
                for t in self.threads:
                    base = self._cell(e, p, t)
                    for s in self.axis("streams", base):
                        for r in self.axis("requests", base):
                            for b in self.batches:
                                out.append(replace(base, streams=s, requests=r, batch=b))
        return out

    def size(self) -> int:
        return len(self.cells())

    def hint(self, engine: str, precision: str) -> CellSpec:
        """The engine's own defaults: every core, streams and requests left to the engine, batch 1 (latency,
        memory) or the lower middle of the batch axis (throughput)."""
        batch = self.batches[max(0, (len(self.batches) - 1) // 2)] if self.mode == "throughput" else self.batches[0]
        return replace(self._cell(engine, precision, max(self.threads)), batch=batch)

    def _cell(self, engine: str, precision: str, threads: int) -> CellSpec:
        return CellSpec(
            engine=engine,
            precision=precision,
            threads=threads,
            mode=self.mode,
            prompt_tokens=self.prompt_tokens,
            new_tokens=self.new_tokens,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "mode": self.mode,
            "engines": list(self.engines),
            "precisions": {e: list(p) for e, p in self.precisions},
            "threads": list(self.threads),
            "batches": list(self.batches),
            "streams": list(self.streams),
            "requests": list(self.requests),
            "size": self.size(),
        } | ({"prompt_tokens": self.prompt_tokens, "new_tokens": self.new_tokens} if self.mode == "generate" else {})


def build_space(
    objective: str,
    engines: Sequence[str],
    precisions: Mapping[str, Sequence[str]],
    cores: int,
    *,
    max_batch: int = BATCH_AXIS[-1],
    prompt_tokens: int | None = None,
    new_tokens: int | None = None,
) -> SearchSpace:
    """The space of ``objective`` over ``engines`` (``precisions``: what each engine may be asked for) on a pool of
    ``cores``. Latency and memory: latency mode, batch 1. Throughput: throughput mode, batches 1…32 (≤ max_batch),
    OpenVINO streams automatic or 1, 2, 4 … ≤ threads, requests automatic or 1, 2, 4 … ≤ 2 × cores (at most 16).
    tokens-per-s: generate mode at ``prompt_tokens``/``new_tokens``, batch 1, int4 weights among the precisions.
    Raises UsageError for an unknown objective or an empty space."""
    check_objective(objective)
    generate = objective in GENERATE_OBJECTIVES
    searched = GENERATE_SEARCH_PRECISIONS if generate else SEARCH_PRECISIONS
    precs = tuple((e, tuple(p for p in searched if p in precisions.get(e, ()))) for e in engines)
    precs = tuple((e, p) for e, p in precs if p)
    if not precs:
        raise UsageError(f"nothing to search: no engine offers {', '.join(searched)} here")
    threads = threads_axis(cores)
    if generate:
        return SearchSpace(
            objective,
            "generate",
            tuple(e for e, _ in precs),
            precs,
            threads,
            prompt_tokens=prompt_tokens,
            new_tokens=new_tokens,
        )
    if objective not in THROUGHPUT_OBJECTIVES:
        return SearchSpace(objective, "latency", tuple(e for e, _ in precs), precs, threads)
    if max_batch < 1:
        raise UsageError(f"--max-batch must be >= 1, not {max_batch}")
    batches = tuple(b for b in BATCH_AXIS if b <= max_batch) or (1,)
    streams: tuple[int | None, ...] = (None, *_pow2_upto(cores))
    requests: tuple[int | None, ...] = (None, *_pow2_upto(min(16, 2 * cores)))
    return SearchSpace(objective, "throughput", tuple(e for e, _ in precs), precs, threads, batches, streams, requests)


def check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise UsageError(f"--objective must be among {', '.join(OBJECTIVES)}, not {objective!r}")


def parse_objectives(text: str) -> tuple[str, ...]:
    """``"latency,throughput"`` → ("latency", "throughput"); UsageError for an unknown or empty one."""
    items = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    if not items:
        raise UsageError(f"--objective needs one of {', '.join(OBJECTIVES)}")
    for o in items:
        check_objective(o)
    return items


__all__ = [
    "BATCH_AXIS",
    "GENERATE_OBJECTIVES",
    "GENERATE_SEARCH_PRECISIONS",
    "HINT_PRECISIONS",
    "OBJECTIVES",
    "SEARCH_PRECISIONS",
    "THROUGHPUT_OBJECTIVES",
    "SearchSpace",
    "build_space",
    "check_objective",
    "parse_objectives",
    "threads_axis",
]
