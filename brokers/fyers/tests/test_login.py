"""Logging in at Fyers: the generate-authcode URL, the validate-authcode exchange with its
appIdHash, the session's expiry, and what the trader sees when Fyers is unreachable."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from accounts.brokers import active_broker_name
from accounts.models import BrokerCredential
from accounts.services import store_broker_app_credentials
from brokers import registry
from brokers.base import BrokerRejected, BrokerUnavailable, LoginKind
from brokers.fyers import client as fyers_client
from brokers.fyers.login import FyersLogin, app_id_hash, jwt_claims
from brokers.fyers.testing import APP_ID, APP_SECRET, AUTH_CODE, TOKEN, credentials, jwt
from core.values import IST

LOGGED_IN = datetime(2026, 11, 30, 9, 0, tzinfo=IST)


def login() -> FyersLogin:
    return FyersLogin(clock=lambda: LOGGED_IN)


def test_fyers_logs_in_by_oauth_and_is_registered_with_its_login():
    assert registry.login_for("fyers").kind == LoginKind.OAUTH
    assert registry.capabilities_of("fyers").login == LoginKind.OAUTH


def test_the_authorize_url_is_fyers_generate_authcode_with_app_id_redirect_code_and_state(settings):
    settings.FYERS_REDIRECT_URI = "https://algo.example.in/fyers/callback"
    url = login().authorize_url(credentials(), state="st4te")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "api-t1.fyers.in", "/api/v3/generate-authcode")
    assert parse_qs(parts.query) == {"client_id": [APP_ID], "redirect_uri": ["https://algo.example.in/fyers/callback"],
                                     "response_type": ["code"], "state": ["st4te"]}


def test_the_default_redirect_is_this_deployments_callback(settings):
    settings.FYERS_REDIRECT_URI = ""
    settings.HOST, settings.PORT = "127.0.0.1", 5000
    query = parse_qs(urlsplit(login().authorize_url(credentials(), state="s")).query)
    assert query["redirect_uri"] == ["http://127.0.0.1:5000/fyers/callback"]


def test_no_app_id_no_redirect():
    with pytest.raises(BrokerRejected):
        login().authorize_url(credentials(api_key=""), state="s")


def test_app_id_hash_is_sha256_of_app_id_colon_secret():
    assert app_id_hash("ABC-100", "s3cret") == hashlib.sha256(b"ABC-100:s3cret").hexdigest()
    assert app_id_hash("ABC-100", "s3cret") == "f9626845d3fab4c20b994b1b406de7ff6d7ea2a66c4fe115be9f0773ec0cd2bd"


def test_the_auth_code_is_exchanged_at_validate_authcode_for_the_token(fyers_exchange):
    session = login().complete(credentials(access_token=""), {"auth_code": AUTH_CODE, "state": "st4te", "s": "ok"})
    request = next(r for r in fyers_exchange.requests if r.url.path == "/api/v3/validate-authcode")
    assert request.method == "POST" and "Authorization" not in request.headers
    assert json.loads(request.content) == {
        "grant_type": "authorization_code", "code": AUTH_CODE,
        "appIdHash": hashlib.sha256(f"{APP_ID}:{APP_SECRET}".encode()).hexdigest()}
    assert session.access_token == TOKEN and session.client_id == "XX0001"


def test_the_session_ends_at_0300_ist_next_morning_or_at_the_tokens_exp_if_earlier(fyers_exchange):
    session = login().complete(credentials(), {"auth_code": AUTH_CODE})
    assert session.expires_at == datetime(2026, 12, 1, 3, 0, tzinfo=IST)
    after_midnight = FyersLogin(clock=lambda: datetime(2026, 12, 1, 1, 30, tzinfo=IST))
    assert after_midnight.complete(credentials(), {"auth_code": AUTH_CODE}).expires_at == datetime(
        2026, 12, 1, 3, 0, tzinfo=IST)
    early = int(datetime(2026, 11, 30, 23, 59, tzinfo=IST).timestamp())
    assert login().expires_at(jwt(exp=early)) == datetime.fromtimestamp(early, UTC)


def test_a_refused_code_passes_fyers_text_and_no_code_is_refused_here(fyers_exchange):
    with pytest.raises(BrokerRejected) as caught:
        login().complete(credentials(), {"auth_code": "stale"})
    assert caught.value.message == "Invalid auth code"
    with pytest.raises(BrokerRejected):
        login().complete(credentials(), {"s": "error", "message": "User cancelled"})
    assert [r.url.path for r in fyers_exchange.requests] == ["/api/v3/validate-authcode"]


def test_an_unreachable_fyers_is_a_clear_unavailable_message():
    fyers_client.close()
    with respx.mock() as router:
        router.post(url__regex=r".*/api/v3/validate-authcode").mock(side_effect=httpx.ConnectError("no route"))
        with pytest.raises(BrokerUnavailable) as caught:
            login().complete(credentials(), {"auth_code": AUTH_CODE})
    assert caught.value.message.startswith("Fyers unreachable (ConnectError): check")


def test_logout_revokes_the_token_at_fyers(fyers_exchange):
    login().logout(credentials())
    request = next(r for r in fyers_exchange.requests if r.url.path == "/api/v3/logout")
    assert request.method == "POST" and request.headers["Authorization"] == f"{APP_ID}:{TOKEN}"
    assert TOKEN not in fyers_exchange.tokens


def test_the_token_claims_are_read_without_the_app_id_prefix():
    assert jwt_claims(f"{APP_ID}:{TOKEN}")["fy_id"] == "XX0001"
    assert jwt_claims("not-a-jwt") == {}


# --- Through the dashboard's generic login pages -------------------------------------------------

@pytest.fixture
def fyers_app(client, user):
    store_broker_app_credentials(user=user, broker="fyers", api_key=APP_ID, api_secret=APP_SECRET)
    client.force_login(user)
    return client


def test_a_trader_reaches_fyers_login_page_and_the_callback_opens_the_session(fyers_app, user, fyers_exchange):
    response = fyers_app.get("/broker/fyers/login/")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert (url.netloc, url.path) == ("api-t1.fyers.in", "/api/v3/generate-authcode")
    state = parse_qs(url.query)["state"][0]
    response = fyers_app.get("/fyers/callback", {"s": "ok", "code": "200", "auth_code": AUTH_CODE, "state": state})
    assert response.status_code == 302
    credential = BrokerCredential.objects.get(user=user, broker="fyers")
    assert credential.reveal("access_token") == TOKEN and credential.client_id == "XX0001"
    assert active_broker_name(user) == "fyers"


def test_an_unreachable_fyers_shows_the_trader_a_clear_message(fyers_app, user):
    response = fyers_app.get("/broker/fyers/login/")
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    fyers_client.close()
    with respx.mock() as router:
        router.post(url__regex=r".*/api/v3/validate-authcode").mock(side_effect=httpx.ConnectError("no route"))
        response = fyers_app.get("/fyers/callback", {"auth_code": AUTH_CODE, "state": state}, follow=True)
    assert "Fyers unreachable" in response.content.decode()
    assert not BrokerCredential.objects.get(user=user, broker="fyers").reveal("access_token")


def test_the_redirect_uri_is_the_login_pages_callback_unless_a_deployment_pins_it(settings):
    from dataclasses import replace as changed

    from brokers.base import BrokerCredentials
    from brokers.fyers.login import FyersLogin

    credentials = BrokerCredentials(broker="fyers", api_key="ABCD1234-100", api_secret="s",
                                    redirect_uri="https://algo.example.in/fyers/callback")
    settings.FYERS_REDIRECT_URI = ""
    query = parse_qs(urlsplit(FyersLogin().authorize_url(credentials, "st")).query)
    assert query["redirect_uri"] == ["https://algo.example.in/fyers/callback"] and query["state"] == ["st"]
    settings.FYERS_REDIRECT_URI = "https://pinned.example.in/fyers/callback"
    query = parse_qs(urlsplit(FyersLogin().authorize_url(changed(credentials), "st")).query)
    assert query["redirect_uri"] == ["https://pinned.example.in/fyers/callback"]
