"""The sandbox's market stream: the simulator, seen through the stream contract. Every
subscribed instrument gets a tick ``SIM_TICKS_PER_SECOND`` times a second, spread evenly
over the second; its market data is the same for every user, so one shared stream serves
them all. The feed declaration also runs the paper exchange's fill engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from django.conf import settings
from django.db import close_old_connections

from brokers.base import BrokerCredentials
from brokers.sandbox import clock, prices
from brokers.sandbox.engine import FillEngine
from brokers.selectors import InstrumentInfo, find_instrument
from brokers.streaming import FeedService, FeedSpec, MarketStream, StreamClosed, Subscription, TickSink

BROKER = "sandbox"


class SimulatedStream:
    """Implements MarketStream over the deterministic simulated market."""

    def __init__(self, ticks_per_second: float | None = None) -> None:
        self.interval = 1.0 / (ticks_per_second or settings.SIM_TICKS_PER_SECOND)
        self._instruments: dict[tuple[str, str], InstrumentInfo] = {}
        self._order: list[tuple[str, str]] = []
        self._next = 0
        self._due = 0.0
        self._sink: TickSink | None = None
        self._closed = threading.Event()

    def connect(self, sink: TickSink) -> None:
        self._sink = sink
        self._closed.clear()

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        try:
            for subscription in subscriptions:
                info = find_instrument(broker=BROKER, exchange=subscription.exchange, symbol=subscription.symbol)
                if info is not None:
                    self._instruments[subscription.key] = info
        finally:
            close_old_connections()
        self._order = sorted(self._instruments)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        for subscription in subscriptions:
            self._instruments.pop(subscription.key, None)
        self._order = sorted(self._instruments)

    def pump(self, timeout: float) -> bool:
        """Tick the subscribed instruments in turn, one every ``interval / count`` seconds. The
        simulator lives in this process: it is alive while open, ticking or not (an instrument
        the simulator cannot price never makes the stream look stale)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._closed.is_set() or self._sink is None:
                raise StreamClosed("simulated stream closed")
            now = time.monotonic()
            if self._order and now >= self._due:
                self._tick(self._order[self._next % len(self._order)])
                self._next += 1
                self._due = max(self._due + self.interval / len(self._order), now)
                continue
            if now >= deadline:
                return True
            self._closed.wait(min(deadline, self._due) - now if self._order else deadline - now)

    def _tick(self, key: tuple[str, str]) -> None:
        info = self._instruments[key]
        now = clock.now()
        quote = prices.quote(info, now)
        if quote is not None and self._sink is not None:
            self._sink(key[0], key[1], quote, prices.depth(info, now), now)

    def close(self) -> None:
        self._closed.set()


def simulated_stream(credentials: BrokerCredentials | None) -> MarketStream:
    return SimulatedStream()


def fill_engine_services() -> Sequence[FeedService]:
    """The fill engine: resting paper orders checked on every simulated tick of their
    instrument, a poller behind it, and session settlement."""
    engine = FillEngine()
    return (FeedService("sandbox-ticks", engine.run_ticks), FeedService("sandbox-poller", engine.run))


FEED = FeedSpec(stream=simulated_stream, shared=True, services=fill_engine_services)
