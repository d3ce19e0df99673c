"""The Upstox adapter over HTTP (respx): what we send, what we read, and every error path."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from brokers.base import (
    BrokerAuthExpired,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    MarginLeg,
    ModifyRequest,
    OrderNotFound,
    OrderRequest,
    SymbolNotFound,
    UnparsableRow,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.upstox import testing
from brokers.upstox.adapter import UpstoxAdapter
from brokers.upstox.testing import TOKEN, credentials, fixture

D = Decimal
HFT = "api-hft.upstox.com"


@pytest.fixture
def adapter(upstox_market):
    return UpstoxAdapter(None, credentials(), today=lambda: date(2026, 11, 27))


def _buy(**change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(2),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa77"}
    fields.update(change)
    return OrderRequest(**fields)


def _sent(exchange, path):
    return [request for request in exchange.requests if request.url.path == path]


def test_a_market_order_goes_to_the_low_latency_host_with_market_protection_and_the_algo_name(adapter,
                                                                                               upstox_market):
    placed = adapter.place_order(_buy())
    (request,) = _sent(upstox_market, "/v3/order/place")
    assert request.method == "POST" and request.url.host == HFT
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["X-Algo-Name"] == "OpenAlgo" and request.headers["Accept"] == "application/json"
    assert json.loads(request.content) == {
        "quantity": 2, "product": "I", "validity": "DAY", "price": 0.0, "tag": "oa77",
        "instrument_token": "NSE_EQ|INE062A01020", "order_type": "MARKET", "transaction_type": "BUY",
        "disclosed_quantity": 0, "trigger_price": 0.0, "is_amo": False, "slice": False, "market_protection": -1}
    assert placed.orderid in upstox_market.orders and placed.message == ""


def test_a_deployment_sets_market_protection_and_the_algo_name(adapter, upstox_market, settings):
    settings.UPSTOX_MARKET_PROTECTION = 3
    settings.UPSTOX_ALGO_NAME = "MyRegisteredAlgo"
    adapter.place_order(_buy())
    (request,) = _sent(upstox_market, "/v3/order/place")
    assert json.loads(request.content)["market_protection"] == 3
    assert request.headers["X-Algo-Name"] == "MyRegisteredAlgo"
    settings.UPSTOX_MARKET_PROTECTION = 0  # "none" is what the 2026 rules retired
    with pytest.raises(BrokerRejected):
        adapter.place_order(_buy())


def test_a_quantity_above_the_freeze_limit_is_sliced_by_upstox(adapter, upstox_market):
    option = _buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(1800 * 2 + 25))
    placed = adapter.place_order(option)
    (request,) = _sent(upstox_market, "/v3/order/place")
    assert json.loads(request.content)["slice"] is True
    ids = [orderid for orderid, row in upstox_market.orders.items() if row["instrument_token"] == "NSE_FO|35002"]
    assert len(ids) == 3 and placed.orderid == ids[0]
    assert placed.message == f"sliced into 3 orders: {', '.join(ids)}"


def test_more_than_ten_slices_is_refused_before_anything_is_sent(adapter, upstox_market):
    with pytest.raises(BrokerRejected, match="at most 10"):
        adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(1800 * 10 + 25)))
    assert upstox_market.order_calls() == []
    adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(1800 * 10)))
    assert len(upstox_market.orders) == 10


def test_a_refused_order_passes_the_broker_text_through_verbatim(adapter, upstox_market):
    with pytest.raises(BrokerRejected) as refused:
        adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(7)))
    assert refused.value.message == "Quantity should be in multiples of lot size 25"


def test_an_rms_rejection_comes_back_in_the_book_with_its_text(adapter, upstox_market):
    upstox_market.cash = D("100")
    placed = adapter.place_order(_buy())
    row = adapter.order(placed.orderid)
    assert row.status == OrderStatus.REJECTED
    assert row.rejection_reason == ("You need to add Rs. 1500.00 to place this trade. "
                                    "Check your Funds tab for more details.")


def test_modify_and_cancel_send_upstox_bodies(adapter, upstox_market):
    placed = adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D("700")))
    adapter.modify_order(ModifyRequest(orderid=placed.orderid, symbol="SBIN", exchange=Exchange.NSE,
                                       action=Action.BUY, product=Product.MIS, pricetype=PriceType.LIMIT,
                                       quantity=D(3), price=D("701.5"), trigger_price=D(0)))
    (modify,) = _sent(upstox_market, "/v3/order/modify")
    assert modify.method == "PUT" and modify.url.host == HFT and modify.headers["X-Algo-Name"] == "OpenAlgo"
    assert json.loads(modify.content) == {"order_id": placed.orderid, "quantity": 3, "validity": "DAY",
                                          "price": 701.5, "order_type": "LIMIT", "disclosed_quantity": 0,
                                          "trigger_price": 0.0}
    adapter.cancel_order(placed.orderid)
    (cancel,) = _sent(upstox_market, "/v3/order/cancel")
    assert cancel.method == "DELETE" and cancel.url.params["order_id"] == placed.orderid and cancel.content == b""
    row = adapter.order(placed.orderid)
    assert (row.status, row.quantity, row.price) == (OrderStatus.CANCELLED, 3, D("701.5"))


def test_cancelling_a_finished_or_unknown_order(adapter, upstox_market):
    placed = adapter.place_order(_buy())
    with pytest.raises(BrokerRejected, match="already complete"):
        adapter.cancel_order(placed.orderid)
    with pytest.raises(OrderNotFound, match="Order not found"):
        adapter.cancel_order("123")
    with pytest.raises(OrderNotFound):
        adapter.order("123")


def test_books_map_rows_back_through_the_instrument_key(adapter, upstox_market):
    placed = adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(50),
                                      product=Product.NRML))
    order = adapter.order_book()[0]
    assert (order.orderid, order.symbol, order.exchange, order.product, order.tag) == (
        placed.orderid, "NIFTY28NOV2425000CE", Exchange.NFO, Product.NRML, "oa77")
    trade = adapter.trade_book()[0]
    assert (trade.symbol, trade.quantity, trade.average_price) == ("NIFTY28NOV2425000CE", 50, D("150.0"))
    position = adapter.positions()[0]
    assert (position.symbol, position.quantity, position.average_price, position.lot_size) == (
        "NIFTY28NOV2425000CE", 50, D("150.00"), 25)


def test_a_row_of_an_instrument_we_do_not_list_keeps_upstox_symbol_without_suffix(adapter, upstox_market):
    upstox_market.holdings = [{**fixture("holdings.json")["data"][0], "trading_symbol": "YESBANK-EQ"}]
    (held,) = adapter.holdings()
    assert (held.symbol, held.quantity) == ("YESBANK", 36)


def test_funds_come_from_v3_cash_and_pledge_buckets(adapter, upstox_market):
    funds = adapter.funds()
    (request,) = _sent(upstox_market, "/v3/user/get-funds-and-margin")
    assert request.headers["Api-Version"] == "3.0"
    assert funds.availablecash == D("100000.0") and funds.collateral == D("4000.0")
    assert funds.utiliseddebits == D("3250.5") and funds.extra["pledge_margin"] == "5000.0"
    assert (funds.m2mrealized, funds.m2munrealized) == (0, 0)


def test_margin_sends_the_instruments_and_reads_the_final_margin(adapter, upstox_market):
    leg = MarginLeg(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, product=Product.MIS,
                    pricetype=PriceType.MARKET, quantity=D(10))
    result = adapter.margin([leg])
    (request,) = _sent(upstox_market, "/v2/charges/margin")
    assert json.loads(request.content) == {"instruments": [{"instrument_key": "NSE_EQ|INE062A01020",
                                                            "quantity": 10, "transaction_type": "BUY",
                                                            "product": "I", "price": 0.0}]}
    assert result.total_margin_required == D("1600.0") and result.exposure_margin == D("615.0")
    with pytest.raises(BrokerRejected, match="at most 20"):
        adapter.margin([leg] * 21)


def test_quotes_come_in_one_batch_call_matched_by_instrument_key(adapter, upstox_market):
    quotes = adapter.quotes([("SBIN", Exchange.NSE), ("NIFTY", Exchange.NSE_INDEX)])
    (request,) = _sent(upstox_market, "/v2/market-quote/quotes")
    assert request.url.params["instrument_key"] == "NSE_EQ|INE062A01020,NSE_INDEX|Nifty 50"
    assert quotes[("SBIN", Exchange.NSE)].ltp == D("800.0") and quotes[("NIFTY", Exchange.NSE_INDEX)].ltp == 24000
    assert quotes[("SBIN", Exchange.NSE)].prev_close == D("798.5")
    with pytest.raises(SymbolNotFound):
        adapter.quote("NOPE", Exchange.NSE)


def test_depth_has_five_levels_each_side(adapter):
    depth = adapter.depth("SBIN", Exchange.NSE)
    assert len(depth.bids) == len(depth.asks) == 5 and depth.bids[0].price < depth.asks[0].price


def test_history_chunks_by_the_documented_spans_and_sorts_bars(adapter, upstox_market):
    bars = adapter.history("SBIN", Exchange.NSE, "1m", date(2026, 9, 1), date(2026, 10, 30))
    paths = [request.url.raw_path.decode() for request in _sent_prefix(upstox_market, "/v3/historical-candle/")]
    assert paths == ["/v3/historical-candle/NSE_EQ%7CINE062A01020/minutes/1/2026-10-30/2026-10-01",
                     "/v3/historical-candle/NSE_EQ%7CINE062A01020/minutes/1/2026-09-30/2026-09-01"]
    assert [bar.timestamp for bar in bars] == sorted(bar.timestamp for bar in bars) and len(bars) == 60
    upstox_market.requests.clear()
    adapter.history("SBIN", Exchange.NSE, "1h", date(2026, 1, 1), date(2026, 11, 27))
    assert len(_sent_prefix(upstox_market, "/v3/historical-candle/")) == 5  # 90-day chunks, then today's bars


def test_todays_bars_come_from_the_intraday_endpoint(adapter, upstox_market):
    bars = adapter.history("SBIN", Exchange.NSE, "D", date(2026, 11, 25), date(2026, 11, 27))
    paths = [request.url.raw_path.decode() for request in _sent_prefix(upstox_market, "/v3/historical-candle/")]
    assert paths[-1] == "/v3/historical-candle/intraday/NSE_EQ%7CINE062A01020/days/1"
    assert len(bars) == 4


def test_weekly_and_monthly_bars_use_their_units(adapter, upstox_market):
    adapter.history("SBIN", Exchange.NSE, "W", date(2020, 1, 1), date(2020, 1, 20))
    adapter.history("SBIN", Exchange.NSE, "M", date(2020, 1, 1), date(2020, 1, 20))
    units = [request.url.path.split("/")[4] for request in _sent_prefix(upstox_market, "/v3/historical-candle/")]
    assert units == ["weeks", "months"]


def _sent_prefix(exchange, prefix):
    return [request for request in exchange.requests if request.url.path.startswith(prefix)]


def test_the_master_contract_reads_the_gzipped_dump(upstox_exchange):
    rows = list(UpstoxAdapter(None, credentials()).master_contract())
    unreadable = [row for row in rows if isinstance(row, UnparsableRow)]
    assert len(rows) == 17 and len(unreadable) == 2
    (request,) = upstox_exchange.requests
    assert str(request.url) == "https://assets.upstox.com/market-quote/instruments/exchange/complete.json.gz"
    assert "Authorization" not in request.headers  # the token never goes to the assets host


def test_an_unreadable_dump_is_unavailable(upstox_exchange):
    upstox_exchange.fail_next("malformed")
    with pytest.raises(BrokerUnavailable):
        list(UpstoxAdapter(None, credentials()).master_contract())


# --- Error paths -----------------------------------------------------------------------------------

def test_an_expired_token_is_auth_expired(adapter, upstox_market):
    upstox_market.fail_next("expired")
    with pytest.raises(BrokerAuthExpired, match="log in to the broker again"):
        adapter.order_book()


def test_a_403_is_auth_expired_too(adapter, upstox_market, monkeypatch):
    body = {"status": "error", "errors": [{"errorCode": "UDAPI100067", "error_code": "UDAPI100067",
                                           "message": "Extended token is not allowed for this API"}]}
    monkeypatch.setattr(upstox_market, "_funds", lambda request: httpx.Response(403, json=body))
    with pytest.raises(BrokerAuthExpired, match="Extended token is not allowed"):
        adapter.funds()


def test_no_token_or_a_token_past_its_expiry_never_calls_the_broker(upstox_market):
    with pytest.raises(BrokerAuthExpired):
        UpstoxAdapter(None, credentials(access_token="")).order_book()
    stale = UpstoxAdapter(None, credentials(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert not stale.session_valid()
    with pytest.raises(BrokerAuthExpired):
        stale.place_order(_buy())
    with pytest.raises(BrokerAuthExpired):
        stale.quote("SBIN", Exchange.NSE)
    assert upstox_market.calls == []


@pytest.mark.parametrize(("kind", "error"), [("429", BrokerRateLimited), ("5xx", BrokerUnavailable),
                                             ("timeout", BrokerUnavailable), ("malformed", BrokerUnavailable),
                                             ("disconnect", BrokerUnavailable)])
def test_transport_failures_are_classified(adapter, upstox_market, kind, error):
    upstox_market.fail_next(kind)
    with pytest.raises(error):
        adapter.place_order(_buy())


def test_an_order_accepted_without_an_id_is_an_unknown_outcome(adapter, upstox_market, monkeypatch):
    monkeypatch.setattr(upstox_market, "_place", lambda body: httpx.Response(200, json={"status": "success",
                                                                                         "data": {}}))
    with pytest.raises(BrokerUnavailable, match="no order id"):
        adapter.place_order(_buy())


def test_the_capabilities_declare_upstox_limits():
    limits = UpstoxAdapter.capabilities.rate_limits
    assert (limits.orders_per_second, limits.orders_per_minute, limits.quotes_per_second,
            limits.history_per_second) == (10, 500, 50, 50)
    assert UpstoxAdapter.capabilities.intervals == ("1m", "2m", "3m", "5m", "10m", "15m", "20m", "30m", "1h", "2h",
                                                    "3h", "4h", "D", "W", "M")


def test_synthetic_dump_and_order_world_helpers(db, respx_mock):
    testing.synthetic_dump(respx_mock, 500)
    creds, request = testing.order_world(respx_mock)
    rows = list(UpstoxAdapter(None, creds).master_contract())
    assert len(rows) >= 500 and any(getattr(row, "symbol", "") == "SBIN" for row in rows)
    assert request.symbol == "SBIN" and request.pricetype == PriceType.MARKET


def test_a_row_of_an_exchange_we_do_not_serve_is_left_out_not_fatal(adapter, upstox_market):
    adapter.place_order(_buy())
    upstox_market.orders["1"] = {**next(iter(upstox_market.orders.values())), "order_id": "1", "exchange": "NSCOM"}
    assert [row.orderid for row in adapter.order_book() if row.orderid == "1"] == []
    assert len(adapter.order_book()) == 1


def test_an_mcx_order_is_sent_in_lots_and_read_back_in_units(adapter, upstox_market):
    upstox_market.cash = D("5000000")
    crude = _buy(symbol="CRUDEOIL19NOV24FUT", exchange=Exchange.MCX, quantity=D(200), product=Product.NRML)
    placed = adapter.place_order(crude)
    (request,) = _sent(upstox_market, "/v3/order/place")
    assert json.loads(request.content)["quantity"] == 2
    row = adapter.order(placed.orderid)
    assert (row.quantity, row.filled_quantity, row.status) == (200, 200, OrderStatus.COMPLETE)
    assert adapter.trade_book()[0].quantity == 200
    position = adapter.positions()[0]
    assert (position.symbol, position.quantity, position.average_price) == ("CRUDEOIL19NOV24FUT", 200,
                                                                             D("6000.00"))
    with pytest.raises(BrokerRejected, match="not a whole number of lots of 100"):
        adapter.place_order(_buy(symbol="CRUDEOIL19NOV24FUT", exchange=Exchange.MCX, quantity=D(150)))
    assert len(_sent(upstox_market, "/v3/order/place")) == 1


def test_the_2000_per_half_hour_window_is_kept_without_calling_upstox(adapter, upstox_market, monkeypatch):
    from brokers import ratelimit
    from brokers.upstox import adapter as adapter_module

    clock = [0.0]
    buckets = ratelimit.LocalBuckets(clock=lambda: clock[0])
    monkeypatch.setattr(adapter_module, "shared_buckets", lambda: buckets)
    monkeypatch.setattr(adapter_module, "ORDERS_PER_HALF_HOUR", ratelimit.Window(3, 1800))
    for _ in range(3):
        adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D("700")))
    with pytest.raises(BrokerRateLimited) as limited:
        adapter.cancel_order(next(iter(upstox_market.orders)))
    assert limited.value.retry_after == pytest.approx(600.0)
    assert len(upstox_market.order_calls()) == 3
    clock[0] += 600
    adapter.cancel_order(next(iter(upstox_market.orders)))
