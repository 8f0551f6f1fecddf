"""The TUI driven with Textual's Pilot at 80×24: real runs, stop, errors, help, monitor, export, hygiene."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from snapshot_apps.tui_fixtures import fixture_app, fixture_record
from textual.widgets import Input
from tui_helpers import notes, stored_runs, table_rows, wait_for

from workbench.errors import ModelError, RunFailed
from workbench.tui.app import WorkbenchApp, readable_error
from workbench.tui.widgets.live import EngineLive, LivePane
from workbench.tui.widgets.results import ResultsPane, ResultsTable, ResultsView

HEAVY = ("torch", "openvino", "onnxruntime")
SIZE = (80, 24)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


# ------------------------------------------------------------------------------------------------ import hygiene


def test_importing_the_app_and_starting_it_imports_no_engine():
    """`import workbench.tui.app` and a started app (sysinfo, engine discovery, history) stay engine-free."""
    code = textwrap.dedent(
        """
        import asyncio, sys, time
        heavy = ("torch", "openvino", "onnxruntime")
        import workbench.tui.app as m
        after_import = [h for h in heavy if h in sys.modules]

        async def main():
            app = m.WorkbenchApp()
            async with app.run_test(size=(80, 24)) as pilot:
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    if app.query_one("#hardware").info and app.query_one("#setup").engines:
                        break
                    await pilot.pause(0.05)
                ready = bool(app.query_one("#setup").engines)
            return ready

        ready = asyncio.run(main())
        print("RESULT", after_import, [h for h in heavy if h in sys.modules], ready)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, "TERM": "dumb"}
    )
    line = next((l for l in out.stdout.splitlines() if l.startswith("RESULT")), None)
    assert line is not None, out.stdout + out.stderr
    assert line == "RESULT [] [] True", line


# ------------------------------------------------------------------------------------------------------ full run


@pytest.mark.timeout(120)
async def test_full_run_shows_live_progress_results_and_history(shared_cache):
    app = WorkbenchApp(
        live_cpu=False, initial=dict(model="tiny_cnn", engines=("onnxruntime", "torch"), duration_s=0.3, warmup_s=0.1)
    )
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: bool(app.query_one("#setup").engines), 20)
        await pilot.press("r")
        assert app.running and app.view == "live"
        # at least one live Progress update rendered: rolling p50 in an engine's stats line
        assert await wait_for(
            pilot,
            lambda: any(
                w.progress is not None and "p50" in str(w.query_one(".engine-stats").render())
                for w in app.query(EngineLive)
            ),
            90,
        )
        assert await wait_for(pilot, lambda: not app.running, 90)
        await pilot.pause(0.2)
        assert app.view == "results"
        rows = table_rows(app.query_one(ResultsTable))
        assert {r[0] for r in rows} == {"onnxruntime", "torch"}
        for row in rows:
            assert float(row[2]) > 0  # p50 in ms
        record = app.query_one(ResultsPane).record
        assert record is not None
        # saved once, by the app, and listed in History
        assert [r.run_id for r in stored_runs()] == [record.run_id]
        assert await wait_for(
            pilot, lambda: [r.run_id for r in app.query_one("#history").records][:1] == [record.run_id], 10
        )
        await pilot.press("1")
        assert app.query_one("#history-table").row_count == 1


# ------------------------------------------------------------------------------------------------ stop / crash


def _noop_runner(monkeypatch):
    """Runs use the harness's no-op engines on a pre-resolved artifact: real child processes, no model."""
    from workbench.measure.runner import Runner
    from workbench.tui import services
    from workbench_engines.base import ModelArtifact, TensorSpec

    artifact = ModelArtifact(
        name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1, 4), "float32"),)
    )
    monkeypatch.setattr(
        services,
        "make_runner",
        lambda config, on_event: Runner(config, on_event=on_event, live=True, artifact=artifact),
    )


