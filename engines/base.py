"""The engine adapter interface.

One small ABC per concept, in the spirit of harlequin's adapters:

* :class:`Engine` — a class per engine (torch, onnxruntime, openvino, ...). Its classmethods answer *cheap*
  questions (installed? version? formats?) without importing the engine's package; :meth:`Engine.load` imports
  it and returns a :class:`LoadedModel`.
* :class:`LoadedModel` — a model compiled for one device/precision/thread setting. The benchmark loop calls
  :meth:`LoadedModel.infer` (one synchronous inference) or :meth:`LoadedModel.run_inflight` (many requests in
  flight) and nothing else on the hot path.
* :class:`ModelArtifact` / :class:`TensorSpec` — plain data describing what to load; they cross the process
  boundary into the benchmark process as JSON (:meth:`ModelArtifact.to_dict`).
* :class:`LoadSettings` — how to load: device, precision, threads, mode, requests and the engine's own options.
* :class:`EngineOption` — an option an adapter declares in :attr:`Engine.options` (OpenVINO's ``streams``, ...).
  The CLI (``--engine-option ENGINE.NAME=VALUE``, ``workbench engines --options``) and the UI build themselves
  from these declarations; :meth:`Engine.check_options` validates and coerces user-given values against them.

Heavy imports (torch, openvino, onnxruntime) happen only inside ``load`` / ``probe`` of the adapter that needs
them. Errors are :mod:`workbench.errors` exceptions with one readable line.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from .formats import format_names
from .variants import PrecisionVariant, variants_from_dict

PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "fp16", "int8")
#: Precisions that exist only for ``--mode generate`` (int4 weights); sweeps offer them with generate cells only, the
#: UI's Setup in generate mode.
GENERATE_ONLY_PRECISIONS: tuple[str, ...] = ("int4",)
#: Every precision a run may request.
ALL_PRECISIONS: tuple[str, ...] = PRECISIONS + GENERATE_ONLY_PRECISIONS
#: ``train``: timed full training steps (forward, loss, backward, optimizer step), only on engines that declare it
#: in :attr:`Engine.modes`.
MODES: tuple[str, ...] = ("latency", "throughput", "train")
#: ``generate``: timed greedy text generations of a causal LM (time to first token, per-token latency), only on
#: engines that declare it; their ``load`` then returns a :class:`GenerativeModel`. Kept apart from :data:`MODES`
#: (what sweeps offer) until sweeps can set a prompt and new tokens; the UI's Setup offers it (prompt, new tokens).
ALL_MODES: tuple[str, ...] = MODES + ("generate",)
#: Mode words for the one-line refusal of a mode an engine does not declare.
_MODE_WORDS = {
    "train": "training steps",
    "throughput": "requests in flight (throughput mode)",
    "generate": "text generation (--mode generate)",
}
#: Formats an artifact can carry (the table is :mod:`workbench_engines.formats`). ``torch-builtin`` is a zoo
#: architecture plus a state dict (eager PyTorch).
FORMATS: tuple[str, ...] = format_names()
#: Types an engine option may have.
OPTION_TYPES: tuple[type, ...] = (int, float, str, bool)
_OPTION_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
#: The role of a 0-d input an engine passes as a plain number rather than a tensor (a TorchScript ``forward``
#: argument typed ``int``/``float``/``bool``).
SCALAR_ROLE = "scalar"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class EngineOption:
    """An engine-specific load option, declared once by the adapter (:attr:`Engine.options`).

    ``name`` is short and lower-case (``streams``); users write ``ENGINE.NAME=VALUE`` (``openvino.streams=2``).
    ``type`` is int, float, str or bool. ``default`` is what the adapter gets when the user gives nothing (None:
    the engine decides; say so in ``help``). ``choices`` limits the values; ``minimum`` bounds numbers.
    ``precisions`` / ``modes`` name where the option applies (empty: everywhere); giving it elsewhere is an error,
    not a silently ignored setting.
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    precisions: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _OPTION_NAME.match(self.name):
            raise ValueError(f"engine option name {self.name!r}: lower-case letters, digits, '_' or '-'")
        if self.type not in OPTION_TYPES:
            raise TypeError(f"engine option {self.name!r}: type must be int, float, str or bool")
        bad = [v for v in (*self.precisions, *self.modes) if v not in (*ALL_PRECISIONS, *ALL_MODES)]
        if bad:
            raise ValueError(f"engine option {self.name!r}: unknown precision/mode {bad[0]!r}")

    @property
    def type_name(self) -> str:
        return self.type.__name__

    def coerce(self, value: Any) -> Any:
        """``value`` (a string from the CLI/UI, or already typed) as this option's type; ValueError with one line
        saying what is expected."""
        expected = self.expects()
        if self.type is bool:
            if isinstance(value, bool):
                out: Any = value
            elif str(value).strip().lower() in _TRUE:
                out = True
            elif str(value).strip().lower() in _FALSE:
                out = False
            else:
                raise ValueError(f"{value!r} is not {expected}")
        elif self.type is int:
            if isinstance(value, bool):
                raise ValueError(f"{value!r} is not {expected}")
            try:
                out = int(str(value).strip()) if not isinstance(value, int) else value
            except ValueError:
                raise ValueError(f"{value!r} is not {expected}") from None
        elif self.type is float:
            if isinstance(value, bool):
                raise ValueError(f"{value!r} is not {expected}")
            try:
                out = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{value!r} is not {expected}") from None
        else:
            out = str(value)
        if self.choices and out not in self.choices:
            raise ValueError(f"{value!r} is not {expected}")
        if self.minimum is not None and out < self.minimum:
            raise ValueError(f"{value!r} is not {expected}")
        return out

    def expects(self) -> str:
        """What a valid value looks like, in words: ``a whole number >= 1``, ``one of: a, b``."""
        if self.choices:
            return "one of: " + ", ".join(str(c) for c in self.choices)
        words = {int: "a whole number", float: "a number", str: "a string", bool: "true or false"}[self.type]
        if self.minimum is not None:
            words += f" >= {self.minimum:g}"
        return words

    def default_text(self) -> str:
        """The default as users write it: ``automatic`` for None (the engine decides), ``true``/``false``."""
        if self.default is None:
            return "automatic"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)

    def choices_text(self) -> str:
        """``a|b`` for an option with choices, else empty."""
        return "|".join(str(c) for c in self.choices)

    def applies(self, *, precision: str | None = None, mode: str | None = None) -> bool:
        """Whether the option has an effect at ``precision`` / in ``mode`` (None: any)."""
        return (precision is None or not self.precisions or precision in self.precisions) and (
            mode is None or not self.modes or mode in self.modes
        )

    def scope(self) -> str:
        """Where it applies, in words (empty when everywhere): ``throughput mode only``."""
        parts = []
        if self.modes:
            parts.append(" or ".join(self.modes) + " mode")
        if self.precisions:
            parts.append(" or ".join(self.precisions))
        return (", ".join(parts) + " only") if parts else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type_name,
            "default": self.default,
            "help": self.help,
            "choices": list(self.choices),
            "minimum": self.minimum,
            "precisions": list(self.precisions),
            "modes": list(self.modes),
        }


