"""How quantities are shown to people: the one home for number formatting (after hyperfine's ``output/format.rs``).

The CLI tables, the text cells of every export (Markdown, the text of a gate summary), ``history``/``compare``
output and the UI all format numbers with these functions, so a latency reads the same everywhere. Machine-readable
outputs (JSON, the numeric columns of CSV) keep raw numbers and never go through here.

The rule for durations, rates and plain numbers (:func:`significant`)
    **4 significant digits, never scientific notation.** Digits left of the decimal point are never dropped
    (``12345.6`` → ``"12,346"``), thousands are grouped with ``,``, and at most :data:`MAX_DECIMALS` decimals are
    shown. Trailing zeros are kept, so a column has one precision: ``41.234`` → ``"41.23"``, ``8`` → ``"8.000"``,
    ``0.41234`` → ``"0.4123"``, ``412.34`` → ``"412.3"``, ``0`` → ``"0"``. Four digits match the resolution of the
    latency histograms (0.1 % buckets); the compare verdicts' 1 % threshold needs three.

Missing values
    Every formatter returns :data:`MISSING` (``"—"``) for ``None``, NaN, ±inf, booleans and anything that is not a
    number (:func:`as_float` decides). There is no other missing-value mark.

Pure functions, standard library only.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "MISSING",
    "MAX_DECIMALS",
    "SIGNIFICANT_DIGITS",
    "as_float",
    "json_safe",
    "significant",
    "ms",
    "duration",
    "rate",
    "bytes_iec",
    "ratio",
    "percent",
    "count",
    "p_value",
    "text",
]

#: The one mark for a value that is missing, undefined (NaN) or not a number.
MISSING = "—"

#: Significant digits of :func:`significant` (and so of :func:`ms`, :func:`duration`, :func:`rate`).
SIGNIFICANT_DIGITS = 4

#: The most decimals :func:`significant` shows (1e-9 ms is a picosecond, below any timer's resolution).
MAX_DECIMALS = 9


def as_float(value: Any) -> float | None:
    """``value`` as a finite float, or ``None`` for ``None``, booleans, NaN/±inf and what ``float()`` cannot read.

    Numeric strings (``"1.5"``, from foreign JSON) are read; numpy scalars work like Python numbers.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def json_safe(value: Any) -> Any:
    """``value`` with every NaN/±inf float (in nested dicts, lists and tuples) replaced by ``None``.

    For JSON written with ``allow_nan=False``: the output is standard JSON (jq, browsers), not Python's NaN
    extension. Tuples become lists; other values are returned unchanged.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def significant(value: Any, digits: int = SIGNIFICANT_DIGITS) -> str:
    """``value`` with ``digits`` significant digits, grouped thousands, never scientific (see the module rule).

    ``41.234`` → ``"41.23"``, ``1234.6`` → ``"1,235"``, ``0.0012346`` → ``"0.001235"``, ``-2`` → ``"-2.000"``,
    ``0`` → ``"0"``; :data:`MISSING` for non-numbers.
    """
    f = as_float(value)
    if f is None:
        return MISSING
    if f == 0.0:
        return "0"
    exponent = math.floor(math.log10(abs(f)))
    decimals = min(MAX_DECIMALS, max(0, digits - 1 - exponent))
    rounded = round(f, decimals)
    if decimals > 0 and rounded != 0.0 and math.floor(math.log10(abs(rounded))) > exponent:
        decimals -= 1  # rounding carried into a new digit: 9.9996 -> "10.00", not "10.000"
    return f"{f:,.{decimals}f}"


def ms(value: Any) -> str:
    """A duration in milliseconds as a bare number for a column or label that says "ms" (:func:`significant`)."""
    return significant(value)


_DURATION_UNITS: tuple[tuple[float, str], ...] = ((1000.0, "s"), (1.0, "ms"), (1e-3, "µs"), (1e-6, "ns"))


def duration(value_ms: Any) -> str:
    """A duration given in milliseconds, with the unit that keeps the number readable: ``"412.0 ns"``,
    ``"41.20 µs"``, ``"41.23 ms"``, ``"1.234 s"`` (seconds from 1000 ms up; digits by :func:`significant`)."""
    f = as_float(value_ms)
    if f is None:
        return MISSING
    for size, unit in _DURATION_UNITS:
        if abs(f) >= size:
            return f"{significant(f / size)} {unit}"
    return f"{significant(f / 1e-6)} ns"


_SECONDS_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 1e-3, "m": 60.0, "min": 60.0}
_SECONDS_TEXT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")


def parse_seconds_text(text: str) -> float:
    """A duration typed by a person, in seconds: ``"5"``, ``"5 s"``, ``"500ms"``, ``"1.5 min"``. ValueError saying
    what is expected otherwise (negative numbers are refused here: no duration is negative)."""
    match = _SECONDS_TEXT.match(str(text).lower())
    unit = match.group(2) if match else None
    if match is None or unit not in _SECONDS_UNITS:
        raise ValueError(f"{str(text).strip()!r} is not a duration: give seconds, e.g. 5, 5 s, 500ms or 2 min")
    value = float(match.group(1)) * _SECONDS_UNITS[unit]
    if not math.isfinite(value):
        raise ValueError(f"{str(text).strip()!r} is not a duration: give seconds, e.g. 5, 5 s, 500ms or 2 min")
    return value


def eta(seconds: Any) -> str:
    """Time left, as people read a countdown: ``"9 s"``, ``"3 min 05 s"``, ``"1 h 02 min"`` (rounded up)."""
    f = as_float(seconds)
    if f is None or f < 0:
        return MISSING
    s = math.ceil(f)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def rate(value: Any, unit: str = "") -> str:
    """A rate (items per second) by :func:`significant`, followed by ``unit`` when given:
    ``rate(1234.6)`` → ``"1,235"``, ``rate(200, "/s")`` → ``"200.0/s"``."""
    text_ = significant(value)
    return text_ if text_ == MISSING else f"{text_}{unit}"


_IEC_UNITS: tuple[tuple[str, int], ...] = (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20))


def bytes_iec(n: Any) -> str:
    """A size in bytes with IEC units: whole amounts without decimals (``"32 GiB"``, ``"48 KiB"``), otherwise one
    decimal below 100 (``"1.5 MiB"``) and none from 100 up (``"105 MiB"``); under 1 KiB ``"512 B"``.
    Negative sizes are :data:`MISSING`."""
    f = as_float(n)
    if f is None or f < 0:
        return MISSING
    for unit, size in (*_IEC_UNITS, ("KiB", 1 << 10)):
        if f >= size:
            v = f / size
            return f"{v:.0f} {unit}" if v >= 100 or v == int(v) else f"{v:.1f} {unit}"
    return f"{int(f)} B"


def ratio(value: Any) -> str:
    """A ratio such as a speedup: two decimals and ``×`` (``"2.31×"``)."""
    f = as_float(value)
    return MISSING if f is None else f"{f:.2f}×"


def percent(value: Any, signed: bool = False, decimals: int = 1) -> str:
    """A percentage given in percent (not a fraction): ``"12.3%"``; ``signed=True`` for changes: ``"+12.3%"``."""
    f = as_float(value)
    if f is None:
        return MISSING
    return f"{f:+.{decimals}f}%" if signed else f"{f:.{decimals}f}%"


def count(n: Any) -> str:
    """A large count (parameters, samples) for people: ``11689512`` → ``"11.7M"``, ``9754`` → ``"9.8k"``,
    ``999`` → ``"999"`` (one decimal with k/M/G from a thousand up)."""
    f = as_float(n)
    if f is None:
        return MISSING
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(f) >= div:
            return f"{f / div:.1f}{suffix}"
    return str(int(f)) if f == int(f) else significant(f)


def p_value(p: Any) -> str:
    """A test's p-value: three decimals from 0.01 up (``"0.412"``), two significant digits below (``"0.0031"``,
    ``"0.000042"``) and ``"<0.000001"`` below one in a million (no exponent here either)."""
    f = as_float(p)
    if f is None:
        return MISSING
    if f < 1e-6:
        return "<0.000001"
    return significant(f, 2) if f < 0.01 else f"{f:.3f}"


def text(value: Any) -> str:
    """A label or other non-numeric value as text; :data:`MISSING` for ``None`` and the empty string."""
    if value is None or value == "":
        return MISSING
    return str(value)
