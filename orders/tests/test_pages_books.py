"""The books as pages (orders, trades, positions, holdings) and the dashboard: each renders
the signed-in user's own rows only, the actions really cancel and close in the sandbox
ledger through the API's path, CSV export, bad input answered 400/404 (never 500), CSRF."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from brokers.base import BrokerError
from brokers.sandbox.adapter import SandboxAdapter
from brokers.sandbox.models import SandboxOrder, SandboxPosition
from orders import book_views, pnl
from orders.models import Order, PnlSample
from orders.services import OrderPath, submit_order_request
from orders.tasks import sample_pnl

BUY_SBIN = {"strategy": "Page", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
            "pricetype": "MARKET", "product": "MIS"}
RESTING = {**BUY_SBIN, "quantity": "1", "pricetype": "LIMIT", "price": "700"}
BOOKS = ("/orders/", "/trades/", "/positions/", "/holdings/")
ACTIONS = ("/orders/cancel/", "/orders/cancel-all/", "/positions/close/", "/positions/close-all/")


@pytest.fixture
def signed_in(client, user, market):
    client.force_login(user)
    return client


@pytest.fixture
def other(make_user, market):
    """A second trader with an SBIN position and a resting RELIANCE order of their own."""
    someone = make_user("other")
    submit_order_request(user=someone, path=OrderPath.PLACE, data=order_data(BUY_SBIN))
    outcome = submit_order_request(user=someone, path=OrderPath.PLACE,
                                   data=order_data({**RESTING, "symbol": "RELIANCE", "price": "1400"}))
    someone.resting_orderid = outcome.body["orderid"]
    return someone


def order_data(fields: dict) -> dict:
    """An order request as the API's validation leaves it."""
    return {"strategy": fields["strategy"], "symbol": fields["symbol"], "exchange": fields["exchange"],
            "action": fields["action"], "quantity": Decimal(fields["quantity"]), "pricetype": fields["pricetype"],
            "product": fields["product"], "price": Decimal(fields.get("price", "0")), "trigger_price": Decimal(0),
            "disclosed_quantity": 0}


def place(api_call, **fields) -> str:
    status, body = api_call("placeorder", **fields)
    assert status == 200, body
    return body["orderid"]


