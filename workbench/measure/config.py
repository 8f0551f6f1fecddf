"""What defines a run and how it is checked: :class:`RunConfig`, :func:`validate` (defaults filled, options checked
against the adapters' declarations), which default engines run here, and what to prepare for a run
(:func:`preparation`). Pure of processes: the runner (:mod:`workbench.measure.runner`) runs what this describes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from workbench.errors import UsageError
from workbench.machine.cpus import allowed_cores, default_cores, format_cpu_list
from workbench.measure.precision import DEFAULT_DRIFT_SAMPLES, check_precision_flags, quantize_request
from workbench.measure.settings import RUN, SAMPLING_DEFAULTS, default_threads
from workbench.models.inputs import InputRequest, check_request
from workbench_engines.base import ModelArtifact


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run. Validated by :func:`validate` before anything starts."""

    model: str
    engines: tuple[str, ...]
    device: str = RUN.device
    precision: str = RUN.precision
    mode: str = RUN.mode
    batch: int = RUN.batch
    threads: int | None = None  # None: one per core (settings.default_threads)
    cores: tuple[int, ...] | None = None
    duration_s: float = RUN.duration_s
    min_iterations: int = RUN.min_iterations
    warmup_s: float = RUN.warmup_s
    warmup_iterations: int | None = None
    repeats: int = 1
    requests: int | None = None  # requests the harness keeps in flight in throughput mode (None: engine's optimum)
    #: engine options, ``(engine, name, value)`` (``--engine-option ENGINE.NAME=VALUE``), validated against the
    #: adapters' declarations by :func:`validate`
    engine_options: tuple[tuple[str, str, Any], ...] = ()
    shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()
    seed: int = RUN.seed
    baseline: str | None = None
    save_samples: bool = False
    parity: bool = RUN.parity
    tags: tuple[str, ...] = ()
    note: str | None = None
    timeout_s: float = 300.0  # longest silence allowed from a benchmark process
    percentiles: tuple[float, ...] = ()  # extra percentiles on request, e.g. (97.5, 99.99)
    #: False when ``engines`` are the defaults rather than the user's: those not installed or unable to read the
    #: model are then skipped with a warning instead of failing the run (``workbench run -m model.xml``)
    engines_explicit: bool = True
    #: given input values (``--input``/``--inputs``, image preprocessing); empty: every input is generated
    inputs: InputRequest = field(default_factory=InputRequest)
    rtol: float | None = None  # parity: relative-L2 tolerance replacing the precision's default (--rtol)
    atol: float | None = None  # parity: an output within this max abs difference also passes (--atol)
    #: int8: calibration samples (None: all of calibration_data, else 10) and real data to calibrate on
    calibration_samples: int | None = None
    calibration_data: str | None = None
    #: below fp32: seeded inputs the drift against the same engine's fp32 is measured on
    drift_samples: int = DEFAULT_DRIFT_SAMPLES
    #: below fp32: also measure every engine at fp32 in the same rounds (speedup over fp32, drift)
    fp32_baseline: bool = True
    #: fraction of conv/linear weights pruned to zero (global magnitude) before export, for every engine alike
    sparsity: float = 0.0
    #: a LoadGen scenario (``--scenario``; workbench.measure.scenario): each round is one LoadGen test of it, in
    #: the pinned benchmark process; None: the mode's own timed loop. The settings below apply only with it.
    scenario: str | None = None
    target_qps: float | None = None  # Server: the Poisson arrival rate; Offline: the expected rate (sizing only)
    latency_bound_ms: float | None = None  # Server: the bound (None: LoadGen's 100 ms, or the rules')
    latency_percentile: float | None = None  # the percentile judged (None: the scenario's, p90 / p99)
    samples_per_query: int | None = None  # MultiStream (None: 8)
    min_queries: int | None = None  # None: the scenario's (MultiStream 662 for early stopping, else LoadGen's)
    mlperf_rules: bool = False  # the official mlperf.conf minimums (600 s, seeds, per-model bounds)
    qsl_samples: int | None = None  # distinct samples in LoadGen's sample library (None: scenario.qsl_size's default)
    #: Server: engine threads = pinned cores - 1, leaving one core to LoadGen's issuing thread (--issue-core)
    issue_core: bool = False
    #: ``--mode generate``: the prompt's length in tokens (built from the built-in text when ``prompt`` is None),
    #: the tokens to generate (greedy; EOS does not stop a generation) and a given prompt text
    prompt_tokens: int = RUN.prompt_tokens
    new_tokens: int = RUN.new_tokens
    prompt: str | None = None
    #: ``--mode generate --sample``: seeded sampling (seed: ``seed``) instead of greedy picks; None in the three
    #: below: the runtime-neutral defaults (temperature 1, top-k off, top-p off) of :data:`SAMPLING_DEFAULTS`
    sample: bool = False
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None

    def sampling(self) -> dict[str, Any] | None:
        """The sampling a generate job carries (``wire.Job.generate["sampling"]``, the result's
        ``generation.sampling``); None for greedy."""
        if not self.sample:
            return None
        given = {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p}
        return {
            "mode": "sample",
            **{k: (SAMPLING_DEFAULTS[k] if v is None else v) for k, v in given.items()},
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        from workbench_engines.registry import options_by_engine

        d["shapes"] = {k: list(v) for k, v in self.shapes}
        d["inputs"] = self.inputs.to_dict()
        d["engine_options"] = options_by_engine(self.engine_options)
        return d

    def scenario_job(self, model: str = "") -> dict[str, Any]:
        """The LoadGen scenario a benchmark process runs (:attr:`wire.Job.scenario`); empty without one."""
        if self.scenario is None:
            return {}
        from workbench.measure.scenario import Scenario

        return Scenario(
            name=self.scenario,
            duration_s=self.duration_s,
            target_qps=self.target_qps,
            latency_bound_ms=self.latency_bound_ms,
            percentile=self.latency_percentile,
            samples_per_query=self.samples_per_query,
            min_queries=self.min_queries,
            seed=self.seed,
            mlperf_rules=self.mlperf_rules,
            model=model,
            qsl_samples=self.qsl_samples,
            issue_core=self.issue_core,
        ).to_dict()

    def options_for(self, engine: str) -> dict[str, Any]:
        """The options given for ``engine`` (name -> value)."""
        return {name: value for e, name, value in self.engine_options if e == engine}


DEFAULT_ENGINES: tuple[str, ...] = ("torch", "onnxruntime", "openvino")


def installed_engines(names: tuple[str, ...], device: str = "cpu") -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """For engines the user did not name (the defaults): those installed here, and a warning for each skipped one."""
    from workbench_engines.registry import canonical, get_engine_class

    kept, skipped = [], []
    for name in dict.fromkeys(canonical(n) for n in names):
        cls = get_engine_class(name)
        if cls.is_installed():
            kept.append(name)
        else:
            skipped.append(_skipped(name, f"not installed (pip install {cls.distribution})"))
    return tuple(kept), skipped


def readable_engines(names: tuple[str, ...], artifact: ModelArtifact) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """For default engines: those that can read ``artifact`` (an IR file is for OpenVINO alone), and a warning for
    each one skipped. Engines the user named are never dropped: they fail with the adapter's one line instead."""
    from workbench.errors import UnsupportedError
    from workbench_engines.registry import get_engine_class

    kept, skipped = [], []
    for name in names:
        try:
            get_engine_class(name).pick_format(artifact)
            kept.append(name)
        except UnsupportedError as exc:
            skipped.append(_skipped(name, str(exc)))
    return tuple(kept), skipped


def _skipped(engine: str, why: str) -> dict[str, str]:
    return {"code": "engine-skipped", "message": f"{engine} skipped (not asked for by name): {why}"}


def validate(config: RunConfig) -> RunConfig:
    """Check a config and fill defaults (cores, threads, baseline). Raises UsageError / EngineUnavailable."""
    from workbench_engines.base import ALL_MODES as MODES
    from workbench_engines.base import ALL_PRECISIONS as PRECISIONS
    from workbench_engines.registry import canonical, check_engine_options, require

    if not config.engines:
        raise UsageError("no engines selected; pass --engines torch,onnxruntime,openvino")
    engines = tuple(dict.fromkeys(canonical(e) for e in config.engines))
    for name in engines:
        require(name, config.device)
    if config.mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {config.mode!r}")
    engines = _engines_for_mode(engines, config.mode, explicit=config.engines_explicit)  # train: torch only
    if config.precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, not {config.precision!r}")
    if config.duration_s < 0:
        raise UsageError(f"--duration must be >= 0 seconds, not {config.duration_s:g}")
    if config.min_iterations < 1 and config.duration_s == 0:
        raise UsageError("nothing to measure: give --duration > 0 or --iterations >= 1")
    if config.batch < 1:
        raise UsageError(f"--batch must be >= 1, not {config.batch}")
    if config.repeats < 1:
        raise UsageError(f"--repeats must be >= 1, not {config.repeats}")
    if config.warmup_s < 0 or (config.warmup_iterations or 0) < 0:
        raise UsageError("--warmup must be >= 0")
    bad_p = [p for p in config.percentiles if not 0 < p < 100]
    if bad_p:
        raise UsageError(f"--percentile must be between 0 and 100 (exclusive), not {bad_p[0]:g}")
    if config.requests is not None and config.requests < 1:
        raise UsageError(f"--requests must be >= 1, not {config.requests}")
    if not 0 <= config.sparsity < 1:
        raise UsageError(f"--sparsity must be a fraction in [0, 1), not {config.sparsity:g}")
    check_tolerances(config.rtol, config.atol)
    check_request(config.inputs)
    _check_scenario(config)
    check_precision_flags(
        config.precision,
        calibration_samples=config.calibration_samples,
        calibration_data=config.calibration_data,
        drift_samples=config.drift_samples,
    )
    engine_options = check_engine_options(
        config.engine_options, engines=engines, precision=config.precision, mode=config.mode
    )
    allowed = allowed_cores()
    cores = tuple(config.cores) if config.cores else default_cores()
    bad = sorted(set(cores) - set(allowed))
    if bad:
        raise UsageError(
            f"--cores {','.join(map(str, bad))} not available: this process may use cores {format_cpu_list(allowed)}"
        )
    threads = default_threads(config.threads, cores)
    if config.issue_core:
        threads = _issue_core_threads(config, cores)
    if threads < 1:
        raise UsageError(f"--threads must be >= 1, not {threads}")
    baseline = canonical(config.baseline) if config.baseline else engines[0]
    if baseline not in engines:
        raise UsageError(f"--baseline {config.baseline!r} is not one of the engines run ({', '.join(engines)})")
    if config.mode == "train":  # outputs change every step: no parity, no fp32 baseline/drift (docs/methodology.md)
        config = replace(config, parity=False, fp32_baseline=False)
    if config.mode == "generate":
        _check_generate(config, engines)
        # token parity against torch fp32 (a separate reference process below fp32); no per-engine fp32 baseline
        config = replace(config, fp32_baseline=False)
    else:
        from workbench.models.generative import is_generative

        if config.sample or config.temperature is not None or config.top_k is not None or config.top_p is not None:
            raise UsageError("--sample, --temperature, --top-k and --top-p apply to --mode generate only")
        if config.precision == "int4":
            raise UsageError("--precision int4 (int4 weights) applies to --mode generate only")
        if is_generative(config.model):
            raise UsageError(f"{config.model} is a causal language model: run it with --mode generate")
    return replace(
        config, engines=engines, cores=cores, threads=threads, baseline=baseline, engine_options=engine_options
    )


def _check_scenario(config: RunConfig) -> None:
    """A scenario's settings (one line each, exit 2) and LoadGen itself (one line naming what to install)."""
    from workbench.measure.scenario import check_loadgen, check_scenario

    check_scenario(
        config.scenario,
        target_qps=config.target_qps,
        latency_bound_ms=config.latency_bound_ms,
        percentile=config.latency_percentile,
        samples_per_query=config.samples_per_query,
        min_queries=config.min_queries,
        mode=config.mode,
        mlperf_rules=config.mlperf_rules,
    )
    if config.qsl_samples is not None and config.scenario is None:
        raise UsageError("--qsl-samples needs --scenario (or --find-max-qps)")
    if config.qsl_samples is not None and config.qsl_samples < 1:
        raise UsageError(f"--qsl-samples must be >= 1, not {config.qsl_samples}")
    if config.scenario is not None:
        check_loadgen()


def generate_precisions(engine: str, device: str = "cpu") -> tuple[str, ...]:
    """The precisions ``engine`` generates text at: the three built-in runtimes' from
    :data:`workbench_engines.generate.GENERATE_PRECISIONS`, an engine that only generates (llama.cpp) its declared
    ones."""
    from workbench_engines.generate import GENERATE_PRECISIONS
    from workbench_engines.registry import get_engine_class

    if engine in GENERATE_PRECISIONS:
        return GENERATE_PRECISIONS[engine]
    cls = get_engine_class(engine)
    return cls.precisions(device) if "generate" in cls.modes else ()


def _issue_core_threads(config: RunConfig, cores: tuple[int, ...]) -> int:
    """``--issue-core``: the engine's threads, one fewer than the pinned cores (one line when it cannot apply)."""
    if config.scenario not in ("server", "offline"):
        raise UsageError("--issue-core applies to --scenario server (or --find-max-qps): it frees a core for LoadGen")
    if len(cores) < 2:
        raise UsageError("--issue-core needs at least 2 cores (engine threads = cores - 1); give --cores 0,1 or more")
    if config.threads is not None and config.threads != len(cores) - 1:
        raise UsageError(f"--issue-core sets the engine's threads to cores - 1 ({len(cores) - 1}): leave out --threads")
    return len(cores) - 1


def _check_generate(config: RunConfig, engines: tuple[str, ...]) -> None:
    """``--mode generate``: lengths, batch, a causal-LM model, the precisions each engine generates at."""
    from workbench.models.generative import GENERATIVE, is_generative_source

    if not is_generative_source(config.model):
        raise UsageError(
            f"--mode generate needs a causal language model: a built-in ({', '.join(GENERATIVE)}) or a folder "
            f"(Hugging Face causal LM with tokenizer, OpenVINO GenAI, ONNX Runtime GenAI); {config.model!r} is not one"
        )
    if config.prompt is None and config.prompt_tokens < 1:
        raise UsageError(f"--prompt-tokens must be >= 1, not {config.prompt_tokens}")
    if config.new_tokens < 2:
        raise UsageError(
            f"--new-tokens must be >= 2 (one first token and at least one decode step), not {config.new_tokens}"
        )
    if config.batch > 1:
        from workbench_engines.generate import BATCH_REFUSAL

        if config.prompt is not None:
            raise UsageError(
                "--prompt is one prompt: --batch > 1 generates distinct built-in prompts of --prompt-tokens each; "
                "drop --prompt or run --batch 1"
            )
        for name in engines:
            if name in BATCH_REFUSAL:
                raise UsageError(BATCH_REFUSAL[name])
    _check_sampling(config)
    _check_generate_device(config.device, engines)
    if config.sparsity:
        raise UsageError("--sparsity does not apply to --mode generate")
    for name in engines:
        allowed = generate_precisions(name, config.device)
        if config.precision not in allowed:
            raise UsageError(f"{name} generates at {', '.join(allowed) or 'no precision'}, not {config.precision}")


def _check_generate_device(device: str, engines: tuple[str, ...]) -> None:
    """``--mode generate`` off the CPU: torch only (the GenAI runtimes here are their CPU builds), and only where
    torch can see a CUDA device (asked without importing torch)."""
    if device == "cpu":
        return
    from workbench_engines.generate import CPU_ONLY_REFUSAL
    from workbench_engines.registry import get_engine_class

    for name in engines:
        if name in CPU_ONLY_REFUSAL:
            raise UsageError(CPU_ONLY_REFUSAL[name].format(device=device))
    if device.startswith("cuda") and not any(d.startswith("cuda") for d in get_engine_class("torch").quick_devices()):
        raise UsageError(
            f"--device {device}: torch sees no CUDA device here (a CPU-only torch build, or no GPU); use --device cpu"
        )


def _check_sampling(config: RunConfig) -> None:
    """``--sample`` and its settings: each in range, and none of them without ``--sample`` (greedy ignores them)."""
    given = [f for f, v in (("--temperature", config.temperature), ("--top-k", config.top_k),
                            ("--top-p", config.top_p)) if v is not None]  # fmt: skip
    if given and not config.sample:
        raise UsageError(f"{given[0]} applies to sampling: add --sample (generation is greedy without it)")
    if config.temperature is not None and not config.temperature > 0:
        raise UsageError(
            f"--temperature must be > 0, not {config.temperature:g} (greedy is the default: drop --sample)"
        )
    if config.top_k is not None and config.top_k < 0:
        raise UsageError(f"--top-k must be >= 0 (0: off), not {config.top_k}")
    if config.top_p is not None and not 0 < config.top_p <= 1:
        raise UsageError(f"--top-p must be in (0, 1] (1: off), not {config.top_p:g}")


def _engines_for_mode(engines: tuple[str, ...], mode: str, *, explicit: bool) -> tuple[str, ...]:
    """The engines that can run ``mode`` (each adapter's ``modes``). A named engine that cannot is one line
    (``onnxruntime cannot run training steps; use -e torch``); default engines that cannot are left out."""
    from workbench_engines.registry import get_engine_class

    if explicit:
        for name in engines:
            get_engine_class(name).check_mode(mode)
        return engines
    able = tuple(e for e in engines if mode in get_engine_class(e).modes)
    if not able:
        get_engine_class(engines[0]).check_mode(mode)
    return able


def preparation(
    config: RunConfig,
    *,
    engines: tuple[str, ...] | None = None,
    options_for: Callable[[str], dict[str, Any]] | None = None,
    parity: bool | None = None,
) -> dict[str, Any]:
    """The keyword arguments of :func:`workbench.measure.prepare.prepare` for ``config``: batch, shapes, seed,
    sparsity, the formats of ``engines`` (default the config's) and, with ``parity``, of the built-ins' reference,
    and for int8 the quantization of those engines that run it (with ``options_for``'s options) and the
    calibration. A sweep prepares once for all its engines and passes them here."""
    from workbench_engines.formats import builtin_reference_engine
    from workbench_engines.registry import get_engine_class

    engines = config.engines if engines is None else engines
    check = config.parity if parity is None else parity
    if config.mode == "generate":  # each runtime's folder of the causal LM (workbench.models.generative)
        from workbench.models.generative import formats_for_engines

        return {"formats": formats_for_engines(engines), "seed": config.seed, "precision": config.precision}
    kw: dict[str, Any] = {
        "batch": config.batch,
        "shapes": dict(config.shapes) or None,
        "formats": formats_for(engines + ((builtin_reference_engine(),) if check else ())),
        "seed": config.seed,
        "sparsity": config.sparsity,
    }
    if config.precision == "int8":
        able = [e for e in engines if "int8" in get_engine_class(e).precisions(config.device)]
        kw["precision"] = "int8"
        kw["quantize"] = quantize_request(able, options_for or config.options_for)
        kw["calibration"] = {"samples": config.calibration_samples, "data": config.calibration_data}
    return kw


def check_tolerances(rtol: float | None, atol: float | None) -> None:
    """``--rtol``/``--atol`` must be positive numbers when given. Raises UsageError."""
    for flag, value in (("--rtol", rtol), ("--atol", atol)):
        if value is not None and not (isinstance(value, (int, float)) and 0 < value < float("inf")):
            raise UsageError(f"{flag} must be a number > 0, not {value}")


def formats_for(engines: tuple[str, ...]) -> set[str]:
    """The built-in formats the given engines need (each engine's first preference a built-in can provide)."""
    from workbench_engines.formats import builtin_formats as builtin
    from workbench_engines.registry import get_engine_class

    builtin_formats = builtin()
    need = set()
    for name in engines:
        cls = get_engine_class(name)
        for fmt in cls.formats:
            if fmt in builtin_formats:
                need.add(fmt)
                break
    return need


__all__ = [
    "DEFAULT_ENGINES",
    "RunConfig",
    "check_tolerances",
    "formats_for",
    "installed_engines",
    "preparation",
    "readable_engines",
    "validate",
]
