"""Fyers over HTTP (served by respx): what we send (method, path, header, body), what we
read back, and each way Fyers fails, classified once at the edge."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest
import respx

from brokers.base import (
    BrokerAuthExpired,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    CapabilityMissing,
    ModifyRequest,
    OrderNotFound,
    OrderRequest,
    SymbolNotFound,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.fyers import client as fyers_client
from brokers.fyers.adapter import FyersAdapter
from brokers.fyers.testing import APP_ID, TOKEN, credentials, fixture

pytestmark = pytest.mark.django_db
D = Decimal
API = "https://api-t1.fyers.in"


@pytest.fixture
def adapter(fyers_market):
    return FyersAdapter(None, credentials())


def _buy(quantity: int = 1, **change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": Decimal(quantity),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa17"}
    fields.update(change)
    return OrderRequest(**fields)


def _sent(exchange, method: str, path: str) -> httpx.Request:
    return next(r for r in exchange.requests if (r.method, r.url.path) == (method, path))


def test_a_market_order_is_posted_to_orders_sync_with_the_app_id_token_header(adapter, fyers_market):
    placed = adapter.place_order(_buy(quantity=3))
    request = _sent(fyers_market, "POST", "/api/v3/orders/sync")
    assert str(request.url) == f"{API}/api/v3/orders/sync"
    assert request.headers["Authorization"] == f"{APP_ID}:{TOKEN}"
    assert json.loads(request.content) == {
        "symbol": "NSE:SBIN-EQ", "qty": 3, "type": 2, "side": 1, "productType": "INTRADAY", "limitPrice": 0,
        "stopPrice": 0, "validity": "DAY", "disclosedQty": 0, "offlineOrder": False, "stopLoss": 0, "takeProfit": 0,
        "orderTag": "oa17"}
    row = adapter.order(placed.orderid)
    assert (row.symbol, row.exchange, row.status, row.average_price, row.tag) == (
        "SBIN", Exchange.NSE, OrderStatus.COMPLETE, D(800), "oa17")
    assert _sent(fyers_market, "GET", "/api/v3/orders").url.params["id"] == placed.orderid


def test_modify_patches_and_cancel_deletes_orders_sync_with_a_json_body(adapter, fyers_market):
    placed = adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(700)))
    adapter.modify_order(ModifyRequest(orderid=placed.orderid, symbol="SBIN", exchange=Exchange.NSE,
                                       action=Action.BUY, product=Product.MIS, pricetype=PriceType.LIMIT,
                                       quantity=D(4), price=D("701.5"), trigger_price=D(0)))
    assert json.loads(_sent(fyers_market, "PATCH", "/api/v3/orders/sync").content) == {
        "id": placed.orderid, "type": 1, "qty": 4, "limitPrice": 701.5, "stopPrice": 0, "disclosedQty": 0}
    cancelled = adapter.cancel_order(placed.orderid)
    assert json.loads(_sent(fyers_market, "DELETE", "/api/v3/orders/sync").content) == {"id": placed.orderid}
    assert cancelled.orderid == placed.orderid
    assert adapter.order(placed.orderid).status == OrderStatus.CANCELLED


def test_a_rejection_text_reaches_the_trader_verbatim(adapter):
    with pytest.raises(BrokerRejected) as caught:
        adapter.place_order(_buy(quantity=1000))
    assert caught.value.message == ("RED:Margin Shortfall:INR 800,000.00 Available:INR 100,000.00 for C-XX0001 "
                                    "[FYERS_RISK_CLI]")
    assert caught.value.http_status == 400


def test_the_documented_rejection_body_passes_through_verbatim():
    body = fixture("order_rejected_error.json")
    with pytest.raises(BrokerRejected) as caught:
        fyers_client.classify(httpx.Response(400, json=body))
    assert caught.value.message == body["message"]


def test_an_unknown_order_is_order_not_found(adapter):
    with pytest.raises(OrderNotFound) as caught:
        adapter.cancel_order("99999999999999")
    assert caught.value.message == "Invalid order id"


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_and_403_mean_the_session_expired(status):
    with pytest.raises(BrokerAuthExpired):
        fyers_client.classify(httpx.Response(status, json={"s": "error", "code": -16, "message": "x"}))


def test_a_token_error_code_on_an_http_200_means_the_session_expired():
    with pytest.raises(BrokerAuthExpired):
        fyers_client.classify(httpx.Response(200, json=fixture("token_expired_error.json")))


def test_an_expired_token_at_the_broker_is_auth_expired(adapter, fyers_market):
    fyers_market.fail_next("expired")
    with pytest.raises(BrokerAuthExpired):
        adapter.order_book()


def test_no_token_means_no_call(fyers_market):
    with pytest.raises(BrokerAuthExpired):
        FyersAdapter(None, credentials(access_token="")).order_book()
    assert fyers_market.calls == []


def test_429_is_rate_limited_with_its_retry_after(adapter, fyers_market):
    fyers_market.fail_next("429")
    with pytest.raises(BrokerRateLimited) as caught:
        adapter.order_book()
    assert caught.value.retry_after == 7.0


def test_the_rate_limit_code_on_a_200_is_rate_limited():
    with pytest.raises(BrokerRateLimited):
        fyers_client.classify(httpx.Response(200, json=fixture("rate_limit_error.json")))


@pytest.mark.parametrize("failure", ["timeout", "5xx", "malformed", "disconnect"])
def test_timeouts_5xx_broken_connections_and_malformed_json_are_unavailable(adapter, fyers_market, failure):
    fyers_market.fail_next(failure)
    with pytest.raises(BrokerUnavailable):
        adapter.place_order(_buy())
    assert [call for call in fyers_market.calls if call == "POST /api/v3/orders/sync"] == ["POST /api/v3/orders/sync"]


def test_an_answer_without_an_order_id_is_an_unknown_outcome_not_a_success(adapter, fyers_market):
    fyers_market.answer_next(httpx.Response(200, json={"s": "ok", "code": 201, "message": "sent"}))
    with pytest.raises(BrokerUnavailable) as caught:
        adapter.place_order(_buy())
    assert "unknown" in caught.value.message and "without acknowledgement" in caught.value.message


def test_a_no_acknowledgement_code_is_never_read_as_a_refusal(adapter, fyers_market):
    fyers_market.answer_next(httpx.Response(200, json={"s": "error", "code": 201, "message": "No response"}))
    with pytest.raises(BrokerUnavailable):
        adapter.place_order(_buy())


def test_an_unknown_symbol_is_refused_before_any_call(adapter, fyers_market):
    with pytest.raises(SymbolNotFound):
        adapter.place_order(_buy(symbol="NOPE"))
    assert fyers_market.calls == []


def test_books_positions_and_funds_come_back_in_our_types(adapter, fyers_market):
    adapter.place_order(_buy(quantity=2))
    adapter.place_order(_buy(quantity=1, action=Action.SELL))
    trades = adapter.trade_book()
    assert [(t.symbol, t.action, t.quantity) for t in trades] == [("SBIN", Action.BUY, D(2)),
                                                                  ("SBIN", Action.SELL, D(1))]
    [position] = adapter.positions()
    assert (position.symbol, position.exchange, position.product, position.quantity) == (
        "SBIN", Exchange.NSE, Product.MIS, D(1))
    funds = adapter.funds()
    assert funds.availablecash == D("100000")
    assert adapter.holdings() == []


def test_margin_posts_every_leg_to_the_multiorder_margin_call(adapter, fyers_market):
    from brokers.base import MarginLeg

    result = adapter.margin([MarginLeg(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                                       product=Product.CNC, pricetype=PriceType.MARKET, quantity=D(10))])
    body = json.loads(_sent(fyers_market, "POST", "/api/v3/multiorder/margin").content)
    assert body["data"][0]["symbol"] == "NSE:SBIN-EQ" and body["data"][0]["productType"] == "CNC"
    assert result.total_margin_required == D("8000")


def test_a_quote_asks_for_the_ticker_and_depth_for_five_levels(adapter, fyers_market):
    quote = adapter.quote("SBIN", Exchange.NSE)
    assert _sent(fyers_market, "GET", "/data/quotes").url.params["symbols"] == "NSE:SBIN-EQ"
    assert quote.ltp == D(800) and quote.bid < quote.ask
    depth = adapter.depth("NIFTY", Exchange.NSE_INDEX)
    params = _sent(fyers_market, "GET", "/data/depth").url.params
    assert (params["symbol"], params["ohlcv_flag"]) == ("NSE:NIFTY50-INDEX", "1")
    assert len(depth.bids) == 5


def test_a_ticker_with_an_ampersand_is_url_encoded(adapter, fyers_market):
    adapter.quote("M&M", Exchange.NSE)
    request = _sent(fyers_market, "GET", "/data/quotes")
    assert b"symbols=NSE%3AM%26M-EQ" in request.url.raw_path or b"symbols=NSE:M%26M-EQ" in request.url.raw_path
    assert request.url.params["symbols"] == "NSE:M&M-EQ"


def test_many_quotes_go_in_batches_of_fifty_tickers(fyers_market):
    from brokers.fyers import adapter as module

    adapter = FyersAdapter(None, credentials())
    items = [("SBIN", Exchange.NSE), ("TCS", Exchange.NSE), ("NIFTY", Exchange.NSE_INDEX)]
    original = module.QUOTE_BATCH
    module.QUOTE_BATCH = 2
    try:
        quotes = adapter.quotes(items)
    finally:
        module.QUOTE_BATCH = original
    sent = [r.url.params["symbols"] for r in fyers_market.requests if r.url.path == "/data/quotes"]
    assert sent == ["NSE:SBIN-EQ,NSE:TCS-EQ", "NSE:NIFTY50-INDEX"]
    assert quotes[("TCS", Exchange.NSE)].ltp == D(3500)


def test_history_asks_for_the_resolution_and_chunks_minute_ranges_at_100_days(adapter, fyers_market):
    bars = adapter.history("SBIN", Exchange.NSE, "5m", date(2026, 1, 1), date(2026, 5, 1))
    sent = [r.url.params for r in fyers_market.requests if r.url.path == "/data/history"]
    assert [(p["range_from"], p["range_to"]) for p in sent] == [("2026-01-01", "2026-04-10"),
                                                                 ("2026-04-11", "2026-05-01")]
    assert {(p["symbol"], p["resolution"], p["date_format"], p["cont_flag"], p["oi_flag"]) for p in sent} == {
        ("NSE:SBIN-EQ", "5", "1", "1", "1")}
    assert len(bars) == 121 and bars == sorted(bars, key=lambda bar: bar.timestamp)


def test_daily_bars_use_resolution_1d_and_an_unsupported_interval_is_refused(adapter, fyers_market):
    adapter.history("SBIN", Exchange.NSE, "D", date(2026, 1, 1), date(2026, 1, 3))
    assert _sent(fyers_market, "GET", "/data/history").url.params["resolution"] == "1D"
    with pytest.raises(CapabilityMissing):
        adapter.history("SBIN", Exchange.NSE, "3h", date(2026, 1, 1), date(2026, 1, 3))


def test_a_range_without_bars_is_an_empty_history():
    body = fyers_client.classify(httpx.Response(200, json={"s": "no_data", "code": 200, "message": "",
                                                           "candles": []}))
    assert body["candles"] == []


def test_the_master_contract_downloads_every_segment_file():
    fyers_client.close()
    with respx.mock(assert_all_called=False) as router:
        route = router.get(url__regex=r"https://public\.fyers\.in/sym_details/.*\.csv").respond(text="")
        assert list(FyersAdapter(None, None).master_contract()) == []
    assert [call.request.url.path for call in route.calls] == [
        "/sym_details/NSE_CM.csv", "/sym_details/BSE_CM.csv", "/sym_details/NSE_FO.csv", "/sym_details/BSE_FO.csv",
        "/sym_details/NSE_CD.csv", "/sym_details/MCX_COM.csv"]


def test_a_segment_that_fails_to_download_fails_the_load():
    fyers_client.close()
    with respx.mock(assert_all_called=False) as router:
        router.get(url__regex=r".*/sym_details/.*").respond(503)
        with pytest.raises(BrokerUnavailable):
            list(FyersAdapter(None, None).master_contract())


def test_the_session_is_valid_only_with_an_app_id_a_token_and_time_left():
    from datetime import UTC, datetime, timedelta

    assert FyersAdapter(None, credentials()).session_valid()
    assert not FyersAdapter(None, credentials(api_key="")).session_valid()
    assert not FyersAdapter(None, credentials(expires_at=datetime.now(UTC) - timedelta(seconds=1))).session_valid()
    assert not FyersAdapter(None, None).session_valid()


def test_the_declared_capabilities_are_fyers_documented_ones():
    capabilities = FyersAdapter.capabilities
    assert capabilities.intervals == ("5s", "10s", "15s", "30s", "45s", "1m", "2m", "3m", "5m", "10m", "15m", "20m",
                                      "30m", "1h", "2h", "4h", "D")
    limits = capabilities.rate_limits
    assert (limits.orders_per_second, limits.orders_per_minute, limits.orders_per_day) == (10, 200, 100_000)
    assert (capabilities.depth_levels, capabilities.market_feed, capabilities.gtt) == (5, True, False)
    assert str(capabilities.order_updates) == "push" and str(capabilities.login) == "oauth"
    assert capabilities.batch_quotes == 50
