"""The Sweep screen (w): a real sweep filling the table live and saved as one history record, stop with the resume
hint, a stored sweep opened from History (enter) and resumed with r without repeating a cell, the sweeps r refuses
(one line each), bad axis input, the parsing helpers, and an SVG snapshot at 80×24 before start (TEST FIXTURE DATA
only)."""

from __future__ import annotations

import os
import time

import pytest
from snapshot_apps.tui_fixtures import fixture_app
from textual.widgets import Checkbox, DataTable, Input
from tui_helpers import notes, stored_runs, table_rows, wait_for

from workbench.campaign.axes import default_threads, parse_ints, parse_seconds, parse_words
from workbench.errors import UsageError
from workbench.stats.scaling import Cell
from workbench.tui.app import WorkbenchApp
from workbench.tui.sweep import SweepScreen
from workbench.tui.widgets.sweep_chart import throughput_series

SIZE = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


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
        assert any("from History (enter on the sweep, then r)" in m for m, _ in notes(app)), notes(app)
        status = str(screen.query_one("#sweep-status").render())
        assert "stopped" in status and "resume from History" in status
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen), 5)


# ------------------------------------------------------------------------------------------------ stored sweeps


def _interrupted_sweep(cores: list[int]):
    """A real sweep of tiny_cnn on onnxruntime (2 cells of 0.2 s), stopped from its own events after the first cell
    finished: an interrupted sweep in the history with 1 finished cell."""
    from workbench.campaign.cells import SweepSpec
    from workbench.campaign.sweep import Sweep, SweepInterrupted
    from workbench.store.history import HistoryStore

    spec = SweepSpec(
        model="tiny_cnn",
        engines=("onnxruntime",),
        threads=(1, 2) if len(cores) >= 2 else (1,),
        batches=(1,) if len(cores) >= 2 else (1, 2),
        cores=tuple(cores),
        duration_s=0.2,
        warmup_s=0.05,
        parity=False,
    )
    made: dict = {}

    def on_event(event) -> None:
        if getattr(event, "kind", None) == "cell_finished" and event.done == 1:
            made["sweep"].cells.stop()

    made["sweep"] = Sweep(spec, store=HistoryStore(), on_event=on_event)
    with pytest.raises(SweepInterrupted) as stopped:
        made["sweep"].run()
    return stopped.value.record


async def _open_stored(pilot, app, run_id: str) -> SweepScreen:
    """Select ``run_id``'s row in the History pane and press enter."""
    table = app.query_one("#history-table", DataTable)
    history = app.query_one("#history")
    assert await wait_for(pilot, lambda: run_id in [r.run_id for r in history.records], 10)
    table.focus()
    table.move_cursor(row=[r.run_id for r in history.records].index(run_id))
    await pilot.press("enter")
    assert await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), 5)
    await pilot.pause(0.05)
    return app.screen


def _status(screen: SweepScreen) -> str:
    return str(screen.query_one("#sweep-status").render())


def _keys(record) -> list[str]:
    return [str((r.cell or {}).get("key")) for r in record.results]


@pytest.mark.timeout(120)
async def test_enter_on_an_interrupted_sweep_shows_it_and_r_resumes_it_without_repeating_cells(shared_cache):
    from workbench.campaign.sweep import sweep_cells
    from workbench.store.history import HistoryStore

    cores = _cores()[:2]
    record = _interrupted_sweep(cores)
    assert record.sweep["state"] == "interrupted" and len(record.results) == 1
    first_p50 = record.results[0].latency_ms["p50"]
    app = _real_app(cores)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_stored(pilot, app, record.run_id)
        assert screen.stored is not None and screen.record.run_id == record.run_id
        table = screen.query_one("#sweep-table", DataTable)
        assert table.row_count == 1
        assert "interrupted · 1/2 cells" in _status(screen), _status(screen)
        # the stored axes are shown and cannot change
        threads = screen.query_one("#sweep-threads", Input)
        assert threads.value == ",".join(map(str, screen.stored.threads))
        assert threads.disabled or screen.query_one("#sweep-form").disabled
        before = table_rows(table)[0]
        await pilot.press("r")
        assert screen.running
        assert await wait_for(pilot, lambda: not screen.running, 60)
        await pilot.pause(0.1)
        assert "complete · 2/2 cells" in _status(screen), _status(screen)
        assert table.row_count == 2 and table_rows(table)[0] == before
        stored = HistoryStore().get(record.run_id)
        assert stored.sweep["state"] == "complete"
        assert sorted(_keys(stored)) == sorted(c.key() for c in sweep_cells(screen.stored)[0])
        assert len(set(_keys(stored))) == len(_keys(stored)) == 2  # no cell ran twice
        assert stored.results[0].latency_ms["p50"] == first_p50  # the first cell was kept, not measured again
        assert all(r.ok for r in stored.results)
        # a complete sweep: r says why in one line and starts nothing
        n = len(app._notifications)
        await pilot.press("r")
        await pilot.pause(0.1)
        assert not screen.running
        said = notes(app)[n:]
        assert len(said) == 1 and "is complete: nothing to resume" in said[0][0], said
        assert len(HistoryStore().get(record.run_id).results) == 2
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen), 5)


