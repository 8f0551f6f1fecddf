"""The Setup pane: what to run (model, engines) and how (device, precision, mode, batch, threads, cores, time,
input values, and the options the offered engines declare).

Every control is one line tall (Textual's ``compact`` style) so the whole form fits an 80×24 terminal. Engine
options are built from the adapters' declarations (``EngineInfo.options``): one ``engine.name`` label + Input row
each, placeholder = the default; the section is hidden when no offered engine declares any.
:meth:`SetupPane.values` returns the :class:`workbench.measure.runner.RunConfig` keyword arguments, or raises a
:class:`~workbench.errors.WorkbenchError` whose one line says which field is wrong (and focuses it).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.validation import Function, Integer
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static

from workbench.measure.settings import RUN
from workbench.tui.format import cpu_ranges
from workbench.tui.widgets import composed
from workbench.tui.widgets.fields import FieldInput, PathInput, Tick
from workbench.units import parse_seconds_text
from workbench_engines.base import ALL_PRECISIONS, PRECISIONS
from workbench_engines.generate import GENERATE_PRECISIONS

if TYPE_CHECKING:  # pragma: no cover
    from workbench.tui.services import ModelChoice
    from workbench_engines.base import EngineInfo, EngineOption

PRECISION_CHOICES: tuple[str, ...] = PRECISIONS  # below fp32 each engine also runs at fp32: speedup and drift
#: train: torch only (timed training steps); generate: a causal LM's greedy text generation (TTFT, per token)
MODE_CHOICES: tuple[str, ...] = ("latency", "throughput", "train", "generate")
#: the precisions some engine generates at (engines/generate.py GENERATE_PRECISIONS: int4 weights, generate only)
GENERATE_PRECISION_CHOICES: tuple[str, ...] = tuple(
    p for p in ALL_PRECISIONS if any(p in allowed for allowed in GENERATE_PRECISIONS.values())
)
#: MLPerf LoadGen scenarios (workbench.measure.scenario.SCENARIOS; latency mode only)
SCENARIO_CHOICES: tuple[str, ...] = ("singlestream", "multistream", "server", "offline")
#: the Load choice that searches the highest Server QPS within a latency bound (``workbench run --find-max-qps``)
MAX_QPS = "max-qps"
#: generate mode's defaults: the RunConfig's (``--prompt-tokens``, ``--new-tokens``)
DEFAULT_PROMPT_TOKENS = 128
DEFAULT_NEW_TOKENS = 64
DEFAULT_MODEL = "resnet18"
DEFAULT_DURATION_S = RUN.duration_s
DEFAULT_WARMUP_S = 1.0


def _engine_id(name: str) -> str:
    return "engine-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def _option_id(engine: str, name: str) -> str:
    return "option-" + re.sub(r"[^A-Za-z0-9_-]", "_", f"{engine}-{name}")


def _option_ok(option: "EngineOption", text: str) -> bool:
    if not text.strip():
        return True
    try:
        option.coerce(text)
    except ValueError:
        return False
    return True


def _parse_cpus(text: str) -> list[int]:
    from workbench.tui import services

    return services.parse_cpus(text)


def _bound_ms(text: str) -> float:
    """A latency bound as typed (``100ms``, ``0.25 s``; a bare number is milliseconds) in ms; ValueError."""
    bare = text.strip()
    try:
        value = float(bare)
    except ValueError:
        value = parse_seconds_text(bare) * 1000
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{bare!r} — give a bound above 0, e.g. 100ms")
    return value


def _seconds_ok(text: str, least: float) -> bool:
    try:
        return parse_seconds_text(text) >= least if text.strip() else True
    except ValueError:
        return False


def _seconds_rule(label: str, least: float) -> str:
    floor = f"at least {least:g} s" if least > 0 else "0 s or more"
    return f"{label.lower()}: a duration such as 5, 5 s, 500ms or 2 min ({floor})"


def _cpus_ok(text: str) -> bool:
    if not text.strip():
        return True
    try:
        _parse_cpus(text)
    except ValueError:
        return False
    return True


def precision_choices(mode: str) -> tuple[str, ...]:
    """The precisions the Setup pane offers in ``mode`` (generate: int4 weights too, no fp16)."""
    return GENERATE_PRECISION_CHOICES if mode == "generate" else PRECISION_CHOICES


def generate_precision_problem(precision: str, engines: Sequence[str]) -> str | None:
    """Generate mode: the first ticked engine that does not generate at ``precision``, in words, or None."""
    for engine in engines:
        allowed = GENERATE_PRECISIONS.get(engine)
        if allowed is not None and precision not in allowed:
            return (
                f"precision: {engine} generates at {', '.join(allowed)}, not {precision} — choose another precision "
                f"or untick {engine}"
            )
    return None


class SetupError(ValueError):
    """Internal: a field is invalid (``field`` is the widget id)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class FormRow(Horizontal):
    """``label | control`` on one line."""

    DEFAULT_CSS = """
    FormRow {
        height: auto;
        margin: 0 0 0 0;
    }
    FormRow > .form-label {
        width: 10;
        padding: 0 1 0 0;
    }
    FormRow > .form-field {
        width: 1fr;
    }
    """

    def __init__(self, label: str, *children: Widget, id: str | None = None) -> None:
        super().__init__(Label(label, classes="form-label"), *children, id=id)


