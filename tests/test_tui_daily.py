"""The TUI as a daily tool (issue 19): a Live view that fits, a layout that gives the room to what matters, a Setup
that guides and remembers, a Sweep screen that is safe to type in, notifications that cover nothing, aligned help.

Keys during a run (Esc never stops it, s/q ask first) are in tests/test_tui.py; the History pane's filter, sort,
tags, delete and export dialog in tests/test_tui_history.py; the same through a real terminal in
tests/test_tui_tmux.py.
"""

from __future__ import annotations

import json

import pytest
from snapshot_apps.tui_fixtures import feed_live, fixture_app, fixture_live_events, fixture_record
from textual.widgets import Checkbox, Input
from tui_helpers import notes, wait_for

from workbench.tui.widgets.histchart import LatencyHistogram, layout, tick_row
from workbench.tui.widgets.live import EngineLive, LivePane
from workbench.tui.widgets.results import ResultsPane, ResultsTable, ResultsView
from workbench.units import eta, parse_seconds_text

pytestmark = pytest.mark.anyio

SIZE = (80, 24)
WIDE = (120, 40)


@pytest.fixture
def anyio_backend():
    return "asyncio"


# ----------------------------------------------------------------------------------------------------- live view


def _progress_hist(name: str) -> dict:
    return next(e for e in fixture_live_events() if getattr(e, "kind", "") == "progress" and e.engine == name).hist


def test_one_slow_outlier_cannot_squeeze_the_histogram_into_a_column():
    """The live bins are log-spaced from p0.1 to p99 (what lies beyond is counted as overflow): with a 40× outlier
    the body still spreads over many columns; linear bins up to the maximum would put it in one or two."""
    from workbench.stats.histogram import LogHistogram

    live = _progress_hist("torch")
    assert live["scale"] == "log" and live["overflow"] >= 1
    grid = layout([live], 76, 4)
    used = sum(1 for c in range(76) if grid[-1][c][0] > 0)
    assert used >= 25, used

    import numpy as np

    rng = np.random.default_rng(100)
    samples = rng.lognormal(np.log(4e6), 0.08, 600).astype(np.int64)
    samples[0] = int(160e6)
    h = LogHistogram()
    h.add(samples)
    linear = h.binned(40, hi_q=1.0)
    grid = layout([linear], 76, 4)
    tall = sum(1 for c in range(76) if grid[-1][c][0] >= 4)  # columns with at least half a row of data
    assert tall <= 3, tall


def test_the_axis_has_units_and_both_series_share_it():
    torch, baseline = _progress_hist("torch"), _progress_hist("torch fp32")
    grid = layout([baseline, torch], 60, 3)
    fronts = {c for c in range(60) if grid[-1][c][0]}
    backs = {c for c in range(60) if grid[-1][c][1]}
    assert fronts and backs and min(backs) > min(fronts)  # fp32 is slower: drawn further right on the same axis
    from workbench.tui.widgets.histchart import axis_for

    row = tick_row(axis_for([baseline, torch]), 60)
    assert row.endswith(" ms") and len(row) <= 60


@pytest.mark.parametrize("size", [SIZE, WIDE])
async def test_live_int8_run_shows_each_engine_with_its_fp32_row_a_readable_histogram_and_an_eta(size):
    app = fixture_app()
    async with app.run_test(size=size) as pilot:
        app.running = True
        await pilot.press("3")
        feed_live(app)
        await pilot.pause(0.3)
        widgets = list(app.query(EngineLive))
        assert [w.engine for w in widgets] == ["torch", "onnxruntime", "openvino"]  # baselines drawn in their engine
        for w in widgets:
            assert w.baseline is not None and w.baseline.progress is not None
            line = str(w.query_one(".engine-baseline").render())
            assert "fp32" in line and "p50" in line
            chart = w.query_one(LatencyHistogram)
            assert chart.size.height >= 3, (size, w.engine, chart.size)  # at least two rows of bars and the axis
            assert len(chart.series) == 2
        status = str(app.query_one("#live-status").render())
        assert "40%" in status and "ETA 12 s" in status


def test_eta_and_duration_texts():
    assert [eta(8.2), eta(185), eta(3725)] == ["9 s", "3 min 05 s", "1 h 02 min"]
    assert parse_seconds_text("500ms") == 0.5 and parse_seconds_text("2 min") == 120 and parse_seconds_text("5") == 5
    with pytest.raises(ValueError, match="not a duration"):
        parse_seconds_text("xyz")


