"""The Sweep screen (w): a real sweep filling the table live and saved as one history record, stop with the resume
hint, bad axis input, the parsing helpers, and an SVG snapshot at 80×24 before start (TEST FIXTURE DATA only)."""

from __future__ import annotations

import os
import time

import pytest
from snapshot_apps.tui_fixtures import fixture_app
from textual.widgets import Checkbox, DataTable, Input

from workbench.errors import UsageError
from workbench.stats.scaling import Cell
from workbench.tui.app import WorkbenchApp
from workbench.tui.sweep import (
    SweepScreen,
    default_threads,
    parse_ints,
    parse_seconds,
    parse_words,
    throughput_series,
)

SIZE = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


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


def table_rows(table: DataTable) -> list[list[str]]:
    return [[str(c).strip() for c in table.get_row_at(i)] for i in range(table.row_count)]


def _cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


async def _open_sweep(pilot, app, **fields: str) -> SweepScreen:
    """Press w once the engines are known; fill the given fields (``threads="1,2"``, ``duration="0.2"``, ...)."""
    assert await wait_for(pilot, lambda: bool(app.query_one("#setup").engines), 20)
    await pilot.press("w")
    assert await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), 5)
    screen = app.screen
    for name, value in fields.items():
        screen.query_one(f"#sweep-{name}", Input).value = value
    await pilot.pause(0.05)
    return screen


def _real_app(cores: list[int]) -> WorkbenchApp:
    app = WorkbenchApp(
        live_cpu=False,
        initial=dict(model="tiny_cnn", engines=("onnxruntime",), cores=",".join(map(str, cores))),
    )
    app.animation_level = "none"
    return app


# ------------------------------------------------------------------------------------------------ real sweeps


@pytest.mark.timeout(150)
async def test_sweep_fills_the_table_live_and_saves_one_sweep_record(shared_cache):
    cores = _cores()[:2]
    threads = "1,2" if len(cores) >= 2 else "1"
    app = _real_app(cores)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_sweep(pilot, app, threads=threads, batch="1,2" if len(cores) < 2 else "1")
        screen.query_one("#sweep-duration", Input).value = "0.2"
        screen.query_one("#sweep-warmup", Input).value = "0.05"
        await pilot.pause(0.05)
        assert "2 cells" in str(screen.query_one("#sweep-status").render())
        screen.query_one("#sweep-threads", Input).focus()
        await pilot.press("enter")  # enter in a field starts (r would be typed into it)
        assert screen.running
        table = screen.query_one("#sweep-table", DataTable)
        # the table fills as cells finish, before the sweep is over
        assert await wait_for(pilot, lambda: table.row_count >= 1, 90)
        assert await wait_for(pilot, lambda: not screen.running, 90)
        await pilot.pause(0.1)
        rows = table_rows(table)
        assert len(rows) == 2
        for row in rows:
            engine, prec, thr, batch, mode, p50, p99, items, rss, parity, status = row
            assert engine in ("onnxruntime", "ort") and prec == "fp32" and mode == "latency"
            assert status == "ok", row
            assert float(p50) > 0 and float(p99) >= float(p50)
            assert float(items.replace(",", "")) > 0 and float(rss.replace(",", "")) > 0
            assert parity == "pass"
        assert sorted(r[2] for r in rows) == sorted(threads.split(",")) or len(cores) < 2
        assert "complete" in str(screen.query_one("#sweep-status").render())
        assert screen.query_one("#sweep-chart-box").has_class("-drawn")  # items/s vs threads drawn
        # one history record: the sweep, saved by Sweep itself; History lists it
        runs = stored_runs()
        assert [r.kind for r in runs] == ["sweep"]
        sweep = runs[0]
        assert sweep.run_id == screen.record.run_id
        assert sweep.sweep["state"] == "complete" and len(sweep.results) == 2
        assert any(sweep.run_id in m and sev == "information" for m, sev in notes(app)), notes(app)
        assert await wait_for(pilot, lambda: [r.run_id for r in app.query_one("#history").records] == [sweep.run_id])
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen), 5)


