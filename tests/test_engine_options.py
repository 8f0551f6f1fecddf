"""Engines own their options: an option declared once by an adapter reaches `workbench run --help`,
`workbench engines --options`, the UI's Setup pane and the adapter's load() — with no code for it anywhere else.

The proof uses the test plugin engine ``knob`` (tests/plugins/wb_test_engines.py), whose options (level, flavour,
turbo) appear nowhere in the workbench's own code; its load() echoes what it received into effective.extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_helpers import wb

from workbench.errors import UsageError
from workbench.measure.runner import RunConfig, Runner, validate
from workbench_engines.base import EngineOption, LoadSettings, ModelArtifact, TensorSpec, split_option
from workbench_engines.registry import check_engine_options, get_engine_class

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = Path(__file__).parent / "plugins"
KNOB = "wb_test_engines:KnobEngine"
NOOP_ARTIFACT = ModelArtifact(
    name="noop", source="builtin", files={"onnx": ""}, inputs=(TensorSpec("x", (1, 4), "float32"),)
)


@pytest.fixture
def knob(monkeypatch):
    """The knob engine, visible here and in every child process."""
    monkeypatch.setenv("WORKBENCH_ENGINE_PLUGINS", KNOB)
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{PLUGINS}{os.pathsep}{path}" if path else str(PLUGINS))
    monkeypatch.syspath_prepend(str(PLUGINS))
    from wb_test_engines import KnobEngine

    return KnobEngine


def knob_options(record: dict) -> dict:
    """What the knob engine's load() received, read back from a run's JSON (see the plugin)."""
    from wb_test_engines import knob_options as read

    return read(record)


def one_line_exit_2(out: subprocess.CompletedProcess, *needles: str) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---- the declaration -----------------------------------------------------------------------------------------------
def test_option_values_are_coerced_and_checked_against_the_declaration():
    level = EngineOption("level", int, default=3, minimum=0)
    assert level.coerce("7") == 7 and level.coerce(7) == 7
    for bad in ("x", "1.5", "-1", True):
        with pytest.raises(ValueError, match="a whole number >= 0"):
            level.coerce(bad)
    turbo = EngineOption("turbo", bool)
    assert [turbo.coerce(v) for v in ("true", "YES", "1", "off", "0", False)] == [True, True, True, False, False, False]
    flavour = EngineOption("flavour", choices=("plain", "spicy"))
    assert flavour.coerce("spicy") == "spicy"
    with pytest.raises(ValueError, match="one of: plain, spicy"):
        flavour.coerce("sour")
    assert EngineOption("scale", float).coerce("0.5") == 0.5
    with pytest.raises(TypeError):
        EngineOption("odd", list)
    with pytest.raises(ValueError):
        EngineOption("Bad Name")
    with pytest.raises(ValueError):
        EngineOption("x", modes=("warp",))


def test_check_options_names_the_valid_options_in_one_line(knob):
    assert knob.check_options({"level": "5", "flavour": "plain"}, mode="latency") == {"level": 5, "flavour": "plain"}
    cases = [
        ({"levle": "1"}, "did you mean knob.level?"),
        ({"nope": "1"}, "knob's options: knob.level, knob.flavour, knob.turbo"),
        ({"flavour": "sour"}, "one of: plain, spicy"),
        ({"turbo": "yes"}, "throughput mode only, not latency mode"),
    ]
    for values, needle in cases:
        with pytest.raises(UsageError) as err:
            knob.check_options(values, precision="fp32", mode="latency")
        assert needle in str(err.value) and "\n" not in str(err.value)
    assert knob.options_with_defaults({"level": 9}) == {"level": 9, "flavour": "plain", "turbo": False}


def test_engine_option_syntax():
    assert split_option("OpenVINO.Streams = 2") == ("openvino", "streams", "2")
    assert split_option("knob.flavour=") == ("knob", "flavour", "")
    for bad in ("streams=2", "openvino.streams", ".x=1", "openvino.=1"):
        with pytest.raises(ValueError, match="ENGINE.NAME=VALUE"):
            split_option(bad)


def test_registry_check_keeps_the_last_value_and_refuses_engines_not_run(knob):
    items = [("knob", "level", "1"), ("knob", "flavour", "spicy"), ("knob", "level", "2")]
    assert check_engine_options(items, engines=("knob",)) == (("knob", "flavour", "spicy"), ("knob", "level", 2))
    with pytest.raises(UsageError, match="knob is not among the engines of this run"):
        check_engine_options([("knob", "level", "1")], engines=("noop",))
    with pytest.raises(UsageError, match="unknown engine 'tensorrt'"):
        check_engine_options([("tensorrt", "x", "1")])


def test_openvino_streams_is_an_openvino_option():
    streams = get_engine_class("openvino").option("streams")
    assert (streams.name, streams.type, streams.default, streams.modes) == ("streams", int, None, ("throughput",))


# ---- the run -------------------------------------------------------------------------------------------------------
def test_run_config_carries_validated_options_and_the_job_only_that_engines(knob):
    cfg = validate(
        RunConfig(
            model="noop",
            engines=("knob", "noop"),
            cores=(0,),
            threads=1,
            engine_options=(("KNOB", "level", "4"),),
        )
    )
    assert cfg.engine_options == (("knob", "level", 4),)
    hash(cfg)  # still a hashable, frozen config
    assert cfg.to_dict()["engine_options"] == {"knob": {"level": 4}}
    runner = Runner(cfg, live=False, artifact=NOOP_ARTIFACT)
    assert dict(runner._job("knob", NOOP_ARTIFACT, precision="fp32", device="cpu", outputs=False).options) == {
        "level": 4
    }
    assert dict(runner._job("noop", NOOP_ARTIFACT, precision="fp32", device="cpu", outputs=False).options) == {}


def test_a_value_given_reaches_the_adapters_load(knob):
    record = Runner(
        RunConfig(
            model="noop",
            engines=("knob",),
            duration_s=0.05,
            warmup_s=0.0,
            parity=False,
            cores=(0,),
            threads=1,
            engine_options=(("knob", "flavour", "spicy"),),
        ),
        live=False,
        artifact=NOOP_ARTIFACT,
    ).run()
    assert knob_options(record.to_dict()) == {"level": 3, "flavour": "spicy", "turbo": False}  # defaults filled in
    assert record.config["engine_options"] == {"knob": {"flavour": "spicy"}}


def test_load_settings_default_and_options_reach_load_directly(knob):
    model = knob.load(NOOP_ARTIFACT, LoadSettings(threads=1, options={"level": 1}))
    assert model.effective().extra["options"] == {"level": 1}
    assert knob.load(NOOP_ARTIFACT).effective().extra["options"] == {}


# ---- the CLI -------------------------------------------------------------------------------------------------------
def test_cli_help_and_engines_list_the_declared_options(knob):
    help_text = wb("run", "--help").stdout
    assert "engine options (--engine-option ENGINE.NAME=VALUE" in help_text
    for line in ("knob.level=INT", "knob.flavour=plain|spicy", "knob.turbo=BOOL", "openvino.streams=INT"):
        assert line in help_text
    assert "how far the knob is turned (default: 3)" in help_text
    assert "shorthand for --engine-option openvino.streams=N" in " ".join(help_text.split())  # --streams
    assert "knob.level=INT" in wb("parity", "--help").stdout
    listed = json.loads(wb("engines", "--options", "--json").stdout)
    by_key = {o["option"]: o for o in listed}
    assert by_key["knob.level"] == {
        "engine": "knob",
        "option": "knob.level",
        "name": "level",
        "type": "int",
        "default": 3,
        "help": "how far the knob is turned",
        "choices": [],
        "minimum": 0,
        "precisions": [],
        "modes": [],
    }
    assert by_key["knob.turbo"]["modes"] == ["throughput"] and "openvino.streams" in by_key
    assert "knob.flavour" in wb("engines", "--options").stdout
    engines = {e["name"]: e for e in json.loads(wb("engines", "--json", "--quick").stdout)}
    assert [o["name"] for o in engines["knob"]["options"]] == ["level", "flavour", "turbo"]


def test_cli_engine_option_reaches_load_and_is_recorded(knob, shared_cache):
    out = wb(
        *("run", "-m", "tiny_cnn", "-e", "knob", "--cores", "0", "--duration", "0.1", "--warmup", "0"),
        *("--no-parity", "--no-save", "-q", "--json", "-"),
        *("--engine-option", "knob.level=7", "--engine-option", "knob.flavour=spicy"),
    )
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert knob_options(record) == {"level": 7, "flavour": "spicy", "turbo": False}
    assert record["config"]["engine_options"] == {"knob": {"level": 7, "flavour": "spicy"}}


@pytest.mark.parametrize(
    "args,needles",
    [
        (["run", "-e", "knob", "--engine-option", "knob.turbo=yes"], ["knob.turbo", "throughput mode only"]),
        (["run", "-e", "knob", "--engine-option", "knob.flavour=sour"], ["knob.flavour", "one of: plain, spicy"]),
        (["run", "-e", "knob", "--engine-option", "knob.nope=1"], ["knob's options: knob.level"]),
        (["run", "-e", "knob", "--engine-option", "warp.x=1"], ["unknown engine 'warp'"]),
        (["run", "-e", "knob", "--engine-option", "level=1"], ["ENGINE.NAME=VALUE"]),
        (["run", "-e", "knob", "--engine-option", "openvino.streams=2"], ["openvino is not among the engines"]),
        (["run", "-e", "openvino", "--streams", "2"], ["openvino.streams applies in throughput mode only"]),
        (["run", "-e", "openvino", "--streams", "0", "--mode", "throughput"], ["openvino.streams", ">= 1"]),
        (["parity", "-e", "knob", "--engine-option", "knob.level=-2"], ["knob.level", ">= 0"]),
    ],
)
def test_bad_engine_options_are_one_line_exit_2(knob, args, needles):
    one_line_exit_2(wb(*args, "-m", "tiny_cnn"), *needles)


def test_streams_is_a_shorthand_for_the_openvino_option():
    from workbench.cli import build_parser
    from workbench.cli.run import _run_config

    args = build_parser().parse_args(["run", "-m", "m", "-e", "openvino", "--mode", "throughput", "--streams", "2"])
    assert _run_config(args).engine_options == (("openvino", "streams", 2),)
    explicit = ["--streams", "2", "--engine-option", "openvino.streams=3"]
    args = build_parser().parse_args(["run", "-m", "m", "-e", "openvino", "--mode", "throughput", *explicit])
    cfg = validate(_run_config(args))
    assert cfg.engine_options == (("openvino", "streams", 3),)  # the explicit option wins


def test_listing_options_imports_no_engine(knob):
    code = (
        "import sys, contextlib, io\nimport workbench.cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    workbench.cli.main(['engines', '--options'])\n"
        "    try:\n        workbench.cli.main(['run', '--help'])\n    except SystemExit:\n        pass\n"
        "print([m for m in ('torch', 'openvino', 'onnxruntime', 'textual') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_no_code_outside_the_adapter_knows_the_knob_options():
    """The proof is only a proof if runner, child, CLI and UI carry no code for these options."""
    for path in (ROOT / "workbench").rglob("*.py"):
        text = path.read_text()
        for word in ("flavour", "knob"):
            assert word not in text, f"{path.relative_to(ROOT)} mentions {word!r}"


# ---- the UI --------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.timeout(60)
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_setup_pane_lists_the_options_and_a_run_from_it_reaches_load(knob, monkeypatch):
    from snapshot_apps.tui_fixtures import fixture_app
    from textual.widgets import Input, Select

    from workbench.tui import services
    from workbench.tui.widgets.results import ResultsPane
    from workbench.tui.widgets.setup import OptionRow, SetupPane

    monkeypatch.setattr(
        services,
        "make_runner",
        lambda config, on_event: Runner(config, on_event=on_event, live=True, artifact=NOOP_ARTIFACT),
    )
    last = sorted(os.sched_getaffinity(0))[-1]
    initial = dict(model="tiny_cnn", engines=("knob",), duration_s=0.1, warmup_s=0.0, cores=(last,))
    app = fixture_app(engines=None, history=None, initial=initial)  # real engine discovery
    async with app.run_test(size=(80, 24)) as pilot:
        setup = app.query_one(SetupPane)
        deadline = time.monotonic() + 30

        # rows and their fields mount in separate steps: wait for the level field (a loaded 2-core box is slow)
        def level_field() -> list:
            return [i for r in setup.query(OptionRow) if r.option.name == "level" for i in r.query(Input)]

        while not level_field() and time.monotonic() < deadline:
            await pilot.pause(0.05)
        rows = {f"{r.engine}.{r.option.name}": r for r in setup.query(OptionRow)}
        assert {"knob.level", "knob.flavour", "knob.turbo"} <= set(rows)
        level = rows["knob.level"].query_one(Input)
        assert level.placeholder.startswith("3") and level.value == ""
        flavour = rows["knob.flavour"].query_one(Select)  # an option with choices is a drop-down, default first
        assert [str(label) for label, _ in flavour._options][:2] == ["plain (default)", "spicy"]
        assert rows["knob.flavour"].text == ""  # the default: nothing passed to the engine
        assert "throughput mode only" in rows["knob.turbo"].query_one(Input).placeholder
        assert setup.query_one("#setup-options-row").display
        assert not level.disabled and rows["openvino.streams"].field.disabled  # openvino offered, not selected
        level.value = "7"
        values = setup.values()
        assert values["engine_options"] == (("knob", "level", 7),)
        rows["knob.turbo"].query_one(Input).value = "yes"  # latency mode: refused, the field named
        with pytest.raises(ValueError, match="knob.turbo applies in throughput mode only") as err:
            setup.values()
        assert getattr(err.value, "field", None) == "option-knob-turbo"
        rows["knob.turbo"].query_one(Input).value = ""
        app.action_run_bench()  # what r does
        deadline = time.monotonic() + 40
        while (app.running or app.query_one(ResultsPane).record is None) and time.monotonic() < deadline:
            await pilot.pause(0.05)
        record = app.query_one(ResultsPane).record
        assert record is not None
        assert knob_options(record.to_dict()) == {"level": 7, "flavour": "plain", "turbo": False}
