"""Plain-text rendering helpers for the CLI (no third-party dependency)."""

from __future__ import annotations

import sys
from typing import Any, Sequence


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """An aligned text table. ``align`` is a string of 'l'/'r' per column (default: text left, numbers right)."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, v in enumerate(row):
            widths[i] = max(widths[i], len(v))
    if align is None:
        align = "".join(
            "r" if rows and all(_numeric(r[i]) for r in rows if r[i] not in (None, "", "-")) and any(
                r[i] not in (None, "", "-") for r in rows) else "l"
            for i in range(len(headers))
        )

    def fmt_row(row: Sequence[str]) -> str:
        parts = [v.rjust(w) if a == "r" else v.ljust(w) for v, w, a in zip(row, widths, align)]
        return "  ".join(parts).rstrip()

    lines = [fmt_row(list(headers)), "  ".join("─" * w for w in widths)]
    lines += [fmt_row(r) for r in cells]
    return "\n".join(lines)


def _numeric(v: Any) -> bool:
    if isinstance(v, (int, float)):
        return True
    s = str(v).rstrip("x%").replace(",", "")
    try:
        float(s)
        return True
    except ValueError:
        return False


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.3f}"
    return f"{value:.4f}"


def num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


class ProgressLine:
    """A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool | None = None, width: int = 24) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.width = width
        self._last_len = 0
        self.fraction = 0.0

    def update(self, fraction: float, text: str) -> None:
        if not self.enabled:
            return
        self.fraction = fraction
        filled = int(round(max(0.0, min(1.0, fraction)) * self.width))
        bar = "█" * filled + "░" * (self.width - filled)
        line = f"\r{bar} {fraction * 100:5.1f}%  {text}"
        pad = max(0, self._last_len - len(line))
        sys.stderr.write(line + " " * pad)
        sys.stderr.flush()
        self._last_len = len(line)

    def message(self, text: str) -> None:
        if self.enabled:
            self.clear()
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled and self._last_len:
            sys.stderr.write("\r" + " " * self._last_len + "\r")
            sys.stderr.flush()
            self._last_len = 0
