"""How a parity verdict (or a drift status) is said: the rule and its tolerance next to the verdict, and top-1
agreement only where it means something. Pure: records (``parity`` / ``drift`` dicts) in, text out; no numpy.

One home for these phrases, shared by the terminal table's notes, ``workbench parity``, the below-fp32 table, the
HTML report (which renders the terminal's rows and notes) and the UI's detail pane:

* :func:`rule_text` — ``rel L2 3.1e-06 ≤ 1e-03 (fp32 default)``: the measured figure, the comparison that decided
  the verdict, the tolerance and where it came from;
* :func:`top1_text` — ``top-1 100% (1 item)``, ``top-1 100% of 3 decisive (5 near-ties)``, or, where every item's
  reference top-1 is a near-tie (:func:`workbench.stats.parity.top1_agreement`), ``top-1 n/a: near-tie (8/8)``;
* :func:`top1_cell` — the same for a narrow table column: ``100%``, ``100% 3/8``, ``n/a``.

Records written before the near-tie rule (no ``top1_near_ties``) carry the agreement over every item; they are
shown as they were measured: ``top-1 40%``.
"""

from __future__ import annotations

from typing import Any, Mapping

from workbench.units import MISSING, as_float, percent

#: the top-1 column's mark where every item was a near-tie (the notes or the detail say why)
TOP1_OMITTED = "n/a"


def tolerance_value(value: Any) -> str:
    """A tolerance in the fewest digits that say it exactly: ``1e-03``, ``5e-02``, ``1.5e-03``."""
    f = as_float(value)
    if f is None:
        return MISSING
    for digits in range(4):
        text = f"{f:.{digits}e}"
        if float(text) == f:
            return text
    return f"{f:.3e}"


def tolerance_source(p: Mapping[str, Any]) -> str:
    """``fp32 default`` (the precision's table, docs/methodology.md) or ``user`` (--rtol/--atol)."""
    source = str(p.get("tolerance_source") or "")
    if source.startswith("default "):
        return f"{source.removeprefix('default ')} default"
    return source or "default"


def rule_text(p: Mapping[str, Any] | None) -> str | None:
    """The comparison that decided a parity verdict, with its tolerance: ``rel L2 3.1e-06 ≤ 1e-03 (fp32 default)``,
    ``rel L2 5.0e-01 > 1e-03 (fp32 default)``, ``max |Δ| 2.0e-05 ≤ atol 1e-04 (user)``; None without the figures
    (a reference, a skipped or failed comparison, an old record without a tolerance)."""
    if not p:
        return None
    rel, tol = as_float(p.get("rel_l2")), as_float(p.get("tolerance"))
    if rel is None or tol is None:
        return None
    source = f" ({tolerance_source(p)})"
    if rel <= tol:
        return f"rel L2 {rel:.1e} ≤ {tolerance_value(tol)}{source}"
    atol, max_abs = as_float(p.get("atol")), as_float(p.get("max_abs"))
    if atol is not None and max_abs is not None and max_abs <= atol:
        return f"max |Δ| {max_abs:.1e} ≤ atol {tolerance_value(atol)}{source}"
    floor = as_float(p.get("floor"))
    if floor is not None and p.get("status") == "pass":  # an output ~0 everywhere passed on the rounding floor
        return (
            f"rel L2 {rel:.1e} > {tolerance_value(tol)}, every element within the fp32 floor {tolerance_value(floor)}"
        )
    return f"rel L2 {rel:.1e} > {tolerance_value(tol)}{source}"


def _items(n: int) -> str:
    return f"{n} item{'s' * (n != 1)}"


def top1_text(p: Mapping[str, Any] | None) -> str | None:
    """Top-1 agreement in words, or why it is not given; None for an output that is not a classifier's."""
    if not p:
        return None
    top1 = as_float(p.get("top1"))
    near = p.get("top1_near_ties")
    if top1 is None:
        if p.get("top1_omitted") and isinstance(near, int):
            return f"top-1 n/a: near-tie ({near}/{near + int(p.get('top1_items') or 0)})"
        return None
    value = f"top-1 {percent(top1 * 100, decimals=0)}"
    decisive = p.get("top1_items")
    if not isinstance(near, int) or not isinstance(decisive, int):  # a record from before the near-tie rule
        return value
    if near:
        return f"{value} of {decisive} decisive ({near} near-tie{'s' * (near != 1)})"
    return f"{value} ({_items(decisive)})"


def top1_cell(p: Mapping[str, Any] | None) -> str:
    """Top-1 for a table column: ``100%``; ``100% 3/8`` when 5 of 8 items were near-ties and left out; ``n/a``
    when every item was (see :func:`top1_note`); — for a model that is not a classifier."""
    if not p:
        return MISSING
    top1 = as_float(p.get("top1"))
    if top1 is None:
        return TOP1_OMITTED if p.get("top1_omitted") else MISSING
    value = percent(top1 * 100, decimals=0)
    near, decisive = p.get("top1_near_ties"), p.get("top1_items")
    if isinstance(near, int) and isinstance(decisive, int) and near:
        return f"{value} {decisive}/{decisive + near}"
    return value


def top1_note(p: Mapping[str, Any] | None, short: bool = False) -> str | None:
    """The line under a table that says why a top-1 cell reads ``n/a`` or ``k/n``; None when it reads plainly.
    ``short``: for a table's detail column, where the rule is stated under the table (``near-tie on 8 of 8 items:
    top-1 not counted``)."""
    if not p:
        return None
    near, decisive = p.get("top1_near_ties"), p.get("top1_items")
    if as_float(p.get("top1")) is None:
        if not p.get("top1_omitted"):
            return None
        if short and isinstance(near, int):
            return f"near-tie on {near} of {_items(near + int(decisive or 0))}: top-1 not counted"
        return f"top-1 n/a: {p['top1_omitted']}"
    if isinstance(near, int) and isinstance(decisive, int) and near:
        if short:
            return f"top-1 over {decisive} of {_items(decisive + near)} ({near} near-tie{'s' * (near != 1)})"
        return (
            f"top-1 over the {decisive} of {decisive + near} items whose reference top-1 is decisive "
            f"({near} near-tie{'s' * (near != 1)} left out: margin within the tolerance's reach)"
        )
    return None


def verdict_text(p: Mapping[str, Any] | None) -> str | None:
    """``pass vs torch fp32: rel L2 3.1e-06 ≤ 1e-03 (fp32 default), top-1 100% (1 item)`` — the verdict with its
    rule and, for classifiers, top-1; None for a record without a comparison to explain."""
    if not p:
        return None
    rule = rule_text(p)
    if rule is None:
        return None
    ref = f" vs {p['reference']}" if p.get("reference") else ""
    top = top1_text(p)
    return f"{p.get('status')}{ref}: {rule}" + (f", {top}" if top else "")
