"""POST /chartink/webhook/<id> (the action from the scan name) and the daily square-off
of intraday strategies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from core.values import IST
from orders.models import Order
from orders.services import OrderPath, submit_order_request
from strategies import services, tasks
from strategies.models import Alert, Strategy
from strategies.tests.test_webhook import net, run

pytestmark = pytest.mark.django_db


def scan(stocks: str, name: str) -> dict:
    return {"stocks": stocks, "trigger_prices": "800.5,1500.1", "triggered_at": "10:30 am", "scan_name": name,
            "scan_url": "short-term-breakouts", "alert_name": "Alert for " + name}


def test_a_buy_scan_enters_every_mapped_stock(hook, strategy, market, clock, queued, user):
    status, body = hook(strategy, scan("SBIN,RELIANCE", "Breakout BUY"), chartink=True)
    assert (status, body) == (200, {"status": "success", "message": "Orders queued successfully for SBIN, RELIANCE"})
    run(queued)
    assert (net(user, "SBIN"), net(user, "RELIANCE")) == (10, 5)
    assert Order.objects.filter(strategy="Trend").count() == 2


def test_a_sell_scan_exits_the_long_positions(hook, strategy, market, clock, queued, user):
    hook(strategy, scan("SBIN", "momentum buy"), chartink=True)
    hook(strategy, scan("SBIN", "momentum sell"), chartink=True)
    [_entry, exit_] = run(queued)
    assert exit_.orders[0]["path"] == "placesmartorder" and exit_.orders[0]["data"]["position_size"] == "0"
    assert net(user) == 0


def test_short_and_cover_scans_in_a_short_strategy(hook, make_strategy, market, clock, queued, user):
    strategy = make_strategy(direction=Strategy.Direction.SHORT, symbols=[("SBIN", "NSE", 2, "MIS")])
    hook(strategy, scan("SBIN", "Short sell setup"), chartink=True)  # SHORT wins over SELL
    run(queued)
    assert net(user) == -2
    hook(strategy, scan("SBIN", "COVER shorts"), chartink=True)
    run(queued)
    assert net(user) == 0


def test_unmapped_stocks_are_named_and_skipped(hook, strategy, clock, queued):
    status, body = hook(strategy, scan("SBIN,TCS", "BUY"), chartink=True)
    assert (status, body) == (200, {"status": "success",
                                    "message": "Orders queued successfully for SBIN (no mapping found for TCS)"})
    assert len(Alert.objects.get().orders) == 1


@pytest.mark.parametrize(("body", "status", "error"), [
    (scan("TCS,INFY", "BUY"), 400, "No mapping found for symbol TCS, INFY"),
    (scan("SBIN", "Breakouts"), 400, "No action in scan_name: name the scan with BUY, SELL, SHORT or COVER"),
    (scan("SBIN", "SHORT setups"), 400, "SHORT alerts are not allowed in a LONG strategy"),
    ({"scan_name": "BUY"}, 400, "Missing required fields: stocks"),
    ("stocks=SBIN&scan_name=BUY", 400, None),
])
def test_chartink_refusals_carry_a_status_key(hook, strategy, clock, queued, body, status, error):
    answer = hook(strategy, body, chartink=True, content_type="application/x-www-form-urlencoded")
    assert answer[0] == status and answer[1]["status"] == "error"
    if error:
        assert answer[1]["error"] == error
    assert queued == [] and Alert.objects.get().state == Alert.State.REFUSED


def test_chartink_unknown_id_and_inactive(hook, make_strategy, clock):
    assert hook("0" * 32, scan("SBIN", "BUY"), chartink=True) == (404, {"status": "error",
                                                                         "error": "Invalid webhook ID"})
    strategy = make_strategy(enabled=False)
    assert hook(strategy, scan("SBIN", "BUY"), chartink=True) == (400, {"status": "error",
                                                                        "error": "Strategy is inactive"})


def test_a_chartink_entry_outside_the_window_is_refused(hook, strategy, clock, queued):
    clock.set(9, 0)
    assert hook(strategy, scan("SBIN", "BUY"), chartink=True) == (
        400, {"status": "error", "error": "Entry orders are allowed only between 09:15 and 15:00 IST"})


# --- Square-off ----------------------------------------------------------------------------------


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 11, 30, hour, minute, tzinfo=IST)


def test_square_off_closes_only_the_strategys_symbols_once_a_day(hook, make_strategy, market, clock, queued, user):
    strategy = make_strategy(symbols=[("SBIN", "NSE", 10, "MIS")])
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    run(queued)
    # A position the strategy does not trade stays open.
    outcome = submit_order_request(user=user, path=OrderPath.PLACE, data={
        "strategy": "Manual", "symbol": "RELIANCE", "exchange": "NSE", "action": "BUY", "quantity": Decimal(3),
        "product": "MIS", "pricetype": "MARKET", "price": Decimal(0), "trigger_price": Decimal(0),
        "disclosed_quantity": 0})
    assert outcome.succeeded
    assert services.square_off_due(at(15, 14)) == []
    assert net(user, "SBIN") == 10
    assert services.square_off_due(at(15, 16)) == [strategy.pk]
    assert (net(user, "SBIN"), net(user, "RELIANCE")) == (0, 3)
    log = Alert.objects.filter(strategy=strategy).latest("pk")
    assert log.reason == "Square-off at 15:15 IST" and len(log.order_ids) == 1
    assert Order.objects.get(broker_order_id=log.order_ids[0]).strategy == "Trend"
    assert services.square_off_due(at(15, 30)) == []  # once a day
    assert Order.objects.filter(strategy="Trend").count() == 2


def test_square_off_skips_positional_and_disabled_strategies(make_strategy, market, user):
    make_strategy(name="Swing", kind=Strategy.Kind.POSITIONAL)
    make_strategy(name="Off", enabled=False)
    assert services.square_off_due(at(15, 20)) == []


def test_square_off_of_a_semi_auto_strategy_is_not_held_for_approval(hook, make_strategy, market, clock, queued,
                                                                      user):
    strategy = make_strategy(symbols=[("SBIN", "NSE", 10, "MIS")])
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    run(queued)
    Strategy.objects.filter(pk=strategy.pk).update(mode=Strategy.Mode.SEMI_AUTO)
    type(user).objects.filter(pk=user.pk).update(order_mode="semi_auto")
    services.square_off_due(at(15, 16))
    assert net(user) == 0


def test_the_beat_task_squares_off_with_the_strategies_clock(make_strategy, market, monkeypatch, user):
    strategy = make_strategy()
    monkeypatch.setattr(services, "now", lambda: at(15, 16))
    assert tasks.square_off() == [strategy.pk]
    strategy.refresh_from_db()
    assert strategy.squared_off_on == at(15, 16).date()
    assert tasks.square_off() == []


def test_a_square_off_with_nothing_open_leaves_no_line_in_the_log(make_strategy, market, user):
    strategy = make_strategy()
    assert services.square_off_due(at(15, 20)) == [strategy.pk]
    assert not Alert.objects.exists()
