"""Logging in at Angel One: the client code, the trading PIN and the authenticator's TOTP
code posted to loginByPassword (with the app's API key in X-PrivateKey). The answer holds
the JWT for REST calls, the feed token for the market stream, and a refresh token.

Expiry: Angel's docs now say the session lasts "till 12 midnight" (an older copy said 28
hours; a forum admin says a login a day): we end it at 00:00 IST after the login, before
the platform's own 03:00 IST expiry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time

from brokers.base import BrokerCredentials, BrokerRejected, BrokerSession, CapabilityMissing, LoginKind
from brokers.login import SessionExpiry

from .client import AngelClient


def _utc_now() -> datetime:
    return datetime.now(UTC)


def bare_token(token: str) -> str:
    """The JWT without a "Bearer " prefix, which some answers carry."""
    return token.removeprefix("Bearer ").strip()


class AngelLogin:
    kind = LoginKind.TOTP
    expiry = SessionExpiry(at=time(0, 0), days_after=1)

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        raise CapabilityMissing("Angel One logs in with the client code, PIN and TOTP, not a redirect")

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        client_code = (params.get("client_id") or params.get("clientcode") or credentials.client_id).strip().upper()
        pin, totp = params.get("password", ""), params.get("totp", "").strip()
        if not client_code:
            raise BrokerRejected("Angel One needs your client code: save it with your Angel One app credentials")
        if not credentials.api_key:
            raise BrokerRejected("Save your Angel One SmartAPI key first")
        if not pin or not totp:
            raise BrokerRejected("Enter your Angel One PIN and the 6-digit TOTP code")
        data = AngelClient(credentials).request(
            "POST", "/rest/auth/angelbroking/user/v1/loginByPassword", authenticated=False,
            json={"clientcode": client_code, "password": pin, "totp": totp},
        )
        if not isinstance(data, dict) or not data.get("jwtToken"):
            raise BrokerRejected("Angel One answered the login without a token")
        return BrokerSession(access_token=bare_token(str(data["jwtToken"])), feed_token=str(data.get("feedToken", "")),
                             client_id=client_code, expires_at=self.expiry.after(self.clock()))

    def logout(self, credentials: BrokerCredentials) -> None:
        AngelClient(credentials).post("logout", {"clientcode": credentials.client_id})
