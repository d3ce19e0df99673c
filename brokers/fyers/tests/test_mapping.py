"""Fyers' fields <-> ours, both ways, read from the documented sample answers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.base import MarginLeg, ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.fyers import mapping
from brokers.fyers.testing import fixture
from core.values import IST

D = Decimal


def test_every_side_order_type_and_product_has_a_code_at_the_broker():
    assert set(mapping.SIDES) == set(Action)
    assert set(mapping.ORDER_TYPES) == set(PriceType)
    assert set(mapping.PRODUCTS) == set(Product)


def test_the_vocabularies_are_fyers_documented_codes():
    assert mapping.SIDES == {Action.BUY: 1, Action.SELL: -1}
    assert mapping.ORDER_TYPES == {PriceType.LIMIT: 1, PriceType.MARKET: 2, PriceType.SL_M: 3, PriceType.SL: 4}
    assert mapping.PRODUCTS == {Product.CNC: "CNC", Product.NRML: "MARGIN", Product.MIS: "INTRADAY"}


def test_order_statuses_read_transit_as_open_and_expired_as_no_longer_working():
    assert mapping.STATUSES == {1: OrderStatus.CANCELLED, 2: OrderStatus.COMPLETE, 4: OrderStatus.OPEN,
                                5: OrderStatus.REJECTED, 6: OrderStatus.OPEN, 7: OrderStatus.CANCELLED}


def _order(**change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(10),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa17"}
    fields.update(change)
    return OrderRequest(**fields)


def test_a_market_order_body_is_fyers_documented_place_body():
    assert mapping.order_payload(_order(), "NSE:SBIN-EQ") == {
        "symbol": "NSE:SBIN-EQ", "qty": 10, "type": 2, "side": 1, "productType": "INTRADAY", "limitPrice": 0,
        "stopPrice": 0, "validity": "DAY", "disclosedQty": 0, "offlineOrder": False, "stopLoss": 0,
        "takeProfit": 0, "orderTag": "oa17"}


def test_a_stop_limit_sell_carries_both_prices_and_a_stop_market_only_the_trigger():
    body = mapping.order_payload(_order(action=Action.SELL, pricetype=PriceType.SL, price=D("801.5"),
                                        trigger_price=D("802"), product=Product.NRML), "NSE:SBIN-EQ")
    assert (body["side"], body["type"], body["productType"], body["limitPrice"], body["stopPrice"]) == (
        -1, 4, "MARGIN", 801.5, 802.0)
    body = mapping.order_payload(_order(pricetype=PriceType.SL_M, price=D("5"), trigger_price=D("799")), "X")
    assert (body["type"], body["limitPrice"], body["stopPrice"]) == (3, 0, 799.0)


def test_the_order_tag_is_made_alphanumeric_and_cut_to_thirty_and_left_out_when_empty():
    assert mapping.order_tag("oa-123_x") == "oa123x"
    assert mapping.order_tag("a" * 40) == "a" * 30
    assert "orderTag" not in mapping.order_payload(_order(tag=""), "NSE:SBIN-EQ")


def test_a_modify_body_names_the_order_and_its_new_terms():
    request = ModifyRequest(orderid="23080400089344", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                            product=Product.MIS, pricetype=PriceType.LIMIT, quantity=D(2), price=D("700"),
                            trigger_price=D(0))
    assert mapping.modify_payload(request) == {"id": "23080400089344", "type": 1, "qty": 2, "limitPrice": 700.0,
                                               "stopPrice": 0, "disclosedQty": 0}


def test_a_margin_body_lists_each_leg_under_data():
    leg = MarginLeg(symbol="SBIN", exchange=Exchange.NSE, action=Action.SELL, product=Product.CNC,
                    pricetype=PriceType.LIMIT, quantity=D(5), price=D("790"))
    assert mapping.margin_payload([(leg, "NSE:SBIN-EQ")]) == {"data": [{
        "symbol": "NSE:SBIN-EQ", "qty": 5, "side": -1, "type": 1, "productType": "CNC", "limitPrice": 790.0,
        "stopPrice": 0, "stopLoss": 0, "takeProfit": 0}]}
    assert mapping.margin(fixture("margin.json")).total_margin_required == D("147738.0563")


def test_the_documented_order_book_reads_into_our_orders():
    filled, rejected = fixture("orderbook.json")["orderBook"]
    row = mapping.broker_order(filled, "IDEA")
    assert (row.orderid, row.symbol, row.exchange, row.action, row.quantity, row.price, row.pricetype, row.product,
            row.status, row.filled_quantity, row.average_price) == (
        "23080400089344", "IDEA", Exchange.NSE, Action.SELL, D(1), D("6.95"), PriceType.LIMIT, Product.CNC,
        OrderStatus.COMPLETE, D(1), D("6.95"))
    assert row.timestamp == datetime(2023, 8, 4, 10, 5, 35, tzinfo=IST)
    assert row.tag == "Ordertag"
    refused = mapping.broker_order(rejected, "SBIN")
    assert refused.status == OrderStatus.REJECTED and refused.tag == "oa42"
    assert refused.rejection_reason == rejected["message"]


def test_an_order_row_of_an_unknown_status_is_unreadable():
    row = {**fixture("orderbook.json")["orderBook"][0], "status": 3}
    with pytest.raises(mapping.UnreadablePayload):
        mapping.broker_order(row, "IDEA")


def test_the_documented_trade_book_reads_into_our_trades():
    trade = mapping.trade(fixture("tradebook.json")["tradeBook"][0], "IDEA")
    assert (trade.orderid, trade.action, trade.quantity, trade.average_price, trade.tradeid, trade.exchange) == (
        "23080400089344", Action.SELL, D(1), D("6.95"), "52605023", Exchange.NSE)


def test_the_documented_position_is_computed_in_brokers_positions_and_agrees_with_fyers():
    row = fixture("positions.json")["netPositions"][0]
    position = mapping.position(row, "SILVERMIC31AUG20FUT", lot_size=1)
    assert position.exchange == Exchange.MCX and position.product == Product.NRML
    assert position.quantity == D(1) and position.average_price == D("72256.00")
    # Fyers says realised 400, unrealised 461, total 861 for this row: the same numbers, computed once.
    assert (position.realized_pnl, position.unrealized_pnl, position.pnl) == (D("400.00"), D("461.00"), D("861.00"))


def test_a_position_row_without_totals_is_read_as_carried_at_its_net_average():
    row = {"symbol": "NSE:SBIN-EQ", "fyToken": "10100000003045", "productType": "CNC", "netQty": -2,
           "netAvg": 810, "ltp": 800}
    position = mapping.position(row, "SBIN")
    assert (position.quantity, position.average_price, position.pnl) == (D(-2), D("810.00"), D("20.00"))


def test_the_documented_holding_reads_cost_and_last_price():
    holding = mapping.holding(fixture("holdings.json")["holdings"][0], "YESBANK")
    assert (holding.quantity, holding.average_price, holding.ltp, holding.pnl) == (D(1), D("46.7"), D("46.15"),
                                                                                  D("-0.55"))


def test_funds_take_cash_from_clear_balance_not_the_collateral_inclusive_available_balance():
    funds = mapping.funds(fixture("funds.json"), D("461"))
    assert (funds.availablecash, funds.collateral, funds.m2mrealized, funds.m2munrealized, funds.utiliseddebits) == (
        D("56.22"), D("500"), D("3.4"), D("461"), D("12.5"))


def test_bulk_quotes_are_read_by_ticker():
    quotes = mapping.quotes(fixture("quotes.json"))
    sbin = quotes["NSE:SBIN-EQ"]
    assert (sbin.ltp, sbin.bid, sbin.ask, sbin.open, sbin.high, sbin.low, sbin.prev_close, sbin.volume) == (
        D("567.4"), D("567.4"), D("567.45"), D("570.6"), D("571.95"), D("565.3"), D("569.75"), 8439613)
    assert sbin.timestamp == datetime.fromtimestamp(1691020800, UTC)
    assert quotes["NSE:NIFTY50-INDEX"].ltp == D("19526.55")


def test_a_ticker_fyers_could_not_quote_is_left_out():
    body = {"s": "ok", "d": [{"n": "NSE:NOPE-EQ", "s": "error", "v": {"errmsg": "invalid symbol"}}]}
    assert mapping.quotes(body) == {}


def test_the_documented_depth_has_five_levels_a_side_and_its_ohlcv():
    depth = mapping.depth(fixture("depth.json"), "NSE:SBIN-EQ")
    assert len(depth.bids) == len(depth.asks) == 5
    assert (depth.bids[0].price, depth.bids[0].quantity, depth.bids[0].orders) == (D("567.4"), 1104, 7)
    assert (depth.asks[4].price, depth.asks[4].quantity) == (D("567.65"), 2040)
    assert (depth.quote.ltp, depth.quote.bid, depth.quote.ask, depth.quote.volume) == (
        D("567.4"), D("567.4"), D("567.45"), 8439613)


def test_candles_are_epoch_seconds_with_oi_as_seventh_value():
    first = mapping.candles(fixture("history.json"))[0]
    assert (first.timestamp, first.open, first.high, first.low, first.close, first.volume, first.oi) == (
        1690947900, D("569.0"), D("570.2"), D("568.4"), D("569.9"), 345102, 0)
    with pytest.raises(mapping.UnreadablePayload):
        mapping.candles({"candles": [[1690947900, 1, 2]]})


def test_a_fytoken_names_its_exchange():
    assert mapping.exchange_of_token("10100000003045") == Exchange.NSE
    assert mapping.exchange_of_token("101126122935001") == Exchange.NFO
    assert mapping.exchange_of_token("1120200831217406") == Exchange.MCX
    assert mapping.exchange_of_token("121100000001") == Exchange.BFO
    assert mapping.exchange_of_token("999999") is None