@pytest.mark.timeout(150)
async def test_stop_kills_the_cell_in_flight_keeps_finished_cells_and_names_resume(shared_cache):
    app = _real_app(_cores()[:1])
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_sweep(pilot, app, threads="1", batch="1,2,4", duration="1", warmup="0")
        screen.action_start()
        table = screen.query_one("#sweep-table", DataTable)
        assert await wait_for(pilot, lambda: table.row_count == 1, 90)
        # the second cell is under way (preparing its batch, or measuring for 1 s): stop lands in either
        await pilot.press("escape")  # a first escape during a sweep only asks
        await pilot.pause(0.05)
        assert isinstance(app.screen, SweepScreen) and screen.running
        assert any("escape again" in m for m, _ in notes(app))
        t0 = time.monotonic()
        await pilot.press("s")
        assert await wait_for(pilot, lambda: not screen.running, 15)
        assert time.monotonic() - t0 < 10
        await pilot.pause(0.1)
        record = screen.record
        assert record is not None
        stored = {r.run_id: r for r in stored_runs()}[record.run_id]
        assert stored.kind == "sweep" and stored.sweep["state"] == "interrupted"
        assert 1 <= len(stored.results) < 3 and all(r.ok for r in stored.results)
        assert table.row_count == len(stored.results)
        assert any(f"workbench sweep --resume {record.run_id}" in m for m, _ in notes(app)), notes(app)
        assert "stopped" in str(screen.query_one("#sweep-status").render())
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen), 5)


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("threads", "0", "threads: 0 must be >= 1"),
        ("threads", "1,x", "threads: 'x' is not a whole number"),
        ("threads", "64", "threads 64 needs 64 cores"),
        ("batch", "", "batch: give at least one number"),
        ("precisions", "fp8", "precision: must be among"),
        ("modes", "fast", "mode: must be among"),
        ("duration", "0", "duration: must be > 0 seconds"),
        ("warmup", "soon", "warm-up: 'soon' is not a number of seconds"),
    ],
)
async def test_bad_axis_input_notifies_one_line_and_starts_nothing(field, value, message):
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_sweep(pilot, app, **{field: value})
        widget = screen.query_one(f"#sweep-{field}", Input)
        assert message in str(screen.query_one("#sweep-status").render())  # said inline as it is typed
        widget.focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        errors = [m for m, sev in notes(app) if sev == "error"]
        assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
        assert not screen.running
        assert not [w for w in screen.workers if w.group == "sweep"]
        assert widget.has_class("-invalid") or field == "threads" and value == "64"
    assert stored_runs() == []


async def test_sweep_needs_a_valid_setup_and_is_in_the_palette():
    from workbench.tui.commands import workbench_commands

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "Sweep" in [name for name, _, _ in workbench_commands(app)]
        binding = next(b for b in app.BINDINGS if getattr(b, "action", None) == "sweep")
        assert binding.key == "w" and binding.id and binding.tooltip
        for box in app.query("#setup-engines Checkbox").results(Checkbox):
            box.value = False
        await pilot.pause(0.05)
        await pilot.press("w")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, SweepScreen)
        assert any(sev == "error" and "select at least one" in m for m, sev in notes(app)), notes(app)


# ------------------------------------------------------------------------------------------------ pure helpers


def test_default_threads_are_powers_of_two_up_to_the_pool():
    assert default_threads(1) == (1,)
    assert default_threads(2) == (1, 2)
    assert default_threads(7) == (1, 2, 4, 7)
    assert default_threads(8) == (1, 2, 4, 8)


def test_axis_parsing_follows_the_cli_rules():
    assert parse_ints("threads", "1, 2,2 4") == (1, 2, 4)
    for text in ("", "0", "-1", "1.5", "two"):
        with pytest.raises(UsageError):
            parse_ints("threads", text)
    assert parse_words("precision", "FP32,int8", ("fp32", "int8")) == ("fp32", "int8")
    with pytest.raises(UsageError):
        parse_words("precision", "fp8", ("fp32", "int8"))
    assert parse_seconds("warm-up", "0", positive=False) == 0.0
    for text in ("0", "-1", "nan", "inf", "x"):
        with pytest.raises(UsageError):
            parse_seconds("duration", text, positive=True)


def _c(engine: str, threads: int, thr: float | None, batch: int = 1, status: str = "ok") -> Cell:
    """TEST FIXTURE DATA: a hand-made cell."""
    return Cell(
        key=f"{engine}|fp32|t{threads}|b{batch}|latency|s-|r-|sp0",
        engine=engine,
        model="m",
        precision="fp32",
        threads=threads,
        batch=batch,
        mode="latency",
        streams=None,
        requests=None,
        sparsity=0.0,
        status=status,
        error=None if status == "ok" else "boom",
        throughput=thr,
    )


def test_throughput_series_one_line_per_engine_labelled_by_what_differs():
    cells = [_c("ort", 1, 10.0), _c("ov", 1, 12.0), _c("ort", 2, 18.0), _c("ov", 2, None, status="failed")]
    assert throughput_series(cells) == {"ort": [(1, 10.0), (2, 18.0)], "ov": [(1, 12.0)]}
    cells = [_c("ort", 1, 10.0), _c("ort", 1, 30.0, batch=8), _c("ort", 2, 50.0, batch=8)]
    assert throughput_series(cells) == {"ort b1": [(1, 10.0)], "ort b8": [(1, 30.0), (2, 50.0)]}
    assert throughput_series([]) == {}


# ------------------------------------------------------------------------------------------------ snapshot


def test_sweep_screen_before_start(snap_compare):
    """80×24, TEST FIXTURE DATA (fixed engines, models and 8 CPUs): the form with its defaults, nothing measured."""

    async def run_before(pilot) -> None:
        await pilot.press("w")
        await pilot.pause(0.2)

    assert snap_compare(fixture_app(), terminal_size=SIZE, run_before=run_before)
