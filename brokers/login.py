"""How a trader opens a session at a broker, by kind (OAuth redirect, TOTP form, pasted
token). Each broker package provides one ``BrokerLogin``; the generic login pages in
accounts drive it and store what it returns, encrypted. The broker's own session expiry
is data (``SessionExpiry``); the platform's daily expiry caps it above."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol, runtime_checkable

from brokers.base import BrokerCredentials, BrokerSession, LoginKind
from core.values import IST

# The fields each kind's form posts to ``complete``; an OAuth callback passes its query string.
TOTP_FIELDS = ("password", "totp")
TOKEN_FIELDS = ("access_token",)


@dataclass(frozen=True, slots=True)
class SessionExpiry:
    """When the broker ends a token: at ``at`` (IST) on the day ``days_after`` the login
    (e.g. 06:00 the next day), or ``hours`` after it when the broker counts a duration."""

    at: time | None = time(6, 0)
    days_after: int = 1
    hours: int = 0

    def after(self, logged_in: datetime) -> datetime:
        if self.hours:
            return logged_in + timedelta(hours=self.hours)
        local = logged_in.astimezone(IST)
        boundary = datetime.combine(local.date() + timedelta(days=self.days_after), self.at or time(0), IST)
        return boundary if boundary > logged_in else boundary + timedelta(days=1)


@runtime_checkable
class BrokerLogin(Protocol):
    """One broker's login. ``authorize_url`` exists for OAUTH only (others raise
    CapabilityMissing); ``complete`` turns the callback's or the form's fields into a
    session, raising BrokerRejected with the broker's text when it refuses them."""

    kind: LoginKind
    expiry: SessionExpiry

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str: ...

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession: ...

    def logout(self, credentials: BrokerCredentials) -> None: ...


def capped(session: BrokerSession, platform_expiry: datetime) -> BrokerSession:
    """The session, ending no later than the platform's daily expiry."""
    if session.expires_at <= platform_expiry:
        return session
    return BrokerSession(access_token=session.access_token, expires_at=platform_expiry,
                         client_id=session.client_id, feed_token=session.feed_token)
