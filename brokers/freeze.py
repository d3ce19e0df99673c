"""Exchange freeze quantities per underlying (brokers/data/freeze_qty.csv), applied to every
master contract as it loads and to the sandbox's universe: an order above the freeze
quantity is rejected by the exchange, so slicing (orders) sends at most this many units
per child order, rounded down to whole lots."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "freeze_qty.csv"
UNKNOWN = 1  # the spec's value when the freeze quantity is not known


@functools.cache
def _table() -> dict[tuple[str, str], int]:
    with DATA.open(newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {(row["exchange"], row["underlying"].upper()): int(row["freeze_qty"]) for row in rows}


def published() -> dict[tuple[str, str], int]:
    """Every published figure: (exchange, underlying) -> freeze quantity."""
    return dict(_table())


def freeze_quantity(exchange: str, underlying: str) -> int:
    """The exchange's freeze quantity for ``underlying``'s derivatives on ``exchange``, or 1."""
    return _table().get((str(exchange), underlying.upper()), UNKNOWN)


def applied(exchange: str, underlying: str, given: int, *, derivative: bool) -> int:
    """The freeze quantity a master-contract row should carry: the broker's own figure when
    its dump has one (more than 1), else the exchange's published one for a derivative."""
    if given > UNKNOWN or not derivative:
        return given
    return freeze_quantity(exchange, underlying)


def order_limit(freeze_qty: int, lot_size: int) -> int:
    """The most units one order may carry: the largest whole number of lots not above the
    freeze quantity (NIFTY: freeze 1,800 with lots of 65 allows 1,755). 0 when unknown."""
    if freeze_qty <= UNKNOWN:
        return 0
    lot = max(1, lot_size)
    return max(lot, freeze_qty // lot * lot)
