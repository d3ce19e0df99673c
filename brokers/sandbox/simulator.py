"""The sandbox's simulated market: a deterministic price for every instrument at every
instant, a pure function of (seed, instrument, time). Any process computes the same
price for the same second, so the API, the fill engine, history and the feed agree
without sharing state.

Spot path (equities, indices, commodity and currency spots): each IST calendar day opens
at ref * exp(X_d), where X_d is a mean-reverting sum of daily shocks (so prices wander
but stay near their reference over the years); within the day a random walk at one-
minute resolution, and within each minute a Brownian bridge at one-second resolution.
Futures trade at fair value (spot * e^{rT}); options at Black-Scholes on the spot with
a volatility smile, so chains stay consistent. Everything is rounded to the tick."""

from __future__ import annotations

import hashlib
import math
import random
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import accumulate
from typing import TypeVar

from brokers.base import Candle, Depth, DepthLevel, Quote
from brokers.optionmath import black_scholes, smile_vol
from core.values import IST

MINUTES = 1440
RATE = 0.065  # risk-free rate for futures basis and option prices
ANCHOR_DAYS = 60  # daily shocks that still move a day's open
ANCHOR_DECAY = 0.95
# What a process keeps of the paths (least recently used out): ~46 MB of day paths at most
# (1,000 instrument-days), ~3 MB of one-second bridges.
DAYS_KEPT = 1_000
BRIDGES_KEPT = 5_000
EXPIRY_CLOSE = time(15, 30)


@dataclass(frozen=True, slots=True)
class SimInstrument:
    key: str  # "EXCHANGE:SYMBOL"
    kind: str  # EQ, INDEX, FUT, OPT
    tick_size: Decimal
    lot_size: int
    ref_price: Decimal
    annual_vol: float
    underlying_key: str | None = None
    expiry: date | None = None
    strike: Decimal | None = None
    option_type: str | None = None


class _Day:
    """One spot's minute path for one IST day: log prices at each minute boundary, their
    running high and low (a quote's day range in one lookup), cumulative volume. Packed
    arrays (8 bytes a value, ~46 KB a day; lists of floats took ~140 KB), as every process
    that prices keeps up to DAYS_KEPT of them."""

    __slots__ = ("highs", "log_open", "lows", "points", "sigma", "volume")

    def __init__(self, log_open: float, points: array[float], volume: array[int], sigma: float) -> None:
        self.log_open, self.sigma = log_open, sigma
        self.points: array[float] = points
        self.volume: array[int] = volume
        self.highs: array[float] = array("d", accumulate(points, max))
        self.lows: array[float] = array("d", accumulate(points, min))


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def _rng(seed: int) -> random.Random:
    """A seeded generator: the point is reproducibility, not secrecy."""
    return random.Random(seed)  # noqa: S311


def _round(value: float, tick: Decimal) -> Decimal:
    steps = (Decimal(repr(value)) / tick).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return max(tick, steps * tick)


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Lru(OrderedDict[_K, _V]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: _K, value: _V) -> _V:
        self[key] = value
        if len(self) > self.size:
            self.popitem(last=False)
        return value


