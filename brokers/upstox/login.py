"""Logging in at Upstox: OAuth2 authorization code. The trader signs in on Upstox's dialog,
which redirects to our callback with a one-time ``code`` (valid once, even when the
exchange fails); we exchange it, form-encoded, for the day's access token. The token
lasts until the next 03:30 IST whenever it was issued (a token made at 02:00 ends at
03:30 the same morning); there is no refresh token."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from urllib.parse import urlencode

from django.conf import settings

from brokers.base import BrokerCredentials, BrokerRejected, BrokerSession, LoginKind
from brokers.login import SessionExpiry

from .client import HTTP, UpstoxClient, classify, classify_login

AUTHORIZE_URL = "https://api.upstox.com/v2/login/authorization/dialog"
TOKEN_PATH = "/v2/login/authorization/token"
LOGOUT_PATH = "/v2/logout"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def redirect_uri(credentials: BrokerCredentials | None = None) -> str:
    """The callback registered on the Upstox app: ``UPSTOX_REDIRECT_URI`` when a deployment
    pins it, else the callback URL the login page was served under, else this server's
    /upstox/callback. The code exchange must repeat it exactly."""
    configured = getattr(settings, "UPSTOX_REDIRECT_URI", "")
    if configured:
        return str(configured)
    if credentials is not None and credentials.redirect_uri:
        return credentials.redirect_uri
    return f"http://{getattr(settings, 'HOST', '127.0.0.1')}:{getattr(settings, 'PORT', 5000)}/upstox/callback"


class UpstoxLogin:
    kind = LoginKind.OAUTH
    # The next 03:30 IST after the login (days_after=0: the same morning when before 03:30).
    expiry = SessionExpiry(at=time(3, 30), days_after=0)

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        if not credentials.api_key:
            raise BrokerRejected("Set the Upstox API key (client_id) of your app first")
        query = urlencode({"response_type": "code", "client_id": credentials.api_key,
                           "redirect_uri": redirect_uri(credentials), "state": state})
        return f"{AUTHORIZE_URL}?{query}"

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        code = params.get("code", "")
        if not code:
            raise BrokerRejected(params.get("error_description") or params.get("error")
                                 or "Upstox sent no authorisation code")
        form = {"code": code, "client_id": credentials.api_key, "client_secret": credentials.api_secret,
                "redirect_uri": redirect_uri(credentials), "grant_type": "authorization_code"}
        reply = HTTP.request("POST", TOKEN_PATH, classify=classify_login, data=form,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        token = reply.get("access_token")
        if not isinstance(token, str) or not token:
            raise BrokerRejected("Upstox answered the login without an access token")
        return BrokerSession(access_token=token, client_id=str(reply.get("user_id") or ""),
                             expires_at=self.expiry.after(self.clock()))

    def logout(self, credentials: BrokerCredentials) -> None:
        client = UpstoxClient(credentials)
        HTTP.request("DELETE", LOGOUT_PATH, classify=classify, headers=client.headers())
