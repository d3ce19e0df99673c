"""A trader's own paper settings: leverage and square-off times the engine uses for that
trader only, ranges checked, capital changed with the books still balancing, and what each
fill realised kept on its trade for the P&L pages."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

import pytest
from django.test import override_settings

from brokers.base import BrokerRejected
from brokers.enums import Action, Product
from brokers.sandbox import clock, config, exchange, pnl, sessions
from brokers.sandbox.models import Account, SandboxHolding, SandboxPosition, SandboxTrade
from brokers.sandbox.tests.test_exchange import order

D = Decimal
MONDAY_1430 = datetime(2026, 11, 23, 14, 30, tzinfo=clock.IST)


def books_balance(user) -> bool:
    account = Account.objects.get(user=user)
    holdings = sum((h.quantity * h.average_price for h in SandboxHolding.objects.filter(user=user)), D(0))
    return account.cash + account.used_margin + holdings == account.starting_capital + account.realized_pnl


def test_without_settings_the_installation_defaults_apply(user):
    paper = config.settings_for(user.pk)
    assert paper.leverage == {"equity_mis": D(5), "equity_cnc": D(1), "futures": D(10), "options": D(1)}
    assert paper.square_off["NSE"] == time(15, 15) and paper.square_off["MCX"] == time(23, 30)


def test_a_traders_leverage_sets_the_margin_of_their_orders_only(user, make_user, market):
    other = make_user("other")
    config.save(user.pk, {**config.defaults().as_dict(), "leverage_equity_mis": D(2)})
    exchange.place_order(user, order(quantity=10))
    exchange.place_order(other, order(quantity=10))
    assert SandboxPosition.objects.get(user=user).margin == D("4000.2500")  # 8000.50 / 2
    assert SandboxPosition.objects.get(user=other).margin == D("1600.1000")  # 8000.50 / 5
    assert books_balance(user) and books_balance(other)


@override_settings(SIM_MARKET_HOURS="exchange")
def test_a_traders_square_off_time_closes_the_mis_window_and_squares_off(user, make_user, market):
    other = make_user("other")
    exchange.place_order(user, order(quantity=10), at=MONDAY_1430.replace(hour=13))
    config.save(user.pk, {"square_off_equity": time(14, 0)})
    with pytest.raises(BrokerRejected, match="not accepted after the square-off time"):
        exchange.place_order(user, order(quantity=10), at=MONDAY_1430)
    exchange.place_order(other, order(quantity=10), at=MONDAY_1430)  # the default 15:15 still applies
    # The user's position was squared off at 14:00, the other's is still open.
    assert SandboxPosition.objects.get(user=user).quantity == 0
    assert SandboxPosition.objects.get(user=other).quantity == 10
    square_off = SandboxTrade.objects.get(user=user, action=Action.SELL)
    assert square_off.created_at == datetime(2026, 11, 23, 14, 0, tzinfo=clock.IST)


@pytest.mark.parametrize("values, field", [
    ({"leverage_equity_mis": D(0)}, "leverage_equity_mis"),
    ({"leverage_options": D(11)}, "leverage_options"),
    ({"leverage_futures": D("NaN")}, "leverage_futures"),
    ({"leverage_futures": D("2.555")}, "leverage_futures"),
    ({"square_off_equity": time(15, 31)}, "square_off_equity"),
    ({"square_off_commodity": time(8, 0)}, "square_off_commodity"),
    ({"square_off_currency": "16:00"}, "square_off_currency"),
])
def test_out_of_range_settings_are_refused_and_nothing_is_stored(user, values, field):
    with pytest.raises(config.InvalidSettings) as refused:
        config.save(user.pk, values)
    assert list(refused.value.errors) == [field]
    assert config.settings_for(user.pk) == config.defaults()


def test_changing_capital_moves_free_cash_and_the_books_still_balance(user, market):
    exchange.place_order(user, order(quantity=100, product=Product.CNC))  # 80,005 blocked
    assert sessions.set_starting_capital(user, D(200000)) == D(10000000)
    account = Account.objects.get(user=user)
    assert (account.starting_capital, account.cash) == (D(200000), D(200000) - D("80005.0000"))
    assert books_balance(user)
    with pytest.raises(config.InvalidSettings, match="free cash"):
        sessions.set_starting_capital(user, D(50000))
    with pytest.raises(config.InvalidSettings, match="between"):
        sessions.set_starting_capital(user, D(1))
    assert Account.objects.get(user=user).starting_capital == D(200000)
    # A reset restores the new capital.
    sessions.reset_account(user)
    assert Account.objects.get(user=user).cash == D(200000)


def test_each_fill_keeps_what_it_realised_including_sales_from_holdings(user, market):
    monday, tuesday = datetime(2026, 11, 23, 12, tzinfo=clock.IST), datetime(2026, 11, 24, 12, tzinfo=clock.IST)
    exchange.place_order(user, order(product=Product.CNC, quantity=10), at=monday)
    market.set("NSE:SBIN", "900")
    exchange.place_order(user, order(action=Action.SELL, product=Product.CNC, quantity=4), at=tuesday)
    realized = list(SandboxTrade.objects.filter(user=user).order_by("pk").values_list("realized_pnl", flat=True))
    assert realized == [D(0), (D("899.95") - D("800.05")) * 4]
    assert sum(realized) == Account.objects.get(user=user).realized_pnl
    days = pnl.daily_pnl(user, at=tuesday)
    assert [(d.session_date.isoformat(), d.realized_pnl, d.trades) for d in days] == [
        ("2026-11-24", D("399.6000"), 1), ("2026-11-23", D(0), 1)]
    (row,) = pnl.symbol_pnl(user, at=tuesday)
    assert (row.symbol, row.product, row.today_realized_pnl, row.realized_pnl) == (
        "SBIN", "CNC", D("399.6"), D("399.6"))


def test_a_reset_with_working_orders_can_be_refused(user, market):
    exchange.place_order(user, order(pricetype="LIMIT", price=700))
    with pytest.raises(sessions.OrdersStillWorking):
        sessions.reset_account(user, keep_working=True)
    assert sessions.working_orders(user) == 1
    sessions.reset_account(user)  # the command line's reset still starts over
    assert sessions.working_orders(user) == 0
