"""Security headers on pages, the API (its lean ASGI stack too) and error pages; CSRF
tokens in every POST form of every page; cookie flags; `check --deploy` clean."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from core.tests.asgi import asgi_request

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct-horse-battery-9"


# --- manage.py check --deploy ------------------------------------------------------------------


def production_env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        OPENALGO_ENV_FILE=str(tmp_path / "none.env"), OPENALGO_VAR_DIR=str(tmp_path / "var"),
        DEBUG="false", BEHIND_TLS_PROXY="true", SECURE_COOKIES="true",
        SECRET_KEY=secrets.token_urlsafe(64), API_KEY_PEPPER=secrets.token_hex(32),
        FERNET_KEYS="hB3mM1Y4t3uQyXo6bJ3m7sQb8V7dXcE3c1n0mYkqj4Q=",
        ALLOWED_HOSTS="openalgo.example.com", CSRF_TRUSTED_ORIGINS="https://openalgo.example.com",
    )
    env.update(extra)
    return env


def check_deploy(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_catches_a_debug_production(tmp_path):
    """The check above means something: the same run with DEBUG on and no TLS fails."""
    result = check_deploy(production_env(tmp_path, DEBUG="true", BEHIND_TLS_PROXY="false", SECURE_COOKIES="false"))
    assert result.returncode != 0
    for check in ("security.W018", "security.W004", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr


# --- headers -----------------------------------------------------------------------------------


def assert_page_headers(response, where: str) -> None:
    policy = response.get("Content-Security-Policy", "")
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives.get("default-src") == "'self'", (where, policy)
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, (where, policy)
    assert directives.get("frame-ancestors") == "'none'" and directives.get("object-src") == "'none'", where
    assert re.fullmatch(r"'self'( 'nonce-[A-Za-z0-9+/=]+')?", directives.get("script-src", "")), (where, policy)
    assert response["X-Frame-Options"] == "DENY", where
    assert response["X-Content-Type-Options"] == "nosniff", where
    assert response["Referrer-Policy"] == "same-origin", where
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", where


def test_pages_carry_the_security_headers(client, user):
    assert_page_headers(client.get("/login/"), "login")
    client.force_login(user)
    for path in ("/", "/account/apikey/", "/account/security/", "/risk/"):
        response = client.get(path)
        assert response.status_code == 200
        assert_page_headers(response, path)


def test_error_pages_carry_the_security_headers(client, user, settings, monkeypatch):
    settings.DEBUG = False
    assert_page_headers(client.get("/no/such/page/"), "404")
    csrf_client = Client(enforce_csrf_checks=True)
    response = csrf_client.post("/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert_page_headers(response, "403 csrf")

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("accounts.views.active_api_key", explode)
    client.force_login(user)
    client.raise_request_exception = False
    response = client.get("/account/apikey/")
    assert response.status_code == 500
    assert_page_headers(response, "500")


def test_api_answers_carry_the_headers_through_the_full_stack(client, api_key):
    response = client.post("/api/v1/ping", data=json.dumps({"apikey": api_key}), content_type="application/json")
    assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in response


def test_hsts_only_over_tls(settings, user):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    plain, tls = Client(), Client()
    assert "Strict-Transport-Security" not in plain.get("/login/")
    assert tls.get("/login/", secure=True)["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


# --- the lean /api/ ASGI stack (openalgo/threads.py) --------------------------------------------


@pytest.fixture
def api_app(settings):
    def build(**overrides):
        for name, value in overrides.items():
            setattr(settings, name, value)
        from django.core.asgi import get_asgi_application

        from openalgo.threads import PathDispatch, api_application

        return PathDispatch(api=api_application(), site=get_asgi_application())

    return build


@pytest.mark.django_db(transaction=True)
def test_the_api_stack_sends_the_locked_down_api_policy(api_app, make_user):
    from accounts.services import create_api_key

    key = create_api_key(user=make_user())
    app = api_app()
    status, headers, content = asgi_request(app, "POST", "/api/v1/ping", json.dumps({"apikey": key}).encode())
    assert status == 200 and json.loads(content)["status"] == "success", content
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert (headers["x-content-type-options"], headers["x-frame-options"]) == ("nosniff", "DENY")
    assert headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers
    status, headers, _ = asgi_request(app, "POST", "/api/v1/nothing-here", b"{}")
    assert status == 404 and headers["x-content-type-options"] == "nosniff"
    assert headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.django_db(transaction=True)
def test_strategy_webhooks_are_served_by_the_lean_api_stack(api_app, make_user):
    """TradingView and ChartInk carry no cookie and need no CSRF: their webhooks skip the
    site's session, CSRF, auth and messages middleware, and get the API's headers."""
    from openalgo.threads import LEAN_PREFIXES, PathDispatch
    from strategies.models import Strategy

    strategy = Strategy.objects.create(owner=make_user(), name="Lean", kind="positional")
    strategy.symbols.create(symbol="SBIN", exchange="NSE", quantity=1, product="MIS")
    seen = []

    async def recorder(name, scope, receive, send):
        seen.append((name, scope["path"]))

    dispatch = PathDispatch(api=lambda *a: recorder("api", *a), site=lambda *a: recorder("site", *a))
    for path in (f"/strategy/webhook/{strategy.webhook_id}", f"/chartink/webhook/{strategy.webhook_id}/",
                 "/api/v1/ping", "/strategies/", "/"):
        async_to_sync(dispatch)({"type": "http", "path": path}, None, None)
    assert [name for name, _ in seen] == ["api", "api", "api", "site", "site"]
    assert "/strategy/webhook/" in LEAN_PREFIXES

    status, headers, content = asgi_request(api_app(), "POST", f"/strategy/webhook/{strategy.webhook_id}",
                                            json.dumps({"symbol": "SBIN", "action": "BUY"}).encode())
    assert (status, content) == (200, b'{"message":"Order queued successfully for SBIN"}')
    assert headers["content-security-policy"].startswith("default-src 'none'")
    assert headers["x-content-type-options"] == "nosniff" and "set-cookie" not in headers
    assert strategy.alerts.get().state == "received"


@pytest.mark.django_db(transaction=True)
def test_the_api_stack_sends_hsts_only_over_tls(api_app):
    app = api_app(SECURE_HSTS_SECONDS=600, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
    _, plain, _ = asgi_request(app, "POST", "/api/v1/ping", b"{}")
    _, tls, _ = asgi_request(app, "POST", "/api/v1/ping", b"{}", scheme="https")
    assert "strict-transport-security" not in plain
    assert tls["strict-transport-security"] == "max-age=600; includeSubDomains"


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_on_the_api_stack_gets_the_page_policy_with_its_nonce(api_app):
    status, headers, content = asgi_request(api_app(), "GET", "/api/docs/")
    assert status == 200
    policy = headers["content-security-policy"]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    html = content.decode()
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html) + re.findall(r"<style([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attributes for attributes in inline), inline
    assert "'unsafe-inline'" not in policy and "img-src 'self' data:" in policy
    # The next request gets a different nonce.
    _, again, _ = asgi_request(api_app(), "GET", "/api/docs/")
    assert nonce not in again["content-security-policy"]


# --- CSRF in every form of every page -----------------------------------------------------------

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
LINK = re.compile(r"""href=["']([^"'#]+)""")


def crawl(client, starts: list[str], limit: int = 250) -> dict[str, str]:
    """GET every same-site page reachable from ``starts`` (query strings dropped, the
    admin's delete and history pages included); returns path -> HTML."""
    pages, queue = {}, list(starts)
    while queue and len(pages) < limit:
        path = urlsplit(queue.pop(0)).path
        if path in pages or path.startswith(("/static/", "/api/v1/")) or "logout" in path:
            continue
        response = client.get(path)
        pages[path] = response.content.decode() if response.status_code == 200 else ""
        if response.status_code in (301, 302):
            queue.append(response.url)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        for href in LINK.findall(pages[path]):
            target = urljoin(path, href)
            if urlsplit(target).netloc in ("", "testserver"):
                queue.append(target)
    return {path: html for path, html in pages.items() if html}


def assert_every_post_form_has_a_token(pages: dict[str, str]) -> int:
    forms = 0
    for path, html in pages.items():
        for attributes, inner in FORM.findall(html):
            if re.search(r"""method=["']?post""", attributes, re.I):
                forms += 1
                assert 'name="csrfmiddlewaretoken"' in inner, (path, attributes)
    return forms


def test_every_post_form_an_anonymous_user_can_reach_has_a_csrf_token(client, db):
    pages = crawl(client, ["/", "/setup/", "/login/"])  # a fresh install: setup
    assert "/setup/" in pages and assert_every_post_form_has_a_token(pages) >= 1
    from accounts.models import User

    User.objects.create_user("someone", password=PASSWORD)
    pages = crawl(Client(), ["/", "/login/", "/admin/", "/api/docs/"])
    assert "/login/" in pages and assert_every_post_form_has_a_token(pages) >= 1


def test_every_post_form_a_signed_in_user_can_reach_has_a_csrf_token(client, make_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    trader = make_user(username="trader2")
    client.force_login(trader)
    pages = crawl(client, ["/"])
    assert {"/", "/account/apikey/", "/account/security/", "/risk/"} <= set(pages)
    forms = assert_every_post_form_has_a_token(pages)
    # The security page's other states: enrolment under way, then two-factor on.
    client.post("/account/security/totp/begin/")
    assert_every_post_form_has_a_token({"/account/security/": client.get("/account/security/").content.decode()})
    TOTPDevice.objects.filter(user=trader).update(confirmed=True)
    assert_every_post_form_has_a_token({"/account/security/": client.get("/account/security/").content.decode()})
    assert forms >= 5


def test_every_post_form_of_the_admin_has_a_csrf_token(admin_client, make_user):
    from accounts.services import create_api_key, store_broker_session

    other = make_user(username="someone")
    create_api_key(user=other)
    store_broker_session(user=other, broker="sandbox", access_token="tok-abcdef-123")
    pages = crawl(admin_client, ["/admin/"], limit=120)
    assert any(path.startswith("/admin/accounts/apikey/") for path in pages)
    assert assert_every_post_form_has_a_token(pages) >= 5


def test_the_two_factor_step_of_login_has_a_csrf_token(client, make_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    trader = make_user(username="trader3")
    TOTPDevice.objects.create(user=trader, name="phone", confirmed=True)
    response = client.post("/login/", {"username": "trader3", "password": PASSWORD}, follow=True)
    assert assert_every_post_form_has_a_token({"verify": response.content.decode()}) == 1


# --- cookies ------------------------------------------------------------------------------------


def test_session_and_csrf_cookies_are_httponly_and_samesite(client, user):
    response = client.get("/login/")
    csrf = response.cookies["csrftoken"]
    assert csrf["samesite"] == "Lax"
    response = client.post("/login/", {"username": user.username, "password": PASSWORD,
                                        "csrfmiddlewaretoken": csrf.value})
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["httponly"] is True and session["samesite"] == "Lax"
    assert not session["secure"]  # SECURE_COOKIES off: the default for a local install


def test_cookies_are_secure_when_configured(settings, user):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    client = Client()
    csrf = client.get("/login/", secure=True).cookies["csrftoken"]
    assert csrf["secure"] is True
    response = client.post("/login/", {"username": user.username, "password": PASSWORD,
                                        "csrfmiddlewaretoken": csrf.value}, secure=True)
    session = response.cookies["sessionid"]
    assert session["secure"] is True and session["httponly"] is True and session["samesite"] == "Lax"


def test_secure_cookies_setting_drives_both_cookie_flags(tmp_path):
    code = ("from django.conf import settings as s; "
            "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, "
            "s.SECURE_HSTS_SECONDS > 0, s.SECURE_PROXY_SSL_HEADER)")
    env = production_env(tmp_path, DJANGO_SETTINGS_MODULE="openalgo.settings")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    expected = ["True", "True", "True", "True", "True", "('HTTP_X_FORWARDED_PROTO',", "'https')"]
    assert result.stdout.split() == expected, result.stdout + result.stderr


def test_health_checks_are_not_redirected_to_https(settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics"]
    client = Client()
    assert client.get("/health/live").status_code == 200
    assert client.get("/login/").status_code == 301
