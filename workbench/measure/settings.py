"""The defaults of what a run and a sweep share, in one table, and the one rule for the default thread count.

:class:`~workbench.measure.config.RunConfig` takes its defaults from :data:`RUN`, a sweep's
:class:`~workbench.campaign.cells.SweepSpec` from :data:`SWEEP` (its cells are many short runs: a shorter measured
time and warm-up, the rest alike). Front ends that show a default (``--duration``'s help, the setup form) read it
here instead of repeating the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Defaults:
    """The default value of each setting a run and a sweep share."""

    device: str = "cpu"
    precision: str = "fp32"
    mode: str = "latency"
    batch: int = 1
    duration_s: float = 5.0  # measured seconds per round
    warmup_s: float = 1.0
    min_iterations: int = 10
    seed: int = 0
    parity: bool = True
    #: ``--mode generate``: the prompt's length and the tokens generated per generation
    prompt_tokens: int = 128
    new_tokens: int = 64


#: ``workbench run``, the UI's setup pane, doctor's A/A runs
RUN = Defaults()
#: ``workbench sweep``, recommend's search, Slurm array tasks: one short run per cell
SWEEP = Defaults(duration_s=3.0, warmup_s=0.5)

#: ``--mode generate --sample`` without ``--temperature/--top-k/--top-p``: plain sampling from the model's
#: distribution (temperature 1, top-k off, top-p off)
SAMPLING_DEFAULTS: dict[str, float | int] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}


def default_threads(threads: int | None, cores: Sequence[int]) -> int:
    """The thread count of a run: the one given, else one per benchmark core."""
    return threads if threads is not None else len(cores)


__all__ = ["RUN", "SWEEP", "Defaults", "default_threads"]
