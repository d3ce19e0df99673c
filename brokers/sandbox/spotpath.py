"""Deterministic spot paths for the simulated market: a mean-reverting daily anchor and a one-second intraday walk.

A spot's log price at second ``s`` of IST day ``d`` is::

    log(ref) + X_d + W_d(s)

``X_d`` (the daily anchor) is an AR(1) in log space pinned to 0 on PIN_DATE: each day
``X = phi * X + sigma_a * z`` going forward from the pin (and the same recursion run backwards
before it). ``sigma_a`` is ANCHOR_SHARE of one trading day's volatility
(``annual_vol / sqrt(252)``) and ``phi`` is chosen per volatility so that X's long-run
standard deviation is BAND (0.2): prices wander for months but stay within about
0.45x-2.2x of their reference for good, and sit near it around the pin date.

``W_d`` (the intraday walk) starts at 0 at 00:00 IST and moves every second: each minute
replays one of SHAPES fixed one-minute random walks (a library built once from a fixed
seed, picked and signed by the day's own random bits) scaled by that minute's volatility.
Minutes inside the exchange's session carry most of the variance (a U-shape, busiest at
the open and the close); outside it the price drifts at QUIET of the pace, so the market
runs all day. A day's walk carries INTRADAY_SHARE of a trading day's variance: with 252
such days a year, that is the "252 x 86,400 trading seconds a year" assumption. The
next day opens at its own anchor, so midnight IST shows an overnight gap, as markets do.
Close-to-close volatility comes out at about ``annual_vol``.

Because each minute's shape is known, every minute's high and low are exact without
touching its 60 seconds: one day costs ~1440 cheap steps to build (well under a
millisecond), a price at any second is O(1) once the day is built, and any process with
the same seed computes the same price for the same second (no state, no network)."""

from __future__ import annotations

import functools
import hashlib
import math
import random
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date
from itertools import accumulate, repeat
from operator import add, and_, mul, or_, rshift
from typing import Generic, TypeVar

SECONDS_PER_DAY = 86_400
MINUTES_PER_DAY = 1_440
IST_OFFSET = 19_800  # seconds east of UTC
TRADING_DAYS_PER_YEAR = 252
PIN_DATE = date(2026, 1, 1)  # the anchor is exactly the reference price on this IST day
PIN_DAY = (PIN_DATE - date(1970, 1, 1)).days
BLOCK_DAYS = 256
ANCHOR_SHARE = 0.6
INTRADAY_SHARE = 0.6
BAND = 0.2
QUIET = 0.15
SHAPES = 2048  # power of two: picked with a bit mask
SHAPE_SEED = 0x5EED_5A4D

# Active session per exchange family, in minutes after 00:00 IST.
SESSIONS = {"equity": (555, 930), "commodity": (540, 1410), "currency": (540, 1020), "round_the_clock": (0, 1440)}
_SESSION_OF = {
    "NSE": "equity", "BSE": "equity", "NSE_INDEX": "equity", "BSE_INDEX": "equity", "NFO": "equity", "BFO": "equity",
    "MCX": "commodity", "MCX_INDEX": "commodity", "NCDEX": "commodity", "NCO": "commodity",
    "CDS": "currency", "BCD": "currency",
}

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """A bounded least-recently-used map (the caches must not grow with uptime), safe to
    share between threads (ASGI workers run sync code in a pool)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)
            return value

    def __len__(self) -> int:
        return len(self._items)


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, identical in every process (unlike ``hash``)."""
    text = "\x1f".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def seeded(*parts: object) -> random.Random:
    """A generator seeded from ``parts``: the point is reproducibility, not secrecy."""
    return random.Random(stable_seed(*parts))  # noqa: S311


def session_of(key: str) -> str:
    return _SESSION_OF.get(key.partition(":")[0], "round_the_clock")


def _int16s(data: bytes) -> array:
    values = array("h", data)
    if sys.byteorder == "big":  # the bytes are read little-endian everywhere
        values.byteswap()
    return values


@dataclass(frozen=True, slots=True)
class _Shapes:
    """SHAPES one-minute walks of 60 uniform steps of unit variance (one second's worth), 61
    values each from 0, laid end to end in ``values``; per shape its end and its highest and
    lowest value over seconds 0..59. A random sign on use makes the increments symmetric."""

    values: array
    ends: list[float]
    highs: list[float]
    lows: list[float]


