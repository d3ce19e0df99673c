"""Angel One's adapter against the respx SmartAPI: what we send, and what we make of the answers."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import httpx
import pytest

from brokers import registry
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
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product

from .. import testing
from ..client import PATHS

D = Decimal


@pytest.fixture
def adapter(angel_market):
    return registry.build("angel", None, testing.credentials())


def _buy(**change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": D(1),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa77"}
    fields.update(change)
    return OrderRequest(**fields)


def test_every_call_carries_the_documented_headers(adapter, angel_market):
    adapter.funds()
    request = angel_market.requests[-1]
    assert request.method == "GET" and request.url.path == PATHS["funds"]
    headers = request.headers
    assert headers["Authorization"] == f"Bearer {testing.JWT}"
    assert headers["X-PrivateKey"] == testing.API_KEY
    assert (headers["X-UserType"], headers["X-SourceID"]) == ("USER", "WEB")
    assert headers["X-ClientLocalIP"] and headers["X-ClientPublicIP"] and headers["X-MACAddress"]
    assert headers["Content-Type"] == headers["Accept"] == "application/json"


def test_the_client_address_headers_carry_the_deployments_settings(adapter, angel_market, settings):
    settings.ANGEL_CLIENT_PUBLIC_IP = "203.0.113.7"
    settings.ANGEL_CLIENT_MAC = "02:00:00:aa:bb:cc"
    adapter.funds()
    headers = angel_market.requests[-1].headers
    assert (headers["X-ClientPublicIP"], headers["X-MACAddress"]) == ("203.0.113.7", "02:00:00:aa:bb:cc")


def test_a_market_order_is_sent_as_a_protected_limit_after_reading_the_last_price(adapter, angel_market):
    placed = adapter.place_order(_buy())
    assert [call.split()[1] for call in angel_market.calls] == [PATHS["ltp"], PATHS["place"]]
    assert angel_market.bodies("ltp") == [{"exchange": "NSE", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045"}]
    body = angel_market.bodies("place")[0]
    assert body == {"variety": "NORMAL", "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "transactiontype": "BUY",
                    "exchange": "NSE", "ordertype": "LIMIT", "producttype": "INTRADAY", "duration": "DAY",
                    "price": "804", "triggerprice": "0", "quantity": "1", "disclosedquantity": "0",
                    "squareoff": "0", "stoploss": "0", "ordertag": "oa77"}
    row = adapter.order(placed.orderid)
    assert row.status == OrderStatus.COMPLETE and row.average_price == D("800.00") and row.tag == "oa77"


def test_a_market_sell_of_an_option_uses_the_option_band(adapter, angel_market):
    adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, action=Action.SELL,
                             quantity=D(25), product=Product.NRML))
    body = angel_market.bodies("place")[0]
    assert (body["ordertype"], body["price"], body["producttype"]) == ("LIMIT", "146.25", "CARRYFORWARD")
    assert angel_market.bodies("ltp") == [{"exchange": "NFO", "tradingsymbol": "NIFTY28NOV2425000CE",
                                           "symboltoken": "43434"}]


def test_an_sl_m_order_becomes_a_stoploss_limit_at_its_trigger_without_a_quote(adapter, angel_market):
    placed = adapter.place_order(_buy(pricetype=PriceType.SL_M, trigger_price=D(810)))
    assert [call.split()[1] for call in angel_market.calls] == [PATHS["place"]]
    body = angel_market.bodies("place")[0]
    assert (body["variety"], body["ordertype"], body["triggerprice"], body["price"]) == (
        "STOPLOSS", "STOPLOSS_LIMIT", "810", "814.05")
    assert adapter.order(placed.orderid).status == OrderStatus.TRIGGER_PENDING


def test_a_limit_order_is_sent_as_it_is(adapter, angel_market):
    adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D("700.05"), product=Product.CNC))
    body = angel_market.bodies("place")[0]
    assert (body["ordertype"], body["price"], body["producttype"]) == ("LIMIT", "700.05", "DELIVERY")
    assert angel_market.bodies("ltp") == []


def test_an_order_beyond_the_funds_is_placed_then_rejected_with_angels_text(adapter, angel_market):
    placed = adapter.place_order(_buy(quantity=D(1000)))
    row = adapter.order(placed.orderid)
    assert row.status == OrderStatus.REJECTED
    assert row.rejection_reason == ("Your order has been rejected due to Insufficient Funds. Available funds - "
                                    "Rs. 100000.00 . You require Rs. 800000.00 funds to execute this order.")


def test_a_refusal_at_placement_passes_angels_message_verbatim(adapter, angel_market):
    lpp = testing.fixture("order_rejected_lpp.json")
    angel_market.answer_next("place", httpx.Response(200, json=lpp))
    with pytest.raises(BrokerRejected) as refused:
        adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(900)))
    assert refused.value.message == lpp["message"]


def test_modify_and_cancel_send_the_documented_bodies(adapter, angel_market):
    placed = adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(700)))
    adapter.modify_order(ModifyRequest(orderid=placed.orderid, symbol="SBIN", exchange=Exchange.NSE,
                                       action=Action.BUY, product=Product.MIS, pricetype=PriceType.LIMIT,
                                       quantity=D(3), price=D("701.5"), trigger_price=D(0)))
    assert angel_market.bodies("modify") == [{
        "variety": "NORMAL", "orderid": placed.orderid, "ordertype": "LIMIT", "producttype": "INTRADAY",
        "duration": "DAY", "price": "701.5", "triggerprice": "0", "quantity": "3", "disclosedquantity": "0",
        "tradingsymbol": "SBIN-EQ", "symboltoken": "3045", "exchange": "NSE"}]
    adapter.cancel_order(placed.orderid)
    assert angel_market.bodies("cancel") == [{"variety": "NORMAL", "orderid": placed.orderid}]
    row = adapter.order(placed.orderid)
    assert row.status == OrderStatus.CANCELLED and row.quantity == D(3) and row.price == D("701.5")


def test_unknown_orders_are_not_found(adapter):
    with pytest.raises(OrderNotFound):
        adapter.cancel_order("99999")
    with pytest.raises(OrderNotFound):
        adapter.order("99999")


def test_an_empty_book_is_null_at_angel_and_empty_here(adapter):
    assert adapter.order_book() == [] and adapter.trade_book() == [] and adapter.positions() == []


def test_trades_and_positions_name_our_symbols(adapter, angel_market):
    adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(25),
                             product=Product.NRML))
    adapter.place_order(_buy(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, quantity=D(10),
                             action=Action.SELL, product=Product.NRML))
    trades = adapter.trade_book()
    assert {(t.symbol, t.exchange, t.product) for t in trades} == {("NIFTY28NOV2425000CE", Exchange.NFO, Product.NRML)}
    angel_market.prices["43434"] = D(160)
    angel_market.requests.clear()
    (position,) = adapter.positions()
    assert (position.symbol, position.quantity, position.average_price, position.ltp) == (
        "NIFTY28NOV2425000CE", D(15), D("150.00"), D("160.00"))
    assert position.pnl == D("150.00")  # 15 open, 10 more each; nothing realised at one price
    # getPosition's rows carry no last price: one LTP quote call fetched it
    assert angel_market.bodies("quote") == [{"mode": "LTP", "exchangeTokens": {"NFO": ["43434"]}}]


def test_positions_whose_last_price_cannot_be_read_show_no_unrealised_loss(adapter, angel_market):
    adapter.place_order(_buy(quantity=D(10)))
    angel_market.answer_next("quote", httpx.Response(502, text="Bad Gateway"))
    (position,) = adapter.positions()
    assert position.quantity == 10 and position.ltp == position.average_price == D("800.00")
    assert position.pnl == 0


def test_quote_and_depth_read_the_full_mode(adapter, angel_market):
    quote = adapter.quote("SBIN", Exchange.NSE)
    assert angel_market.bodies("quote") == [{"mode": "FULL", "exchangeTokens": {"NSE": ["3045"]}}]
    assert quote.ltp == D(800) and quote.bid < quote.ask
    depth = adapter.depth("NIFTY", Exchange.NSE_INDEX)
    assert angel_market.bodies("quote")[-1] == {"mode": "FULL", "exchangeTokens": {"NSE": ["99926000"]}}
    assert len(depth.bids) == 5 and depth.quote.ltp == D(24100)
    with pytest.raises(SymbolNotFound):
        adapter.quote("NOPE", Exchange.NSE)


def test_an_unfetched_quote_is_symbol_not_found_with_angels_message(adapter, angel_market):
    angel_market.answer_next("quote", httpx.Response(200, json=testing.fixture("quote_unfetched.json")))
    with pytest.raises(SymbolNotFound, match=r"^Symbol token cannot be empty$"):
        adapter.quote("SBIN", Exchange.NSE)


def test_many_quotes_go_in_batches_of_fifty_tokens(adapter, angel_market):
    items = [("SBIN", Exchange.NSE), ("NIFTY28NOV24FUT", Exchange.NFO), ("GOLD30OCT26FUT", Exchange.MCX),
             ("NOPE", Exchange.NSE)]
    answer = adapter.quotes(items)
    assert set(answer) == set(items[:3]) and answer[("GOLD30OCT26FUT", Exchange.MCX)].ltp == D(78000)
    (body,) = angel_market.bodies("quote")
    assert body == {"mode": "FULL", "exchangeTokens": {"NSE": ["3045"], "NFO": ["35006"], "MCX": ["440939"]}}


def test_history_splits_long_ranges_and_asks_with_the_documented_body(adapter, angel_market):
    bars = adapter.history("SBIN", Exchange.NSE, "D", date(2026, 11, 23), date(2026, 11, 27))
    assert [b.close for b in bars] == [D(800)] * 5
    assert angel_market.bodies("candles") == [{"exchange": "NSE", "symboltoken": "3045", "interval": "ONE_DAY",
                                               "fromdate": "2026-11-23 00:00", "todate": "2026-11-27 23:59"}]
    angel_market.requests.clear()
    adapter.history("SBIN", Exchange.NSE, "1m", date(2026, 9, 1), date(2026, 11, 27))
    windows = [(b["fromdate"], b["todate"], b["interval"]) for b in angel_market.bodies("candles")]
    assert windows == [("2026-09-01 00:00", "2026-09-30 23:59", "ONE_MINUTE"),
                       ("2026-10-01 00:00", "2026-10-30 23:59", "ONE_MINUTE"),
                       ("2026-10-31 00:00", "2026-11-27 23:59", "ONE_MINUTE")]
    with pytest.raises(Exception, match="no 2h candles"):
        adapter.history("SBIN", Exchange.NSE, "2h", date(2026, 11, 23), date(2026, 11, 27))


def test_the_margin_calculator_sends_the_documented_batch(adapter, angel_market):
    result = adapter.margin([MarginLeg(symbol="NIFTY28NOV2425000CE", exchange=Exchange.NFO, action=Action.SELL,
                                       product=Product.NRML, pricetype=PriceType.LIMIT, quantity=D(25),
                                       price=D(150))])
    assert angel_market.bodies("margin") == [{"positions": [{
        "exchange": "NFO", "qty": 25, "price": 150.0, "productType": "CARRYFORWARD", "token": "43434",
        "tradeType": "SELL", "orderType": "LIMIT"}]}]
    assert result.total_margin_required == D("29612.35") and result.span_margin == D("0.0")


def test_holdings_read_the_all_holdings_answer(adapter, angel_market):
    angel_market.answer_next("holdings", httpx.Response(200, json=testing.fixture("holdings.json")))
    (holding,) = adapter.holdings()
    assert holding.symbol == "TATASTEEL" and holding.quantity == 2 and holding.exchange == Exchange.NSE


# --- Error paths --------------------------------------------------------------------------------

@pytest.mark.parametrize(("failure", "error"), [
    ("timeout", BrokerUnavailable), ("disconnect", BrokerUnavailable), ("5xx", BrokerUnavailable),
    ("malformed", BrokerUnavailable), ("429", BrokerRateLimited), ("rate403", BrokerRateLimited),
    ("expired", BrokerAuthExpired),
])
def test_each_failure_is_classified(adapter, angel_market, failure, error):
    angel_market.fail_next(failure)
    with pytest.raises(error):
        adapter.funds()


def test_a_429_says_when_to_retry(adapter, angel_market):
    angel_market.fail_next("429")
    with pytest.raises(BrokerRateLimited) as limited:
        adapter.order_book()
    assert limited.value.retry_after == 3.0


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_and_403_mean_the_session_ended(adapter, angel_market, status):
    angel_market.answer_next("funds", httpx.Response(status, json={"message": "Invalid Token", "errorcode": "AG8001",
                                                                   "status": False, "data": None}))
    with pytest.raises(BrokerAuthExpired):
        adapter.funds()


@pytest.mark.parametrize("code", ["AG8001", "AG8002", "AG8003", "AB1010", "AB1011"])
def test_session_error_codes_in_an_http_200_envelope_mean_the_session_ended(adapter, angel_market, code):
    angel_market.answer_next("orders", httpx.Response(200, json={"success": False, "message": "x", "errorCode": code,
                                                                 "data": ""}))
    with pytest.raises(BrokerAuthExpired):
        adapter.order_book()


def test_a_string_false_status_is_a_failure(adapter, angel_market):
    angel_market.answer_next("funds", httpx.Response(200, json={"status": "false", "message": "Something Went Wrong",
                                                                "errorcode": "AB1004", "data": None}))
    with pytest.raises(BrokerRejected, match=r"^Something Went Wrong$"):
        adapter.funds()


def test_a_market_order_whose_last_price_cannot_be_read_is_refused_before_any_placement(adapter, angel_market):
    angel_market.fail_next("5xx")
    with pytest.raises(BrokerRejected, match="Market protection needs the last price of SBIN"):
        adapter.place_order(_buy())
    angel_market.answer_next("ltp", httpx.Response(200, json={"status": True, "data": {"ltp": "0"}}))
    with pytest.raises(BrokerRejected, match="which Angel One did not give"):
        adapter.place_order(_buy())
    angel_market.fail_next("expired")
    with pytest.raises(BrokerAuthExpired):
        adapter.place_order(_buy())
    assert angel_market.bodies("place") == []


def test_a_placement_that_times_out_is_unknown_not_retried(adapter, angel_market):
    angel_market.answer_next("place", httpx.ReadTimeout("slow"))
    with pytest.raises(BrokerUnavailable):
        adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(700)))
    assert angel_market.calls == [f"POST {PATHS['place']}"]
    assert angel_market.orders == {}


def test_without_a_session_nothing_is_sent(angel_market):
    adapter = registry.build("angel", None, testing.credentials(access_token=""))
    assert not adapter.session_valid()
    with pytest.raises(BrokerAuthExpired):
        adapter.order_book()
    assert angel_market.calls == []


def test_an_unreadable_row_is_unavailable_not_a_crash(adapter, angel_market):
    angel_market.answer_next("orders", httpx.Response(200, json={"status": True, "data": [{"orderid": "1",
                                                                                          "exchange": "NSE"}]}))
    with pytest.raises(BrokerUnavailable):
        adapter.order_book()


def test_the_master_contract_is_the_documented_public_file(adapter, angel_market):
    rows = list(adapter.master_contract())
    assert angel_market.calls == ["GET margincalculator.angelone.in/OpenAPI_File/files/OpenAPIScripMaster.json"]
    assert "Authorization" not in angel_market.requests[0].headers
    assert any(getattr(row, "symbol", "") == "SBIN" for row in rows)


def test_a_request_body_is_json(adapter, angel_market):
    adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(700)))
    request = next(r for r in angel_market.requests if r.url.path == PATHS["place"])
    assert request.method == "POST" and json.loads(request.content)["ordertag"] == "oa77"


@pytest.mark.parametrize("code", ["AB1004", "AB2001"])
def test_an_internal_error_on_placement_is_an_unknown_outcome_not_a_rejection(adapter, angel_market, code):
    angel_market.answer_next("place", httpx.Response(200, json={"status": False, "errorcode": code, "data": None,
                                                                "message": "Something went wrong"}))
    with pytest.raises(BrokerUnavailable, match="outcome is unknown"):
        adapter.place_order(_buy(pricetype=PriceType.LIMIT, price=D(700)))
    angel_market.answer_next("funds", httpx.Response(200, json={"status": False, "errorcode": code, "data": None,
                                                                "message": "Something went wrong"}))
    with pytest.raises(BrokerRejected, match=r"^Something went wrong$"):
        adapter.funds()
