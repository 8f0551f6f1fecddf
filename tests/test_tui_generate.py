"""The TUI for text generation (issue 21) and for the max-QPS search (issue 22): Setup in generate mode, the
Results table of a generate run, Live's TTFT and per-token histograms, ``workbench watch``'s progress line, and
the search's progress from an injected probe (no model is prepared, nothing is measured: TEST FIXTURE DATA)."""

from __future__ import annotations

import pytest
from snapshot_apps.tui_fixtures import (
    feed_generate_live,
    fixture_app,
    fixture_generate_events,
    fixture_generate_record,
)
from textual.widgets import Input, Select
from tui_helpers import stored_runs, table_rows, wait_for

from workbench.result import EngineResult, RunRecord
from workbench.tui import services
from workbench.tui.format import search_bracket
from workbench.tui.widgets.live import EngineLive, LivePane
from workbench.tui.widgets.results import ResultsTable, ResultsView
from workbench.tui.widgets.setup import MAX_QPS, SetupError, SetupPane

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


async def _setup(pilot):
    await pilot.press("2")
    await pilot.pause(0.1)
    return pilot.app.query_one(SetupPane)


# ---- Setup ---------------------------------------------------------------------------------------------------------
async def test_a_causal_lm_proposes_generate_mode_with_its_fields_and_the_run_config():
    app = fixture_app()
    async with app.run_test(size=(80, 24)) as pilot:
        setup = await _setup(pilot)
        assert not app.query_one("#setup-prompt-row").display and app.query_one("#setup-inputs-row").display
        app.query_one("#setup-model", Select).value = "tiny-llama"
        await pilot.pause(0.1)
        assert app.query_one("#setup-mode", Select).value == "generate"
        shown = {row: app.query_one(f"#{row}").display for row in ("setup-prompt-row", "setup-new-row")}
        hidden = {row: app.query_one(f"#{row}").display for row in ("setup-inputs-row", "setup-scenario-row")}
        assert all(shown.values()) and not any(hidden.values())
        assert "int4" in [v for _, v in app.query_one("#setup-precision", Select)._options]

        app.query_one("#setup-prompt-tokens", Input).value = "16"
        app.query_one("#setup-new-tokens", Input).value = "8"
        app.query_one("#setup-prompt", Input).value = "Once upon a time"
        await pilot.pause(0.05)
        values = setup.values()
        config = services.make_config(values)
        assert (config.mode, config.model, config.batch) == ("generate", "tiny-llama", 1)
        assert (config.prompt_tokens, config.new_tokens, config.prompt) == (16, 8, "Once upon a time")
        assert "inputs" not in values and "scenario" not in values

        # another model leaves generate mode (generate would refuse it), and its fields go
        app.query_one("#setup-model", Select).value = "resnet18"
        await pilot.pause(0.1)
        assert app.query_one("#setup-mode", Select).value == "latency"
        assert not app.query_one("#setup-prompt-row").display and app.query_one("#setup-inputs-row").display
        assert "int4" not in [v for _, v in app.query_one("#setup-precision", Select)._options]


@pytest.mark.parametrize(
    "field, text, words",
    [
        ("setup-new-tokens", "1", "new tokens: 1 — give 2 or more (a first token and at least one decode step)"),
        ("setup-prompt-tokens", "many", "prompt tokens: 'many' is not a whole number"),
        ("setup-prompt-tokens", "0", "prompt tokens: 0 — give 1 or more"),
    ],
)
async def test_generate_fields_say_what_is_wrong_as_they_are_typed(field, text, words):
    app = fixture_app(initial={"model": "tiny-llama", "mode": "generate"})
    async with app.run_test(size=(80, 24)) as pilot:
        setup = await _setup(pilot)
        app.query_one(f"#{field}", Input).value = text
        await pilot.pause(0.1)
        assert str(app.query_one("#setup-field-error").render()) == f"✗ {words}"
        with pytest.raises(SetupError) as err:
            setup.values()
        assert err.value.field == field and str(err.value) == words


async def test_a_precision_an_engine_cannot_generate_at_is_named_before_the_run():
    app = fixture_app(initial={"model": "tiny-llama", "mode": "generate"})
    async with app.run_test(size=(80, 24)) as pilot:
        setup = await _setup(pilot)
        app.query_one("#setup-precision", Select).value = "int4"
        await pilot.pause(0.1)
        words = "precision: torch generates at fp32, bf16, int8, not int4 — choose another precision or untick torch"
        assert str(app.query_one("#setup-field-error").render()) == f"✗ {words}"
        with pytest.raises(SetupError, match="torch generates at"):
            setup.values()