@functools.cache
def _shapes() -> _Shapes:
    steps = _int16s(random.Random(SHAPE_SEED).randbytes(2 * 60 * SHAPES))  # noqa: S311
    scale = math.sqrt(12.0 / (65536.0**2 - 1.0))  # a uniform int16 has variance (2^32 - 1) / 12
    unit = array("d", map(scale.__mul__, steps))
    values, ends, highs, lows = array("d"), [], [], []
    for k in range(SHAPES):
        walk = list(accumulate(unit[60 * k:60 * k + 60], initial=0.0))
        values.extend(walk)
        ends.append(walk[60])
        highs.append(max(walk[:60]))
        lows.append(min(walk[:60]))
    return _Shapes(values, ends, highs, lows)


@functools.cache
def _profile(session: str) -> tuple[array, array]:
    """Per-minute volatility weights (mean square 1 per second over the day) and activity weights."""
    begin, end = SESSIONS[session]
    raw = []
    for minute in range(MINUTES_PER_DAY):
        if begin <= minute < end:
            u = 2.0 * (minute + 0.5 - begin) / (end - begin) - 1.0
            raw.append(1.0 + 0.6 * u * u)
        else:
            raw.append(QUIET)
    norm = math.sqrt(sum(60.0 * w * w for w in raw) / SECONDS_PER_DAY)
    weights = array("d", (w / norm for w in raw))
    return weights, array("d", (w * w for w in weights))


@dataclass(frozen=True, slots=True)
class DaySummary:
    """A day's log open, high, low and close, and its volume multiplier."""

    open: float
    high: float
    low: float
    close: float
    volume_factor: float


class DayPath:
    """One spot's one-second path over one IST day. Seconds run 0..86399 from 00:00 IST."""

    __slots__ = ("activity", "high_before", "low_before", "minute_high", "minute_low", "offsets", "scales",
                 "starts", "volume_factor")

    def __init__(self, rng: random.Random, log_anchor: float, vol: float, session: str) -> None:
        shapes = _shapes()
        weights, activity = _profile(session)
        picks = _int16s(rng.randbytes(2 * MINUTES_PER_DAY))
        busy = rng.randbytes(MINUTES_PER_DAY)
        self.volume_factor = 0.6 + 0.8 * rng.random()
        sigma = INTRADAY_SHARE * vol / math.sqrt(TRADING_DAYS_PER_YEAR * SECONDS_PER_DAY)
        # All of it in C-level maps: a day is ~1440 steps, built in well under a millisecond.
        shape = list(map(and_, picks, repeat(SHAPES - 1)))
        signs = map(or_, map(rshift, picks, repeat(15)), repeat(1))  # -1 for a negative pick, else +1
        self.offsets = array("l", map(mul, shape, repeat(61)))
        self.scales = array("d", map(mul, map(sigma.__mul__, weights), signs))
        ends = map(mul, self.scales, map(shapes.ends.__getitem__, shape))
        self.starts = array("d", accumulate(ends, initial=log_anchor))
        ups = list(map(mul, self.scales, map(shapes.highs.__getitem__, shape)))
        downs = list(map(mul, self.scales, map(shapes.lows.__getitem__, shape)))
        tops = list(map(add, self.starts, map(max, ups, downs)))
        bottoms = list(map(add, self.starts, map(min, ups, downs)))
        self.minute_high, self.minute_low = array("d", tops), array("d", bottoms)
        self.high_before = array("d", accumulate(tops, max, initial=-math.inf))
        self.low_before = array("d", accumulate(bottoms, min, initial=math.inf))
        busy_weights = map((1.0 / 255.0).__mul__, busy)
        cumulative = list(accumulate(map(mul, activity, map((0.5).__add__, busy_weights)), initial=0.0))
        self.activity = array("d", map((1.0 / cumulative[-1]).__mul__, cumulative))
        self.activity[-1] = 1.0  # exactly: a whole day's bars add up to the day's volume

    def log_at(self, second: int) -> float:
        minute, j = divmod(second, 60)
        return self.starts[minute] + self.scales[minute] * _shapes().values[self.offsets[minute] + j]

    def _partial(self, minute: int, first: int, last: int) -> tuple[float, float]:
        """Extremes of seconds ``first..last`` (inclusive) of ``minute``."""
        offset, scale = self.offsets[minute], self.scales[minute]
        if first == 0 and last == 59:
            return self.minute_high[minute], self.minute_low[minute]
        seen = _shapes().values[offset + first:offset + last + 1]
        up, down = scale * max(seen), scale * min(seen)
        return self.starts[minute] + max(up, down), self.starts[minute] + min(up, down)

    def extremes_through(self, second: int) -> tuple[float, float]:
        """Highest and lowest log price over seconds 0..``second``."""
        minute, j = divmod(second, 60)
        high, low = self._partial(minute, 0, j)
        return max(high, self.high_before[minute]), min(low, self.low_before[minute])

    def extremes_between(self, first: int, last: int) -> tuple[float, float]:
        """Highest and lowest log price over seconds ``first..last`` (inclusive)."""
        m0, j0 = divmod(first, 60)
        m1, j1 = divmod(last, 60)
        if m0 == m1:
            return self._partial(m0, j0, j1)
        high, low = self._partial(m0, j0, 59)
        if m1 > m0 + 1:
            high = max(high, max(self.minute_high[m0 + 1:m1]))
            low = min(low, min(self.minute_low[m0 + 1:m1]))
        tail_high, tail_low = self._partial(m1, 0, j1)
        return max(high, tail_high), min(low, tail_low)

    def activity_before(self, second: int) -> float:
        """Share of the day's trading done before ``second`` (0..86400), rising linearly within a minute."""
        minute, j = divmod(second, 60)
        if j == 0:
            return self.activity[minute]
        lower = self.activity[minute]
        return lower + (self.activity[minute + 1] - lower) * j / 60.0

    def summary(self) -> DaySummary:
        return DaySummary(open=self.starts[0], high=self.high_before[MINUTES_PER_DAY],
                          low=self.low_before[MINUTES_PER_DAY], close=self.log_at(SECONDS_PER_DAY - 1),
                          volume_factor=self.volume_factor)


