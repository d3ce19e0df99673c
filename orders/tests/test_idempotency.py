"""Idempotency-Key / client_order_id: a retried order request returns the first answer."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from brokers.sandbox.models import SandboxOrder
from orders.models import IdempotencyRecord, Order
from orders.tests.racing import race

BUY = {"strategy": "Python", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1"}


@pytest.fixture
def place(post_json, api_key, market):
    def place(body=None, key=None):
        extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        response = post_json("/api/v1/placeorder", {"apikey": api_key, **(body or BUY)}, **extra)
        return response.status_code, response.json()

    return place


def test_a_retry_with_the_same_key_returns_the_first_order(place):
    first = place(key="abc-1")
    assert first[0] == 200
    assert place(key="abc-1") == first
    assert SandboxOrder.objects.count() == 1 and Order.objects.count() == 1
    assert place(key="abc-2")[1]["orderid"] != first[1]["orderid"]


def test_keys_that_differ_only_in_case_or_accents_are_different_keys(place):
    """Keys compare byte for byte on every database (MySQL's default collation would not)."""
    answers = [place(key=key) for key in ("order-a", "ORDER-A", "order-á")]
    assert [status for status, _ in answers] == [200, 200, 200]
    assert len({body["orderid"] for _, body in answers}) == 3
    assert SandboxOrder.objects.count() == 3 and IdempotencyRecord.objects.count() == 3


def test_client_order_id_in_the_body_works_the_same(place):
    first = place({**BUY, "client_order_id": "tv-alert-42"})
    assert place({**BUY, "client_order_id": "tv-alert-42"}) == first
    assert SandboxOrder.objects.count() == 1


def test_reusing_a_key_for_a_different_order_is_refused(place):
    place(key="k")
    status, body = place({**BUY, "quantity": "2"}, key="k")
    assert status == 422 and "different request" in body["message"]
    assert SandboxOrder.objects.count() == 1


def test_a_rejection_is_remembered_too(place):
    first = place({**BUY, "symbol": "NOPE"}, key="bad")
    assert first[0] == 400
    assert place({**BUY, "symbol": "NOPE"}, key="bad") == first
    assert Order.objects.count() == 1


def test_without_a_key_every_request_is_a_new_order(place):
    place()
    place()
    assert SandboxOrder.objects.count() == 2 and not IdempotencyRecord.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_place_exactly_one_order(api_key, market):
    def send() -> tuple[int, dict]:
        response = Client().post("/api/v1/placeorder", data=json.dumps({"apikey": api_key, **BUY}),
                                 content_type="application/json", HTTP_IDEMPOTENCY_KEY="race")
        return response.status_code, response.json()

    answers = race(send)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert SandboxOrder.objects.count() == 1
    assert {status for status, _ in answers} <= {200, 409}
    orderids = {body["orderid"] for status, body in answers if status == 200}
    assert len(orderids) == 1
