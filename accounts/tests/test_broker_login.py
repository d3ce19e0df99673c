"""Logging in at a live broker from the dashboard, by the broker's login kind: OAuth
(FakeLive, served by respx), a TOTP form and a pasted token; tokens stored encrypted and
ending no later than the daily expiry; logout; and what the API does once they end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from accounts.brokers import active_broker_name, forget_live_broker
from accounts.models import BrokerCredential
from accounts.services import next_session_expiry, store_broker_app_credentials
from brokers import registry
from brokers.base import BrokerCredentials, BrokerRejected, BrokerSession, LoginKind
from brokers.fakelive import testing as fakelive
from brokers.login import SessionExpiry
from core.values import IST


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def fakelive_app(user):
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)


def _start_oauth(client) -> str:
    response = client.get("/broker/fakelive/login/")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.netloc == "fakelive.invalid" and url.path == "/connect/login"
    query = parse_qs(url.query)
    assert query["api_key"] == [fakelive.API_KEY]
    return query["state"][0]


def test_an_oauth_login_stores_the_token_encrypted_and_routes_the_user_to_the_broker(
        signed_in, user, fakelive_app, fake_exchange):
    state = _start_oauth(signed_in)
    response = signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": state})
    assert response.status_code == 302 and response["Location"] == "/"
    credential = BrokerCredential.objects.get(user=user, broker="fakelive")
    assert credential.reveal("access_token") == fakelive.TOKEN and credential.client_id == "FL01"
    assert fakelive.TOKEN not in credential.access_token_encrypted
    assert active_broker_name(user) == "fakelive"


def test_the_brokers_next_morning_expiry_is_capped_by_the_daily_0300_expiry(signed_in, user, fakelive_app,
                                                                             fake_exchange):
    state = _start_oauth(signed_in)
    signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": state})
    expires = BrokerCredential.objects.get(user=user, broker="fakelive").token_expires_at
    assert expires == next_session_expiry()
    assert expires.astimezone(IST).hour == 3


def test_a_callback_this_session_did_not_start_is_refused_and_nothing_is_stored(signed_in, user, fakelive_app,
                                                                               fake_exchange):
    _start_oauth(signed_in)
    response = signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": "forged"})
    assert response.status_code == 400
    assert fake_exchange.calls == []
    assert active_broker_name(user) == "sandbox"


def test_a_code_the_broker_refuses_shows_its_reason_and_stores_nothing(signed_in, user, fakelive_app, fake_exchange):
    state = _start_oauth(signed_in)
    response = signed_in.get("/fakelive/callback", {"code": "stale", "state": state}, follow=True)
    assert "Invalid or expired request code." in response.content.decode()
    assert not BrokerCredential.objects.get(user=user, broker="fakelive").has_secret("access_token")


def test_broker_login_pages_need_a_signed_in_user(client):
    assert client.get("/broker/fakelive/login/")["Location"].startswith("/login/")


def test_an_unknown_broker_has_no_login_page(signed_in):
    assert signed_in.get("/broker/nosuch/login/").status_code == 404
    assert signed_in.get("/sandbox/callback").status_code == 404


class FormLogin:
    """A TOTP or token broker as its package would provide it, recording what it was sent."""

    expiry = SessionExpiry(hours=8)

    def __init__(self, kind: LoginKind) -> None:
        self.kind = kind
        self.completed: list[dict] = []

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        raise AssertionError("a form login never redirects")

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        self.completed.append(dict(params))
        if params.get("password") == "wrong":
            raise BrokerRejected("Invalid password. 2 attempts left.")
        return BrokerSession(access_token="form-token", expires_at=self.expiry.after(datetime.now(UTC)))

    def logout(self, credentials: BrokerCredentials) -> None:
        pass


@pytest.fixture
def form_broker(monkeypatch):
    def install(kind: LoginKind) -> FormLogin:
        login = FormLogin(kind)
        monkeypatch.setattr(registry, "_logins", {**registry._logins, "formbroker": login})
        return login

    return install


def test_a_totp_broker_gets_the_password_and_code_from_a_csrf_protected_form(user, form_broker):
    login = form_broker(LoginKind.TOTP)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get("/broker/formbroker/login/")
    assert page.status_code == 200 and 'name="totp"' in page.content.decode()
    assert browser.post("/broker/formbroker/login/", {"password": "pw", "totp": "123456"}).status_code == 403
    token = page.context["csrf_token"]
    response = browser.post("/broker/formbroker/login/",
                            {"password": "pw", "totp": "123456", "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert login.completed == [{"password": "pw", "totp": "123456"}]
    expires = BrokerCredential.objects.get(user=user, broker="formbroker").token_expires_at
    assert expires <= timezone.now() + timedelta(hours=8)


def test_a_refused_totp_login_shows_the_brokers_text_on_the_form(signed_in, user, form_broker):
    form_broker(LoginKind.TOTP)
    response = signed_in.post("/broker/formbroker/login/", {"password": "wrong", "totp": "123456"})
    assert response.status_code == 400 and "Invalid password. 2 attempts left." in response.content.decode()
    assert not BrokerCredential.objects.filter(user=user, broker="formbroker").exists()


def test_a_token_broker_takes_the_pasted_token(signed_in, user, form_broker):
    login = form_broker(LoginKind.TOKEN)
    assert signed_in.post("/broker/formbroker/login/", {"access_token": " pasted "}).status_code == 302
    assert login.completed == [{"access_token": "pasted"}]
    assert BrokerCredential.objects.get(user=user, broker="formbroker").reveal("access_token") == "form-token"


def test_logout_ends_the_session_at_the_broker_and_here(signed_in, user, fakelive_app, fake_exchange):
    state = _start_oauth(signed_in)
    signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": state})
    assert signed_in.post("/broker/fakelive/logout/").status_code == 302
    assert "DELETE /session/token" in fake_exchange.calls
    assert fakelive.TOKEN not in fake_exchange.tokens
    assert active_broker_name(user) == "sandbox"


def test_once_the_session_expires_the_api_answers_without_calling_the_broker(
        signed_in, user, fakelive_app, fake_exchange, api_call, market):
    state = _start_oauth(signed_in)
    signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": state})
    BrokerCredential.objects.filter(user=user).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    fake_exchange.calls.clear()
    forget_live_broker()
    status, body = api_call("ping")
    assert (status, body["data"]["broker"]) == (200, "sandbox")
    assert fake_exchange.calls == []


def test_a_token_the_broker_revoked_answers_403_with_a_log_in_again_message(
        signed_in, user, fakelive_app, fakelive_market, api_call):
    state = _start_oauth(signed_in)
    signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": state})
    fakelive_market.expire_tokens()
    status, body = api_call("funds")
    assert status == 403 and body == {"status": "error",
                                      "message": "Broker session expired, please log in to the broker again"}


def test_the_dashboard_offers_the_login_of_every_installed_live_broker(signed_in):
    page = signed_in.get("/").content.decode()
    assert 'href="/broker/fakelive/login/"' in page and 'href="/broker/sandbox/login/"' not in page