def _noop_config(**kw):
    from workbench.measure.runner import RunConfig

    last = sorted(os.sched_getaffinity(0))[-1]
    base = dict(model="noop", engines=("noop",), duration_s=0.2, warmup_s=0.02, parity=False, cores=(last,), threads=1)
    base.update(kw)
    return RunConfig(**base)


@pytest.mark.timeout(60)
async def test_stop_asks_first_then_is_prompt_and_saves_nothing(monkeypatch):
    """The first s only asks (saying what is kept) and the run goes on; a second s within 3 s stops it at once."""
    _noop_runner(monkeypatch)
    app = fixture_app(history=None)
    async with app.run_test(size=SIZE) as pilot:
        app.start_run(_noop_config(duration_s=30.0))
        assert await wait_for(pilot, lambda: app.query_one(LivePane).fraction > 0, 30)
        await pilot.press("s")
        await pilot.pause(0.3)
        assert app.running
        assert any("Press s again to stop the run" in m and "nothing is saved" in m for m, _ in notes(app)), notes(app)
        assert "press s again" in str(app.query_one("#live-status").render())
        t0 = time.monotonic()
        await pilot.press("s")
        assert await wait_for(pilot, lambda: not app.running, 5)
        assert time.monotonic() - t0 < 3.0
        await pilot.pause(0.1)
        assert app.query_one(ResultsPane).record is None
        assert any("stopped" in m.lower() for m, _ in notes(app))
        assert "stopped" in app.query_one(LivePane).status
    assert stored_runs() == []


@pytest.mark.timeout(60)
async def test_escape_in_a_field_leaves_it_and_never_stops_a_run(monkeypatch):
    """Esc (in a field or not) never stops a run: in a field it only moves the focus out; letters typed in a
    field are text (r, s, q do nothing to the run); a first q asks, as s does."""
    _noop_runner(monkeypatch)
    app = fixture_app(history=None)
    async with app.run_test(size=SIZE) as pilot:
        app.start_run(_noop_config(duration_s=30.0))
        assert await wait_for(pilot, lambda: app.query_one(LivePane).fraction > 0, 30)
        await pilot.press("2")
        field = app.query_one("#setup-batch", Input)
        field.focus()
        await pilot.pause(0.05)
        shown = {b.binding.key for b in app.screen.active_bindings.values() if b.binding.show}
        assert "escape" in shown and "enter" in shown
        assert not shown & {"r", "s", "e", "q", "w", "m"}  # typing: the letters are text, the footer says so
        await pilot.press("end", "s", "q", "r")
        assert field.value == "1sqr" and app.running
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.running and not isinstance(app.focused, Input)
        await pilot.press("escape", "escape")
        await pilot.pause(0.3)
        assert app.running
        assert not any("stop" in m.lower() for m, _ in notes(app)), notes(app)
        await pilot.press("q")
        await pilot.pause(0.1)
        assert app.running and app.is_running
        assert any("Press q again to stop the run and quit" in m for m, _ in notes(app))
        await pilot.press("s", "s")
        assert await wait_for(pilot, lambda: not app.running, 5)
    assert stored_runs() == []


@pytest.mark.timeout(60)
async def test_ctrl_q_quits_at_once_even_during_a_run(monkeypatch):
    _noop_runner(monkeypatch)
    app = fixture_app(history=None)
    async with app.run_test(size=SIZE) as pilot:
        app.start_run(_noop_config(duration_s=30.0))
        assert await wait_for(pilot, lambda: app.query_one(LivePane).fraction > 0, 30)
        await pilot.press("ctrl+q")
        await pilot.pause(0.2)
    assert app.return_code == 0 and stored_runs() == []


