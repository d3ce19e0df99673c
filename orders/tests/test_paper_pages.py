"""The Sandbox, Analyzer log and My P&L pages: analyze mode switched and announced to every
tab, paper settings checked and used by the engine, funds reset for real, the analyzer log
filtered and never showing a key, and only the signed-in user's own data."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import AuditEvent, User
from brokers.sandbox.models import Account, SandboxOrder, SandboxPosition, SandboxSettings, SandboxTrade
from core import uievents
from orders.models import AnalyzerLog

BUY_SBIN = {"strategy": "Page", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "10",
            "pricetype": "MARKET", "product": "MIS"}
SETTINGS = {"starting_capital": "10000000", "leverage_equity_mis": "5", "leverage_equity_cnc": "1",
            "leverage_futures": "10", "leverage_options": "1", "square_off_equity": "15:15",
            "square_off_currency": "16:45", "square_off_commodity": "23:30"}


@pytest.fixture
def signed_in(client, user, market):
    client.force_login(user)
    return client


@pytest.fixture
def published(monkeypatch):
    """Browser events as they would leave for the user's tabs: (user id, event, data)."""
    sent: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(uievents, "publish", lambda user_id, event, data=None: sent.append((user_id, event, data)))
    return sent


def test_the_pages_need_a_signed_in_user(client, user):
    for path in ("/sandbox/", "/analyzer/", "/sandbox/pnl/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url.startswith("/login/"), path
    response = client.post("/sandbox/analyze-mode/", {"analyze_mode": "on"})
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_the_sandbox_page_names_the_toggle_and_the_reset_button(signed_in):
    text = signed_in.get("/sandbox/").content.decode()
    assert 'aria-label="Analyze mode"' in text and 'role="switch"' in text
    assert ">Reset funds</button>" in text and "data-confirm=" in text


def test_the_toggle_switches_analyze_mode_audits_it_and_tells_every_tab(
        signed_in, user, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post("/sandbox/analyze-mode/", {"analyze_mode": "on"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.analyze_mode is True
    assert published == [(user.pk, "app_mode_changed", {"analyze_mode": True})]
    event = AuditEvent.objects.filter(action="analyze_mode").latest("pk")
    assert (event.actor, event.detail) == ("trader", {"on": True})
    # htmx: the fragment comes back and this tab's banner is told at once.
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post("/sandbox/analyze-mode/", {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"oa:app_mode_changed": {"analyze_mode": False}}
    assert 'data-analyze="off"' in response.content.decode()
    user.refresh_from_db()
    assert user.analyze_mode is False
    assert published[-1] == (user.pk, "app_mode_changed", {"analyze_mode": False})


def test_the_api_toggle_announces_the_change_too(api_call, user, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        status, _ = api_call("analyzer/toggle", mode=True)
    assert status == 200
    assert published == [(user.pk, "app_mode_changed", {"analyze_mode": True})]


def test_the_toggle_needs_csrf(user, market):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/sandbox/analyze-mode/", {"analyze_mode": "on"}).status_code == 403
    user.refresh_from_db()
    assert user.analyze_mode is False


def test_settings_are_saved_audited_and_used_by_the_engine(signed_in, user, api_call):
    response = signed_in.post("/sandbox/settings/", {**SETTINGS, "leverage_equity_mis": "2",
                                                     "square_off_equity": "14:30", "starting_capital": "500000"})
    assert response.status_code == 302
    saved = SandboxSettings.objects.get(user=user)
    assert (saved.leverage_equity_mis, saved.square_off_equity) == (Decimal(2), time(14, 30))
    account = Account.objects.get(user=user)
    assert (account.starting_capital, account.cash) == (Decimal(500000), Decimal(500000))
    event = AuditEvent.objects.get(action="sandbox_settings_changed")
    assert event.detail["leverage_equity_mis"] == {"from": "5", "to": "2"}
    user.analyze_mode = True
    user.save()
    status, _ = api_call("placeorder", **BUY_SBIN)
    assert status == 200
    # 10 x 800.05 at 2x leverage blocks 4000.25, not the default 5x's 1600.10.
    assert SandboxPosition.objects.get(user=user).margin == Decimal("4000.2500")
    page = signed_in.get("/sandbox/").content.decode()
    assert 'value="14:30"' in page and 'value="2.00"' in page


@pytest.mark.parametrize("field, value, message", [
    ("leverage_equity_mis", "0", "Ensure this value is greater than or equal to 1"),
    ("leverage_equity_mis", "500", "Ensure this value is less than or equal to 50"),
    ("leverage_options", "abc", "Enter a number."),
    ("leverage_futures", "NaN", "Enter a number."),
    ("square_off_equity", "16:00", "Square-off time must be between 09:15 and 15:30 IST."),
    ("square_off_commodity", "25:99", "Enter a valid time."),
    ("starting_capital", "-5", "Ensure this value is greater than or equal to 10000"),
    ("starting_capital", "1e30", "Ensure this value is less than or equal to 10000000000"),
    ("starting_capital", "", "This field is required."),
])
def test_a_bad_setting_is_refused_with_its_message_and_changes_nothing(signed_in, user, field, value, message):
    response = signed_in.post("/sandbox/settings/", {**SETTINGS, field: value})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not SandboxSettings.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(action="sandbox_settings_changed").exists()


def test_capital_cannot_drop_below_what_is_blocked(signed_in, user, api_call):
    user.analyze_mode = True
    user.save()
    api_call("placeorder", **{**BUY_SBIN, "quantity": "100", "product": "CNC"})  # blocks 80,005
    response = signed_in.post("/sandbox/settings/", {**SETTINGS, "starting_capital": "10000"})
    assert response.status_code == 400
    assert "Capital cannot drop by more than the free cash" in response.content.decode()
    assert Account.objects.get(user=user).starting_capital == Decimal(10000000)


def test_reset_funds_really_resets_and_is_audited(signed_in, user, api_call):
    user.analyze_mode = True
    user.save()
    api_call("placeorder", **BUY_SBIN)
    assert SandboxTrade.objects.filter(user=user).exists()
    response = signed_in.post("/sandbox/reset/", {"confirm": "reset"})
    assert response.status_code == 302
    account = Account.objects.get(user=user)
    assert (account.cash, account.used_margin, account.reset_count) == (Decimal(10000000), 0, 1)
    assert not SandboxOrder.objects.filter(user=user).exists()
    assert not SandboxPosition.objects.filter(user=user).exists()
    assert AuditEvent.objects.filter(action="sandbox_funds_reset", actor="trader").exists()
    assert api_call("funds")[1]["data"]["availablecash"] == "10000000.00"


def test_reset_funds_needs_the_confirmation_and_keeps_working_orders_safe(signed_in, user, api_call):
    user.analyze_mode = True
    user.save()
    api_call("placeorder", **{**BUY_SBIN, "pricetype": "LIMIT", "price": "700"})  # rests
    unconfirmed = signed_in.post("/sandbox/reset/", {})
    assert unconfirmed.status_code == 400 and "Confirm the reset" in unconfirmed.content.decode()
    refused = signed_in.post("/sandbox/reset/", {"confirm": "reset"})
    assert refused.status_code == 400 and "still working: cancel them first" in refused.content.decode()
    assert SandboxOrder.objects.filter(user=user, status="open").count() == 1
    assert not AuditEvent.objects.filter(action="sandbox_funds_reset").exists()


def test_reset_needs_csrf(user, market, api_call):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/sandbox/reset/", {"confirm": "reset"}).status_code == 403
    assert not AuditEvent.objects.filter(action="sandbox_funds_reset").exists()


# --- Analyzer log ----------------------------------------------------------------------------------

@pytest.fixture
def logged(user, api_call, api_key):
    user.analyze_mode = True
    user.save()
    api_call("placeorder", **BUY_SBIN)
    api_call("placeorder", **{**BUY_SBIN, "symbol": "RELIANCE"})
    api_call("placeorder", **{**BUY_SBIN, "symbol": "NOPE"})  # refused: unknown symbol
    api_call("orderbook")
    return api_key


def test_the_analyzer_log_lists_requests_and_answers_newest_first_without_a_key(signed_in, logged):
    response = signed_in.get("/analyzer/")
    assert response.status_code == 200
    text = response.content.decode()
    assert logged not in text
    assert '"apikey"' not in text and "&quot;apikey&quot;" not in text
    rows = response.context["rows"]
    assert [row["api_type"] for row in rows] == ["orderbook", "placeorder", "placeorder", "placeorder"]
    assert [row["symbol"] for row in rows[1:]] == ["NOPE", "RELIANCE", "SBIN"]
    assert rows[1]["status"] == "error" and "NOPE" in rows[1]["message"]
    assert '"symbol": "SBIN"' in rows[3]["request_json"] and '"orderid"' in rows[3]["response_json"]


@pytest.mark.parametrize("query, symbols", [
    ({"symbol": "reliance"}, ["RELIANCE"]),
    ({"status": "error"}, ["NOPE"]),
    ({"api_type": "placeorder", "status": "success"}, ["RELIANCE", "SBIN"]),
    ({"api_type": "orderbook"}, [""]),
])
def test_the_analyzer_log_filters(signed_in, logged, query, symbols):
    response = signed_in.get("/analyzer/", query)
    assert response.status_code == 200
    assert [row["symbol"] for row in response.context["rows"]] == symbols


def test_the_analyzer_log_filters_by_ist_day(signed_in, logged):
    from django.utils import timezone

    from core.values import IST

    today = timezone.now().astimezone(IST).date()
    assert len(signed_in.get("/analyzer/", {"day_from": today, "day_to": today}).context["rows"]) == 4
    assert signed_in.get("/analyzer/", {"day_to": "2020-01-01"}).context["rows"] == []


def test_bad_filters_answer_400_with_a_message(signed_in, logged):
    response = signed_in.get("/analyzer/", {"day_from": "2026-02-30"})
    assert response.status_code == 400 and "Enter a valid date." in response.content.decode()
    response = signed_in.get("/analyzer/", {"day_from": "2026-05-02", "day_to": "2026-05-01"})
    assert response.status_code == 400 and "must not be before" in response.content.decode()
    assert signed_in.get("/analyzer/", {"api_type": "<script>"}).status_code == 400
    assert signed_in.get("/analyzer/", {"page": "nonsense"}).status_code == 200


def test_the_analyzer_log_pages_and_refreshes_itself_live_on_page_one(signed_in, user):
    AnalyzerLog.objects.bulk_create([AnalyzerLog(user=user, endpoint="orderbook", request={"n": n},
                                                 response={"status": "success"}) for n in range(60)])
    first = signed_in.get("/analyzer/")
    assert len(first.context["rows"]) == 50 and "oa:analyzer_update from:document" in first.content.decode()
    second = signed_in.get("/analyzer/", {"page": 2})
    assert len(second.context["rows"]) == 10 and "oa:analyzer_update" not in second.content.decode()
    fragment = signed_in.get("/analyzer/", HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith('<div id="analyzer-table"')


def test_an_analyzed_request_is_announced_after_it_is_stored(api_call, user, market, published,
                                                              django_capture_on_commit_callbacks):
    user.analyze_mode = True
    user.save()
    with django_capture_on_commit_callbacks(execute=True):
        status, body = api_call("placeorder", **BUY_SBIN)
    assert status == 200, body
    ((user_id, _event, data),) = [item for item in published if item[1] == "analyzer_update"]
    assert user_id == user.pk
    assert data["request"]["api_type"] == "placeorder" and data["request"]["symbol"] == "SBIN"
    assert "apikey" not in data["request"] and data["response"]["status"] == "success"


def test_no_secret_is_stored_even_nested(user):
    from orders.analyzer import record_analyzed

    record_analyzed(user=user, endpoint="basketorder", request={"apikey": "k1", "orders": [{"apikey": "k2"}]},
                    response={"status": "success", "apikey": "k3"})
    row = AnalyzerLog.objects.get()
    assert "k1" not in json.dumps(row.request) + json.dumps(row.response)
    assert "k2" not in json.dumps(row.request) and "k3" not in json.dumps(row.response)


def test_each_user_sees_only_their_own_log_and_pnl(signed_in, logged, make_user):
    other = make_user("other")
    client = Client()
    client.force_login(other)
    assert client.get("/analyzer/").context["rows"] == []
    assert client.get("/sandbox/pnl/").context["pnl"].symbols == []
    assert User.objects.get(username="trader").analyzer_logs.count() == 4
