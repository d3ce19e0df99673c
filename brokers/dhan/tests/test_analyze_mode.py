"""Analyze mode with a trader logged in at Dhan: zero requests reach Dhan's order
endpoints; the same request with analyze mode off does reach them (so routing would pick
Dhan, and the first test proves something)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts import services as account_services
from orders import services
from orders.paths import OrderPath

from ..testing import CLIENT_ID, TOKEN

BUY = {"strategy": "Iso", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": Decimal(1),
       "pricetype": "MARKET", "product": "MIS", "price": Decimal(0), "trigger_price": Decimal(0),
       "disclosed_quantity": 0}
ITEM = {key: value for key, value in BUY.items() if key != "strategy"}
ORDER_ROUTES = ("POST /orders", "PUT /orders", "DELETE /orders", "POST /forever/orders")


@pytest.fixture
def at_dhan(user, market, dhan_market, settings):
    settings.RATELIMIT_ENABLE = False
    account_services.store_broker_session(user=user, broker="dhan", access_token=TOKEN, client_id=CLIENT_ID)
    dhan_market.calls.clear()
    return dhan_market


def _order_calls(exchange) -> list[str]:
    return [call for call in exchange.calls if call.startswith(ORDER_ROUTES)]


def test_in_analyze_mode_no_order_reaches_dhan(user, at_dhan):
    account_services.set_analyze_mode(user=user, on=True)
    for path, data in [(OrderPath.PLACE, BUY), (OrderPath.BASKET, {"strategy": "Iso", "orders": [ITEM, ITEM]}),
                       (OrderPath.SPLIT, {**BUY, "quantity": Decimal(3), "splitsize": 2})]:
        outcome = services.submit_order_request(user=user, path=path, data=data)
        assert outcome.status == 200 and outcome.body.get("mode") == "analyze", (path, outcome.body)
    assert _order_calls(at_dhan) == []
    assert at_dhan.orders == {}


def test_with_analyze_mode_off_the_same_order_goes_to_dhan(user, at_dhan):
    outcome = services.submit_order_request(user=user, path=OrderPath.PLACE, data=BUY)
    assert outcome.status == 200, outcome.body
    assert _order_calls(at_dhan) == ["POST /orders"]
    [order] = at_dhan.orders.values()
    assert order["securityId"] == "3045" and order["correlationId"].startswith("oa")
