"""FakeLive's mapping is pure: documented payloads in, our domain types out, and back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokers.base import ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.fakelive import mapping

ORDER_ROW = {"order_id": "250100000000001", "tradingsymbol": "SBIN-EQ", "exchange": "NSE",
             "instrument_token": "3045", "transaction_type": "S", "quantity": 10, "filled_quantity": 4,
             "price": "801.50", "trigger_price": "0", "average_price": "801.55", "order_type": "LMT",
             "product": "D", "status": "OPEN", "status_message": "", "order_timestamp": "2026-11-27T09:20:01+05:30",
             "tag": "oa9"}


@given(action=st.sampled_from(Action), pricetype=st.sampled_from(PriceType), product=st.sampled_from(Product))
def test_every_side_type_and_product_goes_out_and_comes_back_unchanged(action, pricetype, product):
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=action, quantity=Decimal(3),
                           pricetype=pricetype, product=product, price=Decimal("801.5"))
    payload = mapping.order_payload(request, "SBIN-EQ")
    row = {**ORDER_ROW, "transaction_type": payload["transaction_type"], "order_type": payload["order_type"],
           "product": payload["product"]}
    order = mapping.broker_order(row, "SBIN")
    assert (order.action, order.pricetype, order.product) == (action, pricetype, product)


def test_an_order_row_becomes_a_broker_order_with_decimals_and_an_aware_time():
    order = mapping.broker_order(ORDER_ROW, "SBIN")
    assert order.status == OrderStatus.OPEN and order.pending_quantity == 6
    assert order.price == Decimal("801.50") and order.timestamp.utcoffset().total_seconds() == 19800


def test_a_rejected_row_carries_the_brokers_reason():
    row = {**ORDER_ROW, "status": "REJECTED", "status_message": "RMS: blocked for trading"}
    assert mapping.broker_order(row, "SBIN").rejection_reason == "RMS: blocked for trading"


@pytest.mark.parametrize("change", [{"status": "PARKED"}, {"order_timestamp": "2026-11-27 09:20"},
                                    {"price": "eight hundred"}, {"exchange": "LSE"}])
def test_a_row_the_broker_does_not_document_is_unreadable(change):
    with pytest.raises(mapping.UnreadablePayload):
        mapping.broker_order({**ORDER_ROW, **change}, "SBIN")


def test_indices_live_on_the_brokers_idx_segment():
    assert mapping.their_exchange(Exchange.NSE_INDEX) == "NSEIDX"
    assert mapping.our_exchange("NSEIDX") == Exchange.NSE_INDEX and mapping.our_exchange("NFO") == Exchange.NFO


def test_a_modification_sends_only_what_may_change():
    request = ModifyRequest(orderid="1", symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                            product=Product.MIS, pricetype=PriceType.SL, quantity=Decimal(2), price=Decimal(790),
                            trigger_price=Decimal(791))
    assert mapping.modify_payload(request) == {"quantity": 2, "order_type": "SL", "price": "790",
                                               "trigger_price": "791", "disclosed_quantity": 0}


def test_an_option_row_gets_the_openalgo_symbol():
    row = mapping.instrument_row({"instrument_token": "9002", "tradingsymbol": "NIFTY26DEC26000CE", "name": "NIFTY",
                                  "exchange": "NFO", "expiry": "2026-12-29", "strike": "26000", "lot_size": 65,
                                  "tick_size": "0.05", "instrument_type": "CE"})
    assert (row.symbol, row.expiry, row.strike, row.lotsize) == ("NIFTY29DEC2626000CE", date(2026, 12, 29),
                                                                 Decimal(26000), 65)


def test_a_quote_takes_bid_and_ask_from_the_top_of_the_depth():
    quote = mapping.quote({"last_price": "800", "volume": 5, "ohlc": {"close": "799"},
                           "depth": {"buy": [{"price": "799.95", "quantity": 10}],
                                     "sell": [{"price": "800.05", "quantity": 7}]}})
    assert (quote.bid, quote.ask, quote.prev_close) == (Decimal("799.95"), Decimal("800.05"), Decimal(799))
