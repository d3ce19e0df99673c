"""Angel One's fields <-> ours, both ways, on the documented payloads."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from brokers.base import ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import position_of
from core.values import IST

from .. import mapping
from ..testing import fixture


def test_every_side_order_type_and_product_has_a_code_at_the_broker_and_back():
    assert set(mapping.SIDES) == set(Action)
    assert set(mapping.ORDER_TYPES) == set(PriceType)
    assert set(mapping.PRODUCTS) == set(Product)
    assert mapping.ORDER_TYPES[PriceType.SL] == "STOPLOSS_LIMIT"
    assert mapping.ORDER_TYPES[PriceType.SL_M] == "STOPLOSS_MARKET"
    assert {mapping.our_product(theirs) for theirs in mapping.PRODUCTS.values()} == set(Product)
    assert mapping.our_product("MARGIN") == Product.CNC
    assert mapping.our_product("BO") == Product.MIS
    with pytest.raises(mapping.UnreadablePayload):
        mapping.our_product("COVER")


def test_order_statuses_cover_angels_transient_words():
    for word in ("open pending", "validation pending", "put order req received", "modify pending", "modified",
                 "after market order req received", "modify after market order req received"):
        assert mapping.STATUSES[word] == OrderStatus.OPEN
    assert mapping.STATUSES["cancelled after market order"] == OrderStatus.CANCELLED
    assert mapping.STATUSES["trigger pending"] == OrderStatus.TRIGGER_PENDING


def test_the_place_order_body_has_the_documented_fields_and_our_tag():
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(1),
                           product=Product.MIS, pricetype=PriceType.LIMIT, price=Decimal("194.50"), tag="oa42")
    body = mapping.order_body(request, brsymbol="SBIN-EQ", token="3045", pricetype=PriceType.LIMIT,
                              price=request.price)
    documented = fixture("place_order_request.json")
    assert {key: body[key] for key in documented} == {**documented, "price": "194.5"}
    assert body["ordertag"] == "oa42" and body["disclosedquantity"] == "0" and body["triggerprice"] == "0"


def test_a_stop_loss_order_goes_in_the_stoploss_variety():
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.SELL, quantity=Decimal(5),
                           product=Product.CNC, pricetype=PriceType.SL, price=Decimal("780"),
                           trigger_price=Decimal("781.5"))
    body = mapping.order_body(request, brsymbol="SBIN-EQ", token="3045", pricetype=PriceType.SL, price=request.price)
    assert (body["variety"], body["ordertype"], body["producttype"]) == ("STOPLOSS", "STOPLOSS_LIMIT", "DELIVERY")
    assert (body["price"], body["triggerprice"], body["quantity"]) == ("780", "781.5", "5")
    assert "ordertag" not in body  # no reference of ours: no tag sent


def test_the_order_tag_is_cut_under_twenty_characters_of_a_safe_charset():
    assert mapping.order_tag("oa12345") == "oa12345"
    assert mapping.order_tag("oa:1 2/3") == "oa123"
    assert len(mapping.order_tag("x" * 40)) == 19


def test_the_modify_body_names_the_instrument_and_the_order():
    request = ModifyRequest(orderid="201020000000080", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                            product=Product.MIS, pricetype=PriceType.LIMIT, quantity=Decimal(2),
                            price=Decimal("195"), trigger_price=Decimal(0))
    body = mapping.modify_body(request, brsymbol="SBIN-EQ", token="3045", pricetype=PriceType.LIMIT,
                               price=request.price)
    assert body == {"variety": "NORMAL", "orderid": "201020000000080", "ordertype": "LIMIT",
                    "producttype": "INTRADAY", "duration": "DAY", "price": "195", "triggerprice": "0",
                    "quantity": "2", "disclosedquantity": "0", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045",
                    "exchange": "NSE"}


def test_order_book_rows_read_as_documented_with_the_rejection_text_verbatim():
    cancelled, rejected = fixture("order_book.json")["data"]
    order = mapping.broker_order(cancelled, "SBIN")
    assert (order.orderid, order.symbol, order.exchange, order.action) == ("201020000000080", "SBIN", Exchange.NSE,
                                                                           Action.BUY)
    assert (order.status, order.pricetype, order.product, order.quantity) == (
        OrderStatus.CANCELLED, PriceType.LIMIT, Product.MIS, Decimal(1))
    assert order.price == Decimal("194.00") and order.tag == "oa42" and order.rejection_reason == ""
    assert order.timestamp == datetime(2020, 10, 20, 13, 10, 59, tzinfo=IST)
    refused = mapping.broker_order(rejected, "NIFTY28NOV2425000CE")
    assert refused.status == OrderStatus.REJECTED and refused.product == Product.NRML
    assert refused.rejection_reason == rejected["text"]
    assert refused.rejection_reason.startswith("Your order has been rejected due to Insufficient Funds.")


def test_a_row_not_yet_stamped_takes_the_time_it_was_read():
    row = dict(fixture("order_book.json")["data"][0], updatetime="", exchtime="", exchorderupdatetime="")
    before = datetime.now(IST)
    assert mapping.broker_order(row, "SBIN").timestamp >= before
    row = dict(row, orderid=201020000000080, price=161.7, quantity="1")  # numbers as the docs' sample sends them
    order = mapping.broker_order(row, "SBIN")
    assert order.orderid == "201020000000080" and order.price == Decimal("161.7")


def test_order_times_in_the_forms_seen_in_answers():
    assert mapping.order_time("12-Jun-2024 09:45:39") == datetime(2024, 6, 12, 9, 45, 39, tzinfo=IST)
    assert mapping.order_time("2024-Nov-06 12:42:18") == datetime(2024, 11, 6, 12, 42, 18, tzinfo=IST)
    with pytest.raises(mapping.UnreadablePayload):
        mapping.order_time("yesterday")


def test_an_unknown_status_is_unreadable_not_guessed():
    row = dict(fixture("order_book.json")["data"][0], status="teleported", orderstatus="teleported")
    with pytest.raises(mapping.UnreadablePayload):
        mapping.broker_order(row, "SBIN")


def test_a_trade_row_takes_todays_date_with_its_time_of_day():
    row = fixture("trade_book.json")["data"][0]
    fill = mapping.trade(row, "ITC", date(2026, 11, 27))
    assert (fill.orderid, fill.tradeid, fill.quantity, fill.average_price) == (
        "201020000000095", "50005750", Decimal(1), Decimal("175.00"))
    assert fill.product == Product.CNC and fill.action == Action.BUY
    assert fill.timestamp == datetime(2026, 11, 27, 13, 27, 53, tzinfo=IST)


def test_positions_are_computed_by_the_shared_pnl_rules():
    row = fixture("positions.json")["data"][0]
    totals = mapping.position_totals(row, "RELIANCE")
    assert totals.ltp == 0 and mapping.net_quantity(totals) == 6  # the documented row has no last price
    position = position_of(replace(totals, ltp=Decimal("1520.00")))
    assert position.quantity == Decimal(6) and position.average_price == Decimal("1500.00")
    assert position.realized_pnl == Decimal("200.00")  # 4 matched at 1550 - 1500
    assert position.unrealized_pnl == Decimal("120.00")  # 6 open at 1520 - 1500
    assert position.pnl == Decimal("320.00") and position.product == Product.CNC


def test_a_carried_short_position_takes_its_carry_price():
    row = {"exchange": "NFO", "producttype": "CARRYFORWARD", "symboltoken": "35006", "buyqty": "0",
           "sellqty": "0", "buyamount": "0", "sellamount": "0", "cfbuyqty": "0", "cfsellqty": "25",
           "cfbuyamount": "", "cfsellamount": "", "cfsellavgprice": "24150.00", "ltp": "24100", "multiplier": "1"}
    position = position_of(mapping.position_totals(row, "NIFTY28NOV24FUT"))
    assert position.quantity == Decimal(-25) and position.average_price == Decimal("24150.00")
    assert position.pnl == Decimal("1250.00")


def test_holdings_funds_and_margin_fixtures_read():
    row = fixture("holdings.json")["data"]["holdings"][0]
    holding = mapping.holding(row, "TATASTEEL")
    assert (holding.quantity, holding.average_price, holding.ltp) == (Decimal(2), Decimal("111.87"),
                                                                      Decimal("130.15"))
    funds = mapping.funds(fixture("rms.json")["data"])
    assert funds.availablecash == Decimal("9999999999999") and funds.utiliseddebits == 0
    assert funds.extra["net"] == "9999999999999"


def test_a_full_quote_reads_into_quote_and_five_level_depth():
    row = fixture("quote_full.json")["data"]["fetched"][0]
    quote = mapping.quote(row)
    assert (quote.ltp, quote.open, quote.high, quote.low, quote.prev_close) == (
        Decimal("568.2"), Decimal("567.4"), Decimal("569.35"), Decimal("566.1"), Decimal("567.4"))
    assert quote.volume == 3556150 and quote.bid == Decimal("568.2") and quote.ask == Decimal("568.25")
    assert quote.timestamp == datetime(2023, 6, 21, 10, 46, 10, tzinfo=IST)
    depth = mapping.depth(row)
    assert len(depth.bids) == len(depth.asks) == 5
    assert depth.asks[4].price == Decimal("568.45") and depth.asks[4].quantity == 4814 and depth.asks[4].orders == 18
    assert depth.total_buy_qty == 511 + 411 + 31 + 1020 + 1704


def test_candles_read_as_epoch_seconds_of_their_ist_start():
    first, _ = fixture("candles.json")["data"]
    bar = mapping.candle(first)
    assert bar.timestamp == int(datetime(2023, 9, 6, 11, 15, tzinfo=IST).timestamp())
    assert (bar.open, bar.close, bar.volume) == (Decimal("19571.2"), Decimal("19552.05"), 0)
    with pytest.raises(mapping.UnreadablePayload):
        mapping.candle(["2023-09-06T11:15:00+05:30", 1, 2])


def test_history_requests_are_split_at_the_documented_days_per_interval():
    windows = mapping.candle_windows(date(2026, 1, 1), date(2026, 3, 31), "1m")
    assert windows[0] == ("2026-01-01 00:00", "2026-01-30 23:59")
    assert windows[-1][1] == "2026-03-31 23:59" and len(windows) == 3
    assert mapping.candle_windows(date(2020, 1, 1), date(2026, 1, 1), "D")[0] == ("2020-01-01 00:00",
                                                                                  "2025-06-22 23:59")
    assert {interval: days for interval, (_, days) in mapping.INTERVALS.items()} == {
        "1m": 30, "3m": 60, "5m": 100, "10m": 100, "15m": 200, "30m": 200, "1h": 400, "D": 2000}
