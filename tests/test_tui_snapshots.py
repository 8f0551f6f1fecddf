"""SVG snapshots of the main screen and a results view at 80×24 and 120×40.

Every live input is replaced with TEST FIXTURE DATA (tests/snapshot_apps/tui_fixtures.py): a fixed machine
description, engine inventory, model list, CPU list and history; the per-core utilisation timer is frozen. The
results snapshot injects a fixed RunRecord, labelled "TEST FIXTURE DATA" on screen. Update with
``pytest tests/test_tui_snapshots.py --snapshot-update`` after checking the report.
"""

from __future__ import annotations

import time

import pytest
from snapshot_apps.tui_fixtures import feed_live, fixture_app, fixture_record

from workbench.tui.widgets.results import ResultsView


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    """History times are shown in local time: pin the zone so snapshots do not depend on the machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _show_fixture_results(pilot) -> None:
    record = fixture_record()
    pilot.app.show_results(ResultsView(results=tuple(record.results), record=record, saved=True, fixture=True))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_main_screen(snap_compare, size):
    assert snap_compare(fixture_app(), terminal_size=size)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_results_view(snap_compare, size):
    async def run_before(pilot) -> None:
        _show_fixture_results(pilot)
        await pilot.pause(0.1)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)


def test_light_theme_setup_view(snap_compare):
    async def run_before(pilot) -> None:
        pilot.app.theme = "workbench-light"
        await pilot.press("2")
        await pilot.pause(0.1)

    assert snap_compare(fixture_app(), terminal_size=(80, 24), run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_live_view_three_engines_int8(snap_compare, size):
    """A run in flight (TEST FIXTURE DATA): three engines at int8, each with its fp32 baseline drawn behind, a
    log-latency axis with units (one slow outlier does not squeeze the body into a column), an ETA."""

    async def run_before(pilot) -> None:
        pilot.app.running = True
        await pilot.press("3")
        feed_live(pilot.app)
        await pilot.pause(0.3)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_setup_view(snap_compare, size):
    async def run_before(pilot) -> None:
        await pilot.press("2")
        await pilot.pause(0.1)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)
