"""The app's doorway to the headless core: one small function per dependency.

Every call the UI makes into the runner, the live stream, the engine registry, the model zoo, sysinfo, the
history, the exporters and the sweep campaign (running one, reading a stored one's spec, state and resumability)
goes through this module, so a change in one of those contracts is absorbed here — which is why most functions are
one forwarding call. What the UI imports directly is plain data and pure functions: records and events, the units,
the axis parsers (``campaign.axes``) and the report and stats renderers (``workbench.report.*``, ``stats.speedup``
text). Heavy or optional modules are imported inside the functions: importing this module (and so the app) imports
no engine and no numpy.

Blocking functions (:func:`system_info`, :func:`engine_infos`, :func:`list_history`, :func:`make_runner`'s
``run``, :func:`follow`) are called from thread workers, never from the event loop — except the history write
(:func:`save_record`), which the app does on the UI thread so there is exactly one writer.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover - typing only
    from workbench.campaign.cells import SweepSpec
    from workbench.campaign.sweep import Sweep
    from workbench.measure.events import Event
    from workbench.measure.runner import RunConfig, Runner
    from workbench.models.inputs import InputRequest
    from workbench.result import RunRecord
    from workbench.stats.compare import Comparison
    from workbench.store.history import HistoryStore
    from workbench_engines.base import EngineInfo

#: Formats :func:`export_records` offers, with the file suffix used for the default file name.
EXPORT_FORMATS: dict[str, str] = {"json": "json", "csv": "csv", "markdown": "md"}


@dataclass(frozen=True)
class ModelChoice:
    """A built-in model as the model picker shows it."""

    name: str
    description: str
    task: str
    generative: bool = False  # a causal LM: it runs in generate mode (workbench.models.generative)


# ------------------------------------------------------------------------------------------------------ machine


def system_info() -> dict[str, Any]:
    """The machine description (:func:`workbench.machine.sysinfo.collect`); never raises."""
    from workbench.machine import sysinfo

    return sysinfo.collect()


def parse_cpus(text: str) -> list[int]:
    """``"0-3,6"`` -> ``[0, 1, 2, 3, 6]``; ValueError with a readable message otherwise."""
    from workbench.machine.cpus import parse_cpu_list

    return parse_cpu_list(text)


def available_cpus() -> list[int]:
    """CPUs this process may run on."""
    from workbench.machine.cpus import allowed_cores

    return allowed_cores()


def default_cores(cpus: Sequence[int]) -> tuple[list[int], list[int]]:
    """``(run_cores, left_to_the_app)`` by the one default-cores rule (:func:`workbench.machine.cpus.default_cores`,
    the same the CLI uses)."""
    from workbench.machine.cpus import default_cores as rule

    run = list(rule(cpus))
    return run, [c for c in sorted(cpus) if c not in run]


def cpu_percent() -> list[float]:
    """Per-CPU utilisation since the previous call (non-blocking)."""
    import psutil

    return list(psutil.cpu_percent(percpu=True))


# ------------------------------------------------------------------------------------------------ engines/models


def engine_infos() -> list["EngineInfo"]:
    """Cheap inventory of the engines (no engine is imported)."""
    from workbench_engines.registry import engine_infos as _infos

    return _infos(include_hidden=False)


def check_engine_options(
    items: Sequence[tuple[str, str, Any]], *, engines: Sequence[str], precision: str, mode: str
) -> tuple[tuple[str, str, Any], ...]:
    """Engine options ``(engine, name, value)`` validated and coerced against the adapters' declarations; a
    WorkbenchError in one line (naming the option) otherwise. No engine is imported."""
    from workbench_engines.registry import check_engine_options as check

    return check(items, engines=engines, precision=precision, mode=mode, flag="option")


def builtin_models() -> list[ModelChoice]:
    """The built-in models, in display order (plain data; torch is not imported)."""
    from workbench.models import zoo
    from workbench.models.generative import GENERATIVE

    return [ModelChoice(m.name, m.description, m.task) for m in zoo.BUILTINS.values()] + [
        ModelChoice(m.name, m.description, "text-generation", generative=True) for m in GENERATIVE.values()
    ]


@dataclass(frozen=True)
class ModelFileInfo:
    """What the Setup pane says about a model file before a run: its format, the engines that read it, its inputs."""

    format: str  # the format's label ("ONNX", "OpenVINO IR", …)
    engines: tuple[str, ...]  # the (offered) engines whose adapter reads the format
    inputs: tuple[str, ...]  # "name  1×3×224×224 float32" per input; empty when only the run can tell
    note: str = ""  # why the inputs are not listed, or what else to know
    generative: bool = False  # a causal-LM folder: it runs in generate mode


#: a causal-LM folder's format -> (what the Setup pane calls it, the engines that run it)
GENERATIVE_FOLDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "hf-causal-lm": ("Hugging Face causal LM folder", ("torch", "openvino", "onnxruntime")),
    "openvino-genai": ("OpenVINO GenAI folder", ("openvino",)),
    "onnxruntime-genai": ("ONNX Runtime GenAI folder", ("onnxruntime",)),
}


def generative_folder(path: str) -> str | None:
    """The causal-LM folder format of ``path`` (``hf-causal-lm``, ``openvino-genai``, ``onnxruntime-genai``) by its
    files, or None when it is not such a folder (:func:`workbench_engines.formats.generative_folder`; cheap)."""
    from workbench_engines.formats import generative_folder as detect

    try:
        return detect(Path(path).expanduser())
    except OSError:
        return None


def inspect_model_file(path: str) -> ModelFileInfo:
    """The format, readers and inputs of the model file ``path``, read without importing an engine (a TorchScript
    file's inputs need torch: the run reads them). Raises WorkbenchError in one line for what the run would
    refuse."""
    from workbench.models import resolve
    from workbench_engines import formats

    folder = generative_folder(path)
    if folder is not None:  # a causal LM: each runtime reads its own folder (a Hugging Face one is exported)
        label, readers = GENERATIVE_FOLDERS[folder]
        return ModelFileInfo(label, readers, (), "a causal language model: it runs in generate mode", generative=True)
    file = Path(path).expanduser()
    fmt = formats.detect_format(file)
    label = formats.get_format(fmt).label
    engines = formats.engines_for(fmt)
    if fmt == "torchscript":
        return ModelFileInfo(label, engines, (), "its inputs are read when the run starts (TorchScript needs torch)")
    artifact = resolve.resolve_file(file)
    lines = tuple(f"{spec.name}  {'×'.join(str(d) for d in spec.shape)}  {spec.dtype}" for spec in artifact.inputs)
    return ModelFileInfo(label, engines, lines)


def setup_file() -> Path:
    """Where the UI keeps the last setup it ran (under the XDG config dir)."""
    from workbench import paths

    return paths.config_dir() / "tui-setup.json"


#: Setup values remembered between sessions (the RunConfig keys the form sets; ``inputs`` as typed).
REMEMBERED = (
    *("model", "engines", "precision", "mode", "batch", "threads", "cores", "duration_s", "warmup_s", "inputs"),
    *("scenario", "target_qps", "latency_bound_ms", "latency_percentile", "find_max_qps"),
    *("prompt_tokens", "new_tokens", "prompt"),  # --mode generate
)


def load_setup() -> tuple[dict[str, Any], str | None]:
    """``(values, problem)``: the last setup saved by :func:`save_setup` (empty when none), and one line when the
    file could not be used (it is then ignored, not deleted)."""
    import json

    try:
        path = setup_file()
        if not path.is_file():
            return {}, None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {}, f"the last setup was not restored ({exc.__class__.__name__}: {exc}); using the defaults"
    except Exception as exc:  # an unusable config dir (UsageError from paths)
        return {}, f"the last setup was not restored: {exc}"
    if not isinstance(data, dict):
        return {}, f"the last setup was not restored ({setup_file()} is not a JSON object); using the defaults"
    values = {k: data[k] for k in REMEMBERED if data.get(k) not in (None, "", [])}
    options = data.get("engine_options")
    if isinstance(options, list):
        values["engine_options"] = tuple(tuple(o) for o in options if isinstance(o, list) and len(o) == 3)
    return values, None


def save_setup(values: Mapping[str, Any], inputs_text: str = "") -> None:
    """Remember the setup a run started with (best effort: a read-only config dir only loses the memory)."""
    import json

    from workbench import paths

    doc: dict[str, Any] = {k: values.get(k) for k in REMEMBERED if k != "inputs"}
    doc["engines"] = list(values.get("engines") or ())
    doc["cores"] = list(values["cores"]) if values.get("cores") else None
    doc["inputs"] = inputs_text or None
    doc["engine_options"] = [[e, n, str(v)] for e, n, v in values.get("engine_options") or ()]
    try:
        paths.atomic_write(setup_file(), (json.dumps(doc, indent=1) + "\n").encode(), mode=0o644)
    except Exception:
        pass


# ----------------------------------------------------------------------------------------------------- running


def make_config(values: Mapping[str, Any]) -> "RunConfig":
    """A :class:`workbench.measure.runner.RunConfig` from the Setup form's values (keys are RunConfig fields)."""
    from workbench.measure.runner import RunConfig

    return RunConfig(**dict(values))


def parse_inputs(text: str) -> "InputRequest":
    """The Setup form's inputs field (``NAME=VALUE`` pairs separated by spaces or commas, optionally one ``.npz``)
    as a :class:`workbench.models.inputs.InputRequest`; a WorkbenchError in one line when it is malformed or
    names a file that does not exist. Checked against the model when the run starts."""
    from workbench.errors import UsageError
    from workbench.models.inputs import InputRequest, check_request, parse_inputs_text

    try:
        given, npz = parse_inputs_text(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    request = InputRequest(given=given, file=npz)
    check_request(request)
    return request


def make_runner(config: "RunConfig", on_event: Callable[["Event"], None]) -> "Runner":
    """A :class:`workbench.measure.runner.Runner` publishing to the live stream; ``run()`` blocks, ``stop()`` is
    thread-safe."""
    from workbench.measure.runner import Runner

    return Runner(config, on_event=on_event, live=True)


def run_max_qps(
    config: "RunConfig",
    *,
    on_event: Callable[["Event"], None],
    on_probe: Callable[[dict[str, Any]], None],
    on_runner: Callable[["Runner"], None],
    probe: Callable[["RunConfig"], "RunRecord"] | None = None,
) -> "RunRecord | None":
    """The max-QPS search of ``config`` (``workbench run --find-max-qps``: :func:`workbench.campaign.qps_search.
    run_search`): the record to save (None when no probe ran). ``probe`` replaces the Runner run of one config
    (tests). Blocking: a thread worker."""
    from workbench.campaign.qps_search import run_search

    record, _ = run_search(config, on_event=on_event, on_probe=on_probe, on_runner=on_runner, probe=probe)
    return record


def live_runs() -> list[dict[str, Any]]:
    """Runs in flight in other processes: run_id, model, engines, pid, started (epoch seconds)."""
    from workbench.measure.live import list_live_runs

    return list_live_runs()


def follow(run_id: str, stop: threading.Event) -> Iterator["Event"]:
    """Events of a run in another process until it ends or ``stop`` is set."""
    from workbench.measure.live import follow as _follow

    return _follow(run_id, stop)


# ----------------------------------------------------------------------------------------------------- history


def open_history(notice: Callable[[str], None] | None = None) -> "HistoryStore":
    from workbench.store.history import HistoryStore

    return HistoryStore(notice=notice)


def list_history(store: "HistoryStore", limit: int = 50) -> list["RunRecord"]:
    return store.list(limit=limit)


def save_record(store: "HistoryStore", record: "RunRecord") -> str:
    """Add ``record`` to the history; returns its run id."""
    result = store.add(record)
    return str(result) if result else record.run_id


def record_from_dict(d: Mapping[str, Any]) -> "RunRecord":
    from workbench.result import RunRecord

    return RunRecord.from_dict(d)


# ------------------------------------------------------------------------------------------------------ export


def export_dir() -> Path:
    """Where ``e`` writes: ``$WORKBENCH_HOME`` when set, else the current directory."""
    from workbench.paths import home

    base = home()
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
        return base
    return Path.cwd()


def export_records(records: Sequence["RunRecord"], fmt: str = "json", name: str | None = None) -> Path:
    """Write ``records`` as ``fmt`` into :func:`export_dir`; returns the path written."""
    from workbench.report.export import write

    suffix = EXPORT_FORMATS.get(fmt, fmt)
    if name is None:
        ids = "-".join(r.run_id for r in records[:2]) or "empty"
        name = f"workbench-{ids}.{suffix}"
    return write(export_dir() / name, fmt, list(records))


# ------------------------------------------------------------------------------------------------------ sweeps
# (the Sweep screen, workbench/tui/sweep.py)


def make_sweep_spec(values: Mapping[str, Any]) -> "SweepSpec":
    """A :class:`workbench.campaign.cells.SweepSpec` from the Sweep screen's values (keys are SweepSpec fields)."""
    from workbench.campaign.cells import SweepSpec

    return SweepSpec(**dict(values))


def check_sweep_spec(spec: "SweepSpec") -> int:
    """Check ``spec``'s axes by the CLI's rules (:func:`workbench.campaign.cells.check_spec`, against the cores this
    process may use); returns the number of cells the sweep runs (:func:`workbench.campaign.sweep.sweep_cells`: the
    train cells of an engine without a train mode are left out). Raises UsageError with one line, also when no cell
    is left."""
    from workbench.campaign.cells import check_spec
    from workbench.campaign.sweep import sweep_cells
    from workbench.errors import UsageError
    from workbench.machine.cpus import allowed_cores

    check_spec(spec, allowed_cores())
    cells, notes = sweep_cells(spec)
    if not cells:
        raise UsageError("no cell of this sweep can run: " + "; ".join(notes))
    return len(cells)


def make_sweep(
    spec: "SweepSpec",
    store: "HistoryStore",
    on_event: Callable[["Event"], None],
    resume: "RunRecord | None" = None,
) -> "Sweep":
    """A :class:`workbench.campaign.sweep.Sweep` that saves itself to ``store`` after every cell; ``run()`` blocks (a
    thread worker), ``cells.stop()`` is thread-safe and makes ``run()`` raise SweepInterrupted. ``resume``: a stored
    sweep to continue (``workbench sweep --resume``): only the cells it does not hold run. Raises UsageError when
    the spec cannot run here or ``resume`` cannot be resumed (a fleet sweep, one still running, one of another
    host)."""
    from workbench.campaign.sweep import Sweep

    return Sweep(spec, store=store, on_event=on_event, resume=resume)


def run_sweep(sweep: "Sweep") -> tuple[str, "RunRecord"]:
    """Run ``sweep`` to its end (blocks: a thread worker): ``("complete", record)``, or ``("interrupted", record)``
    when ``cells.stop()`` stopped it (its finished cells are saved). Other errors propagate."""
    from workbench.campaign.sweep import SweepInterrupted

    try:
        return "complete", sweep.run()
    except SweepInterrupted as exc:
        return "interrupted", exc.record


def stored_spec(record: "RunRecord") -> "SweepSpec | None":
    """The spec a stored sweep ran (:func:`workbench.campaign.sweep.stored_spec`; None: not a readable sweep)."""
    from workbench.campaign.sweep import stored_spec as spec_of

    return spec_of(record)


def unreadable_sweep(record: "RunRecord") -> str:
    """The one line for a sweep record whose spec cannot be read."""
    from workbench.campaign.sweep import unreadable_line

    return unreadable_line(record)


def sweep_state(record: "RunRecord") -> str:
    """A stored sweep's state as a user should read it (:func:`workbench.campaign.sweep.effective_state`: a sweep
    whose process died reads ``interrupted``)."""
    from workbench.campaign.sweep import effective_state

    return effective_state(record)


def sweep_total(record: "RunRecord", spec: "SweepSpec") -> int:
    """A stored sweep's number of cells (:func:`workbench.campaign.sweep.stored_total`)."""
    from workbench.campaign.sweep import stored_total

    return stored_total(record, spec)


def resume_refusal(record: "RunRecord") -> str | None:
    """Why a stored sweep is not resumed, one line (:func:`workbench.campaign.sweep.resume_refusal`); None: it may."""
    from workbench.campaign.sweep import resume_refusal as refusal

    return refusal(record)


# ---- across machines --------------------------------------------------------------------------------------------
def compare_runs(a: "RunRecord", b: "RunRecord", store: "HistoryStore | None" = None) -> "Comparison":
    """``workbench compare A B``'s comparison, with the machines' run-to-run spreads (stored A/A measurements and,
    with ``store``, the spread between stored runs of one configuration). Raises
    :class:`~workbench.errors.UsageError` for runs of different models or inputs (the UI says so and opens
    nothing)."""
    from workbench.stats.compare import compare
    from workbench.store.history import run_to_run_entries

    return compare(a, b, spreads=run_to_run_entries(store, a, b))


def machine_comparison(store: "HistoryStore", model: str) -> str:
    """The stored results of ``model`` grouped by machine (``workbench compare --by machine -m MODEL``), as text."""
    from workbench.report.machines import render_machines
    from workbench.stats.machines import compare_machines

    return render_machines(compare_machines(store.list(model=model, limit=None), model))


# ---- history: tags, delete, export with a chosen format and file (the History pane and the export dialog) -------
#: ``(format, label, suffix)`` the export dialog offers: the exporters of :mod:`workbench.report.export` and the
#: HTML report of :mod:`workbench.report.html` (one run per page).
EXPORT_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("json", "JSON", "json"),
    ("csv", "CSV", "csv"),
    ("markdown", "Markdown", "md"),
    ("html", "HTML", "html"),
)


def default_export_path(records: Sequence["RunRecord"], fmt: str = "json") -> Path:
    """The file ``e`` suggests: ``workbench-<id>[-<id>].<suffix>`` in :func:`export_dir` (several runs: the first
    two ids and how many)."""
    suffix = {f: s for f, _, s in EXPORT_CHOICES}.get(fmt, fmt)
    ids = "-".join(r.run_id for r in records[:2]) or "empty"
    more = f"-and-{len(records) - 2}-more" if len(records) > 2 else ""
    return export_dir() / f"workbench-{ids}{more}.{suffix}"


def export_target(text: str, records: Sequence["RunRecord"], fmt: str) -> tuple[Path, bool]:
    """Check the export dialog's file name before writing: ``(path, exists)``. A UsageError with one line when
    nothing is given, the path is a folder, its folder does not exist, or HTML is asked for several runs."""
    from workbench.errors import UsageError

    if fmt == "html" and len(records) != 1:
        raise UsageError(f"HTML is one run per page: choose JSON, CSV or Markdown for {len(records)} runs")
    if not text.strip():
        raise UsageError("give a file name")
    path = Path(text.strip()).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if path.is_dir():
        raise UsageError(f"{path} is a folder: give a file name")
    if not path.parent.is_dir():
        raise UsageError(f"the folder {path.parent} does not exist")
    return path, path.exists()


def write_export(records: Sequence["RunRecord"], fmt: str, path: Path) -> Path:
    """Write ``records`` as ``fmt`` (json, csv, markdown, html) to ``path`` atomically; returns the path. A
    UsageError in one line when it cannot be written. Blocking (a thread worker)."""
    from workbench.report.export import write, write_text

    if fmt == "html":
        from workbench.errors import UsageError
        from workbench.report.html import render_html

        if len(records) != 1:
            raise UsageError("HTML is one run per page")
        return write_text(path, render_html(records[0]), flag="the file name")
    return write(path, fmt, list(records))


def tag_runs(store: "HistoryStore", run_ids: Sequence[str], add: Sequence[str] = (), remove: Sequence[str] = ()) -> int:
    """Add and remove tags on the stored runs ``run_ids`` (:func:`workbench.result.retagged`, each run stored again
    with :meth:`HistoryStore.put`); returns how many runs changed. ValueError naming a tag that is not one word.
    Blocking (a thread worker)."""
    from dataclasses import replace

    from workbench.result import retagged

    retagged([], add=add)  # check the tags before touching anything
    changed = 0
    for run_id in run_ids:
        rec = store.get(run_id)
        new = retagged(rec.tags, add=add, remove=remove)
        if new != list(rec.tags):
            store.put(replace(rec, tags=new))
            changed += 1
    return changed


def delete_runs(store: "HistoryStore", run_ids: Sequence[str]) -> int:
    """Delete the stored runs ``run_ids`` (and their raw-sample files); returns how many. Blocking (a worker)."""
    return store.delete(list(run_ids))
