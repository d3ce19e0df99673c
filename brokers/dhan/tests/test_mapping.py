"""Dhan's vocabularies both ways, and its documented payloads read into our types."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from brokers.base import ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import position_of
from core.values import IST

from .. import mapping
from ..testing import fixture

D = Decimal


def test_every_side_order_type_product_and_exchange_has_a_code_at_dhan_and_back():
    assert set(mapping.SIDES) == set(Action)
    assert set(mapping.ORDER_TYPES) == set(PriceType)
    assert set(mapping.PRODUCTS) == set(Product)
    for ours, theirs in mapping.PRODUCTS.items():
        assert mapping.product_of(theirs) == ours  # INTRADAY -> MIS, not None (OpenAlgo's bug)
    for exchange, segment in mapping.SEGMENTS.items():
        assert exchange in mapping.exchanges_of(segment)
    assert mapping.exchanges_of("IDX_I") == (Exchange.NSE_INDEX, Exchange.BSE_INDEX)


@pytest.mark.parametrize(("theirs", "ours"), [
    ("TRANSIT", OrderStatus.OPEN), ("PENDING", OrderStatus.OPEN), ("PART_TRADED", OrderStatus.OPEN),
    ("TRADED", OrderStatus.COMPLETE), ("REJECTED", OrderStatus.REJECTED), ("CANCELLED", OrderStatus.CANCELLED),
    ("EXPIRED", OrderStatus.CANCELLED), ("Cancelled", OrderStatus.CANCELLED),
])
def test_dhan_statuses_map_to_ours(theirs, ours):
    assert mapping.status_of(theirs) == ours


def test_dhan_extra_products_read_as_the_nearest_of_ours():
    assert mapping.product_of("CO") == mapping.product_of("BO") == Product.MIS
    assert mapping.product_of("MTF") == Product.CNC
    with pytest.raises(mapping.UnreadablePayload):
        mapping.product_of("XYZ")


def test_an_order_body_has_the_documented_fields_and_our_tag_as_correlation_id():
    request = OrderRequest(symbol="TCS", exchange=Exchange.NSE, action=Action.BUY, quantity=D(5),
                           product=Product.MIS, pricetype=PriceType.MARKET, tag="123abc678")
    body = mapping.order_body(request, client_id="1000000003", security_id="11536")
    assert body == fixture("place_order_request.json")


def test_prices_go_only_where_the_order_type_uses_them():
    limit = OrderRequest(symbol="X", exchange=Exchange.NFO, action=Action.SELL, quantity=D(75),
                         product=Product.NRML, pricetype=PriceType.LIMIT, price=D("101.55"), trigger_price=D(9))
    body = mapping.order_body(limit, client_id="1", security_id="43854")
    assert (body["price"], body["triggerPrice"], body["productType"], body["exchangeSegment"]) == (
        101.55, 0.0, "MARGIN", "NSE_FNO")
    stop = OrderRequest(symbol="X", exchange=Exchange.BSE, action=Action.SELL, quantity=D(1), product=Product.CNC,
                        pricetype=PriceType.SL_M, price=D(5), trigger_price=D("99.5"))
    body = mapping.order_body(stop, client_id="1", security_id="500112")
    assert (body["orderType"], body["price"], body["triggerPrice"]) == ("STOP_LOSS_MARKET", 0.0, 99.5)
    assert "correlationId" not in body  # no tag, no correlationId


def test_the_correlation_id_keeps_safe_characters_within_its_limit():
    assert mapping.correlation_id("oa12345") == "oa12345"
    assert mapping.correlation_id("oa 1/2:3") == "oa123"
    assert len(mapping.correlation_id("x" * 60)) == mapping.TAG_LENGTH


def test_a_modify_body_carries_the_whole_quantity_and_the_order_id():
    request = ModifyRequest(orderid="112111182198", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                            product=Product.MIS, pricetype=PriceType.SL, quantity=D(10), price=D("801"),
                            trigger_price=D("800.5"))
    assert mapping.modify_body(request, client_id="1000000003") == {
        "dhanClientId": "1000000003", "orderId": "112111182198", "orderType": "STOP_LOSS", "legName": "",
        "quantity": 10, "price": 801.0, "disclosedQuantity": 0, "triggerPrice": 800.5, "validity": "DAY"}


def test_the_documented_order_book_reads_with_rejection_text_verbatim():
    pending, rejected = fixture("order_book.json")
    order = mapping.broker_order(pending, "TCS", Exchange.NSE)
    assert (order.orderid, order.status, order.pricetype, order.product, order.quantity, order.tag) == (
        "112111182198", OrderStatus.OPEN, PriceType.MARKET, Product.MIS, D(5), "123abc678")
    assert order.timestamp == datetime(2021, 11, 24, 13, 33, 3, tzinfo=IST)
    assert order.pending_quantity == 5
    bad = mapping.broker_order(rejected, "NIFTY28NOV2425000CE", Exchange.NFO)
    assert bad.status == OrderStatus.REJECTED and bad.product == Product.NRML and bad.pricetype == PriceType.SL
    assert bad.rejection_reason == rejected["omsErrorDescription"]
    assert (bad.price, bad.trigger_price) == (D("101.5"), D("102.0"))


def test_the_documented_trade_book_reads():
    trade = mapping.trade(fixture("trade_book.json")[0], "TCS", Exchange.NSE)
    assert (trade.orderid, trade.action, trade.quantity, trade.average_price, trade.tradeid) == (
        "112111182045", Action.BUY, D(40), D("3345.8"), "15112111182045")
    assert trade.timestamp == datetime(2021, 11, 25, 17, 35, 12, tzinfo=IST)


def test_a_position_is_netted_by_the_shared_rules_from_day_and_carried_quantities():
    row = fixture("positions.json")[0]
    position = position_of(mapping.position_totals(row, "TCS", Exchange.NSE, ltp=D("3400")))
    assert (position.quantity, position.average_price, position.product) == (D(40), D("3345.80"), Product.CNC)
    assert position.unrealized_pnl == D("2168.00")  # (3400 - 3345.80) * 40
    carried = {**row, "carryForwardSellQty": 10, "carryForwardSellValue": 34000.0, "dayBuyQty": 10,
               "dayBuyValue": 33000.0}
    closed = position_of(mapping.position_totals(carried, "TCS", Exchange.NSE, ltp=D("3400")))
    assert closed.quantity == 0 and closed.realized_pnl == D("1000.00")


def test_the_last_price_implied_by_dhan_pnl_backs_up_a_failed_quote():
    assert mapping.reported_ltp(fixture("positions.json")[0]) == D("3368.05")  # 3215 + 6122/40


def test_holdings_funds_and_margin_read_the_documented_answers():
    holding = mapping.holding(fixture("holdings.json")[0], "HDFC", Exchange.NSE, ltp=D("2700"))
    assert (holding.quantity, holding.average_price, holding.pnl) == (D(1000), D("2655.0"), D("45000.0"))
    funds = mapping.funds(fixture("fundlimit.json"))
    assert (funds.availablecash, funds.utiliseddebits, funds.extra["sodLimit"]) == (D("98440.0"), D("15202.0"), 113642)
    margin = mapping.margin(fixture("margincalculator.json"))
    assert (margin.total_margin_required, margin.span_margin, margin.exposure_margin) == (
        D("2800.0"), D("1200.0"), D("1003.0"))


def test_the_documented_quote_reads_with_its_depth_and_empty_levels_dropped():
    payload = fixture("marketfeed_quote.json")["data"]["NSE_FNO"]["49081"]
    quote = mapping.quote(payload)
    assert (quote.ltp, quote.prev_close, quote.bid, quote.ask) == (D("368.15"), D("368.15"), D(77), D(0))
    depth = mapping.depth(payload)
    assert [(level.price, level.quantity, level.orders) for level in depth.bids] == [(D(77), 1800, 1), (D(50), 25, 1)]
    assert depth.asks == ()


def test_columnar_bars_become_candles():
    bars = mapping.candles(fixture("charts_historical.json"))
    assert [bar.timestamp for bar in bars] == [1326220200, 1326306600, 1326393000]
    assert (bars[2].open, bars[2].high, bars[2].low, bars[2].close, bars[2].volume) == (
        D("3925.00"), D("3977.75"), D("3920.05"), D("3962.15"), 2147690)
    with pytest.raises(mapping.UnreadablePayload):
        mapping.candles({"open": [1], "high": [1], "low": [1], "close": [1], "volume": [], "timestamp": [1]})


def test_placeholder_times_give_way_to_the_next_real_one():
    row = {**fixture("trade_book.json")[0], "exchangeTime": "0001-01-01 00:00:00", "updateTime": "NA"}
    assert mapping.trade(row, "TCS", Exchange.NSE).timestamp == datetime(2021, 3, 10, 11, 20, 6, tzinfo=IST)
    with pytest.raises(mapping.UnreadablePayload):
        mapping.first_time({"createTime": None}, "createTime")