@pytest.mark.timeout(60)
async def test_engine_crash_shows_error_row_and_app_keeps_running(monkeypatch, test_engines):
    monkeypatch.setenv("WB_CRASH_AFTER", "20")
    _noop_runner(monkeypatch)
    app = fixture_app(history=None)
    async with app.run_test(size=SIZE) as pilot:
        app.start_run(_noop_config(engines=("echo", "crash"), duration_s=0.3))
        assert await wait_for(pilot, lambda: not app.running, 40)
        await pilot.pause(0.1)
        assert any(sev == "error" and "crash" in m for m, sev in notes(app)), notes(app)
        rows = {r[0]: r for r in table_rows(app.query_one(ResultsTable))}
        assert "failed" in rows["crash"][2]
        assert float(rows["echo"][2]) >= 0
        assert app.is_running
    # the run itself completed: it is in the history, with the failure recorded
    runs = stored_runs()
    assert len(runs) == 1 and not runs[0].result("crash").ok


# ----------------------------------------------------------------------------------------------------- errors


async def test_bad_model_path_is_flagged_inline_and_notified():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        app.query_one("#setup-path", Input).value = "/nonexistent/model.onnx"
        await pilot.pause(0.1)
        inline = app.query_one("#setup-path-error")
        assert inline.display and "no such file" in str(inline.render())
        await pilot.press("r")
        await pilot.pause(0.1)
        assert not app.running
        assert any(sev == "error" and "no such file" in m for m, sev in notes(app))
        assert app.focused is app.query_one("#setup-path")
        # enter in a Setup field runs too (r would be typed into the field): same refusal
        app._notifications.clear()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert not app.running
        assert any(sev == "error" and "no such file" in m for m, sev in notes(app))


def test_worker_errors_are_mapped_to_one_line():
    assert readable_error(ModelError("unknown model 'x'")) == "unknown model 'x'"
    assert readable_error(RunFailed("stopped by user")) == "stopped by user"
    assert readable_error(ValueError("bad\nsecond line")) == "ValueError: bad"
    assert readable_error(FileNotFoundError(2, "No such file or directory", "/x")) == "No such file or directory: /x"


async def test_a_failing_run_notifies_and_keeps_history(monkeypatch):
    from workbench.tui import services

    class Boom:
        def __init__(self, *a, **k):
            pass

        def run(self):
            raise ModelError("cannot parse /tmp/broken.onnx: not an ONNX file")

        def stop(self):
            pass

    monkeypatch.setattr(services, "make_runner", lambda config, on_event: Boom())
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        before = app.query_one("#history").records
        app.start_run(_noop_config())
        assert await wait_for(pilot, lambda: not app.running, 5)
        await pilot.pause(0.1)
        assert ("cannot parse /tmp/broken.onnx: not an ONNX file", "error") in notes(app)
        assert "failed" in str(app.query_one("#results-title").render())
        assert app.query_one("#history").records == before
        assert app.is_running


# ------------------------------------------------------------------------------------------------ keys / help


async def test_help_lists_every_key_and_q_quits():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        from workbench.tui.screens import HelpScreen

        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for key in ("r", "s", "escape", "e", "m", "?", "q", "ctrl+p", "1", "2", "3", "4", "space", "enter"):
            assert f"  {key} " in text or f"  {key}\n" in text or f" {key} " in text, key
        for binding in app.BINDINGS:
            assert binding.id and binding.tooltip
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("q")
        await pilot.pause(0.1)
    assert app.return_code == 0


async def test_views_switch_with_keys_and_everything_is_reachable_by_tab():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        for key, view in (("2", "setup"), ("3", "live"), ("4", "results"), ("1", "overview")):
            await pilot.press(key)
            assert app.view == view
        await pilot.press("2")
        chain = {w.id for w in app.screen.focus_chain}
        assert {
            "views",
            "setup-model",
            "setup-path",
            "engine-torch",
            "engine-onnxruntime",
            "setup-device",
            "setup-precision",
            "setup-mode",
            "setup-batch",
            "setup-threads",
            "setup-cores",
            "setup-duration",
            "setup-warmup",
        } <= chain
        assert "engine-openvino" not in chain  # unavailable: disabled, with the reason in its label
        before = app.focused
        await pilot.press("tab")
        assert app.focused is not before and app.focused.id in chain


