"""Logging in at Zerodha (Kite Connect's OAuth-style flow).

The trader's browser goes to Kite's login page with our app's api_key; Kite sends it back
to the app's registered redirect URL with a single-use ``request_token`` (and, echoed from
``redirect_params``, our ``state``). We exchange the request token at ``POST
/session/token`` with ``checksum = SHA-256(api_key + request_token + api_secret)`` (hex,
plain concatenation). Kite's access token lasts until 06:00 IST the next day (or until
the trader logs out or logs in elsewhere, which the API answers with a 403)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode

import httpx
from django.conf import settings

from brokers.base import BrokerCredentials, BrokerRejected, BrokerSession, LoginKind
from brokers.http import check_status, json_of
from brokers.login import SessionExpiry

from .client import BROKER, HTTP, ZerodhaClient

LOGIN_URL = "https://kite.zerodha.com/connect/login"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def checksum(api_key: str, token: str, api_secret: str) -> str:
    """Kite's checksum of a token exchange: hex SHA-256 of the three strings, concatenated."""
    return hashlib.sha256(f"{api_key}{token}{api_secret}".encode()).hexdigest()


def _classify_login(response: httpx.Response) -> Any:
    """The token exchange's answer. A refusal (a request token used twice or too late, a
    wrong checksum: Kite answers 403 TokenException) is the trader's to read, verbatim; it
    is not an expired session."""
    check_status(response, BROKER)
    body = json_of(response, BROKER)
    if isinstance(body, dict) and response.is_success and body.get("status") == "success":
        return body.get("data")
    message = body.get("message") if isinstance(body, dict) else None
    raise BrokerRejected(str(message or f"Zerodha refused the login (HTTP {response.status_code})"))


class ZerodhaLogin:
    kind = LoginKind.OAUTH
    # Kite flushes every access token daily at 06:00 IST: a login at 10:00 lasts until 06:00
    # the next day, one at 05:00 only until 06:00 that morning (the next 06:00 after login).
    expiry = SessionExpiry(at=time(6, 0), days_after=0)

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        if not credentials.api_key:
            raise BrokerRejected("Add your Kite Connect api_key and api_secret before logging in to Zerodha")
        login_url = str(getattr(settings, "ZERODHA_LOGIN_URL", "") or LOGIN_URL)
        # Kite appends redirect_params, decoded, to the redirect URL: that is how ``state`` comes back.
        query = urlencode({"v": "3", "api_key": credentials.api_key, "redirect_params": urlencode({"state": state})})
        return f"{login_url}?{query}"

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        if params.get("status", "success") != "success":
            raise BrokerRejected(f"Zerodha did not complete the login (status {params.get('status')!r})")
        request_token = params.get("request_token", "")
        if not request_token:
            raise BrokerRejected("Zerodha sent no request_token back")
        if not credentials.api_key or not credentials.api_secret:
            raise BrokerRejected("Add your Kite Connect api_key and api_secret before logging in to Zerodha")
        form = {"api_key": credentials.api_key, "request_token": request_token,
                "checksum": checksum(credentials.api_key, request_token, credentials.api_secret)}
        data = HTTP.request("POST", "/session/token", classify=_classify_login, data=form)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise BrokerRejected("Zerodha answered the login without an access token")
        return BrokerSession(access_token=str(data["access_token"]), client_id=str(data.get("user_id") or ""),
                             feed_token=str(data.get("public_token") or ""), expires_at=self.expiry.after(self.clock()))

    def logout(self, credentials: BrokerCredentials) -> None:
        """Invalidate the access token at Kite (``DELETE /session/token``, its parameters in the query)."""
        ZerodhaClient(credentials).delete(
            "/session/token", params={"api_key": credentials.api_key, "access_token": credentials.access_token})
