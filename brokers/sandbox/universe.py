"""The sandbox's bundled universe (data/universe.json) as frozen dataclasses: what it lists and how it trades."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from brokers.enums import Exchange

DATA_PATH = Path(__file__).parent / "data" / "universe.json"


@dataclass(frozen=True, slots=True)
class DerivativeSpec:
    """How an underlying's futures and options trade. ``lot_size`` is the quantity (price
    multiplier) of one lot; ``freeze_qty`` the largest single order in units; expiry dates
    are not data (see the expiry rules)."""

    exchange: Exchange
    lot_size: int
    strike_step: Decimal
    strikes_each_side: int
    futures: bool
    options: bool
    tick_size: Decimal  # futures (and options unless option_tick_size says otherwise)
    freeze_qty: int
    option_tick_size: Decimal


@dataclass(frozen=True, slots=True)
class Underlying:
    """One listed spot: a stock on NSE or BSE, an index, or an MCX/CDS contract's reference price."""

    symbol: str
    exchange: Exchange
    name: str
    ref_price: Decimal
    tick_size: Decimal
    annual_vol: float
    derivatives: DerivativeSpec | None
    lot_size: int = 1  # cash-market lot
    quote_unit: str = ""

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"


@dataclass(frozen=True, slots=True)
class UniverseInfo:
    as_of: date
    notes: tuple[str, ...]


def _spec(raw: dict[str, Any], defaults: dict[str, Any] | None = None) -> DerivativeSpec:
    data = {**(defaults or {}), **raw}
    tick = Decimal(data["tick_size"])
    return DerivativeSpec(
        exchange=Exchange(data["exchange"]),
        lot_size=int(data["lot_size"]),
        strike_step=Decimal(data["strike_step"]),
        strikes_each_side=int(data["strikes_each_side"]),
        futures=bool(data["futures"]),
        options=bool(data["options"]),
        tick_size=tick,
        freeze_qty=int(data["freeze_qty"]),
        option_tick_size=Decimal(data.get("option_tick_size", tick)),
    )


def _read(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def load_universe(path: Path = DATA_PATH) -> tuple[Underlying, ...]:
    """Every listed underlying in ``path``: stocks on each equity exchange (derivatives on
    the first one only), then indices, then MCX and CDS contracts."""
    doc = _read(path)
    rows: list[Underlying] = []
    equities = doc["equities"]
    equity_tick = Decimal(equities["tick_size"])
    for position, exchange in enumerate(equities["exchanges"]):
        for stock in equities["stocks"]:
            spec = _spec(stock["fo"], equities["derivatives"]) if position == 0 and stock.get("fo") else None
            rows.append(Underlying(symbol=stock["symbol"], exchange=Exchange(exchange), name=stock["name"],
                                   ref_price=Decimal(stock["ref_price"]), tick_size=equity_tick,
                                   annual_vol=float(stock["annual_vol"]), derivatives=spec))
    for item in (*doc["indices"], *doc["contracts"]):
        raw_spec = item.get("derivatives")
        rows.append(Underlying(symbol=item["symbol"], exchange=Exchange(item["exchange"]), name=item["name"],
                               ref_price=Decimal(item["ref_price"]),
                               tick_size=Decimal(item.get("tick_size", "0.05")),
                               annual_vol=float(item["annual_vol"]),
                               derivatives=_spec(raw_spec) if raw_spec else None,
                               quote_unit=item.get("quote_unit", "")))
    return tuple(rows)


@functools.cache
def underlyings() -> tuple[Underlying, ...]:
    return load_universe()


@functools.cache
def _by_key() -> dict[tuple[str, Exchange], Underlying]:
    return {(row.symbol, row.exchange): row for row in underlyings()}


def underlying(symbol: str, exchange: Exchange | str) -> Underlying | None:
    """The listed underlying ``symbol`` on ``exchange`` (a spot exchange: NSE, BSE,
    NSE_INDEX, BSE_INDEX, MCX, CDS), or None."""
    try:
        return _by_key().get((symbol, Exchange(exchange)))
    except ValueError:
        return None


def underlying_for_derivative(symbol: str, exchange: Exchange | str) -> Underlying | None:
    """The spot whose futures and options trade on ``exchange`` as ``symbol`` (e.g.
    NIFTY on NFO -> NSE_INDEX:NIFTY, SBIN on NFO -> NSE:SBIN, CRUDEOIL on MCX -> itself)."""
    try:
        wanted = Exchange(exchange)
    except ValueError:
        return None
    for row in underlyings():
        if row.symbol == symbol and row.derivatives is not None and row.derivatives.exchange == wanted:
            return row
    return None


def with_derivatives_on(exchange: Exchange | str) -> tuple[Underlying, ...]:
    wanted = Exchange(exchange)
    return tuple(row for row in underlyings() if row.derivatives is not None and row.derivatives.exchange == wanted)


def nifty50() -> tuple[Underlying, ...]:
    """The NIFTY 50 constituents, as listed on NSE."""
    return tuple(row for row in underlyings() if row.exchange == Exchange.NSE)


@functools.cache
def universe_info() -> UniverseInfo:
    doc = _read(DATA_PATH)
    return UniverseInfo(as_of=date.fromisoformat(doc["as_of"]), notes=tuple(doc["notes"]))
