"""SVG snapshots of the main screen and a results view at 80×24 and 120×40.

Every live input is replaced with TEST FIXTURE DATA (tests/snapshot_apps/tui_fixtures.py): a fixed machine
description, engine inventory, model list, CPU list and history; the per-core utilisation timer is frozen. The
results snapshot injects a fixed RunRecord, labelled "TEST FIXTURE DATA" on screen. Update with
``pytest tests/test_tui_snapshots.py --snapshot-update`` after checking the report.
"""

from __future__ import annotations

import time

import pytest
from snapshot_apps.tui_fixtures import (
    feed_generate_live,
    feed_live,
    fixture_app,
    fixture_generate_record,
    fixture_record,
)

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


# ---- --mode generate and the max-QPS search (TEST FIXTURE DATA) ---------------------------------------------------
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_results_view_generate(snap_compare, size):
    """A generate run's Results: TTFT p50, per-token p50/p99, tokens/s, tokens=ref, speedup only where tokens
    agree."""

    async def run_before(pilot) -> None:
        record = fixture_generate_record()
        pilot.app.show_results(ResultsView(results=tuple(record.results), record=record, saved=True, fixture=True))
        await pilot.pause(0.1)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_live_view_generate(snap_compare, size):
    """A generate run in flight: per engine, its TTFT histogram beside its per-token one, each labelled."""

    async def run_before(pilot) -> None:
        pilot.app.running = True
        await pilot.press("3")
        feed_generate_live(pilot.app)
        await pilot.pause(0.3)

    assert snap_compare(fixture_app(), terminal_size=size, run_before=run_before)


def test_setup_view_generate(snap_compare):
    async def run_before(pilot) -> None:
        await pilot.press("2")
        await pilot.pause(0.1)

    app = fixture_app(initial={"model": "tiny-llama", "mode": "generate", "precision": "int8", "new_tokens": 32})
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_live_view_max_qps_search(snap_compare):
    """A max-QPS search: its probes as they arrived, the bracket, the elapsed time (fixed: the search ended)."""

    async def run_before(pilot) -> None:
        from workbench.tui.widgets.live import LivePane

        live = pilot.app.query_one(LivePane)
        pilot.app.running = True
        await pilot.press("3")
        live.begin(("torch", "onnxruntime"), "resnet18 · max QPS search", origin="run")
        live.search_begin(("torch", "onnxruntime"), 50.0, 99.0)
        for engine, offline, probes in (
            ("torch", 100.0, ((50.0, False, 150.0), (25.0, True, 20.0), (37.5, True, 31.0), (43.8, False, 90.0))),
            ("onnxruntime", 160.0, ((80.0, True, 30.0), (120.0, False, 75.0))),
        ):
            live.search_probe({"engine": engine, "kind": "offline", "valid": True, "validity": "VALID", "qps": offline})
            for target, valid, p99 in probes:
                live.search_probe(
                    {
                        "engine": engine,
                        "kind": "probe",
                        "target_qps": target,
                        "valid": valid,
                        "validity": "VALID" if valid else "INVALID",
                        "latency_ms": p99,
                        "qps": target * (1.0 if valid else 0.97),
                    }
                )
        live.search_end("searching")
        live.search["started"] = live.search["ended"] - 83.0
        live._render_search()
        await pilot.pause(0.2)

    assert snap_compare(fixture_app(), terminal_size=(80, 24), run_before=run_before)