class OptionRow(Horizontal):
    """``name | field`` for one declared engine option, under its engine's heading: a drop-down when the option
    has choices (first entry: the default), else a field whose placeholder is the default and where it applies."""

    DEFAULT_CSS = """
    OptionRow {
        height: auto;
    }
    OptionRow > .option-label {
        padding: 0 1 0 2;
        text-overflow: ellipsis;
        text-wrap: nowrap;
    }
    OptionRow > .form-field {
        width: 1fr;
    }
    """

    def __init__(self, engine: str, option: "EngineOption", value: str = "", *, label_width: int = 0) -> None:
        self.engine = engine
        self.option = option
        key = f"{engine}.{option.name}"
        label = Label(option.name, classes="option-label")
        label.tooltip = key
        label.styles.width = label_width + 3
        self.field: Input | Select[str]
        if option.choices:
            default = option.default_text()
            entries = [(f"{default} (default)", "")] + [(str(c), str(c)) for c in option.choices if str(c) != default]
            known = {v for _, v in entries}
            self.field = Select(
                entries,
                value=value if value in known else "",
                allow_blank=False,
                compact=True,
                id=_option_id(engine, option.name),
                tooltip=" · ".join(p for p in (option.help, option.scope()) if p) or None,
                classes="form-field",
            )
        else:
            hint = " · ".join(p for p in (option.default_text(), option.scope()) if p)
            self.field = FieldInput(
                value,
                placeholder=hint,
                id=_option_id(engine, option.name),
                valid_empty=True,
                validators=[Function(lambda text: _option_ok(option, text), f"{key}: {option.expects()}")],
                tooltip=option.help or None,
                classes="form-field",
            )
        super().__init__(label, self.field)

    @property
    def text(self) -> str:
        """The value given (empty: the default)."""
        if isinstance(self.field, Select):
            value = self.field.value
            return "" if value is Select.NULL else str(value)
        return self.field.value.strip()


def _select_row(label: str, options: Sequence[Any], value: Any, field_id: str, allow_blank: bool = False) -> FormRow:
    """``label | Select`` of the Setup form (compact, one line)."""
    select: Select[Any] = Select(
        options, value=value, allow_blank=allow_blank, compact=True, id=field_id, classes="form-field"
    )
    return FormRow(label, select)


def _input_row(label: str, value: str, field_id: str, **kwargs: Any) -> FormRow:
    """``label | Input`` of the Setup form (compact, one line); ``kwargs``: placeholder, validators, tooltip, …"""
    return FormRow(label, FieldInput(value, id=field_id, classes="form-field", **kwargs))


