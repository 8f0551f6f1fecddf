"""The History pane driven with Pilot: filter, sort, columns at 80×24 and 120×40, tags, delete, export; the export
dialog; `workbench history tag`. Records are TEST FIXTURE DATA (tests/snapshot_apps/tui_fixtures.py)."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from cli_helpers import run_cli
from snapshot_apps.tui_fixtures import fixture_app, fixture_record
from tui_helpers import notes, stored_runs, table_rows, wait_for

from workbench.store.history import HistoryStore
from workbench.tui.dialogs import ConfirmDialog, ExportDialog, TagDialog
from workbench.tui.widgets.history import HistoryPane, HistoryTable
from workbench.tui.widgets.results import ResultsView

pytestmark = pytest.mark.anyio
SMALL, BIG = (80, 24), (120, 40)


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(autouse=True)
def _utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def history_records():
    """Four runs (TEST FIXTURE DATA): two models, one bf16, tags on two."""
    a = fixture_record("aaaa00000001", "2001-02-01T12:00:00+00:00", scale=1.2)
    b = replace(fixture_record("bbbb00000002", "2001-02-02T12:00:00+00:00", scale=0.8), tags=["ci", "nightly"])
    c = fixture_record("cccc00000003", "2001-02-03T12:00:00+00:00", scale=1.0)
    c = replace(
        c,
        model={**c.model, "name": "mobilenet_v3_small"},
        results=[replace(r, precision_effective="bf16") for r in c.results],
        config={**c.config, "precision": "bf16", "threads": 4, "cores": [0, 1, 2, 3]},
    )
    d = replace(fixture_record("dddd00000004", "2001-02-04T12:00:00+00:00", scale=0.5), tags=["baseline"])
    return [d, c, b, a]  # newest first, as the store lists them


def _store_records():
    store = HistoryStore()
    store.import_records(history_records())
    return store


def _ids(app) -> list[str]:
    return [r.run_id for r in app.query_one(HistoryPane).view]


async def _open(pilot, n: int = 4):
    app = pilot.app
    assert await wait_for(pilot, lambda: app.query_one("#history-table").row_count == n, 10)
    app.query_one("#history-table").focus()
    await pilot.pause(0.05)


# ------------------------------------------------------------------------------------------------------ filter


async def test_slash_filters_as_you_type_and_escape_restores():
    app = fixture_app(history=history_records())
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("slash")
        assert app.focused is app.query_one("#history-filter")
        await pilot.press(*"mobilenet")
        await pilot.pause(0.05)
        assert _ids(app) == ["cccc00000003"]
        await pilot.press("escape")  # clears and leaves the field
        await pilot.pause(0.05)
        assert isinstance(app.focused, HistoryTable)
        assert _ids(app) == ["dddd00000004", "cccc00000003", "bbbb00000002", "aaaa00000001"]
        assert not app.query_one("#history-filter").display
        # every word must match: a tag and an engine; enter keeps the filter and goes back to the table
        await pilot.press("slash", *"nightly ort", "enter")
        await pilot.pause(0.05)
        assert _ids(app) == ["bbbb00000002"]
        assert isinstance(app.focused, HistoryTable)
        assert "1 of 4 runs" in str(app.query_one("#history-hint").render())
        # escape on the table clears a filter that is set
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert len(_ids(app)) == 4
        # precision and run id are searched too
        await pilot.press("slash", *"bf16", "enter")
        await pilot.pause(0.05)
        assert _ids(app) == ["cccc00000003"]
        await pilot.press("slash", "ctrl+u", *"dddd", "enter")
        await pilot.pause(0.05)
        assert _ids(app) == ["dddd00000004"]


async def test_letters_typed_in_the_filter_never_tag_delete_or_export():
    _store_records()
    app = fixture_app(history=None)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("slash", *"tde", "q", "r", "o")  # each a key elsewhere: here they are text
        await pilot.pause(0.2)
        assert app.query_one("#history-filter").value == "tdeqro"
        assert not isinstance(app.screen, (ConfirmDialog, TagDialog, ExportDialog))
        assert app.is_running and not app.running
        assert len(stored_runs()) == 4


# -------------------------------------------------------------------------------------------------------- sort


async def test_o_cycles_the_sort_column_and_shift_o_reverses():
    app = fixture_app(history=history_records())
    async with app.run_test(size=BIG) as pilot:
        await _open(pilot)
        assert _ids(app) == ["dddd00000004", "cccc00000003", "bbbb00000002", "aaaa00000001"]  # newest first
        pane = app.query_one(HistoryPane)
        await pilot.press("o")  # next column: model, A-Z
        await pilot.pause(0.05)
        assert pane.sort_by == ("model", False)
        assert _ids(app)[0] == "cccc00000003"  # mobilenet before resnet18
        for _ in range(3):  # on to the best p50 (fastest first): engines comes first when it is shown
            if pane.sort_by[0] != "best":
                await pilot.press("o")
        await pilot.pause(0.05)
        assert pane.sort_by == ("best", False)
        assert _ids(app) == ["dddd00000004", "bbbb00000002", "cccc00000003", "aaaa00000001"]
        header = [str(c.label).strip() for c in app.query_one(HistoryTable).columns.values()]
        assert "p50 ms ▲" in header
        await pilot.press("O")
        await pilot.pause(0.05)
        assert _ids(app) == ["aaaa00000001", "cccc00000003", "bbbb00000002", "dddd00000004"]


async def test_a_header_click_sorts_by_that_column():
    app = fixture_app(history=history_records())
    async with app.run_test(size=BIG) as pilot:
        await _open(pilot)
        table = app.query_one(HistoryTable)
        column = list(table.columns).index("run")
        table.post_message(table.HeaderSelected(table, list(table.columns)[column], column, table.columns["run"].label))
        await pilot.pause(0.05)
        assert _ids(app) == ["aaaa00000001", "bbbb00000002", "cccc00000003", "dddd00000004"]
        table.post_message(table.HeaderSelected(table, list(table.columns)[column], column, table.columns["run"].label))
        await pilot.pause(0.05)
        assert _ids(app) == ["dddd00000004", "cccc00000003", "bbbb00000002", "aaaa00000001"]


# ----------------------------------------------------------------------------------------------------- columns


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["80x24", "120x40"])
async def test_columns_fit_and_run_ids_are_never_cut(size):
    app = fixture_app(history=history_records())
    async with app.run_test(size=size) as pilot:
        await _open(pilot)
        table = app.query_one(HistoryTable)
        keys = [str(k.value) for k in table.columns]
        assert {"mark", "model", "best", "run"} <= set(keys)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
        rows = table_rows(table)
        assert [r[keys.index("run")] for r in rows] == _ids(app)  # whole ids, 12 characters
        assert {"precision", "threads"} <= set(keys)  # what ran, before engines and mode
        by_id = {r[keys.index("run")]: r for r in rows}
        assert by_id["cccc00000003"][keys.index("precision")] == "bf16"
        assert by_id["cccc00000003"][keys.index("threads")] == "4"
        if "tags" in keys:
            assert by_id["bbbb00000002"][keys.index("tags")] == "ci,nightly"
        if "cores" in keys:
            assert by_id["cccc00000003"][keys.index("cores")] == "0-3"


async def test_a_wider_pane_shows_more_columns():
    app = fixture_app(history=history_records())
    async with app.run_test(size=(200, 24)) as pilot:  # narrow layout (one view), 196 columns for the table
        await _open(pilot)
        keys = [str(k.value) for k in app.query_one(HistoryTable).columns]
        assert keys == [
            "mark",
            "when",
            "model",
            "engines",
            "best",
            "precision",
            "threads",
            "cores",
            "mode",
            "tags",
            "run",
        ]


# -------------------------------------------------------------------------------------------------------- tags


async def test_t_tags_the_highlighted_run_and_the_tag_is_stored():
    _store_records()
    app = fixture_app(history=None)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("down", "down")  # bbbb00000002: ci, nightly
        await pilot.press("t")
        await pilot.pause(0.1)
        assert isinstance(app.screen, TagDialog)
        field = app.screen.query_one("#tag-input")
        assert field.value == "ci nightly"
        # delete "nightly", add "release": typed letters (d, t, e) stay in the field
        await pilot.press("ctrl+u", *"ci release", "enter")
        assert await wait_for(pilot, lambda: "release" in HistoryStore().get("bbbb00000002").tags, 10)
        assert HistoryStore().get("bbbb00000002").tags == ["ci", "release"]
        assert await wait_for(pilot, lambda: "release" in app.query_one(HistoryPane).records[2].tags, 10)
    # reopened: the tag is there
    assert HistoryStore().get("bbbb00000002").tags == ["ci", "release"]
    assert [r.run_id for r in HistoryStore().list(tag="release")] == ["bbbb00000002"]


async def test_t_on_marked_runs_adds_to_each_and_escape_changes_nothing():
    _store_records()
    app = fixture_app(history=None)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("space", "down", "space", "t")  # dddd (baseline), cccc (none)
        await pilot.pause(0.1)
        assert isinstance(app.screen, TagDialog)
        await pilot.press(*"junk", "escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, TagDialog)
        await pilot.press("t")
        await pilot.pause(0.1)
        assert app.screen.query_one("#tag-input").value == ""  # no tag on both
        await pilot.press(*"perf", "enter")
        assert await wait_for(pilot, lambda: "perf" in HistoryStore().get("cccc00000003").tags, 10)
        assert HistoryStore().get("dddd00000004").tags == ["baseline", "perf"]
        assert HistoryStore().get("aaaa00000001").tags == []


# ------------------------------------------------------------------------------------------------------ delete


async def test_d_asks_n_keeps_y_deletes_from_the_store():
    _store_records()
    app = fixture_app(history=None)
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("d")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "dddd00000004" in body and "Delete run dddd00000004" in body
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmDialog)
        assert len(stored_runs()) == 4
        await pilot.press("d", "enter")  # enter is "keep": the safe button has the focus
        await pilot.pause(0.2)
        assert len(stored_runs()) == 4
        # two marked runs: both named, both deleted
        await pilot.press("space", "down", "space", "d")
        await pilot.pause(0.1)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "2 runs" in body and "dddd00000004" in body and "cccc00000003" in body
        await pilot.press("y")
        assert await wait_for(pilot, lambda: len(stored_runs()) == 2, 10)
        assert await wait_for(pilot, lambda: app.query_one("#history-table").row_count == 2, 10)
        assert {r.run_id for r in stored_runs()} == {"bbbb00000002", "aaaa00000001"}
        assert app.query_one(HistoryPane).marked == ()


# ------------------------------------------------------------------------------------------------------ export


async def test_export_dialog_writes_the_chosen_format_to_the_chosen_path(tmp_path, workbench_home):
    app = fixture_app(history=history_records())
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("space", "down", "space", "e")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExportDialog)
        field = app.screen.query_one("#export-path")
        assert field.value == str(workbench_home / "workbench-dddd00000004-cccc00000003.json")
        # CSV: the suffix follows the format
        app.screen.query_one("#export-csv").value = True
        await pilot.pause(0.05)
        assert field.value.endswith("workbench-dddd00000004-cccc00000003.csv")
        # a missing folder is one line, and nothing is written
        field.value = str(tmp_path / "nope" / "runs.csv")
        await pilot.press("enter")
        await pilot.pause(0.1)
        error = str(app.screen.query_one("#export-error").render())
        assert "does not exist" in error and "\n" not in error.strip()
        assert isinstance(app.screen, ExportDialog)
        # HTML is one run per page
        app.screen.query_one("#export-html").value = True
        field.value = str(tmp_path / "runs.html")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "one run per page" in str(app.screen.query_one("#export-error").render())
        app.screen.query_one("#export-csv").value = True
        field.value = str(tmp_path / "runs.csv")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: (tmp_path / "runs.csv").is_file(), 10)
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ExportDialog)
        assert any(str(tmp_path / "runs.csv") in m for m, _ in notes(app))
    lines = (tmp_path / "runs.csv").read_text().splitlines()
    assert len(lines) == 1 + 4  # the header, then two runs × two engines
    assert {line.split(",")[0] for line in lines[1:]} == {"dddd00000004", "cccc00000003"}


async def test_export_of_an_existing_file_asks_before_overwriting(tmp_path):
    target = tmp_path / "run.md"
    target.write_text("keep me")
    app = fixture_app(history=history_records())
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("e")
        await pilot.pause(0.1)
        app.screen.query_one("#export-markdown").value = True
        app.screen.query_one("#export-path").value = str(target)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExportDialog) and target.read_text() == "keep me"
        await pilot.press("enter", "y")
        assert await wait_for(pilot, lambda: target.read_text() != "keep me", 10)
        assert "dddd00000004" in target.read_text()


async def test_main_e_opens_the_export_dialog_for_the_current_results(workbench_home):
    app = fixture_app()
    async with app.run_test(size=SMALL) as pilot:
        rec = fixture_record()
        app.show_results(ResultsView(results=tuple(rec.results), record=rec, fixture=True))
        await pilot.pause(0.1)
        await pilot.press("e")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExportDialog)
        assert [r.run_id for r in app.screen.records] == ["fixture0001"]
        app.screen.query_one("#export-html").value = True
        await pilot.pause(0.05)
        await pilot.press("enter")
        path = workbench_home / "workbench-fixture0001.html"
        assert await wait_for(pilot, path.is_file, 10)
        assert path.read_text().lstrip().lower().startswith("<!doctype html")


async def test_the_run_detail_screen_exports_through_the_same_dialog(workbench_home):
    from workbench.tui.screens import RunDetailScreen

    app = fixture_app(history=history_records())
    async with app.run_test(size=SMALL) as pilot:
        await _open(pilot)
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunDetailScreen)
        await pilot.press("e")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExportDialog)
        assert [r.run_id for r in app.screen.records] == ["dddd00000004"]
        await pilot.press("escape")  # cancels the export, back to the run
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunDetailScreen)
        assert not list(workbench_home.glob("workbench-*"))


# ------------------------------------------------------------------------------------------------- headless tag


def test_cli_history_tag_adds_and_removes(capsys):
    _store_records()
    assert run_cli(["history", "tag", "aaaa", "ci", "perf"]) == 0
    assert "ci, perf" in capsys.readouterr().out
    assert HistoryStore().get("aaaa00000001").tags == ["ci", "perf"]
    assert run_cli(["history", "tag", "aaaa", "ci", "--remove", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": "aaaa00000001", "tags": ["perf"]}
    assert [r.run_id for r in HistoryStore().list(tag="perf")] == ["aaaa00000001"]
    from workbench.errors import UsageError

    with pytest.raises(UsageError, match="one word"):
        run_cli(["history", "tag", "aaaa", "two words"])
    assert HistoryStore().get("aaaa00000001").tags == ["perf"]


# --------------------------------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["80x24", "120x40"])
def test_history_snapshot(snap_compare, size):
    """Four runs with tags, one marked, sorted by p50 (TEST FIXTURE DATA); the columns that fit the pane."""

    async def run_before(pilot) -> None:
        pane = pilot.app.query_one(HistoryPane)
        pilot.app.query_one("#history-table").focus()
        await pilot.pause(0.1)
        await pilot.press("space")
        pane.sort_by = ("best", False)
        await pilot.pause(0.1)

    assert snap_compare(fixture_app(history=history_records()), terminal_size=size, run_before=run_before)


def test_export_dialog_snapshot(snap_compare):
    async def run_before(pilot) -> None:
        pilot.app.query_one("#history-table").focus()
        await pilot.pause(0.1)
        pilot.app.push_screen(ExportDialog(history_records()[:2], "csv"))
        await pilot.pause(0.1)
        pilot.app.screen.query_one("#export-path").value = "/fixture/exports/runs.csv"  # not the test's tmp path
        await pilot.pause(0.1)

    assert snap_compare(fixture_app(history=history_records()), terminal_size=SMALL, run_before=run_before)
