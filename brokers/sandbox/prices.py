"""Prices for the paper exchange and the sandbox data source: the deterministic simulated
market, seen through the contract's Quote/Depth/Candle. Any process computes the same
price for the same instant, so the API, the fill engine and the feed always agree."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import date, datetime, time, timedelta

from django.conf import settings

from brokers import calendar
from brokers.base import Candle, CapabilityMissing, Depth, Quote
from brokers.sandbox import clock
from brokers.sandbox.listing import underlying
from brokers.sandbox.simulator import SimInstrument, SimulatedMarket
from brokers.selectors import InstrumentInfo, find_instrument

INTERVAL_SECONDS = {
    "1s": 1, "5s": 5, "10s": 10, "15s": 15, "30s": 30, "45s": 45,
    "1m": 60, "2m": 120, "3m": 180, "5m": 300, "10m": 600, "15m": 900, "20m": 1200, "30m": 1800,
    "1h": 3600, "2h": 7200, "3h": 10800, "4h": 14400, "D": 86400,
}


@functools.cache
def market() -> SimulatedMarket:
    return SimulatedMarket(settings.SIM_SEED, resolve)


def resolve(key: str) -> SimInstrument | None:
    """The simulator's description of ``EXCHANGE:SYMBOL``: from the master contract, with
    reference prices from the sandbox listing; a commodity or currency spot that is not
    itself listed (MCX:CRUDEOIL drives the CRUDEOIL futures) comes from the listing alone."""
    exchange, _, symbol = key.partition(":")
    info = find_instrument(broker="sandbox", exchange=exchange, symbol=symbol)
    if info is None:
        base = underlying(symbol, exchange)
        if base is None or str(base.exchange) != exchange:
            return None
        return SimInstrument(key=key, kind="INDEX", tick_size=base.tick_size, lot_size=1,
                             ref_price=base.ref_price, annual_vol=base.annual_vol)
    base = underlying(info.name if info.expiry else info.symbol, info.underlying_exchange or exchange)
    if base is None:
        return None
    kind = info.kind
    derived = kind in ("FUT", "OPT")
    return SimInstrument(
        key=key, kind=kind, tick_size=info.tick_size, lot_size=info.lotsize, ref_price=base.ref_price,
        annual_vol=base.annual_vol, underlying_key=f"{base.exchange}:{base.symbol}" if derived else None,
        expiry=info.expiry, strike=info.strike, option_type=info.option_type or None,
    )


def effective_time(exchange: str, at: datetime) -> datetime:
    """Under exchange hours the price stands still while the exchange is closed."""
    if clock.always_open():
        return at
    try:
        if calendar.is_open(exchange, at):
            return at
        day = at.astimezone(clock.IST).date()
        for _ in range(10):
            bounds = calendar.session_bounds(exchange, day)
            if bounds and bounds[1] <= at:
                return bounds[1]
            day = calendar.previous_trading_day(exchange, day)
    except LookupError:
        return at
    return at


def quote(info: InstrumentInfo | None, at: datetime) -> Quote | None:
    if info is None:
        return None
    when = effective_time(info.exchange, at)
    sim = market().quote(info.key, when)
    return sim if sim is None or when == at else replace(sim, timestamp=at)


def depth(info: InstrumentInfo | None, at: datetime) -> Depth | None:
    if info is None:
        return None
    when = effective_time(info.exchange, at)
    book = market().depth(info.key, when)
    return book if book is None or when == at else replace(book, quote=replace(book.quote, timestamp=at))


def history(info: InstrumentInfo, interval: str, start: date, end: date, now: datetime) -> list[Candle]:
    seconds = INTERVAL_SECONDS.get(interval)
    if seconds is None:
        raise CapabilityMissing(f"Interval {interval} is not supported by the sandbox")
    begin = datetime.combine(start, time(0, 0), clock.IST)
    finish = min(datetime.combine(end + timedelta(days=1), time(0, 0), clock.IST), now)
    if finish <= begin:
        return []
    return market().candles(info.key, seconds, begin, finish)
