"""Test fixtures for the paper exchange (shared by every app's tests through the root conftest):
a small master contract and a price the test moves."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from brokers.base import Quote
from brokers.models import Instrument
from brokers.sandbox import prices
from brokers.selectors import lookup_cache

D = Decimal


class Tape:
    """The market as the tests decide it: one LTP per key, spread of one tick each side."""

    def __init__(self) -> None:
        self.ltp: dict[str, Decimal] = {}

    def set(self, key: str, ltp) -> None:
        self.ltp[key] = D(str(ltp))

    def quote(self, info, at: datetime):
        if info is None or info.key not in self.ltp:
            return None
        ltp = self.ltp[info.key]
        tick = info.tick_size
        return Quote(ltp=ltp, open=ltp, high=ltp, low=ltp, prev_close=ltp, volume=1000, bid=ltp - tick,
                     ask=ltp + tick, timestamp=at)


    def depth(self, info, at: datetime):
        from brokers.base import Depth, DepthLevel

        top = self.quote(info, at)
        if top is None:
            return None
        tick = info.tick_size
        bids = tuple(DepthLevel(price=top.bid - tick * n, quantity=100 * (n + 1), orders=n + 1) for n in range(5))
        asks = tuple(DepthLevel(price=top.ask + tick * n, quantity=50 * (n + 1), orders=n + 1) for n in range(5))
        return Depth(bids=bids, asks=asks, quote=top)

    def history(self, info, interval: str, start, end, now):
        """One bar per step from 09:15 IST each weekday, rising by one tick, closing at the LTP."""
        from datetime import time, timedelta

        from brokers.base import Candle
        from brokers.sandbox.clock import IST

        step = prices.INTERVAL_SECONDS[interval]
        bars, day = [], start
        while day <= end:
            if day.weekday() < 5:
                opens = datetime.combine(day, time(9, 15), IST)
                count = 1 if step >= 86400 else min(375 * 60 // step, 10)
                for n in range(count):
                    at = opens + timedelta(seconds=step * n) if step < 86400 else datetime.combine(day, time(0), IST)
                    price = self.ltp[info.key] + info.tick_size * n
                    bars.append(Candle(timestamp=int(at.timestamp()), open=price, high=price + 1, low=price - 1,
                                       close=price, volume=1000 + n))
            day += timedelta(days=1)
        return bars


@pytest.fixture
def tape(monkeypatch) -> Tape:
    tape = Tape()
    monkeypatch.setattr(prices, "quote", tape.quote)
    monkeypatch.setattr(prices, "depth", tape.depth)
    monkeypatch.setattr(prices, "history", tape.history)
    return tape


def make_instrument(symbol: str, exchange: str, **extra) -> Instrument:
    fields = {"brsymbol": symbol, "brexchange": exchange, "token": symbol, "name": symbol, "lotsize": 1,
              "tick_size": D("0.05"), "instrumenttype": "EQ", "underlying_exchange": ""}
    fields.update(extra)
    return Instrument.objects.create(broker="sandbox", symbol=symbol, exchange=exchange, **fields)


@pytest.fixture
def market(db, tape) -> Tape:
    lookup_cache.clear()
    make_instrument("SBIN", "NSE")
    make_instrument("SBIN", "BSE")
    make_instrument("RELIANCE", "NSE")
    make_instrument("NIFTY", "NSE_INDEX", instrumenttype="")
    make_instrument("NIFTY29DEC26FUT", "NFO", name="NIFTY", lotsize=65, expiry=date(2026, 12, 29),
                    instrumenttype="FUTIDX", underlying_exchange="NSE_INDEX")
    make_instrument("NIFTY29DEC2626000CE", "NFO", name="NIFTY", lotsize=65, expiry=date(2026, 12, 29),
                    strike=D(26000), option_type="CE", instrumenttype="OPTIDX", underlying_exchange="NSE_INDEX")
    tape.set("NSE:SBIN", "800")
    tape.set("BSE:SBIN", "800")
    tape.set("NSE:RELIANCE", "1500")
    tape.set("NSE_INDEX:NIFTY", "26000")
    tape.set("NFO:NIFTY29DEC26FUT", "26100")
    tape.set("NFO:NIFTY29DEC2626000CE", "150")
    yield tape
    lookup_cache.clear()


class ContractEnvironment:
    """What the shared broker contract suite needs from the sandbox: an adapter for a user,
    a tradable symbol with a price, and a way to make a resting order fill."""

    liquid = ("SBIN", "NSE")
    lot = 1

    def __init__(self, tape: Tape) -> None:
        self.tape = tape

    def adapter(self, user):
        from brokers.sandbox.adapter import SandboxAdapter

        return SandboxAdapter(user)

    def away_from_market(self, action: str) -> Decimal:
        return D("700") if action == "BUY" else D("900")


@pytest.fixture
def sandbox_contract(market) -> ContractEnvironment:
    return ContractEnvironment(market)
