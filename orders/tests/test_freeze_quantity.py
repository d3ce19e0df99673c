"""Orders above the exchange freeze quantity are refused before the ledger and the broker,
splits above it before their first child; a broker that slices itself gets up to 10 slices."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from brokers.base import Capabilities, OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.models import Instrument
from brokers.sandbox.contracts import load_sandbox_universe
from orders import freeze
from orders.models import Order


@pytest.fixture
def nifty_option(db):
    load_sandbox_universe()
    row = Instrument.objects.filter(broker="sandbox", exchange="NFO", name="NIFTY", option_type="CE").first()
    assert row is not None and row.freeze_qty == 1800 and row.lotsize == 65
    return row


def payload(row, quantity, **extra):
    return {"symbol": row.symbol, "exchange": "NFO", "action": "BUY", "quantity": str(quantity), "product": "NRML",
            "pricetype": "MARKET", "strategy": "freeze", **extra}


def test_placeorder_above_the_freeze_is_refused_with_the_limit_and_nothing_recorded(api_call, nifty_option):
    status, body = api_call("placeorder", **payload(nifty_option, 65 * 28))
    assert status == 400 and body["status"] == "error"
    assert "freeze quantity of 1800" in body["message"] and "at most 1755" in body["message"]
    assert not Order.objects.exists()


def test_placeorder_at_the_limit_goes_through(api_call, nifty_option):
    status, body = api_call("placeorder", **payload(nifty_option, 1755))
    assert status == 200, body
    assert Order.objects.get().quantity == 1755


def test_a_split_with_slices_above_the_freeze_places_nothing(api_call, nifty_option):
    status, body = api_call("splitorder", **payload(nifty_option, 65 * 60, splitsize=65 * 30))
    assert status == 400 and "Split size 1950" in body["message"] and "at most 1755" in body["message"]
    assert not Order.objects.exists()
    status, body = api_call("splitorder", **payload(nifty_option, 65 * 60, splitsize=1755))
    assert status == 200 and [item["quantity"] for item in body["results"]] == [1755, 1755, 390]


class Slicer:
    name = "sandbox"

    def __init__(self, autoslice: bool) -> None:
        self.capabilities = replace(Capabilities(exchanges=frozenset({Exchange.NFO})), autoslice=autoslice)


def test_a_broker_that_slices_itself_may_take_up_to_ten_slices(nifty_option):
    request = OrderRequest(symbol=nifty_option.symbol, exchange=Exchange.NFO, action=Action.BUY,
                           quantity=Decimal(1755 * 10), product=Product.NRML, pricetype=PriceType.MARKET)
    freeze.check_order(Slicer(autoslice=True), request)
    with pytest.raises(freeze.AboveFreezeQuantity):
        freeze.check_order(Slicer(autoslice=True), replace(request, quantity=Decimal(1755 * 10 + 65)))
    with pytest.raises(freeze.AboveFreezeQuantity):
        freeze.check_order(Slicer(autoslice=False), replace(request, quantity=Decimal(1755 + 65)))