def _fixture_sweep(run_id: str, created: str, **sweep):
    """TEST FIXTURE DATA: a hand-made stored sweep (no cell measured) of tiny_cnn on onnxruntime, 1 cell."""
    import socket

    from workbench.campaign.cells import SweepSpec
    from workbench.result import RunRecord

    spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime",), threads=(1,), duration_s=0.2, warmup_s=0.05)
    info = {"spec": spec.to_dict(), "state": "interrupted", "cells_total": 1, "cells_done": 0, "pid": os.getpid()}
    info.update(host=socket.gethostname())
    info.update(sweep)
    return RunRecord(
        run_id=run_id,
        created=created,
        model={"name": "tiny_cnn", "source": "tiny_cnn"},
        config={"model": "tiny_cnn", "engines": ["onnxruntime"], "device": "cpu"},
        system={},
        versions={},
        results=[],
        kind="sweep",
        sweep=info,
    )


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_stored_sweeps_that_cannot_resume_say_why_in_one_line_and_start_nothing():
    """TEST FIXTURE DATA records: another host's sweep, a fleet sweep, one still running here, one killed with -9."""
    from workbench.store.history import HistoryStore

    store = HistoryStore()
    cases = {
        "fixswp0001": (dict(host="node-elsewhere"), "interrupted", "was started on node-elsewhere; resume it there"),
        "fixswp0002": (
            dict(state="running", pid=None, fleet={"sweep_id": "fl123"}),
            "running elsewhere",  # a fleet sweep's state is what its last collect saw: cells still on the cluster
            "`workbench fleet resubmit fl123 --failed`",
        ),
        "fixswp0003": (dict(state="running"), "running elsewhere", "is still running in another process"),
    }
    for i, (run_id, (sweep, _, _)) in enumerate(cases.items()):
        store.put(_fixture_sweep(run_id, f"2026-01-0{i + 1}T10:00:00+00:00", **sweep))
    killed = _fixture_sweep("fixswp0004", "2026-01-05T10:00:00+00:00", state="running", pid=_dead_pid())
    store.put(killed)
    app = fixture_app(history=None)
    async with app.run_test(size=SIZE) as pilot:
        for run_id, (_, state, line) in cases.items():
            screen = await _open_stored(pilot, app, run_id)
            assert f"{state} · 0/1 cells" in _status(screen), _status(screen)
            n = len(app._notifications)
            await pilot.press("r")
            assert await wait_for(pilot, lambda n=n, s=screen: len(app._notifications) > n and not s.running, 10)
            said = notes(app)[n:]
            assert len(said) == 1 and line in said[0][0] and "\n" not in said[0][0], said
            assert not screen.running and screen.query_one("#sweep-table", DataTable).row_count == 0
            await pilot.press("escape")
            assert await wait_for(pilot, lambda: not isinstance(app.screen, SweepScreen), 5)
        # killed with -9: it still says running, but its process is gone: interrupted, and r would resume it
        screen = await _open_stored(pilot, app, "fixswp0004")
        assert "interrupted · 0/1 cells · r resumes" in _status(screen), _status(screen)
    for run_id in (*cases, "fixswp0004"):
        assert store.get(run_id).results == []  # nothing ran


async def test_enter_on_a_plain_run_still_opens_the_run_detail():
    from workbench.tui.screens import RunDetailScreen

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.query_one("#history-table").row_count >= 1, 5)
        app.query_one("#history-table").focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunDetailScreen)


def test_check_sweep_spec_counts_the_cells_a_sweep_runs():
    from workbench.campaign.cells import SweepSpec, expand
    from workbench.tui import services

    spec = SweepSpec(model="tiny_cnn", engines=("onnxruntime", "torch"), modes=("latency", "train"), threads=(1,))
    assert len(expand(spec)) == 4
    assert services.check_sweep_spec(spec) == 3  # onnxruntime has no train mode: its train cell is left out
    with pytest.raises(UsageError, match="no cell of this sweep can run"):
        services.check_sweep_spec(SweepSpec(model="tiny_cnn", engines=("onnxruntime",), modes=("train",)))


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


def test_the_cli_and_the_screen_parse_an_axis_by_one_rule():
    import argparse

    from workbench.cli.sweep import _ints

    assert _ints("1, 2,2 4") == parse_ints("threads", "1, 2,2 4") == (1, 2, 4)
    for text in ("", "0", "1.5"):
        with pytest.raises(UsageError) as ui:
            parse_ints("threads", text)
        with pytest.raises(argparse.ArgumentTypeError) as cli:
            _ints(text)
        assert str(ui.value) == f"threads: {cli.value}"


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


async def test_the_chart_draws_at_most_six_lines_and_says_how_many_more():
    """TEST FIXTURE DATA: a stored sweep whose 8 cells are 8 different settings (like a recommendation's)."""
    from workbench.campaign.cells import CellSpec
    from workbench.result import EngineResult
    from workbench.store.history import HistoryStore

    rec = _fixture_sweep("fixswp0100", "2026-01-09T10:00:00+00:00", state="complete", cells_total=8, cells_done=8)
    for b in range(1, 9):
        cell = CellSpec("onnxruntime", threads=1, batch=b)
        rec.results.append(
            EngineResult(
                engine="onnxruntime", model="tiny_cnn", batch=b, threads=1, latency_ms={"p50": 1.0 * b},
                throughput=1000.0, cell=cell.to_dict() | {"key": cell.key()},
            )
        )  # fmt: skip
    HistoryStore().put(rec)
    app = fixture_app(history=None)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _open_stored(pilot, app, "fixswp0100")
        assert screen.query_one("#sweep-table", DataTable).row_count == 8
        title = str(screen.query_one("#sweep-chart-title").render())
        assert "+2 more in the table" in title and title.count("●") == 6