async def test_palette_offers_the_actions():
    from workbench.tui.commands import workbench_commands

    app = fixture_app()
    async with app.run_test(size=SIZE):
        names = [name for name, _, _ in workbench_commands(app)]
    for wanted in ("Run benchmark", "Stop run", "Export results as JSON", "Monitor runs in flight", "Help"):
        assert wanted in names


def test_theme_colours_survive_256_colour_terminals():
    """Over SSH COLORTERM is usually dropped: every colour of our themes is an exact xterm-256 palette entry, and
    background, surface and panel stay distinct after down-sampling."""
    from textual.color import Color

    import workbench_themes

    cube = {0, 95, 135, 175, 215, 255}
    greys = {8 + 10 * i for i in range(24)}

    def exact(value: str) -> bool:
        r, g, b = Color.parse(value).rgb
        return {r, g, b} <= cube or (r == g == b and r in greys)

    for theme in workbench_themes.THEMES:
        fields = [
            theme.primary,
            theme.secondary,
            theme.accent,
            theme.warning,
            theme.error,
            theme.success,
            theme.foreground,
            theme.background,
            theme.surface,
            theme.panel,
            *theme.variables.values(),
        ]
        assert all(exact(v) for v in fields if v and v.startswith("#")), theme.name
        assert len({theme.background, theme.surface, theme.panel}) == 3
    assert workbench_themes.stylesheet_path().is_file()


async def test_our_themes_are_registered_and_default():
    app = fixture_app()
    async with app.run_test(size=SIZE):
        assert app.theme == "workbench-dark"
        assert {"workbench-dark", "workbench-light", "textual-dark"} <= set(app.available_themes)
        app.theme = "workbench-light"


# ------------------------------------------------------------------------------------------- results / export


async def test_export_writes_to_workbench_home(workbench_home):
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.1)
        app.query_one("#views").focus()  # (on the History table, e exports the highlighted stored run)
        await pilot.press("e")  # nothing to export yet: the binding is disabled
        app.action_export()  # ... and the palette command says so
        await pilot.pause(0.05)
        assert any(sev == "warning" for _, sev in notes(app))
        assert list(workbench_home.glob("workbench-*")) == []
        app.show_results(ResultsView(results=tuple(fixture_record().results), record=fixture_record(), fixture=True))
        await pilot.pause(0.1)
        await pilot.press("e")  # the export dialog: JSON and this file are the defaults
        await pilot.pause(0.1)
        await pilot.press("enter")
        path = workbench_home / "workbench-fixture0001.json"
        assert await wait_for(pilot, lambda: any(str(path) in m for m, _ in notes(app)), 10), notes(app)
    assert path.is_file()
    assert json.loads(path.read_text())["run_id"] == "fixture0001"


async def test_baseline_can_be_changed():
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        rec = fixture_record()
        app.show_results(ResultsView(results=tuple(rec.results), record=rec, fixture=True))
        await pilot.pause(0.1)
        pane = app.query_one(ResultsPane)
        pane.baseline = "onnxruntime"
        await pilot.pause(0.1)
        rows = {r[0]: r for r in table_rows(app.query_one(ResultsTable))}
        assert rows["onnxruntime"][7] == "base"
        assert rows["torch"][7] == "0.62×"  # 5.0 / 8.0


async def test_history_details_and_compare_of_two_marked_runs():
    from workbench.tui.screens import CompareScreen, RunDetailScreen

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.query_one("#history-table").row_count == 2, 5)
        app.query_one("#history-table").focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RunDetailScreen)
        await pilot.press("escape")
        await pilot.pause(0.05)
        await pilot.press("space", "down", "space", "c")
        await pilot.pause(0.1)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.a.run_id == "fixture0001" and app.screen.b.run_id == "fixture0002"
        rows = table_rows(app.screen.query_one("#compare-table"))
        assert rows[0][0] == "torch" and rows[0][3] == "-10.0%"


