"""Logging in at Zerodha: Kite's real login URL (state echoed through redirect_params), the
request-token exchange with its SHA-256 checksum, the 06:00 IST expiry, logout, and the
whole flow through the dashboard's OAuth pages."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
import respx

from accounts.brokers import active_broker_name
from accounts.models import BrokerCredential
from accounts.services import store_broker_app_credentials
from brokers.base import BrokerRejected, BrokerUnavailable, LoginKind
from core.values import IST

from .. import client
from ..login import ZerodhaLogin, checksum
from ..testing import ACCESS_TOKEN, API_KEY, API_SECRET, REQUEST_TOKEN, credentials

AT_NOON_IST = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)


def test_the_checksum_is_sha256_of_key_token_and_secret_concatenated():
    assert checksum("key", "tok", "sec") == hashlib.sha256(b"keytoksec").hexdigest()


def test_the_authorize_url_is_kites_login_page_and_carries_state_in_redirect_params():
    url = urlsplit(ZerodhaLogin().authorize_url(credentials(), "s-123"))
    assert (url.scheme, url.netloc, url.path) == ("https", "kite.zerodha.com", "/connect/login")
    query = parse_qs(url.query)
    assert query == {"v": ["3"], "api_key": [API_KEY], "redirect_params": ["state=s-123"]}


def test_an_app_without_an_api_key_cannot_start_a_login():
    with pytest.raises(BrokerRejected):
        ZerodhaLogin().authorize_url(credentials(api_key=""), "s")


def test_the_request_token_is_exchanged_with_its_checksum_and_the_session_ends_at_0600_ist(fake_kite):
    login = ZerodhaLogin(clock=lambda: AT_NOON_IST)
    session = login.complete(credentials(access_token=""), {"request_token": REQUEST_TOKEN, "status": "success",
                                                            "action": "login", "state": "x"})
    sent = fake_kite.last("POST", "/session/token")
    assert sent.headers["X-Kite-Version"] == "3" and "Authorization" not in sent.headers
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected = hashlib.sha256(f"{API_KEY}{REQUEST_TOKEN}{API_SECRET}".encode()).hexdigest()
    assert dict(parse_qsl(sent.content.decode())) == {"api_key": API_KEY, "request_token": REQUEST_TOKEN,
                                                      "checksum": expected}
    assert (session.access_token, session.client_id) == (ACCESS_TOKEN, "XX0000")
    assert session.expires_at == datetime(2026, 11, 28, 6, 0, tzinfo=IST)
    assert login.kind is LoginKind.OAUTH


def test_a_session_ends_at_the_next_0600_ist_after_the_login():
    expiry = ZerodhaLogin().expiry
    assert expiry.after(datetime(2026, 11, 27, 9, 0, tzinfo=IST)) == datetime(2026, 11, 28, 6, 0, tzinfo=IST)
    assert expiry.after(datetime(2026, 11, 27, 23, 59, tzinfo=IST)) == datetime(2026, 11, 28, 6, 0, tzinfo=IST)
    # Before the daily flush, the token dies at that morning's 06:00, not a day later.
    assert expiry.after(datetime(2026, 11, 27, 5, 0, tzinfo=IST)) == datetime(2026, 11, 27, 6, 0, tzinfo=IST)


def test_a_refused_request_token_shows_kites_reason_verbatim(fake_kite):
    with pytest.raises(BrokerRejected) as caught:
        ZerodhaLogin().complete(credentials(), {"request_token": "used-already", "status": "success"})
    assert caught.value.message == "Token is invalid or has expired."


def test_a_cancelled_login_or_a_missing_token_never_calls_kite(fake_kite):
    for params in ({"status": "cancelled", "request_token": REQUEST_TOKEN}, {"status": "success"}):
        with pytest.raises(BrokerRejected):
            ZerodhaLogin().complete(credentials(), params)
    assert fake_kite.calls == []


def test_without_internet_the_trader_gets_a_clear_unavailable_message():
    client.close()
    with respx.mock(base_url=client.DEFAULT_BASE_URL) as router:
        router.post("/session/token").mock(side_effect=httpx.ConnectError("Name or service not known"))
        with pytest.raises(BrokerUnavailable) as caught:
            ZerodhaLogin().complete(credentials(), {"request_token": REQUEST_TOKEN})
    client.close()
    assert caught.value.message.startswith("Zerodha unreachable (ConnectError): check")


def test_logout_deletes_the_session_with_its_parameters_in_the_query(fake_kite):
    ZerodhaLogin().logout(credentials())
    sent = fake_kite.last("DELETE", "/session/token")
    assert dict(sent.url.params) == {"api_key": API_KEY, "access_token": ACCESS_TOKEN}
    assert ACCESS_TOKEN not in fake_kite.tokens


# --- Through the dashboard's OAuth pages -------------------------------------------------------

@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    store_broker_app_credentials(user=user, broker="zerodha", api_key=API_KEY, api_secret=API_SECRET)
    return client


def test_a_trader_reaches_kites_login_page_and_the_callback_stores_the_session(signed_in, user, fake_kite):
    response = signed_in.get("/broker/zerodha/login/")
    assert response.status_code == 302
    url = urlsplit(response["Location"])
    assert url.netloc == "kite.zerodha.com"
    # Kite redirects back with request_token, and our redirect_params decoded into the query.
    echoed = dict(parse_qsl(parse_qs(url.query)["redirect_params"][0]))
    callback = signed_in.get("/zerodha/callback", {"action": "login", "type": "login", "status": "success",
                                                   "request_token": REQUEST_TOKEN, **echoed})
    assert callback.status_code == 302
    credential = BrokerCredential.objects.get(user=user, broker="zerodha")
    assert credential.reveal("access_token") == ACCESS_TOKEN and credential.client_id == "XX0000"
    assert active_broker_name(user) == "zerodha"
