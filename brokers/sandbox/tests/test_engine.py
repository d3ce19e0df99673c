"""The fill engine: ticks of an instrument fill its resting orders; the poller catches up."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.base import Quote
from brokers.enums import OrderStatus, PriceType
from brokers.sandbox import exchange
from brokers.sandbox.engine import FillEngine
from brokers.sandbox.models import SandboxOrder
from brokers.sandbox.tests.test_exchange import order


def tick(ltp: str) -> Quote:
    price = Decimal(ltp)
    return Quote(ltp=price, open=price, high=price, low=price, prev_close=price, volume=1, bid=price, ask=price)


def test_a_tick_crossing_a_resting_limit_fills_it(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="790"))
    engine = FillEngine(keys_refresh_seconds=0)
    assert engine.on_tick("NSE", "SBIN", tick("795")) == 0
    assert engine.on_tick("NSE", "RELIANCE", tick("1")) == 0  # no resting order there
    assert engine.on_tick("NSE", "SBIN", tick("789.90")) == 1
    row = SandboxOrder.objects.get(orderid=placed.orderid)
    assert (row.status, row.average_price) == (OrderStatus.COMPLETE, Decimal(790))
    assert engine.on_tick("NSE", "SBIN", tick("780")) == 0  # filled once, never twice


def test_the_poller_fills_what_the_price_crossed(user, market):
    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="790"))
    market.set("NSE:SBIN", "785")
    assert FillEngine().poll_once() == 1
    assert SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.COMPLETE


@pytest.mark.django_db(transaction=True)
def test_the_tick_loop_fills_a_resting_order_within_a_tick(user, market):
    import threading

    placed = exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="790"))
    market.set("NSE:SBIN", "789")
    stop = threading.Event()
    engine = FillEngine(keys_refresh_seconds=0)
    thread = threading.Thread(target=engine.run_ticks, args=(stop, 20.0))
    thread.start()
    try:
        for _ in range(100):
            if SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.COMPLETE:
                break
            threading.Event().wait(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert SandboxOrder.objects.get(orderid=placed.orderid).status == OrderStatus.COMPLETE


def test_ticks_that_cross_nothing_lock_and_write_nothing(user, market, django_assert_max_num_queries):
    """80 near-the-market limits resting: a tick that crosses none of them costs no query
    once the book is in memory, and a crossing tick locks only the orders it makes due."""
    placed = [exchange.place_order(user, order(pricetype=PriceType.LIMIT, price=str(700 + n))) for n in range(80)]
    engine = FillEngine(keys_refresh_seconds=3600)
    engine.resting_keys()  # the one read of the resting book
    with django_assert_max_num_queries(0):
        assert engine.on_tick("NSE", "SBIN", tick("800")) == 0
        assert engine.on_tick("NSE", "SBIN", tick("779.05")) == 0
    assert engine.locked_checks == 0
    assert engine.on_tick("NSE", "SBIN", tick("777.50")) == 2  # the buy limits at 778 and 779
    assert engine.locked_checks == 2
    filled = SandboxOrder.objects.filter(status=OrderStatus.COMPLETE)
    assert sorted(filled.values_list("price", flat=True)) == [Decimal(778), Decimal(779)]
    assert {row.orderid for row in filled} == {placed[78].orderid, placed[79].orderid}


def test_a_sweep_over_orders_the_price_has_not_crossed_is_one_read(user, market, django_assert_max_num_queries):
    """Reading a book sweeps the user's resting orders first: with 30 of them resting and
    none crossed that is one query, not one (and a lock) per order."""
    for n in range(30):
        exchange.place_order(user, order(pricetype=PriceType.LIMIT, price=str(700 + n)))
    exchange.sweep(user=user)  # instrument lookups cached
    with django_assert_max_num_queries(1):
        assert exchange.sweep(user=user) == 0
    market.set("NSE:SBIN", "728.5")
    assert exchange.sweep(user=user) == 1  # only the limit at 729
    assert SandboxOrder.objects.get(status=OrderStatus.COMPLETE).price == Decimal(729)
