"""Order information and account endpoints through HTTP (spec §6, §10.2-10.3)."""

from __future__ import annotations

import re

import pytest

BUY = {"strategy": "Python", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
       "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def call(api_call, market):
    return api_call


def test_orderstatus_of_a_filled_market_order(call):
    _, placed = call("placeorder", **BUY)
    status, body = call("orderstatus", strategy="Python", orderid=placed["orderid"])
    assert status == 200
    data = body["data"]
    assert {k: data[k] for k in ("orderid", "symbol", "exchange", "action", "quantity", "price", "pricetype",
                                 "product", "order_status", "average_price")} == {
        "orderid": placed["orderid"], "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 10,
        "price": 0.0, "pricetype": "MARKET", "product": "MIS", "order_status": "complete", "average_price": 800.05}
    assert re.fullmatch(r"\d\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d", data["timestamp"])
    assert (data["filled_quantity"], data["pending_quantity"], data["strategy"]) == (10, 0, "Python")


def test_orderstatus_of_an_unknown_order_is_404(call):
    assert call("orderstatus", strategy="P", orderid="99") == (404, {"status": "error",
                                                                     "message": "Order 99 not found"})


def test_orderbook_lists_todays_orders_newest_first_with_statistics(call):
    _, first = call("placeorder", **BUY)
    _, second = call("placeorder", **{**BUY, "action": "SELL", "pricetype": "LIMIT", "price": "900"})
    status, body = call("orderbook")
    assert status == 200
    orders = body["data"]["orders"]
    assert [o["orderid"] for o in orders] == [second["orderid"], first["orderid"]]
    assert orders[0]["order_status"] == "open" and orders[0]["price"] == 900.0
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", orders[0]["timestamp"])
    assert body["data"]["statistics"] == {
        "total_buy_orders": 1, "total_sell_orders": 1, "total_completed_orders": 1, "total_open_orders": 1,
        "total_rejected_orders": 0, "total_trigger_pending_orders": 0}


def test_tradebook_has_one_row_per_fill_with_its_value(call):
    _, placed = call("placeorder", **BUY)
    _status, body = call("tradebook")
    (row,) = body["data"]
    assert (row["orderid"], row["quantity"], row["average_price"], row["trade_value"]) == (
        placed["orderid"], 10, 800.05, 8000.5)


def test_positionbook_marks_open_positions_to_the_market(call, market):
    call("placeorder", **BUY)
    market.set("NSE:SBIN", "810")
    _status, body = call("positionbook")
    (row,) = body["data"]
    assert (row["symbol"], row["quantity"], row["average_price"], row["ltp"]) == ("SBIN", 10, "800.05", 810.0)
    assert row["pnl"] == 99.5
    assert body["total_unrealized_pnl"] == 99.5


def test_funds_gives_the_five_keys_as_two_decimal_strings(call):
    _status, body = call("funds")
    data = body["data"]
    assert {k: data[k] for k in ("availablecash", "collateral", "m2mrealized", "m2munrealized",
                                 "utiliseddebits")} == {
        "availablecash": "10000000.00", "collateral": "0.00", "m2mrealized": "0.00", "m2munrealized": "0.00",
        "utiliseddebits": "0.00"}
    call("placeorder", **BUY)
    data = call("funds")[1]["data"]
    assert data["utiliseddebits"] == "1600.10" and data["availablecash"] == "9998399.90"


def test_holdings_are_empty_for_a_new_account(call):
    status, body = call("holdings")
    assert (status, body["data"]["holdings"]) == (200, [])
    assert body["data"]["statistics"]["totalholdingvalue"] == 0.0


def test_book_errors_use_the_mapping_style(post_json, api_key, market):
    response = post_json("/api/v1/funds", {"apikey": api_key, "extra": 1})
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": {"extra": ["Unknown field."]}}


def test_margin_from_the_sandbox_leverage_table(call):
    status, body = call("margin", positions=[
        {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS", "pricetype": "LIMIT",
         "quantity": "10", "price": "800"},
        {"symbol": "NIFTY29DEC26FUT", "exchange": "NFO", "action": "SELL", "product": "NRML",
         "pricetype": "LIMIT", "quantity": "65", "price": "26000"}])
    assert status == 200
    assert body["data"]["total_margin_required"] == 1600 + 26000 * 65 / 10


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        ([], "{'positions': ['Positions must contain 1 to 50 items.']}"),
        ([{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS", "pricetype": "STOP",
           "quantity": "1"}], "Position 1: Invalid price type. Must be one of: MARKET, LIMIT, SL, SL-M"),
        ([{"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "product": "MIS", "pricetype": "MARKET",
           "quantity": "0"}], "Position 1: Quantity must be a positive integer"),
    ],
)
def test_margin_rejects_bad_positions(call, positions, message):
    status, body = call("margin", positions=positions)
    assert (status, body) == (400, {"status": "error", "message": message})


def test_analyzer_toggle_switches_the_mode_and_routes_orders_to_the_paper_engine(call, user):
    assert call("analyzer")[1]["data"] == {"mode": "live", "analyze_mode": False, "total_logs": 0}
    status, body = call("analyzer/toggle", mode=True)
    assert status == 200
    assert body["data"] == {"mode": "analyze", "analyze_mode": True, "total_logs": 0,
                            "message": "Analyzer mode switched to analyze"}
    user.refresh_from_db()
    assert user.analyze_mode is True
    assert call("funds")[1]["mode"] == "analyze"
    assert call("analyzer/toggle", mode="false")[1]["data"]["mode"] == "live"
    status, body = call("analyzer/toggle", mode="maybe")
    assert status == 400 and "Not a valid boolean." in body["message"]


def test_one_users_key_never_sees_another_users_orders(call, make_user, post_json):
    from accounts.services import create_api_key

    _, placed = call("placeorder", **BUY)
    other_key = create_api_key(user=make_user(username="other"))
    response = post_json("/api/v1/orderbook", {"apikey": other_key})
    assert response.json()["data"]["orders"] == []
    response = post_json("/api/v1/orderstatus", {"apikey": other_key, "strategy": "x", "orderid": placed["orderid"]})
    assert response.status_code == 404
    response = post_json("/api/v1/cancelorder", {"apikey": other_key, "strategy": "x", "orderid": placed["orderid"]})
    assert response.status_code == 404
