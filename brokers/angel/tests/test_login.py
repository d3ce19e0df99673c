"""Logging in at Angel One: client code, PIN and TOTP to loginByPassword; the day's tokens back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from accounts import services as account_services
from accounts.broker_login import log_in_at_broker
from accounts.brokers import broker_credentials
from brokers import registry
from brokers.base import BrokerRejected, BrokerUnavailable, CapabilityMissing, LoginKind
from core.values import IST

from .. import testing
from ..client import PATHS
from ..login import AngelLogin

NOON_IST = datetime(2026, 11, 27, 12, 0, tzinfo=IST)
FORM = {"password": testing.PIN, "totp": testing.TOTP}


@pytest.fixture
def login():
    return AngelLogin(clock=lambda: NOON_IST.astimezone(UTC))


def test_angel_registers_a_totp_login():
    assert registry.login_for("angel").kind == LoginKind.TOTP
    assert registry.capabilities_of("angel").login == LoginKind.TOTP


def test_the_login_posts_client_code_pin_and_totp_with_the_documented_headers(login, angel_exchange):
    session = login.complete(testing.credentials(access_token="", feed_token=""), FORM)
    (request,) = angel_exchange.requests
    assert (request.method, request.url.path) == ("POST", PATHS["login"])
    assert request.url.host == "apiconnect.angelone.in"
    assert json.loads(request.content) == {"clientcode": testing.CLIENT_CODE, "password": testing.PIN,
                                           "totp": testing.TOTP}
    headers = request.headers
    assert "Authorization" not in headers
    assert (headers["X-PrivateKey"], headers["X-UserType"], headers["X-SourceID"]) == (testing.API_KEY, "USER", "WEB")
    for name in ("X-ClientLocalIP", "X-ClientPublicIP", "X-MACAddress"):
        assert headers[name]
    assert (session.access_token, session.feed_token, session.client_id) == (testing.JWT, testing.FEED_TOKEN,
                                                                             testing.CLIENT_CODE)


def test_the_session_ends_at_midnight_ist(login, angel_exchange):
    session = login.complete(testing.credentials(access_token=""), FORM)
    assert session.expires_at == datetime(2026, 11, 28, 0, 0, tzinfo=IST)
    late = AngelLogin(clock=lambda: datetime(2026, 11, 27, 23, 59, tzinfo=IST))
    assert late.complete(testing.credentials(access_token=""), FORM).expires_at == datetime(2026, 11, 28, tzinfo=IST)


def test_the_client_code_may_come_with_the_form(login, angel_exchange):
    login.complete(testing.credentials(client_id="", access_token=""), {**FORM, "client_id": "a123456"})
    assert json.loads(angel_exchange.requests[0].content)["clientcode"] == testing.CLIENT_CODE


def test_a_wrong_totp_is_refused_with_angels_message(login, angel_exchange):
    with pytest.raises(BrokerRejected, match=r"^Invalid totp$"):
        login.complete(testing.credentials(access_token=""), {**FORM, "totp": "000000"})


def test_missing_fields_are_refused_before_calling_angel(login, angel_exchange):
    with pytest.raises(BrokerRejected, match="client code"):
        login.complete(testing.credentials(client_id="", access_token=""), FORM)
    with pytest.raises(BrokerRejected, match="PIN"):
        login.complete(testing.credentials(access_token=""), {"password": "", "totp": testing.TOTP})
    assert angel_exchange.calls == []


def test_a_bearer_prefixed_token_is_stored_bare(login, angel_exchange):
    answer = testing.fixture("login_response.json")
    answer["data"]["jwtToken"] = f"Bearer {testing.JWT}"
    angel_exchange.answer_next("login", httpx.Response(200, json=answer))
    assert login.complete(testing.credentials(access_token=""), FORM).access_token == testing.JWT


def test_an_unreachable_angel_is_a_clear_unavailable_message(login):
    with pytest.raises(BrokerUnavailable, match="Angel One unreachable"):
        login.complete(testing.credentials(access_token=""), FORM)  # no route, no internet: respx off


def test_there_is_no_redirect_login(login):
    with pytest.raises(CapabilityMissing):
        login.authorize_url(testing.credentials(), "state")


def test_logout_posts_the_client_code_with_the_session(login, angel_exchange):
    login.logout(testing.credentials())
    (request,) = angel_exchange.requests
    assert request.url.path == PATHS["logout"] and json.loads(request.content) == {"clientcode": testing.CLIENT_CODE}
    assert request.headers["Authorization"] == f"Bearer {testing.JWT}"
    assert angel_exchange.tokens == set()


def test_the_accounts_login_stores_the_session_capped_by_the_platforms_expiry(user, angel_exchange):
    account_services.store_broker_app_credentials(user=user, broker="angel", api_key=testing.API_KEY, api_secret="")
    after_midnight = datetime(2026, 11, 27, 1, 0, tzinfo=IST)
    credential = log_in_at_broker(user=user, broker="angel", params={**FORM, "client_id": testing.CLIENT_CODE},
                                  now=after_midnight)
    assert credential.client_id == testing.CLIENT_CODE
    stored = broker_credentials(user, "angel")
    assert stored.access_token == testing.JWT and stored.feed_token == testing.FEED_TOKEN
    assert credential.token_expires_at == datetime(2026, 11, 27, 3, 0, tzinfo=IST)  # 03:00 comes first
