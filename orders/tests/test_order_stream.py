"""A broker that pushes order updates over a socket: the runner forwards each pushed order
as order_changed (the ledger row moves, the event goes out once), reconnects with backoff
when the socket fails, and ends when told to stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.base import BrokerAuthExpired, BrokerOrder
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.order_stream import OrderSink, OrderUpdateStream, order_stream_runner
from brokers.streaming import StreamClosed
from orders import events
from orders.models import LedgerStatus, Order


def _pushed(status: OrderStatus, filled: int) -> BrokerOrder:
    return BrokerOrder(orderid="P1", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(2),
                       price=Decimal(700), trigger_price=Decimal(0), pricetype=PriceType.LIMIT, product=Product.MIS,
                       status=status, timestamp=datetime.now(UTC), filled_quantity=Decimal(filled),
                       average_price=Decimal(700) if filled else Decimal(0))


class ScriptedOrderStream:
    """An order socket in memory. Each connection takes the next script entry: an exception
    to refuse the connection with, or a list of orders delivered on the first pump, after
    which the connection drops."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.pending: list[BrokerOrder] = []
        self.sink: OrderSink | None = None
        self.connects = self.closes = 0

    def connect(self, sink: OrderSink) -> None:
        self.connects += 1
        step = self.script.pop(0) if self.script else StreamClosed("script over")
        if isinstance(step, Exception):
            raise step
        self.sink, self.pending = sink, list(step)

    def pump(self, timeout: float) -> bool:
        if not self.pending:
            raise StreamClosed("the broker closed the socket")
        assert self.sink is not None
        for order in self.pending:
            self.sink(order)
        self.pending = []
        return True

    def close(self) -> None:
        self.closes += 1


class StopAfter:
    """The runner's wait: records each delay and stops the runner after ``rounds`` of them."""

    def __init__(self, rounds: int) -> None:
        self.rounds, self.waits = rounds, []

    def __call__(self, delay: float) -> bool:
        self.waits.append(delay)
        return len(self.waits) >= self.rounds


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
    stream = ScriptedOrderStream([[_pushed(OrderStatus.OPEN, 1), _pushed(OrderStatus.OPEN, 1),
                                   _pushed(OrderStatus.COMPLETE, 2)]])
    assert isinstance(stream, OrderUpdateStream)
    runner = order_stream_runner(stream, broker="pushy", user_id=user.pk, wait=StopAfter(1))
    with django_capture_on_commit_callbacks(execute=True):
        runner.run()
    working.refresh_from_db()
    assert (working.status, working.filled_quantity) == (LedgerStatus.COMPLETE, 2)
    assert [(msg["order_status"], msg["filled_quantity"]) for _, msg in announced] == [("open", 1), ("complete", 2)]
    assert stream.closes == 1


def test_a_failing_socket_is_reconnected_with_growing_backoff(user, working):
    stream = ScriptedOrderStream([BrokerAuthExpired("token revoked"), ConnectionError("refused"),
                                  [_pushed(OrderStatus.COMPLETE, 2)]])
    wait = StopAfter(3)
    order_stream_runner(stream, broker="pushy", user_id=user.pk, wait=wait, backoff_initial=1, backoff_max=60,
                        jitter=lambda: 1.0).run()
    assert wait.waits == [1, 2, 1]  # doubling, then afresh after a connection that delivered
    assert (stream.connects, stream.closes) == (3, 3)
    working.refresh_from_db()
    assert working.status == LedgerStatus.COMPLETE


def test_a_receiver_failure_does_not_end_the_socket(user, monkeypatch, caplog):
    from orders import updates

    def broken(*args, **kwargs):
        raise RuntimeError("database away")

    monkeypatch.setattr(updates.transaction, "atomic", broken)
    stream = ScriptedOrderStream([[_pushed(OrderStatus.COMPLETE, 2), _pushed(OrderStatus.COMPLETE, 2)]])
    order_stream_runner(stream, broker="pushy", user_id=user.pk, wait=StopAfter(1)).run()
    assert caplog.text.count("not taken") == 2


def test_stop_ends_a_quiet_socket():
    class Quiet:
        def connect(self, sink: OrderSink) -> None:
            pass

        def pump(self, timeout: float) -> bool:
            threading.Event().wait(timeout)
            return False

        def close(self) -> None:
            pass

    runner = order_stream_runner(Quiet(), broker="pushy", user_id=1, pump_timeout=0.01)
    runner.start()
    runner.stop(timeout=2)
    assert runner._thread is not None and not runner._thread.is_alive()
