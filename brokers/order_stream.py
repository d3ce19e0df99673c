"""Order-update sockets: brokers that push order changes (``OrderUpdateSource.PUSH``)
implement ``OrderUpdateStream`` for one account's session, and ``OrderStreamRunner``
keeps one connected (reconnecting with backoff) and forwards every order it delivers as
``brokers.signals.order_changed``, the same signal the poller and postbacks send, so the
ledger row moves and the one order event is announced whatever the source.

No market-data stream runner exists in ``brokers/`` to reuse yet, so this is a minimal
one of its own: connect, run until the socket ends, close, wait, reconnect."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from brokers.base import BrokerAuthExpired, BrokerOrder, BrokerRateLimited
from brokers.signals import order_changed

log = logging.getLogger(__name__)

OrderSink = Callable[[BrokerOrder], None]


@runtime_checkable
class OrderUpdateStream(Protocol):
    """One account's order-update socket.

    ``connect`` opens and authenticates it (raising a BrokerError when it cannot);
    ``run`` blocks, calling ``sink`` with each order as the broker reports it now, and
    returns or raises when the connection ends; ``close`` may be called from another
    thread to end ``run`` and must be safe to call twice."""

    def connect(self) -> None: ...

    def run(self, sink: OrderSink) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds to wait before reconnecting: ``initial``, doubling per failure up to ``maximum``."""

    initial: float = 1.0
    maximum: float = 60.0

    def after(self, failures: int) -> float:
        return float(min(self.maximum, self.initial * 2 ** max(0, failures - 1)))


RECONNECT = Backoff()


class OrderStreamRunner:
    """Keeps one account's order stream connected and forwards what it delivers."""

    def __init__(self, *, broker: str, user_id: int, connect: Callable[[], OrderUpdateStream],
                 paper: bool = False, backoff: Backoff = RECONNECT) -> None:
        self.broker = broker
        self.user_id = user_id
        self.paper = paper
        self.backoff = backoff
        self._connect = connect
        self._stream: OrderUpdateStream | None = None
        self._lock = threading.Lock()
        self.forwarded = 0

    def forward(self, order: BrokerOrder) -> None:
        """Send one pushed order as order_changed; a receiver's failure is logged, never
        allowed to end the socket (the next order still has to arrive)."""
        for receiver, outcome in order_changed.send_robust(sender=self.broker, user_id=self.user_id, order=order,
                                                           paper=self.paper):
            if isinstance(outcome, Exception):
                log.error("Order %s of user %s pushed by %s not taken by %r: %s", order.orderid, self.user_id,
                          self.broker, receiver, outcome)
        self.forwarded += 1

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: connect, forward, and after any end or failure wait and
        reconnect. An expired session waits the longest (the trader must log in again)."""
        failures = 0
        while not stop.is_set():
            stream = self._connect()
            with self._lock:
                self._stream = stream
            if stop.is_set():  # stopped while this connection was being made: stop() could not close it
                stream.close()
                break
            wait: float
            try:
                stream.connect()
                failures = 0
                stream.run(self.forward)
                wait = self.backoff.initial  # a clean end (the broker closed it): reconnect soon
            except BrokerAuthExpired:
                log.warning("Order stream of user %s at %s: session expired", self.user_id, self.broker)
                wait = self.backoff.maximum
            except BrokerRateLimited as limited:
                failures += 1
                wait = max(limited.retry_after or 0.0, self.backoff.after(failures))
            except Exception as failure:
                failures += 1
                wait = self.backoff.after(failures)
                log.warning("Order stream of user %s at %s ended: %s; reconnecting in %.1fs", self.user_id,
                            self.broker, failure, wait)
            finally:
                with self._lock:
                    self._stream = None
                stream.close()
            stop.wait(wait)

    def stop(self, stop: threading.Event) -> None:
        """Set ``stop`` and end the current connection (from any thread)."""
        stop.set()
        with self._lock:
            stream = self._stream
        if stream is not None:
            stream.close()
