"""A deterministic simulated market for the sandbox: quotes, depth and candles of spots, futures and options.

Every price is a pure function of (seed, instrument, second): spots follow
:mod:`brokers.sandbox.spotpath`; futures trade at fair value ``spot * e^(rT)`` and options
at Black-Scholes on the spot with :func:`~brokers.sandbox.pricing.smile_vol`, both on the
spot of the same second, so chains, futures and spots always agree. At and after a
contract's expiry cut-off (NFO/BFO 15:30, CDS 12:30, MCX 23:30 IST) its price is frozen at
the payoff on the spot of the cut-off. Prices are rounded to the instrument's tick; live
futures and options never trade below one tick.

Session rule: the simulated market trades all day. Each IST calendar day's session starts
at 00:00 IST, so ``open`` is the price of its first second and ``prev_close`` the price of
the previous day's last second (they differ by the overnight gap). Indices have no book:
bid, ask and volume are 0, as brokers report them.

Candles are built from the same one-second series: a bar holds the seconds
``[start, start + interval)``, aligned to IST midnight, stamped with the epoch second (int)
of its start; the bar holding ``end`` stops at ``end``, so its close is ``quote(end).ltp``
and today's bars' volumes add up to ``quote(end).volume``. Daily bars (86400) are IST days
stamped at IST midnight (the /history layer re-stamps them per spec section 7.4).

Cost (``python -m brokers.sandbox.market``; 2-core dev box, Python 3.11): quote() on a
built day ~9 us for a stock, ~15 us for an option; first touch of a new day ~3 ms (the
day's path and the previous day's close); a fresh process's first touch ~25 ms (it also
builds the one-minute shape library once)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from brokers.enums import OptionType
from brokers.sandbox.depth import SimDepth, build_depth, display_unit
from brokers.sandbox.pricing import black_scholes, smile_vol
from brokers.sandbox.spotpath import IST_OFFSET, SECONDS_PER_DAY, DayPath, DaySummary, Lru, SpotPaths, stable_seed

IST = ZoneInfo("Asia/Kolkata")
RISK_FREE_RATE = 0.065  # futures basis and option prices
SECONDS_PER_YEAR = 365 * SECONDS_PER_DAY  # time to expiry counts calendar time
SESSION_START = time(0, 0)  # IST; see the module docstring
EXPIRY_CUTOFF = {"NFO": time(15, 30), "BFO": time(15, 30), "CDS": time(12, 30), "BCD": time(12, 30),
                 "MCX": time(23, 30)}
DEFAULT_CUTOFF = time(15, 30)
EQUITY_TURNOVER = 15e9  # rupees a stock trades on an average day (volume = this / reference price)
# Lots a day at the money (volume) and lots open (OI), by (contract kind, underlying kind).
LOTS_A_DAY = {("FUT", "INDEX"): 150_000, ("FUT", "EQ"): 20_000, ("OPT", "INDEX"): 400_000, ("OPT", "EQ"): 10_000}
LOTS_OPEN = {("FUT", "INDEX"): 200_000, ("FUT", "EQ"): 50_000, ("OPT", "INDEX"): 150_000, ("OPT", "EQ"): 5_000}

Kind = Literal["EQ", "INDEX", "FUT", "OPT"]
SPOT_KINDS = ("EQ", "INDEX")


@dataclass(frozen=True, slots=True)
class SimInstrument:
    key: str  # "EXCHANGE:SYMBOL"
    kind: Kind
    tick_size: Decimal
    lot_size: int
    ref_price: Decimal  # spots only; ignored for futures and options
    annual_vol: float  # spots: path volatility; options: at-the-money vol (0 -> the spot's)
    underlying_key: str | None = None  # futures and options: the spot's key, e.g. "NSE_INDEX:NIFTY"
    expiry: date | None = None
    strike: Decimal | None = None
    option_type: OptionType | None = None


@dataclass(frozen=True, slots=True)
class SimQuote:
    ltp: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal
    volume: int
    bid: Decimal  # 0 when the book is empty (indices, expired contracts)
    ask: Decimal
    oi: int
    ltq: int
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class SimCandle:
    timestamp: int  # epoch seconds of the bar's start
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: int
    oi: int = 0


@dataclass(frozen=True, slots=True)
class _Contract:
    """An instrument resolved once: its spot, cut-off and the numbers the hot path needs."""

    inst: SimInstrument
    spot: SimInstrument
    tick: float
    cutoff: int | None  # epoch second of the expiry cut-off
    salt: int
    call: bool
    strike: float
    atm_vol: float


@dataclass(frozen=True, slots=True)
class _Day:
    open: Decimal
    prev_close: Decimal
    units: float  # shares (cash) or lots (derivatives) traded over the whole day
    oi: int


def epoch_second(at: datetime) -> int:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("the simulated market needs aware datetimes")
    return math.floor(at.timestamp())


class SimulatedMarket:
    """The sandbox's market for one ``seed``. ``resolver`` maps a key to its instrument (or
    None); futures and options resolve their spot through it too."""

    def __init__(self, seed: int, resolver: Callable[[str], SimInstrument | None]) -> None:
        self.seed = seed
        self.resolver = resolver
        self._paths = SpotPaths(seed)
        self._contracts: Lru[str, _Contract] = Lru(50_000)
        self._days: Lru[tuple[str, int], _Day] = Lru(100_000)

    # --- instruments ---------------------------------------------------------------------
    def instrument(self, key: str) -> SimInstrument | None:
        contract = self._contract(key)
        return contract.inst if contract else None

    def _contract(self, key: str) -> _Contract | None:
        found = self._contracts.get(key)
        if found is not None:
            return found
        inst = self.resolver(key)
        if inst is None:
            return None
        if inst.kind in SPOT_KINDS:
            spot: SimInstrument | None = inst
        else:
            spot = self.resolver(inst.underlying_key or "")
            if spot is None or spot.kind not in SPOT_KINDS:
                return None
        if inst.kind == "OPT" and (inst.expiry is None or inst.strike is None or inst.option_type is None):
            raise ValueError(f"{key}: an option needs an expiry, a strike and an option type")
        cutoff = None
        if inst.expiry is not None and inst.kind not in SPOT_KINDS:
            at = EXPIRY_CUTOFF.get(key.partition(":")[0], DEFAULT_CUTOFF)
            cutoff = int(datetime.combine(inst.expiry, at, IST).timestamp())
        return self._contracts.put(key, _Contract(
            inst=inst, spot=spot, tick=float(inst.tick_size), cutoff=cutoff, salt=stable_seed(self.seed, key),
            call=inst.option_type == OptionType.CE, strike=float(inst.strike or 0),
            atm_vol=inst.annual_vol if inst.kind == "OPT" and inst.annual_vol > 0 else spot.annual_vol))

    # --- prices ----------------------------------------------------------------------------
    def _value(self, c: _Contract, spot: float, t: int) -> float:
        """Fair value of ``c`` at epoch second ``t`` given the spot then."""
        kind = c.inst.kind
        if kind in SPOT_KINDS:
            return spot
        years = max(0, c.cutoff - t) / SECONDS_PER_YEAR if c.cutoff is not None else 0.0
        if kind == "FUT":
            return spot * math.exp(RISK_FREE_RATE * years)
        if years <= 0:
            return max(0.0, spot - c.strike) if c.call else max(0.0, c.strike - spot)
        vol = smile_vol(c.atm_vol, spot, c.strike, years)
        return black_scholes(spot, c.strike, years, RISK_FREE_RATE, vol, c.inst.option_type)

    def _round(self, c: _Contract, value: float, t: int) -> Decimal:
        ticks = int(value / c.tick + 0.5)
        live = c.cutoff is None or t < c.cutoff
        return c.inst.tick_size * max(ticks, 1 if live or c.inst.kind != "OPT" else 0)

    def _spot_path(self, c: _Contract, day: int) -> DayPath:
        return self._paths.day(c.spot.key, float(c.spot.ref_price), c.spot.annual_vol, day)

    def _summary(self, c: _Contract, day: int) -> DaySummary:
        return self._paths.summary(c.spot.key, float(c.spot.ref_price), c.spot.annual_vol, day)

    def _day(self, c: _Contract, day: int) -> _Day:
        found = self._days.get((c.inst.key, day))
        if found is not None:
            return found
        today, yesterday = self._summary(c, day), self._summary(c, day - 1)
        midnight = day * SECONDS_PER_DAY - IST_OFFSET
        opened = math.exp(today.open)
        inst, kind = c.inst, c.inst.kind
        units, oi = 0.0, 0
        if kind == "EQ":
            units = EQUITY_TURNOVER / float(inst.ref_price) * today.volume_factor
        elif kind in ("FUT", "OPT"):
            distance = 0.0  # standard deviations between strike and spot: far strikes trade less
            if kind == "OPT":
                years = max(0, (c.cutoff or midnight) - midnight) / SECONDS_PER_YEAR
                distance = math.log(c.strike / opened) / (c.atm_vol * math.sqrt(max(years, 1 / 365)))
            liquidity = math.exp(-0.5 * distance * distance)
            underlying = "INDEX" if c.spot.kind == "INDEX" else "EQ"
            units = max(1.0, LOTS_A_DAY[kind, underlying] * liquidity * today.volume_factor)
            share = 0.7 + 0.6 * (stable_seed(c.salt, day) % 1000) / 1000
            oi = max(1, int(LOTS_OPEN[kind, underlying] * liquidity * share)) * inst.lot_size
        t_open = min(midnight, c.cutoff) if c.cutoff is not None else midnight
        found = _Day(open=self._round(c, self._value(c, opened, t_open), t_open),
                     prev_close=self._round(c, self._value(c, math.exp(yesterday.close), midnight - 1), midnight - 1),
                     units=units, oi=oi)
        return self._days.put((c.inst.key, day), found)

    def _traded(self, c: _Contract, info: _Day, share: float) -> int:
        """Volume (shares or contracts) traded over ``share`` of the day."""
        if c.inst.kind in ("FUT", "OPT"):
            return int(info.units * share) * c.inst.lot_size
        return int(info.units * share)

    def quote(self, key: str, at: datetime) -> SimQuote | None:
        """The quote of ``key`` at ``at`` (aware); None for an unknown key."""
        c = self._contract(key)
        if c is None:
            return None
        t = epoch_second(at)
        expired = c.cutoff is not None and t >= c.cutoff
        t = min(t, c.cutoff) if expired and c.cutoff is not None else t
        day, second = divmod(t + IST_OFFSET, SECONDS_PER_DAY)
        path = self._spot_path(c, day)
        info = self._day(c, day)
        high_log, low_log = path.extremes_through(second)
        ltp = self._round(c, self._value(c, math.exp(path.log_at(second)), t), t)
        ends = (self._round(c, self._value(c, math.exp(high_log), t), t),
                self._round(c, self._value(c, math.exp(low_log), t), t))
        high, low = max(*ends, ltp, info.open), min(*ends, ltp, info.open)
        volume = self._traded(c, info, path.activity_before(second + 1))
        tick = c.inst.tick_size
        if expired or c.inst.kind == "INDEX":
            bid = ask = Decimal(0)
            ltq = 0 if c.inst.kind == "INDEX" else c.inst.lot_size
        else:
            noise = (c.salt ^ (t * 0x9E3779B97F4A7C15)) & 0xFFFF_FFFF_FFFF
            bid = max(tick, ltp - tick * (1 + (noise >> 5 & 1)))
            ask = ltp + tick * (1 + (noise >> 17 & 1))
            ltq = display_unit(ltp, c.inst.lot_size) * (1 + (noise >> 23) % 8) if c.inst.lot_size > 1 \
                else 1 + (noise >> 23) % 250
        return SimQuote(ltp=ltp, open=info.open, high=high, low=low, prev_close=info.prev_close, volume=volume,
                        bid=bid, ask=ask, oi=info.oi, ltq=ltq, timestamp=at)

    def depth(self, key: str, at: datetime, levels: int = 5) -> SimDepth | None:
        """``levels`` price levels a side around :meth:`quote` (best bid == quote.bid)."""
        quote = self.quote(key, at)
        c = self._contract(key)
        if quote is None or c is None:
            return None
        t = epoch_second(at)
        live = c.inst.kind != "INDEX" and (c.cutoff is None or t < c.cutoff)
        return build_depth(quote, c.inst.tick_size, c.inst.lot_size, f"{self.seed}|{key}|{t}", levels, live)

    # --- history -----------------------------------------------------------------------------
    def candles(self, key: str, interval_seconds: int, start: datetime, end: datetime) -> list[SimCandle]:
        """Bars of ``interval_seconds`` (a divisor of a day, or 86400) from the bar holding
        ``start`` to the bar holding ``end``; none after a contract's expiry cut-off."""
        if interval_seconds <= 0 or SECONDS_PER_DAY % interval_seconds:
            raise ValueError("interval_seconds must divide a day (1s ... 86400s)")
        c = self._contract(key)
        if c is None:
            return []
        first, last = epoch_second(start), epoch_second(end)
        if c.cutoff is not None:
            last = min(last, c.cutoff)
        if last < first:
            return []
        local_first, local_last = first + IST_OFFSET, last + IST_OFFSET
        bars = []
        for bar in range(local_first - local_first % interval_seconds, local_last + 1, interval_seconds):
            day, opening = divmod(bar, SECONDS_PER_DAY)
            closing = min(opening + interval_seconds - 1, local_last - day * SECONDS_PER_DAY)
            bars.append(self._bar(c, day, opening, closing))
        return bars

    def _bar(self, c: _Contract, day: int, first: int, last: int) -> SimCandle:
        """One bar over seconds ``first..last`` (inclusive) of IST day ``day``."""
        if first == 0 and last == SECONDS_PER_DAY - 1:
            whole = self._summary(c, day)
            o, h, lo, cl, a0, a1 = whole.open, whole.high, whole.low, whole.close, 0.0, 1.0
        else:
            path = self._spot_path(c, day)
            o, cl = path.log_at(first), path.log_at(last)
            h, lo = path.extremes_between(first, last)
            a0, a1 = path.activity_before(first), path.activity_before(last + 1)
        midnight = day * SECONDS_PER_DAY - IST_OFFSET
        t0, t1 = midnight + first, midnight + last
        opened = self._round(c, self._value(c, math.exp(o), t0), t0)
        closed = self._round(c, self._value(c, math.exp(cl), t1), t1)
        # Futures and calls rise with the spot, puts fall: the spot's extremes bound the bar's,
        # valued at both ends of the bar (time value moves a little within it).
        ends = [self._round(c, self._value(c, math.exp(x), t), t) for x in (h, lo) for t in (t0, t1)]
        info = self._day(c, day)
        return SimCandle(timestamp=midnight + first, open=opened, high=max(*ends, opened, closed),
                         low=min(*ends, opened, closed), close=closed,
                         volume=self._traded(c, info, a1) - self._traded(c, info, a0), oi=info.oi)