def test_the_remembered_setup_keeps_the_generate_fields():
    values = {"model": "tiny-llama", "engines": ("torch",), "mode": "generate", "precision": "int8"}
    services.save_setup({**values, "prompt_tokens": 16, "new_tokens": 8, "prompt": "Hello there"})
    loaded, problem = services.load_setup()
    assert problem is None
    assert (loaded["prompt_tokens"], loaded["new_tokens"], loaded["prompt"], loaded["mode"]) == (
        16,
        8,
        "Hello there",
        "generate",
    )


async def test_a_causal_lm_folder_is_accepted_and_proposes_generate_mode(tmp_path):
    folder = tmp_path / "my-llm"
    folder.mkdir()
    (folder / "genai_config.json").write_text("{}")
    app = fixture_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _setup(pilot)
        app.query_one("#setup-path", Input).value = str(folder)
        assert await wait_for(pilot, lambda: app.query_one("#setup-mode", Select).value == "generate", 10)
        assert not app.query_one("#setup-path-error").has_class("-shown")
        assert "ONNX Runtime GenAI folder · read by onnxruntime" in str(app.query_one("#setup-path-info").render())


# ---- Results -------------------------------------------------------------------------------------------------------
async def test_results_of_a_generate_run_show_ttft_per_token_tokens_per_s_and_token_parity_in_80_columns():
    app = fixture_app()
    async with app.run_test(size=(80, 24)) as pilot:
        record = fixture_generate_record()
        app.show_results(ResultsView(results=tuple(record.results), record=record, fixture=True))
        await pilot.pause(0.2)
        table = app.query_one(ResultsTable)
        heads = [str(c.label).strip() for c in table.columns.values()]
        assert heads == ["engine", "prec", "TTFT p50", "tok p50", "tok p99", "tok/s", "tokens=ref", "speedup", "⚠"]
        rows = {r[0]: r for r in table_rows(table)}
        assert rows["onnxruntime"][2:8] == ["4.100", "0.6000", "0.8400", "1,587/s", "8/8", "2.00×"]
        # openvino's tokens diverge at position 3: no speedup, the ratio in parentheses
        assert rows["openvino"][6:8] == ["3/8 (@3)", "(2.40×)"]
        assert sum(c.get_render_width(table) for c in table.columns.values()) <= table.size.width <= 78
        detail = str(app.query_one("#results-detail-text").render())
        assert "TTFT 3.000 / 3.300 / 4.200 ms · per token 1.200 / 1.320 / 1.680 ms" in detail


# ---- Live and watch ------------------------------------------------------------------------------------------------
async def test_live_generate_run_draws_ttft_and_per_token_histograms_with_tokens_per_s():
    app = fixture_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.running = True
        await pilot.press("3")
        feed_generate_live(app)
        await pilot.pause(0.3)
        engines = list(app.query(EngineLive))
        assert [w.engine for w in engines] == ["torch", "onnxruntime", "openvino"]
        for w in engines:
            assert w.generate
            ttft, tok = w.query_one(".engine-ttft"), w.query_one(".engine-hist")
            assert ttft.display and ttft.series and ttft.series[0]["counts"]
            assert tok.series[0]["counts"] != ttft.series[0]["counts"]
            assert ttft.size.height >= 2 and w.region.bottom <= 24
            assert str(ttft.render()).splitlines()[-1].startswith("TTFT ")
            assert str(tok.render()).splitlines()[-1].startswith("per token ")
            stats = str(w.query_one(".engine-stats").render())
            assert "tok p50" in stats and "tok/s" in stats


async def test_live_latency_run_keeps_one_histogram():
    from snapshot_apps.tui_fixtures import feed_live

    app = fixture_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.running = True
        await pilot.press("3")
        feed_live(app)
        await pilot.pause(0.2)
        for w in app.query(EngineLive):
            assert not w.generate and not w.query(".engine-ttft")  # one chart: the latency's
            assert "tok p50" not in str(w.query_one(".engine-stats").render())


def test_watch_progress_line_says_per_token_and_the_ttft_so_far():
    from workbench.cli.watch import progress_text

    progress = fixture_generate_events()[2]
    text = progress_text(progress, generate=True)
    assert text.startswith("torch  n=700  tok p50 1.194 ms  p99 1.522 ms  837.7 tok/s  TTFT ")
    assert text.endswith("ms (p0.1–p99, n=100)")


