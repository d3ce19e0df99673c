"""The Risk and Reconciliation pages: limits edited and audited, the kill switch by hand,
reconciliation on demand, CSRF on every form, and only the signed-in user's own data."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import AuditEvent
from brokers.sandbox.models import SandboxOrder, SandboxPosition
from orders.models import LedgerStatus, Order, Reconciliation, RiskLimits

BUY_SBIN = {"strategy": "Page", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
            "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def signed_in(client, user, market):
    client.force_login(user)
    return client


def test_the_pages_need_a_signed_in_user(client, db):
    for path in ("/risk/", "/reconciliation/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/")
    assert client.post("/risk/kill-switch/", {"action": "engage"}).status_code == 302
    assert not RiskLimits.objects.exists()


def test_limits_are_saved_audited_and_enforced(signed_in, user, api_call):
    page = signed_in.get("/risk/")
    assert page.status_code == 200 and "Kill switch" in page.content.decode()
    response = signed_in.post("/risk/", {"max_order_quantity": "5", "allowed_exchanges": ["NSE", "NFO"],
                                         "square_off_on_kill": "on"})
    assert response.status_code == 302
    limits = RiskLimits.objects.get(user=user)
    assert (limits.max_order_quantity, limits.allowed_exchanges) == (Decimal(5), ["NSE", "NFO"])
    event = AuditEvent.objects.get(action="risk_limits_changed")
    assert event.actor == "trader" and event.detail["max_order_quantity"] == ["None", "5"]
    status, body = api_call("placeorder", **BUY_SBIN)
    assert (status, body["message"]) == (400, "Risk limit: quantity 10 exceeds the maximum of 5 per order")
    assert "Risk limit: quantity 10 exceeds" in signed_in.get("/risk/").content.decode()  # recent refusals


def test_a_bad_limit_is_refused_on_the_page_and_saves_nothing(signed_in, user):
    response = signed_in.post("/risk/", {"max_order_value": "-1", "price_band_percent": "abc"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Must be greater than zero" in text and "Enter a number." in text
    assert RiskLimits.objects.get(user=user).max_order_value is None
    assert not AuditEvent.objects.filter(action="risk_limits_changed").exists()


def test_the_kill_switch_by_hand_cancels_squares_off_and_resets(signed_in, user, api_call):
    api_call("placeorder", **BUY_SBIN)
    api_call("placeorder", **{**BUY_SBIN, "pricetype": "LIMIT", "price": "700"})
    response = signed_in.post("/risk/kill-switch/", {"action": "engage"}, follow=True)
    assert "Kill switch on: 1 order(s) cancelled, 1 position(s) squared off" in response.content.decode()
    assert RiskLimits.objects.get(user=user).kill_switch_engaged
    assert not SandboxOrder.objects.filter(status="open").exists()
    assert SandboxPosition.objects.get(symbol="SBIN").quantity == 0
    assert api_call("placeorder", **BUY_SBIN)[1]["message"].startswith("Kill switch is on")
    response = signed_in.post("/risk/kill-switch/", {"action": "reset"}, follow=True)
    assert "Kill switch reset" in response.content.decode()
    assert api_call("placeorder", **BUY_SBIN)[0] == 200
    actions = list(AuditEvent.objects.filter(action__startswith="kill_switch").values_list("action", "actor"))
    assert actions == [("kill_switch_engaged", "trader"), ("kill_switch_reset", "trader")]


def test_every_form_needs_its_csrf_token(user, market):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/risk/", {"max_order_quantity": "5"}).status_code == 403
    assert strict.post("/risk/kill-switch/", {"action": "engage"}).status_code == 403
    assert strict.post("/reconciliation/").status_code == 403
    assert not RiskLimits.objects.filter(max_order_quantity=5).exists()
    assert not Reconciliation.objects.exists()
    for path in ("/risk/", "/reconciliation/"):
        assert 'name="csrfmiddlewaretoken"' in strict.get(path).content.decode()


def test_reconcile_now_settles_an_unanswered_order_and_shows_it(signed_in, user, api_call):
    orderid = api_call("placeorder", **BUY_SBIN)[1]["orderid"]
    Order.objects.filter(broker_order_id=orderid).update(status=LedgerStatus.UNKNOWN, broker_order_id="")
    unknown = Order.objects.get(status=LedgerStatus.UNKNOWN)
    page = signed_in.get("/reconciliation/").content.decode()
    assert "Waiting for the broker" in page
    Order.objects.filter(pk=unknown.pk).update(created_at=unknown.created_at.replace(year=2025))  # past the grace
    response = signed_in.post("/reconciliation/", follow=True)
    text = response.content.decode()
    assert "sandbox: 1 unresolved order(s) checked, 1 corrected" in text
    assert f"Ledger #{unknown.pk} NSE:SBIN (order {orderid}): unknown → complete" in text
    unknown.refresh_from_db()
    assert (unknown.status, unknown.broker_order_id) == (LedgerStatus.COMPLETE, orderid)


def test_one_user_never_sees_anothers_limits_refusals_or_runs(signed_in, make_user, user):
    other = make_user("other")
    RiskLimits.objects.create(user=other, kill_switch_engaged=True, kill_switch_reason="other's secret reason")
    Order.objects.create(user=other, broker="sandbox", symbol="RELIANCE", exchange="NSE", action="BUY", quantity=1,
                         product="MIS", pricetype="MARKET", status=LedgerStatus.UNKNOWN, message="other's refusal")
    Reconciliation.objects.create(user=other, broker="sandbox", trigger="beat",
                                  differences=[{"kind": "not_in_ledger", "orderid": "999", "symbol": "RELIANCE"}])
    risk_page = signed_in.get("/risk/").content.decode()
    recon_page = signed_in.get("/reconciliation/").content.decode()
    assert "other's secret reason" not in risk_page and "RELIANCE" not in recon_page
    signed_in.post("/risk/kill-switch/", {"action": "reset"})
    assert RiskLimits.objects.get(user=other).kill_switch_engaged


def test_the_dashboard_shows_the_kill_switch_and_unanswered_orders(signed_in, user):
    card = 'data-testid="order-safety"'
    page = signed_in.get("/").content.decode()
    assert card in page and ">OK<" in page.split(card, 1)[1].split("</section>", 1)[0]
    RiskLimits.objects.create(user=user, kill_switch_engaged=True)
    Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY", quantity=1,
                         product="MIS", pricetype="MARKET", status=LedgerStatus.UNKNOWN)
    section = signed_in.get("/").content.decode().split(card, 1)[1].split("</section>", 1)[0]
    assert "Kill switch on" in section and "1 order awaiting the broker" in section
