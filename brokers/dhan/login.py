"""Logging in at Dhan: the trader pastes the access token Dhan issued (web.dhan.co ->
My Profile -> Access DhanHQ APIs). We check it with one cheap authenticated call
(``GET /profile``) before accepting it. The account is the one the token belongs to (its
``dhanClientId`` claim, confirmed by the profile): that id, not one stored earlier, goes in
every ``client-id`` header and ``dhanClientId`` body after, so the two can never disagree.

A Dhan token lasts 24 hours from issue. Its end is read from the profile's
``tokenValidity`` (IST ``DD/MM/YYYY HH:MM``), else from the token's ``exp`` claim, else
24 hours from now. Dhan documents no logout/revocation call: logging out forgets the token here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerRejected,
    BrokerSession,
    CapabilityMissing,
    LoginKind,
)
from brokers.login import SessionExpiry
from core.values import IST

from .client import DhanClient, client_id_of, jwt_claims

log = logging.getLogger(__name__)

TOKEN_PAGE = "https://web.dhan.co"
LIFETIME = timedelta(hours=24)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def token_validity(text: object) -> datetime | None:
    """The profile's ``tokenValidity`` (``30/03/2025 15:37``, IST) as an aware time."""
    for layout in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(str(text).strip(), layout).replace(tzinfo=IST)
        except ValueError:
            continue
    return None


class DhanLogin:
    kind = LoginKind.TOKEN
    expiry = SessionExpiry(at=None, hours=24)

    def __init__(self, clock: Callable[[], datetime] = _utc_now) -> None:
        self.clock = clock

    def authorize_url(self, credentials: BrokerCredentials, state: str) -> str:
        raise CapabilityMissing(f"Dhan logs in with an access token generated at {TOKEN_PAGE}, not a redirect")

    def complete(self, credentials: BrokerCredentials, params: Mapping[str, str]) -> BrokerSession:
        token = (params.get("access_token") or "").strip()
        if not token:
            raise BrokerRejected(f"Paste the access token Dhan issued today ({TOKEN_PAGE}, My Profile)")
        client_id = client_id_of(token) or credentials.client_id
        session = BrokerCredentials(broker=credentials.broker, client_id=client_id, access_token=token)
        try:
            profile = DhanClient(session).get("/profile")
        except BrokerAuthExpired as refused:
            raise BrokerRejected(f"Dhan did not accept this access token: {refused.message}") from None
        if not isinstance(profile, dict):
            raise BrokerRejected("Dhan answered the token check without a profile")
        owner = str(profile.get("dhanClientId") or client_id_of(token) or "")
        if credentials.client_id and owner and owner != credentials.client_id:
            log.warning("Dhan login switches account from client %s to %s", credentials.client_id, owner)
        now = self.clock()
        return BrokerSession(access_token=token, client_id=owner or client_id,
                             expires_at=self._expires_at(profile, token, now))

    def _expires_at(self, profile: Mapping[str, object], token: str, now: datetime) -> datetime:
        latest = now + LIFETIME
        valid_until = token_validity(profile.get("tokenValidity", ""))
        if valid_until is None:
            exp = jwt_claims(token).get("exp")
            valid_until = datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None
        if valid_until is None:
            return self.expiry.after(now)
        if valid_until <= now:
            raise BrokerRejected("This Dhan access token has already expired; generate a new one")
        return min(valid_until, latest)

    def logout(self, credentials: BrokerCredentials) -> None:
        """Dhan has no revocation call: the token is forgotten here and ends on its own."""
