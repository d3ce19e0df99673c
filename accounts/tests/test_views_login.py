"""Login, logout, throttling, CSRF and the dashboard behind them."""

from __future__ import annotations

import re
import types
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from accounts.services import next_session_expiry, store_broker_session

PASSWORD = "correct-horse-battery-9"
LIMITED = "Too many login attempts. Please wait a minute and try again."
INVALID = "Invalid username or password."


@pytest.fixture(autouse=True)
def _steady_rate_limit_clock(monkeypatch):
    """django-ratelimit counts in fixed windows; pin its clock so no test straddles a window edge."""
    import django_ratelimit.core

    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: 1_800_000_000.0))


def login(client, username="trader", password=PASSWORD, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_the_login_page_shows_a_form_once_a_user_exists(client, user):
    response = client.get("/login/")
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode() and 'name="password"' in response.content.decode()


def test_the_right_password_signs_in_until_the_next_3_am_ist(client, user):
    response = login(client)
    assert (response.status_code, response.url) == (302, "/")
    expected = next_session_expiry()
    assert expected.astimezone(ZoneInfo("Asia/Kolkata")).time() == time(3, 0)
    session = client.session
    assert session["_auth_user_id"] == str(user.pk)
    assert session.get_expiry_date() == expected
    assert Session.objects.get(session_key=session.session_key).expire_date == expected
    assert client.get("/").status_code == 200


def test_a_wrong_password_says_only_that_username_or_password_is_invalid(client, user):
    response = login(client, password="wrong-password")
    assert response.status_code == 200
    assert INVALID in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_unknown_username_gets_the_very_same_message(client, user):
    def errors(response):
        return re.findall(r'<ul class="errorlist[^"]*"[^>]*>.*?</ul>', response.content.decode(), re.S)

    known = errors(login(client, password="wrong-password"))
    unknown = errors(login(client, username="nobody", password="wrong-password"))
    assert known == unknown
    assert len(known) == 1 and INVALID in known[0]


def test_login_follows_a_local_next_url(client, user):
    response = client.post("/login/?next=/account/apikey/", {"username": "trader", "password": PASSWORD})
    assert response.url == "/account/apikey/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/path", "javascript:alert(1)"])
def test_login_ignores_a_next_url_pointing_elsewhere(client, user, target):
    response = client.post("/login/", {"username": "trader", "password": PASSWORD, "next": target})
    assert response.url == "/"


def test_a_signed_in_user_opening_the_login_page_goes_to_the_dashboard(client, user):
    client.force_login(user)
    assert client.get("/login/").url == "/"


def test_the_sixth_attempt_in_a_minute_from_one_ip_gets_429_and_a_clear_message(client, user):
    for attempt in range(5):
        response = login(client, username=f"guess{attempt}", password="nope", REMOTE_ADDR="10.1.1.1")
        assert response.status_code == 200
    response = login(client, username="someone-else", password="nope", REMOTE_ADDR="10.1.1.1")
    assert response.status_code == 429
    assert LIMITED in response.content.decode()
    assert login(client, username="someone-else", password="nope", REMOTE_ADDR="10.1.1.2").status_code == 200


def test_the_limit_counts_per_username_across_ips_and_ignores_case(client, user):
    for attempt, name in enumerate(["trader", "Trader", "TRADER", "trader", "tRaDeR"]):
        assert login(client, username=name, password="nope", REMOTE_ADDR=f"10.2.0.{attempt}").status_code == 200
    response = login(client, username="trader", password="nope", REMOTE_ADDR="10.2.0.99")
    assert response.status_code == 429
    assert LIMITED in response.content.decode()


def test_once_throttled_even_the_right_password_is_refused(client, user):
    for _ in range(5):
        login(client, password="nope")
    response = login(client)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_hourly_login_limit_applies_as_well(client, user, settings):
    settings.LOGIN_RATE_LIMIT_MIN = "100 per minute"
    settings.LOGIN_RATE_LIMIT_HOUR = "3 per hour"
    codes = [login(client, password="nope", REMOTE_ADDR=f"10.3.0.{n}").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]


def test_logout_refuses_a_get_and_keeps_the_session(client, user):
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    assert client.get("/").status_code == 200


def test_logout_by_post_ends_the_session(client, user):
    client.force_login(user)
    response = client.post("/logout/")
    assert (response.status_code, response.url) == (302, "/login/")
    assert client.get("/").url == "/login/?next=/"


def test_a_login_post_without_a_csrf_token_is_refused_with_403(user):
    strict = Client(enforce_csrf_checks=True)
    response = login(strict)
    assert response.status_code == 403
    assert "_auth_user_id" not in strict.session
    assert b"Traceback" not in response.content


def test_a_login_post_with_the_csrf_token_from_the_form_works(user):
    strict = Client(enforce_csrf_checks=True)
    strict.get("/login/")
    token = strict.cookies["csrftoken"].value
    response = strict.post("/login/", {"username": "trader", "password": PASSWORD, "csrfmiddlewaretoken": token})
    assert (response.status_code, response.url) == (302, "/")


def test_a_logout_post_without_a_csrf_token_is_refused_with_403(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/logout/").status_code == 403
    assert strict.get("/").status_code == 200


def test_the_dashboard_needs_a_signed_in_user(client, user):
    response = client.get("/")
    assert (response.status_code, response.url) == (302, "/login/?next=/")


def test_the_dashboard_shows_the_user_the_sandbox_broker_and_the_navigation(client, user):
    client.force_login(user)
    page = client.get("/").content.decode()
    assert "Hello, trader" in page
    assert 'data-testid="broker">sandbox<' in page
    for link in ("/account/apikey/", "/account/security/", "/account/password/", 'action="/logout/"'):
        assert link in page
    assert "/admin/" not in page


def test_the_dashboard_names_the_live_broker_and_shows_staff_the_admin_link(client, make_user):
    staff = make_user("boss", is_staff=True)
    store_broker_session(user=staff, broker="zerodha", access_token="tok")
    client.force_login(staff)
    page = client.get("/").content.decode()
    assert 'data-testid="broker">zerodha<' in page
    assert 'href="/admin/"' in page


def test_an_unknown_page_is_a_plain_404_page(client, user):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_crash_shows_the_error_page_without_a_stack_trace(user, monkeypatch):
    import orders.views

    def explode(user):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(orders.views, "active_broker_name", explode)
    crashing = Client(raise_request_exception=False)
    crashing.force_login(user)
    response = crashing.get("/")
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert b"secret internals" not in response.content and b"Traceback" not in response.content


def _admin_login_request(user, path="/admin/login/?next=/admin/orders/"):
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get(path)
    request.user = user or AnonymousUser()
    request.user.is_verified = lambda: True
    return request


def test_the_admin_login_stand_in_sends_visitors_to_our_login(db):
    from accounts.views import admin_login

    response = admin_login(_admin_login_request(None))
    assert response.url == "/login/?next=/admin/orders/"


def test_the_admin_login_stand_in_lets_signed_in_staff_through(make_user):
    from accounts.views import admin_login

    response = admin_login(_admin_login_request(make_user("boss", is_staff=True)))
    assert response.url == "/admin/orders/"


def test_the_admin_login_stand_in_refuses_signed_in_non_staff(user):
    from django.core.exceptions import PermissionDenied

    from accounts.views import admin_login

    with pytest.raises(PermissionDenied):
        admin_login(_admin_login_request(user))
