"""A broker that pushes order updates over a socket: the runner forwards each pushed order
as order_changed (the ledger row moves, the event goes out once), reconnects with backoff
when the socket fails, and ends when told to stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.base import BrokerAuthExpired, BrokerOrder, BrokerUnavailable
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.order_stream import Backoff, OrderSink, OrderStreamRunner, OrderUpdateStream
from orders import events
from orders.models import LedgerStatus, Order


def _pushed(status: OrderStatus, filled: int) -> BrokerOrder:
    return BrokerOrder(orderid="P1", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(2),
                       price=Decimal(700), trigger_price=Decimal(0), pricetype=PriceType.LIMIT, product=Product.MIS,
                       status=status, timestamp=datetime.now(UTC), filled_quantity=Decimal(filled),
                       average_price=Decimal(700) if filled else Decimal(0))


class ScriptedStream:
    """One connection: fails to connect with ``refuse``, else delivers ``orders`` and ends
    (with ``end`` raised, or cleanly)."""

    def __init__(self, orders=(), refuse: Exception | None = None, end: Exception | None = None) -> None:
        self.orders, self.refuse, self.end = list(orders), refuse, end
        self.closed = 0

    def connect(self) -> None:
        if self.refuse is not None:
            raise self.refuse

    def run(self, sink: OrderSink) -> None:
        for order in self.orders:
            sink(order)
        if self.end is not None:
            raise self.end

    def close(self) -> None:
        self.closed += 1


class RecordingStop(threading.Event):
    """A stop event that records each wait and sets itself after ``rounds`` of them."""

    def __init__(self, rounds: int) -> None:
        super().__init__()
        self.rounds, self.waits = rounds, []

    def wait(self, timeout=None) -> bool:
        self.waits.append(timeout)
        if len(self.waits) >= self.rounds:
            self.set()
        return self.is_set()


def _runner(streams: list[ScriptedStream], user_id: int) -> OrderStreamRunner:
    remaining = iter(streams)
    return OrderStreamRunner(broker="pushy", user_id=user_id, connect=lambda: next(remaining),
                             backoff=Backoff(initial=1, maximum=60))


@pytest.fixture
def announced(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish_now", lambda user_id, message: sent.append((user_id, message)))
    return sent


@pytest.fixture
def working(user):
    return Order.objects.create(user=user, broker="pushy", symbol="SBIN", exchange="NSE", action="BUY", quantity=2,
                                product="MIS", pricetype="LIMIT", price=700, status=LedgerStatus.OPEN,
                                broker_order_id="P1")


def test_pushed_orders_move_the_ledger_row_and_each_move_is_announced_once(
        user, working, announced, django_capture_on_commit_callbacks):
    stream = ScriptedStream([_pushed(OrderStatus.OPEN, 1), _pushed(OrderStatus.OPEN, 1),
                             _pushed(OrderStatus.COMPLETE, 2)])
    runner = _runner([stream], user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        runner.run(RecordingStop(rounds=1))
    working.refresh_from_db()
    assert (working.status, working.filled_quantity) == (LedgerStatus.COMPLETE, 2)
    assert [(msg["order_status"], msg["filled_quantity"]) for _, msg in announced] == [("open", 1), ("complete", 2)]
    assert runner.forwarded == 3 and stream.closed == 1


def test_a_failing_socket_is_reconnected_with_growing_backoff(user, working):
    streams = [ScriptedStream(refuse=BrokerUnavailable("down")), ScriptedStream(refuse=BrokerUnavailable("down")),
               ScriptedStream([_pushed(OrderStatus.COMPLETE, 2)], end=ConnectionResetError("reset")),
               ScriptedStream(refuse=BrokerAuthExpired("token revoked"))]
    stop = RecordingStop(rounds=4)
    _runner(streams, user.pk).run(stop)
    assert stop.waits == [1, 2, 1, 60]  # doubling, reset by a good connection, the longest for a dead session
    assert all(stream.closed == 1 for stream in streams)
    working.refresh_from_db()
    assert working.status == LedgerStatus.COMPLETE


def test_stop_ends_a_connection_that_is_waiting_for_news():
    class Quiet:
        def __init__(self) -> None:
            self.ended = threading.Event()

        def connect(self) -> None:
            pass

        def run(self, sink: OrderSink) -> None:
            self.ended.wait(5)

        def close(self) -> None:
            self.ended.set()

    quiet = Quiet()
    assert isinstance(quiet, OrderUpdateStream)
    runner = OrderStreamRunner(broker="pushy", user_id=1, connect=lambda: quiet)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    while runner._stream is None and thread.is_alive():
        threading.Event().wait(0.01)
    runner.stop(stop)
    thread.join(2)
    assert not thread.is_alive()
