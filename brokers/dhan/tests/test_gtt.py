"""Dhan's Forever Orders behind the contract's GTT protocol."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.base import BrokerRejected
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.gtt import GttAdapter, GttRequest, GttStatus, GttTriggerNotFound, GttType, gtt_adapter

from ..adapter import DhanAdapter
from ..forever import forever_body
from ..testing import CLIENT_ID, credentials, fixture

D = Decimal


@pytest.fixture
def adapter(dhan_market):
    return gtt_adapter(DhanAdapter(None, credentials()))


def _single(**change) -> GttRequest:
    fields = {"trigger_type": GttType.SINGLE, "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY,
              "product": Product.CNC, "quantity": D(10), "price": D("751"), "triggerprice_sl": D("750")}
    fields.update(change)
    return GttRequest(**fields)


def _oco(**change) -> GttRequest:
    fields = {"trigger_type": GttType.OCO, "symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.SELL,
              "product": Product.CNC, "quantity": D(10), "triggerprice_sl": D("700"), "stoploss": D("699"),
              "triggerprice_tg": D("900"), "target": D("901"), "strategy": "Swing"}
    fields.update(change)
    return GttRequest(**fields)


def test_the_adapter_offers_the_gtt_protocol(adapter):
    assert isinstance(adapter, GttAdapter)


def test_a_single_gtt_sends_one_leg(adapter, dhan_market):
    trigger_id = adapter.place_gtt(_single())
    assert dhan_market.bodies[-1] == ("POST /forever/orders", {
        "dhanClientId": CLIENT_ID, "orderFlag": "SINGLE", "transactionType": "BUY", "exchangeSegment": "NSE_EQ",
        "productType": "CNC", "orderType": "LIMIT", "validity": "DAY", "securityId": "3045", "quantity": 10,
        "disclosedQuantity": 0, "price": 751.0, "triggerPrice": 750.0})
    [trigger] = adapter.gtt_book()
    assert (trigger.trigger_id, trigger.trigger_type, trigger.status, trigger.symbol, trigger.trigger_prices) == (
        trigger_id, "single", GttStatus.ACTIVE, "SBIN", (D(750),))
    assert trigger.last_price == D(800) and trigger.legs[0].pricetype == PriceType.LIMIT


def test_an_oco_gtt_sends_its_target_leg_in_the_1_fields(adapter, dhan_market):
    adapter.place_gtt(_oco())
    body = dhan_market.bodies[-1][1]
    assert (body["orderFlag"], body["price"], body["triggerPrice"], body["price1"], body["triggerPrice1"],
            body["quantity1"], body["correlationId"]) == ("OCO", 699.0, 700.0, 901.0, 900.0, 10, "Swing")
    [trigger] = adapter.gtt_book()
    assert trigger.trigger_type == "two-leg" and trigger.trigger_prices == (D(700), D(900))
    assert [leg.price for leg in trigger.legs] == [D(699), D(901)]


def test_a_market_gtt_and_an_nrml_one_map_their_fields():
    body = forever_body(_single(pricetype=PriceType.MARKET, product=Product.NRML, triggerprice_sl=D(0),
                                triggerprice_tg=D("850")), client_id="1", security_id="3045")
    assert (body["orderType"], body["price"], body["triggerPrice"], body["productType"]) == (
        "MARKET", 0.0, 850.0, "MARGIN")


def test_modifying_an_oco_changes_both_legs_one_put_each(adapter, dhan_market):
    trigger_id = adapter.place_gtt(_oco())
    adapter.modify_gtt(trigger_id, _oco(triggerprice_sl=D("710"), stoploss=D("709"), target=D("951"),
                                        triggerprice_tg=D("950")))
    puts = [body for route, body in dhan_market.bodies if route.startswith("PUT")]
    assert [(body["legName"], body["price"], body["triggerPrice"], body["orderId"]) for body in puts] == [
        ("STOP_LOSS_LEG", 709.0, 710.0, trigger_id), ("TARGET_LEG", 951.0, 950.0, trigger_id)]
    [trigger] = adapter.gtt_book()
    assert trigger.trigger_prices == (D(710), D(950))


def test_modifying_a_single_uses_the_leg_dhan_stored_and_the_type_cannot_change(adapter, dhan_market):
    trigger_id = adapter.place_gtt(_single())
    adapter.modify_gtt(trigger_id, _single(price=D("761"), triggerprice_sl=D("760")))
    assert dhan_market.bodies[-1][1]["legName"] == "ENTRY_LEG"
    with pytest.raises(BrokerRejected, match="cannot change"):
        adapter.modify_gtt(trigger_id, _oco())


def test_cancel_and_unknown_triggers(adapter, dhan_market):
    trigger_id = adapter.place_gtt(_single())
    assert adapter.cancel_gtt(trigger_id) == trigger_id
    assert dhan_market.calls[-1] == f"DELETE /forever/orders/{trigger_id}"
    assert adapter.gtt_book() == []  # the book lists active triggers only
    with pytest.raises(GttTriggerNotFound):
        adapter.cancel_gtt(trigger_id)
    with pytest.raises(GttTriggerNotFound):
        adapter.modify_gtt("999", _single())


def test_rules_and_products_are_checked_before_dhan_is_called(adapter, dhan_market):
    with pytest.raises(BrokerRejected, match="MIS"):
        adapter.place_gtt(_single(product=Product.MIS))
    with pytest.raises(BrokerRejected, match="less than target"):
        adapter.place_gtt(_oco(triggerprice_sl=D("950")))
    assert "POST /forever/orders" not in dhan_market.calls


def test_the_documented_book_groups_legs_and_drops_finished_orders(adapter, dhan_market):
    dhan_market.answer("GET /forever/orders", 200, fixture("forever_book.json"))
    book = {trigger.trigger_id: trigger for trigger in adapter.gtt_book()}
    assert set(book) == {"1132208051115", "5132208051112"}  # the TRADED one is gone
    oco = book["5132208051112"]
    assert oco.trigger_type == "two-leg" and oco.trigger_prices == (D(1381), D(1699))
    assert [leg.action for leg in oco.legs] == [Action.SELL, Action.SELL]
    assert book["1132208051115"].trigger_type == "single"
