"""The market-data stream contract: what one broker session's feed does (connect,
subscribe by instrument and mode, hand normalised ticks to a sink, close), what a broker
package declares for the feed process to run, and the runner that keeps one stream up
(reconnecting with capped, jittered backoff, re-subscribing everything, and treating a
silent stream as a dropped one). The sink is given by the feed process: brokers never
know where ticks go."""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from brokers.base import BrokerCredentials, Depth, Quote

log = logging.getLogger(__name__)

__all__ = ["FeedService", "FeedSpec", "MarketStream", "Mode", "ShardedStream", "StreamClosed", "StreamRunner",
           "Subscription", "TickSink"]


class Mode(enum.IntEnum):
    """What a subscription asks for (the feed's modes): each includes the ones below it."""

    LTP = 1
    QUOTE = 2
    DEPTH = 3


@dataclass(frozen=True, slots=True)
class Subscription:
    """One instrument of a stream: OpenAlgo exchange and symbol, the broker's token for it."""

    exchange: str
    symbol: str
    token: str
    mode: Mode = Mode.DEPTH

    @property
    def key(self) -> tuple[str, str]:
        return self.exchange, self.symbol


# (exchange, symbol, quote, depth or None, when the tick happened). Called on whatever
# thread the stream delivers on; it must be quick and must not raise into the stream.
TickSink = Callable[[str, str, Quote, Depth | None, datetime], None]


class StreamClosed(Exception):
    """The broker closed the stream (or it broke): the runner reconnects."""


class MarketStream(Protocol):
    """One broker session's market-data stream. The runner calls every method from its own
    thread, one at a time: a stream needs no locking of its own unless its client library
    delivers ticks on another thread."""

    def connect(self, sink: TickSink) -> None:
        """Open the connection; ticks go to ``sink`` from now on. Raise when it cannot."""
        ...

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None: ...

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None: ...

    def pump(self, timeout: float) -> bool:
        """Deliver what arrives for up to ``timeout`` seconds (block, do not spin). Return
        whether the broker showed life (a tick or a heartbeat); raise StreamClosed (or any
        error) when the connection dropped."""
        ...

    def close(self) -> None:
        """Close the connection; safe to call twice, or after a failed connect."""
        ...


@dataclass(frozen=True, slots=True)
class FeedService:
    """A loop the feed process runs in a thread of its own until ``stop`` is set (the
    sandbox's fill engine)."""

    name: str
    run: Callable[[threading.Event], None]


def _no_services() -> Sequence[FeedService]:
    return ()


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """What the feed process runs for a broker package, declared at registration.

    ``stream`` builds one session's stream from its credentials (None for a shared stream).
    ``shared``: one stream serves every user of the broker (its market data is public to
    them: the sandbox's simulator); its ticks are published under the broker's name.
    Otherwise one stream runs per logged-in session, published under that session's owner.
    ``services`` builds the package's other loops (called once per feed process)."""

    stream: Callable[[BrokerCredentials | None], MarketStream] | None = None
    shared: bool = False
    services: Callable[[], Sequence[FeedService]] = field(default=_no_services)