def split_option(text: str) -> tuple[str, str, str]:
    """``"openvino.streams=2"`` -> ``("openvino", "streams", "2")``; ValueError with one line otherwise (the
    syntax only: whether the engine and option exist is :func:`workbench_engines.registry.check_engine_options`)."""
    key, sep, value = text.partition("=")
    engine, dot, name = key.strip().partition(".")
    if not sep or not dot or not engine or not name.strip():
        raise ValueError(f"bad engine option {text!r}: use ENGINE.NAME=VALUE, e.g. openvino.streams=2")
    return engine.strip().lower(), name.strip().lower(), value.strip()


#: Output keys that carry a note, not an output (:func:`comparable_outputs`): ``NOTE_SKIPPED + name`` says why an
#: output could not be compared at all, ``NOTE_CONVERTED + name`` how a non-tensor output was turned into the
#: array under ``name``. Each is a 0-d unicode array; parity (:mod:`workbench.stats.parity`) reads them.
NOTE_SKIPPED = "~skipped~"
NOTE_CONVERTED = "~converted~"


def comparable_outputs(values: Mapping[str, Any]) -> dict[str, Any]:
    """Model outputs by name as numpy arrays, for outputs that are not tensors too (ONNX-ML's ZipMap gives a
    sequence of maps): a sequence of maps with numeric values becomes an ``N×K`` float array of the maps' values
    (keys sorted; ``N`` maps of the same ``K`` keys), a sequence of same-shaped tensors is stacked, a map becomes
    the vector of its values; each conversion is said under ``NOTE_CONVERTED + name``. What cannot be turned into
    an array (maps of different keys, non-numeric values, ``None``) is left out and said under ``NOTE_SKIPPED +
    name``. Float arrays are float32."""
    import numpy as np

    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, np.ndarray):
            out[name] = value.astype("float32") if value.dtype.kind == "f" else value
            continue
        array, note = _as_array(value)
        if array is None:
            out[NOTE_SKIPPED + name] = np.array(note)
        else:
            out[name] = array
            out[NOTE_CONVERTED + name] = np.array(note)
    return out


