"""A no-op engine: measures the benchmark harness itself.

``infer`` does nothing, so a run of this engine reports the per-iteration cost of the timing loop (two
``perf_counter_ns`` calls, a store, the stop check). ``workbench doctor`` and the tests use it; it is hidden from
the default engine list and its results are labelled ``noop``.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from .base import FORMATS, Effective, Engine, LoadedModel, LoadSettings, ModelArtifact


class _NoopModel(LoadedModel):
    def __init__(self, artifact: ModelArtifact, threads: int | None) -> None:
        super().__init__(artifact.inputs)
        self._threads = threads
        self._feeds: Mapping[str, Any] = {}

    def effective(self) -> Effective:
        return Effective(device="cpu", precision="fp32", threads=self._threads)

    def set_inputs(self, feeds: Mapping[str, Any]) -> None:
        self._feeds = feeds

    def infer(self) -> None:
        return None

    def _infer_concurrent(self) -> None:
        return None

    def outputs(self) -> dict[str, Any]:
        return {k: v for k, v in self._feeds.items()}


class NoopEngine(Engine):
    name = "noop"
    display_name = "No-op (harness overhead)"
    module = "workbench_engines"
    distribution = "inference-workbench"
    # every format; a built-in first, as it needs no export
    formats = tuple(sorted(FORMATS, key=lambda f: f != "torch-builtin"))
    hidden = True

    @classmethod
    def precisions(cls, device: str = "cpu") -> tuple[str, ...]:
        return ("fp32",)

    @classmethod
    def load(cls, artifact: ModelArtifact, settings: LoadSettings | None = None) -> LoadedModel:
        s = settings or LoadSettings()
        t0 = time.perf_counter_ns()
        model = _NoopModel(artifact, s.threads)
        model.load_ms = (time.perf_counter_ns() - t0) / 1e6
        return model
