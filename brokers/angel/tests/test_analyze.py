"""Analyze mode never reaches Angel One's order endpoints: the trader is logged in at
Angel (so live routing would pick it), and with analyze mode on every order path runs in
the sandbox while the respx SmartAPI records that no order call arrived. The converse,
with analyze mode off, shows the same setup does reach Angel (so this test can fail)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts import services as account_services
from brokers.enums import Action, Exchange, PriceType, Product
from orders import services
from orders.models import Order
from orders.services import OrderPath

from .. import testing
from ..client import ORDER_PATHS

ORDER = {"strategy": "Iso", "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY,
         "quantity": Decimal(1), "pricetype": PriceType.MARKET, "product": Product.MIS, "price": Decimal(0),
         "trigger_price": Decimal(0), "disclosed_quantity": 0}
RESTING = {**ORDER, "pricetype": PriceType.LIMIT, "price": Decimal(700)}


@pytest.fixture
def live(user, market, angel_market, settings):
    settings.RATELIMIT_ENABLE = False
    account_services.store_broker_app_credentials(user=user, broker="angel", api_key=testing.API_KEY, api_secret="")
    account_services.store_broker_session(user=user, broker="angel", access_token=testing.JWT,
                                          feed_token=testing.FEED_TOKEN, client_id=testing.CLIENT_CODE)
    angel_market.calls.clear()
    return angel_market


def _order_calls(exchange: testing.FakeAngel) -> list[str]:
    return [call for call in exchange.calls if call.split()[-1] in ORDER_PATHS]


def test_in_analyze_mode_no_order_reaches_angel(user, live):
    account_services.set_analyze_mode(user=user, on=True)
    placed = services.submit_order_request(user=user, path=OrderPath.PLACE, data=ORDER)
    assert placed.succeeded and placed.body["mode"] == "analyze"
    resting = services.submit_order_request(user=user, path=OrderPath.PLACE, data=RESTING)
    orderid = resting.body["orderid"]
    for path, data in [
        (OrderPath.SMART, {**ORDER, "position_size": Decimal(3)}),
        (OrderPath.SPLIT, {**ORDER, "quantity": Decimal(5), "splitsize": 2}),
        (OrderPath.BASKET, {"strategy": "Iso", "orders": [
            {k: v for k, v in ORDER.items() if k != "strategy"},
            {**{k: v for k, v in ORDER.items() if k != "strategy"}, "action": Action.SELL}]}),
        (OrderPath.MODIFY, {**RESTING, "orderid": orderid, "price": Decimal(705)}),
        (OrderPath.CANCEL, {"strategy": "Iso", "orderid": orderid}),
        (OrderPath.CANCEL_ALL, {"strategy": "Iso"}),
        (OrderPath.CLOSE, {"strategy": "Iso"}),
    ]:
        outcome = services.submit_order_request(user=user, path=path, data=data)
        assert outcome.body.get("mode") == "analyze", (path, outcome.body)
    assert _order_calls(live) == []
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("sandbox", True)}


def test_with_analyze_mode_off_the_same_order_reaches_angel(user, live):
    outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=ORDER)
    assert outcome.succeeded and "mode" not in outcome.body, outcome.body
    assert _order_calls(live) == [f"POST {testing.PATHS['place']}"]
    assert set(Order.objects.filter(user=user).values_list("broker", "analyze")) == {("angel", False)}
