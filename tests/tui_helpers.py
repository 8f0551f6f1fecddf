"""Helpers the Pilot tests share: waiting on a condition, the notifications shown, stored runs, a table's rows."""

from __future__ import annotations

import time


async def wait_for(pilot, condition, timeout: float = 30.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(step)
    return condition()


def notes(app) -> list[tuple[str, str]]:
    return [(str(n.message), str(n.severity)) for n in app._notifications]


def stored_runs() -> list:
    from workbench.store.history import HistoryStore

    return HistoryStore().list(limit=None)


def table_rows(table) -> list[list[str]]:
    return [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]
