"""Kite's fields <-> ours, on Kite's documented payloads (tests/fixtures/): every vocabulary
both ways, what an order form carries (market protection, tag), and what each book reads
into the domain's types (positions' P&L through brokers.positions)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.base import ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.gtt import GttRequest, GttStatus, GttType
from brokers.positions import position_of

from .. import mapping
from ..testing import fixture_json

D = Decimal


def _order(**change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(10),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa42"}
    fields.update(change)
    return OrderRequest(**fields)


def test_every_side_order_type_and_product_has_a_code_at_the_broker_and_reads_back():
    assert set(mapping.SIDES) == set(Action)
    assert set(mapping.ORDER_TYPES) == set(PriceType)
    assert set(mapping.PRODUCTS) == set(Product)
    for ours, theirs in mapping.SIDES.items():
        assert mapping.side_of(theirs) == ours
    for ours, theirs in mapping.ORDER_TYPES.items():
        assert mapping.price_type_of(theirs) == ours
    for ours, theirs in mapping.PRODUCTS.items():
        assert mapping.product_of(theirs) == ours


@pytest.mark.parametrize(("status", "ours"), [
    ("OPEN", OrderStatus.OPEN), ("COMPLETE", OrderStatus.COMPLETE), ("REJECTED", OrderStatus.REJECTED),
    ("CANCELLED", OrderStatus.CANCELLED), ("TRIGGER PENDING", OrderStatus.TRIGGER_PENDING),
    ("PUT ORDER REQ RECEIVED", OrderStatus.OPEN), ("VALIDATION PENDING", OrderStatus.OPEN),
    ("OPEN PENDING", OrderStatus.OPEN), ("MODIFY VALIDATION PENDING", OrderStatus.OPEN),
    ("MODIFY PENDING", OrderStatus.OPEN), ("CANCEL PENDING", OrderStatus.OPEN),
    ("AMO REQ RECEIVED", OrderStatus.OPEN), ("UPDATE", OrderStatus.OPEN),
])
def test_every_documented_kite_status_maps_to_ours(status, ours):
    assert mapping.status_of(status) == ours


def test_an_unknown_status_is_unreadable_not_guessed():
    with pytest.raises(mapping.UnreadablePayload):
        mapping.status_of("LOST IN SPACE")


def test_every_tradable_exchange_is_sent_as_kites_code_and_indices_on_their_exchange():
    for exchange in (Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.BCD,
                     Exchange.MCX, Exchange.NCO):
        assert mapping.their_exchange(exchange) == str(exchange)
        assert mapping.our_exchange(str(exchange)) == exchange
    assert mapping.their_exchange(Exchange.NSE_INDEX) == "NSE"
    assert mapping.their_exchange(Exchange.BSE_INDEX) == "BSE"


def test_a_market_order_form_carries_automatic_market_protection_and_our_tag():
    form = mapping.order_form(_order(), "SBIN")
    assert form == {"tradingsymbol": "SBIN", "exchange": "NSE", "transaction_type": "BUY", "order_type": "MARKET",
                    "quantity": "10", "product": "MIS", "price": "0", "trigger_price": "0",
                    "disclosed_quantity": "0", "validity": "DAY", "market_protection": "-1", "tag": "oa42"}


def test_sl_m_needs_market_protection_too_but_limit_and_sl_do_not():
    assert mapping.order_form(_order(pricetype=PriceType.SL_M, trigger_price=D("790")), "SBIN")[
        "market_protection"] == "-1"
    for pricetype in (PriceType.LIMIT, PriceType.SL):
        form = mapping.order_form(_order(pricetype=pricetype, price=D("800.50"), trigger_price=D("801")), "SBIN")
        assert "market_protection" not in form
        assert form["price"] == "800.5"


def test_a_deployment_may_choose_a_protection_percentage():
    assert mapping.order_form(_order(), "SBIN", market_protection="2")["market_protection"] == "2"


def test_the_tag_is_cut_to_kites_twenty_alphanumerics_and_left_out_when_empty():
    assert mapping.order_form(_order(tag="oa-1234_5678.90123456789xyz"), "SBIN")["tag"] == "oa123456789012345678"
    assert "tag" not in mapping.order_form(_order(tag=""), "SBIN")


def test_a_modify_form_sends_the_changed_fields_with_protection_on_market():
    request = ModifyRequest(orderid="1", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                            product=Product.MIS, pricetype=PriceType.MARKET, quantity=D(5), price=D(0),
                            trigger_price=D(0))
    assert mapping.modify_form(request) == {"quantity": "5", "order_type": "MARKET", "price": "0",
                                            "trigger_price": "0", "disclosed_quantity": "0", "validity": "DAY",
                                            "market_protection": "-1"}


def test_the_documented_order_book_reads_into_broker_orders():
    rows = fixture_json("orders.json")["data"]
    cancelled, complete, rejected, trigger = (mapping.broker_order(row, row["tradingsymbol"]) for row in rows)
    assert (cancelled.exchange, cancelled.status, cancelled.price, cancelled.product) == (
        Exchange.CDS, OrderStatus.CANCELLED, D(72), Product.NRML)
    # Kite's times are IST without an offset: 09:18:57 IST is 03:48:57 UTC.
    assert cancelled.timestamp == datetime(2021, 5, 31, 3, 48, 57, tzinfo=UTC)
    assert (complete.status, complete.average_price, complete.filled_quantity, complete.tag) == (
        OrderStatus.COMPLETE, D("109.4"), D(1), "oa42")
    assert rejected.status == OrderStatus.REJECTED
    assert rejected.rejection_reason == rows[2]["status_message"]  # verbatim
    assert (trigger.status, trigger.pricetype, trigger.trigger_price, trigger.action) == (
        OrderStatus.TRIGGER_PENDING, PriceType.SL_M, D(47100), Action.SELL)


def test_the_documented_trade_book_reads_into_trades():
    row = fixture_json("trades.json")["data"][0]
    trade = mapping.trade(row, "SBIN")
    assert (trade.orderid, trade.tradeid, trade.quantity, trade.average_price, trade.product, trade.action) == (
        "200000000000000", "10000000", D(1), D("420.65"), Product.CNC, Action.BUY)
    assert trade.timestamp == datetime(2021, 5, 31, 3, 46, 39, tzinfo=UTC)


def test_documented_positions_give_kites_own_pnl_computed_in_the_one_place():
    rows = fixture_json("positions.json")["data"]["net"]
    lead, gold, sbin = (position_of(mapping.position_totals(row, row["tradingsymbol"])) for row in rows)
    # LEADMINI: 1 lot bought at 161.05, last 161.2, multiplier 1000: Kite says pnl 150.
    assert (lead.quantity, lead.average_price, lead.pnl) == (D(1), D("161.05"), D("150.00"))
    # GOLDGUINEA: 3 carried + 1 bought, 4 sold: flat, realised (23340 - 23139.75) x 4 = 801, as Kite says.
    assert (gold.quantity, gold.pnl, gold.realized_pnl) == (D(0), D("801.00"), D("801.00"))
    # SBIN: short 2 at 421, last 420: +2.
    assert (sbin.quantity, sbin.average_price, sbin.pnl) == (D(-2), D("421.00"), D("2.00"))


def test_documented_holdings_and_funds_read_into_ours():
    holding = mapping.holding(fixture_json("holdings.json")["data"][0], "GOLDBEES")
    assert (holding.exchange, holding.quantity, holding.average_price, holding.ltp) == (
        Exchange.BSE, D(2), D("40.67"), D("42.47"))
    funds = mapping.funds(fixture_json("margins.json")["data"])
    assert funds.availablecash == D("99725.05") + D("100661.7")
    assert (funds.utiliseddebits, funds.m2mrealized, funds.collateral) == (D("145706.55"), D("761.7"), D(0))


def test_a_documented_quote_reads_with_its_best_bid_and_ask_and_no_empty_levels():
    row = fixture_json("quote.json")["data"]["NSE:INFY"]
    quote = mapping.quote(row)
    assert (quote.ltp, quote.open, quote.high, quote.low, quote.prev_close, quote.volume) == (
        D("1412.95"), D(1396), D("1421.75"), D("1395.55"), D("1389.65"), 7360198)
    assert (quote.bid, quote.ask) == (D("1412.9"), D("1412.95"))
    depth = mapping.depth(row)
    assert [level.price for level in depth.bids] == [D("1412.9"), D("1412.85"), D("1412.8")]
    assert len(depth.asks) == 1 and depth.asks[0].orders == 13


def test_documented_candles_read_with_their_offset():
    rows = fixture_json("historical_minute.json")["data"]["candles"]
    bar = mapping.candle(rows[0])
    assert bar.timestamp == int(datetime(2017, 12, 15, 3, 45, tzinfo=UTC).timestamp())
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (D("1704.5"), D(1705), D("1699.25"), D("1702.8"),
                                                                   2499)


def test_documented_gtt_triggers_read_into_ours():
    single, oco = (mapping.gtt_trigger(row, row["condition"]["tradingsymbol"], Exchange.NSE)
                   for row in fixture_json("gtt_triggers.json")["data"])
    assert (single.trigger_id, single.trigger_type, single.status, single.trigger_prices) == (
        "112127", "single", GttStatus.ACTIVE, (D(702),))
    assert single.legs[0].price == D("702.5") and single.legs[0].product == Product.CNC
    assert (oco.trigger_type, oco.status, oco.trigger_prices) == ("two-leg", GttStatus.TRIGGERED, (D(102), D("103.7")))


def test_a_single_gtt_form_is_a_limit_leg_with_json_condition():
    request = GttRequest(trigger_type=GttType.SINGLE, symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                         product=Product.CNC, quantity=D(3), price=D("751"), triggerprice_sl=D("750"))
    form = mapping.gtt_form(request, "SBIN", D("800"))
    assert form["type"] == "single"
    assert json.loads(form["condition"]) == {"exchange": "NSE", "tradingsymbol": "SBIN", "trigger_values": [750.0],
                                             "last_price": 800.0}
    assert json.loads(form["orders"]) == [{"exchange": "NSE", "tradingsymbol": "SBIN", "transaction_type": "BUY",
                                           "quantity": 3, "order_type": "LIMIT", "product": "CNC", "price": 751.0}]


def test_an_oco_gtt_form_has_two_triggers_low_to_high_and_two_legs():
    request = GttRequest(trigger_type=GttType.OCO, symbol="SBIN", exchange=Exchange.NSE, action=Action.SELL,
                         product=Product.CNC, quantity=D(1), triggerprice_sl=D("700"), stoploss=D("699"),
                         triggerprice_tg=D("900"), target=D("901"))
    form = mapping.gtt_form(request, "SBIN", D("800"))
    assert form["type"] == "two-leg"
    assert json.loads(form["condition"])["trigger_values"] == [700.0, 900.0]
    assert [leg["price"] for leg in json.loads(form["orders"])] == [699.0, 901.0]
    assert {leg["transaction_type"] for leg in json.loads(form["orders"])} == {"SELL"}
