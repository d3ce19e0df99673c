"""The paper exchange: fills, resting orders, margin, rejections, modify and cancel."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest

from brokers.base import BrokerRejected, ModifyRequest, OrderNotFound, OrderRequest
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.sandbox import amend, books, exchange
from brokers.sandbox.models import STARTING_CAPITAL, Account, SandboxOrder, SandboxTrade

D = Decimal


def order(symbol="SBIN", exchange_code=Exchange.NSE, action=Action.BUY, quantity=10, product=Product.MIS,
          pricetype=PriceType.MARKET, price=0, trigger=0, strategy="Test") -> OrderRequest:
    return OrderRequest(symbol=symbol, exchange=exchange_code, action=action, quantity=D(quantity), product=product,
                        pricetype=pricetype, price=D(str(price)), trigger_price=D(str(trigger)), strategy=strategy)


def account(user) -> Account:
    return Account.objects.get(user=user)


def test_a_market_buy_fills_at_the_ask_and_blocks_a_fifth_for_mis(user, market):
    placed = exchange.place_order(user, order(quantity=10))
    assert placed.status == OrderStatus.COMPLETE
    row = SandboxOrder.objects.get(orderid=placed.orderid)
    assert row.average_price == D("800.05")  # ask = ltp + one tick
    assert account(user).used_margin == D("800.05") * 10 / 5
    assert account(user).cash == STARTING_CAPITAL - D("800.05") * 10 / 5
    assert SandboxTrade.objects.filter(order=row).count() == 1


def test_order_ids_are_14_digits_starting_with_the_ist_date(user, market):
    placed = exchange.place_order(user, order(), at=datetime.fromisoformat("2026-11-24T20:00:00+00:00"))
    assert re.fullmatch(r"\d{14}", placed.orderid)
    assert placed.orderid.startswith("261125")  # 01:30 IST on the 25th


def test_a_market_sell_fills_at_the_bid(user, market):
    placed = exchange.place_order(user, order(action=Action.SELL, quantity=5))
    assert SandboxOrder.objects.get(orderid=placed.orderid).average_price == D("799.95")


def test_a_limit_below_the_market_rests_and_fills_at_its_price_when_crossed(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="790"))
    assert placed.status == OrderStatus.OPEN
    assert account(user).used_margin == D(790) * 10 / 5
    assert exchange.sweep(user=user) == 0
    market.set("NSE:SBIN", "789.5")
    assert exchange.sweep(user=user) == 1
    row = SandboxOrder.objects.get(orderid=placed.orderid)
    assert (row.status, row.average_price, row.filled_quantity) == (OrderStatus.COMPLETE, D(790), D(10))
    assert account(user).used_margin == D(790) * 10 / 5  # order block became the position's margin


def test_a_marketable_limit_fills_at_once_at_the_last_price(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="810"))
    assert placed.status == OrderStatus.COMPLETE
    assert SandboxOrder.objects.get(orderid=placed.orderid).average_price == D(800)


def test_a_stop_loss_buy_waits_for_its_trigger_then_fills_within_its_limit(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.SL, price="812", trigger="810"))
    assert placed.status == OrderStatus.TRIGGER_PENDING
    market.set("NSE:SBIN", "811")
    exchange.sweep(user=user)
    row = SandboxOrder.objects.get(orderid=placed.orderid)
    assert (row.status, row.average_price) == (OrderStatus.COMPLETE, D(811))


def test_a_triggered_stop_loss_beyond_its_limit_rests_as_a_limit(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.SL, price="812", trigger="810"))
    market.set("NSE:SBIN", "815")
    exchange.sweep(user=user)
    assert SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.OPEN
    market.set("NSE:SBIN", "811.5")
    exchange.sweep(user=user)
    row = SandboxOrder.objects.get(orderid=placed.orderid)
    assert (row.status, row.average_price) == (OrderStatus.COMPLETE, D(812))


def test_a_stop_loss_market_sell_fills_at_the_last_price_once_triggered(user, market):
    placed = exchange.place_order(user, order(action=Action.SELL, pricetype=PriceType.SL_M, trigger="790"))
    assert placed.status == OrderStatus.TRIGGER_PENDING
    market.set("NSE:SBIN", "789")
    exchange.sweep(user=user)
    assert SandboxOrder.objects.get(orderid=placed.orderid).average_price == D(789)


def test_a_round_trip_realises_its_profit_and_frees_all_margin(user, market):
    exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="800", quantity=10))
    market.set("NSE:SBIN", "820")
    exchange.place_order(user, order(action=Action.SELL, pricetype=PriceType.LIMIT, price="810", quantity=10))
    acct = account(user)
    assert acct.realized_pnl == D(200)  # bought at 800 (ltp), sold at 820 (ltp, marketable limit)
    assert acct.used_margin == 0
    assert acct.cash == STARTING_CAPITAL + 200
    (position,) = books.positions(user)
    assert (position.quantity, position.realized_pnl) == (0, D(200))


def test_reversing_a_position_realises_the_closed_part_and_opens_the_rest(user, market):
    exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="800", quantity=10))
    market.set("NSE:SBIN", "790")
    exchange.place_order(user, order(action=Action.SELL, pricetype=PriceType.LIMIT, price="790", quantity=15))
    (position,) = books.positions(user)
    assert position.quantity == -5
    assert position.average_price == D(790)
    assert account(user).realized_pnl == D(-100)
    assert account(user).used_margin == D(790) * 5 / 5


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (order(symbol="NOPE"), "Symbol NOPE not found on NSE"),
        (order(symbol="NIFTY29DEC26FUT", exchange_code=Exchange.NFO, quantity=10, product=Product.NRML),
         "Quantity must be in multiples of lot size 65"),
        (order(product=Product.NRML), "NRML product is not allowed on NSE"),
        (order(symbol="NIFTY29DEC26FUT", exchange_code=Exchange.NFO, quantity=65, product=Product.CNC),
         "CNC product is not allowed on NFO"),
        (order(pricetype=PriceType.LIMIT, price=0), "Price must be greater than 0 for LIMIT orders"),
        (order(pricetype=PriceType.SL_M, trigger=0), "Trigger price must be greater than 0 for SL-M orders"),
        (order(pricetype=PriceType.LIMIT, price="800.03"), "not a multiple of the tick size 0.05"),
        (order(quantity=10**6, product=Product.CNC), "Insufficient funds"),
        (order(symbol="NIFTY", exchange_code=Exchange.NSE_INDEX), "cannot be traded"),
    ],
)
def test_pre_trade_rejections_say_why_and_leave_no_order(user, market, request_, message):
    with pytest.raises(BrokerRejected) as caught:
        exchange.place_order(user, request_)
    assert message in caught.value.message
    assert not SandboxOrder.objects.exists()
    assert account(user).cash == STARTING_CAPITAL if Account.objects.filter(user=user).exists() else True


def test_a_cnc_sell_without_holdings_is_recorded_as_rejected_and_reported(user, market):
    with pytest.raises(BrokerRejected) as caught:
        exchange.place_order(user, order(action=Action.SELL, product=Product.CNC))
    row = SandboxOrder.objects.get()
    assert caught.value.orderid == row.orderid
    assert row.status == OrderStatus.REJECTED
    assert caught.value.message.startswith("Cannot sell 10 SBIN")


def test_futures_use_ten_times_leverage_and_options_the_full_premium(user, market):
    exchange.place_order(user, order(symbol="NIFTY29DEC26FUT", exchange_code=Exchange.NFO, quantity=65,
                                     product=Product.NRML))
    futures_margin = account(user).used_margin
    assert futures_margin == (D("26100.05") * 65 / 10).quantize(D("0.0001"))
    exchange.place_order(user, order(symbol="NIFTY29DEC2626000CE", exchange_code=Exchange.NFO, quantity=65,
                                     product=Product.NRML))
    assert account(user).used_margin - futures_margin == D("150.05") * 65


def test_cancelling_a_resting_order_releases_its_margin(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="700"))
    amend.cancel_order(user, placed.orderid)
    assert SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.CANCELLED
    assert (account(user).cash, account(user).used_margin) == (STARTING_CAPITAL, 0)
    with pytest.raises(BrokerRejected, match="Cannot cancel order in cancelled status"):
        amend.cancel_order(user, placed.orderid)


def test_cancelling_an_unknown_or_someone_elses_order_is_not_found(user, make_user, market):
    other = make_user(username="other")
    placed = exchange.place_order(other, order(pricetype=PriceType.LIMIT, price="700"))
    with pytest.raises(OrderNotFound, match=f"Order {placed.orderid} not found"):
        amend.cancel_order(user, placed.orderid)
    assert SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.OPEN


def modify(orderid, pricetype=PriceType.LIMIT, price="795", trigger="0", quantity=20) -> ModifyRequest:
    return ModifyRequest(orderid=orderid, symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY,
                         product=Product.MIS, pricetype=pricetype, quantity=D(quantity), price=D(price),
                         trigger_price=D(trigger))


def test_modifying_a_resting_order_reblocks_margin_for_the_new_terms(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="700"))
    result = amend.modify_order(user, modify(placed.orderid))
    assert result.message == "Order modified successfully"
    row = SandboxOrder.objects.get(orderid=placed.orderid)
    assert (row.quantity, row.price, row.status) == (20, D(795), OrderStatus.OPEN)
    assert account(user).used_margin == D(795) * 20 / 5


def test_modifying_into_a_marketable_price_fills_it(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="700"))
    amend.modify_order(user, modify(placed.orderid, price="805"))
    assert SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.COMPLETE


def test_a_filled_order_cannot_be_modified_and_market_takes_no_price(user, market):
    placed = exchange.place_order(user, order())
    with pytest.raises(BrokerRejected, match="Cannot modify order in complete status"):
        amend.modify_order(user, modify(placed.orderid))
    resting = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="700"))
    with pytest.raises(BrokerRejected, match="MARKET orders do not accept a price"):
        amend.modify_order(user, modify(resting.orderid, pricetype=PriceType.MARKET, price="700"))


def test_cancel_all_cancels_only_working_orders(user, market):
    exchange.place_order(user, order())
    first = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="700"))
    second = exchange.place_order(user, order(pricetype=PriceType.SL, price="900", trigger="899"))
    cancelled, failed = amend.cancel_all(user)
    assert sorted(cancelled) == sorted([first.orderid, second.orderid]) and failed == []
    assert account(user).used_margin == D("800.05") * 10 / 5


def test_every_users_book_is_their_own(user, make_user, market):
    other = make_user(username="other")
    exchange.place_order(other, order())
    assert books.order_book(user) == []
    assert len(books.order_book(other)) == 1
    assert books.positions(user) == []
