"""The paper exchange across sessions: day orders expire, MIS is squared off, CNC buys
settle T+1, carry-forward positions stay, resets; and its books always balance."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brokers.base import BrokerRejected
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.sandbox import books, clock, exchange, sessions
from brokers.sandbox.models import STARTING_CAPITAL, Account, SandboxHolding, SandboxOrder, SandboxPosition
from brokers.sandbox.tests.test_exchange import order

D = Decimal
MONDAY_NOON = datetime(2026, 11, 23, 12, 0, tzinfo=clock.IST)
TUESDAY_NOON = MONDAY_NOON + timedelta(days=1)


def test_the_session_rolls_at_three_in_the_morning_ist():
    assert clock.session_date(datetime(2026, 11, 24, 2, 59, tzinfo=clock.IST)).isoformat() == "2026-11-23"
    assert clock.session_date(datetime(2026, 11, 24, 3, 0, tzinfo=clock.IST)).isoformat() == "2026-11-24"


def test_a_cnc_buy_becomes_a_holding_the_next_session(user, market):
    exchange.place_order(user, order(product=Product.CNC, quantity=10), at=MONDAY_NOON)
    assert books.holdings(user, MONDAY_NOON) == []
    assert books.positions(user, MONDAY_NOON)[0].quantity == 10
    exchange.sweep(user=user, at=TUESDAY_NOON)
    with pytest.raises(BrokerRejected):  # the roll happens on the next write; force one
        exchange.place_order(user, order(symbol="NOPE"), at=TUESDAY_NOON)
    exchange.place_order(user, order(symbol="RELIANCE", quantity=1), at=TUESDAY_NOON)
    (holding,) = books.holdings(user, TUESDAY_NOON)
    assert (holding.symbol, holding.quantity, holding.average_price) == ("SBIN", 10, D("800.05"))
    assert holding.settlement_date.isoformat() == "2026-11-24"
    account = Account.objects.get(user=user)
    assert account.used_margin == D("1500.05") / 5  # only today's RELIANCE MIS


def test_holdings_can_be_sold_and_realise_their_profit(user, market):
    exchange.place_order(user, order(product=Product.CNC, quantity=10), at=MONDAY_NOON)
    market.set("NSE:SBIN", "900")
    exchange.place_order(user, order(action=Action.SELL, product=Product.CNC, quantity=4), at=TUESDAY_NOON)
    holding = SandboxHolding.objects.get(user=user)
    assert holding.quantity == 6
    account = Account.objects.get(user=user)
    assert account.realized_pnl == (D("899.95") - D("800.05")) * 4
    with pytest.raises(BrokerRejected, match="Cannot sell 7 SBIN"):
        exchange.place_order(user, order(action=Action.SELL, product=Product.CNC, quantity=7), at=TUESDAY_NOON)


def test_open_mis_positions_are_squared_off_when_the_session_rolls(user, market):
    exchange.place_order(user, order(quantity=10), at=MONDAY_NOON)
    exchange.place_order(user, order(symbol="NIFTY29DEC26FUT", exchange_code=Exchange.NFO, quantity=65,
                                     product=Product.NRML), at=MONDAY_NOON)
    exchange.place_order(user, order(pricetype=PriceType.LIMIT, price="700"), at=MONDAY_NOON)
    exchange.sweep(user=user, at=TUESDAY_NOON)
    sessions.square_off_all_due(TUESDAY_NOON)
    squared = SandboxOrder.objects.get(strategy="Squareoff")
    assert (squared.action, squared.quantity, squared.status) == ("SELL", 10, OrderStatus.COMPLETE)
    expired = SandboxOrder.objects.get(pricetype=PriceType.LIMIT)
    assert expired.status == OrderStatus.CANCELLED and "expired" in expired.rejection_reason
    carried = SandboxPosition.objects.exclude(quantity=0).get()
    assert (carried.symbol, carried.quantity) == ("NIFTY29DEC26FUT", 65)
    account = Account.objects.get(user=user)
    assert account.today_realized_pnl == 0 and account.session_date.isoformat() == "2026-11-24"


@override_settings(SIM_MARKET_HOURS="exchange")
def test_under_exchange_hours_mis_squares_off_at_the_cutoff_and_new_mis_is_refused(user, market):
    exchange.place_order(user, order(quantity=10), at=MONDAY_NOON)
    after_cutoff = MONDAY_NOON.replace(hour=15, minute=20)
    with pytest.raises(BrokerRejected, match="MIS orders on NSE are not accepted after the square-off time"):
        exchange.place_order(user, order(symbol="RELIANCE", quantity=1), at=after_cutoff)
    squared = SandboxOrder.objects.get(strategy="Squareoff")
    assert squared.created_at == MONDAY_NOON.replace(hour=15, minute=15)
    # Reducing orders are still allowed after the cut-off: nothing is open now, so CNC it is.
    exchange.place_order(user, order(product=Product.CNC, quantity=1), at=after_cutoff)


def test_a_reset_restores_the_capital_and_clears_the_books(user, market):
    exchange.place_order(user, order(quantity=10))
    account = sessions.reset_account(user)
    assert (account.cash, account.used_margin, account.reset_count) == (STARTING_CAPITAL, 0, 1)
    assert not SandboxOrder.objects.filter(user=user).exists()


def _balanced(user) -> None:
    account = Account.objects.get(user=user)
    held = sum((h.quantity * h.average_price for h in SandboxHolding.objects.filter(user=user)), D(0))
    margins = sum((p.margin for p in SandboxPosition.objects.filter(user=user)), D(0))
    margins += sum((o.blocked_margin for o in SandboxOrder.objects.filter(user=user)), D(0))
    assert abs(account.cash + account.used_margin + held - account.starting_capital - account.realized_pnl) < D("0.01")
    assert abs(account.used_margin - margins) < D("0.01")


steps = st.lists(
    st.tuples(
        st.sampled_from(["SBIN", "RELIANCE"]), st.sampled_from([Action.BUY, Action.SELL]),
        st.integers(1, 50), st.sampled_from([Product.MIS, Product.CNC]),
        st.sampled_from([PriceType.MARKET, PriceType.LIMIT]), st.integers(-40, 40), st.integers(0, 2),
    ),
    min_size=1, max_size=12,
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_the_books_always_balance(make_user, market, steps):
    """cash + margin in use + holdings at cost == capital + realised P&L, after any sequence."""
    user = make_user(username=f"u{abs(hash(str(steps))) % 10**9}")
    at = MONDAY_NOON
    for symbol, action, quantity, product, pricetype, move, days in steps:
        key = f"NSE:{symbol}"
        market.set(key, max(D(100), market.ltp[key] + move))
        at += timedelta(days=days, minutes=1)
        price = market.ltp[key] if pricetype == PriceType.LIMIT else 0
        with contextlib.suppress(BrokerRejected):
            exchange.place_order(user, order(symbol=symbol, action=action, quantity=quantity, product=product,
                                             pricetype=pricetype, price=price), at=at)
        exchange.sweep(user=user, at=at)
        _balanced(user)


def test_the_reset_command(user, market, capsys):
    from django.core.management import CommandError, call_command

    exchange.place_order(user, order(quantity=10))
    call_command("resetsandbox", user.username)
    assert "reset #1" in capsys.readouterr().out
    assert not SandboxOrder.objects.filter(user=user).exists()
    with pytest.raises(CommandError):
        call_command("resetsandbox", "nobody")


@override_settings(SIM_MARKET_HOURS="exchange")
def test_under_exchange_hours_the_price_stands_still_while_the_market_is_closed(db):
    from brokers.sandbox import prices

    holiday_noon = datetime(2026, 11, 24, 12, 0, tzinfo=clock.IST)  # Guru Nanak Jayanti: NSE closed
    previous_close = datetime(2026, 11, 23, 15, 30, tzinfo=clock.IST)
    assert prices.effective_time("NSE", holiday_noon) == previous_close
    open_noon = datetime(2026, 11, 25, 12, 0, tzinfo=clock.IST)
    assert prices.effective_time("NSE", open_noon) == open_noon
    with override_settings(SIM_MARKET_HOURS="always"):
        assert prices.effective_time("NSE", holiday_noon) == holiday_noon


@pytest.mark.django_db(transaction=True)
def test_a_new_users_first_orders_arriving_at_once_open_one_account_without_failing(user):
    import threading

    from django.db import connection, transaction

    from brokers.sandbox.models import Account
    from brokers.sandbox.sessions import locked_account

    start, outcomes = threading.Barrier(6), []

    def first_order() -> None:
        try:
            start.wait(10)
            with transaction.atomic():
                outcomes.append(locked_account(user, clock.now()).pk)
        except Exception as exc:  # e.g. a deadlock between creators
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_order) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Account.objects.filter(user=user).count() == 1
    assert outcomes == [Account.objects.get(user=user).pk] * 6


def test_an_account_already_current_is_checked_without_a_lock(user, market):
    """Every order but a session's first: ensure_current decides on one plain read and opens
    no write transaction; a session later, the roll is due again and is made under the lock."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    exchange.place_order(user, order(quantity=1), at=MONDAY_NOON)
    with CaptureQueriesContext(connection) as current:
        sessions.ensure_current(user, MONDAY_NOON + timedelta(minutes=5))
    assert len(current.captured_queries) == 1 and "FOR UPDATE" not in current.captured_queries[0]["sql"].upper()
    assert sessions.roll_due(user, TUESDAY_NOON)
    with CaptureQueriesContext(connection) as rolled:
        sessions.ensure_current(user, TUESDAY_NOON)
    if connection.features.has_select_for_update:  # the roll's locking read
        assert any("FOR UPDATE" in q["sql"].upper() for q in rolled.captured_queries), rolled.captured_queries
    # (SQLite has no locking read: its lock is the write transaction itself, which the test's
    # own transaction turns into a savepoint; test_sqlite_turns covers its order.)
    assert Account.objects.get(user=user).session_date == clock.session_date(TUESDAY_NOON)
    assert not sessions.roll_due(user, TUESDAY_NOON)


@override_settings(SIM_MARKET_HOURS="exchange")
def test_under_exchange_hours_an_open_mis_position_past_its_cut_off_makes_the_roll_due(user, market):
    exchange.place_order(user, order(quantity=1, product=Product.MIS), at=MONDAY_NOON)
    assert not sessions.roll_due(user, MONDAY_NOON + timedelta(minutes=5))
    assert sessions.roll_due(user, MONDAY_NOON.replace(hour=15, minute=20))  # NSE's MIS cut-off is 15:15
