"""Logging in and out at a broker, whatever its kind: the broker package's login object
talks to the broker; this module hands it the user's decrypted app credentials and
stores the session it returns, encrypted, ending no later than the daily expiry."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from django.db import transaction

from accounts import audit, live_events
from accounts.brokers import broker_credentials, login_for
from accounts.models import BrokerCredential, User
from accounts.services import next_session_expiry
from brokers.base import BrokerError, BrokerRejected, BrokerSession, LoginKind
from brokers.login import BrokerLogin, capped
from core.dblocks import locked_get_or_create

log = logging.getLogger(__name__)


def login_kind(broker: str) -> LoginKind:
    return login_for(broker).kind


def authorize_url(*, user: User, broker: str, state: str, redirect_uri: str = "") -> str:
    """Where an OAuth broker's login starts; ``state`` comes back on the callback at ``redirect_uri``."""
    credentials = replace(broker_credentials(user, broker), redirect_uri=redirect_uri)
    if not credentials.api_key:
        raise BrokerRejected(f"Enter your {broker} API key and secret first (Broker page)")
    return login_for(broker).authorize_url(credentials, state)


def log_in_at_broker(*, user: User, broker: str, params: Mapping[str, str], now: datetime | None = None,
                     redirect_uri: str = "") -> BrokerCredential:
    """Complete a login with the callback's or the form's fields; BrokerError when the broker refuses."""
    login: BrokerLogin = login_for(broker)
    session = login.complete(replace(broker_credentials(user, broker), redirect_uri=redirect_uri), params)
    return open_broker_session(user=user, broker=broker, session=session, now=now)


def open_broker_session(*, user: User, broker: str, session: BrokerSession, now: datetime | None = None,
                        ) -> BrokerCredential:
    session = capped(session, next_session_expiry(now))
    with transaction.atomic():
        credential, _ = locked_get_or_create(BrokerCredential.objects, user=user, broker=broker)
        credential.store(access_token=session.access_token, feed_token=session.feed_token)
        if session.client_id:
            credential.client_id = session.client_id
        credential.token_expires_at = session.expires_at
        credential.save()
        live_events.broker_session_changed(user_id=user.pk, broker=broker, expires_at=session.expires_at)
    audit.record("broker_login", actor=user.username, subject=broker, detail={"until": session.expires_at.isoformat()})
    log.info("Broker session opened for %s at %s until %s", user.username, broker, session.expires_at)
    return credential


def log_out_of_broker(*, user: User, broker: str) -> None:
    """End the session at the broker (best effort: a broker that fails to answer must not keep
    the trader logged in here), then forget its tokens."""
    credentials = broker_credentials(user, broker)
    if credentials.access_token:
        try:
            login_for(broker).logout(credentials)
        except BrokerError as failure:
            log.warning("Broker logout at %s failed for %s: %s", broker, user.username, failure.message)
    credential = BrokerCredential.objects.filter(user=user, broker=broker).first()
    if credential is not None:
        credential.store(access_token="", feed_token="")
        credential.token_expires_at = None
        credential.save()
    live_events.broker_session_changed(user_id=user.pk, broker=broker, expires_at=None)
    audit.record("broker_logout", actor=user.username, subject=broker)