class SimulatedMarket:
    def __init__(self, seed: int, resolver: Callable[[str], SimInstrument | None]) -> None:
        self.seed = seed
        self.resolver = resolver
        self._instruments: _Lru[str, SimInstrument | None] = _Lru(20_000)
        # A day path is needed for each instrument priced today (and yesterday's close); a
        # minute's bridge only while that minute is quoted (and by second bars of history).
        self._days: _Lru[tuple[str, date], _Day] = _Lru(DAYS_KEPT)
        self._bridges: _Lru[tuple[str, date, int], array[float]] = _Lru(BRIDGES_KEPT)
        self._shocks: _Lru[tuple[str, date], float] = _Lru(50_000)

    # --- instruments -------------------------------------------------------------------------
    def instrument(self, key: str) -> SimInstrument | None:
        if key in self._instruments:
            return self._instruments[key]
        return self._instruments.remember(key, self.resolver(key))

    # --- the spot path ---------------------------------------------------------------------------
    def _daily_shock(self, key: str, day: date) -> float:
        cached = self._shocks.get((key, day))
        if cached is None:
            cached = self._shocks.remember((key, day), _rng(_seed(self.seed, key, "d", day)).gauss(0, 1))
        return cached

    def _day(self, spot: SimInstrument, day: date) -> _Day:
        found = self._days.get((spot.key, day))
        if found is not None:
            return found
        daily_sigma = spot.annual_vol / math.sqrt(252)
        anchor = sum(ANCHOR_DECAY ** j * self._daily_shock(spot.key, day - timedelta(days=j))
                     for j in range(ANCHOR_DAYS)) * daily_sigma * 0.35
        log_open = math.log(float(spot.ref_price)) + anchor
        sigma = daily_sigma / math.sqrt(MINUTES) * 0.8
        rng = _rng(_seed(self.seed, spot.key, day))
        gauss = rng.gauss
        shocks = [gauss(0.0, 1.0) for _ in range(MINUTES)]
        points = array("d", [log_open])
        append = points.append
        level = log_open
        for z in shocks:
            level += sigma * z
            append(level)
        base = max(1, int(2_000_000 / max(1.0, float(spot.ref_price)) ** 0.5))
        volume, total = array("q", [0]), 0
        for z in shocks:
            total += int(base * (0.4 + 0.8 * abs(z)))
            volume.append(total)
        return self._days.remember((spot.key, day), _Day(log_open, points, volume, sigma))

    def _bridge(self, spot: SimInstrument, day: date, minute: int, sigma: float) -> array[float]:
        found = self._bridges.get((spot.key, day, minute))
        if found is not None:
            return found
        gauss = _rng(_seed(self.seed, spot.key, day, minute)).gauss
        walk, level = [0.0], 0.0
        step = sigma / math.sqrt(60)
        for _ in range(60):
            level += gauss(0.0, step)
            walk.append(level)
        end = walk[-1]
        bridge = array("d", [w - end * k / 60 for k, w in enumerate(walk)])
        return self._bridges.remember((spot.key, day, minute), bridge)

    def _spot_log(self, spot: SimInstrument, at: datetime) -> tuple[float, _Day, int]:
        local = at.astimezone(IST)
        day = self._day(spot, local.date())
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        minute, second = divmod(seconds, 60)
        start, end = day.points[minute], day.points[minute + 1]
        value = start + (end - start) * second / 60 + self._bridge(spot, local.date(), minute, day.sigma)[second]
        return value, day, minute

    def _spot_price(self, spot: SimInstrument, at: datetime) -> float:
        return math.exp(self._spot_log(spot, at)[0])

    # --- any instrument --------------------------------------------------------------------------
    def _spot_of(self, inst: SimInstrument) -> SimInstrument | None:
        return inst if inst.kind in ("EQ", "INDEX") else self.instrument(inst.underlying_key or "")

    def _years_left(self, inst: SimInstrument, at: datetime) -> float:
        assert inst.expiry is not None  # only called for an instrument with an expiry
        close = datetime.combine(inst.expiry, EXPIRY_CLOSE, IST)
        return max(0.0, (close - at).total_seconds() / (365 * 86400))

    def _derived(self, inst: SimInstrument, spot_price: float, at: datetime) -> float:
        if inst.kind in ("EQ", "INDEX"):
            return spot_price
        if inst.expiry is not None and at >= datetime.combine(inst.expiry, EXPIRY_CLOSE, IST):
            at = datetime.combine(inst.expiry, EXPIRY_CLOSE, IST)
        years = self._years_left(inst, at) if inst.expiry else 0.0
        if inst.kind == "FUT":
            return spot_price * math.exp(RATE * years)
        assert inst.strike is not None  # an option always has a strike
        strike = float(inst.strike)
        vol = smile_vol(inst.annual_vol, spot_price, strike, years)
        return black_scholes(spot_price, strike, years, RATE, vol, inst.option_type or "CE")

    def price(self, key: str, at: datetime) -> float | None:
        inst = self.instrument(key)
        spot = self._spot_of(inst) if inst else None
        if inst is None or spot is None:
            return None
        when = at
        if inst.expiry is not None:
            when = min(at, datetime.combine(inst.expiry, EXPIRY_CLOSE, IST))
        return self._derived(inst, self._spot_price(spot, when), when)

    def quote(self, key: str, at: datetime) -> Quote | None:
        inst = self.instrument(key)
        spot = self._spot_of(inst) if inst else None
        if inst is None or spot is None:
            return None
        when = at if inst.expiry is None else min(at, datetime.combine(inst.expiry, EXPIRY_CLOSE, IST))
        log_now, day, minute = self._spot_log(spot, when)
        hi_log, lo_log = max(day.highs[minute], log_now), min(day.lows[minute], log_now)
        midnight = datetime.combine(when.astimezone(IST).date(), time(0), IST)
        tick = inst.tick_size
        ltp = _round(self._derived(inst, math.exp(log_now), when), tick)
        opened = _round(self._derived(inst, math.exp(day.log_open), midnight), tick)
        extremes = [_round(self._derived(inst, math.exp(v), when), tick) for v in (hi_log, lo_log)]
        high, low = max([*extremes, ltp, opened]), min([*extremes, ltp, opened])
        prev_close = _round(self.price(key, midnight - timedelta(seconds=1)) or float(ltp), tick)
        seconds = when.astimezone(IST).second
        volume = day.volume[minute] + (day.volume[minute + 1] - day.volume[minute]) * seconds // 60
        if inst.kind in ("FUT", "OPT"):
            volume = volume // max(1, inst.lot_size) * inst.lot_size // 10
        spread = 1 + _seed(self.seed, key, int(when.timestamp())) % 2
        bid = max(tick, ltp - tick * spread)
        ask = ltp + tick * (3 - spread)
        oi = 0
        if inst.kind in ("FUT", "OPT"):
            oi = (50_000 + _seed(self.seed, key, "oi") % 5_000_000) // inst.lot_size * inst.lot_size
        return Quote(ltp=ltp, open=opened, high=high, low=low, prev_close=prev_close, volume=int(volume),
                     bid=bid, ask=ask, oi=int(oi), timestamp=at)

    def depth(self, key: str, at: datetime, levels: int = 5) -> Depth | None:
        top = self.quote(key, at)
        inst = self.instrument(key)
        if top is None or inst is None:
            return None
        lot, tick = max(1, inst.lot_size), inst.tick_size
        stamp = int(at.timestamp())

        def size(side: str, n: int) -> tuple[int, int]:
            mix = _seed(self.seed, key, stamp, side, n)
            return lot * (1 + mix % 40), 1 + mix % 9

        bids = tuple(DepthLevel(top.bid - tick * n, *size("b", n)) for n in range(levels) if top.bid - tick * n > 0)
        asks = tuple(DepthLevel(top.ask + tick * n, *size("a", n)) for n in range(levels))
        return Depth(bids=bids, asks=asks, quote=top)

    # --- history ---------------------------------------------------------------------------------
    def candles(self, key: str, interval_seconds: int, start: datetime, end: datetime) -> list[Candle]:
        """Bars from the one-minute series (seconds bars from the one-second bridge), aligned
        to IST midnight; the bar containing ``end`` closes at the price of ``end``."""
        inst = self.instrument(key)
        spot = self._spot_of(inst) if inst else None
        if inst is None or spot is None or end <= start:
            return []
        step = max(1, interval_seconds)
        midnight = datetime.combine(start.astimezone(IST).date(), time(0), IST)
        bar_start = midnight + timedelta(seconds=(start - midnight).total_seconds() // step * step)
        bars: list[Candle] = []
        while bar_start < end:
            bar_end = min(bar_start + timedelta(seconds=step), end)
            bar = self._bar(inst, spot, bar_start, bar_end, exact_close=bar_end == end)
            if bar is not None:
                bars.append(bar)
            bar_start += timedelta(seconds=step)
        return bars

    def _log_range(self, spot: SimInstrument, start: datetime, end: datetime) -> list[float]:
        """Log prices sampled over [start, end): each second below a minute, else each minute."""
        if (end - start).total_seconds() < 60 or start.second or end.second:
            samples, moment = [], start
            while moment < end:
                samples.append(self._spot_log(spot, moment)[0])
                moment += timedelta(seconds=1)
            return samples
        samples, cursor = [], start.astimezone(IST)
        stop = end.astimezone(IST)
        while cursor < stop:
            day = self._day(spot, cursor.date())
            first = cursor.hour * 60 + cursor.minute
            day_end = datetime.combine(cursor.date() + timedelta(days=1), time(0), IST)
            last = MINUTES if stop >= day_end else stop.hour * 60 + stop.minute
            samples.extend(day.points[first:last])
            cursor = day_end
        return samples

    def _bar(self, inst: SimInstrument, spot: SimInstrument, start: datetime, end: datetime,
             exact_close: bool) -> Candle | None:
        logs = self._log_range(spot, start, end)
        if not logs:
            return None
        closing = end if exact_close else end - timedelta(seconds=1)
        close_log = self._spot_log(spot, closing)[0]
        tick = inst.tick_size

        def at(log_price: float) -> Decimal:
            return _round(self._derived(inst, math.exp(log_price), closing), tick)

        # Futures and calls rise with the spot, puts fall: four prices make the bar.
        opened, close = at(logs[0]), at(close_log)
        ends = (at(max([*logs, close_log])), at(min([*logs, close_log])))
        volume = self._volume_between(spot, start, end)
        if inst.kind in ("FUT", "OPT"):
            volume = volume // max(1, inst.lot_size) * inst.lot_size // 10
        return Candle(timestamp=int(start.timestamp()), open=opened, high=max((*ends, opened, close)),
                         low=min((*ends, opened, close)), close=close, volume=int(volume))

    def _volume_between(self, spot: SimInstrument, start: datetime, end: datetime) -> int:
        def cumulative(at: datetime) -> int:
            local = at.astimezone(IST)
            day = self._day(spot, local.date())
            seconds = local.hour * 3600 + local.minute * 60 + local.second
            minute, second = divmod(seconds, 60)
            if minute >= MINUTES:
                return day.volume[-1]
            return day.volume[minute] + (day.volume[minute + 1] - day.volume[minute]) * second // 60

        total, cursor = 0, start
        while cursor.astimezone(IST).date() < end.astimezone(IST).date():
            midnight = datetime.combine(cursor.astimezone(IST).date() + timedelta(days=1), time(0), IST)
            total += self._day(spot, cursor.astimezone(IST).date()).volume[-1] - cumulative(cursor)
            cursor = midnight
        return total + cumulative(end) - cumulative(cursor)
