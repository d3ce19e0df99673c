"""Pre-trade risk limits and the kill switch (orders/risk.py) through the real API, the
sandbox and a live-broker stand-in: each refusal is a spec-shaped error, a rejected ledger
row that never reached the broker, a log line and an audit event."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from accounts.services import store_broker_session
from brokers import registry
from brokers.base import Capabilities, OrderRequest, PlacedOrder, Quote
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.models import SandboxOrder, SandboxPosition
from orders import killswitch, risk, services
from orders.models import LedgerStatus, Order, RiskLimits
from orders.tests.racing import race

BUY_SBIN = {"strategy": "Risk", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
            "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def call(api_call, market):
    return api_call


@pytest.fixture
def limits(user):
    def set_limits(**fields) -> RiskLimits:
        row, _ = RiskLimits.objects.update_or_create(user=user, defaults=fields)
        return row

    return set_limits


def refused(call, order: dict, status: int = 400) -> str:
    """Place ``order``, expect a refusal that never reached the sandbox; return its message."""
    before = SandboxOrder.objects.count()
    code, body = call("placeorder", **order)
    assert code == status, body
    assert set(body) == {"status", "message"} and body["status"] == "error"
    assert SandboxOrder.objects.count() == before
    row = Order.objects.order_by("-pk").first()
    assert (row.status, row.message, row.broker_order_id) == (LedgerStatus.REJECTED, body["message"], "")
    assert [e.source for e in row.events.all()] == ["risk"]
    return body["message"]


def accepted(call, order: dict) -> str:
    code, body = call("placeorder", **order)
    assert (code, body["status"]) == (200, "success"), body
    return body["orderid"]


def test_without_limits_nothing_is_checked(call):
    accepted(call, {**BUY_SBIN, "quantity": "10000"})


def test_max_order_quantity(call, limits, caplog):
    limits(max_order_quantity=50)
    accepted(call, {**BUY_SBIN, "quantity": "50"})
    with caplog.at_level(logging.WARNING, logger="orders.risk"):
        message = refused(call, {**BUY_SBIN, "quantity": "51"})
    assert message == "Risk limit: quantity 51 exceeds the maximum of 50 per order"
    assert "max_order_quantity" in caplog.text
    event = AuditEvent.objects.filter(action="order_risk_rejected").get()
    assert (event.actor, event.subject, event.detail["reason"]) == ("trader", "NSE:SBIN", "max_order_quantity")


def test_allowed_exchanges_and_products(call, limits):
    limits(allowed_exchanges=["NSE"], allowed_products=["MIS", "CNC"])
    accepted(call, BUY_SBIN)
    assert refused(call, {**BUY_SBIN, "exchange": "BSE"}) == \
        "Risk limit: exchange BSE is not allowed (allowed: NSE)"
    assert refused(call, {**BUY_SBIN, "product": "NRML"}) == \
        "Risk limit: product NRML is not allowed (allowed: MIS, CNC)"


def test_price_band_is_a_fat_finger_guard_on_limit_and_trigger_prices(call, limits):
    limits(price_band_percent=5)  # SBIN trades at 800
    accepted(call, {**BUY_SBIN, "pricetype": "LIMIT", "price": "770"})
    assert refused(call, {**BUY_SBIN, "pricetype": "LIMIT", "price": "8000"}) == (
        "Risk limit: price 8000 is 900.00% away from the last traded price 800; the band is 5.00%")
    assert "trigger price 700" in refused(
        call, {**BUY_SBIN, "pricetype": "SL-M", "trigger_price": "700"})
    accepted(call, BUY_SBIN)  # MARKET orders have no price of their own


def test_max_order_value_uses_the_limit_price_or_the_ltp(call, limits):
    limits(max_order_value=8000)
    accepted(call, {**BUY_SBIN, "quantity": "10"})  # 10 x 800
    assert refused(call, {**BUY_SBIN, "quantity": "11"}) == \
        "Risk limit: order value ₹8,800.00 exceeds the maximum of ₹8,000.00"
    accepted(call, {**BUY_SBIN, "quantity": "11", "pricetype": "LIMIT", "price": "700"})  # 7,700


def test_a_limit_that_needs_a_price_refuses_when_there_is_none(call, limits, market):
    limits(max_order_value=100000)
    del market.ltp["NSE:SBIN"]
    message = refused(call, BUY_SBIN)
    assert message.startswith("Risk check: no last traded price for NSE:SBIN")


def test_max_open_orders_counts_working_orders(call, limits):
    limits(max_open_orders=2)
    resting = {**BUY_SBIN, "pricetype": "LIMIT", "price": "700"}
    first = accepted(call, resting)
    accepted(call, resting)
    assert refused(call, resting) == "Risk limit: 2 orders are already working; the maximum is 2"
    assert call("cancelorder", strategy="Risk", orderid=first)[0] == 200
    accepted(call, resting)


def test_max_position_value_per_symbol_allows_reducing(call, limits):
    limits(max_position_value=10000)
    accepted(call, {**BUY_SBIN, "quantity": "12"})  # 9,600
    assert refused(call, {**BUY_SBIN, "quantity": "1"}) == (
        "Risk limit: the position in SBIN would be worth ₹10,400.00, above the maximum of ₹10,000.00 per symbol")
    accepted(call, {**BUY_SBIN, "action": "SELL", "quantity": "5"})


def test_orders_per_second(call, limits, monkeypatch):
    limits(max_orders_per_second=2)
    monkeypatch.setattr(risk.time, "time", lambda: 1_800_000_000.5)  # all in one second
    accepted(call, BUY_SBIN)
    accepted(call, BUY_SBIN)
    assert refused(call, BUY_SBIN, status=429) == "Risk limit: more than 2 orders in one second"
    monkeypatch.setattr(risk.time, "time", lambda: 1_800_000_001.5)
    accepted(call, BUY_SBIN)


def test_limits_hold_in_analyze_mode_with_the_mode_field(call, limits, user):
    user.analyze_mode = True
    user.save()
    limits(max_order_quantity=1)
    code, body = call("placeorder", **BUY_SBIN)
    assert (code, body) == (400, {"status": "error", "message": "Risk limit: quantity 10 exceeds the maximum of 1 "
                                  "per order", "mode": "analyze"})


def test_a_modification_is_held_to_the_price_band(call, limits):
    orderid = accepted(call, {**BUY_SBIN, "pricetype": "LIMIT", "price": "780"})
    limits(price_band_percent=5)
    code, body = call("modifyorder", **{**BUY_SBIN, "orderid": orderid, "pricetype": "LIMIT", "price": "80",
                                        "quantity": "10", "trigger_price": "0", "disclosed_quantity": "0"})
    assert code == 400 and body["message"].startswith("Risk limit: price 80 is 90.00% away"), body
    assert SandboxOrder.objects.get(orderid=orderid).price == 780


# --- Daily loss and the kill switch ---------------------------------------------------------------


def _losing_day(call, market) -> str:
    accepted(call, {**BUY_SBIN, "quantity": "100"})  # bought at the ask, 800.05
    resting = accepted(call, {**BUY_SBIN, "pricetype": "LIMIT", "price": "600"})
    market.set("NSE:SBIN", "790")  # about -1,005 on the position
    return resting


def test_the_loss_monitor_engages_the_kill_switch(call, limits, market, user):
    limits(daily_loss_limit=1000)
    resting = _losing_day(call, market)
    assert killswitch.monitor_losses() == 1
    row = RiskLimits.objects.get(user=user)
    assert row.kill_switch_engaged and "daily loss ₹1,005.00 reached the limit of ₹1,000.00" in row.kill_switch_reason
    assert SandboxOrder.objects.get(orderid=resting).status == "cancelled"
    assert SandboxPosition.objects.get(symbol="SBIN").quantity == 0  # squared off
    squareoff = Order.objects.get(source="killswitch")
    assert (squareoff.action, squareoff.quantity, squareoff.status) == ("SELL", 100, LedgerStatus.COMPLETE)
    event = AuditEvent.objects.get(action="kill_switch_engaged")
    assert event.detail["cancelled"] == 1 and event.detail["squared_off"] == 1
    assert refused(call, BUY_SBIN).startswith("Kill switch is on: new orders are blocked until you reset it")
    assert killswitch.monitor_losses() == 0  # engaged once
    assert killswitch.reset(user, actor="trader")
    # The loss so far is acknowledged: the limit now counts from the reset.
    accepted(call, BUY_SBIN)
    assert AuditEvent.objects.filter(action="kill_switch_reset").count() == 1
    assert killswitch.monitor_losses() == 0
    market.set("NSE:SBIN", "690")  # 10 x -100 more since the reset
    assert killswitch.monitor_losses() == 1


def test_the_next_order_after_the_loss_engages_it_too_and_can_leave_positions(call, limits, market, user):
    limits(daily_loss_limit=1000, square_off_on_kill=False)
    _losing_day(call, market)
    assert refused(call, BUY_SBIN).startswith("Kill switch is on")
    assert SandboxPosition.objects.get(symbol="SBIN").quantity == 100
    assert not SandboxOrder.objects.filter(status="open").exists()
    # Closing positions by hand still works while the switch is on: it only reduces risk.
    assert call("closeposition", strategy="Risk")[0] == 200
    assert SandboxPosition.objects.get(symbol="SBIN").quantity == 0


def test_a_profit_never_trips_the_switch(call, limits, market):
    limits(daily_loss_limit=1000)
    accepted(call, {**BUY_SBIN, "quantity": "100"})
    market.set("NSE:SBIN", "900")
    assert killswitch.monitor_losses() == 0
    accepted(call, BUY_SBIN)


# --- Same rules for a live broker; no race past a limit ------------------------------------------


class LiveBroker:
    name = "livebroker"
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}))
    sent: list = []

    def __init__(self, user, credential) -> None:
        self.user = user

    def quote(self, symbol, exchange):
        ltp = Decimal(800)
        return Quote(ltp=ltp, open=ltp, high=ltp, low=ltp, prev_close=ltp, volume=1, bid=ltp, ask=ltp)

    def positions(self):
        return []

    def place_order(self, request):
        LiveBroker.sent.append(request)
        return PlacedOrder(orderid=f"L-{len(LiveBroker.sent)}")


def test_a_live_broker_gets_the_same_limits_and_our_tag(call, limits, user, monkeypatch):
    monkeypatch.setattr(registry, "_factories", {**registry._factories, "livebroker": LiveBroker})
    monkeypatch.setattr(LiveBroker, "sent", [])
    store_broker_session(user=user, broker="livebroker", access_token="token")
    limits(max_order_value=5000)
    assert refused(call, BUY_SBIN) == "Risk limit: order value ₹8,000.00 exceeds the maximum of ₹5,000.00"
    assert LiveBroker.sent == []
    orderid = accepted(call, {**BUY_SBIN, "quantity": "6"})
    row = Order.objects.get(broker_order_id=orderid)
    assert row.broker == "livebroker" and LiveBroker.sent[0].tag == f"oa{row.pk}"


@pytest.mark.django_db(transaction=True)
def test_concurrent_orders_cannot_both_take_the_last_open_order_slot(user, market):
    RiskLimits.objects.create(user=user, max_open_orders=1)
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(1),
                           product=Product.MIS, pricetype=PriceType.LIMIT, price=Decimal(700))
    outcomes = race(lambda: services.place_order(user=user, request=request))
    assert len([o for o in outcomes if isinstance(o, PlacedOrder)]) == 1, outcomes
    assert {o.reason for o in outcomes if not isinstance(o, PlacedOrder)} == {"max_open_orders"}
    assert SandboxOrder.objects.count() == 1


def test_refusals_and_order_latency_are_counted_for_metrics(call, limits):
    from core import metrics

    rejects = metrics.ORDER_REJECTS.labels("risk_max_order_quantity")
    latency = metrics.ORDER_LATENCY.labels("sandbox", "success")
    refused_before, placed_before = rejects._value.get(), latency._sum.get()
    limits(max_order_quantity=1)
    refused(call, BUY_SBIN)
    accepted(call, {**BUY_SBIN, "quantity": "1"})
    assert rejects._value.get() == refused_before + 1
    assert latency._sum.get() > placed_before


@pytest.mark.django_db(transaction=True)
def test_the_kill_switch_set_at_once_from_many_sessions_is_set_once_and_none_fails(user):
    """The user has no limits row yet: every caller creates or locks the same one."""
    outcomes = race(lambda: risk.switch_on(user, reason="daily loss limit"), threads=6)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert len([o for o in outcomes if o is not None]) == 1
    assert RiskLimits.objects.filter(user=user, kill_switch_engaged=True).count() == 1