def rows(page: str, testid: str, attribute: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"[^>]*?data-{attribute}="([^"]+)"', page)


def test_the_books_and_their_actions_need_a_signed_in_user(client, other):
    for path in BOOKS:
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path
    for path in ACTIONS:
        response = client.post(path, {"orderid": other.resting_orderid, "symbol": "SBIN", "exchange": "NSE",
                                      "product": "MIS"})
        assert response.status_code == 302 and response.url.startswith("/login/"), path
    assert SandboxOrder.objects.get(orderid=other.resting_orderid).status == "open"
    assert SandboxPosition.objects.get(user=other, symbol="SBIN").quantity == 10


def test_each_book_shows_the_users_own_rows_only(signed_in, api_call, other):
    filled = place(api_call, **BUY_SBIN)
    resting = place(api_call, **RESTING)
    orders = signed_in.get("/orders/").content.decode()
    assert sorted(rows(orders, "order-row", "orderid")) == sorted([filled, resting])
    assert other.resting_orderid not in orders
    assert orders.count('data-testid="cancel-order"') == 1  # only the working order can be cancelled
    trades = signed_in.get("/trades/").content.decode()
    assert rows(trades, "trade-row", "orderid") == [filled]
    positions = signed_in.get("/positions/").content.decode()
    assert rows(positions, "position-row", "symbol") == ["SBIN"] and "RELIANCE" not in positions
    assert 'data-testid="close-position"' in positions
    holdings = signed_in.get("/holdings/")
    assert holdings.status_code == 200 and "No holdings." in holdings.content.decode()


def test_the_table_fragment_is_what_htmx_refetches(signed_in, api_call):
    orderid = place(api_call, **RESTING)
    fragment = signed_in.get("/orders/", headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="book"')
    assert 'hx-trigger="oa:order_update from:document' in fragment and rows(fragment, "order-row", "orderid") == [
        orderid]


def test_cancel_an_order_cancels_it_in_the_sandbox_and_the_ledger(signed_in, api_call, user):
    orderid = place(api_call, **RESTING)
    response = signed_in.post("/orders/cancel/", {"orderid": orderid}, follow=True)
    assert response.status_code == 200 and f"Order {orderid} cancelled." in response.content.decode()
    assert SandboxOrder.objects.get(orderid=orderid).status == "cancelled"
    assert Order.objects.get(user=user, broker_order_id=orderid).status == "cancelled"
    event = AuditEvent.objects.get(action="web_cancelorder")
    assert event.actor == "trader" and event.detail["status"] == 200


def test_cancel_of_another_users_order_is_404_and_leaves_it_working(signed_in, other):
    response = signed_in.post("/orders/cancel/", {"orderid": other.resting_orderid})
    assert response.status_code == 404
    assert SandboxOrder.objects.get(orderid=other.resting_orderid).status == "open"


def test_cancel_with_a_bad_order_id_is_400_with_a_message(signed_in):
    response = signed_in.post("/orders/cancel/", {"orderid": "  "})
    assert response.status_code == 400 and "The order ID is missing" in response.content.decode()
    response = signed_in.post("/orders/cancel/", {"orderid": "x" * 65})
    assert response.status_code == 400
    assert signed_in.get("/orders/cancel/").status_code == 405


def test_cancel_all_cancels_every_working_order_of_the_user_only(signed_in, api_call, other):
    first, second = place(api_call, **RESTING), place(api_call, **{**RESTING, "price": "710"})
    response = signed_in.post("/orders/cancel-all/", follow=True)
    assert "Canceled 2 orders" in response.content.decode()
    assert set(SandboxOrder.objects.filter(orderid__in=[first, second]).values_list("status", flat=True)) == {
        "cancelled"}
    assert SandboxOrder.objects.get(orderid=other.resting_orderid).status == "open"


def test_close_a_position_sends_the_exit_through_the_smart_order_path(signed_in, api_call, user, other):
    place(api_call, **BUY_SBIN)
    place(api_call, **{**BUY_SBIN, "symbol": "RELIANCE"})
    response = signed_in.post("/positions/close/", {"symbol": "SBIN", "exchange": "NSE", "product": "MIS"},
                              follow=True)
    assert "Close NSE:SBIN MIS: exit order" in response.content.decode()
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 0
    assert SandboxPosition.objects.get(user=user, symbol="RELIANCE").quantity == 10  # the other one stays
    assert SandboxPosition.objects.get(user=other, symbol="SBIN").quantity == 10  # and so does theirs
    exit_order = Order.objects.get(user=user, symbol="SBIN", action="SELL")
    assert (exit_order.quantity, exit_order.source, exit_order.status) == (10, "smart", "complete")


def test_closing_a_position_the_user_does_not_have_sends_nothing(signed_in, user, other):
    response = signed_in.post("/positions/close/", {"symbol": "SBIN", "exchange": "NSE", "product": "MIS"},
                              follow=True)
    assert response.status_code == 200 and "no open position, nothing was sent" in response.content.decode()
    assert not Order.objects.filter(user=user).exists()
    assert SandboxPosition.objects.get(user=other, symbol="SBIN").quantity == 10


@pytest.mark.parametrize("fields", [{"symbol": "SBIN", "exchange": "NOPE", "product": "MIS"},
                                    {"symbol": "SBIN", "exchange": "NSE", "product": "X"},
                                    {"symbol": "", "exchange": "NSE", "product": "MIS"}, {}])
def test_close_with_bad_input_is_400_with_a_message(signed_in, fields):
    response = signed_in.post("/positions/close/", fields)
    assert response.status_code == 400
    assert "the symbol, exchange or product is not valid" in response.content.decode()


def test_close_all_squares_off_every_position_of_the_user(signed_in, api_call, user, other):
    place(api_call, **BUY_SBIN)
    place(api_call, **{**BUY_SBIN, "symbol": "RELIANCE", "action": "SELL"})
    response = signed_in.post("/positions/close-all/", follow=True)
    assert "Closed 2 positions" in response.content.decode()
    assert set(SandboxPosition.objects.filter(user=user).values_list("quantity", flat=True)) == {0}
    assert SandboxPosition.objects.get(user=other, symbol="SBIN").quantity == 10


def test_every_action_needs_its_csrf_token(user, api_call, market):
    resting = place(api_call, **RESTING)
    place(api_call, **BUY_SBIN)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/orders/cancel/", {"orderid": resting}).status_code == 403
    assert strict.post("/orders/cancel-all/").status_code == 403
    assert strict.post("/positions/close/", {"symbol": "SBIN", "exchange": "NSE", "product": "MIS"}
                       ).status_code == 403
    assert strict.post("/positions/close-all/").status_code == 403
    assert SandboxOrder.objects.get(orderid=resting).status == "open"
    assert SandboxPosition.objects.get(user=user, symbol="SBIN").quantity == 10
    # The page's own forms carry the token.
    page = strict.get("/orders/").content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2


def test_csv_export_has_the_apis_rows(signed_in, api_call, other):
    filled = place(api_call, **{**BUY_SBIN, "strategy": "=HYPERLINK(1)"})
    resting = place(api_call, **RESTING)
    response = signed_in.get("/orders/?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="orderbook-')
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    _status, api = api_call("orderbook")
    assert [row["orderid"] for row in table] == [o["orderid"] for o in api["data"]["orders"]]
    assert {row["orderid"] for row in table} == {filled, resting}
    by_id = {row["orderid"]: row for row in table}
    assert by_id[filled]["strategy"] == "'=HYPERLINK(1)"  # never run as a formula
    assert (by_id[resting]["price"], by_id[resting]["order_status"]) == ("700.0", "open")
    positions = list(csv.DictReader(io.StringIO(signed_in.get("/positions/?format=csv").content.decode())))
    assert [(p["symbol"], p["quantity"]) for p in positions] == [("SBIN", "10")]
    trades = signed_in.get("/trades/?format=csv").content.decode().splitlines()
    assert len(trades) == 2 and trades[0].startswith("orderid,symbol")
    holdings = signed_in.get("/holdings/?format=csv").content.decode().splitlines()
    assert holdings == ["symbol,exchange,product,quantity,average_price,ltp,current_value,pnl,pnlpercent"]


@pytest.mark.parametrize("query", ["?format=xml", "?page=0", "?page=abc", "?page=-1", "?page=99999999"])
def test_bad_query_parameters_are_400(signed_in, query):
    for path in BOOKS:
        assert signed_in.get(path + query).status_code == 400, path + query


def test_a_long_book_is_paginated_and_the_csv_has_every_row(signed_in, api_call, monkeypatch):
    monkeypatch.setattr(book_views, "PAGE_SIZE", 2)
    ids = [place(api_call, **{**RESTING, "price": str(700 + n)}) for n in range(3)]
    first = rows(signed_in.get("/orders/").content.decode(), "order-row", "orderid")
    second_page = signed_in.get("/orders/?page=2").content.decode()
    assert len(first) == 2 and rows(second_page, "order-row", "orderid") == [ids[0]]
    assert "Rows 3\u20133 of 3" in second_page
    assert len(signed_in.get("/orders/?format=csv").content.decode().splitlines()) == 4


def test_a_broker_failure_is_reported_never_a_500(signed_in, api_call, monkeypatch):
    orderid = place(api_call, **RESTING)

    def down(*args, **kwargs):
        raise BrokerError("connection reset by the broker")

    monkeypatch.setattr(SandboxAdapter, "order_book", down)
    monkeypatch.setattr(SandboxAdapter, "positions", down)
    page = signed_in.get("/orders/")
    assert page.status_code == 200 and "Your orders could not be read: the broker did not answer." in (
        page.content.decode())
    assert signed_in.get("/orders/?format=csv").status_code == 502
    dashboard = signed_in.get("/")
    assert dashboard.status_code == 200 and "Your account could not be read" in dashboard.content.decode()
    monkeypatch.setattr(SandboxAdapter, "cancel_order", down)
    response = signed_in.post("/orders/cancel/", {"orderid": orderid}, follow=True)
    assert response.status_code == 200 and f"Cancel order {orderid}:" in response.content.decode()
    assert SandboxOrder.objects.get(orderid=orderid).status == "open"


def test_the_dashboard_shows_funds_the_days_pnl_and_open_positions(signed_in, api_call, user, market):
    place(api_call, **BUY_SBIN)  # 10 at 800.05 (the ask)
    market.set("NSE:SBIN", "810")
    page = signed_in.get("/").content.decode()
    assert "Hello, trader" in page and 'data-testid="pnl-chart"' in page
    assert re.search(r'data-testid="day-pnl">₹99\.50<', page), page.split('data-testid="day-pnl"')[1][:80]
    assert 'data-testid="available-cash">₹' in page
    assert rows(page, "dashboard-position", "symbol") == ["SBIN"]
    sample = PnlSample.objects.get(user=user)
    assert sample.pnl == Decimal("99.5")
    assert 'id="pnl-samples"' in page and f'"time": {int(sample.at.timestamp())}' in page
    signed_in.get("/", headers={"HX-Request": "true"})  # the live re-fetch, within the minute
    assert PnlSample.objects.filter(user=user).count() == 1


def test_the_beat_samples_accounts_that_traded_today_and_forgets_old_samples(user, make_user, api_call, market):
    idle = make_user("idle")
    old = PnlSample.objects.create(user=idle, at=timezone.now() - timedelta(days=pnl.SAMPLE_DAYS + 1), pnl=5)
    place(api_call, **BUY_SBIN)
    assert sample_pnl() == 1
    assert list(PnlSample.objects.values_list("user__username", flat=True)) == ["trader"]
    assert not PnlSample.objects.filter(pk=old.pk).exists()
    assert sample_pnl() == 0  # at most one sample a minute
    later = timezone.now() + timedelta(minutes=1)
    assert pnl.sample_active_accounts(later) == 1
    assert [p["time"] for p in pnl.today(user, later)] == sorted(p["time"] for p in pnl.today(user, later))


def test_the_risk_page_shows_the_saved_exchanges_ticked(signed_in, user):
    signed_in.post("/risk/", {"allowed_exchanges": ["NSE", "NFO"], "allowed_products": ["MIS"]})
    page = signed_in.get("/risk/").content.decode()
    ticked = re.findall(r'name="(allowed_\w+)" value="(\w+)" checked', page)
    assert sorted(ticked) == [("allowed_exchanges", "NFO"), ("allowed_exchanges", "NSE"), ("allowed_products", "MIS")]