def _timing() -> None:  # pragma: no cover - run by hand: python -m brokers.sandbox.market
    """Prints what quote() costs on a cached day and on a day's first touch."""
    from time import perf_counter

    d = Decimal
    spot = SimInstrument("NSE_INDEX:NIFTY", "INDEX", d("0.05"), 1, d(26000), 0.13)
    stock = SimInstrument("NSE:SBIN", "EQ", d("0.05"), 1, d(980), 0.24)
    call = SimInstrument("NFO:NIFTY29DEC26C26000", "OPT", d("0.05"), 65, d(0), 0.13, spot.key, date(2026, 12, 29),
                         d(26000), OptionType.CE)
    table = {i.key: i for i in (spot, stock, call)}
    market = SimulatedMarket(7, table.get)
    at = datetime(2026, 11, 24, 11, 0, 0, tzinfo=IST)
    begun = perf_counter()
    market.quote(stock.key, at)
    print(f"first touch (fresh process, shape library included): {(perf_counter() - begun) * 1e3:.2f} ms")
    for key in (stock.key, call.key):
        market.quote(key, at)
        begun, n = perf_counter(), 20_000
        for i in range(n):
            market.quote(key, at.replace(second=i % 60, minute=i % 60))
        print(f"quote {key} on a cached day: {(perf_counter() - begun) / n * 1e6:.1f} us")
    for key in (stock.key, call.key):
        spent = []
        for offset in range(1, 21):
            moment = datetime.fromordinal(at.toordinal() - 40 * offset).replace(hour=11, tzinfo=IST)
            begun = perf_counter()
            market.quote(key, moment)
            spent.append(perf_counter() - begun)
        print(f"first touch of a new day, {key}: {sum(spent) / len(spent) * 1e3:.2f} ms mean, "
              f"{max(spent) * 1e3:.2f} ms max")


if __name__ == "__main__":  # pragma: no cover
    _timing()
