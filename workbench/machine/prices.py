"""What a machine costs per hour, and what a measured throughput then costs per million items.

A price comes from ``--price-per-hour`` or from the prices file, ``prices.json`` in the config folder
(:func:`workbench.paths.config_dir`)::

    {
      "partitions": {"spr-32": 2.45, "icx": 1.60},
      "machines": {"3f9a1c2b7d10": 3.06}
    }

``partitions`` are Slurm partitions (a run inside a Slurm job is looked up by ``SLURM_JOB_PARTITION``);
``machines`` are keyed by the run's machine fingerprint (``workbench sysinfo``) or the hardware key that
``workbench compare --by machine`` prints. Prices are dollars per hour of the whole machine (or of the allocation
the run used — the file says whatever its author pays). The lookup order: the flag, the partition, the fingerprint,
the hardware key.

``usd_per_million = price_per_hour / 3600 / throughput × 10⁶`` with the measured throughput in items/s: a
measured number times a given price, never an estimate of either.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from workbench.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from workbench.result import EngineResult, RunRecord

__all__ = ["PRICES_FILE", "Price", "check_price", "prices_path", "load_prices", "lookup", "cost_entry", "attach_costs"]

PRICES_FILE = "prices.json"


@dataclass(frozen=True)
class Price:
    per_hour: float
    source: str  # "--price-per-hour", "prices.json partition spr-32", ...


def check_price(value: Any, what: str = "--price-per-hour") -> float:
    """A price per hour: a finite number > 0, else one readable line (UsageError)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} must be a number of dollars per hour, not {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(f) or f <= 0:
        raise UsageError(f"{what} must be a positive number of dollars per hour, not {value!r}")
    return f


def prices_path() -> Path | None:
    """The prices file's path (None when the config folder cannot be used)."""
    from workbench.paths import config_dir

    try:
        return config_dir() / PRICES_FILE
    except UsageError:
        return None


def load_prices(path: Path | None = None) -> dict[str, dict[str, float]]:
    """The prices file: ``{"partitions": {...}, "machines": {...}}`` (empty when there is none). A file that is not
    that is one readable line (UsageError) naming the file and what is wrong."""
    path = path if path is not None else prices_path()
    if path is None or not path.is_file():
        return {"partitions": {}, "machines": {}}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the prices file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"the prices file {path} is not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict) or set(data) - {"partitions", "machines"}:
        raise UsageError(
            f'the prices file {path} must be an object with "partitions" and/or "machines", each '
            '{"name": dollars per hour}'
        )
    out: dict[str, dict[str, float]] = {}
    for section in ("partitions", "machines"):
        table = data.get(section, {})
        if not isinstance(table, dict):
            raise UsageError(f'the prices file {path}: "{section}" must be an object of name: dollars per hour')
        out[section] = {str(k): check_price(v, f"the prices file {path}: {section}.{k}") for k, v in table.items()}
    return out


def lookup(
    prices: Mapping[str, Mapping[str, float]],
    *,
    partition: str | None = None,
    machine_keys: Iterable[str | None] = (),
    path: Path | None = None,
) -> Price | None:
    """The price of a Slurm ``partition`` or of the first of ``machine_keys`` (fingerprint, hardware key) the file
    lists; None when it lists none of them."""
    name = (path or Path(PRICES_FILE)).name
    if partition and partition in prices.get("partitions", {}):
        return Price(prices["partitions"][partition], f"{name} partition {partition}")
    for key in machine_keys:
        if key and key in prices.get("machines", {}):
            return Price(prices["machines"][key], f"{name} machine {key}")
    return None


def current_partition() -> str | None:
    """The Slurm partition this process runs in (``SLURM_JOB_PARTITION``), if any."""
    return os.environ.get("SLURM_JOB_PARTITION") or None


def cost_entry(r: "EngineResult", price: Price) -> dict[str, Any] | None:
    """The ``cost`` of a measured result at ``price``; None when it has no throughput."""
    tput = r.throughput
    if not r.ok or not isinstance(tput, (int, float)) or tput <= 0 or not math.isfinite(tput):
        return None
    return {
        "price_per_hour": price.per_hour,
        "currency": "USD",
        "source": price.source,
        "usd_per_million": price.per_hour / 3600.0 / float(tput) * 1e6,
        "per": "million items",
    }


def attach_costs(record: "RunRecord", price: Price | None) -> None:
    """Give every measured result of ``record`` its ``cost`` at ``price`` (nothing when None)."""
    if price is None:
        return
    for r in record.results:
        r.cost = cost_entry(r, price)
