"""Smart orders racing for the same symbol never double the position (spec §5.2)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from brokers.base import OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.sandbox.models import SandboxOrder
from orders import services
from orders.locks import symbol_key
from orders.models import Order
from orders.tests.racing import held_by_another_process, race


@pytest.mark.django_db(transaction=True)
def test_concurrent_smart_orders_for_one_symbol_place_exactly_one_order(user, market):
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(100),
                           product=Product.MIS, pricetype=PriceType.MARKET, strategy="Race")
    outcomes = race(lambda: services.place_smart_order(user=user, request=request, position_size=Decimal(100)))
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    placed = [o for o in outcomes if o.placed is not None]
    assert len(placed) == 1
    assert {o.message for o in outcomes if o.placed is None} == {services.ALREADY_MATCHED}
    assert SandboxOrder.objects.count() == 1 and Order.objects.count() == 1
    adapter = services.adapter_for(user)
    assert services.net_quantity(adapter, "SBIN", "NSE", "MIS") == 100


@pytest.mark.django_db(transaction=True)
def test_a_smart_order_waits_while_another_process_holds_its_symbol_lock(user, market):
    """The lock is the database's (PostgreSQL advisory lock, MySQL GET_LOCK) or, on SQLite, the
    host's file lock: a process with nothing in memory in common with this one excludes it."""
    request = OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=Decimal(100),
                           product=Product.MIS, pricetype=PriceType.MARKET, strategy="Race")
    outcomes: list = []

    def place() -> None:
        try:
            outcomes.append(services.place_smart_order(user=user, request=request, position_size=Decimal(100)))
        finally:
            connection.close()

    with held_by_another_process(symbol_key(user.pk, "NSE", "SBIN", "MIS")):
        waiter = threading.Thread(target=place)
        waiter.start()
        waiter.join(1.5)
        assert waiter.is_alive() and not outcomes
        assert Order.objects.count() == 0 and SandboxOrder.objects.count() == 0
    waiter.join(30)
    assert not waiter.is_alive()
    assert [o.placed is not None for o in outcomes] == [True]
    assert SandboxOrder.objects.count() == 1 and Order.objects.count() == 1


@pytest.mark.django_db
def test_mysql_lock_names_fit_the_servers_64_characters_and_name_the_database(settings):
    from core.dblocks import MYSQL_LOCK_NAME_MAX, mysql_lock_name

    short, long_key = "user:7", "7:NFO:" + "BANKNIFTY" * 8 + ":NRML"
    assert mysql_lock_name(short) == f"{connection.settings_dict['NAME']}:user:7"
    assert len(mysql_lock_name(long_key)) <= MYSQL_LOCK_NAME_MAX
    assert mysql_lock_name(long_key) != mysql_lock_name(long_key + "X")
    assert mysql_lock_name(long_key) == mysql_lock_name(long_key)
