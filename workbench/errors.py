"""Errors a user can act on.

Every failure that reaches the CLI or the UI is a :class:`WorkbenchError` carrying one readable line (what is
wrong and what to do). The CLI prints ``error: <line>`` to stderr and exits with :attr:`exit_code`; the UI shows a
notification. Anything else escaping is a bug, and the CLI still reports it in one line (see ``cli.main``).
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem with the user's input or environment. ``str(err)`` is the one line shown to the user."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if not hint else f"{message} — {hint}")


class UsageError(WorkbenchError):
    """Impossible option or bad argument (exit 2)."""

    exit_code = 2


class ModelError(WorkbenchError):
    """Missing, empty, corrupt or unsupported model file; unknown built-in model (exit 2)."""

    exit_code = 2


class EngineUnavailable(WorkbenchError):
    """The engine's package is not installed or the requested device is not present (exit 2)."""

    exit_code = 2


class UnsupportedError(WorkbenchError):
    """The engine cannot do what was asked: format, precision or device combination (exit 2)."""

    exit_code = 2


class RunFailed(WorkbenchError):
    """A benchmark process crashed, hung or ran out of memory (exit 1)."""

    exit_code = 1


def closest(name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """Return the closest choice to ``name`` for 'did you mean' hints, or None."""
    import difflib

    match = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=1, cutoff=0.5)
    if not match:
        return None
    for c in choices:
        if c.lower() == match[0]:
            return c
    return None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (native engines raise pages), or its type name when empty."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
