"""The orders API through HTTP against the sandbox: spec §5 shapes, codes and messages."""

from __future__ import annotations

import re

import pytest

from brokers.sandbox.models import SandboxOrder
from orders.models import LedgerStatus, Order, PendingOrder


@pytest.fixture
def call(api_call, market):
    return api_call


BUY_SBIN = {"strategy": "Python", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
            "pricetype": "MARKET", "product": "MIS", "price": "0", "trigger_price": "0",
            "disclosed_quantity": "0"}


def test_placeorder_answers_the_orderid_and_writes_the_ledger(call, user):
    status, body = call("placeorder", **BUY_SBIN)
    assert status == 200
    assert set(body) == {"status", "orderid"} and body["status"] == "success"
    assert re.fullmatch(r"\d{14}", body["orderid"])
    ledger = Order.objects.get(broker_order_id=body["orderid"])
    assert (ledger.user, ledger.status, ledger.strategy) == (user, LedgerStatus.COMPLETE, "Python")
    assert [e.to_status for e in ledger.events.all()] == ["submitting", "complete"]


def test_placeorder_with_the_trailing_slash_and_lower_case_action(call, post_json, api_key):
    response = post_json("/api/v1/placeorder/", {**BUY_SBIN, "apikey": api_key, "action": "buy"})
    assert response.status_code == 200 and response.json()["status"] == "success"


def test_a_sandbox_rejection_is_a_400_with_its_text_and_a_rejected_ledger_row(call):
    status, body = call("placeorder", **{**BUY_SBIN, "symbol": "NOPE"})
    assert (status, body) == (400, {"status": "error", "message": "Symbol NOPE not found on NSE"})
    ledger = Order.objects.get()
    assert (ledger.status, ledger.message) == (LedgerStatus.REJECTED, "Symbol NOPE not found on NSE")


def test_a_cnc_sell_without_holdings_answers_400_with_the_orderid(call):
    status, body = call("placeorder", **{**BUY_SBIN, "action": "SELL", "product": "CNC"})
    assert status == 400
    assert body["status"] == "error" and body["message"].startswith("Cannot sell")
    assert SandboxOrder.objects.get(orderid=body["orderid"]).status == "rejected"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": "0"}, "{'quantity': ['Quantity must be a positive number.']}"),
        ({"quantity": "10.5"}, "{'quantity': ['Fractional quantity (10.5) is not allowed for non-crypto exchanges.']}"),
        ({"price": "-1"}, "{'price': ['Price must be a non-negative number.']}"),
        ({"exchange": "nse"}, None),
        ({"price_type": "LIMIT"}, "{'price_type': ['Unknown field.']}"),
        ({"symbol": None}, "{'symbol': ['Field may not be null.']}"),
        ({"quantity": "ten"}, "{'quantity': ['Not a valid number.']}"),
        ({"disclosed_quantity": "1.5"}, "{'disclosed_quantity': ['Not a valid integer.']}"),
    ],
)
def test_placeorder_field_errors_use_the_repr_style(call, change, message):
    status, body = call("placeorder", **{**BUY_SBIN, **change})
    assert status == 400 and body["status"] == "error"
    assert isinstance(body["message"], str)
    if message:
        assert body["message"] == message
    assert not Order.objects.exists()


def test_a_wrong_key_is_403_with_the_spec_body(post_json, market):
    response = post_json("/api/v1/placeorder", {**BUY_SBIN, "apikey": "0" * 64})
    assert (response.status_code, response.json()) == (403, {"status": "error", "message": "Invalid openalgo apikey"})


def test_in_analyze_mode_responses_and_errors_carry_mode_analyze(call, user):
    user.analyze_mode = True
    user.save()
    status, body = call("placeorder", **BUY_SBIN)
    assert status == 200 and body["mode"] == "analyze"
    status, body = call("placeorder", **{**BUY_SBIN, "quantity": "0"})
    assert status == 400 and body["mode"] == "analyze"
    status, body = call("analyzer")
    assert body["data"]["total_logs"] == 2


