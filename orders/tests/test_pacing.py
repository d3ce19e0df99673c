"""Broker order rate limits on the order paths: a live broker declaring two orders per
second is paced by its bucket, the request thread never sleeps longer than
BROKER_PACING_MAX_WAIT, and what cannot be sent in time is refused, never sent later."""

from __future__ import annotations

import threading
import time

import pytest

from accounts.services import store_broker_session
from brokers import ratelimit, registry
from brokers.base import Capabilities, PlacedOrder, RateLimits
from brokers.enums import Exchange
from orders.models import LedgerStatus, Order

BUY = {"strategy": "Pace", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1"}
BOUND = 0.25
REAL_SLEEP = time.sleep  # the fixture records the request thread's sleeps by patching time.sleep


class TwoPerSecondBroker:
    name = "twopersec"
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}),
                                rate_limits=RateLimits(orders_per_second=2))
    sent: list = []

    def __init__(self, user, credential) -> None:
        self.user = user

    def positions(self):
        return []

    def place_order(self, request):
        TwoPerSecondBroker.sent.append(request)
        return PlacedOrder(orderid=f"T-{len(TwoPerSecondBroker.sent)}")


@pytest.fixture
def paced(monkeypatch, user, settings):
    settings.BROKER_PACING_MAX_WAIT = BOUND
    monkeypatch.setattr(registry, "_factories", {**registry._factories, "twopersec": TwoPerSecondBroker})
    monkeypatch.setattr(TwoPerSecondBroker, "sent", [])
    monkeypatch.setattr(ratelimit, "_shared", ratelimit.LocalBuckets())
    store_broker_session(user=user, broker="twopersec", access_token="token")
    sleeps: dict[int, list[float]] = {}

    def sleep(seconds: float) -> None:
        sleeps.setdefault(threading.get_ident(), []).append(seconds)
        REAL_SLEEP(seconds)

    monkeypatch.setattr(ratelimit.time, "sleep", sleep)
    return sleeps


def test_a_split_order_beyond_the_rate_sends_the_burst_and_refuses_the_rest_without_sleeping(paced, api_call):
    status, body = api_call("splitorder", **{**BUY, "quantity": "5", "splitsize": "1"})
    assert status == 200 and body["status"] == "success"
    assert [r["status"] for r in body["results"]] == ["success", "success", "error", "error", "error"]
    assert body["results"][2]["message"].startswith("Broker order rate limit reached: order not sent. Retry after")
    assert len(TwoPerSecondBroker.sent) == 2
    assert all(sum(waits) <= BOUND for waits in paced.values())
    # Refused children never reached the ledger, so nothing is left to send behind the trader's back.
    assert Order.objects.filter(broker="twopersec").count() == 2


def test_the_whole_request_shares_one_bound_however_many_children_wait(paced, api_call, settings):
    settings.BROKER_PACING_MAX_WAIT = 0.6  # room for one 0.5 s wait, not two
    status, body = api_call("splitorder", **{**BUY, "quantity": "5", "splitsize": "1"})
    assert status == 200
    assert [r["status"] for r in body["results"]] == ["success"] * 3 + ["error"] * 2
    [waits] = paced.values()
    assert len(waits) == 1 and 0.4 < sum(waits) <= 0.6


@pytest.mark.django_db(transaction=True)  # the basket's children run on their own connections
def test_a_basket_beyond_the_rate_waits_at_most_the_bound_in_all(paced, api_call):
    orders = [{"symbol": f"S{n}", "exchange": "NSE", "action": "BUY", "quantity": "1"} for n in range(6)]
    status, body = api_call("basketorder", strategy="Pace", orders=orders)
    assert status == 200
    assert sorted(r["status"] for r in body["results"]) == ["error"] * 4 + ["success"] * 2
    assert len(TwoPerSecondBroker.sent) == 2
    assert all(sum(waits) <= BOUND for waits in paced.values())


def test_a_placeorder_within_the_bound_waits_for_its_token(paced, api_call):
    for _ in range(2):
        assert api_call("placeorder", **BUY)[0] == 200
    REAL_SLEEP(0.3)  # 0.6 tokens back: the next one is 0.2 s away, within the bound
    assert api_call("placeorder", **BUY) == (200, {"status": "success", "orderid": "T-3"})
    [waits] = paced.values()
    assert len(waits) == 1 and 0 < waits[0] <= BOUND


def test_a_placeorder_beyond_the_bound_is_429_with_retry_after_and_no_ledger_row(paced, api_call):
    for _ in range(2):
        assert api_call("placeorder", **BUY)[0] == 200
    status, body = api_call("placeorder", **BUY)
    assert status == 429
    assert set(body) == {"status", "message", "retry_after"} and body["retry_after"] == 1
    assert Order.objects.filter(broker="twopersec").count() == 2
    assert set(Order.objects.values_list("status", flat=True)) == {LedgerStatus.OPEN}
    assert paced == {}
