"""Publishing ticks onto the bus (design.md: publishers connect, never bind). The
publisher's XPUB socket hears subscriptions travelling upstream through the forwarder,
so a broker stream is asked only for what some web process wants: the first subscriber
anywhere starts a symbol at the broker, the last one leaving stops it (the forwarder
reference-counts for us)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import zmq
from django.conf import settings
from django.db import close_old_connections

from brokers.base import Depth, Quote
from brokers.selectors import find_instrument
from brokers.streaming import MarketStream, Mode, StreamRunner, Subscription
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


class BusFeed:
    """One broker stream on the bus: a StreamRunner whose ticks are published under
    ``owner`` and whose subscriptions follow what the bus wants under that owner. The
    instrument (token, lot size) is looked up when a topic is first wanted, never per tick;
    each tick is encoded once."""

    def __init__(self, *, broker: str, owner: str, stream: MarketStream, address: str | None = None,
                 runner_options: dict | None = None) -> None:
        self.broker = broker
        self.owner = owner
        self.prefix = codec.owner_prefix(owner)
        self.publisher = TickPublisher(address)
        self._lock = threading.Lock()  # the socket is shared by the sink's thread and sync()'s
        self._topics: dict[tuple[str, str], bytes] = {}
        self._lot_sizes: dict[tuple[str, str], int] = {}
        self.runner = StreamRunner(stream, self.publish_tick, name=f"{broker}:{owner}", **(runner_options or {}))

    def start(self) -> None:
        self.runner.start()

    def stop(self) -> None:
        self.runner.stop()
        with self._lock:
            self.publisher.close()

    def publish_tick(self, exchange: str, symbol: str, quote: Quote, depth: Depth | None, at: datetime) -> None:
        # Only sync() adds or removes topics: they are what the broker stream was asked for. A
        # tick the stream had in flight when its symbol was let go is dropped here; were it to
        # add its topic back, the next subscription to that symbol would look held already and
        # never reach the broker (a re-subscribe right after the last unsubscribe got no tick).
        topic = self._topics.get((exchange, symbol))
        if topic is None:
            return
        key = (exchange, symbol)
        payload = codec.tick_payload(quote, depth, at_ms=int(at.timestamp() * 1000),
                                     lot_size=self._lot_sizes.get(key, 1))
        with self._lock:
            self.publisher.publish(topic, payload)

    def sync(self) -> None:
        """Start what the bus newly wants of this owner at the broker, stop what nobody wants."""
        with self._lock:
            self.publisher.poll_subscriptions(0)
            wanted = {topic for topic in self.publisher.wanted if topic.startswith(self.prefix)}
        keys = {codec.decode_topic(topic)[1:] for topic in wanted}
        held = set(self._topics)
        gone = held - keys
        if gone:
            self.runner.unsubscribe(sorted(gone))
            for key in gone:
                self._topics.pop(key, None)
        new = keys - held
        if not new:
            return
        subscriptions = []
        try:
            for exchange, symbol in sorted(new):
                self._topics[(exchange, symbol)] = codec.encode_topic(self.owner, exchange, symbol)
                info = find_instrument(broker=self.broker, exchange=exchange, symbol=symbol)
                if info is None:
                    continue  # an unknown symbol: the consumer already said so; nothing to stream
                self._lot_sizes[(exchange, symbol)] = info.lotsize
                subscriptions.append(Subscription(exchange, symbol, info.token, Mode.DEPTH))
        finally:
            close_old_connections()
        if subscriptions:
            self.runner.subscribe(subscriptions)