# --- smart orders ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("current", "action", "quantity", "position_size", "expected"),
    [
        (0, "BUY", 100, 0, ("BUY", 100)),
        (-100, "BUY", 100, 100, ("BUY", 200)),
        (100, "BUY", 100, 100, None),
        (100, "BUY", 100, 200, ("BUY", 100)),
        (100, "SELL", 100, -100, ("SELL", 200)),
        (-100, "SELL", 100, -200, ("SELL", 100)),
        (50, "BUY", 0, 0, ("SELL", 50)),
    ],
)
def test_smart_orders_follow_the_position_table(call, current, action, quantity, position_size, expected):
    if current:
        call("placeorder", **{**BUY_SBIN, "action": "BUY" if current > 0 else "SELL", "quantity": str(abs(current))})
    status, body = call("placesmartorder", **{**BUY_SBIN, "action": action, "quantity": str(quantity),
                                               "position_size": str(position_size)})
    assert status == 200
    if expected is None:
        assert body == {"status": "success", "message": "Positions Already Matched. No Action needed."}
        return
    placed = SandboxOrder.objects.get(orderid=body["orderid"])
    assert (placed.action, int(placed.quantity)) == expected
    status, body = call("openposition", strategy="x", symbol="SBIN", exchange="NSE", product="MIS")
    final = position_size if not (position_size == 0 and current == 0) else quantity
    assert body == {"status": "success", "quantity": final}


def test_a_smart_exit_with_nothing_open_places_nothing(call):
    _status, body = call("placesmartorder", **{**BUY_SBIN, "quantity": "0", "position_size": "0"})
    assert body == {"status": "success", "message": "No OpenPosition Found. Not placing Exit order."}
    assert not SandboxOrder.objects.exists()


# --- basket and split ---------------------------------------------------------------------

def test_a_basket_sends_buys_first_and_reports_each_order(call):
    orders = [
        {"symbol": "RELIANCE", "exchange": "NSE", "action": "SELL", "quantity": "1"},
        {"symbol": "NOPE", "exchange": "NSE", "action": "BUY", "quantity": "1"},
        {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "2", "pricetype": "LIMIT", "price": "700"},
    ]
    status, body = call("basketorder", strategy="Basket", orders=orders)
    assert status == 200 and body["status"] == "success"
    results = body["results"]
    assert [r["symbol"] for r in results] == ["NOPE", "SBIN", "RELIANCE"]
    assert results[0] == {"symbol": "NOPE", "exchange": "NSE", "status": "error",
                          "message": "Symbol NOPE not found on NSE"}
    assert results[1]["status"] == "success" and results[1]["product"] == "MIS"
    assert SandboxOrder.objects.filter(strategy="Basket").count() == 2


def test_an_empty_basket_answers_empty_results_and_a_bad_item_is_400(call):
    assert call("basketorder", strategy="B", orders=[]) == (200, {"status": "success", "results": []})
    status, body = call("basketorder", strategy="B", orders=[{"symbol": "SBIN", "exchange": "NSE",
                                                              "action": "BUY", "quantity": "1", "apikey": "x"}])
    assert status == 400 and "Unknown field." in body["message"]


def test_a_split_order_places_full_slices_then_the_remainder(call):
    status, body = call("splitorder", **{**BUY_SBIN, "quantity": "105", "splitsize": "20"})
    assert status == 200
    assert (body["total_quantity"], body["split_size"]) == (105, 20)
    assert [(r["order_num"], r["quantity"], r["status"]) for r in body["results"]] == [
        (1, 20, "success"), (2, 20, "success"), (3, 20, "success"), (4, 20, "success"), (5, 20, "success"),
        (6, 5, "success")]


