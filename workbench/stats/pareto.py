"""The Pareto front of (latency, throughput) points: the points no other point beats on both. Pure; used by the
sweep analysis (:func:`workbench.stats.scaling.pareto_cells`) and recommend's search."""

from __future__ import annotations

from typing import Iterable, TypeVar

from workbench.units import as_float

P = TypeVar("P")


def pareto_front(points: Iterable[tuple[float, float, P]]) -> list[tuple[float, float, P]]:
    """The non-dominated points of ``(latency_ms, throughput, payload)``, sorted by latency (ties: higher
    throughput first). Lower latency and higher throughput are better; a point is dominated when another is at
    least as good on both and better on one. Exact duplicates of a front point are all kept. Points whose latency
    or throughput is not a finite number are ignored. Pure; the payload is carried through untouched."""
    usable = []
    for p in points:
        lat, thr = as_float(p[0]), as_float(p[1])
        if lat is not None and thr is not None:
            usable.append((lat, thr, p))
    usable.sort(key=lambda t: (t[0], -t[1]))
    front: list[tuple[float, float, P]] = []
    best = float("-inf")
    last: tuple[float, float] | None = None
    for lat, thr, p in usable:
        if thr > best:
            front.append(p)
            best, last = thr, (lat, thr)
        elif last == (lat, thr):
            front.append(p)
    return front


def cost_front(points: Iterable[tuple[float, float, P]]) -> list[tuple[float, float, P]]:
    """The non-dominated points of ``(latency_ms, cost, payload)`` where both are lower-is-better (dollars per
    million items, joules per item): :func:`pareto_front` on the negated cost. Sorted by latency."""
    usable = [(p[0], -c, p) for p in points if (c := as_float(p[1])) is not None]
    return [q[2] for q in pareto_front(usable)]


__all__ = ["pareto_front", "cost_front"]
