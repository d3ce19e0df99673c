"""Logging in at FakeLive: an OAuth redirect whose callback brings a one-time code that
is exchanged for the day's token. Its tokens end at 06:00 IST the next day."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from urllib.parse import urlencode

from django.conf import settings

from brokers.base import BrokerCredentials, BrokerRejected, BrokerSession, LoginKind
from brokers.fakelive.client import FakeLiveClient
from brokers.login import SessionExpiry


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FakeLiveLogin:
    kind = LoginKind.OAUTH
    expiry = SessionExpiry(at=time(6, 0), days_after=1)

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        query = urlencode({"api_key": credentials.api_key, "state": state})
        return f"{settings.FAKELIVE_BASE_URL}/connect/login?{query}"

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        code = params.get("code", "")
        if not code:
            raise BrokerRejected("The broker sent no authorisation code")
        data = FakeLiveClient(credentials).request(
            "POST", "/session/token", authenticated=False,
            json={"api_key": credentials.api_key, "api_secret": credentials.api_secret, "code": code},
        )
        if not isinstance(data, dict) or not data.get("access_token"):
            raise BrokerRejected("The broker answered the login without a token")
        return BrokerSession(access_token=str(data["access_token"]), feed_token=str(data.get("feed_token", "")),
                             client_id=str(data.get("user_id", "")), expires_at=self.expiry.after(self.clock()))

    def logout(self, credentials: BrokerCredentials) -> None:
        FakeLiveClient(credentials).delete("/session/token")
