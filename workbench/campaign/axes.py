"""A sweep's axes as a user types them: one parser for ``workbench sweep``'s flags and the UI's Sweep screen fields.

Lists are comma-separated (spaces between items work too); duplicates are dropped, order kept. Every error is a
:class:`~workbench.errors.UsageError` of one line that starts with the field's name when one is given
(``threads: 0 must be >= 1``); the CLI passes no name, since argparse names the flag itself.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

from workbench.errors import UsageError
from workbench.units import parse_seconds_text

__all__ = ["items", "parse_ints", "parse_words", "parse_seconds", "default_threads"]


def items(text: str) -> list[str]:
    """``"1, 2 4"`` → ``["1", "2", "4"]``: the non-empty items between commas or spaces."""
    return [item for item in re.split(r"[,\s]+", text.strip()) if item]


def _fail(name: str | None, line: str) -> UsageError:
    return UsageError(f"{name}: {line}" if name else line)


def parse_ints(name: str | None, text: str) -> tuple[int, ...]:
    """``"1,2,4"`` → ``(1, 2, 4)``: whole numbers ≥ 1, duplicates dropped. Raises UsageError (naming ``name``)."""
    out = []
    for item in items(text):
        try:
            n = int(item)
        except ValueError:
            raise _fail(name, f"{item!r} is not a whole number") from None
        if n < 1:
            raise _fail(name, f"{n} must be >= 1")
        out.append(n)
    if not out:
        raise _fail(name, "give at least one number, comma-separated")
    return tuple(dict.fromkeys(out))


def parse_words(name: str, text: str, choices: Sequence[str]) -> tuple[str, ...]:
    """``"fp32,int8"`` → ``("fp32", "int8")`` (lower-cased); each must be one of ``choices``. Raises UsageError."""
    words = tuple(dict.fromkeys(item.lower() for item in items(text)))
    if not words:
        raise _fail(name, f"give at least one of {', '.join(choices)}, comma-separated")
    for word in words:
        if word not in choices:
            raise _fail(name, f"must be among {', '.join(choices)}, not {word!r}")
    return words


def parse_seconds(name: str, text: str, *, positive: bool) -> float:
    """Seconds as a number, or with a unit (``500ms``, ``2 min``): > 0 (``positive``) or ≥ 0. Raises UsageError."""
    try:
        value = float(text.strip())
    except ValueError:
        try:
            value = parse_seconds_text(text)  # with a unit: "500ms", "2 min"
        except ValueError:
            raise _fail(name, f"{text.strip()!r} is not a number of seconds (e.g. 5, 500ms, 2 min)") from None
    if not math.isfinite(value):
        raise _fail(name, f"{text.strip()!r} is not a number of seconds")
    if positive and value <= 0:
        raise _fail(name, f"must be > 0 seconds, not {value:g}")
    if not positive and value < 0:
        raise _fail(name, f"must be >= 0 seconds, not {value:g}")
    return value


def default_threads(cores: int) -> tuple[int, ...]:
    """1, 2, 4, … up to ``cores``, and ``cores`` itself (the whole pool) when it is not a power of two."""
    out, t = [], 1
    while t <= max(cores, 1):
        out.append(t)
        t *= 2
    if cores > 1 and out[-1] != cores:
        out.append(cores)
    return tuple(out)
