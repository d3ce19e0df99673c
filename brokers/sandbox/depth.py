"""Order-book depth for the simulated market: levels a side around the quote, in lots, deterministic per second."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from brokers.sandbox.market import SimQuote

ZERO = Decimal(0)
DISPLAY_NOTIONAL = 60_000  # rupees: one displayed unit of a cash stock's book is about this much


@dataclass(frozen=True, slots=True)
class SimLevel:
    price: Decimal
    quantity: int
    orders: int


EMPTY_LEVEL = SimLevel(price=ZERO, quantity=0, orders=0)


@dataclass(frozen=True, slots=True)
class SimDepth:
    """Best first on both sides: bids descending from ``quote.bid``, asks ascending from
    ``quote.ask``, padded with zero levels. Totals are the whole book's resting quantity
    (the displayed levels and more behind them), as exchanges report it."""

    quote: SimQuote
    bids: tuple[SimLevel, ...]
    asks: tuple[SimLevel, ...]
    total_buy_qty: int
    total_sell_qty: int


def display_unit(price: Decimal, lot_size: int) -> int:
    """The step in which displayed quantities come: a lot for derivatives, a plausible
    round-ish share count for cash stocks."""
    if lot_size > 1:
        return lot_size
    return max(1, int(DISPLAY_NOTIONAL / max(float(price), 1.0)))


def build_depth(quote: SimQuote, tick: Decimal, lot_size: int, salt: str, levels: int = 5,
                open_book: bool = True) -> SimDepth:
    """Depth consistent with ``quote``: best bid == quote.bid, best ask == quote.ask, each
    next level one tick further, quantities multiples of the lot, 1-12 orders a level.
    ``salt`` (seed, key and second) makes it deterministic; a closed book (an expired
    contract) is all zero levels."""
    if levels < 1:
        raise ValueError("levels must be at least 1")
    if not open_book or quote.bid <= 0 or quote.ask <= 0:
        empty = (EMPTY_LEVEL,) * levels
        return SimDepth(quote=quote, bids=empty, asks=empty, total_buy_qty=0, total_sell_qty=0)
    need = 4 * levels + 2
    noise = b"".join(hashlib.blake2b(f"{salt}|{block}".encode()).digest() for block in range(-(-need // 64)))
    unit = display_unit(quote.ltp, lot_size)

    def level(price: Decimal, size: int, orders: int) -> SimLevel:
        if price <= 0:
            return EMPTY_LEVEL
        multiple = 1 + size % 60
        return SimLevel(price=price, quantity=unit * multiple, orders=min(multiple, 1 + orders % 12))

    bids = tuple(level(quote.bid - tick * n, noise[n], noise[levels + n]) for n in range(levels))
    asks = tuple(level(quote.ask + tick * n, noise[2 * levels + n], noise[3 * levels + n]) for n in range(levels))
    behind_bids, behind_asks = noise[4 * levels] % 40 + 5, noise[4 * levels + 1] % 40 + 5
    return SimDepth(quote=quote, bids=bids, asks=asks,
                    total_buy_qty=sum(b.quantity for b in bids) + unit * behind_bids * 10,
                    total_sell_qty=sum(a.quantity for a in asks) + unit * behind_asks * 10)
