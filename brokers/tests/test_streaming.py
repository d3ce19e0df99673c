"""The market-stream runner against an in-process fake stream that drops, fails to connect
and goes silent: it reconnects with bounded backoff, re-subscribes everything, and never
spins."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

from brokers.base import Quote
from brokers.streaming import FeedSpec, Mode, StreamClosed, StreamRunner, Subscription

SBIN = Subscription("NSE", "SBIN", "3045", Mode.LTP)
INFY = Subscription("NSE", "INFY", "1594", Mode.QUOTE)
QUOTE = Quote(ltp=Decimal("800"), open=Decimal("1"), high=Decimal("1"), low=Decimal("1"), prev_close=Decimal("1"),
              volume=1, bid=Decimal("1"), ask=Decimal("1"))


class FakeStream:
    """A broker stream in memory. ``script`` says what each connection does: "ok" ticks on
    every pump, "drop" raises on the first pump, "silent" never ticks, "refuse" fails to
    connect."""

    def __init__(self, script: list[str], then: str = "ok") -> None:
        self.script = list(script)
        self.then = then
        self.behaviour = ""
        self.connects = 0
        self.pumps = 0
        self.closes = 0
        self.subscribed: list[list[Subscription]] = []  # per connection, in order
        self.unsubscribed: list[Subscription] = []
        self.sink = None

    def connect(self, sink) -> None:
        self.connects += 1
        self.behaviour = self.script.pop(0) if self.script else self.then
        if self.behaviour == "refuse":
            raise ConnectionError("refused")
        self.sink = sink
        self.subscribed.append([])

    def subscribe(self, subscriptions) -> None:
        self.subscribed[-1].extend(subscriptions)

    def unsubscribe(self, subscriptions) -> None:
        self.unsubscribed.extend(subscriptions)

    def pump(self, timeout: float) -> bool:
        self.pumps += 1
        time.sleep(timeout)
        if self.behaviour == "drop":
            raise StreamClosed("dropped")
        if self.behaviour == "ok":
            for subscription in self.subscribed[-1]:
                self.sink(subscription.exchange, subscription.symbol, QUOTE, None, datetime.now(UTC))
        return False

    def close(self) -> None:
        self.closes += 1


def _until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def _runner(stream: FakeStream, ticks: list, **options) -> StreamRunner:
    settings = {"pump_timeout": 0.005, "backoff_initial": 0.01, "backoff_max": 0.04, "stale_after": 0.05}
    return StreamRunner(stream, lambda *tick: ticks.append(tick), name="fake", **{**settings, **options})


def test_a_dropped_stream_reconnects_and_gets_every_subscription_again():
    stream, ticks = FakeStream(["drop", "refuse", "ok"]), []
    runner = _runner(stream, ticks)
    runner.subscribe([SBIN, INFY])
    runner.start()
    try:
        assert _until(lambda: len(ticks) >= 2)
    finally:
        runner.stop()
    assert stream.connects == 3 and runner.reconnects == 2 and len(stream.subscribed) == 2
    assert all(sorted(s.symbol for s in subscribed) == ["INFY", "SBIN"] for subscribed in stream.subscribed)
    assert stream.closes >= stream.connects - 1  # every connection closed, the refused one too
    assert {tick[1] for tick in ticks} == {"SBIN", "INFY"}


def test_a_silent_stream_with_subscriptions_is_reconnected():
    stream, ticks = FakeStream(["silent"]), []
    runner = _runner(stream, ticks)
    runner.subscribe([SBIN])
    runner.start()
    try:
        assert _until(lambda: ticks)
    finally:
        runner.stop()
    assert stream.connects == 2 and runner.reconnects == 1
    assert stream.subscribed[1] == [SBIN]


def test_a_silent_stream_without_subscriptions_is_left_alone():
    stream = FakeStream(["silent"])
    runner = _runner(stream, [])
    runner.start()
    time.sleep(0.3)
    runner.stop()
    assert stream.connects == 1 and runner.reconnects == 0


def test_subscription_changes_reach_the_connected_stream():
    stream, ticks = FakeStream([]), []
    runner = _runner(stream, ticks)
    runner.start()
    try:
        runner.subscribe([SBIN, INFY])
        assert _until(lambda: len(stream.subscribed[0]) == 2)
        runner.unsubscribe([("NSE", "INFY")])
        assert _until(lambda: stream.unsubscribed == [INFY])
    finally:
        runner.stop()
    assert runner.subscriptions() == [SBIN] and stream.connects == 1


def test_backoff_doubles_to_its_cap_with_jitter_and_never_reaches_zero():
    runner = StreamRunner(FakeStream([]), lambda *tick: None, backoff_initial=0.5, backoff_max=30, jitter=lambda: 1.0)
    assert [runner.backoff(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    runner.jitter = lambda: 0.0
    assert runner.backoff(0) == 0.25 and runner.backoff(100) == 15


def test_a_stream_that_never_connects_waits_longer_each_time_and_does_not_spin():
    waits: list[float] = []
    stopping = threading.Event()

    def wait(seconds: float) -> bool:  # the runner's only pause between attempts
        waits.append(seconds)
        if len(waits) == 10:
            stopping.set()
        return stopping.is_set()

    stream = FakeStream([], then="refuse")
    runner = StreamRunner(stream, lambda *tick: None, backoff_initial=1, backoff_max=20, wait=wait,
                          jitter=lambda: 1.0)
    runner.run()
    assert stream.connects == 10 and runner.reconnects == 10
    assert waits == [1, 2, 4, 8, 16, 20, 20, 20, 20, 20]


def test_backoff_starts_afresh_after_a_connection_that_delivered():
    waits: list[float] = []

    def wait(seconds: float) -> bool:
        waits.append(seconds)
        return len(waits) == 4

    stream = FakeStream(["refuse", "refuse", "drop", "ok"], then="drop")
    original_pump = stream.pump

    def pump(timeout: float) -> bool:  # the "ok" connection delivers once, then drops
        alive = original_pump(0)
        if stream.behaviour == "ok":
            stream.behaviour = "drop"
        return alive

    stream.pump = pump
    runner = StreamRunner(stream, lambda *tick: None, backoff_initial=1, backoff_max=20, wait=wait, jitter=lambda: 1.0)
    runner.subscribe([SBIN])
    runner.run()
    assert waits == [1, 2, 4, 1]


def test_a_failing_sink_does_not_drop_the_stream():
    stream = FakeStream([])
    calls = []

    def sink(*tick) -> None:
        calls.append(tick)
        raise RuntimeError("downstream broke")

    runner = StreamRunner(stream, sink, pump_timeout=0.005)
    runner.subscribe([SBIN])
    runner.start()
    try:
        assert _until(lambda: len(calls) >= 3)
    finally:
        runner.stop()
    assert stream.connects == 1


def test_a_feed_spec_declares_nothing_by_default():
    spec = FeedSpec()
    assert spec.stream is None and not spec.shared and list(spec.services()) == []
