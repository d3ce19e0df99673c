"""Angel One's order-update socket: pushed orders read as the order book's rows."""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosedError

from brokers.base import BrokerAuthExpired, BrokerRateLimited
from brokers.enums import Exchange, OrderStatus
from brokers.order_stream import OrderUpdateStream, order_stream_runner
from brokers.signals import order_changed
from brokers.streaming import StreamClosed

from .. import testing
from ..order_updates import DEFAULT_URL, AngelOrderStream, order_of


def _pushed(code: str, **change) -> str:
    row = dict(testing.fixture("order_book.json")["data"][0], **change)
    return json.dumps({"user-id": testing.CLIENT_CODE, "status-code": "200", "order-status": code,
                       "error-message": "", "orderData": row})


class FakeSocket:
    def __init__(self, messages) -> None:
        self.incoming = deque(messages)
        self.closed = False

    def recv(self, timeout=None):
        if self.incoming:
            item = self.incoming.popleft()
            if isinstance(item, Exception):
                raise item
            return item
        raise TimeoutError

    def close(self) -> None:
        self.closed = True


def test_the_socket_opens_with_the_bearer_jwt():
    seen = {}

    def connector(url, headers):
        seen.update(url=url, headers=headers)
        return FakeSocket([])

    stream = AngelOrderStream(testing.credentials(), connector=connector)
    assert isinstance(stream, OrderUpdateStream)
    stream.connect(lambda order: None)
    assert seen == {"url": DEFAULT_URL, "headers": {"Authorization": f"Bearer {testing.JWT}"}}
    with pytest.raises(BrokerAuthExpired):
        AngelOrderStream(testing.credentials(access_token=""), connector=connector).connect(lambda order: None)


def test_pushed_orders_reach_the_sink_and_the_acknowledgement_does_not(angel_market):
    orders = []
    messages = [json.dumps({"user-id": testing.CLIENT_CODE, "status-code": "200", "order-status": "AB00",
                            "error-message": "", "orderData": {}}),
                _pushed("AB01", status="open", orderstatus="open", cancelsize="0"),
                _pushed("AB05", status="", orderstatus="", filledshares="1", averageprice="194.00"),
                "not json"]
    stream = AngelOrderStream(testing.credentials(), connector=lambda url, headers: FakeSocket(messages))
    stream.connect(orders.append)
    assert stream.pump(0.05) is True
    assert [(o.orderid, o.symbol, o.exchange, o.status) for o in orders] == [
        ("201020000000080", "SBIN", Exchange.NSE, OrderStatus.OPEN),
        ("201020000000080", "SBIN", Exchange.NSE, OrderStatus.COMPLETE)]
    assert orders[1].filled_quantity == Decimal(1) and orders[1].tag == "oa42"


def test_a_rejection_pushed_carries_the_text_verbatim(angel_market):
    _, rejected = testing.fixture("order_book.json")["data"]
    order = order_of({"order-status": "AB03", "orderData": rejected})
    assert order is not None and order.status == OrderStatus.REJECTED
    assert order.rejection_reason == rejected["text"] and order.symbol == "NIFTY28NOV2425000CE"


def test_a_dropped_socket_is_a_closed_stream():
    stream = AngelOrderStream(testing.credentials(),
                              connector=lambda url, headers: FakeSocket([ConnectionClosedError(None, None)]))
    stream.connect(lambda order: None)
    with pytest.raises(StreamClosed):
        stream.pump(0.05)


def test_the_runner_forwards_pushed_orders_as_order_changed(angel_market):
    received = []

    def receiver(sender, user_id, order, paper, **kwargs):
        received.append((sender, user_id, order.status))

    class StopAfterFirst:
        def __call__(self, delay):
            return True

    order_changed.connect(receiver, weak=False)
    try:
        stream = AngelOrderStream(testing.credentials(), connector=lambda url, headers: FakeSocket(
            [_pushed("AB02", status="cancelled"), ConnectionClosedError(None, None)]))
        order_stream_runner(stream, broker="angel", user_id=7, wait=StopAfterFirst(), pump_timeout=0.05).run()
    finally:
        order_changed.disconnect(receiver)
    assert received == [("angel", 7, OrderStatus.CANCELLED)]


@pytest.mark.parametrize(("status", "error"), [(401, BrokerAuthExpired), (403, BrokerAuthExpired),
                                               (429, BrokerRateLimited)])
def test_a_refused_order_socket_says_why(monkeypatch, status, error):
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    from .. import order_updates

    def refuse(url, **options):
        raise InvalidStatus(Response(status, "refused", Headers()))

    monkeypatch.setattr(order_updates, "ws_connect", refuse)
    with pytest.raises(error):
        order_updates._connect(DEFAULT_URL, {})