class StreamRunner:
    """Keeps one MarketStream connected in a thread of its own.

    Subscriptions are held here, so after every reconnect the stream gets all of them again.
    A stream that errors, drops, or stays silent for ``stale_after`` seconds while it has
    subscriptions is closed and reconnected after ``backoff_initial * 2**n`` seconds, capped
    at ``backoff_max``, with jitter (between half and all of that); the backoff resets once
    the broker shows life again. ``clock`` and ``wait`` are injectable for tests (``wait``
    returns True when the runner is stopping)."""

    def __init__(self, stream: MarketStream, sink: TickSink, *, name: str = "stream", stale_after: float = 30.0,
                 backoff_initial: float = 0.5, backoff_max: float = 30.0, pump_timeout: float = 0.2,
                 clock: Callable[[], float] = time.monotonic, wait: Callable[[float], bool] | None = None,
                 jitter: Callable[[], float] = random.random) -> None:
        self.stream = stream
        self.sink = sink
        self.name = name
        self.stale_after = stale_after
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.pump_timeout = pump_timeout
        self.clock = clock
        self.jitter = jitter
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._lock = threading.Lock()
        self._wanted: dict[tuple[str, str], Subscription] = {}
        self._changed = False  # subscriptions changed since the stream last heard them
        self._sent: dict[tuple[str, str], Subscription] = {}
        self._alive = False  # a tick arrived since the last look
        self._thread: threading.Thread | None = None
        self.connected = False
        self.reconnects = 0
        self.ticks = 0

    # --- from any thread ---------------------------------------------------------------------
    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        with self._lock:
            for subscription in subscriptions:
                self._wanted[subscription.key] = subscription
            self._changed = True

    def unsubscribe(self, keys: Sequence[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                self._wanted.pop(key, None)
            self._changed = True

    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._wanted.values())

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"stream-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before reconnect number ``attempt`` (0-based)."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0 ** min(attempt, 32))
        return ceiling * (0.5 + 0.5 * self.jitter())

    # --- the runner's thread -----------------------------------------------------------------
    def run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                if self._session():
                    attempt = 0
            except Exception as error:
                log.warning("Market stream %s could not connect: %s", self.name, error)
            finally:
                self.connected = False
                try:
                    self.stream.close()
                except Exception:
                    log.exception("Market stream %s failed to close", self.name)
            if self._stop.is_set():
                break
            delay = self.backoff(attempt)
            attempt += 1
            self.reconnects += 1
            if self._wait(delay):
                break

    def _session(self) -> bool:
        """One connection, until it drops or the runner stops. Returns whether the broker
        showed life on it (then the next reconnect starts the backoff afresh); a failure
        to connect raises."""
        self._alive = False
        self.stream.connect(self._deliver)
        self.connected = True
        with self._lock:
            self._sent = dict(self._wanted)
            self._changed = False
        lively = False
        try:
            if self._sent:
                self.stream.subscribe(list(self._sent.values()))
            heard_at = self.clock()
            while not self._stop.is_set():
                self._apply_changes()
                if self.stream.pump(self.pump_timeout) or self._alive:
                    self._alive = False
                    lively = True
                    heard_at = self.clock()
                elif not self._sent:
                    heard_at = self.clock()  # nothing asked for, nothing owed
                elif self.clock() - heard_at > self.stale_after:
                    raise StreamClosed(f"no data for {self.stale_after:g}s")
        except Exception as error:
            log.warning("Market stream %s dropped: %s", self.name, error)
        return lively

    def _apply_changes(self) -> None:
        with self._lock:
            if not self._changed:
                return
            wanted = dict(self._wanted)
            self._changed = False
        gone = [subscription for key, subscription in self._sent.items() if key not in wanted]
        new = [subscription for key, subscription in wanted.items() if self._sent.get(key) != subscription]
        self._sent = wanted
        if gone:
            self.stream.unsubscribe(gone)
        if new:
            self.stream.subscribe(new)

    def _deliver(self, exchange: str, symbol: str, quote: Quote, depth: Depth | None, at: datetime) -> None:
        self._alive = True
        self.ticks += 1
        try:
            self.sink(exchange, symbol, quote, depth, at)
        except Exception:
            log.exception("Tick sink failed for %s:%s", exchange, symbol)


class ShardedStream:
    """One session's market data over several sockets, for brokers that cap instruments per
    socket (Zerodha: 3,000 per socket, 3 sockets per key). It is one MarketStream to the
    runner: subscriptions go to the first socket with room, a new socket opens when all are
    full, and beyond ``per_socket * max_sockets`` instruments a subscription is refused
    (logged and counted in ``refused``). One socket dropping drops them all: the runner
    reconnects and re-subscribes everything, which places the instruments afresh."""

    def __init__(self, open_socket: Callable[[], MarketStream], *, per_socket: int, max_sockets: int) -> None:
        if per_socket < 1 or max_sockets < 1:
            raise ValueError("per_socket and max_sockets must be at least 1")
        self.open_socket = open_socket
        self.per_socket = per_socket
        self.max_sockets = max_sockets
        self.sockets: list[MarketStream] = []
        self._placed: dict[tuple[str, str], int] = {}  # instrument -> index of its socket
        self._counts: list[int] = []
        self._sink: TickSink | None = None
        self.refused = 0

    @property
    def capacity(self) -> int:
        return self.per_socket * self.max_sockets

    def connect(self, sink: TickSink) -> None:
        self._sink = sink
        self._open()

    def _open(self) -> int:
        if self._sink is None:
            raise StreamClosed("not connected")
        socket = self.open_socket()
        socket.connect(self._sink)
        self.sockets.append(socket)
        self._counts.append(0)
        return len(self.sockets) - 1

    def _room(self) -> int | None:
        for index, count in enumerate(self._counts):
            if count < self.per_socket:
                return index
        if len(self.sockets) < self.max_sockets:
            return self._open()
        return None

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        batches: dict[int, list[Subscription]] = {}
        for subscription in subscriptions:
            index = self._placed.get(subscription.key)
            if index is None:
                index = self._room()
                if index is None:
                    self.refused += 1
                    log.warning("Stream full (%d instruments): %s:%s not subscribed", self.capacity,
                                subscription.exchange, subscription.symbol)
                    continue
                self._placed[subscription.key] = index
                self._counts[index] += 1
            batches.setdefault(index, []).append(subscription)  # a mode change goes to its own socket
        for index, batch in batches.items():
            self.sockets[index].subscribe(batch)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        batches: dict[int, list[Subscription]] = {}
        for subscription in subscriptions:
            index = self._placed.pop(subscription.key, None)
            if index is not None:
                self._counts[index] -= 1
                batches.setdefault(index, []).append(subscription)
        for index, batch in batches.items():
            self.sockets[index].unsubscribe(batch)

    def pump(self, timeout: float) -> bool:
        if not self.sockets:
            raise StreamClosed("not connected")
        share = timeout / len(self.sockets)
        lively = False
        for socket in list(self.sockets):
            lively = socket.pump(share) or lively
        return lively

    def close(self) -> None:
        sockets, self.sockets = self.sockets, []
        self._placed.clear()
        self._counts = []
        for socket in sockets:
            try:
                socket.close()
            except Exception:
                log.exception("A stream socket failed to close")
