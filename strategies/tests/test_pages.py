"""The strategy pages: list, create, edit, enable/disable, the test button, the alert
log and P&L; the signed-in user's own strategies only, bad input answered with 400."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditEvent
from orders.models import Order
from strategies.models import Alert, Strategy
from strategies.selectors import pnl
from strategies.tests.test_webhook import run

pytestmark = pytest.mark.django_db

VALID = {"name": "Breakout", "mode": "auto", "direction": "LONG", "kind": "intraday", "start_time": "09:20",
         "end_time": "15:00", "squareoff_time": "15:10", "enabled": "on", "secret": "",
         "symbol_map": "sbin,NSE,10,MIS\nRELIANCE,NSE,5"}


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_the_list_shows_own_strategies_with_a_copyable_webhook_url(signed_in, make_strategy, make_user):
    mine = make_strategy()
    make_strategy(name="Theirs", owner=make_user("other"))
    page = signed_in.get("/strategies/").content.decode()
    assert "Trend" in page and "Theirs" not in page
    assert f"http://testserver/strategy/webhook/{mine.webhook_id}" in page
    assert f'data-copy="#url-{mine.pk}"' in page


def test_the_pages_need_a_signed_in_user(client, strategy):
    assert client.get("/strategies/").status_code == 302
    assert client.get(f"/strategies/{strategy.pk}/").status_code == 302
    assert client.post(f"/strategies/{strategy.pk}/toggle/").status_code == 302


def test_creating_a_strategy_saves_its_symbol_map_and_audits_it(signed_in, user):
    response = signed_in.post("/strategies/new/", VALID)
    strategy = Strategy.objects.get(owner=user)
    assert response.status_code == 302 and response.url == f"/strategies/{strategy.pk}/"
    assert [(m.symbol, m.exchange, m.quantity, m.product) for m in strategy.symbols.all()] == [
        ("RELIANCE", "NSE", 5, "MIS"), ("SBIN", "NSE", 10, "MIS")]
    assert str(strategy.squareoff_time) == "15:10:00"
    assert AuditEvent.objects.filter(action="strategy_created", subject="Breakout").exists()


@pytest.mark.parametrize(("change", "message"), [
    ({"symbol_map": "SBIN,NSE"}, "Line 1: write SYMBOL,EXCHANGE,QUANTITY,PRODUCT"),
    ({"symbol_map": "SBIN,NASDAQ,1,MIS"}, "Line 1: exchange must be one of"),
    ({"symbol_map": "SBIN,NSE,-1,MIS"}, "Line 1: quantity must be a positive number."),
    ({"symbol_map": "SBIN,NSE,1.5,MIS"}, "Line 1: quantity must be a whole number on NSE."),
    ({"symbol_map": "SBIN,NSE,1,MIS\nSBIN,NSE,2,MIS"}, "Line 2: SBIN is mapped twice."),
    ({"symbol_map": "SBIN,NSE,1,XYZ"}, "Line 1: product must be one of"),
    ({"symbol_map": ""}, "This field is required."),
    ({"end_time": "09:00"}, "Entries must end after they start."),
    ({"squareoff_time": "14:00"}, "Square-off must come at or after the end of entries."),
    ({"direction": "SIDEWAYS"}, "Select a valid choice."),
    ({"start_time": "25:99"}, "Enter a valid time."),
    ({"name": "  "}, "This field is required."),
])
def test_bad_input_is_answered_400_with_the_form_and_its_message(signed_in, user, change, message):
    response = signed_in.post("/strategies/new/", {**VALID, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Strategy.objects.filter(owner=user).exists()


def test_a_name_is_unique_per_owner(signed_in, make_strategy):
    make_strategy(name="Breakout")
    response = signed_in.post("/strategies/new/", VALID)
    assert response.status_code == 400 and "You already have a strategy with this name." in response.content.decode()


def test_editing_replaces_the_symbol_map(signed_in, strategy):
    page = signed_in.get(f"/strategies/{strategy.pk}/edit/").content.decode()
    assert "RELIANCE,NSE,5,MIS" in page
    response = signed_in.post(f"/strategies/{strategy.pk}/edit/", {**VALID, "name": "Trend",
                                                                   "symbol_map": "INFY,NSE,2,CNC"})
    assert response.status_code == 302
    assert [(m.symbol, m.product) for m in strategy.symbols.all()] == [("INFY", "CNC")]


def test_another_users_strategy_is_404_everywhere(signed_in, make_strategy, make_user):
    theirs = make_strategy(name="Theirs", owner=make_user("other"))
    for path in ("/", "/edit/"):
        assert signed_in.get(f"/strategies/{theirs.pk}{path}").status_code == 404
    for action in ("toggle", "test", "delete"):
        assert signed_in.post(f"/strategies/{theirs.pk}/{action}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.enabled and not theirs.alerts.exists()


def test_enable_disable_is_post_only_and_csrf_protected(user, strategy):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(f"/strategies/{strategy.pk}/toggle/").status_code == 405
    assert client.post(f"/strategies/{strategy.pk}/toggle/").status_code == 403
    strategy.refresh_from_db()
    assert strategy.enabled


def test_disabling_refuses_alerts_and_enabling_takes_them_again(signed_in, strategy, hook, clock, queued):
    signed_in.post(f"/strategies/{strategy.pk}/toggle/")
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY"}) == (400, {"error": "Strategy is inactive"})
    signed_in.post(f"/strategies/{strategy.pk}/toggle/", {"next": "list"})
    assert hook(strategy, {"symbol": "SBIN", "action": "BUY"})[0] == 200
    assert AuditEvent.objects.filter(action="strategy_disabled").exists()


def test_the_test_button_sends_a_sample_alert_through_the_webhook_path(signed_in, strategy, market, clock, queued,
                                                                       user):
    response = signed_in.post(f"/strategies/{strategy.pk}/test/", follow=True)
    assert "Test alert accepted: Order queued successfully for RELIANCE." in response.content.decode()
    [alert] = Alert.objects.all()
    assert alert.source == Alert.Source.TEST and alert.body == {"symbol": "RELIANCE", "action": "BUY"}
    run(queued)
    assert Order.objects.get().strategy == "Trend"


def test_the_test_button_reports_a_refusal(signed_in, strategy, clock, queued):
    clock.set(7, 0)
    response = signed_in.post(f"/strategies/{strategy.pk}/test/", follow=True)
    assert "Test alert refused: Entry orders are allowed only between 09:15 and 15:00 IST." in \
        response.content.decode()
    assert queued == []


def test_the_detail_page_shows_the_alert_log_and_the_pnl(signed_in, strategy, hook, market, clock, queued):
    hook(strategy, {"symbol": "SBIN", "action": "BUY"})
    run(queued)
    market.set("NSE:SBIN", "810")
    hook(strategy, {"symbol": "SBIN", "action": "SELL"})
    run(queued)
    clock.set(7, 0)
    hook(strategy, {"symbol": "SBIN", "action": "BUY", "position_size": "1"})
    page = signed_in.get(f"/strategies/{strategy.pk}/").content.decode()
    orderids = [o.broker_order_id for o in Order.objects.order_by("pk")]
    assert all(orderid in page for orderid in orderids)
    assert page.count('data-state="executed"') == 2 and page.count('data-state="refused"') == 1
    assert "Entry orders are allowed only between 09:15 and 15:00 IST" in page
    # Bought 10 at the ask (800.05), sold 10 at the bid (809.95).
    assert '<div class="stat-value num pnl-up" data-testid="realised-pnl">99.00</div>' in page


def test_pnl_counts_only_this_strategys_fills(strategy, make_strategy, hook, market, clock, queued):
    other = make_strategy(name="Other")
    hook(other, {"symbol": "SBIN", "action": "BUY"})
    run(queued)
    assert pnl(strategy).orders == 0 and pnl(other).orders == 1
    assert pnl(other).rows[0].open_quantity == 10


def test_deleting_a_strategy(signed_in, strategy):
    response = signed_in.post(f"/strategies/{strategy.pk}/delete/")
    assert response.status_code == 302 and not Strategy.objects.exists()


def test_the_admin_lists_strategies_and_alerts(client, make_user, make_strategy):
    admin = make_user("admin", is_staff=True, is_superuser=True)
    strategy = make_strategy(owner=admin)
    client.force_login(admin)
    for path in ("/admin/strategies/strategy/", f"/admin/strategies/strategy/{strategy.pk}/change/",
                 "/admin/strategies/alert/"):
        assert client.get(path).status_code == 200, path