# ---- the max-QPS search --------------------------------------------------------------------------------------------
def _fake_probe(capacity: float, calls: list):
    """A system VALID up to ``capacity`` QPS, saturating at 100 samples/s (TEST FIXTURE DATA, nothing measured)."""

    def probe(config):
        calls.append(config)
        if config.scenario == "offline":
            lg = {"scenario": "offline", "valid": True, "validity": "VALID", "qps": 100.0}
        else:
            ok = config.target_qps <= capacity
            lg = {"scenario": "server", "valid": ok, "validity": "VALID" if ok else "INVALID"}
            lg.update(qps=config.target_qps, target_latency_ms=25.0 if ok else 150.0, target_qps=config.target_qps)
        res = EngineResult(engine=config.engines[0], model="resnet18", scenario=config.scenario, loadgen=lg)
        cfg = {"model": "resnet18", "mode": "latency", "batch": 1, "engines": list(config.engines)}
        return RunRecord("probe", "2001-02-03T12:00:00+00:00", {"name": "resnet18"}, cfg, {}, {}, [res])

    return probe


def test_the_bracket_narrows_with_the_probes():
    probes = [{"kind": "offline", "valid": True, "qps": 100.0, "target_qps": None}]
    assert search_bracket(probes) == (0.0, 100.0)
    probes.append({"kind": "probe", "valid": True, "target_qps": 50.0})
    probes.append({"kind": "probe", "valid": False, "target_qps": 75.0})
    assert search_bracket(probes) == (50.0, 75.0)
    probes.append({"kind": "probe", "valid": False, "target_qps": 62.5})  # INVALID for early stopping only…
    probes.append({"kind": "extend", "valid": True, "target_qps": 62.5})  # …then VALID, run longer
    assert search_bracket(probes) == (62.5, 75.0)


async def test_max_qps_search_shows_its_probes_live_and_lands_in_results_and_history():
    calls: list = []
    app = fixture_app(qps_probe=_fake_probe(40.0, calls))
    async with app.run_test(size=(80, 24)) as pilot:
        await _setup(pilot)
        app.query_one("#setup-engines Checkbox#engine-onnxruntime").value = False
        app.query_one("#setup-scenario", Select).value = MAX_QPS
        await pilot.pause(0.1)
        assert app.query_one("#setup-server-row").display and not app.query_one("#setup-qps").display
        app.query_one("#setup-bound", Input).value = "50ms"
        app.query_one("#setup-percentile", Input).value = "p95"
        await pilot.pause(0.05)
        await pilot.press("r")
        assert await wait_for(pilot, lambda: not app.running and app.query_one("#results").view is not None, 20)
        live = app.query_one(LivePane)
        assert live.search is not None and live.search["state"] == "done"
        probes = live.search["probes"]
        assert len(probes) == len(calls) and probes[0]["kind"] == "offline"
        assert calls[1].latency_bound_ms == 50.0 and calls[1].latency_percentile == 95.0
        # the queue model's first probe, the bisection, then two confirmations (the bisection's VALID probe at the
        # answer counts as the first of three)
        assert [p["kind"] for p in probes] == ["offline"] + ["probe"] * 4 + ["confirm"] * 2
        assert search_bracket(probes) == (35.5, 44.4)  # the fake serves up to 40 QPS
        text = live.search_text().plain
        assert text.startswith("max QPS ≤ 50.00 ms at p95 · ") and "7 probes · done" in text
        assert "torch bracket 35.50–44.40 QPS" in text
        assert "torch probe    44.40 QPS  INVALID  p95 150.0 ms" in text
        assert "torch confirm  35.50 QPS  VALID    p95 25.00 ms" in text
        table = app.query_one(ResultsTable)
        rows = table_rows(table)
        assert [str(c.label).strip() for c in table.columns.values()][-6:-3] == ["LoadGen", "QPS", "max QPS"]
        assert rows[0][0] == "torch" and rows[0][-6:-3] == ["VALID", "35.50", "35.50"]
        saved = stored_runs()
        assert len(saved) == 1 and saved[0].results[0].qps_search["best"]["target_qps"] == 35.5
        assert saved[0].config["find_max_qps"] == {"latency_bound_ms": 50.0, "percentile": 95.0}


async def test_max_qps_needs_a_bound_in_words():
    app = fixture_app(qps_probe=_fake_probe(40.0, []))
    async with app.run_test(size=(80, 24)) as pilot:
        setup = await _setup(pilot)
        app.query_one("#setup-scenario", Select).value = MAX_QPS
        app.query_one("#setup-percentile", Input).value = "100"
        await pilot.pause(0.1)
        assert "percentile: 100 — give one between 0 and 100, e.g. 99" in str(
            app.query_one("#setup-field-error").render()
        )
        app.query_one("#setup-percentile", Input).value = ""
        await pilot.pause(0.05)
        with pytest.raises(SetupError, match="max QPS: give the latency bound"):
            setup.values()
