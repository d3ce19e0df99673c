"""The GTT endpoints through HTTP against the sandbox: spec §5.9 bodies and codes, the
semi-auto and analyze rules of §2.9-2.10, and 501 from a broker without GTT."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from brokers.base import Capabilities
from brokers.enums import Exchange
from brokers.sandbox import clock
from brokers.sandbox.models import SandboxGtt, SandboxOrder
from orders import actioncenter, gtt
from orders.models import PendingOrder

SINGLE = {"strategy": "Python", "trigger_type": "SINGLE", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
          "product": "CNC", "quantity": "5", "pricetype": "LIMIT", "price": "751", "triggerprice_sl": "750",
          "triggerprice_tg": "0"}
OCO = {"strategy": "Python", "trigger_type": "OCO", "symbol": "SBIN", "exchange": "NSE", "action": "SELL",
       "product": "CNC", "quantity": "5", "pricetype": "LIMIT", "price": "0", "triggerprice_sl": "750",
       "stoploss": "749.5", "triggerprice_tg": "850", "target": "850.5"}


@pytest.fixture
def call(api_call, market, settings):
    settings.RATELIMIT_ENABLE = False
    return api_call


def place(call, body=SINGLE) -> str:
    status, answer = call("placegttorder", **body)
    assert status == 200, answer
    return answer["trigger_id"]


# --- placegttorder -----------------------------------------------------------------------------


def test_placegttorder_answers_the_trigger_id_and_audits_it(call, user):
    status, body = call("placegttorder", **SINGLE)
    assert status == 200
    assert body == {"status": "success", "trigger_id": body["trigger_id"]}
    assert len(body["trigger_id"]) == 14
    assert SandboxGtt.objects.get(trigger_id=body["trigger_id"]).user == user
    event = AuditEvent.objects.get(action="gtt_placed")
    assert (event.actor, event.subject, event.detail["trigger_id"]) == (user.username, "NSE:SBIN", body["trigger_id"])


def test_unknown_fields_are_ignored_and_empty_strings_mean_not_given(call):
    status, body = call("placegttorder", **{**SINGLE, "triggerprice_tg": "", "stoploss": "", "target": "",
                                            "last_price": "1", "surprise": True})
    assert status == 200, body
    stored = SandboxGtt.objects.get(trigger_id=body["trigger_id"])
    assert (stored.triggerprice_tg, stored.stoploss, stored.target, stored.last_price) == (0, None, None, 800)


def test_trigger_type_and_action_are_case_insensitive_and_pricetype_defaults_to_limit(call):
    body = {k: v for k, v in SINGLE.items() if k != "pricetype"}
    trigger_id = place(call, {**body, "trigger_type": "single", "action": "buy"})
    stored = SandboxGtt.objects.get(trigger_id=trigger_id)
    assert (stored.trigger_type, stored.action, stored.pricetype) == ("SINGLE", "BUY", "LIMIT")


@pytest.mark.parametrize(("change", "message"), [
    ({"product": "MIS"},
     "{'product': ['GTT supports only CNC (delivery) or NRML (overnight F&O); MIS is intraday-only.']}"),
    ({"triggerprice_sl": "0"}, "{'triggerprice_sl': ['SINGLE GTT requires a positive triggerprice_sl or "
                               "triggerprice_tg.']}"),
    ({"triggerprice_sl": "-1"}, "{'triggerprice_sl': ['triggerprice_sl must be non-negative.']}"),
    ({"quantity": "0"}, "{'quantity': ['Quantity must be a positive number.']}"),
    ({"quantity": "2.5"}, "{'quantity': ['Fractional quantity (2.5) is not allowed for non-crypto exchanges.']}"),
    ({"pricetype": "SL"}, "{'pricetype': ['Must be one of: LIMIT, MARKET.']}"),
    ({"trigger_type": "GTT"}, "{'trigger_type': [\"Must be 'SINGLE' or 'OCO'.\"]}"),
    ({"price": None}, "{'price': ['Field may not be null.']}"),
])
def test_placegttorder_field_errors_use_the_repr_style(call, change, message):
    status, body = call("placegttorder", **{**SINGLE, **change})
    assert (status, body) == (400, {"status": "error", "message": message})
    assert not SandboxGtt.objects.exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"target": ""}, "{'target': ['Required for OCO (target leg limit).']}"),
    ({"triggerprice_sl": "900"},
     "{'triggerprice_sl': ['Stoploss trigger must be less than target trigger (triggerprice_tg).']}"),
])
def test_an_oco_needs_four_positive_prices_in_order(call, change, message):
    assert call("placegttorder", **{**OCO, **change}) == (400, {"status": "error", "message": message})


def test_a_sandbox_refusal_is_a_400_with_its_text(call):
    status, body = call("placegttorder", **{**SINGLE, "symbol": "NOPE"})
    assert (status, body) == (400, {"status": "error", "message": "Symbol NOPE not found on NSE"})


# --- modifygttorder, cancelgttorder ------------------------------------------------------------


def test_modify_replaces_the_trigger_and_answers_its_id(call):
    trigger_id = place(call)
    status, body = call("modifygttorder", **{**SINGLE, "trigger_id": trigger_id, "triggerprice_sl": "740",
                                             "price": "741", "quantity": "3"})
    assert (status, body) == (200, {"status": "success", "trigger_id": trigger_id})
    stored = SandboxGtt.objects.get(trigger_id=trigger_id)
    assert (stored.triggerprice_sl, stored.price, stored.quantity) == (740, 741, 3)


def test_modify_cannot_switch_single_to_oco(call):
    trigger_id = place(call)
    status, body = call("modifygttorder", **{**OCO, "action": "BUY", "trigger_id": trigger_id})
    assert (status, body) == (400, {"status": "error", "message": "Cannot change a SINGLE GTT into OCO; "
                                                                  "cancel it and place a new one"})


def test_modify_without_a_last_price_is_a_502(call, market):
    trigger_id = place(call)
    market.ltp.pop("NSE:SBIN")
    status, body = call("modifygttorder", **{**SINGLE, "trigger_id": trigger_id})
    assert (status, body) == (502, {"status": "error", "message": "Failed to fetch last_price from broker quotes"})


def test_modify_or_cancel_of_an_unknown_trigger_is_404(call):
    assert call("modifygttorder", **{**SINGLE, "trigger_id": "1"}) == (
        404, {"status": "error", "message": "Trigger 1 not found"})
    assert call("cancelgttorder", strategy="P", trigger_id="1") == (
        404, {"status": "error", "message": "Trigger 1 not found"})


def test_cancel_answers_the_trigger_id_and_the_book_no_longer_lists_it(call):
    trigger_id = place(call)
    assert call("cancelgttorder", strategy="P", trigger_id=trigger_id, extra="ignored") == (
        200, {"status": "success", "trigger_id": trigger_id})
    assert call("gttorderbook") == (200, {"status": "success", "data": []})


def test_cancel_needs_a_trigger_id(call):
    assert call("cancelgttorder", strategy="P") == (
        400, {"status": "error", "message": "{'trigger_id': ['Missing data for required field.']}"})


# --- gttorderbook ------------------------------------------------------------------------------


def test_the_book_shows_active_triggers_in_the_spec_shape(call, monkeypatch):
    at = datetime.fromisoformat("2026-04-29T06:55:11+00:00")  # 12:25:11 IST
    monkeypatch.setattr(clock, "now", lambda: at)
    trigger_id = place(call, OCO)
    status, body = call("gttorderbook")
    assert status == 200
    assert body == {"status": "success", "data": [{
        "trigger_id": trigger_id, "trigger_type": "two-leg", "status": "active", "symbol": "SBIN", "exchange": "NSE",
        "trigger_prices": [750, 850], "last_price": 800,
        "legs": [{"action": "SELL", "quantity": 5, "price": 749.5, "pricetype": "LIMIT", "product": "CNC"},
                 {"action": "SELL", "quantity": 5, "price": 850.5, "pricetype": "LIMIT", "product": "CNC"}],
        "created_at": "2026-04-29 12:25:11", "updated_at": "", "expires_at": ""}]}


def test_book_errors_use_the_mapping_style(call):
    assert call("gttorderbook", apikey="") == (
        400, {"status": "error", "message": {"apikey": ["Missing data for required field."]}})


def test_a_fired_trigger_leaves_the_book_and_its_order_is_in_the_order_book(call, market):
    from brokers.sandbox.engine import FillEngine

    place(call)
    market.set("NSE:SBIN", "749")
    FillEngine().poll_once()
    assert call("gttorderbook")[1]["data"] == []
    orders = call("orderbook")[1]["data"]["orders"]
    assert [(o["symbol"], o["action"], o["quantity"]) for o in orders] == [("SBIN", "BUY", 5)]


# --- modes and capabilities --------------------------------------------------------------------


def test_semi_auto_queues_placegttorder_and_approval_places_it_once(call, user):
    user.order_mode = "semi_auto"
    user.save()
    status, body = call("placegttorder", **SINGLE)
    assert (status, body) == (200, {"status": "success", "message": "Order queued for approval in Action Center",
                                    "mode": "semi_auto", "pending_order_id": body["pending_order_id"]})
    assert not SandboxGtt.objects.exists()
    approved = actioncenter.approve(user=user, pending_id=body["pending_order_id"])
    assert approved.result == {"status": "success", "trigger_id": SandboxGtt.objects.get().trigger_id}
    assert actioncenter.approve(user=user, pending_id=body["pending_order_id"]) is None
    assert SandboxGtt.objects.count() == 1 and PendingOrder.objects.get().state == "approved"


def test_semi_auto_refuses_modify_and_cancel_with_the_reference_texts(call, user):
    trigger_id = place(call)
    user.order_mode = "semi_auto"
    user.save()
    assert call("modifygttorder", **{**SINGLE, "trigger_id": trigger_id}) == (403, {
        "status": "error", "message": "Modify GTT order is not allowed in Semi-Auto mode. Switch to Auto mode."})
    assert call("cancelgttorder", strategy="P", trigger_id=trigger_id) == (403, {
        "status": "error", "message": "Cancel GTT order is not allowed in Semi-Auto mode. Switch to Auto mode."})
    assert SandboxGtt.objects.get().status == "active"


def test_semi_auto_in_analyze_mode_allows_cancel(call, user):
    user.analyze_mode = True
    user.save()
    trigger_id = place(call)
    user.order_mode = "semi_auto"
    user.save()
    assert call("cancelgttorder", strategy="P", trigger_id=trigger_id) == (
        200, {"status": "success", "trigger_id": trigger_id, "mode": "analyze"})


def test_analyze_mode_answers_from_the_sandbox_with_mode_analyze_on_success_and_error(call, user):
    user.analyze_mode = True
    user.save()
    status, body = call("placegttorder", **SINGLE)
    assert (status, body) == (200, {"status": "success", "trigger_id": body["trigger_id"], "mode": "analyze"})
    assert call("placegttorder", **{**SINGLE, "product": "MIS"}) == (400, {
        "status": "error", "mode": "analyze",
        "message": "{'product': ['GTT supports only CNC (delivery) or NRML (overnight F&O); MIS is intraday-only.']}"})
    status, body = call("gttorderbook")
    assert status == 200 and body["mode"] == "analyze" and len(body["data"]) == 1


class NoGttBroker:
    name = "nogtt"
    capabilities = Capabilities(exchanges=frozenset({Exchange.NSE}), gtt=False)


@pytest.mark.parametrize(("endpoint", "body"), [
    ("placegttorder", SINGLE), ("modifygttorder", {**SINGLE, "trigger_id": "1"}),
    ("cancelgttorder", {"strategy": "P", "trigger_id": "1"}), ("gttorderbook", {}),
])
def test_a_broker_whose_capabilities_lack_gtt_answers_501(call, monkeypatch, endpoint, body):
    monkeypatch.setattr(gtt, "adapter_for", lambda user: NoGttBroker())
    assert call(endpoint, **body) == (
        501, {"status": "error", "message": "GTT orders are not supported for broker 'nogtt' yet"})
    assert not SandboxGtt.objects.exists() and not SandboxOrder.objects.exists()


def test_the_trigger_prices_are_decimals_end_to_end(call):
    trigger_id = place(call, {**SINGLE, "triggerprice_sl": "750.05", "price": "750.10"})
    stored = SandboxGtt.objects.get(trigger_id=trigger_id)
    assert (stored.triggerprice_sl, stored.price) == (Decimal("750.05"), Decimal("750.10"))


def test_the_order_a_fired_gtt_places_enters_the_ledger_and_the_order_stream(call, user, market,
                                                                             django_capture_on_commit_callbacks):
    from brokers.sandbox.engine import FillEngine
    from brokers.sandbox.tests.test_engine import tick
    from orders import events
    from orders.models import Order

    published = []
    trigger_id = place(call)
    market.set("NSE:SBIN", "749")
    original = events.publish_now
    events.publish_now = lambda user_id, message: published.append((user_id, message))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            FillEngine(keys_refresh_seconds=0).on_tick("NSE", "SBIN", tick("749"))
    finally:
        events.publish_now = original
    fired = SandboxGtt.objects.get(trigger_id=trigger_id)
    placed = SandboxOrder.objects.get(orderid=fired.orderid)
    row = Order.objects.get(broker_order_id=placed.orderid)
    assert (row.source, row.user, row.symbol, row.action, row.quantity, row.status) == (
        "gtt", user, "SBIN", "BUY", Decimal(5), placed.status)
    assert [e.to_status for e in row.events.all()] == [placed.status]
    assert [(uid, m["orderid"], m["order_status"]) for uid, m in published] == [
        (user.pk, placed.orderid, placed.status)]