# ------------------------------------------------------------------------------------------------------- layout


async def test_wide_layout_results_show_speedup_parity_and_warnings_and_idle_live_is_small():
    app = fixture_app()
    async with app.run_test(size=WIDE) as pilot:
        await pilot.pause(0.1)
        live, results = app.query_one(LivePane), app.query_one(ResultsPane)
        assert live.outer_size.height <= 7 < results.outer_size.height  # nothing ran yet: Live is a few lines
        rec = fixture_record()
        app.show_results(ResultsView(results=tuple(rec.results), record=rec, fixture=True))
        await pilot.pause(0.2)
        table = app.query_one(ResultsTable)
        keys = [c.value for c in table.columns]
        assert {"speedup", "parity", "warn", "p50_ms", "p99_ms"} <= set(keys)
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        rec = fixture_record()
        app.show_results(ResultsView(results=tuple(rec.results), record=rec, fixture=True))
        await pilot.pause(0.2)
        keys = [c.value for c in app.query_one(ResultsTable).columns]
        assert "mean_ms" in keys and "p90_ms" in keys  # 80 columns: the Results view has room for all of them


# -------------------------------------------------------------------------------------------------------- setup


def _tiny_onnx(path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    node = helper.make_node("Relu", ["x"], ["y"])
    model = helper.make_model(helper.make_graph([node], "tiny", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


async def test_a_model_file_ticks_only_its_readers_and_lists_its_inputs(tmp_path):
    path = _tiny_onnx(tmp_path / "relu.onnx")
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        ticks = {str(cb.name): cb for cb in app.query("#setup-engines Checkbox").results(Checkbox)}
        assert ticks["torch"].value and ticks["onnxruntime"].value
        app.query_one("#setup-path", Input).value = str(path)
        info = app.query_one("#setup-path-info")
        assert await wait_for(pilot, lambda: "read by" in str(info.render()), 10)
        text = str(info.render())
        assert "ONNX · read by onnxruntime" in text and "x  1×4  float32" in text
        assert not ticks["torch"].value and ticks["onnxruntime"].value  # torch cannot read an ONNX file
        app.query_one("#setup-path", Input).value = ""
        await pilot.pause(0.1)
        assert ticks["torch"].value and ticks["onnxruntime"].value  # the ticks come back


async def test_checkboxes_read_as_ticks_and_arrows_move_through_them():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        torch = app.query_one("#engine-torch", Checkbox)
        assert str(torch.render()).startswith("[✓]")
        torch.focus()
        await pilot.press("space")
        assert str(torch.render()).startswith("[ ]") and not torch.value
        await pilot.press("down")
        assert app.focused is app.query_one("#engine-onnxruntime")
        await pilot.press("up")
        assert app.focused is torch


async def test_tab_completes_a_model_path(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "detector_v4.onnx").write_bytes(b"x")
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        field = app.query_one("#setup-path", Input)
        field.focus()
        field.value = str(tmp_path / "mo")
        field.cursor_position = len(field.value)
        await pilot.press("tab")
        assert field.value == str(tmp_path / "models") + "/" and app.focused is field
        field.value += "det"
        field.cursor_position = len(field.value)
        await pilot.press("tab")
        assert field.value == str(tmp_path / "models" / "detector_v4.onnx")
        await pilot.press("tab")  # nothing left to complete: Tab moves on
        assert app.focused is not field


@pytest.mark.parametrize(
    "field, text, words",
    [
        ("setup-duration", "xyz", "duration: 'xyz' is not a duration"),
        ("setup-batch", "0", "batch: 0 — give a whole number of 1 or more"),
        ("setup-warmup", "-1", "warm-up: '-1' is not a duration"),
        ("setup-threads", "9", "threads: 9 is more than the 7 cores (1-7) the run is pinned to"),
    ],
)
async def test_every_field_says_what_is_wrong_in_words_before_a_run(field, text, words):
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        app.query_one(f"#{field}", Input).value = text
        await pilot.pause(0.1)
        shown = str(app.query_one("#setup-field-error").render())
        assert words in shown, shown
        assert app.query_one(f"#{field}", Input).has_class("-invalid")
        app.action_run_bench()
        await pilot.pause(0.1)
        assert not app.running and any(words in m for m, _ in notes(app))


async def test_durations_take_units_and_threads_fit_the_cores_given():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        app.query_one("#setup-duration", Input).value = "500ms"
        app.query_one("#setup-warmup", Input).value = "0.2 s"
        app.query_one("#setup-cores", Input).value = "2-3"
        app.query_one("#setup-threads", Input).value = "2"
        await pilot.pause(0.1)
        values = app.query_one("#setup").values()
        assert values["duration_s"] == 0.5 and values["warmup_s"] == 0.2 and values["threads"] == 2
        app.query_one("#setup-threads", Input).value = "3"
        await pilot.pause(0.1)
        assert "more than the 2 cores (2-3)" in str(app.query_one("#setup-field-error").render())


async def test_help_and_setup_agree_on_the_default_cores():
    from workbench.tui.screens import HelpScreen

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        hint = str(app.query_one("#setup-cores-hint").render())
        assert "run on 1-7" in hint and "core 0 kept for the UI" in hint
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        assert "empty: run on 1-7, core 0 kept for the UI" in " ".join(text.split())


async def test_the_last_setup_is_remembered_under_the_config_dir(monkeypatch, workbench_home):
    from workbench.tui import services

    started = []
    app = fixture_app(remember=True)
    monkeypatch.setattr(app, "start_run", lambda config: started.append(config))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        app.query_one("#setup-batch", Input).value = "4"
        app.query_one("#setup-duration", Input).value = "2 s"
        app.query_one("#engine-onnxruntime", Checkbox).value = False
        await pilot.pause(0.05)
        app.action_run_bench()
        assert await wait_for(pilot, lambda: services.setup_file().is_file(), 5)
    assert started and services.setup_file().parent == workbench_home / "config"
    saved = json.loads(services.setup_file().read_text())
    assert saved["batch"] == 4 and saved["duration_s"] == 2.0 and saved["engines"] == ["torch"]

    app = fixture_app(remember=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        assert app.query_one("#setup-batch", Input).value == "4"
        assert app.query_one("#setup-duration", Input).value == "2 s"
        assert not app.query_one("#engine-onnxruntime", Checkbox).value
        assert app.query_one("#engine-torch", Checkbox).value

    services.setup_file().write_text("{not json")
    app = fixture_app(remember=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        assert app.query_one("#setup-batch", Input).value == "1"  # the defaults
        assert any("last setup was not restored" in m for m, _ in notes(app))
    assert services.setup_file().read_text() == "{not json"  # reported, not deleted


# -------------------------------------------------------------------------------------------------------- sweep


async def _sweep_screen(pilot, app):
    from workbench.tui.sweep import SweepScreen

    await pilot.press("w")
    assert await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen), 5)
    await pilot.pause(0.1)
    return app.screen


async def test_sweep_fields_take_letters_as_text_and_engines_are_chosen_there():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_screen(pilot, app)
        field = screen.query_one("#sweep-threads", Input)
        field.focus()
        await pilot.press("end", "r", "s")
        await pilot.pause(0.1)
        assert field.value.endswith("rs") and not screen.running  # r typed into a field is text, not "start"
        field.value = "1"
        assert screen.chosen_engines() == ("torch", "onnxruntime")
        screen.query_one("#sweep-engine-onnxruntime", Checkbox).value = False
        await pilot.pause(0.1)
        assert screen.spec().engines == ("torch",)
        screen.query_one("#sweep-engine-torch", Checkbox).value = False
        await pilot.pause(0.1)
        assert "tick at least one engine" in str(screen.query_one("#sweep-status").render())


async def test_a_new_sweep_over_a_finished_one_asks_first(monkeypatch):
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await _sweep_screen(pilot, app)
        started = []
        monkeypatch.setattr(screen, "_sweep_worker", lambda spec, resume_id=None: started.append(spec))
        screen.results = [{"engine": "torch"}]  # a sweep was run here and is shown
        screen._sweep_id = "sweepshown01"
        screen.query_one("#sweep-table").focus()
        await pilot.press("r")
        await pilot.pause(0.1)
        assert not started
        assert any("Press r again to start a new sweep; sweep sweepshown01 stays saved" in m for m, _ in notes(app))
        await pilot.press("r")
        await pilot.pause(0.1)
        assert len(started) == 1


# ------------------------------------------------------------------------------------------------ notifications


async def test_notifications_show_in_the_title_line_and_give_it_back():
    from workbench.tui.widgets.titlebar import TitleBar

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(TitleBar)
        assert "Inference Workbench" in str(bar.render())
        # long enough that a busy machine (the suite runs on 2 cores) cannot let it lapse before it is looked for
        app.notify("the engine crashed", title="Run failed", severity="error", timeout=2.0)
        assert await wait_for(pilot, lambda: "Run failed: the engine crashed" in str(bar.render()), 2)
        assert bar.region.y == 0
        assert await wait_for(pilot, lambda: "Inference Workbench" in str(bar.render()), 6)


def test_help_descriptions_wrap_under_their_own_column():
    from workbench.tui.screens import HELP_KEY_WIDTH, help_content

    text = str(help_content([("Keys", [("ctrl+p", "word " * 40), ("q", "Quit")])], width=60))
    lines = text.splitlines()
    body = [line for line in lines[1:] if line.strip()]
    assert len(body) >= 4 and all(len(line) <= 60 for line in body)
    indent = " " * (2 + HELP_KEY_WIDTH)
    assert body[0].startswith("  ctrl+p") and all(line.startswith(indent + "word") for line in body[1:-1])
    assert body[-1].startswith("  q")


# ------------------------------------------------------------------------------------------- load, energy, cost


async def test_setup_runs_a_loadgen_scenario_and_checks_its_settings():
    from textual.widgets import Select

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        assert not app.query_one("#setup-server-row").display
        assert "scenario" not in app.query_one("#setup").values()  # no load: back-to-back calls
        app.query_one("#setup-scenario", Select).value = "server"
        await pilot.pause(0.1)
        assert app.query_one("#setup-server-row").display
        app.query_one("#setup-qps", Input).value = "0"
        await pilot.pause(0.1)
        assert "target QPS: 0 — give a rate above 0" in str(app.query_one("#setup-field-error").render())
        app.query_one("#setup-qps", Input).value = "40"
        app.query_one("#setup-bound", Input).value = "250ms"
        await pilot.pause(0.1)
        values = app.query_one("#setup").values()
        assert (values["scenario"], values["target_qps"], values["latency_bound_ms"]) == ("server", 40.0, 250.0)
        app.query_one("#setup-scenario", Select).value = "offline"
        await pilot.pause(0.1)
        assert app.query_one("#setup").values()["scenario"] == "offline"
        assert not app.query_one("#setup-server-row").display


async def test_results_table_shows_energy_cost_and_loadgen_columns_only_when_measured():
    from dataclasses import replace

    rec = fixture_record()
    plain = [c for c in rec.results]
    measured = [
        replace(
            r,
            energy={"status": "measured", "j_per_item": 0.5, "items_per_j": 2.0},
            cost={"usd_per_million": 4.25},
            scenario="server",
            loadgen={"validity": "VALID", "qps": 39.9},
        )
        for r in plain
    ]
    app = fixture_app()
    async with app.run_test(size=WIDE) as pilot:
        app.show_results(ResultsView(results=tuple(plain), record=rec, fixture=True))
        await pilot.pause(0.2)
        keys = {c.value for c in app.query_one(ResultsTable).columns}
        assert not keys & {"items_per_j", "usd_per_million", "loadgen_validity", "loadgen_qps"}
        app.show_results(ResultsView(results=tuple(measured), record=rec, fixture=True))
        await pilot.pause(0.2)
        table = app.query_one(ResultsTable)
        keys = [c.value for c in table.columns]
        assert {"loadgen_validity", "speedup", "parity", "warn"} <= set(keys)  # narrower columns went first
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width
        row = [str(c).strip() for c in table.get_row_at(0)]
        assert "VALID" in row
        detail = str(app.query_one("#results-detail-text").render())
        assert "LoadGen server VALID · 39.90 QPS" in detail and "0.5000 J/item" in detail
        assert "$4.250 per million items" in detail
    app = fixture_app()
    async with app.run_test(size=(170, 40)) as pilot:
        app.show_results(ResultsView(results=tuple(measured), record=rec, fixture=True))
        await pilot.pause(0.2)
        keys = [c.value for c in app.query_one(ResultsTable).columns]
        assert {"items_per_j", "usd_per_million", "loadgen_qps", "loadgen_validity"} <= set(keys)
