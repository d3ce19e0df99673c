"""Dhan's order-update socket: login message, documented (PascalCase) and live (camelCase)
payloads read into our orders, forwarded as the one order signal."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from brokers.base import BrokerAuthExpired
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.order_stream import OrderUpdateStream, order_stream_runner
from brokers.signals import order_changed
from brokers.streaming import StreamClosed
from core.values import IST

from ..order_updates import DhanOrderStream, order_of
from ..testing import CLIENT_ID, TOKEN, credentials, fixture
from .test_stream import FakeSocket

D = Decimal


def _camel(data: dict) -> dict:
    return {key[0].lower() + key[1:]: value for key, value in data.items()}


@pytest.mark.parametrize("shape", [dict, _camel])
def test_a_documented_update_reads_in_either_key_case(dhan_market, shape):
    order = order_of(shape(fixture("order_update.json")["Data"]))
    assert (order.orderid, order.symbol, order.exchange, order.action, order.pricetype, order.product) == (
        "112111182198", "SBIN", Exchange.NSE, Action.BUY, PriceType.LIMIT, Product.MIS)
    assert (order.status, order.quantity, order.filled_quantity, order.average_price, order.tag) == (
        OrderStatus.OPEN, D(10), D(6), D("800.45"), "oa42")
    assert order.pending_quantity == 4 and order.timestamp == datetime(2026, 11, 27, 10, 15, 9, tzinfo=IST)


def test_a_rejection_carries_dhan_reason_and_segments_map_to_our_exchanges(dhan_market):
    data = {**fixture("order_update.json")["Data"], "Status": "Rejected", "Segment": "D", "Product": "M",
            "ReasonDescription": "RMS:Blocked for trading"}
    order = order_of(data)
    assert (order.status, order.rejection_reason, order.exchange, order.product) == (
        OrderStatus.REJECTED, "RMS:Blocked for trading", Exchange.NFO, Product.NRML)


def test_the_socket_logs_in_and_forwards_orders_as_the_order_signal(dhan_market):
    update = json.dumps(fixture("order_update.json"))
    socket = FakeSocket([update, json.dumps({"Type": "heartbeat"}), "not json", None])
    stream = DhanOrderStream(credentials(), connector=lambda url: socket)
    assert isinstance(stream, OrderUpdateStream)
    received = []

    def receiver(sender, user_id, order, paper, **kwargs):
        received.append((sender, user_id, order.orderid, order.filled_quantity))

    order_changed.connect(receiver, weak=False)
    runner = order_stream_runner(stream, broker="dhan", user_id=7, wait=lambda delay: True, pump_timeout=0.01)
    try:
        runner.run()  # one session: login, three messages, then the drop ends it (wait says stop)
    finally:
        order_changed.disconnect(receiver)
    assert socket.sent[0] == {"LoginReq": {"MsgCode": 42, "ClientId": CLIENT_ID, "Token": TOKEN},
                              "UserType": "SELF"}
    assert received == [("dhan", 7, "112111182198", D(6))]


def test_no_session_no_socket_and_a_closed_one_says_so():
    with pytest.raises(BrokerAuthExpired):
        DhanOrderStream(credentials(access_token=""))
    stream = DhanOrderStream(credentials(), connector=lambda url: FakeSocket([None]))
    stream.connect(lambda order: None)
    with pytest.raises(StreamClosed):
        stream.pump(0.01)
