"""Order-update sockets: brokers that push order changes (``OrderUpdateSource.PUSH``)
implement ``OrderUpdateStream`` for one account's session, shaped like the market-data
stream (brokers/streaming.py): connect with a sink, pump, close, every call from the
runner's thread. ``order_stream_runner`` keeps one connected with the market-data
``StreamRunner`` (capped, jittered reconnect backoff; an order socket has no
subscriptions, so it is never "stale" for being quiet) and forwards every order it
delivers as ``brokers.signals.order_changed``, the signal the poller and postbacks send
too, so the ledger row moves and the one order event is announced whatever the source."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from brokers.base import BrokerCredentials, BrokerOrder, Depth, Quote
from brokers.signals import order_changed
from brokers.streaming import StreamRunner, Subscription, TickSink

log = logging.getLogger(__name__)

__all__ = ["OrderForwarder", "OrderSink", "OrderStreamFactory", "OrderUpdateStream", "order_stream_runner"]

# Called with each order as the broker reports it now, on the runner's thread.
OrderSink = Callable[[BrokerOrder], None]


@runtime_checkable
class OrderUpdateStream(Protocol):
    """One account's order-update socket."""

    def connect(self, sink: OrderSink) -> None:
        """Open and authenticate the socket; orders go to ``sink`` from now on. Raise (a
        BrokerError, e.g. BrokerAuthExpired) when it cannot."""
        ...

    def pump(self, timeout: float) -> bool:
        """Deliver what arrives for up to ``timeout`` seconds (block, do not spin). Return
        whether the broker showed life; raise when the connection dropped."""
        ...

    def close(self) -> None:
        """Close the socket; safe to call twice, or after a failed connect."""
        ...


# What a PUSH broker package provides: one session's order socket from its credentials.
OrderStreamFactory = Callable[[BrokerCredentials], OrderUpdateStream]


class OrderForwarder:
    """The sink that turns a pushed order into order_changed for one account. A receiver's
    failure is logged, never raised into the socket (the next order still has to arrive)."""

    def __init__(self, *, broker: str, user_id: int, paper: bool = False) -> None:
        self.broker = broker
        self.user_id = user_id
        self.paper = paper
        self.forwarded = 0

    def __call__(self, order: BrokerOrder) -> None:
        self.forwarded += 1
        for receiver, outcome in order_changed.send_robust(sender=self.broker, user_id=self.user_id, order=order,
                                                           paper=self.paper):
            if isinstance(outcome, Exception):
                log.error("Order %s of user %s pushed by %s not taken by %r: %s", order.orderid, self.user_id,
                          self.broker, receiver, outcome)


class _AsMarketStream:
    """An order socket seen as a market stream with nothing to subscribe, so the market
    stream's runner can keep it up."""

    def __init__(self, stream: OrderUpdateStream, sink: OrderSink) -> None:
        self.stream = stream
        self.sink = sink

    def connect(self, sink: TickSink) -> None:
        self.stream.connect(self.sink)

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Nothing to subscribe: an order socket hears every order of its account."""

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Nothing to leave, as above."""

    def pump(self, timeout: float) -> bool:
        return self.stream.pump(timeout)

    def close(self) -> None:
        self.stream.close()


def _no_ticks(exchange: str, symbol: str, quote: Quote, depth: Depth | None, at: datetime) -> None:
    """The runner's tick sink: an order socket carries no ticks."""


def order_stream_runner(stream: OrderUpdateStream, *, broker: str, user_id: int, paper: bool = False,
                        **runner_options: Any) -> StreamRunner:
    """A runner (``start()``/``stop()``, or ``run()`` on a thread of the caller's) keeping
    ``stream`` connected and forwarding its orders; ``runner_options`` go to StreamRunner
    (backoff, pump timeout, injectable clock and wait for tests)."""
    forwarder = OrderForwarder(broker=broker, user_id=user_id, paper=paper)
    runner_options.setdefault("name", f"orders-{broker}-{user_id}")
    return StreamRunner(_AsMarketStream(stream, forwarder), _no_ticks, **runner_options)
