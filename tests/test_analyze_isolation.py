"""Analyze mode can never reach a live adapter (issue 14, item 7; spec §2.9, §2.10).

The trader is logged in at FakeLive (a valid token stored through the credential path, so
live routing would pick FakeLive) and respx answers FakeLive's whole base URL, recording
every call. With analyze mode on, every order path and every account read goes through the
real API and nothing reaches FakeLive; the answers carry ``"mode":"analyze"`` and the ledger
rows are the sandbox's, marked analyze. The one documented exception: resolving an options
order's contract reads the underlying's quote from the live *data* source (spec §2.9:
market data is not affected by analyze mode), so the options paths may make ``GET /quote``
calls and nothing else.

The decision is taken once per request from the database (orders/routing.py ``pin_modes``):
a stale user object (another process's API-key cache) cannot send an order live, and a
switch while a request is in flight changes nothing for that request."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.apikeys import user_for_key
from accounts.models import User
from brokers.fakelive import testing as fakelive
from orders import actioncenter, baskets, options, services
from orders.models import Order, PendingOrder
from orders.paths import OrderPath

BUY = {"strategy": "Iso", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
       "pricetype": "MARKET", "product": "MIS", "price": "0", "trigger_price": "0", "disclosed_quantity": "0"}
ITEM = {k: v for k, v in BUY.items() if k != "strategy"}
RESTING = {**BUY, "pricetype": "LIMIT", "price": "700"}
GTT = {"strategy": "Iso", "trigger_type": "SINGLE", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
       "product": "CNC", "quantity": "1", "pricetype": "LIMIT", "price": "751", "triggerprice_sl": "750",
       "triggerprice_tg": "0"}
OPTION = {"strategy": "Iso", "underlying": "NIFTY", "exchange": "NSE_INDEX", "expiry_date": "29DEC26",
          "offset": "ATM", "option_type": "CE", "action": "BUY", "quantity": "65", "pricetype": "MARKET",
          "product": "MIS"}
# Market-data reads the options paths make on the live data source (spec §2.9); nothing else.
MARKET_DATA = {"GET /quote"}


@pytest.fixture
def live(user, market, fakelive_market, settings):
    """``user`` logged in at FakeLive: app credentials and a session token stored as the
    login flow stores them, so routing picks FakeLive whenever analyze mode is off."""
    settings.RATELIMIT_ENABLE = False
    settings.API_KEY_RECHECK_SECONDS = 3600  # cached users stay as stale as another process's
    account_services.store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                                  api_secret=fakelive.API_SECRET)
    account_services.store_broker_session(user=user, broker="fakelive", access_token=fakelive.TOKEN,
                                          client_id="FL01")
    fakelive_market.calls.clear()
    return fakelive_market


@pytest.fixture
def analyze_on(user, live):
    account_services.set_analyze_mode(user=user, on=True)
    return live


def _ok(call: Callable[..., tuple[int, dict]], endpoint: str, **fields: Any) -> dict:
    status, body = call(endpoint, **fields)
    assert status == 200, (endpoint, body)
    assert body["status"] == "success", (endpoint, body)
    return body


def _every_path(call: Callable[..., tuple[int, dict]], exchange: fakelive.FakeExchange) -> dict[str, list[str]]:
    """Run every order path and account read through the API; what reached FakeLive, by endpoint."""
    reached: dict[str, list[str]] = {}
    answers: dict[str, dict] = {}

    def run(endpoint: str, **fields: Any) -> dict:
        exchange.calls.clear()
        answers[endpoint] = body = _ok(call, endpoint, **fields)
        reached[endpoint] = list(exchange.calls)
        return body

    filled = run("placeorder", **BUY)
    resting = _ok(call, "placeorder", **RESTING)["orderid"]
    run("placesmartorder", **{**BUY, "position_size": "3"})
    run("basketorder", strategy="Iso", orders=[ITEM, {**ITEM, "action": "SELL"}])
    run("splitorder", **{**BUY, "quantity": "5", "splitsize": "2"})
    run("optionsorder", **OPTION)
    run("optionsmultiorder", **{k: v for k, v in OPTION.items() if k not in ("offset", "option_type", "action",
                                                                              "quantity", "pricetype", "product")},
        legs=[{"offset": "ATM", "option_type": "CE", "action": "BUY", "quantity": "65"},
              {"offset": "ATM", "option_type": "CE", "action": "SELL", "quantity": "65"}])
    run("modifyorder", **{**RESTING, "orderid": resting, "price": "705"})
    run("cancelorder", strategy="Iso", orderid=resting)
    _ok(call, "placeorder", **RESTING)
    run("cancelallorder", strategy="Iso")
    trigger = run("placegttorder", **GTT)["trigger_id"]
    run("modifygttorder", **{**GTT, "trigger_id": trigger, "triggerprice_sl": "740", "price": "741"})
    run("cancelgttorder", strategy="Iso", trigger_id=trigger)
    run("gttorderbook")
    run("orderbook")
    run("tradebook")
    run("positionbook")
    run("holdings")
    run("funds")
    run("orderstatus", strategy="Iso", orderid=filled["orderid"])
    run("openposition", strategy="Iso", symbol="SBIN", exchange="NSE", product="MIS")
    run("closeposition", strategy="Iso")
    for endpoint, body in answers.items():
        assert body.get("mode") == "analyze", (endpoint, body)
    return reached


def _assert_nothing_live(reached: dict[str, list[str]]) -> None:
    for endpoint, calls in reached.items():
        allowed = MARKET_DATA if endpoint.startswith("options") else set()
        assert set(calls) <= allowed, (endpoint, calls)


def _assert_ledger_is_sandbox(user: User) -> None:
    rows = Order.objects.filter(user=user)
    assert rows.exists()
    assert set(rows.values_list("broker", "analyze")) == {("sandbox", True)}


# --- Analyze mode on: nothing reaches the live broker ----------------------------------------------

def test_in_analyze_mode_no_order_path_or_account_read_reaches_the_live_broker(api_call, user, analyze_on):
    reached = _every_path(api_call, analyze_on)
    _assert_nothing_live(reached)
    _assert_ledger_is_sandbox(user)


def test_an_approval_of_a_request_queued_in_semi_auto_and_analyze_mode_stays_in_the_sandbox(
        api_call, user, analyze_on):
    User.objects.filter(pk=user.pk).update(order_mode=User.OrderMode.SEMI_AUTO)
    user.refresh_from_db()
    queued = _ok(api_call, "placeorder", **BUY)
    assert queued["mode"] == "semi_auto"
    approved = actioncenter.approve(user=user, pending_id=queued["pending_order_id"])
    assert approved.result["status"] == "success" and approved.result["mode"] == "analyze"
    assert analyze_on.calls == []
    _assert_ledger_is_sandbox(user)


def test_with_analyze_mode_off_an_order_does_reach_the_live_broker(api_call, user, live):
    """The converse, so the tests above can fail: the same setup sends a live order live."""
    body = _ok(api_call, "placeorder", **BUY)
    assert "mode" not in body
    assert "POST /orders" in live.calls
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("fakelive", False)}


# --- A stale user object: the database decides ----------------------------------------------------

def test_a_switch_made_by_another_process_is_honoured_though_the_cached_user_is_stale(api_call, api_key, user,
                                                                                        live):
    _ok(api_call, "analyzer")  # the key and its user (analyze off) are now cached in this process
    cached = user_for_key(api_key)
    assert cached is not None and cached.analyze_mode is False
    User.objects.filter(pk=user.pk).update(analyze_mode=True)  # as another process would: no signal here
    assert user_for_key(api_key) is cached and cached.analyze_mode is False  # still stale
    reached = _every_path(api_call, live)
    _assert_nothing_live(reached)
    _assert_ledger_is_sandbox(user)


def test_every_service_entry_reads_the_mode_from_the_database_not_the_user_object(user, live):
    stale = User.objects.get(pk=user.pk)
    User.objects.filter(pk=user.pk).update(analyze_mode=True)
    for path, data in [(OrderPath.PLACE, BUY), (OrderPath.SMART, {**BUY, "position_size": Decimal(2)}),
                       (OrderPath.BASKET, {"strategy": "Iso", "orders": [ITEM, ITEM]}),
                       (OrderPath.SPLIT, {**BUY, "quantity": Decimal(3), "splitsize": 2}),
                       (OrderPath.CANCEL_ALL, {"strategy": "Iso"}), (OrderPath.CLOSE, {"strategy": "Iso"})]:
        outcome = services.submit_order_request(user=stale, path=path, data=data)
        assert outcome.succeeded and outcome.body["mode"] == "analyze", (path, outcome.body)
    assert stale.analyze_mode is False  # the caller's object is not rewritten behind its back
    assert live.calls == []
    _assert_ledger_is_sandbox(user)


def test_an_approval_with_a_stale_user_object_follows_the_database(user, live):
    User.objects.filter(pk=user.pk).update(order_mode=User.OrderMode.SEMI_AUTO)
    stale = User.objects.get(pk=user.pk)
    queued = services.submit_order_request(user=stale, path=OrderPath.PLACE, data=BUY)
    User.objects.filter(pk=user.pk).update(analyze_mode=True)
    approved = actioncenter.approve(user=stale, pending_id=queued.body["pending_order_id"])
    assert approved.result["mode"] == "analyze" and live.calls == []
    _assert_ledger_is_sandbox(user)


def test_placeorder_pays_one_primary_key_query_for_the_decision(api_call, user, analyze_on):
    _ok(api_call, "placeorder", **BUY)  # warm the key cache
    with CaptureQueriesContext(connection) as queries:
        _ok(api_call, "placeorder", **BUY)
    mode_reads = [q["sql"] for q in queries.captured_queries
                  if connection.ops.quote_name("accounts_user") in q["sql"]
                  and "analyze_mode" in q["sql"].split("FROM")[0]
                  and "SELECT" in q["sql"]]
    assert len(mode_reads) == 1, mode_reads


# --- Switched while in flight: one decision per request ------------------------------------------

def _flip_after_first(monkeypatch, target, name: str, flip: Callable[[], None]) -> None:
    original = getattr(target, name)
    seen = []

    def hooked(*args, **kwargs):
        if seen:
            flip()
        seen.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, hooked)


def test_a_basket_that_started_in_analyze_mode_finishes_in_the_sandbox(api_call, api_key, user, analyze_on,
                                                                       monkeypatch):
    _ok(api_call, "analyzer")
    shared = user_for_key(api_key)  # the object every request of this key is handed
    _flip_after_first(monkeypatch, baskets, "child_outcome",
                      lambda: account_services.set_analyze_mode(user=shared, on=False))
    body = _ok(api_call, "basketorder", strategy="Iso", orders=[ITEM, ITEM, ITEM])
    assert [r["status"] for r in body["results"]] == ["success"] * 3 and body["mode"] == "analyze"
    assert User.objects.get(pk=user.pk).analyze_mode is False  # the switch did happen mid-way
    assert analyze_on.calls == []
    _assert_ledger_is_sandbox(user)


def test_options_legs_placed_after_a_switch_stay_in_the_sandbox(api_call, api_key, user, analyze_on, monkeypatch):
    _ok(api_call, "analyzer")
    shared = user_for_key(api_key)
    _flip_after_first(monkeypatch, options, "place_order",
                      lambda: account_services.set_analyze_mode(user=shared, on=False))
    legs = [{"offset": "ATM", "option_type": "CE", "action": "BUY", "quantity": "65"},
            {"offset": "ATM", "option_type": "CE", "action": "BUY", "quantity": "65"}]
    body = _ok(api_call, "optionsmultiorder", strategy="Iso", underlying="NIFTY", exchange="NSE_INDEX",
               expiry_date="29DEC26", legs=legs)
    assert [r["status"] for r in body["results"]] == ["success", "success"], body
    assert set(analyze_on.calls) <= MARKET_DATA
    _assert_ledger_is_sandbox(user)


def test_a_split_that_started_live_stays_live(api_call, api_key, user, live, monkeypatch):
    """Split, not basket: a live basket places its items from worker threads, which SQLite's
    test database cannot serve; the rule is the same."""
    _ok(api_call, "analyzer")
    shared = user_for_key(api_key)
    _flip_after_first(monkeypatch, baskets, "child_outcome",
                      lambda: account_services.set_analyze_mode(user=shared, on=True))
    body = _ok(api_call, "splitorder", **{**BUY, "quantity": "3", "splitsize": "1"})
    assert [r["status"] for r in body["results"]] == ["success"] * 3 and "mode" not in body
    assert User.objects.get(pk=user.pk).analyze_mode is True  # the switch did happen mid-way
    assert live.calls.count("POST /orders") == 3
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("fakelive", False)}
    # The next request sees the switch.
    _ok(api_call, "placeorder", **BUY)
    assert live.calls.count("POST /orders") == 3
    assert Order.objects.filter(user=user, broker="sandbox", analyze=True).count() == 1


# --- Approval: the mode it was queued in, or the mode now, whichever is safer ----------------------

def test_a_request_queued_in_analyze_mode_never_goes_live_on_approval(api_call, user, analyze_on):
    User.objects.filter(pk=user.pk).update(order_mode=User.OrderMode.SEMI_AUTO)
    queued = _ok(api_call, "placeorder", **BUY)
    assert PendingOrder.objects.get(pk=queued["pending_order_id"]).analyze is True
    User.objects.filter(pk=user.pk).update(analyze_mode=False)  # the trader goes live, then approves
    user.refresh_from_db()
    approved = actioncenter.approve(user=user, pending_id=queued["pending_order_id"])
    assert approved.result["status"] == "success" and approved.result["mode"] == "analyze"
    assert analyze_on.calls == []
    _assert_ledger_is_sandbox(user)


def test_a_request_queued_live_goes_to_the_sandbox_if_approved_in_analyze_mode(api_call, user, live):
    User.objects.filter(pk=user.pk).update(order_mode=User.OrderMode.SEMI_AUTO)
    queued = _ok(api_call, "placeorder", **BUY)
    assert PendingOrder.objects.get(pk=queued["pending_order_id"]).analyze is False
    User.objects.filter(pk=user.pk).update(analyze_mode=True)
    approved = actioncenter.approve(user=user, pending_id=queued["pending_order_id"])
    assert approved.result["mode"] == "analyze" and live.calls == []
    _assert_ledger_is_sandbox(user)


def test_a_request_queued_live_and_approved_live_goes_live(api_call, user, live):
    User.objects.filter(pk=user.pk).update(order_mode=User.OrderMode.SEMI_AUTO)
    queued = _ok(api_call, "placeorder", **BUY)
    user.refresh_from_db()
    approved = actioncenter.approve(user=user, pending_id=queued["pending_order_id"])
    assert approved.result["status"] == "success" and "mode" not in approved.result
    assert "POST /orders" in live.calls
