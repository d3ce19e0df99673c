"""Publishing ticks onto the bus (design.md: publishers connect, never bind). The
publisher's XPUB socket hears subscriptions travelling upstream through the forwarder,
so it publishes only what some web process wants: the first subscriber anywhere starts
a symbol, the last one leaving stops it (the forwarder reference-counts for us)."""

from __future__ import annotations

import logging
import threading
import time

import zmq
from django.conf import settings
from django.db import close_old_connections

from core import metrics
from marketdata.stream import codec

log = logging.getLogger(__name__)


class TickPublisher:
    # Ticks are added up in an int and handed to Prometheus in one write per subscription
    # poll (or per this many ticks), never one shared-memory write per tick.
    FLUSH_EVERY = 1000

    def __init__(self, address: str | None = None, context: zmq.Context | None = None) -> None:
        self.socket = (context or zmq.Context.instance()).socket(zmq.XPUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.SNDHWM, 100_000)
        self.socket.connect(address or settings.ZMQ_XSUB_ADDRESS)
        self.wanted: set[bytes] = set()
        self.unreported = 0

    def flush_metrics(self) -> None:
        if self.unreported:
            metrics.count_ticks(self.unreported)
            self.unreported = 0

    def poll_subscriptions(self, timeout_ms: int = 0) -> None:
        """Apply every subscribe/unsubscribe that came upstream since the last call."""
        self.flush_metrics()
        while self.socket.poll(timeout_ms, zmq.POLLIN):
            message = self.socket.recv()
            timeout_ms = 0
            if not message:
                continue
            topic = message[1:]
            if message[0] == 1:
                self.wanted.add(topic)
            else:
                self.wanted.discard(topic)

    def publish(self, topic: bytes, payload: bytes) -> None:
        self.socket.send_multipart([topic, payload], copy=False)
        self.unreported += 1
        if self.unreported >= self.FLUSH_EVERY:
            self.flush_metrics()

    def close(self) -> None:
        self.flush_metrics()
        self.socket.close(linger=0)


def run_simulated_feed(stop: threading.Event, *, address: str | None = None,
                       ticks_per_second: float | None = None) -> None:
    """The sandbox's market-data stream: every wanted ``sandbox`` topic gets a tick from the
    simulator ``ticks_per_second`` times a second, spread evenly."""
    from brokers.sandbox import clock, prices
    from brokers.selectors import find_instrument

    publisher = TickPublisher(address)
    interval = 1.0 / (ticks_per_second or settings.SIM_TICKS_PER_SECOND)
    try:
        while not stop.is_set():
            started = time.monotonic()
            publisher.poll_subscriptions(0)
            topics = sorted(t for t in publisher.wanted if t.startswith(codec.SHARED_OWNER.encode() + b"|"))
            gap = interval / max(1, len(topics))
            for topic in topics:
                if stop.is_set():
                    break
                _owner, exchange, symbol = codec.decode_topic(topic)
                try:
                    info = find_instrument(broker="sandbox", exchange=exchange, symbol=symbol)
                    now = clock.now()
                    quote = prices.quote(info, now) if info else None
                    if quote is not None:
                        payload = codec.tick_payload(quote, prices.depth(info, now), at_ms=int(now.timestamp() * 1000),
                                                     lot_size=info.lotsize)
                        publisher.publish(topic, payload)
                except Exception:
                    log.exception("Simulated tick for %s:%s failed", exchange, symbol)
                publisher.poll_subscriptions(0)
                stop.wait(gap if len(topics) > 1 else 0)
            close_old_connections()
            stop.wait(max(0.0, interval - (time.monotonic() - started)) if topics else 0.05)
    finally:
        publisher.close()
