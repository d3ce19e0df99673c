"""The trading pages: place, modify and cancel real sandbox orders from forms, the basket
builder, the options order form, and the Action Center with its semi-auto switch. Bad
input answers 400 with a message, another user's order is a 404, CSRF is enforced, and
every order goes through the service path (ledger rows, risk, idempotency, events)."""

from __future__ import annotations

import json
from decimal import Decimal
from unittest import mock

import pytest
from django.test import Client

from accounts.models import AuditEvent
from brokers.sandbox.models import SandboxOrder, SandboxPosition
from orders.models import LedgerStatus, Order, PendingOrder, RiskLimits

BUY_SBIN = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10", "pricetype": "MARKET",
            "product": "MIS", "price": "0", "trigger_price": "0", "disclosed_quantity": "0"}
LIMIT_SBIN = {**BUY_SBIN, "pricetype": "LIMIT", "price": "700"}
API_BUY = {"strategy": "Signals", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
           "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def signed_in(client, user, market):
    client.force_login(user)
    return client


def _place(client, **fields):
    return client.post("/place/", {**BUY_SBIN, **fields})


def _resting_order(client) -> str:
    response = _place(client, **LIMIT_SBIN, request_key="resting")
    assert response.status_code == 200, response.content.decode()
    return Order.objects.get(pricetype="LIMIT", status=LedgerStatus.OPEN).broker_order_id


def _semi_auto(user) -> None:
    type(user).objects.filter(pk=user.pk).update(order_mode="semi_auto")


# --- pages and access ------------------------------------------------------------------------


def test_the_pages_need_a_signed_in_user(client, db):
    for path in ("/place/", "/basket/", "/options/order/", "/action-center/", "/place/search/?q=SB"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path
    assert client.post("/place/", BUY_SBIN).status_code == 302
    assert not Order.objects.exists()


def test_the_place_order_page_renders_its_labelled_form(signed_in):
    page = signed_in.get("/place/?symbol=RELIANCE").content.decode()
    for text in ('<label class="text-sm font-medium" for="id_symbol">Symbol</label>', 'for="id_quantity">Quantity',
                 ">Place order</button>", 'name="request_key"', 'hx-get="/place/search/"', 'value="RELIANCE"'):
        assert text in page, text


# --- placing -----------------------------------------------------------------------------------


def test_a_market_order_from_the_form_fills_in_the_sandbox(signed_in, user):
    response = _place(signed_in, request_key="k1")
    assert response.status_code == 200
    order = Order.objects.get(user=user)
    assert (order.source, order.strategy, order.status) == ("web", "web", LedgerStatus.COMPLETE)
    page = response.content.decode()
    assert f'data-testid="placed-orderid">{order.broker_order_id}<' in page
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 10


def test_the_same_form_sent_twice_places_one_order(signed_in, user):
    first = _place(signed_in, request_key="double-click")
    second = _place(signed_in, request_key="double-click")
    assert first.status_code == second.status_code == 200
    order = Order.objects.get(user=user)
    assert f">{order.broker_order_id}<" in second.content.decode()
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 10


@pytest.mark.parametrize(("fields", "message"), [
    ({"quantity": "-1"}, "Ensure this value is greater than or equal to 0."),
    ({"quantity": "0"}, "Quantity must be a positive number."),
    ({"quantity": "1.5"}, "Fractional quantity (1.5) is not allowed for non-crypto exchanges."),
    ({"symbol": ""}, "This field is required."),
    ({"exchange": "NASDAQ"}, "Select a valid choice."),
    ({"pricetype": "LIMIT", "price": "0"}, "A LIMIT order needs a price above zero."),
    ({"pricetype": "SL-M", "trigger_price": ""}, "A SL-M order needs a trigger price above zero."),
    ({"quantity": "abc"}, "Enter a number."),
    ({"disclosed_quantity": "20"}, "Disclosed quantity cannot be more than the quantity."),
])
def test_bad_input_is_refused_with_a_message_and_nothing_is_sent(signed_in, fields, message):
    response = _place(signed_in, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists() and not SandboxOrder.objects.exists()


def test_an_unknown_symbol_is_the_brokers_refusal_on_the_form(signed_in):
    response = _place(signed_in, symbol="NOSUCHSYM")
    assert response.status_code == 400
    text = response.content.decode()
    assert 'data-testid="order-error"' in text and "NOSUCHSYM" in text
    assert not SandboxPosition.objects.filter(symbol="NOSUCHSYM").exists()


def test_a_risk_refusal_is_shown_with_a_400(signed_in, user):
    RiskLimits.objects.create(user=user, max_order_quantity=5)
    response = _place(signed_in, request_key="risky")
    assert response.status_code == 400
    assert "Risk limit: quantity 10 exceeds the maximum of 5 per order" in response.content.decode()
    assert not SandboxOrder.objects.exists()
    # The refused form comes back with a fresh key: the corrected order goes through.
    assert 'value="risky"' not in response.content.decode()
    assert _place(signed_in, quantity="5", request_key="fixed").status_code == 200
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 5


def test_symbol_search_lists_a_few_matches_to_pick(signed_in):
    page = signed_in.get("/place/search/", {"symbol": "SBI"}).content.decode()
    assert 'data-pick-symbol="SBIN" data-pick-exchange="NSE"' in page
    assert 'data-pick-symbol="SBIN" data-pick-exchange="BSE"' in page
    assert "RELIANCE" not in page
    assert "data-pick-symbol" not in signed_in.get("/place/search/", {"symbol": ""}).content.decode()
    assert "No symbol matches" in signed_in.get("/place/search/", {"q": "ZZZZ"}).content.decode()


# --- modify and cancel -------------------------------------------------------------------------


def test_modify_a_resting_order(signed_in, user):
    orderid = _resting_order(signed_in)
    page = signed_in.get(f"/orders/{orderid}/modify/")
    assert page.status_code == 200 and "Modify order" in page.content.decode()
    response = signed_in.post(f"/orders/{orderid}/modify/", {"quantity": "5", "pricetype": "LIMIT", "price": "710",
                                                             "trigger_price": "0", "disclosed_quantity": "0"})
    assert response.status_code == 302
    order = Order.objects.get(broker_order_id=orderid)
    assert (order.quantity, order.price) == (Decimal(5), Decimal(710))
    resting = SandboxOrder.objects.get(orderid=orderid)
    assert (resting.quantity, resting.price) == (Decimal(5), Decimal(710))
    assert AuditEvent.objects.filter(action="order_modified", actor="trader").exists()


def test_a_bad_modify_is_a_400_and_changes_nothing(signed_in):
    orderid = _resting_order(signed_in)
    response = signed_in.post(f"/orders/{orderid}/modify/", {"quantity": "0", "pricetype": "LIMIT", "price": "710"})
    assert response.status_code == 400 and "Quantity must be a positive number." in response.content.decode()
    assert SandboxOrder.objects.get(orderid=orderid).price == Decimal(700)


def test_cancel_a_resting_order(signed_in):
    orderid = _resting_order(signed_in)
    response = signed_in.post(f"/orders/{orderid}/cancel/")
    assert response.status_code == 302
    assert Order.objects.get(broker_order_id=orderid).status == LedgerStatus.CANCELLED
    assert SandboxOrder.objects.get(orderid=orderid).status == "cancelled"
    again = signed_in.post(f"/orders/{orderid}/cancel/")
    assert again.status_code == 400 and "only a working order can be changed" in again.content.decode()


def test_another_users_order_is_a_404(signed_in, make_user, market):
    other = make_user("other")
    theirs = Client()
    theirs.force_login(other)
    orderid = _resting_order(theirs)
    assert signed_in.get(f"/orders/{orderid}/modify/").status_code == 404
    assert signed_in.post(f"/orders/{orderid}/modify/", {"quantity": "1", "pricetype": "LIMIT",
                                                         "price": "1"}).status_code == 404
    assert signed_in.post(f"/orders/{orderid}/cancel/").status_code == 404
    assert signed_in.get("/orders/no-such-order/modify/").status_code == 404
    resting = SandboxOrder.objects.get(orderid=orderid)
    assert (resting.status, resting.quantity, resting.price) == ("open", Decimal(10), Decimal(700))


def test_every_trading_form_needs_its_csrf_token(user, market):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/place/", BUY_SBIN).status_code == 403
    assert strict.post("/basket/", {"legs": json.dumps([BUY_SBIN])}).status_code == 403
    assert strict.post("/options/order/", {"underlying": "NFO:NIFTY"}).status_code == 403
    assert strict.post("/action-center/mode/", {"semi_auto": "on"}).status_code == 403
    assert strict.post("/action-center/approve-all/").status_code == 403
    assert not Order.objects.exists()
    user.refresh_from_db()
    assert user.order_mode == "auto"
    for path in ("/place/", "/basket/", "/options/order/", "/action-center/"):
        assert 'name="csrfmiddlewaretoken"' in strict.get(path).content.decode(), path


def test_cancel_needs_its_csrf_token(user, market):
    loose = Client()
    loose.force_login(user)
    orderid = _resting_order(loose)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post(f"/orders/{orderid}/cancel/").status_code == 403
    assert SandboxOrder.objects.get(orderid=orderid).status == "open"


# --- basket ------------------------------------------------------------------------------------


def test_a_basket_places_every_leg_and_shows_each_result(signed_in, user):
    legs = [{**BUY_SBIN, "action": "SELL", "quantity": "3"}, {**BUY_SBIN, "symbol": "RELIANCE", "quantity": 2},
            {**BUY_SBIN, "symbol": "NOSUCHSYM"}]
    response = signed_in.post("/basket/", {"legs": json.dumps(legs), "request_key": "b1"})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('data-testid="basket-result"') == 3 and "refused" in page
    orders = Order.objects.filter(user=user, strategy="web").order_by("request_item")
    assert [(o.symbol, o.action, o.quantity) for o in orders if o.status == LedgerStatus.COMPLETE] == [
        ("RELIANCE", "BUY", Decimal(2)), ("SBIN", "SELL", Decimal(3))]
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == -3
    # The same basket sent again (a reload) is answered, not placed twice.
    signed_in.post("/basket/", {"legs": json.dumps(legs), "request_key": "b1"})
    assert SandboxPosition.objects.get(user=user, symbol="RELIANCE").quantity == 2


@pytest.mark.parametrize(("legs", "message"), [
    ("", "Add at least one leg to the basket."),
    ("[]", "Add at least one leg to the basket."),
    ("{not json", "The basket could not be read"),
    ('{"symbol": "SBIN"}', "The basket could not be read"),
    (json.dumps([BUY_SBIN, {**BUY_SBIN, "quantity": "-4"}]), "Leg 2 (SBIN): quantity: Quantity must be a positive"),
    (json.dumps([{**BUY_SBIN, "exchange": "XYZ"}]), "Leg 1 (SBIN): exchange:"),
    (json.dumps([BUY_SBIN] * 51), "A basket holds at most 50 legs."),
])
def test_a_bad_basket_is_a_400_and_places_nothing(signed_in, legs, message):
    response = signed_in.post("/basket/", {"legs": legs})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Order.objects.exists()


# --- options -----------------------------------------------------------------------------------


def test_the_options_form_offers_underlyings_and_expiries(signed_in):
    page = signed_in.get("/options/order/").content.decode()
    assert '<option value="NFO:NIFTY"' in page and '<option value="29-DEC-26"' in page
    assert "ITM3" in page and "OTM3" in page
    fragment = signed_in.get("/options/order/expiries/", {"underlying": "NFO:NIFTY"}).content.decode()
    assert '<option value="29-DEC-26">29 Dec 2026</option>' in fragment
    assert "No expiries" in signed_in.get("/options/order/expiries/", {"underlying": "junk"}).content.decode()


def test_an_options_order_in_lots_resolves_and_places_the_contract(signed_in, user):
    response = signed_in.post("/options/order/", {
        "underlying": "NFO:NIFTY", "expiry": "29-DEC-26", "offset": "ATM", "option_type": "CE", "action": "BUY",
        "lots": "2", "product": "NRML", "pricetype": "MARKET", "request_key": "o1"})
    assert response.status_code == 200, response.content.decode()
    order = Order.objects.get(user=user)
    assert (order.symbol, order.exchange, order.quantity, order.strategy) == (
        "NIFTY29DEC2626000CE", "NFO", Decimal(130), "web")
    page = response.content.decode()
    assert 'data-testid="options-symbol">NIFTY29DEC2626000CE<' in page
    assert f'data-testid="placed-orderid">{order.broker_order_id}<' in page
    assert SandboxPosition.objects.get(user=user, symbol="NIFTY29DEC2626000CE").quantity == 130


@pytest.mark.parametrize(("fields", "message"), [
    ({"expiry": "30-JAN-27"}, "Select a valid choice."),
    ({"underlying": "NFO:NOPE"}, "Select a valid choice."),
    ({"lots": "0"}, "Ensure this value is greater than or equal to 1."),
    ({"offset": "OTM5"}, "out of range"),
    ({"pricetype": "LIMIT"}, "A LIMIT order needs a price above zero."),
])
def test_a_bad_options_order_is_a_400(signed_in, fields, message):
    response = signed_in.post("/options/order/", {
        "underlying": "NFO:NIFTY", "expiry": "29-DEC-26", "offset": "ATM", "option_type": "CE", "action": "BUY",
        "lots": "1", "product": "MIS", "pricetype": "MARKET", **fields})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SandboxOrder.objects.exists()


# --- Action Center -----------------------------------------------------------------------------


def test_the_semi_auto_switch_is_saved_and_audited(signed_in, user):
    page = signed_in.get("/action-center/").content.decode()
    assert "<span>Semi-auto</span>" in page and 'name="semi_auto"' in page and " checked" not in page
    response = signed_in.post("/action-center/mode/", {"semi_auto": "on"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and " checked" in response.content.decode()
    user.refresh_from_db()
    assert user.order_mode == "semi_auto"
    assert signed_in.post("/action-center/mode/", {}).status_code == 302
    user.refresh_from_db()
    assert user.order_mode == "auto"
    events = list(AuditEvent.objects.filter(action="order_mode_changed").values_list("actor", "detail"))
    assert events == [("trader", {"order_mode": "semi_auto"}), ("trader", {"order_mode": "auto"})]


def test_a_web_order_in_semi_auto_waits_for_approval(signed_in, user):
    _semi_auto(user)
    response = _place(signed_in, request_key="queued")
    assert response.status_code == 200 and 'data-testid="queued"' in response.content.decode()
    assert not Order.objects.exists()
    assert PendingOrder.objects.get(user=user).payload["strategy"] == "web"


def test_approve_places_exactly_one_order_and_records_who_and_when(signed_in, user, api_call):
    _semi_auto(user)
    status, body = api_call("placeorder", **API_BUY)
    assert status == 200 and body["mode"] == "semi_auto"
    pending_id = body["pending_order_id"]
    page = signed_in.get("/action-center/").content.decode()
    assert page.count('data-testid="pending-row"') == 1 and "BUY 10 NSE:SBIN" in page
    for name in (">Approve<", ">Reject<", ">Delete<", ">Approve all<"):
        assert name in page, name

    response = signed_in.post(f"/action-center/{pending_id}/approve/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "approved: Order" in response.content.decode()
    again = signed_in.post(f"/action-center/{pending_id}/approve/", HTTP_HX_REQUEST="true")
    assert "was already approved by trader" in again.content.decode()
    assert Order.objects.filter(user=user).count() == 1
    assert Order.objects.get(user=user).status == LedgerStatus.COMPLETE
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 10
    pending = PendingOrder.objects.get(pk=pending_id)
    assert (pending.state, pending.decided_by) == ("approved", "trader") and pending.decided_at is not None
    event = AuditEvent.objects.get(action="pending_order_approved")
    assert (event.actor, event.subject) == ("trader", f"pending order #{pending_id}")
    assert event.detail["result"]["orderid"] == Order.objects.get(user=user).broker_order_id
    page = signed_in.get("/action-center/table/").content.decode()
    assert 'data-testid="pending-row"' not in page and 'data-testid="decided-row"' in page


def test_reject_and_delete_place_nothing_and_are_recorded(signed_in, user, api_call):
    _semi_auto(user)
    first = api_call("placeorder", **API_BUY)[1]["pending_order_id"]
    second = api_call("placeorder", **API_BUY)[1]["pending_order_id"]
    assert signed_in.post(f"/action-center/{first}/reject/").status_code == 302
    assert signed_in.post(f"/action-center/{second}/delete/").status_code == 302
    assert signed_in.post(f"/action-center/{first}/approve/").status_code == 302  # already rejected: nothing
    assert not Order.objects.exists() and not SandboxOrder.objects.exists()
    states = dict(PendingOrder.objects.values_list("pk", "state"))
    assert states == {first: "rejected", second: "deleted"}
    assert set(AuditEvent.objects.filter(action__startswith="pending_order_").values_list("action", "actor")) == {
        ("pending_order_rejected", "trader"), ("pending_order_deleted", "trader")}


def test_approve_all_places_each_waiting_order_once(signed_in, user, api_call):
    _semi_auto(user)
    for quantity in ("1", "2", "3"):
        api_call("placeorder", **{**API_BUY, "quantity": quantity})
    response = signed_in.post("/action-center/approve-all/", follow=True)
    assert "3 pending order(s) approved, 3 placed." in response.content.decode()
    assert sorted(Order.objects.filter(user=user).values_list("quantity", flat=True)) == [1, 2, 3]
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 6
    signed_in.post("/action-center/approve-all/")
    assert Order.objects.filter(user=user).count() == 3
    assert AuditEvent.objects.filter(action="pending_order_approved").count() == 3


def test_another_users_pending_order_is_a_404(signed_in, user, make_user):
    other = make_user("other")
    theirs = PendingOrder.objects.create(user=other, endpoint="placeorder", strategy="x",
                                         payload={**API_BUY, "price": "0", "trigger_price": "0",
                                                  "disclosed_quantity": 0})
    for decision in ("approve", "reject", "delete"):
        assert signed_in.post(f"/action-center/{theirs.pk}/{decision}/").status_code == 404
    signed_in.post("/action-center/approve-all/")
    assert "pending-row" not in signed_in.get("/action-center/table/").content.decode()
    theirs.refresh_from_db()
    assert theirs.state == "pending" and not Order.objects.exists()


def test_queueing_and_every_decision_tell_the_users_tabs_after_commit(
        signed_in, user, api_call, django_capture_on_commit_callbacks):
    _semi_auto(user)
    with mock.patch("core.uievents.publish") as publish:
        with django_capture_on_commit_callbacks(execute=True):
            ids = [api_call("placeorder", **API_BUY)[1]["pending_order_id"] for _ in range(4)]
        assert publish.call_args_list[0] == mock.call(user.pk, "pending_order_created", {
            "pending_order_id": ids[0], "user_id": user.pk, "api_type": "placeorder",
            "message": "New placeorder order queued for approval"})
        assert publish.call_count == 4
        publish.reset_mock()
        with django_capture_on_commit_callbacks(execute=True):
            signed_in.post(f"/action-center/{ids[0]}/approve/")
            signed_in.post(f"/action-center/{ids[1]}/reject/")
            signed_in.post(f"/action-center/{ids[2]}/delete/")
            signed_in.post("/action-center/approve-all/")
        assert publish.call_args_list == [
            mock.call(user.pk, "pending_order_updated", {"action": "approved", "order_id": ids[0], "user_id": user.pk}),
            mock.call(user.pk, "pending_order_updated", {"action": "rejected", "order_id": ids[1], "user_id": user.pk}),
            mock.call(user.pk, "pending_order_updated", {"action": "deleted", "order_id": ids[2], "user_id": user.pk}),
            mock.call(user.pk, "pending_order_updated", {"action": "batch_approved", "user_id": user.pk, "count": 1}),
        ]


def test_the_event_is_not_sent_before_the_queueing_commits(user, market, api_call):
    _semi_auto(user)
    with mock.patch("core.uievents.publish") as publish:
        api_call("placeorder", **API_BUY)  # the test's transaction never commits
    assert publish.call_count == 0
    assert PendingOrder.objects.filter(user=user).count() == 1


def test_the_table_refetches_itself_on_the_action_center_events(signed_in):
    page = signed_in.get("/action-center/").content.decode()
    assert 'hx-get="/action-center/table/"' in page
    assert "oa:pending_order_created from:document, oa:pending_order_updated from:document" in page


def test_cancel_in_semi_auto_is_refused_on_the_page(signed_in, user):
    orderid = _resting_order(signed_in)
    _semi_auto(user)
    response = signed_in.post(f"/orders/{orderid}/cancel/")
    assert response.status_code == 400
    assert "Cancel order operation is not allowed in Semi-Auto mode" in response.content.decode()
    assert SandboxOrder.objects.get(orderid=orderid).status == "open"


def test_the_order_pages_say_when_semi_auto_is_on(signed_in, user):
    assert 'data-testid="semi-auto-note"' not in signed_in.get("/place/").content.decode()
    _semi_auto(user)
    for path in ("/place/", "/basket/", "/options/order/"):
        assert 'data-testid="semi-auto-note"' in signed_in.get(path).content.decode(), path


def test_a_one_letter_search_waits_for_the_second(signed_in):
    assert "data-pick-symbol" not in signed_in.get("/place/search/", {"symbol": "S"}).content.decode()
    assert "data-pick-symbol" in signed_in.get("/place/search/", {"symbol": "SB"}).content.decode()


def test_web_baskets_and_options_queued_in_semi_auto_are_placed_on_approval(signed_in, user):
    _semi_auto(user)
    legs = [BUY_SBIN, {**BUY_SBIN, "symbol": "RELIANCE", "quantity": "2"}]
    assert 'data-testid="queued"' in signed_in.post("/basket/", {"legs": json.dumps(legs)}).content.decode()
    response = signed_in.post("/options/order/", {
        "underlying": "NFO:NIFTY", "expiry": "29-DEC-26", "offset": "ATM", "option_type": "CE", "action": "BUY",
        "lots": "1", "product": "NRML", "pricetype": "MARKET"})
    assert 'data-testid="queued"' in response.content.decode()
    assert not Order.objects.exists()
    page = signed_in.get("/action-center/table/").content.decode()
    assert "2 leg(s): BUY 10 SBIN, BUY 2 RELIANCE" in page and "BUY 65 NIFTY 29-DEC-26 ATM CE" in page
    response = signed_in.post("/action-center/approve-all/", follow=True)
    assert "2 pending order(s) approved, 2 placed." in response.content.decode()
    positions = dict(SandboxPosition.objects.filter(user=user).values_list("symbol", "quantity"))
    assert positions == {"SBIN": 10, "RELIANCE": 2, "NIFTY29DEC2626000CE": 65}
    assert "2/2 placed" in signed_in.get("/action-center/table/").content.decode()  # the basket's result


def test_while_the_first_answer_is_unknown_the_form_keeps_its_key(signed_in):
    from orders.services import OrderOutcome

    pending = OrderOutcome(409, {"status": "error", "message": "in progress"}, {"Retry-After": "1"})
    with mock.patch("orders.services.submit_order_request", return_value=pending) as submit:
        response = _place(signed_in, request_key="first-click")
    assert submit.call_args.kwargs["idempotency_key"] == "web:first-click"
    assert submit.call_args.kwargs["source"] == "web"
    text = response.content.decode()
    assert response.status_code == 400 and "already sent and its answer is not known yet" in text
    assert 'value="first-click"' in text  # sending it again can only replay the first answer