async def test_compare_of_two_different_models_is_refused_in_one_notification():
    from dataclasses import replace

    from snapshot_apps.tui_fixtures import fixture_history

    from workbench.tui.screens import CompareScreen

    other = fixture_record("fixture0003", "2001-02-05T12:00:00+00:00")
    other = replace(other, model={**other.model, "name": "mobilenet_v3_small"})
    app = fixture_app(history=(other, *fixture_history()))
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.query_one("#history-table").row_count == 3, 5)
        app.query_one("#history-table").focus()
        await pilot.press("space", "down", "space", "c")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, CompareScreen)
        assert any("different models" in message for message, _ in notes(app))


def _stat_record(run_id: str, created: str, engines: list[tuple[str, float, int, int, float]]):
    """TEST FIXTURE DATA: a record whose results carry latency histograms of seeded synthetic lognormal samples."""
    import numpy as np

    from workbench.result import EngineResult, RunRecord
    from workbench.stats.histogram import LogHistogram
    from workbench.stats.summary import summarize

    results = []
    for engine, scale_ms, seed, n, sigma in engines:
        x = np.random.default_rng(seed).lognormal(np.log(scale_ms * 1e6), sigma, n).astype(np.int64)
        h = LogHistogram()
        h.add(x)
        s = summarize(x).scaled(1e-6)
        results.append(
            EngineResult(
                engine=engine,
                model="resnet18",
                engine_version="0.0.0-fixture",
                precision_effective="fp32",
                latency_ms={"mean": s.mean, "std": s.std, "min": s.min, "max": s.max, **s.percentiles},
                median_ci_ms=list(s.median_ci),
                throughput=1000.0 / s.mean,
                iterations=n,
                histogram=h.to_dict(),
                threads=4,
                batch=1,
            )
        )
    return RunRecord(
        run_id=run_id,
        created=created,
        model={"name": "resnet18"},
        config={"batch": 1, "threads": 4, "mode": "latency"},
        system={"fingerprint": "fp-fixture", "fingerprint_fields": {"cpu_model": "Fixture CPU (test data)"}},
        versions={"openvino": "0.0.0-fixture"},
        results=results,
    )


