"""Smart orders racing for the same symbol never double the position (spec §5.2)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.base import OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.models import SandboxOrder
from orders import services
from orders.models import Order
from orders.tests.racing import race


@pytest.mark.django_db(transaction=True)
def test_concurrent_smart_orders_for_one_symbol_place_exactly_one_order(user, market):
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(100),
                           product=Product.MIS, pricetype=PriceType.MARKET, strategy="Race")
    outcomes = race(lambda: services.place_smart_order(user=user, request=request, position_size=Decimal(100)))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    placed = [o for o in outcomes if o.placed is not None]
    assert len(placed) == 1
    assert {o.message for o in outcomes if o.placed is None} == {services.ALREADY_MATCHED}
    assert SandboxOrder.objects.count() == 1 and Order.objects.count() == 1
    adapter = services.adapter_for(user)
    assert services.net_quantity(adapter, "SBIN", "NSE", "MIS") == 100
