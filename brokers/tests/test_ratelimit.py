"""The broker pacing buckets: declared limits become windows, a call waits at most what
its caller allows, and the buckets are shared through Redis when it is configured."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from brokers import ratelimit
from brokers.base import RateLimits
from brokers.ratelimit import CallKind, LocalBuckets, PacingExceeded, Window, pace, shared_buckets, windows


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_only_declared_limits_become_windows():
    limits = RateLimits(orders_per_second=10, orders_per_day=3000, quotes_per_second=1)
    assert windows(limits, CallKind.ORDERS) == (Window(10, 1), Window(3000, 86400))
    assert windows(limits, CallKind.QUOTES) == (Window(1, 1),)
    assert windows(limits, CallKind.HISTORY) == ()
    hourly = RateLimits(orders_per_second=9, orders_per_minute=500, orders_per_hour=1000)
    assert windows(hourly, CallKind.ORDERS) == (Window(9, 1), Window(500, 60), Window(1000, 3600))


def test_a_full_bucket_grants_its_burst_then_refuses_beyond_the_callers_wait():
    clock = Clock()
    buckets = LocalBuckets(clock)
    two = (Window(2, 1),)
    assert [buckets.take("k", two, 0.25).granted for _ in range(2)] == [True, True]
    refused = buckets.take("k", two, 0.25)
    assert not refused.granted and refused.wait == pytest.approx(0.5)
    clock.now += 0.5
    assert buckets.take("k", two, 0.0).granted


def test_a_wait_within_the_bound_reserves_the_token_so_waiters_queue_in_order():
    clock = Clock()
    buckets = LocalBuckets(clock)
    two = (Window(2, 1),)
    buckets.take("k", two, 0), buckets.take("k", two, 0)
    first = buckets.take("k", two, 1.0)
    second = buckets.take("k", two, 1.0)
    assert (first.granted, second.granted) == (True, True)
    assert (first.wait, second.wait) == (pytest.approx(0.5), pytest.approx(1.0))


def test_a_refusal_takes_nothing_from_any_window():
    clock = Clock()
    buckets = LocalBuckets(clock)
    limits = (Window(5, 1), Window(2, 60))
    assert buckets.take("k", limits, 0).granted and buckets.take("k", limits, 0).granted
    assert not buckets.take("k", limits, 0.25).granted  # the minute window is empty
    clock.now += 30  # one token back in the minute window; the second window never lost one
    assert buckets.take("k", limits, 0).granted


def test_accounts_and_kinds_have_their_own_buckets():
    buckets = LocalBuckets(Clock())
    one = RateLimits(orders_per_second=1, quotes_per_second=1)
    pace(broker="b", account="1", limits=one, kind=CallKind.ORDERS, max_wait=0, buckets=buckets)
    pace(broker="b", account="2", limits=one, kind=CallKind.ORDERS, max_wait=0, buckets=buckets)
    pace(broker="b", account="1", limits=one, kind=CallKind.QUOTES, max_wait=0, buckets=buckets)
    with pytest.raises(PacingExceeded) as refused:
        pace(broker="b", account="1", limits=one, kind=CallKind.ORDERS, max_wait=0, buckets=buckets)
    assert refused.value.retry_after == pytest.approx(1.0)


def test_pace_sleeps_the_granted_wait_and_nothing_for_an_undeclared_limit():
    buckets = LocalBuckets(Clock())
    slept: list[float] = []
    limits = RateLimits(orders_per_second=1)
    pace(broker="b", account="1", limits=limits, kind=CallKind.ORDERS, max_wait=2, buckets=buckets, sleep=slept.append)
    pace(broker="b", account="1", limits=limits, kind=CallKind.ORDERS, max_wait=2, buckets=buckets, sleep=slept.append)
    assert slept == [pytest.approx(1.0)]
    assert pace(broker="b", account="1", limits=RateLimits(), kind=CallKind.ORDERS, max_wait=0,
                sleep=slept.append) == 0.0


def test_the_shared_buckets_are_redis_when_redis_is_configured_and_the_hosts_file_otherwise(monkeypatch):
    monkeypatch.setattr(ratelimit, "_shared", None)
    expected = ratelimit.RedisBuckets if settings.REDIS_URL else ratelimit.SharedFileBuckets
    assert isinstance(shared_buckets(), expected)


def test_the_shared_buckets_grant_the_burst_then_refuse_with_when_to_retry(monkeypatch):
    """On Redis when the suite runs with REDIS_URL (the Lua script, Redis's clock), locally otherwise."""
    monkeypatch.setattr(ratelimit, "_shared", None)
    buckets = shared_buckets()
    key = f"test:{uuid.uuid4().hex}"
    two = (Window(2, 1),)
    assert [buckets.take(key, two, 0.25) for _ in range(2)] == [ratelimit.Grant(True, 0.0)] * 2
    refused = buckets.take(key, two, 0.25)
    assert not refused.granted and 0.4 < refused.wait <= 0.5
    granted = buckets.take(key, two, 1.0)
    assert granted.granted and 0.4 < granted.wait <= 0.5
    assert not buckets.take(key, two, 0.9).granted  # the reservation above holds its token


_TAKER = """
import sys
from brokers.ratelimit import SharedFileBuckets, Window
from core.counters import CountersCache
buckets = SharedFileBuckets(CountersCache(sys.argv[1], {}))
granted = sum(buckets.take("zerodha:AB1234:orders", (Window(25, 3600),), 0.0).granted for _ in range(40))
print(granted)
"""


def test_processes_of_one_host_share_a_brokers_bucket_without_redis(tmp_path):
    """The embedded defaults: web processes and worker children together send at most the
    broker's declared count (25 an hour here), whoever sends them."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    path = str(tmp_path / "counters.bin")
    takers = [subprocess.Popen([sys.executable, "-c", _TAKER, path], cwd=root, stdout=subprocess.PIPE, text=True)
              for _ in range(3)]
    granted = [int(taker.communicate(timeout=120)[0]) for taker in takers]
    assert sum(granted) == 25, granted
