"""Analyze mode never reaches Zerodha's order endpoints: the trader is logged in at Zerodha
(routing would pick it), analyze mode is on, and orders go through the order service; the
fake Kite records every request and none is an order call."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl

import pytest

from accounts import services as account_services
from brokers.enums import Action, Exchange, PriceType, Product
from orders import services
from orders.models import Order
from orders.paths import OrderPath

from ..testing import ACCESS_TOKEN, API_KEY, API_SECRET, USER_ID

ORDER = {"strategy": "Kite", "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY,
         "quantity": Decimal(1), "pricetype": PriceType.MARKET, "product": Product.MIS, "price": Decimal(0),
         "trigger_price": Decimal(0), "disclosed_quantity": 0}
ORDER_PATHS = ("/orders", "/gtt", "/margins")


@pytest.fixture
def logged_in(user, market, kite_market, settings):
    settings.RATELIMIT_ENABLE = False
    account_services.store_broker_app_credentials(user=user, broker="zerodha", api_key=API_KEY,
                                                  api_secret=API_SECRET)
    account_services.store_broker_session(user=user, broker="zerodha", access_token=ACCESS_TOKEN, client_id=USER_ID)
    kite_market.calls.clear()
    return kite_market


def _order_calls(kite) -> list[str]:
    return [call for call in kite.calls if call.split(" ", 1)[1].startswith(ORDER_PATHS)]


def test_with_analyze_mode_on_no_request_reaches_zerodhas_order_endpoints(user, logged_in):
    account_services.set_analyze_mode(user=user, on=True)
    for data in (ORDER, {**ORDER, "pricetype": PriceType.LIMIT, "price": Decimal(700)},
                 {**ORDER, "action": Action.SELL}):
        outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=data)
        assert outcome.status == 200 and outcome.body.get("mode") == "analyze", outcome.body
    assert _order_calls(logged_in) == []
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("sandbox", True)}


def test_with_analyze_mode_off_the_same_order_does_reach_zerodha(user, logged_in):
    outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=ORDER)
    assert outcome.status == 200, outcome.body
    assert _order_calls(logged_in) == ["POST /orders/regular"]
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("zerodha", False)}
    sent = dict(parse_qsl(logged_in.last("POST", "/orders/regular").content.decode()))
    row = Order.objects.get(user=user)
    # The ledger's reference travels as Kite's order tag, so a lost answer can be found in its book.
    assert sent["market_protection"] == "-1" and sent["tag"] == f"oa{row.pk}"
