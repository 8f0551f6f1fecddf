"""Turn what a benchmark process left behind into results: pure functions over an engine's state (the loaded
message, the histogram, the finished rounds, the outputs) and the run's config, testable without a process.

The runner (:mod:`workbench.measure.runner`) fills an :class:`EngineState` per engine while it reads the child's
frames, then calls :func:`engine_result` for each, :func:`apply_speedups` over them, and :func:`model_entry` for the
record. Nothing here starts a process, writes a file or emits an event; advisory parts that fail (the noise
warnings) are handed to ``on_error`` so the caller can record them as diagnostics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

import numpy as np

from workbench.measure.precision import mismatch_message, quantized_file_message
from workbench.result import EngineResult
from workbench.stats.histogram import LogHistogram
from workbench.stats.parity import compare as parity_compare
from workbench.stats.parity import is_reference, reference_parity
from workbench.stats.summary import summary_from_histogram
from workbench_engines.base import ModelArtifact

if TYPE_CHECKING:  # pragma: no cover
    from workbench.measure.procs import EngineProcess
    from workbench.measure.runner import RunConfig

ROLLING_WINDOW = 2048
#: the percentiles every result carries (``--percentile`` adds to them)
PERCENTILES: tuple[float, ...] = (50, 90, 95, 99, 99.9)

#: ``on_error(where, exc, engine=...)``: an advisory part failed (the runner's ``_diagnose``)
OnError = Callable[..., None]


#: time blocks per measured round: their medians show how much the machine drifted within the round
BLOCKS = 6
#: a block with fewer samples has no median worth keeping
MIN_BLOCK_SAMPLES = 5


class BlockMedians:
    """The medians of a round's samples in :data:`BLOCKS` consecutive time blocks of ``duration_s / BLOCKS`` (by
    the child's round clock, a frame at a time). A run's drift *within* a round — the machine slowing down for a
    second — makes its median a worse estimate of its speed; the verdicts between runs widen by it
    (:mod:`workbench.stats.verdict`). Pure."""

    def __init__(self, duration_s: float) -> None:
        self._block_ns = max(1.0, duration_s * 1e9 / BLOCKS)
        self._hist = LogHistogram()
        self._index = 0
        self.medians: list[float] = []

    def add(self, samples: np.ndarray, elapsed_ns: int) -> None:
        self._hist.add(samples)
        if elapsed_ns >= (self._index + 1) * self._block_ns and self._index < BLOCKS - 1:
            self._close()
            self._index = min(BLOCKS - 1, int(elapsed_ns // self._block_ns))

    def _close(self) -> None:
        if self._hist.count >= MIN_BLOCK_SAMPLES:
            self.medians.append(float(self._hist.quantile(0.5)) / 1e6)
        self._hist = LogHistogram()

    def finish(self) -> list[float]:
        """The block medians in ms (the last block closed here)."""
        self._close()
        return self.medians


@dataclass
class EngineState:
    """What the runner knows of one engine (or one engine's fp32 baseline variant) of a run."""

    name: str
    proc: EngineProcess | None = None
    loaded: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] | None = None
    hist: LogHistogram = field(default_factory=LogHistogram)
    #: ``--mode generate``: the time to first token of every measured generation so far (streamed ``ttft`` frames)
    ttft_hist: LogHistogram = field(default_factory=LogHistogram)
    rolling: deque = field(default_factory=lambda: deque(maxlen=ROLLING_WINDOW))
    rounds: list[dict[str, Any]] = field(default_factory=list)
    round_hist: LogHistogram = field(default_factory=LogHistogram)  # the round in progress (per-repeat percentiles)
    blocks: "BlockMedians | None" = None  # the round in progress, in time blocks (its drift within the round)
    error: str | None = None
    error_detail: str | None = None  # the child's full error text (ChildFailed.detail)
    samples: list[np.ndarray] = field(default_factory=list)
    noise: list[Any] = field(default_factory=list)
    measured_ns: int = 0  # measured time of finished rounds
    round_elapsed_ns: int = 0  # measured time so far in the round in progress (stamped by the child)
    iterations: int = 0
    engine: str | None = None  # the engine, when the state's name is a variant's ("torch fp32"); None: name
    precision: str | None = None  # the precision it runs at; None: the run's
    drift_outputs: list[dict[str, np.ndarray]] = field(default_factory=list)  # one per drift seed
    #: idle power measured by the runner before the rounds (workbench.machine.energy.measure_idle); None: not measured
    idle: dict[str, Any] | None = None

    def add_samples(self, elapsed_ns: int, samples: np.ndarray, *, duration_s: float, keep: bool = False) -> None:
        """A frame of a round's samples (ns), stamped with the round's clock: into the run's histogram, the
        round's, its time blocks and the live window (``keep``: the raw samples too, for ``--save-samples``)."""
        self.hist.add(samples)
        self.round_hist.add(samples)
        if self.blocks is None:
            self.blocks = BlockMedians(duration_s)
        self.blocks.add(samples, elapsed_ns)
        self.rolling.extend(samples[-ROLLING_WINDOW:].tolist())
        self.iterations += samples.size
        self.round_elapsed_ns = elapsed_ns
        if keep:
            self.samples.append(samples.copy())

    def finish_round(self, payload: dict[str, Any]) -> None:
        """The child's ``round_done``: the round is kept with its own p50/p90/p99 (the per-repeat values verdicts
        test) and its time-block medians."""
        if self.round_hist.count:
            q = self.round_hist.quantiles([0.5, 0.9, 0.99]) / 1e6
            payload = {**payload, "p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2])}
        if self.blocks is not None:
            payload["blocks"] = self.blocks.finish()
        self.round_hist, self.blocks = LogHistogram(), None
        self.rounds.append(payload)
        self.measured_ns += int(payload["elapsed_ns"])
        self.round_elapsed_ns = 0


def _raise(where: str, exc: BaseException, engine: str | None = None) -> None:
    raise exc


def engine_result(
    st: EngineState,
    config: RunConfig,
    artifact: ModelArtifact,
    reference_outputs: dict[str, np.ndarray] | None,
    reference_note: str | None,
    *,
    allowed: Iterable[int] | None = None,
    on_error: OnError = _raise,
) -> EngineResult:
    """The result of one engine's state: what ran (from the ``loaded`` message), and when it measured, the
    latency summary, throughput, CPU use, peak memory, per-repeat values, the histogram, parity against
    ``reference_outputs`` and the warnings. ``allowed``: the cores this process could use before the run."""
    c = config
    res = _what_ran(st, c, artifact)
    if st.error is not None or not st.rounds:
        res.status = "failed"
        res.error = st.error or "no measurements"
        res.error_detail = st.error_detail
        return res
    _measurements(res, st, c)
    if c.mode == "generate":
        _generation(res, st, c)
    res.parity = result_parity(st, c, artifact, res, reference_outputs, reference_note)
    res.warnings = result_warnings(st, res, c, allowed=allowed, on_error=on_error)
    return res


def _what_ran(st: EngineState, c: RunConfig, artifact: ModelArtifact) -> EngineResult:
    loaded = st.loaded or {}
    eff = loaded.get("effective", {})
    res = EngineResult(
        engine=st.name,
        model=artifact.name,
        device=c.device,
        mode=c.mode,
        batch=c.batch,
        threads=c.threads,
        cores=list(c.cores or ()),
        precision_requested=st.precision or c.precision,
        precision_effective=eff.get("precision"),
        streams=eff.get("streams"),
        requests=eff.get("requests"),
        engine_version=loaded.get("engine_version"),
        load_ms=loaded.get("load_ms"),
        first_inference_ms=loaded.get("first_inference_ms"),
        effective=eff or None,
    )
    if eff.get("threads"):
        res.threads = eff["threads"]
    if artifact.sparsity is not None:  # --sparsity: what was achieved, and the size of this engine's file
        from workbench.models.prune import result_entry

        res.sparsity = result_entry(artifact, st.engine or st.name, st.precision or c.precision)
    return res


def _measurements(res: EngineResult, st: EngineState, c: RunConfig) -> None:
    """The latency summary, throughput, CPU use, peak memory and per-repeat values of a measured state."""
    wanted = tuple(dict.fromkeys(PERCENTILES + tuple(c.percentiles)))
    summary = summary_from_histogram(st.hist, percentiles=wanted)
    ms = 1e6
    std = summary.std / ms
    res.latency_ms = {
        "mean": summary.mean / ms,
        "std": std if np.isfinite(std) else None,  # one sample: the spread is unknown, not zero
        "min": summary.min / ms,
        "max": summary.max / ms,
        **{k: v / ms for k, v in summary.percentiles.items()},
    }
    res.median_ci_ms = [summary.median_ci[0] / ms, summary.median_ci[1] / ms]
    res.outliers = summary.outliers
    res.iterations = int(sum(r["iterations"] for r in st.rounds))
    elapsed_s = sum(r["elapsed_ns"] for r in st.rounds) / 1e9
    res.duration_s = elapsed_s
    res.throughput = res.iterations * c.batch / elapsed_s if elapsed_s > 0 else None
    cpu_s = sum(r.get("cpu_s", 0.0) for r in st.rounds)
    ncores = max(1, len(c.cores or ()))
    res.cpu_util_pct = 100.0 * cpu_s / (elapsed_s * ncores) if elapsed_s > 0 else None
    peaks = [r["peak_rss_mb"] for r in st.rounds if r.get("peak_rss_mb") is not None]
    res.peak_rss_mb = max(peaks) if peaks else None
    res.repeats = [
        {
            "iterations": r["iterations"],
            "duration_s": r["elapsed_ns"] / 1e9,
            "throughput": r["iterations"] * c.batch / (r["elapsed_ns"] / 1e9) if r["elapsed_ns"] else None,
            **{k: r[k] for k in ("p50", "p90", "p99", "blocks") if k in r},
        }
        for r in st.rounds
    ]
    res.histogram = st.hist.to_dict()
    entries = [r["loadgen"] for r in st.rounds if r.get("loadgen")]
    if entries:  # a LoadGen scenario: its verdict per round, and the result's (the worst round's)
        from workbench.measure.scenario import worst

        for rep, entry in zip(res.repeats, entries):
            rep["loadgen"] = {k: entry.get(k) for k in ("validity", "qps", "target_latency_ms")}
        res.scenario = entries[0].get("scenario")
        res.loadgen = worst(entries)
    res.energy = result_energy(st, c.batch)
    for rep, r in zip(res.repeats, st.rounds):
        if isinstance(r.get("energy_j"), dict):
            rep["joules"] = sum(r["energy_j"].values())


def result_energy(st: EngineState, batch: int) -> dict[str, Any] | None:
    """A result's ``energy``: measured from the rounds' counters (:func:`workbench.machine.energy.energy_summary`,
    against the idle power the runner measured), or ``{"status": "unavailable", "reason"}`` when the benchmark
    process could read no counter; None for records of processes that did not say."""
    from workbench.machine.energy import energy_summary

    said = (st.loaded or {}).get("energy")
    if not isinstance(said, dict):
        return None
    if said.get("unavailable"):
        return {"status": "unavailable", "reason": str(said["unavailable"])}
    out = energy_summary(st.rounds, batch=batch, idle=st.idle)
    if out is None:
        errors = [r["energy_error"] for r in st.rounds if r.get("energy_error")]
        return {
            "status": "unavailable",
            "reason": f"reading the counters failed: {errors[0]}" if errors else "no round read the counters",
        }
    if said.get("not_measured") and out.get("status") == "measured":
        out["not_measured"] = list(said["not_measured"])
    return out


def _generation(res: EngineResult, st: EngineState, c: RunConfig) -> None:
    """``--mode generate``: TTFT, TPOT and tokens/s (:func:`workbench.stats.generation.summarise`); the result's
    throughput is the end-to-end generated tokens per second."""
    from workbench.stats.generation import summarise

    loaded = st.loaded or {}
    res.generation = summarise(
        st.rounds,
        res.latency_ms,
        batch=c.batch,
        prompt_tokens=int(loaded.get("prompt_tokens") or c.prompt_tokens),
        new_tokens=c.new_tokens,
        sampling=c.sampling(),
    )
    res.throughput = res.generation["tokens_per_s"]["end_to_end"]


def result_parity(
    st: EngineState,
    c: RunConfig,
    artifact: ModelArtifact,
    res: EngineResult,
    reference_outputs: dict[str, np.ndarray] | None,
    reference_note: str | None,
) -> dict[str, Any]:
    """The parity entry of a result: skipped (training, ``--no-parity``, no reference), the reference itself,
    or its outputs against the reference's at the precision the engine really used."""
    ref_label = f"{artifact.reference_engine} fp32"
    if c.mode == "train":
        return {"status": "skipped", "reference": None, "message": "parity does not apply to training steps"}
    if not c.parity:
        return {"status": "skipped", "reference": None, "message": "parity check disabled (--no-parity)"}
    if c.mode == "generate" and c.sample:
        from workbench.stats.generation import sampled_parity

        return sampled_parity(ref_label)
    if reference_outputs is None:
        return {"status": "skipped", "reference": ref_label, "message": reference_note or "no reference"}
    if is_reference(st.name, c.precision, c.device, artifact.reference_engine):
        return reference_parity(ref_label).to_dict()
    if st.outputs is None:
        return {"status": "error", "reference": ref_label, "message": "engine returned no outputs"}
    precision = res.precision_effective or c.precision
    if c.mode == "generate":  # greedy token ids and the prompt's logits against torch fp32's
        from workbench.stats.generation import token_parity

        return token_parity(reference_outputs, st.outputs, precision=precision, reference_label=ref_label)
    return parity_compare(
        reference_outputs,
        st.outputs,
        precision=precision,
        task=artifact.task,
        reference=ref_label,
        rtol=c.rtol,
        atol=c.atol,
    ).to_dict()


def result_warnings(
    st: EngineState,
    res: EngineResult,
    c: RunConfig,
    *,
    allowed: Iterable[int] | None = None,
    on_error: OnError = _raise,
) -> list[dict[str, str]]:
    """A result's named warnings: a precision the engine changed, few samples or a wide spread, the noise seen
    while it ran, and pinning against ``allowed`` (the cores this process could use before the run)."""
    out: list[dict[str, str]] = []
    requested = res.precision_requested
    quantized = quantized_file_message(st.name, requested, res.precision_effective, (res.effective or {}).get("extra"))
    if quantized is not None:
        out.append({"code": "quantized-file", "message": quantized})
    elif res.precision_effective and res.precision_effective != requested:
        out.append(
            {
                "code": "precision-mismatch",
                "message": mismatch_message(
                    st.name, requested, res.precision_effective, (res.effective or {}).get("extra")
                ),
            }
        )
    from workbench.machine import noise

    lat = res.latency_ms or {}
    std, mean = lat.get("std"), lat.get("mean")
    cv = std / mean if std is not None and mean else 0.0  # std is None with a single sample
    try:
        out += noise.warnings_from_stats(res.iterations, lat.get("p50"), lat.get("p99"), cv, res.duration_s)
        for report in st.noise:
            for w in noise.warnings_from_noise(report):
                if w not in out:
                    out.append(w)
        # against the mask this process had before the run (the parent itself is moved off the benchmark
        # cores while it runs, see runner._ParentAway)
        out += noise.pinning_warnings(list(c.cores or ()), res.threads or c.threads, affinity=allowed)
    except Exception as exc:  # advisory: the result stands without these warnings, and says so
        on_error("noise warnings", exc, engine=st.name)
    return out


def apply_speedups(results: list[EngineResult], baseline: str | None, mode: str, *, baseline_given: bool) -> str | None:
    """Set each result's speedup over the baseline engine's. When the default baseline (the first engine, not
    given by the user) failed, the first engine that ran stands in. Returns the baseline engine used."""
    from workbench.stats.speedup import speedup

    base = next((r for r in results if r.engine == baseline), None)
    if base is not None and not base.ok and not baseline_given:
        base = next((r for r in results if r.ok), base)
        baseline = base.engine
    for r in results:
        r.speedup, r.speedup_note = speedup(r, base, mode)
    return baseline


def model_entry(artifact: ModelArtifact) -> dict[str, Any]:
    """The record's ``model``: what was measured, its files, and the lower-precision variants made."""
    return {
        "name": artifact.name,
        "source": artifact.source,
        "task": artifact.task,
        "inputs": [t.to_dict() for t in artifact.inputs],
        "files": sorted(artifact.files),
        # how preparation made each file (ONNX export: exporter, opset, dynamic axes, traced attention)
        "export": {k: dict(v) for k, v in (artifact.export or {}).items()},
        # lower-precision files by precision: formats made, formats that failed (why), calibration used
        "variants": {
            p: {"files": sorted(v.files), "errors": dict(v.errors), "calibration": v.report(None)["calibration"]}
            for p, v in artifact.variants.items()
        },
    }


__all__ = [
    "EngineState",
    "PERCENTILES",
    "ROLLING_WINDOW",
    "apply_speedups",
    "engine_result",
    "model_entry",
    "result_parity",
    "result_warnings",
]
