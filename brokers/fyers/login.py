"""Logging in at Fyers (API v3): an OAuth redirect.

1. The browser goes to ``/api/v3/generate-authcode?client_id=<app_id>&redirect_uri=<registered
   URI>&response_type=code&state=<ours>``; after the trader's login (with 2FA, daily since
   1 Apr 2026) Fyers sends it back to the redirect URI with ``auth_code`` and ``state``.
2. We POST ``{"grant_type": "authorization_code", "appIdHash": sha256("<app_id>:<app_secret>"),
   "code": <auth_code>}`` to ``/api/v3/validate-authcode``: the answer has ``access_token``.

The token is a JWT; Fyers does not document its lifetime, so the session ends at its
``exp`` claim, and no later than 03:00 IST the next morning, when Fyers' tokens roll over
(observed by OpenAlgo) and the platform's own daily expiry falls anyway. Refresh tokens
are not used: Fyers' 2026 rules require a daily interactive 2FA login and no longer allow
continuous refresh-token sessions.

The app's credentials: ``api_key`` is the App ID (``XXXXXXXX-100``), ``api_secret`` its
secret. The redirect URI registered on the app is ``FYERS_REDIRECT_URI``, by default this
deployment's ``/fyers/callback``."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from brokers.base import BrokerCredentials, BrokerRejected, BrokerSession, LoginKind
from brokers.login import SessionExpiry

from .client import HTTP, FyersClient


def _utc_now() -> datetime:
    return datetime.now(UTC)


def app_id_hash(app_id: str, app_secret: str) -> str:
    """``appIdHash``: lower-case hex SHA-256 of ``"<app_id>:<app_secret>"`` (colon included)."""
    return hashlib.sha256(f"{app_id}:{app_secret}".encode()).hexdigest()


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) payload of a JWT access token; {} when it is not one. Only read for
    facts Fyers puts there for the client (``exp``, ``fy_id``, ``hsm_key``)."""
    token = token.rpartition(":")[2]  # tolerate an "app_id:" prefix
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, binascii.Error):
        return {}
    return claims if isinstance(claims, dict) else {}


def redirect_uri(credentials: BrokerCredentials | None = None) -> str:
    """FYERS_REDIRECT_URI when a deployment sets it (it must match the app's registration
    exactly, e.g. behind a proxy), else the callback URL the login page was served under."""
    configured = getattr(settings, "FYERS_REDIRECT_URI", "")
    if configured:
        return str(configured)
    if credentials is not None and credentials.redirect_uri:
        return credentials.redirect_uri
    host = getattr(settings, "HOST", "127.0.0.1")
    port = getattr(settings, "PORT", 5000)
    return f"http://{host}:{port}/fyers/callback"


class FyersLogin:
    kind = LoginKind.OAUTH
    expiry = SessionExpiry(at=time(3, 0), days_after=0)  # the next 03:00 IST after the login

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        if not credentials.api_key:
            raise BrokerRejected("Enter your Fyers App ID (e.g. XXXXXXXX-100) before logging in")
        query = urlencode({"client_id": credentials.api_key, "redirect_uri": redirect_uri(credentials),
                           "response_type": "code", "state": state})
        return f"{HTTP.base_url}/api/v3/generate-authcode?{query}"

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        code = params.get("auth_code", "")
        if not code:
            # Fyers' callback says why in ``message`` when the trader's login failed.
            raise BrokerRejected(params.get("message") or "Fyers sent no authorisation code")
        if not credentials.api_key or not credentials.api_secret:
            raise BrokerRejected("Enter your Fyers App ID and secret before logging in")
        body = FyersClient(credentials).request(
            "POST", "/api/v3/validate-authcode", authenticated=False,
            json={"grant_type": "authorization_code",
                  "appIdHash": app_id_hash(credentials.api_key, credentials.api_secret), "code": code},
        )
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise BrokerRejected("Fyers answered the login without an access token")
        return BrokerSession(access_token=token, expires_at=self.expires_at(token),
                             client_id=str(jwt_claims(token).get("fy_id", "")))

    def expires_at(self, token: str) -> datetime:
        """The earlier of the token's ``exp`` and the 03:00 IST rollover after now."""
        rollover = self.expiry.after(self.clock())
        exp = jwt_claims(token).get("exp")
        if isinstance(exp, int | float) and exp > 0:
            return min(rollover, datetime.fromtimestamp(exp, UTC))
        return rollover

    def logout(self, credentials: BrokerCredentials) -> None:
        FyersClient(credentials).request("POST", "/api/v3/logout", json={})
