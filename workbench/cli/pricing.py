"""``--price-per-hour`` and the prices file, shared by ``run``, ``sweep`` and ``recommend`` (not a command)."""

from __future__ import annotations

import argparse
from typing import Any


def add_price_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--price-per-hour",
        type=float,
        metavar="USD",
        help="what this machine costs per hour: adds $ per million items from the measured throughput "
        "(default: the prices file, prices.json in the config folder, by Slurm partition or machine; "
        "docs/methodology.md)",
    )


class PriceSource:
    """The price a command applies: the flag (checked at once), else the prices file (read at once, so a bad
    file is one line before anything runs), looked up for the record's machine once it is known."""

    def __init__(self, flag: Any) -> None:
        from workbench.machine.prices import check_price, load_prices, prices_path

        self.given = check_price(flag) if flag is not None else None
        self.path = prices_path() if self.given is None else None
        self.prices = load_prices(self.path) if self.given is None else {}

    def for_system(self, system: Any, *, here: bool = True) -> Any:
        """The :class:`~workbench.machine.prices.Price` of the machine described by ``system`` (None: none known).
        ``here``: the machine is the one this process runs on, so its Slurm partition applies."""
        from workbench.machine.prices import Price, current_partition, lookup
        from workbench.stats.machines import machine_key

        if self.given is not None:
            return Price(self.given, "--price-per-hour")
        if not any(self.prices.values()):
            return None
        system = system or {}
        return lookup(
            self.prices,
            partition=current_partition() if here else None,
            machine_keys=(system.get("fingerprint"), machine_key(system)),
            path=self.path,
        )

    def apply(self, record: Any) -> None:
        """Give ``record``'s measured results their cost at this machine's price (nothing without one)."""
        from workbench.machine.prices import attach_costs

        attach_costs(record, self.for_system(record.system))
