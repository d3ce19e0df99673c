"""A broker that posts order updates back to /broker/<name>/postback: a signed postback
moves the ledger row and announces the order event once; anything unsigned, unknown or
unreadable is refused with the right status and moves nothing."""

from __future__ import annotations

import dataclasses
import hmac
from decimal import Decimal

import pytest

from accounts.services import store_broker_app_credentials, store_broker_session
from brokers import registry
from brokers.base import OrderUpdateSource
from brokers.fakelive import testing as fakelive
from brokers.fakelive.adapter import FakeLiveAdapter
from brokers.fakelive.postback import FakeLivePostback
from orders import events
from orders.models import LedgerStatus, Order

NAME = "fakelivepb"
RESTING_BUY = {"strategy": "Postback", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "2",
               "pricetype": "LIMIT", "price": "700", "product": "MIS"}


class PostbackFakeLive(FakeLiveAdapter):
    """FakeLive as a broker that posts order updates back instead of being polled."""

    name = NAME
    capabilities = dataclasses.replace(FakeLiveAdapter.capabilities, order_updates=OrderUpdateSource.POSTBACK)


@pytest.fixture
def announced(monkeypatch):
    sent = []
    monkeypatch.setattr(events, "publish_now", lambda user_id, message: sent.append((user_id, message)))
    return sent


@pytest.fixture
def postback_broker(monkeypatch, user, fakelive_market):
    monkeypatch.setattr(registry, "_factories", {**registry._factories, NAME: PostbackFakeLive})
    monkeypatch.setattr(registry, "_postbacks", {**registry._postbacks, NAME: FakeLivePostback()})
    store_broker_app_credentials(user=user, broker=NAME, api_key=fakelive.API_KEY, api_secret=fakelive.API_SECRET)
    store_broker_session(user=user, broker=NAME, access_token=fakelive.TOKEN, client_id="FL01")
    return fakelive_market


@pytest.fixture
def resting_order(postback_broker, api_call):
    status, body = api_call("placeorder", **RESTING_BUY)
    assert status == 200, body
    row = Order.objects.get()
    assert (row.broker, row.status) == (NAME, LedgerStatus.OPEN)
    return row


def _post(client, body: bytes, headers: dict[str, str], broker: str = NAME):
    return client.post(f"/broker/{broker}/postback", data=body, content_type="application/json",
                       headers=headers)


def test_a_signed_postback_of_a_fill_completes_the_row_and_is_announced_once(
        client, resting_order, postback_broker, announced, django_capture_on_commit_callbacks):
    postback_broker.fill(resting_order.broker_order_id, price=Decimal("699"))
    body, headers = postback_broker.postback(resting_order.broker_order_id)
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, body, headers)
        again = _post(client, body, headers)  # brokers retry; the second changes nothing
    assert (response.status_code, response.json()) == (200, {"status": "success"})
    assert again.status_code == 200
    resting_order.refresh_from_db()
    assert (resting_order.status, resting_order.filled_quantity) == (LedgerStatus.COMPLETE, 2)
    assert [(msg["orderid"], msg["order_status"]) for _, msg in announced] == [
        (resting_order.broker_order_id, "complete")]


@pytest.mark.parametrize("headers", [{}, {"X-FakeLive-Signature": "0" * 64}])
def test_an_unsigned_or_badly_signed_postback_is_403_and_moves_nothing(client, resting_order, postback_broker,
                                                                       headers, announced):
    postback_broker.fill(resting_order.broker_order_id)
    body, _ = postback_broker.postback(resting_order.broker_order_id)
    response = _post(client, body, headers)
    assert response.status_code == 403
    resting_order.refresh_from_db()
    assert resting_order.status == LedgerStatus.OPEN and announced == []


def test_a_postback_signed_with_another_secret_is_403(client, resting_order, postback_broker):
    body, headers = postback_broker.postback(resting_order.broker_order_id, secret="someone-elses-secret")
    assert _post(client, body, headers).status_code == 403


def test_a_postback_for_an_account_we_do_not_know_is_403(client, resting_order, postback_broker):
    body, headers = postback_broker.postback(resting_order.broker_order_id, user_id="NOBODY")
    assert _post(client, body, headers).status_code == 403


def test_a_postback_from_an_unknown_broker_is_404(client, db):
    assert _post(client, b"{}", {}, broker="nosuchbroker").status_code == 404


def test_a_broker_that_is_polled_takes_no_postbacks(client, resting_order, postback_broker):
    body, headers = postback_broker.postback(resting_order.broker_order_id)
    assert _post(client, body, headers, broker="fakelive").status_code == 404  # FakeLive declares POLL


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"no": "user"}'])
def test_a_malformed_postback_is_400(client, postback_broker, body):
    assert _post(client, body, {"X-FakeLive-Signature": "x"}).status_code == 400


def test_a_signed_postback_whose_order_is_unreadable_is_400_not_500(client, postback_broker):
    body = b'{"user_id": "FL01", "order_id": "1", "exchange": "NSE", "status": "WEIRD"}'
    signature = hmac.new(fakelive.API_SECRET.encode(), body, "sha256").hexdigest()
    assert _post(client, body, {"X-FakeLive-Signature": signature}).status_code == 400


def test_a_get_is_405(client, postback_broker):
    assert client.get(f"/broker/{NAME}/postback").status_code == 405