def _as_array(value: Any) -> tuple[Any, str]:
    """``(array, how)`` for a non-tensor output, or ``(None, why not)``."""
    import numpy as np

    def numeric(values: list[Any]) -> bool:
        return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values)

    if isinstance(value, dict):
        keys = sorted(value, key=str)
        if numeric([value[k] for k in keys]):
            return np.array(
                [value[k] for k in keys], dtype=np.float32
            ), f"a map of {len(keys)} keys: its values, keys sorted"
        return None, "a map with non-numeric values"
    if isinstance(value, (list, tuple)):
        if not value:
            return None, "an empty sequence"
        if all(isinstance(v, dict) for v in value):
            keys = sorted(value[0], key=str)
            if any(sorted(v, key=str) != keys for v in value):
                return None, f"a sequence of {len(value)} maps with different keys"
            rows = [[v[k] for k in keys] for v in value]
            if not all(numeric(r) for r in rows):
                return None, f"a sequence of {len(value)} maps with non-numeric values"
            shown = ", ".join(str(k) for k in keys[:4]) + (", …" if len(keys) > 4 else "")
            return (
                np.array(rows, dtype=np.float32),
                f"a sequence of {len(value)} maps (keys {shown}): compared as the {len(value)}×{len(keys)} array "
                "of their values, keys sorted",
            )
        if all(isinstance(v, np.ndarray) for v in value) and len({v.shape for v in value}) == 1:
            stacked = np.stack(value)
            return (stacked.astype("float32") if stacked.dtype.kind == "f" else stacked), (
                f"a sequence of {len(value)} tensors: compared stacked"
            )
        return None, f"a sequence of {len(value)} {type(value[0]).__name__} values"
    if value is None:
        return None, "no value (an optional output left empty)"
    return None, f"a {type(value).__name__} value"


@dataclass(frozen=True)
class LoadSettings:
    """How :meth:`Engine.load` compiles a model.

    ``threads``: intra-op threads (None: the engine's default for the process's CPU mask). ``mode``
    ``"throughput"`` lets the engine configure for several requests in flight; ``requests`` is how many the harness
    will keep in flight (:meth:`LoadedModel.run_inflight`; None: the engine's optimum). ``options``: this engine's
    declared options (:attr:`Engine.options`), validated, defaults filled in by the benchmark process.
    """

    device: str = "cpu"
    precision: str = "fp32"
    threads: int | None = None
    mode: str = "latency"
    requests: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the run's seed: what an adapter generates itself (``train`` mode's targets) is drawn from it
    seed: int = 0
    #: ``generate`` mode: the positions one generation needs (prompt + new tokens; None: not known), for an engine
    #: that sizes its KV cache at load (llama.cpp's ``n_ctx``)
    context_tokens: int | None = None