async def test_compare_screen_shows_the_verdicts_of_workbench_compare(workbench_home, capsys):
    """The UI's compare screen and `workbench compare --json` give the same verdict and change for the same pair:
    a real 60 % slowdown is "slower" (one run each: beyond the assumed run-to-run spread); a +6 % p50 difference over 60 noisy samples (which a raw-ratio colouring would
    flag) is "no significant change" in both."""
    from cli_helpers import run_cli

    from workbench.report.export import load_records, write
    from workbench.tui.screens import CompareScreen
    from workbench.units import percent

    a = _stat_record(
        "cmpa00000001", "2001-02-03T12:00:00+00:00", [("torch", 2.0, 1, 4000, 0.08), ("openvino", 2.0, 102, 60, 0.25)]
    )
    b = _stat_record(
        "cmpb00000002", "2001-02-04T12:00:00+00:00", [("torch", 3.2, 3, 4000, 0.08), ("openvino", 2.0, 202, 60, 0.25)]
    )
    fa, fb = write(workbench_home / "a.json", "json", [a]), write(workbench_home / "b.json", "json", [b])
    assert run_cli(["compare", str(fa), str(fb), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cli = {p["engine"]: (p["verdict"], percent(p["deltas"]["p50"]["change_pct"], signed=True)) for p in doc["pairs"]}
    assert cli["torch"][0] == "slower" and cli["openvino"][0] == "no significant change"
    assert abs(doc["pairs"][1]["deltas"]["p50"]["change_pct"]) >= 2  # the old screen painted this red

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        app.push_screen(CompareScreen(load_records(fa)[0], load_records(fb)[0]))
        await pilot.pause(0.1)
        assert isinstance(app.screen, CompareScreen)
        rows = table_rows(app.screen.query_one("#compare-table"))
        assert {r[0]: (r[4], r[3]) for r in rows} == cli
        body = str(app.screen.query_one("#compare-verdicts").render())
        assert "Verdicts rest on:" in body and "slower" in body and "no significant change" in body


# -------------------------------------------------------------------------------------------------- monitor


@pytest.mark.timeout(30)
async def test_monitor_follows_a_run_in_another_process():
    from workbench.measure import events as ev
    from workbench.measure.live import LivePublisher
    from workbench.tui.screens import MonitorScreen

    run_id = "otherrun0001"
    pub = LivePublisher(run_id)
    # written as another session's runner would: our pid stands in for the other process (it is alive)
    pub.publish(
        ev.RunStarted(run_id=run_id, model="resnet18", engines=("torch",), config={"mode": "latency"}, pid=os.getpid())
    )
    app = fixture_app()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("m")
            assert await wait_for(
                pilot,
                lambda: (
                    isinstance(app.screen, MonitorScreen)
                    and app.screen.query_one("#monitor-list").option_count >= 1
                    and app.screen.query_one("#monitor-list").get_option_at_index(0).id == run_id
                ),
                10,
            )
            await pilot.press("enter")
            assert await wait_for(pilot, lambda: app.running and app.view == "live", 5)
            pub.publish(
                ev.Progress(
                    run_id=run_id,
                    engine="torch",
                    round=0,
                    rounds=1,
                    iterations=50,
                    elapsed_s=0.5,
                    target_s=1.0,
                    fraction=0.5,
                    p50_ms=1.5,
                    p99_ms=2.5,
                    throughput=600.0,
                    hist={"edges_ms": [1.0, 2.0, 3.0], "counts": [10, 40]},
                )
            )
            assert await wait_for(pilot, lambda: app.query_one(LivePane).fraction == 0.5, 5)
            rec = fixture_record(run_id)
            pub.publish(ev.RunFinished(run_id=run_id, record=rec.to_dict(), exit_code=0))
            assert await wait_for(pilot, lambda: not app.running, 5)
            await pilot.pause(0.1)
            assert app.query_one(ResultsPane).record.run_id == run_id
    finally:
        pub.close()


async def test_setup_offers_every_precision_and_int8_reaches_the_run_config():
    """int8 (and bf16/fp16) can be chosen in the UI as on the CLI; the run config carries it."""
    from textual.widgets import Select

    from workbench_engines.base import PRECISIONS

    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        select = app.query_one("#setup-precision", Select)
        offered = [value for _, value in select._options]
        assert tuple(offered) == PRECISIONS and "int8" in offered
        select.value = "int8"
        await pilot.pause()
        assert app.query_one("#setup").values()["precision"] == "int8"


async def test_history_b_compares_the_highlighted_runs_model_across_machines():
    """`b` on a history row opens what `workbench compare --by machine -m MODEL` prints, from the stored runs."""
    from workbench.store.history import HistoryStore
    from workbench.tui.screens import MachinesScreen

    store = HistoryStore()
    for i, (cpu, scale) in enumerate((("Fixture Xeon A (test data)", 2.0), ("Fixture Xeon B (test data)", 1.0))):
        rec = _stat_record(f"mach0000000{i}", f"2001-02-0{i + 3}T12:00:00+00:00", [("openvino", scale, i, 400, 0.05)])
        rec.system = {
            "fingerprint": f"fp-{i}",
            "fingerprint_fields": {"cpu_model": cpu, "machine": "x86_64", "logical_cpus": 8 * (i + 1)},
        }
        store.add(rec)
    app = fixture_app()
    async with app.run_test(size=SIZE) as pilot:
        assert await wait_for(pilot, lambda: app.query_one("#history-table").row_count == 2, 5)
        app.query_one("#history-table").focus()
        await pilot.press("b")
        assert await wait_for(pilot, lambda: isinstance(app.screen, MachinesScreen), 5)
        text = str(app.screen.query_one("#machines-text").render())
        assert "Fixture Xeon A" in text and "Fixture Xeon B" in text
        # B is twice as fast: it ranks first on latency
        assert text.index("Fixture Xeon B") < text.index("Fixture Xeon A")
        await pilot.press("escape")
        await pilot.pause(0.05)
        assert not isinstance(app.screen, MachinesScreen)
