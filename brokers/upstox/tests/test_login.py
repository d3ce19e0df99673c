"""Logging in at Upstox: the authorization dialog URL, the form-encoded code exchange, the
03:30 IST expiry, logout, and the dashboard's OAuth flow end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts.brokers import active_broker_name
from accounts.models import BrokerCredential
from accounts.services import store_broker_app_credentials
from brokers import registry
from brokers.base import BrokerAuthExpired, BrokerCredentials, BrokerRejected, BrokerUnavailable, LoginKind
from brokers.upstox.login import UpstoxLogin
from brokers.upstox.testing import API_KEY, API_SECRET, CODE, TOKEN, credentials
from core.values import IST

CALLBACK = "http://127.0.0.1:5000/upstox/callback"


def _at(hour: int, minute: int = 0, day: int = 27) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=IST)


def test_the_registered_login_is_oauth():
    login = registry.login_for("upstox")
    assert isinstance(login, UpstoxLogin) and login.kind is LoginKind.OAUTH


def test_the_authorize_url_is_upstox_dialog_with_our_client_id_callback_and_state():
    url = urlsplit(UpstoxLogin().authorize_url(credentials(), "st4te"))
    assert (url.scheme, url.netloc, url.path) == ("https", "api.upstox.com", "/v2/login/authorization/dialog")
    assert parse_qs(url.query) == {"response_type": ["code"], "client_id": [API_KEY], "redirect_uri": [CALLBACK],
                                   "state": ["st4te"]}


def test_a_deployment_sets_the_registered_redirect_uri(settings):
    settings.UPSTOX_REDIRECT_URI = "https://algo.example.com/upstox/callback"
    url = UpstoxLogin().authorize_url(credentials(), "s")
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == ["https://algo.example.com/upstox/callback"]


def test_no_api_key_is_refused_before_the_redirect():
    with pytest.raises(BrokerRejected, match="API key"):
        UpstoxLogin().authorize_url(BrokerCredentials(broker="upstox"), "s")


def test_the_code_is_exchanged_form_encoded_and_the_token_lasts_until_0330(upstox_exchange):
    login = UpstoxLogin(clock=lambda: _at(10).astimezone(UTC))
    session = login.complete(credentials(access_token=""), {"code": CODE, "state": "s"})
    (request,) = upstox_exchange.requests
    assert (request.method, request.url.host, request.url.path) == ("POST", "api.upstox.com",
                                                                    "/v2/login/authorization/token")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Accept"] == "application/json" and "Authorization" not in request.headers
    assert parse_qs(request.content.decode()) == {"code": [CODE], "client_id": [API_KEY],
                                                  "client_secret": [API_SECRET], "redirect_uri": [CALLBACK],
                                                  "grant_type": ["authorization_code"]}
    assert session.access_token == TOKEN and session.client_id == "UX1234"
    assert session.expires_at == _at(3, 30, day=28)


@pytest.mark.parametrize(("logged_in", "expires"), [(_at(10), _at(3, 30, 28)), (_at(23, 59), _at(3, 30, 28)),
                                                    (_at(2), _at(3, 30, 27)), (_at(3, 30), _at(3, 30, 28))])
def test_the_token_ends_at_the_next_0330_ist(logged_in, expires):
    assert UpstoxLogin.expiry.after(logged_in.astimezone(UTC)) == expires


def test_a_code_works_once_and_a_refusal_is_the_broker_text(upstox_exchange):
    login = UpstoxLogin()
    login.complete(credentials(), {"code": CODE})
    with pytest.raises(BrokerRejected, match=r"^Invalid Auth code$"):
        login.complete(credentials(), {"code": CODE})
    with pytest.raises(BrokerRejected, match=r"^Invalid Credentials$"):
        UpstoxLogin().complete(credentials(api_secret="wrong"), {"code": "other"})


def test_a_callback_without_a_code_carries_the_dialog_error():
    with pytest.raises(BrokerRejected, match="access_denied"):
        UpstoxLogin().complete(credentials(), {"error": "access_denied"})


def test_an_unreachable_upstox_is_a_clear_unavailable(upstox_exchange):
    upstox_exchange.fail_next("disconnect")
    with pytest.raises(BrokerUnavailable, match="Upstox unreachable"):
        UpstoxLogin().complete(credentials(), {"code": CODE})


def test_logout_deletes_the_token_at_upstox(upstox_exchange):
    UpstoxLogin().logout(credentials())
    (request,) = upstox_exchange.requests
    assert (request.method, request.url.path, request.headers["Authorization"]) == ("DELETE", "/v2/logout",
                                                                                   f"Bearer {TOKEN}")
    with pytest.raises(BrokerAuthExpired):
        UpstoxLogin().logout(credentials())


# --- Through the dashboard ------------------------------------------------------------------------

@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    store_broker_app_credentials(user=user, broker="upstox", api_key=API_KEY, api_secret=API_SECRET)
    return client


def test_the_dashboard_sends_the_trader_to_upstox_and_the_callback_stores_the_token(signed_in, user,
                                                                                   upstox_exchange):
    response = signed_in.get("/broker/upstox/login/")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.netloc == "api.upstox.com" and target.path == "/v2/login/authorization/dialog"
    state = parse_qs(target.query)["state"][0]
    back = signed_in.get("/upstox/callback", {"code": CODE, "state": state})
    assert back.status_code == 302
    credential = BrokerCredential.objects.get(user=user, broker="upstox")
    assert credential.reveal("access_token") == TOKEN and credential.client_id == "UX1234"
    assert active_broker_name(user) == "upstox"


def test_without_internet_the_trader_reads_a_clear_message(signed_in, user, upstox_exchange):
    state = parse_qs(urlsplit(signed_in.get("/broker/upstox/login/")["Location"]).query)["state"][0]
    upstox_exchange.fail_next("disconnect")
    page = signed_in.get("/upstox/callback", {"code": CODE, "state": state}, follow=True)
    assert "upstox refused the login: Upstox unreachable (ConnectError): check" in page.content.decode()
    assert active_broker_name(user) == "sandbox"


def test_the_redirect_uri_is_the_login_pages_callback_unless_a_deployment_pins_it(settings):
    from urllib.parse import parse_qs, urlsplit

    from brokers.base import BrokerCredentials
    from brokers.upstox.login import UpstoxLogin

    credentials = BrokerCredentials(broker="upstox", api_key="app-key", api_secret="s",
                                    redirect_uri="https://algo.example.in/upstox/callback")
    settings.UPSTOX_REDIRECT_URI = ""
    query = parse_qs(urlsplit(UpstoxLogin().authorize_url(credentials, "st")).query)
    assert query["redirect_uri"] == ["https://algo.example.in/upstox/callback"]
    settings.UPSTOX_REDIRECT_URI = "https://pinned.example.in/upstox/callback"
    query = parse_qs(urlsplit(UpstoxLogin().authorize_url(credentials, "st")).query)
    assert query["redirect_uri"] == ["https://pinned.example.in/upstox/callback"]
