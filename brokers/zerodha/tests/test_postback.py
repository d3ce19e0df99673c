"""Zerodha's order postbacks: Kite's documented payload, verified by its checksum
(SHA-256 of order_id + order_timestamp + api_secret) before it is read as an order; and
through /broker/zerodha/postback, a verified postback moves the ledger row of our order."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

import pytest

from accounts.services import store_broker_app_credentials, store_broker_session
from brokers.enums import Action, Exchange, OrderStatus, Product
from brokers.postback import PostbackMalformed, PostbackUnsigned
from orders.models import LedgerStatus, Order

from ..postback import ZerodhaPostback, postback_checksum
from ..testing import ACCESS_TOKEN, API_KEY, API_SECRET, USER_ID, credentials, fixture_json

pytestmark = pytest.mark.django_db


def _signed(secret: str = API_SECRET, **change) -> bytes:
    payload = {**fixture_json("postback.json"), **change}
    payload["checksum"] = hashlib.sha256(
        f"{payload['order_id']}{payload['order_timestamp']}{secret}".encode()).hexdigest()
    return json.dumps(payload).encode()


def test_the_checksum_is_sha256_of_order_id_timestamp_and_secret():
    assert postback_checksum("1", "2022-03-03 09:24:25", "s") == hashlib.sha256(
        b"12022-03-03 09:24:25s").hexdigest()


def test_a_documented_postback_names_its_account_and_reads_as_our_order():
    body = _signed()
    reader = ZerodhaPostback()
    assert reader.client_id(body, {}) == "AB1234"
    order = reader.order(body, {}, credentials())
    assert (order.orderid, order.symbol, order.exchange, order.action, order.status, order.product) == (
        "220303000308932", "SBIN", Exchange.NSE, Action.BUY, OrderStatus.COMPLETE, Product.CNC)
    assert (order.filled_quantity, order.average_price) == (Decimal(1), Decimal(470))


def test_a_postback_signed_with_another_secret_or_unsigned_is_refused():
    reader = ZerodhaPostback()
    with pytest.raises(PostbackUnsigned):
        reader.order(_signed(secret="someone-else"), {}, credentials())
    with pytest.raises(PostbackUnsigned):
        reader.order(json.dumps(fixture_json("postback.json") | {"checksum": None}).encode(), {}, credentials())
    with pytest.raises(PostbackUnsigned):
        reader.order(_signed(), {}, credentials(api_secret=""))


def test_a_body_that_is_not_kites_shape_is_malformed():
    reader = ZerodhaPostback()
    for body in (b"not json", b"[1]", b"{}"):
        with pytest.raises(PostbackMalformed):
            reader.client_id(body, {})
    with pytest.raises(PostbackMalformed):
        reader.order(_signed(status="WHO KNOWS"), {}, credentials())


def test_a_verified_postback_moves_our_ledger_row(client, user, api_call, kite_market, settings):
    settings.RATELIMIT_ENABLE = False
    store_broker_app_credentials(user=user, broker="zerodha", api_key=API_KEY, api_secret=API_SECRET)
    store_broker_session(user=user, broker="zerodha", access_token=ACCESS_TOKEN, client_id=USER_ID)
    status, answer = api_call("placeorder", strategy="Kite", symbol="SBIN", exchange="NSE", action="BUY",
                              quantity="2", pricetype="LIMIT", price="700", product="MIS")
    assert status == 200, answer
    row = Order.objects.get()
    assert (row.broker, row.status) == ("zerodha", LedgerStatus.OPEN)
    state = kite_market.order_now(answer["orderid"])
    filled = {**state, "status": "COMPLETE", "filled_quantity": 2, "pending_quantity": 0, "average_price": 700,
              "user_id": USER_ID, "app_id": 1}
    filled["checksum"] = postback_checksum(filled["order_id"], filled["order_timestamp"], API_SECRET)
    response = client.post("/broker/zerodha/postback", data=json.dumps(filled).encode(),
                           content_type="application/json")
    assert response.status_code == 200, response.content
    row.refresh_from_db()
    assert row.status == LedgerStatus.COMPLETE
    forged = {**filled, "checksum": "0" * 64}
    assert client.post("/broker/zerodha/postback", data=json.dumps(forged).encode(),
                       content_type="application/json").status_code == 403
