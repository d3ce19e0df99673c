"""Issue 16's promise for every live broker installed: a user can enter its credentials and
reach its login. OAuth brokers send the browser to the broker's own login page (with our
callback URL); form brokers (TOTP, token) call the broker, and here, with no internet,
the user gets a clear message on the form, never a 500."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
import respx
from django.conf import settings

from brokers import http as broker_http
from brokers import registry
from brokers.base import LoginKind

LIVE = [name for name in settings.LIVE_BROKERS]


@pytest.fixture
def offline():
    """No internet: every broker host refuses the connection."""
    broker_http.close_all()
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=httpx.ConnectError("no route to host"))
        yield router
    broker_http.close_all()


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_every_wave_one_broker_is_installed():
    assert {"zerodha", "angel", "upstox", "dhan", "fyers"} <= set(LIVE) <= set(registry.registered())


@pytest.mark.parametrize("broker", LIVE)
def test_credentials_then_the_brokers_login(signed_in, broker, offline):
    saved = signed_in.post(f"/broker/{broker}/credentials/",
                           {"client_id": "AB1234", "api_key": "app-key-1", "api_secret": "app-secret-1"})
    assert saved.status_code == 302, saved.content.decode()[:500]
    kind = registry.login_for(broker).kind
    if kind is LoginKind.OAUTH:
        response = signed_in.get(f"/broker/{broker}/login/")
        assert response.status_code == 302
        target = urlsplit(response["Location"])
        assert target.scheme == "https" and target.netloc and not target.netloc.endswith(".invalid")
        assert "testserver" not in target.netloc
        return
    page = signed_in.get(f"/broker/{broker}/login/")
    assert page.status_code == 200
    fields = {"totp": {"password": "1234", "totp": "123456"}, "token": {"access_token": "pasted-token"}}[str(kind)]
    response = signed_in.post(f"/broker/{broker}/login/", fields)
    assert response.status_code == 400
    assert "unreachable" in response.content.decode() and "internet connection" in response.content.decode()