def test_a_split_over_100_orders_is_refused_before_any_order(call):
    status, body = call("splitorder", **{**BUY_SBIN, "quantity": "1010", "splitsize": "10"})
    assert (status, body) == (400, {"status": "error",
                                    "message": "Total number of orders would exceed maximum limit of 100"})
    assert not Order.objects.exists()


# --- modify, cancel, cancel all, close --------------------------------------------------------

def test_modify_then_cancel_a_resting_order(call):
    _, placed = call("placeorder", **{**BUY_SBIN, "pricetype": "LIMIT", "price": "700"})
    status, body = call("modifyorder", **{**BUY_SBIN, "orderid": placed["orderid"], "pricetype": "LIMIT",
                                          "price": "705", "quantity": "5"})
    assert (status, body) == (200, {"status": "success", "orderid": placed["orderid"],
                                    "message": "Order modified successfully"})
    status, body = call("cancelorder", strategy="Python", orderid=placed["orderid"])
    assert (status, body["status"], body["orderid"]) == (200, "success", placed["orderid"])
    ledger = Order.objects.get(broker_order_id=placed["orderid"])
    assert ledger.status == LedgerStatus.CANCELLED and ledger.price == 705


def test_cancelling_an_unknown_order_is_404_and_an_empty_id_400(call):
    assert call("cancelorder", strategy="P", orderid="123") == (
        404, {"status": "error", "message": "Order 123 not found"})
    status, body = call("cancelorder", strategy="P", orderid="")
    assert status == 400 and "Order ID is missing" in body["message"]


def test_cancel_all_and_close_all(call):
    call("placeorder", **BUY_SBIN)
    call("placeorder", **{**BUY_SBIN, "pricetype": "LIMIT", "price": "700"})
    status, body = call("cancelallorder", strategy="P")
    assert status == 200 and body["message"] == "Canceled 1 orders. Failed to cancel 0 orders."
    assert len(body["canceled_orders"]) == 1 and body["failed_cancellations"] == []
    assert call("cancelallorder", strategy="P")[1]["message"] == "No open orders to cancel"
    status, body = call("closeposition", strategy="P")
    assert (status, body["message"], body["closed_positions"]) == (200, "Closed 1 positions", 1)
    assert call("openposition", strategy="P", symbol="SBIN", exchange="NSE", product="MIS")[1]["quantity"] == 0
    assert call("closeposition", strategy="P")[1]["message"] == "No open positions to close"


# --- semi-auto -------------------------------------------------------------------------------

def test_semi_auto_queues_placements_and_refuses_cancels(call, user):
    user.order_mode = "semi_auto"
    user.save()
    status, body = call("placeorder", **BUY_SBIN)
    assert status == 200
    assert body["message"] == "Order queued for approval in Action Center" and body["mode"] == "semi_auto"
    assert PendingOrder.objects.get(pk=body["pending_order_id"]).payload["symbol"] == "SBIN"
    assert not SandboxOrder.objects.exists()
    status, body = call("cancelorder", strategy="P", orderid="1")
    assert status == 403 and "not allowed in Semi-Auto mode" in body["message"]
    assert call("analyzer/toggle", mode=True)[0] == 403


def test_approving_a_queued_order_places_it_once(call, user):
    from orders import actioncenter

    user.order_mode = "semi_auto"
    user.save()
    _, body = call("placeorder", **BUY_SBIN)
    approved = actioncenter.approve(user=user, pending_id=body["pending_order_id"])
    assert approved.state == "approved" and approved.result["status"] == "success"
    assert actioncenter.approve(user=user, pending_id=body["pending_order_id"]) is None
    assert SandboxOrder.objects.count() == 1


def test_a_refused_request_in_analyze_mode_is_logged_with_its_body(call, user):
    from orders.models import AnalyzerLog

    user.analyze_mode = True
    user.save()
    call("placeorder", **{**BUY_SBIN, "symbol": "NOPE"})
    log = AnalyzerLog.objects.get()
    assert log.request["symbol"] == "NOPE" and "apikey" not in log.request
    assert log.response["status"] == "error"
