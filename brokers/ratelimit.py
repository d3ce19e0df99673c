"""Pacing of broker calls: a token bucket per (broker, account, limit kind), built from
the limits an adapter declares (``Capabilities.rate_limits``). With ``REDIS_URL`` every
process of every host shares the buckets (one Lua script takes from all of a call's
windows atomically, on Redis's clock); without it every process of this host shares them
through the counters file (core/counters.py), so N web processes and the worker's children
together stay within a broker's limit.

A caller asks for a token and says how long it may wait. The bucket either reserves
the token and says how long to wait for it (never more than the caller allowed), or
refuses and says when to retry: a request thread is never parked for long."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection

from brokers.base import RateLimits


class CallKind(StrEnum):
    ORDERS = "orders"
    QUOTES = "quotes"
    HISTORY = "history"


@dataclass(frozen=True, slots=True)
class Window:
    """``count`` calls per ``seconds``: refills at count/seconds, holds at most ``count``."""

    count: int
    seconds: int

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def windows(limits: RateLimits, kind: CallKind) -> tuple[Window, ...]:
    """The declared windows of one kind of call; 0 means no limit, so no window."""
    declared: tuple[tuple[int, int], ...]
    if kind is CallKind.ORDERS:
        declared = ((limits.orders_per_second, 1), (limits.orders_per_minute, 60), (limits.orders_per_hour, 3600),
                    (limits.orders_per_day, 86400))
    elif kind is CallKind.QUOTES:
        declared = ((limits.quotes_per_second, 1),)
    else:
        declared = ((limits.history_per_second, 1),)
    return tuple(Window(count, seconds) for count, seconds in declared if count > 0)


@dataclass(frozen=True, slots=True)
class Grant:
    """A bucket's answer: ``granted`` with ``wait`` seconds to wait before the call, or
    refused with ``wait`` the seconds after which a retry would be granted."""

    granted: bool
    wait: float


class Buckets(Protocol):
    def take(self, key: str, windows: tuple[Window, ...], max_wait: float) -> Grant: ...


def _decide(levels: list[float], windows: tuple[Window, ...], max_wait: float) -> tuple[Grant, list[float]]:
    """Given each window's current level (tokens, refilled to now), reserve one token in
    every window if the longest wait is within ``max_wait``. Levels may go below zero:
    that is a reservation, which is what keeps waiters in order without a queue."""
    wait = max((max(0.0, (1 - level) / window.rate) for level, window in zip(levels, windows, strict=True)),
               default=0.0)
    if wait > max_wait:
        return Grant(False, wait), levels
    return Grant(True, wait), [level - 1 for level in levels]


class LocalBuckets:
    """Buckets of this process (the embedded setup: one web process, no Redis)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[tuple[str, Window], tuple[float, float]] = {}

    def take(self, key: str, windows: tuple[Window, ...], max_wait: float) -> Grant:
        with self._lock:
            now = self._clock()
            levels = []
            for window in windows:
                level, stamp = self._state.get((key, window), (float(window.count), now))
                levels.append(min(float(window.count), level + (now - stamp) * window.rate))
            grant, levels = _decide(levels, windows, max_wait)
            for window, level in zip(windows, levels, strict=True):
                self._state[(key, window)] = (level, now)
            return grant


class SharedFileBuckets:
    """Buckets every process of this host shares (the embedded defaults): each window's level
    and stamp in the counters cache, in millionths, read and written under its one lock."""

    SCALE = 1_000_000

    def __init__(self, counters: Any, clock: Callable[[], float] = time.time) -> None:
        self._counters = counters
        self._clock = clock

    def take(self, key: str, windows: tuple[Window, ...], max_wait: float) -> Grant:
        names = [f"pace:{key}:{window.count}/{window.seconds}" for window in windows]
        keys = [part for name in names for part in (f"{name}:level", f"{name}:stamp")]
        with self._counters.atomically(keys, timeout=max(w.seconds for w in windows) * 2 + 1) as state:
            now = self._clock()
            levels = []
            for name, window in zip(names, windows, strict=True):
                level, stamp = state[f"{name}:level"], state[f"{name}:stamp"]
                if level is None or stamp is None:
                    levels.append(float(window.count))
                    continue
                refill = (now - stamp / self.SCALE) * window.rate
                levels.append(min(float(window.count), level / self.SCALE + max(0.0, refill)))
            grant, levels = _decide(levels, windows, max_wait)
            for name, level in zip(names, levels, strict=True):
                state[f"{name}:level"] = round(level * self.SCALE)
                state[f"{name}:stamp"] = round(now * self.SCALE)
            return grant


# KEYS: one hash per window. ARGV: max_wait, then count and seconds per window.
# Returns {granted (0/1), wait in microseconds}. Redis's clock, so hosts need not agree.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local max_wait = tonumber(ARGV[1])
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local count, seconds = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local rate = count / seconds
  local state = redis.call('HMGET', key, 'level', 'stamp')
  local level = tonumber(state[1]) or count
  local stamp = tonumber(state[2]) or now
  level = math.min(count, level + (now - stamp) * rate)
  levels[i] = level
  wait = math.max(wait, (1 - level) / rate)
end
if wait > max_wait then
  return {0, math.ceil(wait * 1000000)}
end
for i, key in ipairs(KEYS) do
  local count, seconds = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'level', tostring(levels[i] - 1), 'stamp', tostring(now))
  redis.call('EXPIRE', key, seconds * 2 + 1)
end
return {1, math.ceil(math.max(wait, 0) * 1000000)}
"""


class RedisBuckets:
    """Buckets shared by every process through one Redis (a ``redis.Redis`` client)."""

    def __init__(self, client: Any, prefix: str = "openalgo:pace") -> None:
        self._script = client.register_script(_TAKE)
        self._prefix = prefix

    def take(self, key: str, windows: tuple[Window, ...], max_wait: float) -> Grant:
        keys = [f"{self._prefix}:{key}:{window.count}/{window.seconds}" for window in windows]
        args: list[float | int] = [max_wait]
        for window in windows:
            args += [window.count, window.seconds]
        granted, micros = self._script(keys=keys, args=args)
        return Grant(bool(int(granted)), int(micros) / 1_000_000)


_shared: Buckets | None = None
_shared_lock = threading.Lock()


def shared_buckets() -> Buckets:
    """The buckets this process uses: Redis's when REDIS_URL is set, else the host's shared file."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = (RedisBuckets(get_redis_connection("default")) if settings.REDIS_URL
                       else SharedFileBuckets(caches["counters"]))
        return _shared


class PacingExceeded(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.3f}s")
        self.retry_after = retry_after


def pace(*, broker: str, account: str, limits: RateLimits, kind: CallKind, max_wait: float,
         buckets: Buckets | None = None, sleep: Callable[[float], None] | None = None) -> float:
    """Take a token for one call, waiting at most ``max_wait`` seconds in this thread.
    Returns the seconds waited; raises PacingExceeded (with when to retry) beyond that.
    A broker that declares no limit of this kind is not paced at all."""
    declared = windows(limits, kind)
    if not declared:
        return 0.0
    grant = (buckets or shared_buckets()).take(f"{broker}:{account}:{kind}", declared, max_wait)
    if not grant.granted:
        raise PacingExceeded(grant.wait)
    if grant.wait > 0:
        (sleep or time.sleep)(grant.wait)
    return grant.wait
