"""Upstox's vocabularies and payloads <-> ours, on the documented samples (tests/fixtures)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from brokers.base import ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import position_of
from brokers.upstox import mapping
from brokers.upstox.testing import fixture
from core.values import IST

D = Decimal


def test_every_side_order_type_and_product_has_a_code_at_the_broker():
    assert set(mapping.SIDES) == set(Action)
    assert set(mapping.ORDER_TYPES) == set(PriceType)
    assert set(mapping.PRODUCTS) == set(Product)
    assert mapping.PRODUCTS == {Product.CNC: "D", Product.NRML: "D", Product.MIS: "I"}


@pytest.mark.parametrize(("code", "exchange", "ours"), [
    ("I", Exchange.NSE, Product.MIS), ("I", Exchange.NFO, Product.MIS), ("D", Exchange.NSE, Product.CNC),
    ("D", Exchange.BSE, Product.CNC), ("D", Exchange.NFO, Product.NRML), ("D", Exchange.MCX, Product.NRML),
    ("D", Exchange.CDS, Product.NRML), ("D", Exchange.BFO, Product.NRML)])
def test_products_map_back_by_exchange(code, exchange, ours):
    assert mapping.our_product(code, exchange) == ours


def test_all_seventeen_documented_statuses_are_mapped():
    assert len(mapping.STATUSES) == 17
    assert mapping.our_status("complete") == OrderStatus.COMPLETE
    assert mapping.our_status("trigger pending") == OrderStatus.TRIGGER_PENDING
    assert mapping.our_status("put order req received") == OrderStatus.OPEN
    assert mapping.our_status("cancelled after market order") == OrderStatus.CANCELLED
    assert mapping.our_status("not cancelled") == OrderStatus.OPEN
    assert mapping.our_status("Rejected") == OrderStatus.REJECTED


def _request(**change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(10),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa#1234/5"}
    fields.update(change)
    return OrderRequest(**fields)


def test_a_market_order_payload_carries_market_protection_and_no_price():
    payload = mapping.order_payload(_request(), "NSE_EQ|INE062A01020", market_protection=-1, slice_order=False)
    assert payload == {"quantity": 10, "product": "I", "validity": "DAY", "price": 0.0, "tag": "oa12345",
                       "instrument_token": "NSE_EQ|INE062A01020", "order_type": "MARKET",
                       "transaction_type": "BUY", "disclosed_quantity": 0, "trigger_price": 0.0, "is_amo": False,
                       "slice": False, "market_protection": -1}


def test_limit_and_sl_orders_carry_their_prices_and_no_market_protection():
    limit = mapping.order_payload(_request(pricetype=PriceType.LIMIT, price=D("801.5"), product=Product.CNC),
                                  "K", market_protection=5, slice_order=True)
    assert (limit["price"], limit["trigger_price"], limit["product"], limit["slice"]) == (801.5, 0.0, "D", True)
    assert "market_protection" not in limit
    stop = mapping.order_payload(_request(pricetype=PriceType.SL, price=D("790"), trigger_price=D("792")), "K",
                                 market_protection=5, slice_order=False)
    assert (stop["order_type"], stop["price"], stop["trigger_price"]) == ("SL", 790.0, 792.0)
    assert "market_protection" not in stop
    stop_market = mapping.order_payload(_request(pricetype=PriceType.SL_M, trigger_price=D("792")), "K",
                                        market_protection=5, slice_order=False)
    assert (stop_market["order_type"], stop_market["price"], stop_market["market_protection"]) == ("SL-M", 0.0, 5)


def test_a_modify_payload():
    request = ModifyRequest(orderid="240101000000001", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                            product=Product.MIS, pricetype=PriceType.LIMIT, quantity=D(4), price=D("799"),
                            trigger_price=D(0))
    assert mapping.modify_payload(request, market_protection=-1) == {
        "order_id": "240101000000001", "quantity": 4, "validity": "DAY", "price": 799.0, "order_type": "LIMIT",
        "disclosed_quantity": 0, "trigger_price": 0.0}


def test_tags_keep_only_upstox_safe_characters_and_twenty_of_them():
    assert mapping.tag_for("oa123") == "oa123"
    assert mapping.tag_for("a b/c" + "x" * 40) == "abc" + "x" * 17


def test_slices_needed():
    assert mapping.slices_needed(1800, 1800) == 1
    assert mapping.slices_needed(1801, 1800) == 2
    assert mapping.slices_needed(18000, 1800) == 10
    assert mapping.slices_needed(18001, 1800) == 11
    assert mapping.slices_needed(5000, 1) == 1  # freeze unknown: no slicing


def test_a_documented_order_row_reads_with_its_rejection_text_verbatim():
    row = fixture("order_book.json")["data"][0]
    order = mapping.broker_order(row, "SBIN")
    assert (order.orderid, order.symbol, order.exchange, order.action) == ("231019025562880", "SBIN", Exchange.NSE,
                                                                           Action.BUY)
    assert (order.pricetype, order.product, order.status) == (PriceType.LIMIT, Product.CNC, OrderStatus.REJECTED)
    assert order.price == D("571.0") and order.quantity == 1
    assert order.rejection_reason == "High Prices / Low Prices out of range"
    assert order.timestamp == datetime(2023, 10, 19, 13, 25, 56, tzinfo=IST)
    assert order.tag == ""


def test_a_completed_order_row():
    order = mapping.broker_order(fixture("order_details.json")["data"], "SBIN")
    assert (order.status, order.filled_quantity, order.average_price, order.product, order.tag) == (
        OrderStatus.COMPLETE, 1, D("571.95"), Product.MIS, "oa42")
    assert order.rejection_reason == ""


def test_a_documented_trade_row():
    trade = mapping.trade(fixture("trades.json")["data"][0], "GMRINFRA")
    assert (trade.orderid, trade.tradeid, trade.quantity, trade.average_price) == ("231020000000001", "50091502", 1,
                                                                                   D("58.25"))
    assert trade.timestamp == datetime(2023, 10, 20, 10, 0, 27, tzinfo=IST) and trade.product == Product.CNC


def test_a_documented_position_nets_through_the_shared_pnl():
    position = position_of(mapping.position_totals(fixture("positions.json")["data"][0], "YESBANK"))
    assert (position.quantity, position.product, position.realized_pnl, position.pnl) == (0, Product.MIS,
                                                                                          D("-0.05"), D("-0.05"))


def test_an_overnight_short_with_todays_buy_back():
    row = {"exchange": "NFO", "product": "D", "multiplier": 1.0, "day_buy_quantity": 25, "day_buy_value": 2500.0,
           "day_sell_quantity": 0, "day_sell_value": 0.0, "overnight_buy_quantity": 0, "overnight_buy_amount": 0.0,
           "overnight_sell_quantity": 75, "overnight_sell_amount": 9000.0, "last_price": 110.0}
    position = position_of(mapping.position_totals(row, "NIFTY28NOV2425000CE"))
    assert position.quantity == -50 and position.average_price == D("120.00")
    assert position.realized_pnl == D("500.00") and position.unrealized_pnl == D("500.00")
    assert position.product == Product.NRML


def test_a_documented_holding():
    held = mapping.holding(fixture("holdings.json")["data"][0], "YESBANK")
    assert (held.quantity, held.average_price, held.ltp, held.exchange) == (36, D("18.75"), D("17.05"), Exchange.NSE)


def test_a_documented_full_quote_and_its_depth():
    row = fixture("quotes.json")["data"]["NSE_EQ:NHPC"]
    quote = mapping.quote(row)
    assert (quote.ltp, quote.open, quote.high, quote.low) == (D("45.8"), D("45.95"), D("46.0"), D("45.7"))
    assert quote.prev_close == D("45.95")  # last price minus net change: ohlc.close is today's
    assert (quote.bid, quote.ask, quote.volume) == (D("45.75"), D("45.8"), 17550708)
    depth = mapping.depth(row)
    assert len(depth.bids) == len(depth.asks) == 5
    assert depth.bids[1].quantity == 167552 and depth.asks[4].orders == 213


def test_candles_are_read_with_their_offset():
    bar = mapping.candle(fixture("candles_days.json")["data"]["candles"][1])
    assert bar.timestamp == int(datetime(2025, 1, 1, tzinfo=IST).timestamp())
    assert (bar.open, bar.close, bar.volume) == (D("53.1"), D("52.05"), 235519861)
    with pytest.raises(mapping.UnreadablePayload):
        mapping.candle(["2025-01-01T00:00:00+05:30", 1, 2])


def _rows() -> dict[str, object]:
    read = {}
    for raw in fixture("instruments.json"):
        try:
            row = mapping.instrument_row(raw)
        except mapping.UnreadablePayload as problem:
            read[raw["instrument_key"]] = problem
        else:
            read[raw["instrument_key"]] = row
    return read


@pytest.mark.parametrize(("key", "symbol", "exchange"), [
    ("NSE_EQ|INE062A01020", "SBIN", Exchange.NSE),  # equity
    ("NSE_EQ|INE848E01016", "NHPC", Exchange.NSE),
    ("NSE_INDEX|Nifty 50", "NIFTY", Exchange.NSE_INDEX),  # index
    ("NSE_INDEX|Nifty Bank", "BANKNIFTY", Exchange.NSE_INDEX),
    ("BSE_INDEX|SENSEX", "SENSEX", Exchange.BSE_INDEX),
    ("NSE_FO|35001", "NIFTY28NOV24FUT", Exchange.NFO),  # index future
    ("NSE_FO|52567", "SBIN26OCT23FUT", Exchange.NFO),  # stock future
    ("NSE_FO|35002", "NIFTY28NOV2425000CE", Exchange.NFO),  # monthly option
    ("BSE_FO|1140390", "SENSEX29NOV2480000PE", Exchange.BFO),
    ("NSE_FO|37590", "NIFTY15FEB2419650CE", Exchange.NFO),  # weekly options
    ("NSE_FO|51834", "NIFTY30APR2521600PE", Exchange.NFO),
    ("NCD_FO|1262", "USDINR27NOV24FUT", Exchange.CDS),  # currency
    ("NCD_FO|11503", "USDINR27NOV2484.25CE", Exchange.CDS),
    ("MCX_FO|430106", "CRUDEOIL19NOV24FUT", Exchange.MCX),  # commodity
    ("MCX_FO|439488", "GOLDM26NOV2476000CE", Exchange.MCX),
])
def test_symbols_of_every_kind(key, symbol, exchange):
    row = _rows()[key]
    assert row.symbol == symbol and row.exchange == exchange and row.token == key


def test_instrument_row_fields():
    rows = _rows()
    sbin = rows["NSE_EQ|INE062A01020"]
    assert (sbin.brsymbol, sbin.brexchange, sbin.name, sbin.lotsize, sbin.instrumenttype) == (
        "SBIN", "NSE_EQ", "STATE BANK OF INDIA", 1, "EQ")
    assert sbin.tick_size == D("0.05") and sbin.freeze_qty == 250000 and sbin.expiry is None  # tick in paise
    option = rows["NSE_FO|35002"]
    assert (option.expiry, option.strike, option.lotsize, option.freeze_qty, option.name) == (
        date(2024, 11, 28), D("25000.0"), 25, 1800, "NIFTY")
    assert option.instrumenttype == "CE" and option.tick_size == D("0.05")
    assert rows["NCD_FO|11503"].tick_size == D("0.0025")
    assert rows["NSE_INDEX|Nifty 50"].instrumenttype == "" and rows["NSE_INDEX|Nifty 50"].freeze_qty == 1


def test_rows_we_cannot_or_do_not_trade_are_unreadable():
    rows = _rows()
    assert "not one we trade" in str(rows["NSE_COM|1"])
    assert isinstance(rows["NSE_FO|999"], mapping.UnreadablePayload)  # a future without its expiry


def test_an_expiry_is_the_ist_calendar_day_whatever_the_hour():
    midnight_ist = int(datetime(2024, 11, 28, 0, 0, tzinfo=IST).timestamp() * 1000)
    raw = {**fixture("instruments.json")[5], "expiry": midnight_ist}
    assert mapping.instrument_row(raw).symbol == "NIFTY28NOV24FUT"


def test_index_names():
    assert mapping.index_symbol("NIFTY FIN SERVICE") == "FINNIFTY"
    assert mapping.index_symbol("NIFTY MID SELECT") == "MIDCPNIFTY"
    assert mapping.index_symbol("SNSX50") == "SENSEX50"
    assert mapping.index_symbol("NIFTY PSU BANK") == "NIFTYPSUBANK"


def test_mcx_quantities_are_lots_at_upstox_and_units_here():
    assert mapping.their_quantity(D(200), Exchange.MCX, 100) == 2
    assert mapping.their_quantity(D(200), Exchange.NFO, 25) == 200
    assert mapping.their_quantity(D(3), Exchange.MCX, 1) == 3  # a lot of one unit: the same number
    with pytest.raises(ValueError, match="not a whole number of lots"):
        mapping.their_quantity(D(150), Exchange.MCX, 100)
    with pytest.raises(ValueError):
        mapping.their_quantity(D("200.5"), Exchange.MCX, 100)
    assert mapping.our_quantity(2, Exchange.MCX, 100) == 200 and mapping.our_quantity(2, Exchange.NFO, 25) == 2
    mcx = _request(symbol="CRUDEOIL19NOV24FUT", exchange=Exchange.MCX, quantity=D(300), product=Product.NRML)
    assert mapping.order_payload(mcx, "MCX_FO|430106", market_protection=-1, slice_order=False,
                                 lot_size=100)["quantity"] == 3


def test_mcx_rows_come_back_in_units():
    row = {**fixture("order_details.json")["data"], "exchange": "MCX", "quantity": 2, "filled_quantity": 1,
           "product": "D"}
    order = mapping.broker_order(row, "CRUDEOIL19NOV24FUT", 100)
    assert (order.quantity, order.filled_quantity, order.product) == (200, 100, Product.NRML)
    position_row = {"exchange": "MCX", "product": "I", "multiplier": 1.0, "day_buy_quantity": 2,
                    "day_buy_value": 12000.0, "day_buy_price": 6000.0, "day_sell_quantity": 1,
                    "day_sell_value": 6050.0, "day_sell_price": 6050.0, "last_price": 6020.0}
    position = position_of(mapping.position_totals(position_row, "CRUDEOIL19NOV24FUT", 100))
    assert (position.quantity, position.average_price) == (100, D("6000.00"))
    assert (position.realized_pnl, position.unrealized_pnl) == (D("5000.00"), D("2000.00"))


def test_v3_funds():
    funds = mapping.funds(fixture("funds_v3.json")["data"])
    assert (funds.availablecash, funds.collateral, funds.utiliseddebits) == (D("102345.75"), D("4000.0"),
                                                                             D("3250.5"))
    with pytest.raises(KeyError):
        mapping.funds({"equity": {}})  # the v2 shape is not read as v3
