"""With analyze mode on, a trader logged in at Upstox sends nothing to Upstox's order
endpoints: every order path goes to the sandbox. The converse shows the setup is live."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from brokers.upstox.testing import API_KEY, API_SECRET, TOKEN
from orders import services
from orders.models import Order
from orders.paths import OrderPath

BUY = {"strategy": "Iso", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
       "pricetype": "MARKET", "product": "MIS", "price": "0", "trigger_price": "0", "disclosed_quantity": "0"}
RESTING = {**BUY, "pricetype": "LIMIT", "price": "700"}


@pytest.fixture
def logged_in(user, market, upstox_market, settings):
    settings.RATELIMIT_ENABLE = False
    account_services.store_broker_app_credentials(user=user, broker="upstox", api_key=API_KEY, api_secret=API_SECRET)
    account_services.store_broker_session(user=user, broker="upstox", access_token=TOKEN, client_id="UX1234")
    upstox_market.calls.clear()
    return upstox_market


def test_in_analyze_mode_no_request_reaches_upstox_order_endpoints(user, logged_in):
    account_services.set_analyze_mode(user=user, on=True)
    placed = services.submit_order_request(user=user, path=OrderPath.PLACE, data=BUY)
    resting = services.submit_order_request(user=user, path=OrderPath.PLACE, data=RESTING)
    assert placed.succeeded and placed.body["mode"] == "analyze"
    orderid = resting.body["orderid"]
    services.submit_order_request(user=user, path=OrderPath.MODIFY, data={**RESTING, "orderid": orderid,
                                                                           "price": "705"})
    services.submit_order_request(user=user, path=OrderPath.CANCEL, data={"strategy": "Iso", "orderid": orderid})
    services.submit_order_request(user=user, path=OrderPath.SPLIT, data={**BUY, "quantity": 5, "splitsize": 2})
    services.submit_order_request(user=user, path=OrderPath.CANCEL_ALL, data={"strategy": "Iso"})
    services.submit_order_request(user=user, path=OrderPath.CLOSE, data={"strategy": "Iso"})
    assert logged_in.order_calls() == []
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("sandbox", True)}


def test_with_analyze_mode_off_the_same_order_reaches_upstox(user, logged_in):
    outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=BUY)
    assert outcome.succeeded and "mode" not in outcome.body
    assert logged_in.order_calls() == ["POST /v3/order/place"]
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("upstox", False)}
