"""Our symbols <-> Kite's instruments, through Zerodha's master contract rows."""

from __future__ import annotations

from typing import Any

from brokers.base import SymbolNotFound
from brokers.enums import Exchange
from brokers.selectors import InstrumentInfo, find_instrument, find_instrument_by_token

NAME = "zerodha"


def instrument(symbol: str, exchange: Exchange | str) -> InstrumentInfo:
    info = find_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)
    if info is None:
        raise SymbolNotFound(f"Symbol '{symbol}' not found for exchange '{exchange}'")
    return info


def our_symbol(row: dict[str, Any]) -> str:
    """Our name for the instrument of a Kite row (order, trade, position, holding), found by
    its ``instrument_token``; Kite's tradingsymbol when we do not list it (equities agree)."""
    exchange = str(row.get("exchange", ""))
    token = str(row.get("instrument_token") or "")
    if token:
        info = find_instrument_by_token(broker=NAME, exchange=exchange, token=token)
        if info is not None:
            return info.symbol
    return str(row["tradingsymbol"])


def quote_key(info: InstrumentInfo) -> str:
    """Kite's ``exchange:tradingsymbol`` of an instrument (indices on their own exchange code)."""
    return f"{info.brexchange}:{info.brsymbol}"