@dataclass(frozen=True)
class TensorSpec:
    """One model input. ``shape`` holds ints, or strings for symbolic dimensions not yet bound."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"  # numpy dtype name
    role: str = "data"  # "image" | "tokens" | "mask" | "data" | "scalar" (SCALAR_ROLE)
    vocab_size: int | None = None  # for role == "tokens"

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) and d > 0 for d in self.shape)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"] = list(self.shape)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TensorSpec":
        return cls(
            name=d["name"],
            shape=tuple(d["shape"]),
            dtype=d.get("dtype", "float32"),
            role=d.get("role", "data"),
            vocab_size=d.get("vocab_size"),
        )


@dataclass(frozen=True)
class ModelArtifact:
    """A model resolved to files engines can load, with concrete (static) input shapes.

    ``files`` maps a format (see :data:`FORMATS`) to a path. For ``openvino`` the path is the ``.xml``; its ``.bin``
    sits beside it. ``builtin`` names the zoo architecture for ``torch-builtin``.
    """

    name: str
    source: str  # "builtin" | "file"
    files: Mapping[str, str]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[str, ...] = ()
    task: str = "generic"  # "image-classification" | "text-classification" | "ocr" | "generic"
    builtin: str | None = None
    reference_engine: str = "torch"  # whose fp32 output is the parity reference
    batch: int = 1
    #: lower-precision files made by model preparation, by precision (see :mod:`workbench_engines.variants`)
    variants: Mapping[str, PrecisionVariant] = field(default_factory=dict)
    #: a pruned built-in (``--sparsity``): target, achieved, per-layer achieved, method and the sizes of each
    #: file (:mod:`workbench.models.prune`); None for a dense model
    sparsity: Mapping[str, Any] | None = None
    #: how model preparation made each file, by format: ``onnx`` the export (exporter, opset, dynamic dims and
    #: axes, traced attention), ``openvino`` the conversion, ``torch-builtin`` the attention torch runs; empty for
    #: a model file run as given (docs/schema.md)
    export: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "files": dict(self.files),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": list(self.outputs),
            "task": self.task,
            "builtin": self.builtin,
            "reference_engine": self.reference_engine,
            "batch": self.batch,
            "variants": {k: v.to_dict() for k, v in self.variants.items()},
            "sparsity": dict(self.sparsity) if self.sparsity is not None else None,
            "export": {k: dict(v) for k, v in self.export.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelArtifact":
        return cls(
            name=d["name"],
            source=d["source"],
            files=dict(d["files"]),
            inputs=tuple(TensorSpec.from_dict(t) for t in d["inputs"]),
            outputs=tuple(d.get("outputs", ())),
            task=d.get("task", "generic"),
            builtin=d.get("builtin"),
            reference_engine=d.get("reference_engine", "torch"),
            batch=int(d.get("batch", 1)),
            variants=variants_from_dict(d.get("variants")),
            sparsity=dict(d["sparsity"]) if d.get("sparsity") is not None else None,
            export={k: dict(v) for k, v in (d.get("export") or {}).items()},
        )


@dataclass(frozen=True)
class EngineInfo:
    """What the CLI/UI shows about an engine without importing it."""

    name: str
    display_name: str
    installed: bool
    version: str | None
    devices: tuple[str, ...]
    formats: tuple[str, ...]
    precisions: tuple[str, ...]
    note: str | None = None  # e.g. why it is unavailable, or "devices probed lazily"
    hidden: bool = False
    options: tuple[EngineOption, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["options"] = [o.to_dict() for o in self.options]
        return d


@dataclass
class Effective:
    """Settings the engine really used after compilation — recorded with every result."""

    device: str
    precision: str  # fp32 | bf16 | fp16 | int8 | mixed
    threads: int | None = None
    streams: int | None = None
    requests: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoadedModel(ABC):
    """A model compiled and ready to run. Not thread-safe unless stated; one benchmark loop drives it."""

    #: load + compile wall time in milliseconds, measured by the adapter around its own load/compile calls
    load_ms: float = 0.0

    def __init__(self, inputs: tuple[TensorSpec, ...]) -> None:
        self.inputs = inputs

    @abstractmethod
    def effective(self) -> Effective:
        """The settings really in force (ask the engine, do not echo the request)."""

    @abstractmethod
    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        """Bind numpy arrays (keyed by input name) for the following :meth:`infer` calls.

        Conversion to engine tensors and host→device copies happen here, outside the timed loop.
        """

    @abstractmethod
    def infer(self) -> None:
        """Run one synchronous inference on the bound inputs; on return the outputs are complete (for GPUs the
        device has been synchronised)."""

    @abstractmethod
    def outputs(self) -> dict[str, Any]:
        """Outputs of the last :meth:`infer` as numpy arrays (float outputs as float32), in model output order;
        an engine whose outputs may be other values (sequences, maps) passes them through
        :func:`comparable_outputs`."""

    def run_inflight(self, requests: int, keep_going: Callable[[], bool], on_done: Callable[[int], None]) -> int:
        """Keep ``requests`` inferences in flight until ``keep_going()`` is False.

        ``on_done(latency_ns)`` is called once per completed request (possibly from several threads; the caller's
        callback must be thread-safe). Returns the number of completed requests. The default runs ``requests``
        threads, each calling :meth:`_infer_concurrent` in a loop — right for engines whose run call releases the
        GIL and may be called concurrently (ONNX Runtime sessions, torch modules in inference mode). Engines with
        a native async API (OpenVINO's AsyncInferQueue) override this.
        """
        counts = [0] * requests
        errors: list[BaseException] = []
        perf = time.perf_counter_ns

        def worker(slot: int) -> None:
            n = 0
            try:
                while keep_going():
                    t0 = perf()
                    self._infer_concurrent()
                    on_done(perf() - t0)
                    n += 1
            except BaseException as exc:  # surfaced below, in the calling thread
                errors.append(exc)
            counts[slot] = n

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(requests)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return sum(counts)

    def _infer_concurrent(self) -> None:
        """One inference that is safe to call from several threads at once (see :meth:`run_inflight`)."""
        raise NotImplementedError(f"{type(self).__name__} does not support requests in flight")

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters need nothing
        """Release engine resources."""


@dataclass(frozen=True)
class Sampling:
    """Seeded sampling for ``--mode generate --sample`` (greedy when a run has none): ``temperature`` divides the
    logits, ``top_k`` keeps the k most likely tokens (0: all), ``top_p`` the smallest set whose probability
    reaches it (1.0: all), ``seed`` seeds the runtime's own generator at the start of every generation, so the
    same engine with the same seed draws the same tokens. Runtimes draw with different generators: tokens are not
    comparable across engines."""

    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"mode": "sample", **asdict(self)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Sampling | None":
        if not d:
            return None
        return cls(
            temperature=float(d.get("temperature", 1.0)),
            top_k=int(d.get("top_k", 0)),
            top_p=float(d.get("top_p", 1.0)),
            seed=int(d.get("seed", 0)),
        )


@dataclass
class GenerationTrace:
    """One timed generation: the token ids generated and, per output token, its nanoseconds — ``step_ns[0]`` is
    the time to first token (prefill of the prompt and the first pick), each later entry one decode step (for a
    batch: the whole batch's prefill, the whole batch's step). ``tokens`` are the first sequence's ids,
    ``sequences`` every sequence's (one per prompt of the batch). ``prefill_logits``: the prompt's last-position
    logits where the engine gives them (parity); ``engine_metrics``: the runtime's own timing of the same
    generation (OpenVINO GenAI ``perf_metrics``), for comparison."""

    tokens: list[int]
    step_ns: list[int]
    prefill_logits: Any = None
    engine_metrics: dict[str, Any] = field(default_factory=dict)
    sequences: list[list[int]] = field(default_factory=list)


class GenerativeModel(LoadedModel):
    """A causal LM loaded for ``--mode generate``: the benchmark loop calls :meth:`generate` and nothing else.

    ``infer``/``set_inputs``/``outputs`` are not used in this mode (a generation is not one inference)."""

    @abstractmethod
    def generate(self, prompts: list[list[int]], new_tokens: int, sampling: Sampling | None = None) -> GenerationTrace:
        """Generate exactly ``new_tokens`` tokens after each of ``prompts`` (a batch of prompts of one length,
        generated together; EOS does not stop it), greedy — or drawn with ``sampling``, its generator seeded at the
        start of the call — timing every output step inside the call."""

    def kv_cache(self, prompt_tokens: int, new_tokens: int, batch: int) -> dict[str, Any]:
        """The KV cache of the last generation: ``{"mb": float | None, "source": str}`` — read from the runtime
        where it reports it, else computed from the model's configuration (the source says which)."""
        return {"mb": None, "source": "not reported by this runtime"}

    def prefill_logits(self, prompt_ids: list[int]) -> Any:
        """The prompt's last-position logits (float32 numpy) outside any timed loop, or None when the runtime
        does not expose them. Default: the ones the first generation returned (see the child)."""
        return None

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        raise NotImplementedError("a generative model takes token ids through generate()")

    def infer(self) -> None:
        raise NotImplementedError("a generative model runs generate(), not infer()")

    def outputs(self) -> dict[str, Any]:
        return {}


class Engine(ABC):
    """An inference engine adapter. Subclasses set the class attributes and implement :meth:`load`."""

    name: ClassVar[str]  # CLI name, e.g. "onnxruntime"
    display_name: ClassVar[str]
    module: ClassVar[str]  # import name checked with importlib.util.find_spec (never imported here)
    distribution: ClassVar[str]  # distribution name for the version (importlib.metadata)
    formats: ClassVar[tuple[str, ...]]  # formats it can load, in order of preference
    hidden: ClassVar[bool] = False  # not offered by default (e.g. the no-op harness engine)
    #: Engine-specific load options (see :class:`EngineOption`); they reach ``load`` in ``settings.options``.
    options: ClassVar[tuple[EngineOption, ...]] = ()
    #: Modes (:data:`MODES`) the adapter can run; ``train`` only where ``infer`` can be a full training step.
    modes: ClassVar[tuple[str, ...]] = ("latency", "throughput")

    # ---- cheap questions: no heavy imports ---------------------------------------------------------------------
    @classmethod
    def is_installed(cls) -> bool:
        try:
            return importlib.util.find_spec(cls.module) is not None
        except (ImportError, ValueError):
            return False

    @classmethod
    def version(cls) -> str | None:
        for dist in cls.distributions():
            try:
                return importlib.metadata.version(dist)
            except importlib.metadata.PackageNotFoundError:
                continue
        return None

    @classmethod
    def alt_distributions(cls) -> tuple[str, ...]:
        """Other distribution names providing the same module (e.g. ``onnxruntime-gpu``)."""
        return ()

    @classmethod
    def distributions(cls) -> tuple[str, ...]:
        """Every distribution that may provide this engine, the first installed one giving the version."""
        return (cls.distribution, *cls.alt_distributions())

    @classmethod
    def fingerprint_fields(cls, versions: Mapping[str, Any]) -> dict[str, Any]:
        """What of this engine goes into the machine fingerprint (:mod:`workbench.machine.sysinfo`), from the
        collected package ``versions`` (keyed by engine name). Default: its version. Cheap: nothing imported."""
        return {cls.name: versions.get(cls.name)}

    # ---- options ---------------------------------------------------------------------------------------------
    @classmethod
    def option(cls, name: str) -> EngineOption:
        """The declared option ``name``; UsageError naming the valid ones otherwise."""
        from workbench.errors import UsageError, closest

        for opt in cls.options:
            if opt.name == name:
                return opt
        names = [o.name for o in cls.options]
        if not names:
            raise UsageError(f"{cls.name}.{name}: {cls.name} declares no options (workbench engines --options)")
        hint = closest(name, names)
        suggestion = f"did you mean {cls.name}.{hint}? " if hint else ""
        valid = ", ".join(f"{cls.name}.{n}" for n in names)
        raise UsageError(f"{cls.name}.{name}: no such option; {suggestion}{cls.name}'s options: {valid}")

    @classmethod
    def check_options(
        cls, values: Mapping[str, Any], *, precision: str | None = None, mode: str | None = None
    ) -> dict[str, Any]:
        """``values`` (option name -> value, strings accepted) validated and coerced against :attr:`options`.

        Raises UsageError in one line for an unknown option, a bad value (saying what is expected) or an option
        that has no effect at ``precision`` / in ``mode``.
        """
        from workbench.errors import UsageError

        out: dict[str, Any] = {}
        for name, value in values.items():
            opt = cls.option(name)
            try:
                out[name] = opt.coerce(value)
            except ValueError as exc:
                raise UsageError(f"{cls.name}.{name}: {exc}") from None
            if not opt.applies(precision=precision, mode=mode):
                now = [f"{mode} mode"] if opt.modes and mode not in opt.modes else []
                now += [str(precision)] if opt.precisions and precision not in opt.precisions else []
                raise UsageError(f"{cls.name}.{name} applies in {opt.scope()}, not {' and '.join(now)}")
        return out

    @classmethod
    def options_with_defaults(cls, values: Mapping[str, Any]) -> dict[str, Any]:
        """Every declared option: the given value, else its default."""
        return {**{o.name: o.default for o in cls.options}, **dict(values)}

    @classmethod
    def check_mode(cls, mode: str) -> None:
        """Raise UsageError in one line when the adapter does not declare ``mode`` (:attr:`modes`):
        ``onnxruntime cannot run training steps; use -e torch``."""
        from workbench.errors import UsageError

        if mode in cls.modes:
            return
        from .registry import builtin_engine_classes

        able = [e.name for e in builtin_engine_classes() if mode in e.modes]
        instead = f"; use -e {','.join(able)}" if able else ""
        raise UsageError(f"{cls.name} cannot run {_MODE_WORDS.get(mode, f'{mode} mode')}{instead}")

    @classmethod
    def quick_devices(cls) -> tuple[str, ...]:
        """Devices guessed from files on disk, without importing the engine. :meth:`probe_devices` is exact."""
        return ("cpu",)

    @classmethod
    def precisions(cls, device: str = "cpu") -> tuple[str, ...]:
        """Precisions the adapter can request on ``device`` (the engine may still run another: see Effective)."""
        return ("fp32",)

    @classmethod
    def info(cls) -> EngineInfo:
        installed = cls.is_installed()
        return EngineInfo(
            name=cls.name,
            display_name=cls.display_name,
            installed=installed,
            version=cls.version() if installed else None,
            devices=cls.quick_devices() if installed else (),
            formats=cls.formats,
            precisions=cls.precisions("cpu"),
            note=None if installed else f"not installed: pip install {cls.distribution}",
            hidden=cls.hidden,
            options=cls.options,
        )

    # ---- heavy: imports the engine -----------------------------------------------------------------------------
    @classmethod
    def probe_devices(cls) -> tuple[str, ...]:
        """Devices the engine itself reports (imports the engine; run it in a child process from the CLI/UI)."""
        return cls.quick_devices()

    @classmethod
    def explain_error(cls, exc: BaseException) -> str:
        """The one line a user can act on for an exception this engine raised (never an engine-internal source
        path alone). Native engines write pages, often with the useful part last: adapters override this to
        pick it out (the failing ops, the innermost status). Default: the first line of the message."""
        from workbench.errors import first_line

        return first_line(exc)

    @classmethod
    def pick_format(cls, artifact: ModelArtifact) -> str:
        """The first of our formats the artifact provides; raises UnsupportedError naming what would work."""
        from workbench.errors import UnsupportedError

        for fmt in cls.formats:
            if fmt in artifact.files:
                return fmt
        from .formats import engines_for, get_format

        have = ", ".join(sorted(artifact.files)) or "none"
        want = ", ".join(cls.formats)
        able = sorted({e for fmt in artifact.files if fmt in FORMATS for e in engines_for(fmt)} - {cls.name})
        if artifact.source == "file" and len(artifact.files) == 1:
            (fmt,) = artifact.files
            label = get_format(fmt).label if fmt in FORMATS else fmt
            instead = f"; use -e {','.join(able)}" if able else ""
            raise UnsupportedError(
                f"{cls.name} cannot run {artifact.name!r}: it is a {label} file, which {cls.name} does not read "
                f"({cls.name} loads {want}){instead}"
            )
        raise UnsupportedError(f"{cls.name} cannot run {artifact.name!r}: it has {have}; {cls.name} loads {want}")

    @classmethod
    @abstractmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        """Load/compile ``artifact`` with ``settings`` (None: :class:`LoadSettings` defaults) and return a ready
        model.

        Read engine options from ``settings.options`` with ``.get(name)``: the benchmark process fills in the
        declared defaults, a direct caller may not. Raises EngineUnavailable (not installed / device absent),
        UnsupportedError (format/precision/device), ModelError (file cannot be parsed).
        """
