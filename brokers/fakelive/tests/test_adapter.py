"""FakeLive over HTTP (served by respx): orders round-trip, and each way a broker fails
is classified once, at the edge, into the contract's errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.base import (
    BrokerAuthExpired,
    BrokerRateLimited,
    BrokerRejected,
    BrokerUnavailable,
    OrderNotFound,
    OrderRequest,
    SymbolNotFound,
    UnparsableRow,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.fakelive.adapter import FakeLiveAdapter
from brokers.fakelive.testing import credentials

pytestmark = pytest.mark.django_db


@pytest.fixture
def adapter(fakelive_market):
    return FakeLiveAdapter(None, credentials())


def _buy(quantity: int = 1, **change) -> OrderRequest:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "action": Action.BUY, "quantity": Decimal(quantity),
              "product": Product.MIS, "pricetype": PriceType.MARKET, "tag": "oa17"}
    fields.update(change)
    return OrderRequest(**fields)


def test_an_order_goes_out_under_the_brokers_symbol_and_comes_back_under_ours(adapter, fakelive_market):
    placed = adapter.place_order(_buy())
    sent = fakelive_market.orders[placed.orderid]
    assert (sent["tradingsymbol"], sent["transaction_type"], sent["product"], sent["tag"]) == ("SBIN-EQ", "B", "I",
                                                                                              "oa17")
    row = adapter.order(placed.orderid)
    assert (row.symbol, row.exchange, row.status, row.average_price) == ("SBIN", "NSE", OrderStatus.COMPLETE,
                                                                       Decimal(800))
    assert row.tag == "oa17"


def test_a_rejection_text_reaches_the_trader_verbatim(adapter, fakelive_market):
    with pytest.raises(BrokerRejected) as caught:
        adapter.place_order(_buy(quantity=1000))
    assert caught.value.message == "RMS:Margin Exceeds, Required:800000.00, Available:100000.00 for entity account-FL01"
    assert caught.value.http_status == 400


def test_a_timeout_is_unavailable_and_the_placement_is_not_retried(adapter, fakelive_market):
    fakelive_market.fail_next("timeout")
    with pytest.raises(BrokerUnavailable):
        adapter.place_order(_buy())
    assert fakelive_market.calls == ["POST /orders"]


def test_a_refused_connection_is_unavailable(adapter, fakelive_market):
    fakelive_market.fail_next("disconnect")
    with pytest.raises(BrokerUnavailable):
        adapter.funds()


def test_a_5xx_is_unavailable(adapter, fakelive_market):
    fakelive_market.fail_next("5xx")
    with pytest.raises(BrokerUnavailable) as caught:
        adapter.order_book()
    assert caught.value.http_status == 500


def test_malformed_json_is_unavailable_not_a_crash(adapter, fakelive_market):
    fakelive_market.fail_next("malformed")
    with pytest.raises(BrokerUnavailable, match="unreadable JSON"):
        adapter.positions()


def test_a_429_is_rate_limited_with_the_brokers_retry_after(adapter, fakelive_market):
    fakelive_market.fail_next("429")
    with pytest.raises(BrokerRateLimited) as caught:
        adapter.quote("SBIN", Exchange.NSE)
    assert caught.value.retry_after == 7 and caught.value.http_status == 429


def test_an_expired_token_is_auth_expired(adapter, fakelive_market):
    fakelive_market.fail_next("expired")
    with pytest.raises(BrokerAuthExpired):
        adapter.funds()
    assert adapter.__class__(None, None).session_valid() is False


def test_without_a_token_no_request_is_sent(fakelive_market):
    with pytest.raises(BrokerAuthExpired):
        FakeLiveAdapter(None, credentials(access_token="")).order_book()
    assert fakelive_market.calls == []


def test_an_unknown_order_is_not_found_and_a_symbol_we_do_not_list_is_refused_before_any_call(adapter,
                                                                                            fakelive_market):
    with pytest.raises(OrderNotFound):
        adapter.cancel_order("42")
    with pytest.raises(SymbolNotFound):
        adapter.place_order(_buy(symbol="NOSUCH"))
    assert fakelive_market.calls == ["DELETE /orders/42"]


def test_cancelling_a_filled_order_passes_the_brokers_reason_through(adapter, fakelive_market):
    placed = adapter.place_order(_buy())
    with pytest.raises(BrokerRejected) as caught:
        adapter.cancel_order(placed.orderid)
    assert caught.value.message == "Order cannot be cancelled as it is COMPLETE."


def test_a_master_contract_row_that_cannot_be_read_is_handed_on_as_unparsable(fake_exchange):
    fake_exchange.instruments.append({"tradingsymbol": "BROKEN", "exchange": "NSE"})
    rows = list(FakeLiveAdapter(None, credentials()).master_contract())
    bad = [row for row in rows if isinstance(row, UnparsableRow)]
    assert len(rows) == 6 and len(bad) == 1 and "BROKEN" in bad[0].raw
    symbols = {row.symbol for row in rows if not isinstance(row, UnparsableRow)}
    assert {"SBIN", "NIFTY29DEC26FUT", "NIFTY29DEC2626000CE", "NIFTY"} <= symbols
