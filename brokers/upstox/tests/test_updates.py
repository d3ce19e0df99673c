"""Order updates over Upstox's portfolio stream (JSON text frames, the webhook's payload)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosedError

from brokers.enums import Exchange, OrderStatus
from brokers.streaming import StreamClosed
from brokers.upstox.testing import TOKEN, credentials, fixture
from brokers.upstox.tests.test_stream import FakeFeedSocket
from brokers.upstox.updates import UpstoxOrderStream


@pytest.fixture
def stream(upstox_market):
    sockets = []
    orders = []
    updates = UpstoxOrderStream(credentials(), open_socket=lambda url: sockets.append(FakeFeedSocket(url))
                                or sockets[-1])
    updates.connect(orders.append)
    return updates, sockets, orders


def test_connecting_asks_for_order_updates_and_opens_the_one_time_url(stream, upstox_market, monkeypatch):
    (request,) = upstox_market.requests
    assert (request.method, request.url.path, dict(request.url.params)) == (
        "GET", "/v2/feed/portfolio-stream-feed/authorize", {"update_types": "order"})
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert stream[1][0].url.startswith("wss://")


def test_an_order_update_becomes_our_order(stream):
    updates, sockets, orders = stream
    sockets[0].frames.put(json.dumps(fixture("order_update.json")))
    sockets[0].frames.put(json.dumps({**fixture("order_update.json"), "status": "complete", "filled_quantity": 1,
                                      "average_price": 780.5}))
    assert updates.pump(0.01) and updates.pump(0.01)
    first, done = orders
    assert (first.orderid, first.symbol, first.exchange, first.status, first.tag) == (
        "231019025564433", "SBIN", Exchange.NSE, OrderStatus.OPEN, "oa91")
    assert (done.status, done.filled_quantity, done.average_price) == (OrderStatus.COMPLETE, 1, Decimal("780.5"))


def test_other_updates_and_garbage_are_skipped_but_show_life(stream):
    updates, sockets, orders = stream
    sockets[0].frames.put(json.dumps({"update_type": "position", "exchange": "NSE"}))
    sockets[0].frames.put("not json")
    sockets[0].frames.put(json.dumps({**fixture("order_update.json"), "transaction_type": "HOLD"}))
    assert all(updates.pump(0.01) for _ in range(3)) and orders == []
    assert not updates.pump(0.01)


def test_a_dropped_portfolio_stream_raises_stream_closed(stream):
    updates, sockets, _ = stream
    sockets[0].frames.put(ConnectionClosedError(None, None))
    with pytest.raises(StreamClosed):
        updates.pump(0.01)
    updates.close()
    assert sockets[0].closed