class SetupPane(VerticalScroll):
    """The run form. Engines and models arrive after mount (see :attr:`engines`, :attr:`models`)."""

    DEFAULT_CSS = """
    SetupPane {
        height: 1fr;
        padding: 0 1;
    }
    SetupPane .form-field {
        width: 1fr;
    }
    SetupPane #setup-engines {
        height: auto;
        width: 1fr;
    }
    SetupPane #setup-engines Checkbox {
        width: auto;
        margin-right: 2;
    }
    SetupPane .setup-hint {
        height: auto;
        padding: 0 0 0 10;
    }
    SetupPane #setup-path-info {
        display: none;
    }
    SetupPane #setup-server-row {
        display: none;
    }
    SetupPane #setup-server-row > FieldInput {
        margin-right: 1;
    }
    SetupPane #setup-prompt-row, SetupPane #setup-new-row {
        display: none;
    }
    SetupPane #setup-prompt-tokens, SetupPane #setup-new-tokens {
        width: 8;
        margin-right: 1;
    }
    SetupPane #setup-new-row > Label {
        color: $text-muted;
    }
    SetupPane #setup-path-info.-shown {
        display: block;
    }
    SetupPane .option-engine {
        text-style: bold;
    }
    SetupPane .setup-error {
        height: auto;
        padding: 0 0 0 10;
        display: none;
    }
    SetupPane .setup-error.-shown {
        display: block;
    }
    SetupPane #setup-options-row {
        display: none;
        height: auto;
    }
    SetupPane #setup-options-row.-shown {
        display: block;
    }
    SetupPane #setup-options {
        height: auto;
        width: 1fr;
    }
    """

    engines: reactive[tuple["EngineInfo", ...]] = reactive(())
    cpus: reactive[tuple[int, ...]] = reactive(())

    @dataclass
    class CoresChanged(Message):
        """The planned cores changed (valid values only)."""

        cores: tuple[int, ...]
        reserved: tuple[int, ...]

    def __init__(
        self,
        models: Sequence["ModelChoice"],
        initial: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._models = list(models)
        self._initial = dict(initial or {})
        self._selected_engines: set[str] | None = (
            set(self._initial["engines"]) if self._initial.get("engines") else None
        )
        self._ticks_before_file: dict[str, bool] | None = None  # engine ticks before a model file chose its readers
        self.file_info: Any = None  # the chosen model file's ModelFileInfo, once read
        self._precisions: tuple[str, ...] = PRECISION_CHOICES  # what the Precision drop-down offers now

    # ------------------------------------------------------------------------------------------------ compose
    def compose(self) -> ComposeResult:
        init = self._initial
        model, path = self._initial_model()
        options = [(Content.assemble((m.name, "bold"), (f"  {m.task}", "$text-muted")), m.name) for m in self._models]
        yield _select_row("Model", options, model or Select.NULL, "setup-model", allow_blank=not options)
        yield FormRow(
            "or file",
            PathInput(
                path,
                id="setup-path",
                classes="form-field",
                placeholder="path to .onnx / .xml / .pt (Tab completes; overrides the model)",
            ),
        )
        yield Static("", id="setup-path-error", classes="setup-error")
        yield Static("", id="setup-path-info", classes="setup-hint")
        yield FormRow(
            "Engines", Vertical(Static("discovering engines…", classes="setup-hint-inline"), id="setup-engines")
        )
        yield _select_row("Device", [("cpu", "cpu")], str(init.get("device") or "cpu"), "setup-device")
        mode = str(init.get("mode")) if init.get("mode") in MODE_CHOICES else "latency"
        choices = self._precisions = precision_choices(mode)
        precision = init.get("precision") if init.get("precision") in choices else "fp32"
        yield _select_row("Precision", [(p, p) for p in choices], precision, "setup-precision")
        yield _select_row("Mode", [(m, m) for m in MODE_CHOICES], mode, "setup-mode")
        yield from self._generate_rows()
        scenario = init.get("scenario") if init.get("scenario") in SCENARIO_CHOICES else ""
        if init.get("find_max_qps"):
            scenario = MAX_QPS
        load = _select_row(
            "Load",
            [("none: back-to-back calls", "")]
            + [(f"{s} (MLPerf LoadGen)", s) for s in SCENARIO_CHOICES]
            + [("max QPS under a bound (search)", MAX_QPS)],
            scenario,
            "setup-scenario",
        )
        load.id = "setup-scenario-row"
        yield load
        qps = init.get("target_qps")
        bound = init.get("latency_bound_ms")
        percentile = init.get("latency_percentile")
        yield FormRow(
            "Server",
            FieldInput(
                "" if qps is None else f"{qps:g}",
                id="setup-qps",
                placeholder="target QPS",
                classes="form-field",
                tooltip="queries per second arriving at random (Poisson)",
            ),
            FieldInput(
                "" if bound is None else f"{bound:g}ms",
                id="setup-bound",
                placeholder="p99 bound, e.g. 100ms",
                classes="form-field",
                tooltip="the latency the p99 must stay within (LoadGen's default: 100 ms)",
            ),
            FieldInput(
                "" if percentile is None else f"{percentile:g}",
                id="setup-percentile",
                placeholder="at p99",
                classes="form-field",
                tooltip="the percentile the bound applies to (default 99)",
            ),
            id="setup-server-row",
        )
        yield from self._number_rows()
        inputs = _input_row(
            "Inputs",
            _inputs_text(init.get("inputs")),
            "setup-inputs",
            placeholder="generated · e.g. sr=16000 x=a.npy img=cat.jpg feeds.npz",
            tooltip="real input values, separated by spaces or commas: a number (a scalar, or a fill value for "
            "the input's shape), a .npy file, an image (resized, RGB, ImageNet mean/std), or one .npz of "
            "arrays keyed by input name; empty: seeded generated values",
        )
        inputs.id = "setup-inputs-row"
        yield inputs
        with Vertical(id="setup-options-row"):
            yield Label("Engine options", classes="form-label")
            yield Vertical(id="setup-options")
        yield Static("", id="setup-message", classes="setup-error")

    def _initial_model(self) -> tuple[str, str]:
        """``(model, path)`` to preselect: a built-in name (the default model when none is given), or a file."""
        model_names = [m.name for m in self._models]
        model = str(self._initial.get("model") or "")
        path = ""
        if model and model not in model_names:
            path, model = model, ""
        if not model:
            model = DEFAULT_MODEL if DEFAULT_MODEL in model_names else (model_names[0] if model_names else "")
        return model, path

    def _generate_rows(self) -> ComposeResult:
        """Generate mode's fields: the prompt (its length in tokens, or a text) and the tokens to generate."""
        init = self._initial
        yield FormRow(
            "Prompt",
            FieldInput(
                str(init.get("prompt_tokens") or DEFAULT_PROMPT_TOKENS),
                id="setup-prompt-tokens",
                classes="form-field",
                tooltip="the prompt's length in tokens, built from a fixed built-in text (--prompt-tokens)",
            ),
            FieldInput(
                str(init.get("prompt") or ""),
                id="setup-prompt",
                placeholder="or a prompt text (replaces the length)",
                classes="form-field",
                tooltip="the prompt as text: BOS + its tokens (--prompt); empty: the built-in text",
            ),
            id="setup-prompt-row",
        )
        yield FormRow(
            "Generate",
            FieldInput(
                str(init.get("new_tokens") or DEFAULT_NEW_TOKENS),
                id="setup-new-tokens",
                classes="form-field",
                tooltip="tokens generated per generation, greedy; EOS does not stop it (--new-tokens)",
            ),
            Label("new tokens per generation (greedy)", classes="setup-hint-inline"),
            id="setup-new-row",
        )

    def _number_rows(self) -> ComposeResult:
        """Batch, threads, cores (with their hint), duration and warm-up."""
        init = self._initial
        yield _input_row(
            "Batch",
            str(init.get("batch") or 1),
            "setup-batch",
            validators=[Integer(minimum=1, failure_description="batch: a whole number ≥ 1")],
        )
        threads = init.get("threads")
        yield _input_row(
            "Threads",
            "" if threads in (None, "") else str(threads),
            "setup-threads",
            placeholder="auto (one per core)",
            valid_empty=True,
            validators=[Integer(minimum=1, failure_description="threads: ≥ 1 or empty")],
        )
        cores = init.get("cores")
        cores_text = cores if isinstance(cores, str) else (cpu_ranges(cores) if cores else "")
        yield _input_row(
            "Cores",
            cores_text,
            "setup-cores",
            placeholder="e.g. 0-3,6",
            validators=[Function(_cpus_ok, "cores: a CPU list such as 0-3,6")],
        )
        yield Static("", id="setup-cores-hint", classes="setup-hint")
        for label, key, default, least in (
            ("Duration", "duration", DEFAULT_DURATION_S, 0.05),
            ("Warm-up", "warmup", DEFAULT_WARMUP_S, 0.0),
        ):
            seconds = init.get(f"{key}_s", init.get(key, default))
            yield _input_row(
                label,
                f"{float(seconds):g} s",
                f"setup-{key}",
                placeholder="seconds, e.g. 5, 500ms, 2 min",
                validators=[Function(functools.partial(_seconds_ok, least=least), _seconds_rule(label, least))],
            )
        yield Static("", id="setup-field-error", classes="setup-error")

    def on_mount(self) -> None:
        self.border_title = "Setup"
        self._show_mode_rows()
        self._scenario_changed()
        self._update_cores_hint()
        path = self.query_one("#setup-path", Input).value
        if path:
            self._check_path(path)

    # ------------------------------------------------------------------------------------------------ engines
    def watch_engines(self, engines: tuple["EngineInfo", ...]) -> None:
        if not composed(self) or not engines:
            return
        box = self.query_one("#setup-engines", Vertical)
        previous = {cb.name: cb.value for cb in box.query(Checkbox)}
        box.remove_children()
        boxes = [self._engine_box(info, previous) for info in engines]
        box.mount_all(boxes)
        if self.file_info is not None:  # a model file read before the engines arrived chooses its readers
            self._ticks_before_file = None
            self._tick_readers(self.file_info.engines)
        self._build_options(engines, selected={str(cb.name) for cb in boxes if cb.value and not cb.disabled})
        devices: list[str] = ["cpu"]
        for info in engines:
            for dev in info.devices:
                if dev not in devices:
                    devices.append(dev)
        select = self.query_one("#setup-device", Select)
        current = select.value if select.value is not Select.NULL else "cpu"
        select.set_options([(d, d) for d in devices])
        select.value = current if current in devices else "cpu"

    def _engine_box(self, info: "EngineInfo", previous: Mapping[str | None, bool]) -> Checkbox:
        """An installed engine's checkbox (ticked as before a re-discovery, as preselected, or by default), or a
        struck-out, disabled one saying why the engine is not available."""
        if info.installed:
            label = Content.assemble((info.name, "bold"), (f" {info.version or ''}".rstrip(), "$text-muted"))
            if previous:
                checked = previous.get(info.name, False)
            elif self._selected_engines is not None:
                checked = info.name in self._selected_engines
            else:
                checked = True
            tooltip, disabled = info.display_name, False
        else:
            tooltip = info.note or "not available"
            label = Content.assemble((info.name, "strike"), (f" — {tooltip}", "$text-muted"))
            checked, disabled = False, True
        return Tick(
            label, checked, id=_engine_id(info.name), name=info.name, disabled=disabled, tooltip=tooltip, compact=True
        )

    def _build_options(self, engines: tuple["EngineInfo", ...], selected: set[str]) -> None:
        """The options the offered (installed) engines declare, under one heading per engine; values survive a
        re-discovery. The options of an engine that is not selected are disabled (and not passed to the run)."""
        box = self.query_one("#setup-options", Vertical)
        previous = {row.field.id: row.text for row in box.query(OptionRow)}
        given = {f"{e}.{n}": str(v) for e, n, v in self._initial.get("engine_options") or ()}
        box.remove_children()
        declared = [(info.name, opt) for info in engines if info.installed for opt in info.options]
        width = min(16, max((len(o.name) for _, o in declared), default=0))
        widgets: list[Widget] = []
        for engine in dict.fromkeys(e for e, _ in declared):
            widgets.append(Label(engine, classes="option-engine", name=engine))
            for _, opt in (d for d in declared if d[0] == engine):
                value = previous.get(_option_id(engine, opt.name), given.get(f"{engine}.{opt.name}", ""))
                row = OptionRow(engine, opt, value, label_width=width)
                row.field.disabled = engine not in selected
                widgets.append(row)
        box.mount_all(widgets)
        self.query_one("#setup-options-row").set_class(bool(widgets), "-shown")

    @on(Checkbox.Changed, "#setup-engines Checkbox")
    def _engine_toggled(self, event: Checkbox.Changed) -> None:
        for row in self.query(OptionRow).results(OptionRow):
            if row.engine == event.checkbox.name:
                row.field.disabled = not event.value
        self.check_fields()

    def engine_options(self, engines: Sequence[str]) -> tuple[tuple[str, str, str], ...]:
        """``(engine, name, text)`` for every option filled in, of the given (selected) engines only."""
        out = []
        for row in self.query(OptionRow).results(OptionRow):
            text = row.text
            if text and row.engine in engines:
                out.append((row.engine, row.option.name, text))
        return tuple(out)

    # -------------------------------------------------------------------------------------------------- cores
    def watch_cpus(self) -> None:
        if composed(self):
            self._update_cores_hint()

    def planned_cores(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """``(run_cores, reserved)`` as the form stands (defaults when the field is empty or invalid)."""
        from workbench.tui import services

        text = self.query_one("#setup-cores", Input).value if composed(self) else ""
        cpus = list(self.cpus)
        default_run, default_reserved = services.default_cores(cpus) if cpus else ([], [])
        if text.strip():
            try:
                run = _parse_cpus(text)
            except ValueError:
                run = default_run
        else:
            run = default_run
        reserved = [c for c in cpus if c not in run] if text.strip() else default_reserved
        return tuple(run), tuple(reserved)

    def _update_cores_hint(self) -> None:
        run, reserved = self.planned_cores()
        hint = self.query_one("#setup-cores-hint", Static)
        if not self.cpus:
            hint.update("")
            return
        text = self.query_one("#setup-cores", Input).value.strip()
        if text and not _cpus_ok(text):
            hint.update(Content.assemble(("✗ ", "$error"), ("expected a CPU list such as 0-3,6", "$error")))
            return
        prefix = "default: " if not text else ""
        line = f"{prefix}run on {cpu_ranges(run)} ({len(run)} core{'s' if len(run) != 1 else ''})"
        if reserved and not text:
            line += f", core {cpu_ranges(reserved)} kept for the UI"
        elif not reserved and len(self.cpus) == 1:
            line += ", shared with the UI (single core)"
        hint.update(line)
        self.post_message(self.CoresChanged(run, tuple(reserved)))

    @on(Input.Changed, "#setup-cores")
    def _cores_changed(self) -> None:
        self._update_cores_hint()

    # ---------------------------------------------------------------------------------------------- model path
    @on(Input.Changed, "#setup-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._check_path(event.value)

    def _check_path(self, value: str) -> str | None:
        """Show/hide the inline error under the path and, for a usable file, read what it is (in a thread);
        returns the error line or None."""
        error = path_error(value)
        box = self.query_one("#setup-path-error", Static)
        box.update(f"✗ {error}" if error else "")
        box.set_class(bool(error), "-shown")
        info = self.query_one("#setup-path-info", Static)
        info.update("")
        info.set_class(False, "-shown")
        if error or not value.strip():
            self.file_info = None
            self._restore_engines()
            if not value.strip() and composed(self):
                self._model_changed()  # the model drop-down chooses again
        else:
            info.update("reading the file…")
            info.set_class(True, "-shown")
            self._inspect(value.strip())
        return error

    @work(thread=True, exclusive=True, exit_on_error=False, group="model-file", description="Reading the model file")
    def _inspect(self, path: str) -> None:
        from workbench.errors import WorkbenchError
        from workbench.tui import services

        try:
            info: Any = services.inspect_model_file(path)
        except WorkbenchError as exc:
            info = str(exc)
        except Exception as exc:  # a file no reader understands: the run would say the same
            info = f"cannot read {Path(path).name}: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        self.post_message(self.FileInspected(path, info))

    @dataclass
    class FileInspected(Message):
        """A model file was read (``info``: a ModelFileInfo, or the line saying why it cannot be used)."""

        path: str
        info: Any

    @on(FileInspected)
    def _file_inspected(self, message: "SetupPane.FileInspected") -> None:
        if not composed(self) or self.query_one("#setup-path", Input).value.strip() != message.path:
            return  # the field changed since
        box = self.query_one("#setup-path-info", Static)
        if isinstance(message.info, str):
            self.file_info = None
            box.update(Content.assemble(("✗ ", "$error"), (message.info, "$error")))
            return
        self.file_info = message.info
        info = message.info
        self.propose_mode(bool(getattr(info, "generative", False)))
        readers = ", ".join(info.engines) or "no installed engine"
        lines = [f"{info.format} · read by {readers}"]
        lines += [f"in  {line}" for line in info.inputs[:4]]
        if len(info.inputs) > 4:
            lines.append(f"    … {len(info.inputs) - 4} more inputs")
        if info.note:
            lines.append(info.note)
        box.update("\n".join(lines))
        self._tick_readers(info.engines)

    def _tick_readers(self, readers: Sequence[str]) -> None:
        """Tick only the engines that read the chosen file (the previous ticks come back when the path is
        cleared)."""
        boxes = [cb for cb in self.query("#setup-engines Checkbox").results(Checkbox) if not cb.disabled]
        if self._ticks_before_file is None:
            self._ticks_before_file = {str(cb.name): cb.value for cb in boxes}
        for cb in boxes:
            cb.value = cb.name in readers

    def _restore_engines(self) -> None:
        if self._ticks_before_file is None:
            return
        for cb in self.query("#setup-engines Checkbox").results(Checkbox):
            if not cb.disabled and cb.name in self._ticks_before_file:
                cb.value = self._ticks_before_file[str(cb.name)]
        self._ticks_before_file = None

    # ------------------------------------------------------------------------------------------------- values
    def selected_engines(self) -> tuple[str, ...]:
        return tuple(
            str(cb.name)
            for cb in self.query("#setup-engines Checkbox").results(Checkbox)
            if cb.value and not cb.disabled
        )

    def values(self) -> dict[str, Any]:
        """RunConfig keyword arguments; raises SetupError (with the field id) on an invalid field."""
        path = self.query_one("#setup-path", Input).value.strip()
        if path:
            error = self._check_path(path)
            if error:
                raise SetupError("setup-path", error)
            model = str(Path(path).expanduser())
        else:
            value = self.query_one("#setup-model", Select).value
            if value is Select.NULL:
                raise SetupError("setup-model", "choose a model or give a model file")
            model = str(value)
        engines = self.selected_engines()
        if not engines:
            if not self.engines:
                raise SetupError("setup-engines", "engines are still being discovered; try again in a moment")
            raise SetupError("setup-engines", "select at least one available engine")

        def number(field: str, kind: type, empty: Any = None) -> Any:
            widget = self.query_one(f"#{field}", Input)
            text = widget.value.strip()
            if not text and empty is not None:
                return empty
            if not text and field == "setup-threads":
                return None
            problem = self.field_problem(widget)
            if problem:
                raise SetupError(field, problem)
            try:
                return kind(text)
            except ValueError:
                raise SetupError(field, f"{field.removeprefix('setup-')}: not a number: {text!r}") from None

        cores_text = self.query_one("#setup-cores", Input).value.strip()
        cores: tuple[int, ...] | None
        if cores_text:
            try:
                cores = tuple(_parse_cpus(cores_text))
            except ValueError as exc:
                raise SetupError("setup-cores", str(exc)) from None
        else:
            cores = self.planned_cores()[0] or None
        precision = str(self.query_one("#setup-precision", Select).value)
        mode = str(self.query_one("#setup-mode", Select).value)
        engine_options = self._checked_options(engines, precision=precision, mode=mode)
        common = {
            "model": model,
            "engines": engines,
            "device": str(self.query_one("#setup-device", Select).value),
            "precision": precision,
            "mode": mode,
            "engine_options": engine_options,
            "batch": number("setup-batch", int, empty=1),
            "threads": number("setup-threads", int),
            "cores": tuple(cores) if cores else None,
            "duration_s": self._seconds("setup-duration", DEFAULT_DURATION_S),
            "warmup_s": self._seconds("setup-warmup", DEFAULT_WARMUP_S),
        }
        if mode == "generate":  # the CLI's --mode generate run: no input values, no LoadGen scenario
            problem = generate_precision_problem(precision, engines)
            if problem:
                raise SetupError("setup-precision", problem)
            return {**common, **self._generation()}
        return {**common, "inputs": self._inputs(), **self._load()}

    def _generation(self) -> dict[str, Any]:
        """Generate mode's fields as RunConfig keyword arguments (SetupError naming the field)."""
        for field in ("setup-prompt-tokens", "setup-new-tokens"):
            problem = self.field_problem(self.query_one(f"#{field}", Input))
            if problem:
                raise SetupError(field, problem)
        prompt = self.query_one("#setup-prompt", Input).value
        new = self.query_one("#setup-new-tokens", Input).value.strip()
        tokens = self.query_one("#setup-prompt-tokens", Input).value.strip()
        return {
            "prompt_tokens": int(tokens) if tokens else DEFAULT_PROMPT_TOKENS,
            "new_tokens": int(new) if new else DEFAULT_NEW_TOKENS,
            "prompt": prompt if prompt.strip() else None,
        }

    def _seconds(self, field: str, default: float) -> float:
        """A duration field in seconds (units accepted); SetupError saying what is wrong in words."""
        widget = self.query_one(f"#{field}", Input)
        text = widget.value.strip()
        if not text:
            return default
        problem = self.field_problem(widget)
        if problem:
            raise SetupError(field, problem)
        return parse_seconds_text(text)

    def field_problem(self, widget: Input) -> str | None:
        """What is wrong with a field's text, in words (``duration: 'xyz' is not a duration …``), or None."""
        text = widget.value.strip()
        name = (widget.id or "").removeprefix("setup-").replace("warmup", "warm-up")
        if widget.id in ("setup-duration", "setup-warmup") and text:
            try:
                seconds = parse_seconds_text(text)
            except ValueError as exc:
                return f"{name}: {exc}"
            least = 0.05 if widget.id == "setup-duration" else 0.0
            if seconds < least:
                return f"{name}: {text!r} is too short (at least {least:g} s)" if least else None
            return None
        if widget.id in ("setup-batch", "setup-threads") and text:
            try:
                number = int(text)
            except ValueError:
                return f"{name}: {text!r} is not a whole number"
            if number < 1:
                return f"{name}: {number} — give a whole number of 1 or more"
            if widget.id == "setup-threads":
                run, _ = self.planned_cores()
                if run and number > len(run):
                    cores = f"{len(run)} core{'s' if len(run) != 1 else ''} ({cpu_ranges(run)})"
                    return (
                        f"threads: {number} is more than the {cores} the run is pinned to; threads would share "
                        "cores — lower it, or give more cores"
                    )
            return None
        if widget.id in ("setup-prompt-tokens", "setup-new-tokens") and text:
            what, least = ("prompt tokens", 1) if widget.id == "setup-prompt-tokens" else ("new tokens", 2)
            try:
                count = int(text)
            except ValueError:
                return f"{what}: {text!r} is not a whole number"
            if count < least:
                why = "" if least == 1 else " (a first token and at least one decode step)"
                return f"{what}: {count} — give {least} or more{why}"
            return None
        if widget.id == "setup-percentile" and text:
            try:
                pct = float(text.strip().lower().removeprefix("p"))
            except ValueError:
                return f"percentile: {text!r} is not a number (e.g. 99 or p99)"
            return None if 0 < pct < 100 else f"percentile: {text} — give one between 0 and 100, e.g. 99"
        if widget.id == "setup-qps" and text:
            try:
                qps = float(text)
            except ValueError:
                return f"target QPS: {text!r} is not a number"
            return None if qps > 0 and math.isfinite(qps) else f"target QPS: {text} — give a rate above 0"
        if widget.id == "setup-bound" and text:
            try:
                _bound_ms(text)
            except ValueError as exc:
                return f"latency bound: {exc}"
            return None
        if widget.id == "setup-cores" and text:
            try:
                _parse_cpus(text)
            except ValueError as exc:
                return f"cores: {exc}"
            return None
        result = widget.validate(widget.value)
        if result is not None and not result.is_valid:
            return "; ".join(result.failure_descriptions) or f"{name}: invalid"
        return None

    @on(Input.Changed, "#setup Input")
    def _field_changed(self, event: Input.Changed) -> None:
        """Say what is wrong with the form's fields as they are typed (before any run)."""
        if event.input.id == "setup-path":
            return
        self.check_fields()

    def check_fields(self) -> str | None:
        """Show the first field problem under the duration fields (and mark that field); returns it."""
        if not composed(self):
            return None
        first = None
        for widget in self.query(Input).results(Input):
            if widget.id == "setup-path" or widget.disabled:
                continue
            problem = self.field_problem(widget) if _applies(widget) else None
            widget.set_class(bool(problem), "-invalid")
            if problem and first is None:
                first = problem
        if first is None and self.mode == "generate":
            first = generate_precision_problem(
                str(self.query_one("#setup-precision", Select).value), self.selected_engines()
            )
        box = self.query_one("#setup-field-error", Static)
        box.update(f"✗ {first}" if first else "")
        box.set_class(bool(first), "-shown")
        return first

    def _load(self) -> dict[str, Any]:
        """The LoadGen scenario fields as RunConfig keyword arguments (none without a scenario)."""
        value = self.query_one("#setup-scenario", Select).value
        scenario = "" if value is Select.NULL else str(value)
        if not scenario:
            return {}
        if scenario == MAX_QPS:  # workbench run --find-max-qps: the search makes its own offline and server runs
            for field in ("setup-bound", "setup-percentile"):
                problem = self.field_problem(self.query_one(f"#{field}", Input))
                if problem:
                    raise SetupError(field, problem)
            bound = self.query_one("#setup-bound", Input).value.strip()
            if not bound:
                raise SetupError(
                    "setup-bound", "max QPS: give the latency bound the percentile must stay within, e.g. 100ms"
                )
            pct = self.query_one("#setup-percentile", Input).value.strip().lower().removeprefix("p")
            out: dict[str, Any] = {"find_max_qps": True, "latency_bound_ms": _bound_ms(bound)}
            if pct:
                out["latency_percentile"] = float(pct)
            return out
        out = {"scenario": scenario}
        if scenario == "server":
            for field in ("setup-qps", "setup-bound"):
                problem = self.field_problem(self.query_one(f"#{field}", Input))
                if problem:
                    raise SetupError(field, problem)
            qps = self.query_one("#setup-qps", Input).value.strip()
            if not qps:
                raise SetupError("setup-qps", "server: give the target QPS (queries per second arriving at random)")
            out["target_qps"] = float(qps)
            bound = self.query_one("#setup-bound", Input).value.strip()
            if bound:
                out["latency_bound_ms"] = _bound_ms(bound)
        return out

    @on(Select.Changed, "#setup-scenario")
    def _scenario_changed(self) -> None:
        value = self.query_one("#setup-scenario", Select).value
        self.query_one("#setup-server-row").display = value in ("server", MAX_QPS) and self.mode != "generate"
        self.query_one("#setup-qps").display = value == "server"
        self.query_one("#setup-server-row > .form-label", Label).update("Bound" if value == MAX_QPS else "Server")
        self.query_one("#setup-percentile").display = value == MAX_QPS
        bound = self.query_one("#setup-bound", Input)
        bound.placeholder = "bound, e.g. 100ms" if value == MAX_QPS else "p99 bound, e.g. 100ms"
        self.check_fields()

    @property
    def mode(self) -> str:
        """The Mode field's value (``latency`` before the form is composed)."""
        if not composed(self):
            return "latency"
        value = self.query_one("#setup-mode", Select).value
        return "latency" if value is Select.NULL else str(value)

    @on(Select.Changed, "#setup-mode")
    def _mode_changed(self) -> None:
        """Generate mode shows its own fields and precisions and hides those that do not apply (input values, the
        LoadGen scenario)."""
        precision = self.query_one("#setup-precision", Select)
        choices = precision_choices(self.mode)
        if choices != self._precisions:
            self._precisions = choices
            current = precision.value
            with self.prevent(Select.Changed):
                precision.set_options([(p, p) for p in choices])
                precision.value = current if current in choices else "fp32"
        self._show_mode_rows()
        self._scenario_changed()

    def _show_mode_rows(self) -> None:
        generate = self.mode == "generate"
        for row in ("#setup-prompt-row", "#setup-new-row"):
            self.query_one(row).display = generate
        for row in ("#setup-inputs-row", "#setup-scenario-row"):
            self.query_one(row).display = not generate

    @on(Select.Changed, "#setup-precision")
    def _precision_changed(self) -> None:
        self.check_fields()

    @on(Select.Changed, "#setup-model")
    def _model_changed(self) -> None:
        """A causal LM proposes generate mode; another model leaves it (generate would refuse it)."""
        value = self.query_one("#setup-model", Select).value
        if value is Select.NULL or self.query_one("#setup-path", Input).value.strip():
            return
        choice = next((m for m in self._models if m.name == value), None)
        self.propose_mode(bool(choice is not None and choice.generative))

    def propose_mode(self, generative: bool) -> None:
        """Switch to generate mode for a causal LM, and out of it (to latency) for any other model."""
        mode = self.query_one("#setup-mode", Select)
        if generative and mode.value != "generate":
            mode.value = "generate"
        elif not generative and mode.value == "generate":
            mode.value = "latency"

    def inputs_text(self) -> str:
        """The inputs field as typed (remembered with the setup)."""
        return self.query_one("#setup-inputs", Input).value.strip()

    def _inputs(self) -> Any:
        """The inputs field as an :class:`~workbench.models.inputs.InputRequest` (SetupError with one line)."""
        from workbench.errors import WorkbenchError
        from workbench.tui import services

        text = self.query_one("#setup-inputs", Input).value
        try:
            return services.parse_inputs(text)
        except WorkbenchError as exc:
            message = str(exc).removeprefix("--inputs ").removeprefix("--input ").removeprefix("inputs: ")
            raise SetupError("setup-inputs", f"inputs: {message}") from None

    def _checked_options(
        self, engines: Sequence[str], *, precision: str, mode: str
    ) -> tuple[tuple[str, str, Any], ...]:
        """The filled-in options of the selected engines, validated against the declarations (SetupError on the
        first bad one, naming its field)."""
        from workbench.errors import WorkbenchError
        from workbench.tui import services

        items = self.engine_options(engines)
        for engine, name, text in items:
            try:
                services.check_engine_options([(engine, name, text)], engines=engines, precision=precision, mode=mode)
            except WorkbenchError as exc:
                raise SetupError(_option_id(engine, name), str(exc)) from None
        return services.check_engine_options(items, engines=engines, precision=precision, mode=mode)

    def show_error(self, field: str | None, message: str) -> None:
        """Show ``message`` under the form and focus ``field``."""
        box = self.query_one("#setup-message", Static)
        box.update(f"✗ {message}")
        box.add_class("-shown")
        if field:
            try:
                target = self.query_one(f"#{field}")
            except Exception:
                return
            if isinstance(target, Vertical):
                boxes = [cb for cb in target.query(Checkbox) if not cb.disabled]
                if boxes:
                    boxes[0].focus()
                return
            target.focus()

    def clear_error(self) -> None:
        box = self.query_one("#setup-message", Static)
        box.update("")
        box.remove_class("-shown")

    def apply(self, initial: Mapping[str, Any]) -> None:
        """Preselect values (``run_app(**initial_setup)``) after mount."""
        if "model" in initial and initial["model"]:
            model = str(initial["model"])
            select = self.query_one("#setup-model", Select)
            names = [m.name for m in self._models]
            if model in names:
                select.value = model
                self.query_one("#setup-path", Input).value = ""
            else:
                self.query_one("#setup-path", Input).value = model
        if initial.get("engines"):
            self._selected_engines = set(initial["engines"])
            for cb in self.query("#setup-engines Checkbox").results(Checkbox):
                if not cb.disabled:
                    cb.value = cb.name in self._selected_engines
        simple = {
            "batch": "setup-batch",
            "threads": "setup-threads",
            "duration_s": "setup-duration",
            "warmup_s": "setup-warmup",
        }
        for key, field in simple.items():
            if key in initial and initial[key] is not None:
                value = initial[key]
                self.query_one(f"#{field}", Input).value = f"{value:g}" if isinstance(value, float) else str(value)
        if initial.get("inputs"):
            self.query_one("#setup-inputs", Input).value = _inputs_text(initial["inputs"])
        if initial.get("cores"):
            cores = initial["cores"]
            self.query_one("#setup-cores", Input).value = cores if isinstance(cores, str) else cpu_ranges(cores)
        if initial.get("engine_options"):
            self._initial["engine_options"] = tuple(initial["engine_options"])
            for engine, name, value in self._initial["engine_options"]:
                for row in self.query(OptionRow).results(OptionRow):
                    if row.engine == engine and row.option.name == name:
                        try:
                            row.field.value = str(value)
                        except Exception:  # not one of a drop-down's choices: the run's check names it
                            pass
        for key, field in (("prompt_tokens", "setup-prompt-tokens"), ("new_tokens", "setup-new-tokens")):
            if initial.get(key):
                self.query_one(f"#{field}", Input).value = str(initial[key])
        if initial.get("prompt"):
            self.query_one("#setup-prompt", Input).value = str(initial["prompt"])
        for key in ("mode", "precision", "device"):
            if initial.get(key):
                try:
                    self.query_one(f"#setup-{key}", Select).value = initial[key]
                except Exception:
                    pass


def _applies(widget: Widget) -> bool:
    """Whether a field applies to the form as it stands (neither it nor its row is hidden)."""
    node: Any = widget
    while node is not None and not isinstance(node, SetupPane):
        if not node.display:
            return False
        node = node.parent
    return True


def _inputs_text(inputs: Any) -> str:
    """The inputs field's text for an initial value: a string as typed, or an InputRequest."""
    if not inputs:
        return ""
    if isinstance(inputs, str):
        return inputs
    parts = [f"{name}={value}" if name != "*" else value for name, value in getattr(inputs, "given", ())]
    if getattr(inputs, "file", None):
        parts.append(str(inputs.file))
    return " ".join(parts)


def path_error(value: str) -> str | None:
    """One line saying what is wrong with a model file path, or None when it is usable (or empty)."""
    text = value.strip()
    if not text:
        return None
    path = Path(text).expanduser()
    if not path.exists():
        return f"no such file: {text}"
    if path.is_dir():
        from workbench.tui import services

        if services.generative_folder(text) is not None:
            return None  # a causal LM's folder (Hugging Face, OpenVINO GenAI, ONNX Runtime GenAI): generate mode
        return (
            f"{text} is a directory; give the model file (.onnx, .xml, .pt) or a causal-LM folder (Hugging Face, "
            "OpenVINO GenAI, ONNX Runtime GenAI)"
        )
    try:
        if path.stat().st_size == 0:
            return f"{text} is empty"
    except OSError as exc:
        return f"cannot read {text}: {exc.strerror or exc}"
    return None
