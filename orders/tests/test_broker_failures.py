"""A live broker failing: every outcome is answered in the spec's shape and leaves a
ledger row that says what happened (never a half-written order, never a 500 page)."""

from __future__ import annotations

import pytest

from accounts.services import store_broker_session
from brokers import registry
from brokers.base import (
    BrokerAuthExpired,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    Capabilities,
    PlacedOrder,
)
from brokers.enums import Exchange
from orders.models import LedgerStatus, Order

BUY = {"strategy": "Python", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1"}


class FailingBroker:
    name = "flaky"
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}))
    failure: Exception | None = None

    def __init__(self, user, credential) -> None:
        self.user = user

    def place_order(self, request):
        if FailingBroker.failure is not None:
            raise FailingBroker.failure
        return PlacedOrder(orderid="B-1")


@pytest.fixture
def flaky(monkeypatch, user):
    monkeypatch.setattr(registry, "_factories", {**registry._factories, "flaky": FailingBroker})
    store_broker_session(user=user, broker="flaky", access_token="token")
    yield FailingBroker
    FailingBroker.failure = None


@pytest.fixture
def place(post_json, api_key):
    def place():
        response = post_json("/api/v1/placeorder", {"apikey": api_key, **BUY})
        return response.status_code, response.json()

    return place


def test_an_accepted_live_order_is_open_in_the_ledger(flaky, place):
    assert place() == (200, {"status": "success", "orderid": "B-1"})
    row = Order.objects.get()
    assert (row.broker, row.status, row.broker_order_id) == ("flaky", LedgerStatus.OPEN, "B-1")


def test_a_rejection_is_400_with_the_brokers_text_and_a_rejected_row(flaky, place):
    flaky.failure = BrokerRejected("RMS: margin exceeds")
    assert place() == (400, {"status": "error", "message": "RMS: margin exceeds"})
    assert Order.objects.get().status == LedgerStatus.REJECTED


def test_a_timeout_is_500_and_the_row_is_unknown_for_reconciliation(flaky, place, caplog):
    flaky.failure = BrokerUnavailable("read timeout after 10s")
    assert place() == (500, {"status": "error", "message": "Failed to place order due to internal error"})
    row = Order.objects.get()
    assert (row.status, row.message) == (LedgerStatus.UNKNOWN, "read timeout after 10s")
    assert "read timeout" in caplog.text


def test_an_unexpected_adapter_bug_is_500_not_a_stack_trace(flaky, place):
    flaky.failure = KeyError("status")
    status, body = place()
    assert (status, body) == (500, {"status": "error", "message": "Failed to place order due to internal error"})
    assert Order.objects.get().status == LedgerStatus.UNKNOWN


def test_an_expired_broker_session_is_403(flaky, place):
    flaky.failure = BrokerAuthExpired("Token expired")
    assert place() == (403, {"status": "error", "message": "Token expired"})


def test_broker_rate_limiting_is_429_with_retry_after(flaky, place):
    flaky.failure = BrokerRateLimited("Too many requests", retry_after=2.4)
    assert place() == (429, {"status": "error", "message": "Too many requests", "retry_after": 2})
