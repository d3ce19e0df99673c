"""Fyers' order socket: the documented subscribe message and header, pings every 10 s, and
an order message turned into the order as the REST order book reports it."""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Response

from brokers.base import BrokerAuthExpired
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.fyers.adapter import FyersAdapter
from brokers.fyers.order_socket import FyersOrderSocket, order_ids
from brokers.fyers.testing import APP_ID, TOKEN, credentials
from brokers.streaming import StreamClosed

pytestmark = pytest.mark.django_db


class Texts:
    def __init__(self, messages: list[str], drop: bool = False) -> None:
        self.inbox = deque(messages)
        self.drop = drop
        self.sent: list[str] = []

    def send(self, message: str) -> None:
        self.sent.append(message)

    def recv(self, timeout: float | None = None) -> str:
        if self.inbox:
            return self.inbox.popleft()
        if self.drop:
            raise ConnectionClosedError(None, None)
        raise TimeoutError

    def close(self) -> None:
        pass


def test_an_order_message_is_read_again_from_the_order_book_and_handed_on(fyers_market):
    from brokers.base import OrderRequest

    placed = FyersAdapter(None, credentials()).place_order(OrderRequest(
        symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(1), product=Product.MIS,
        pricetype=PriceType.MARKET, tag="oa9"))
    message = json.dumps({"s": "ok", "orders": {"id": placed.orderid, "org_ord_status": 11, "qty_filled": 1}})
    connection = Texts([json.dumps({"s": "ok", "code": 1605, "message": "Successfully subscribed"}), message])
    dialled: list[tuple[str, dict[str, str]]] = []

    def connector(url: str, headers: dict[str, str]) -> Texts:
        dialled.append((url, headers))
        return connection

    orders: list = []
    socket = FyersOrderSocket(credentials(), connector=connector, clock=lambda: 0.0)
    socket.connect(orders.append)
    assert dialled == [("wss://socket.fyers.in/trade/v3", {"authorization": f"{APP_ID}:{TOKEN}"})]
    assert json.loads(connection.sent[0]) == {"T": "SUB_ORD", "SLIST": ["orders"], "SUB_T": 1}
    assert socket.pump(0.01) and orders == []
    assert socket.pump(0.01)
    [order] = orders
    assert (order.orderid, order.symbol, order.status, order.tag) == (placed.orderid, "SBIN", OrderStatus.COMPLETE,
                                                                      "oa9")


def test_a_ping_goes_out_every_ten_seconds():
    now = [0.0]
    connection = Texts([])
    socket = FyersOrderSocket(credentials(), connector=lambda url, headers: connection, clock=lambda: now[0],
                              read_order=lambda orderid: pytest.fail("nothing to read"))
    socket.connect(lambda order: None)
    socket.pump(0.01)
    now[0] = 10.0
    socket.pump(0.01)
    socket.pump(0.01)
    assert connection.sent[1:] == ["ping"]


def test_a_refused_token_is_auth_expired_and_a_drop_is_stream_closed():
    def refuse(url: str, headers: dict[str, str]) -> Texts:
        raise InvalidStatus(Response(403, "Forbidden", {}))  # type: ignore[arg-type]

    with pytest.raises(BrokerAuthExpired):
        FyersOrderSocket(credentials(), connector=refuse, read_order=lambda orderid: None).connect(lambda o: None)
    socket = FyersOrderSocket(credentials(), connector=lambda url, headers: Texts([], drop=True),
                              read_order=lambda orderid: None)
    socket.connect(lambda order: None)
    with pytest.raises(StreamClosed):
        socket.pump(0.01)


def test_only_order_messages_name_orders():
    assert order_ids('{"orders": [{"id": "1"}, {"id": "2"}]}') == ["1", "2"]
    assert order_ids('{"trades": {"id": "3"}}') == []
    assert order_ids("pong") == []
