"""Logging in at Dhan with a pasted access token, checked before it is accepted."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from brokers import registry
from brokers.base import BrokerRejected, BrokerUnavailable, CapabilityMissing, LoginKind
from core.values import IST

from ..login import DhanLogin, token_validity
from ..testing import CLIENT_ID, TOKEN, credentials

NOW = datetime(2026, 11, 29, 4, 0, tzinfo=UTC)  # 09:30 IST


def _jwt(**claims) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJIUzUxMiJ9.{payload}.signature"


@pytest.fixture
def login():
    return DhanLogin(clock=lambda: NOW)


def test_dhan_is_registered_as_a_token_login_whose_tokens_last_24_hours():
    login = registry.login_for("dhan")
    assert login.kind is LoginKind.TOKEN
    assert login.expiry.after(NOW) == NOW + timedelta(hours=24)


def test_there_is_no_redirect_to_authorize(login):
    with pytest.raises(CapabilityMissing, match=r"web\.dhan\.co"):
        login.authorize_url(credentials(), "state")


def test_a_pasted_token_is_checked_with_the_profile_call_before_it_is_accepted(login, dhan_exchange, settings):
    dhan_exchange.answer("GET /profile", 200, {"dhanClientId": CLIENT_ID, "tokenValidity": "30/11/2026 08:15"})
    session = login.complete(credentials(access_token=""), {"access_token": f"  {TOKEN} "})
    [request] = dhan_exchange.requests
    assert (request.method, request.url.path) == ("GET", "/v2/profile")
    assert request.headers["access-token"] == TOKEN and request.headers["client-id"] == CLIENT_ID
    assert session.access_token == TOKEN and session.client_id == CLIENT_ID
    assert session.expires_at == datetime(2026, 11, 30, 8, 15, tzinfo=IST)  # Dhan's own word, under 24 h


def test_the_session_never_outlives_24_hours(login, dhan_exchange):
    dhan_exchange.answer("GET /profile", 200, {"dhanClientId": CLIENT_ID, "tokenValidity": "30/03/2027 15:37"})
    assert login.complete(credentials(), {"access_token": TOKEN}).expires_at == NOW + timedelta(hours=24)


def test_without_token_validity_the_jwt_expiry_is_used(login, dhan_exchange):
    token = _jwt(dhanClientId=CLIENT_ID, exp=int((NOW + timedelta(hours=20)).timestamp()))
    dhan_exchange.tokens.add(token)
    dhan_exchange.answer("GET /profile", 200, {"dhanClientId": CLIENT_ID})
    session = login.complete(credentials(client_id=""), {"access_token": token})
    assert session.expires_at == NOW + timedelta(hours=20) and session.client_id == CLIENT_ID


def test_a_refused_token_is_a_clear_rejection(login, dhan_exchange):
    with pytest.raises(BrokerRejected, match="did not accept this access token"):
        login.complete(credentials(), {"access_token": "not-a-token"})


def test_the_session_is_of_the_account_the_token_belongs_to(login, dhan_exchange):
    token = _jwt(dhanClientId="1999999999", exp=int((NOW + timedelta(hours=20)).timestamp()))
    dhan_exchange.answer("GET /profile", 200, {"dhanClientId": "1999999999", "tokenValidity": "30/11/2026 08:15"})
    session = login.complete(credentials(), {"access_token": token})  # a client id stored from an earlier login
    assert dhan_exchange.requests[-1].headers["client-id"] == "1999999999"
    assert session.client_id == "1999999999"


def test_an_expired_token_is_refused(login, dhan_exchange):
    dhan_exchange.answer("GET /profile", 200, {"dhanClientId": CLIENT_ID, "tokenValidity": "28/11/2026 09:00"})
    with pytest.raises(BrokerRejected, match="already expired"):
        login.complete(credentials(), {"access_token": TOKEN})


def test_an_empty_form_or_an_unreachable_dhan_is_a_clear_message(login, dhan_exchange):
    with pytest.raises(BrokerRejected, match="Paste the access token"):
        login.complete(credentials(), {"access_token": ""})
    dhan_exchange.fail_next("disconnect")
    with pytest.raises(BrokerUnavailable, match="Dhan unreachable"):
        login.complete(credentials(), {"access_token": TOKEN})


def test_token_validity_layouts():
    assert token_validity("30/03/2025 15:37") == datetime(2025, 3, 30, 15, 37, tzinfo=IST)
    assert token_validity("2025-09-23T12:37:23") == datetime(2025, 9, 23, 12, 37, 23, tzinfo=IST)
    assert token_validity("soon") is None


def test_the_accounts_token_form_path_stores_the_session_encrypted_until_the_earlier_expiry(user, dhan_exchange):
    from accounts.broker_login import log_in_at_broker
    from accounts.brokers import broker_credentials

    now = datetime.now(UTC)
    dhan_exchange.answer("GET /profile", 200, {"dhanClientId": CLIENT_ID})
    credential = log_in_at_broker(user=user, broker="dhan", params={"access_token": TOKEN}, now=now)
    assert credential.client_id == CLIENT_ID
    assert credential.token_expires_at <= now + timedelta(hours=24)  # Dhan's 24 h or the platform's 03:00 IST
    assert TOKEN not in credential.access_token_encrypted
    assert broker_credentials(user, "dhan").access_token == TOKEN


def test_an_unreachable_dhan_gives_the_trader_a_clear_message_at_login(user, dhan_exchange):
    from accounts.broker_login import log_in_at_broker

    dhan_exchange.fail_next("timeout")
    with pytest.raises(BrokerUnavailable, match="Dhan did not answer GET /profile in time"):
        log_in_at_broker(user=user, broker="dhan", params={"access_token": TOKEN})
