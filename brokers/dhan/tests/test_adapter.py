"""The Dhan adapter against the fake exchange: what we send (method, path, headers, body)
and what we make of the answers, including every error path."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest

from brokers.base import (
    BrokerAuthExpired,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    CapabilityMissing,
    MarginLeg,
    ModifyRequest,
    OrderRequest,
    SymbolNotFound,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product

from ..adapter import DhanAdapter
from ..testing import CLIENT_ID, TOKEN, credentials, fixture

D = Decimal


@pytest.fixture
def adapter(dhan_market):
    return DhanAdapter(None, credentials())


def _buy(**change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(2),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa42"}
    fields.update(change)
    return OrderRequest(**fields)


def test_a_placement_sends_the_documented_body_with_dhan_headers(adapter, dhan_market):
    dhan_market.answer("POST /orders", 200, fixture("place_order_response.json"))
    placed = adapter.place_order(_buy())
    request = dhan_market.requests[-1]
    assert request.method == "POST" and request.url.path == "/v2/orders"
    assert request.headers["access-token"] == TOKEN and request.headers["client-id"] == CLIENT_ID
    assert request.headers["content-type"] == "application/json" and request.headers["accept"] == "application/json"
    assert json.loads(request.content) == {
        "dhanClientId": CLIENT_ID, "correlationId": "oa42", "transactionType": "BUY", "exchangeSegment": "NSE_EQ",
        "productType": "INTRADAY", "orderType": "MARKET", "validity": "DAY", "securityId": "3045", "quantity": 2,
        "disclosedQuantity": 0, "price": 0.0, "triggerPrice": 0.0, "afterMarketOrder": False}
    assert placed.orderid == "112111182198" and placed.status is None  # the book says what happened


def test_the_client_id_comes_from_the_token_when_none_is_stored(dhan_market):
    import base64

    claims = base64.urlsafe_b64encode(json.dumps({"dhanClientId": CLIENT_ID, "exp": 1}).encode()).decode()
    token = f"e30.{claims.rstrip('=')}.sig"
    dhan_market.tokens.add(token)
    adapter = DhanAdapter(None, credentials(client_id="", access_token=token))
    adapter.place_order(_buy())
    assert dhan_market.bodies[-1][1]["dhanClientId"] == CLIENT_ID


def test_a_rejection_text_comes_back_verbatim(adapter, dhan_market):
    dhan_market.cash = D(10)
    with pytest.raises(BrokerRejected) as caught:
        adapter.place_order(_buy())
    assert caught.value.message == "RMS:Margin Exceeds,Required:1600.00, Available:10.00 for entity account-1000000001"
    assert caught.value.http_status == 400


def test_an_order_rejected_on_placement_raises_with_dhan_reason_and_its_id(adapter, dhan_market):
    rejected = fixture("order_book.json")[1]
    dhan_market.answer("POST /orders", 200, {"orderId": "112111182199", "orderStatus": "REJECTED"})
    dhan_market.answer("GET /orders/112111182199", 200, rejected)
    with pytest.raises(BrokerRejected) as caught:
        adapter.place_order(_buy())
    assert caught.value.message == rejected["omsErrorDescription"] and caught.value.orderid == "112111182199"


@pytest.mark.parametrize(("kind", "error"), [
    ("timeout", BrokerUnavailable), ("disconnect", BrokerUnavailable), ("5xx", BrokerUnavailable),
    ("malformed", BrokerUnavailable), ("429", BrokerRateLimited), ("expired", BrokerAuthExpired),
])
def test_transport_and_session_failures_are_classified(adapter, dhan_market, kind, error):
    dhan_market.fail_next(kind)
    with pytest.raises(error) as caught:
        adapter.place_order(_buy())
    if kind == "429":
        assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(("status", "body", "error"), [
    (401, {}, BrokerAuthExpired),
    (403, {"errorType": "Invalid_Authentication", "errorCode": "DH-901", "errorMessage": "expired"}, BrokerAuthExpired),
    (400, {"errorType": "Invalid_Authentication", "errorCode": "DH-901", "errorMessage": "expired"}, BrokerAuthExpired),
    (403, {"errorType": "Invalid_Access", "errorCode": "DH-902", "errorMessage": "No Trading API access"},
     BrokerRejected),
    (400, {"errorType": "Rate_Limit", "errorCode": "DH-904", "errorMessage": "Too many requests"}, BrokerRateLimited),
    (500, {"errorType": "Internal", "errorCode": "DH-908", "errorMessage": "Internal server error"},
     BrokerUnavailable),
    (400, {"status": "failed", "data": {"807": "Access token is expired"}}, BrokerAuthExpired),
    (400, {"status": "failed", "data": {"805": "Too many requests"}}, BrokerRateLimited),
    (400, {"status": "failed", "data": {"806": "Data APIs not subscribed"}}, BrokerRejected),
])
def test_dhan_error_bodies_are_classified(adapter, dhan_market, status, body, error):
    dhan_market.answer("POST /marketfeed/quote", status, body)
    with pytest.raises(error) as caught:
        adapter.quote("SBIN", Exchange.NSE)
    message = body.get("errorMessage") or next(iter(body.get("data", {}).values()), "")
    if error is BrokerRejected:
        assert caught.value.message == message  # verbatim


def test_no_session_means_no_call(dhan_market):
    with pytest.raises(BrokerAuthExpired):
        DhanAdapter(None, credentials(access_token="")).order_book()
    assert dhan_market.calls == []


def test_a_resting_order_is_modified_with_its_whole_quantity_and_cancelled(adapter, dhan_market):
    placed = adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(700)))
    adapter.modify_order(ModifyRequest(orderid=placed.orderid, symbol="SBIN", exchange=Exchange.NSE,
                                       action=Action.BUY, product=Product.MIS, pricetype=PriceType.LIMIT,
                                       quantity=D(5), price=D("701.5"), trigger_price=D(0)))
    method, body = dhan_market.bodies[-1]
    assert method == f"PUT /orders/{placed.orderid}"
    assert body["orderId"] == placed.orderid and body["quantity"] == 5 and body["price"] == 701.5
    cancelled = adapter.cancel_order(placed.orderid)
    assert dhan_market.calls[-1] == f"DELETE /orders/{placed.orderid}" and cancelled.status == OrderStatus.CANCELLED
    order = adapter.order(placed.orderid)
    assert (order.status, order.quantity, order.price, order.tag) == (OrderStatus.CANCELLED, D(5), D("701.5"), "oa42")


def test_orders_trades_and_positions_carry_our_symbols(adapter, dhan_market):
    placed = adapter.place_order(_buy(symbol="NIFTY29DEC2626000CE", exchange=Exchange.NFO, quantity=D(65),
                                      product=Product.NRML))
    [order] = adapter.order_book()
    assert (order.orderid, order.symbol, order.exchange, order.status, order.filled_quantity, order.average_price) == (
        placed.orderid, "NIFTY29DEC2626000CE", Exchange.NFO, OrderStatus.COMPLETE, D(65), D(150))
    [trade] = adapter.trade_book()
    assert (trade.symbol, trade.quantity, trade.average_price, trade.product) == (
        "NIFTY29DEC2626000CE", D(65), D(150), Product.NRML)
    dhan_market.prices["43854"] = D(160)
    [position] = adapter.positions()
    assert dhan_market.bodies[-1] == ("POST /marketfeed/ltp", {"NSE_FNO": [43854]})
    assert (position.symbol, position.quantity, position.average_price, position.ltp, position.pnl,
            position.lot_size) == ("NIFTY29DEC2626000CE", D(65), D("150.00"), D(160), D("650.00"), 65)


def test_positions_fall_back_to_dhan_pnl_when_quotes_are_refused(adapter, dhan_market):
    adapter.place_order(_buy())
    dhan_market.prices["3045"] = D(810)
    original = dhan_market._quotes
    dhan_market._quotes = lambda body, full: httpx.Response(
        400, json={"status": "failed", "data": {"806": "Data APIs not subscribed"}})
    try:
        [position] = adapter.positions()
    finally:
        dhan_market._quotes = original
    assert position.ltp == D("810.00") and position.unrealized_pnl == D("20.00")


def test_no_holdings_is_an_empty_list_and_holdings_read_with_last_prices(adapter, dhan_market):
    assert adapter.holdings() == []
    dhan_market.holdings = [{**fixture("holdings.json")[0], "securityId": "3045", "tradingSymbol": "SBIN",
                             "avgCostPrice": 700.0, "totalQty": 10}]
    [holding] = adapter.holdings()
    assert (holding.symbol, holding.exchange, holding.quantity, holding.ltp, holding.pnl) == (
        "SBIN", Exchange.NSE, D(10), D(800), D(1000))


def test_funds_read_dhan_spelling_and_m2m_from_positions(adapter, dhan_market):
    adapter.place_order(_buy())
    dhan_market.prices["3045"] = D(805)
    funds = adapter.funds()
    assert funds.availablecash == D("100000.0") and funds.m2munrealized == D("10.00")
    assert funds.extra["withdrawableBalance"] == 98310.0


def test_quotes_depth_and_the_batch_call(adapter, dhan_market):
    quote = adapter.quote("SBIN", Exchange.NSE)
    assert dhan_market.bodies[-1] == ("POST /marketfeed/quote", {"NSE_EQ": [3045]})
    assert (quote.ltp, quote.bid, quote.ask, quote.open, quote.prev_close) == (
        D(800), D("799.95"), D("800.05"), D(800), D(799))
    depth = adapter.depth("NIFTY", Exchange.NSE_INDEX)
    assert len(depth.bids) == len(depth.asks) == 5 and dhan_market.bodies[-1][1] == {"IDX_I": [13]}
    quotes = adapter.quotes([("SBIN", Exchange.NSE), ("RELIANCE", Exchange.NSE),
                             ("NIFTY29DEC2626000CE", Exchange.NFO), ("NOPE", Exchange.NSE)])
    assert dhan_market.bodies[-1][1] == {"NSE_EQ": [3045, 2885], "NSE_FNO": [43854]}  # one request
    assert {key: value.ltp for key, value in quotes.items()} == {
        ("SBIN", Exchange.NSE): D(800), ("RELIANCE", Exchange.NSE): D(1500),
        ("NIFTY29DEC2626000CE", Exchange.NFO): D(150)}
    with pytest.raises(SymbolNotFound):
        adapter.quote("NOPE", Exchange.NSE)


def test_daily_history_sends_an_exclusive_end_and_intraday_is_cut_at_90_days(adapter, dhan_market):
    bars = adapter.history("SBIN", Exchange.NSE, "D", date(2026, 11, 23), date(2026, 11, 27))
    assert dhan_market.bodies[-1] == ("POST /charts/historical", {
        "securityId": "3045", "exchangeSegment": "NSE_EQ", "instrument": "EQUITY", "oi": False, "expiryCode": 0,
        "fromDate": "2026-11-23", "toDate": "2026-11-28"})
    assert len(bars) == 5
    dhan_market.bodies.clear()
    adapter.history("NIFTY29DEC2626000CE", Exchange.NFO, "5m", date(2026, 1, 1), date(2026, 6, 30))
    sent = [body for _, body in dhan_market.bodies]
    assert [(body["fromDate"], body["toDate"]) for body in sent] == [
        ("2026-01-01 00:00:00", "2026-03-31 23:59:59"), ("2026-04-01 00:00:00", "2026-06-29 23:59:59"),
        ("2026-06-30 00:00:00", "2026-06-30 23:59:59")]
    assert {(body["interval"], body["instrument"], body["oi"]) for body in sent} == {("5", "OPTIDX", True)}
    adapter.history("NIFTY", Exchange.NSE_INDEX, "1h", date(2026, 11, 27), date(2026, 11, 27))
    assert dhan_market.bodies[-1][1]["instrument"] == "INDEX" and dhan_market.bodies[-1][1]["interval"] == "60"


def test_no_data_is_no_bars_and_unsupported_intervals_are_declared_missing(adapter):
    assert adapter.history("SBIN", Exchange.NSE, "D", date(2026, 11, 28), date(2026, 11, 29)) == []  # a weekend
    with pytest.raises(CapabilityMissing):
        adapter.history("SBIN", Exchange.NSE, "3m", date(2026, 11, 23), date(2026, 11, 27))
    assert set(adapter.capabilities.intervals) == {"1m", "5m", "15m", "1h", "D"}


def test_the_margin_of_a_market_leg_is_priced_at_the_last_price(adapter, dhan_market):
    leg = MarginLeg(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, product=Product.CNC,
                    pricetype=PriceType.MARKET, quantity=D(10))
    result = adapter.margin([leg, leg])
    assert dhan_market.bodies[-1] == ("POST /margincalculator", {
        "dhanClientId": CLIENT_ID, "exchangeSegment": "NSE_EQ", "transactionType": "BUY", "quantity": 10,
        "productType": "CNC", "securityId": "3045", "price": 800.0, "triggerPrice": 0.0})
    assert result.total_margin_required == D("5600.0")


def test_indices_cannot_be_ordered(adapter, dhan_market):
    with pytest.raises(BrokerRejected):
        adapter.place_order(_buy(symbol="NIFTY", exchange=Exchange.NSE_INDEX))
    assert "POST /orders" not in dhan_market.calls


def test_declared_limits_are_dhan_published_ones():
    limits = DhanAdapter.capabilities.rate_limits
    assert (limits.orders_per_second, limits.orders_per_minute, limits.orders_per_day) == (10, 250, 7000)
    assert (limits.quotes_per_second, limits.history_per_second) == (1, 5)
    assert DhanAdapter.capabilities.gtt and DhanAdapter.capabilities.login == "token"


def test_an_unreadable_row_is_skipped_in_the_books_but_fails_a_single_read(adapter, dhan_market, caplog):
    placed = adapter.place_order(_buy())
    odd = {**dhan_market.orders[placed.orderid], "orderId": "999", "orderStatus": "CLOSED"}  # a super-order leg
    dhan_market.answer("GET /orders", 200, [odd, dhan_market.orders[placed.orderid]])
    assert [order.orderid for order in adapter.order_book()] == [placed.orderid]
    assert "Dhan row skipped" in caplog.text
    dhan_market.answer("GET /orders/999", 200, odd)
    with pytest.raises(BrokerUnavailable):
        adapter.order("999")


def test_an_expired_session_answers_at_once_without_calling_dhan(dhan_market):
    from datetime import UTC, datetime, timedelta

    stale = DhanAdapter(None, credentials(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert not stale.session_valid()
    with pytest.raises(BrokerAuthExpired):
        stale.place_order(_buy())
    assert dhan_market.calls == []


def test_a_holding_with_its_own_last_price_needs_no_quote_call(adapter, dhan_market):
    dhan_market.holdings = [{**fixture("holdings.json")[0], "exchange": "NSE", "securityId": "2885",
                             "tradingSymbol": "RELIANCE", "avgCostPrice": 1400.0, "totalQty": 2,
                             "lastTradedPrice": 1510.5}]
    [holding] = adapter.holdings()
    assert (holding.symbol, holding.ltp, holding.pnl) == ("RELIANCE", D("1510.5"), D("221.0"))
    assert "POST /marketfeed/ltp" not in dhan_market.calls
