"""Analyze mode never reaches Fyers' order endpoints: a trader logged in at Fyers, with
analyze mode on, gets the sandbox's answers and Fyers hears nothing; with it off, the same
request does reach Fyers (so the first test is not vacuous)."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from accounts.brokers import live_broker_name
from brokers.fyers.testing import APP_ID, APP_SECRET, TOKEN
from orders import services
from orders.models import Order
from orders.paths import OrderPath

BUY = {"strategy": "Iso", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
       "pricetype": "MARKET", "product": "MIS", "price": "0", "trigger_price": "0", "disclosed_quantity": "0"}
ORDER_PATHS = {"POST /api/v3/orders/sync", "PATCH /api/v3/orders/sync", "DELETE /api/v3/orders/sync",
               "POST /api/v3/multi-order/sync", "POST /api/v3/multileg/orders/sync", "POST /api/v3/gtt/orders/sync"}


@pytest.fixture
def logged_in(user, market, fyers_market, settings):
    settings.RATELIMIT_ENABLE = False
    account_services.store_broker_app_credentials(user=user, broker="fyers", api_key=APP_ID, api_secret=APP_SECRET)
    account_services.store_broker_session(user=user, broker="fyers", access_token=TOKEN, client_id="XX0001")
    assert live_broker_name(user) == "fyers"
    fyers_market.calls.clear()
    return fyers_market


def test_with_analyze_mode_on_no_request_reaches_fyers_order_endpoints(user, logged_in):
    account_services.set_analyze_mode(user=user, on=True)
    outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=BUY)
    assert outcome.status == 200 and outcome.body["status"] == "success" and outcome.body["mode"] == "analyze"
    assert not set(logged_in.calls) & ORDER_PATHS
    assert logged_in.orders == {}
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("sandbox", True)}


def test_with_analyze_mode_off_the_same_order_goes_to_fyers(user, logged_in):
    outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=BUY)
    assert outcome.status == 200 and outcome.body["status"] == "success", outcome.body
    assert "POST /api/v3/orders/sync" in logged_in.calls
    assert outcome.body["orderid"] in logged_in.orders
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("fyers", False)}