class SpotPaths:
    """Every spot's path for one seed, built on demand and kept in bounded caches. A key's
    ``ref`` and ``vol`` are taken from its first use; they are the instrument's, so they do
    not change between calls."""

    def __init__(self, seed: int, days: int = 512, summaries: int = 200_000, blocks: int = 4_096) -> None:
        self.seed = seed
        self._days: Lru[tuple[str, int], DayPath] = Lru(days)
        self._summaries: Lru[tuple[str, int], DaySummary] = Lru(summaries)
        self._blocks: Lru[tuple[str, float, int], list[float]] = Lru(blocks)

    def anchor(self, key: str, vol: float, day: int) -> float:
        """``X_day``: log of the day's anchor over the reference price."""
        n = day - PIN_DAY
        block = n // BLOCK_DAYS
        return self._block(key, vol, block)[n - block * BLOCK_DAYS]

    def _block(self, key: str, vol: float, block: int) -> list[float]:
        found = self._blocks.get((key, vol, block))
        if found is not None:
            return found
        # Build the chain from the pin outwards without recursion: the blocks in between first.
        step = -1 if block > 0 else 1
        pending = [block]
        while pending[-1] != 0 and self._blocks.get((key, vol, pending[-1] + step)) is None:
            pending.append(pending[-1] + step)
        for b in reversed(pending):
            self._blocks.put((key, vol, b), self._make_block(key, vol, b))
        return self._blocks.get((key, vol, block)) or self._make_block(key, vol, block)

    def _make_block(self, key: str, vol: float, block: int) -> list[float]:
        sigma = ANCHOR_SHARE * vol / math.sqrt(TRADING_DAYS_PER_YEAR)
        phi = math.sqrt(max(0.0, 1.0 - (sigma / BAND) ** 2))
        gauss = seeded(self.seed, key, "anchor", block).gauss
        if block == 0:
            x, out = 0.0, [0.0]
        elif block > 0:
            x, out = self._blocks.get((key, vol, block - 1))[-1], []
        else:
            x, out = self._blocks.get((key, vol, block + 1))[0], []
        while len(out) < BLOCK_DAYS:
            x = phi * x + sigma * gauss(0.0, 1.0)
            out.append(x)
        return out[::-1] if block < 0 else out

    def _build(self, key: str, ref: float, vol: float, day: int) -> DayPath:
        log_anchor = math.log(ref) + self.anchor(key, vol, day)
        return DayPath(seeded(self.seed, key, day), log_anchor, vol, session_of(key))

    def day(self, key: str, ref: float, vol: float, day: int) -> DayPath:
        """The path of ``key`` over IST day number ``day`` (days since 1970-01-01 IST)."""
        found = self._days.get((key, day))
        if found is None:
            found = self._days.put((key, day), self._build(key, ref, vol, day))
        return found

    def summary(self, key: str, ref: float, vol: float, day: int) -> DaySummary:
        """A day's open/high/low/close without keeping its path (for daily bars over long ranges)."""
        found = self._summaries.get((key, day))
        if found is None:
            path = self._days.get((key, day)) or self._build(key, ref, vol, day)
            found = self._summaries.put((key, day), path.summary())
        return found
