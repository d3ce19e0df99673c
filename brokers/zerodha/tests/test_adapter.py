"""Zerodha over HTTP (a fake Kite served by respx): what we send (method, path, the two
headers, form bodies, query parameters), what we read back, and each way a broker fails,
classified once at the edge into the contract's errors."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl

import httpx
import pytest
import respx

from brokers.base import (
    BrokerAuthExpired,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    CapabilityMissing,
    MarginLeg,
    ModifyRequest,
    OrderNotFound,
    OrderRequest,
    SymbolNotFound,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.gtt import GttPriceUnavailable, GttRequest, GttTriggerNotFound, GttType, gtt_adapter

from .. import client
from ..adapter import ZerodhaAdapter
from ..testing import ACCESS_TOKEN, API_KEY, NO_PROTECTION, credentials, fixture_json

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def adapter(kite_market):
    return ZerodhaAdapter(None, credentials())


def _buy(quantity: int = 1, **change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(quantity),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa17"}
    fields.update(change)
    return OrderRequest(**fields)


def _form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


def test_a_market_order_is_a_form_post_with_kites_headers_and_market_protection(adapter, kite_market):
    placed = adapter.place_order(_buy())
    sent = kite_market.last("POST", "/orders/regular")
    assert sent.headers["X-Kite-Version"] == "3"
    assert sent.headers["Authorization"] == f"token {API_KEY}:{ACCESS_TOKEN}"
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(sent) == {"tradingsymbol": "SBIN", "exchange": "NSE", "transaction_type": "BUY",
                           "order_type": "MARKET", "quantity": "1", "product": "MIS", "price": "0",
                           "trigger_price": "0", "disclosed_quantity": "0", "validity": "DAY",
                           "market_protection": "-1", "tag": "oa17"}
    row = adapter.order(placed.orderid)
    assert (row.symbol, row.exchange, row.status, row.average_price, row.tag) == (
        "SBIN", Exchange.NSE, OrderStatus.COMPLETE, D(800), "oa17")


def test_the_order_goes_out_under_kites_tradingsymbol_and_comes_back_under_ours(adapter, kite_market):
    placed = adapter.place_order(_buy(symbol="NIFTY29DEC2626000CE", exchange=Exchange.NFO, quantity=65,
                                      product=Product.NRML, pricetype=PriceType.LIMIT, price=D("140")))
    assert _form(kite_market.last("POST", "/orders/regular"))["tradingsymbol"] == "NIFTY26DEC26000CE"
    row = next(order for order in adapter.order_book() if order.orderid == placed.orderid)
    assert (row.symbol, row.status, row.product) == ("NIFTY29DEC2626000CE", OrderStatus.OPEN, Product.NRML)


def test_a_deployment_can_set_the_protection_percentage(adapter, kite_market, settings):
    settings.ZERODHA_MARKET_PROTECTION = "3"
    adapter.place_order(_buy())
    assert _form(kite_market.last("POST", "/orders/regular"))["market_protection"] == "3"


def test_kites_market_protection_rejection_would_reach_the_trader_verbatim(adapter, kite_market, settings):
    settings.ZERODHA_MARKET_PROTECTION = "0"  # what Kite refuses since 2026-04-01
    with pytest.raises(BrokerRejected) as caught:
        adapter.place_order(_buy())
    assert caught.value.message == NO_PROTECTION == fixture_json("error_market_protection.json")["message"]
    assert caught.value.http_status == 400


def test_an_order_rejected_after_acceptance_shows_kites_reason_in_the_book(adapter, kite_market):
    placed = adapter.place_order(_buy(quantity=1000))
    row = adapter.order(placed.orderid)
    assert row.status == OrderStatus.REJECTED
    assert row.rejection_reason == ("Insufficient funds. Required margin is 800000.00 but available margin is "
                                    "100000.00. Check the orderbook for open orders.")


def test_the_single_order_lookup_reads_the_last_state_of_its_history(adapter, kite_market):
    placed = adapter.place_order(_buy())
    assert len(kite_market.orders[placed.orderid]) == 3  # received, open, complete
    assert adapter.order(placed.orderid).status == OrderStatus.COMPLETE
    assert kite_market.calls[-1] == f"GET /orders/{placed.orderid}"


def test_modify_and_cancel_use_the_regular_variety_and_forms(adapter, kite_market):
    placed = adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D("700")))
    adapter.modify_order(ModifyRequest(orderid=placed.orderid, symbol="SBIN", exchange=Exchange.NSE,
                                       action=Action.BUY, product=Product.MIS, pricetype=PriceType.LIMIT,
                                       quantity=D(4), price=D("705.5"), trigger_price=D(0)))
    sent = kite_market.last("PUT", f"/orders/regular/{placed.orderid}")
    assert _form(sent) == {"quantity": "4", "order_type": "LIMIT", "price": "705.5", "trigger_price": "0",
                           "disclosed_quantity": "0", "validity": "DAY"}
    adapter.cancel_order(placed.orderid)
    assert kite_market.calls[-1] == f"DELETE /orders/regular/{placed.orderid}"
    assert adapter.order(placed.orderid).status == OrderStatus.CANCELLED


def test_an_index_is_never_sent_as_an_order(adapter, kite_market):
    with pytest.raises(BrokerRejected):
        adapter.place_order(_buy(symbol="NIFTY", exchange=Exchange.NSE_INDEX))
    assert kite_market.calls == []


def test_trades_and_positions_are_read_from_kites_books(adapter, kite_market):
    adapter.place_order(_buy(quantity=3))
    adapter.place_order(_buy(quantity=1, action=Action.SELL))
    trades = adapter.trade_book()
    assert [(trade.action, trade.quantity) for trade in trades] == [(Action.BUY, D(3)), (Action.SELL, D(1))]
    (position,) = adapter.positions()
    assert (position.symbol, position.quantity, position.average_price, position.pnl) == (
        "SBIN", D(2), D("800.00"), D("0.00"))


def test_funds_add_up_the_equity_and_commodity_segments(adapter, kite_market):
    funds = adapter.funds()
    assert funds.availablecash == D("100000") + D("100661.7")


def test_the_margin_calculator_posts_a_json_basket_and_reads_the_final_total(adapter, kite_market):
    leg = MarginLeg(symbol="NIFTY29DEC26FUT", exchange=Exchange.NFO, action=Action.BUY, product=Product.NRML,
                    pricetype=PriceType.MARKET, quantity=D(65))
    result = adapter.margin([leg])
    sent = kite_market.last("POST", "/margins/basket")
    assert sent.url.params["consider_positions"] == "true"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == [{"exchange": "NFO", "tradingsymbol": "NIFTY26DECFUT",
                                         "transaction_type": "BUY", "variety": "regular", "product": "NRML",
                                         "order_type": "MARKET", "quantity": 65, "price": 0.0,
                                         "trigger_price": 0.0}]
    assert result.total_margin_required == D(26100 * 65)


def test_an_index_quote_is_asked_for_as_exchange_and_kites_name(adapter, kite_market):
    quote = adapter.quote("NIFTY", Exchange.NSE_INDEX)
    sent = kite_market.last("GET", "/quote")
    assert sent.url.params.get_list("i") == ["NSE:NIFTY 50"]
    assert "i=NSE%3ANIFTY+50" in str(sent.url) or "i=NSE%3ANIFTY%2050" in str(sent.url)
    assert quote.ltp == D(26000) and quote.prev_close == D(25999)


def test_many_quotes_go_in_one_batch_call_and_unknown_symbols_are_left_out(adapter, kite_market):
    quotes = adapter.quotes([("SBIN", Exchange.NSE), ("RELIANCE", Exchange.NSE), ("NOPE", Exchange.NSE)])
    assert set(quotes) == {("SBIN", Exchange.NSE), ("RELIANCE", Exchange.NSE)}
    assert kite_market.calls == ["GET /quote"]
    assert kite_market.last("GET", "/quote").url.params.get_list("i") == ["NSE:SBIN", "NSE:RELIANCE"]


def test_a_symbol_missing_from_kites_answer_is_not_found(adapter, kite_market):
    kite_market.prices.pop("RELIANCE")
    kite_market.instruments = [row for row in kite_market.instruments if row["tradingsymbol"] != "RELIANCE"]
    with pytest.raises(SymbolNotFound):
        adapter.quote("RELIANCE", Exchange.NSE)


def test_depth_reads_five_levels_each_side(adapter, kite_market):
    depth = adapter.depth("SBIN", Exchange.NSE)
    assert len(depth.bids) == len(depth.asks) == 5
    assert (depth.bids[0].price, depth.asks[0].price) == (D("799.95"), D("800.05"))


def test_history_asks_by_instrument_token_and_splits_long_minute_ranges(adapter, kite_market):
    bars = adapter.history("SBIN", Exchange.NSE, "1m", date(2026, 1, 1), date(2026, 4, 30))
    requests = [r for r in kite_market.requests if r.url.path == "/instruments/historical/779521/minute"]
    assert [(r.url.params["from"], r.url.params["to"]) for r in requests] == [
        ("2026-01-01 00:00:00", "2026-03-01 23:59:59"), ("2026-03-02 00:00:00", "2026-04-30 23:59:59")]
    assert requests[0].url.params["oi"] == "1" and requests[0].url.params["continuous"] == "0"
    assert len(bars) == 86  # the weekdays of those four months, one fake bar each


def test_history_refuses_an_interval_kite_does_not_have(adapter, kite_market):
    assert set(adapter.capabilities.intervals) == {"1m", "3m", "5m", "10m", "15m", "30m", "1h", "D"}
    with pytest.raises(CapabilityMissing):
        adapter.history("SBIN", Exchange.NSE, "2h", date(2026, 1, 1), date(2026, 1, 2))


def test_gtt_single_and_oco_are_placed_modified_listed_and_cancelled(adapter, kite_market):
    gtt = gtt_adapter(adapter)
    single = GttRequest(trigger_type=GttType.SINGLE, symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                        product=Product.CNC, quantity=D(1), price=D("751"), triggerprice_sl=D("750"))
    trigger = gtt.place_gtt(single)
    sent = _form(kite_market.last("POST", "/gtt/triggers"))
    assert sent["type"] == "single"
    assert json.loads(sent["condition"]) == {"exchange": "NSE", "tradingsymbol": "SBIN", "trigger_values": [750.0],
                                             "last_price": 800.0}
    oco = GttRequest(trigger_type=GttType.OCO, symbol="SBIN", exchange=Exchange.NSE, action=Action.SELL,
                     product=Product.CNC, quantity=D(1), triggerprice_sl=D("700"), stoploss=D("699"),
                     triggerprice_tg=D("900"), target=D("901"))
    second = gtt.place_gtt(oco)
    assert _form(kite_market.last("POST", "/gtt/triggers"))["type"] == "two-leg"
    gtt.modify_gtt(trigger, GttRequest(**{**{f: getattr(single, f) for f in single.__dataclass_fields__},
                                         "triggerprice_sl": D("740"), "price": D("741")}))
    assert json.loads(_form(kite_market.last("PUT", f"/gtt/triggers/{trigger}"))["condition"])[
        "trigger_values"] == [740.0]
    book = {row.trigger_id: row for row in gtt.gtt_book()}
    assert set(book) == {trigger, second}
    assert book[second].trigger_prices == (D(700), D(900)) and book[trigger].symbol == "SBIN"
    gtt.cancel_gtt(trigger)
    assert kite_market.calls[-1] == f"DELETE /gtt/triggers/{trigger}"
    with pytest.raises(GttTriggerNotFound):
        gtt.cancel_gtt(trigger)


def test_a_gtt_without_a_last_price_is_refused_before_kite_sees_it(adapter, kite_market):
    kite_market.fail_next("5xx")  # the quote the GTT anchors to
    with pytest.raises(GttPriceUnavailable):
        gtt_adapter(adapter).place_gtt(GttRequest(trigger_type=GttType.SINGLE, symbol="SBIN", exchange=Exchange.NSE,
                                                  action=Action.BUY, product=Product.CNC, quantity=D(1),
                                                  price=D("751"), triggerprice_sl=D("750")))
    assert "POST /gtt/triggers" not in kite_market.calls


# --- Failures ---------------------------------------------------------------------------------

def test_a_timeout_is_unavailable_and_the_placement_is_not_retried(adapter, kite_market):
    kite_market.fail_next("timeout")
    with pytest.raises(BrokerUnavailable):
        adapter.place_order(_buy())
    assert kite_market.calls == ["POST /orders/regular"]


@pytest.mark.parametrize("failure", ["5xx", "malformed", "disconnect"])
def test_5xx_malformed_json_and_a_broken_connection_are_unavailable(adapter, kite_market, failure):
    kite_market.fail_next(failure)
    with pytest.raises(BrokerUnavailable):
        adapter.order_book()


def test_429_is_rate_limited_with_kites_retry_after(adapter, kite_market):
    kite_market.fail_next("429")
    with pytest.raises(BrokerRateLimited) as caught:
        adapter.place_order(_buy())
    assert caught.value.retry_after == 2.0


def test_a_403_token_exception_is_an_expired_session(adapter, kite_market):
    kite_market.fail_next("expired")
    with pytest.raises(BrokerAuthExpired) as caught:
        adapter.positions()
    assert caught.value.http_status == 403


def test_no_session_means_no_call_at_all(kite_market):
    with pytest.raises(BrokerAuthExpired):
        ZerodhaAdapter(None, credentials(access_token="")).order_book()
    assert kite_market.calls == []


def test_quotes_wait_for_kites_one_per_second_allowance(kite_market, settings, monkeypatch):
    from brokers import ratelimit

    settings.ZERODHA_PACE_DATA = True
    slept: list[float] = []
    buckets = ratelimit.LocalBuckets(clock=lambda: 100.0)
    monkeypatch.setattr(ratelimit, "shared_buckets", lambda: buckets)
    monkeypatch.setattr(ratelimit.time, "sleep", slept.append)
    adapter = ZerodhaAdapter(None, credentials())
    adapter.quote("SBIN", Exchange.NSE)
    adapter.quote("SBIN", Exchange.NSE)
    assert slept == [1.0]
    adapter.quote("SBIN", Exchange.NSE)  # a third within the same second would wait 2 s: at the limit
    with pytest.raises(BrokerRateLimited):
        adapter.quote("SBIN", Exchange.NSE)


def test_the_declared_limits_are_kites():
    limits = ZerodhaAdapter.capabilities.rate_limits
    assert (limits.orders_per_second, limits.orders_per_minute, limits.orders_per_day, limits.quotes_per_second,
            limits.history_per_second) == (10, 400, 5000, 1, 3)


def test_an_unknown_order_is_a_client_error_with_kites_text(adapter, kite_market):
    with pytest.raises(BrokerRejected) as caught:
        adapter.cancel_order("000000")
    assert caught.value.message == "Couldn't find that `order_id`."


def test_a_404_from_kite_is_order_not_found():
    client.close()
    with respx.mock(base_url=client.DEFAULT_BASE_URL) as router:
        router.get("/orders/1").mock(return_value=httpx.Response(404, json={"status": "error", "message": "Not found",
                                                                            "error_type": "GeneralException"}))
        with pytest.raises(OrderNotFound):
            ZerodhaAdapter(None, credentials()).order("1")
    client.close()
