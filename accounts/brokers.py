"""Which broker serves a user now, and its adapter: the live session the user is logged
into (their newest unexpired token), else the sandbox. Credentials are read and
decrypted here and passed down to the broker registry, which reads no app of ours."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Collection
from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.models import BrokerCredential, User
from brokers import registry
from brokers.base import BrokerAdapter, BrokerCredentials, LoginKind
from brokers.login import BrokerLogin

SANDBOX = registry.SANDBOX

# user id -> (valid until (monotonic), live broker name or None). Every API call asks
# this; a credential change in this process evicts at once (accounts/signals.py), one in
# another process (another web process, the worker, `manage.py`) is seen by reads (data,
# books, the ping's broker) within LIVE_BROKER_TTL seconds. Orders never use it:
# ``adapter_for(for_orders=True)`` reads the session row itself, so an order goes where the
# database says now, whichever process the login or logout went through.
LIVE_BROKER_TTL = 1.0
_live: dict[int, tuple[float, str | None]] = {}
_live_lock = threading.Lock()


def forget_live_broker(user_id: int | None = None) -> None:
    with _live_lock:
        if user_id is None:
            _live.clear()
        else:
            _live.pop(user_id, None)


def live_broker_name(user: User) -> str | None:
    """The broker whose session the user is logged into now, if any."""
    entry = _live.get(user.pk)
    now = time.monotonic()
    if entry is not None and entry[0] > now:
        return entry[1]
    name, expires_at = _query_live_broker(user)
    valid_for = LIVE_BROKER_TTL
    if expires_at is not None:  # never serve a session past its expiry from the cache
        valid_for = min(valid_for, max(0.0, (expires_at - timezone.now()).total_seconds()))
    with _live_lock:
        _live[user.pk] = (now + valid_for, name)
    return name


def _query_live_broker(user: User) -> tuple[str | None, datetime | None]:
    row = (
        BrokerCredential.objects.filter(user=user)
        .exclude(access_token_encrypted="")
        .filter(token_expires_at__gt=timezone.now())
        .order_by("-updated_at")
        .values_list("broker", "token_expires_at")
        .first()
    )
    return row if row else (None, None)


def trading_modes(user: User) -> tuple[bool, str] | None:
    """The user's analyze mode and order mode as the database has them now (one primary-key
    query), whatever the ``user`` object in hand says: another process may have switched
    them since this object was loaded (the API-key cache keeps user objects). None when the
    user is gone."""
    with connection.cursor() as cursor:  # on every API call: plain SQL, no query compiled each time
        cursor.execute(_modes_sql(), [user.pk])
        row = cursor.fetchone()
    return (bool(row[0]), str(row[1])) if row else None


@functools.cache
def _modes_sql() -> str:
    """The mode read, built once from the model's own table and column names (no user input)."""
    meta, quote = User._meta, connection.ops.quote_name
    analyze, order = (quote(meta.get_field(name).column) for name in ("analyze_mode", "order_mode"))
    return f"SELECT {analyze}, {order} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608


def active_broker_name(user: User) -> str:
    """The broker serving the user's data and live orders: the live session, else the sandbox."""
    return live_broker_name(user) or SANDBOX


def order_broker_name(user: User, *, analyze_mode: bool) -> str:
    """Where an order goes: the sandbox in analyze mode, else the live broker (or sandbox)."""
    return SANDBOX if analyze_mode else active_broker_name(user)


def credentials_of(credential: BrokerCredential) -> BrokerCredentials:
    """A stored credential, decrypted for the broker call about to happen."""
    return BrokerCredentials(
        broker=credential.broker, client_id=credential.client_id, api_key=credential.reveal("api_key"),
        api_secret=credential.reveal("api_secret"), access_token=credential.reveal("access_token"),
        feed_token=credential.reveal("feed_token"), expires_at=credential.token_expires_at,
    )


def broker_credentials(user: User, broker: str) -> BrokerCredentials:
    """The user's credentials at ``broker`` (empty ones when nothing is stored yet)."""
    credential = BrokerCredential.objects.filter(user=user, broker=broker).first()
    return credentials_of(credential) if credential else BrokerCredentials(broker=broker)


def adapter_named(user: User, name: str) -> BrokerAdapter:
    """The adapter of broker ``name`` for ``user`` (reconciliation of that broker's ledger rows)."""
    if name == SANDBOX:
        return registry.build(name, user, None)
    credential = BrokerCredential.objects.filter(user=user, broker=name).first()
    return registry.build(name, user, credentials_of(credential) if credential else None)


def adapter_for(user: User, *, analyze_mode: bool, for_orders: bool = True) -> BrokerAdapter:
    """The adapter that serves ``user`` now. For orders (and the books and funds read with
    them) the session is read from the database on every call, in one query that also
    fetches the credential: a login or logout made by any process takes effect on the very
    next order, never routed to the sandbox after a login or to a session that ended. Data
    reads (``for_orders=False``) use the per-process cache (LIVE_BROKER_TTL)."""
    if not for_orders:
        return adapter_named(user, active_broker_name(user))
    if analyze_mode:
        return registry.build(SANDBOX, user, None)
    credential = _live_credential(user)
    valid_for = LIVE_BROKER_TTL
    if credential is not None and credential.token_expires_at is not None:
        valid_for = min(valid_for, max(0.0, (credential.token_expires_at - timezone.now()).total_seconds()))
    with _live_lock:  # what this process's reads will say too, until the TTL
        _live[user.pk] = (time.monotonic() + valid_for, credential.broker if credential else None)
    if credential is None:
        return registry.build(SANDBOX, user, None)
    return registry.build(credential.broker, user, credentials_of(credential))


def _live_credential(user: User) -> BrokerCredential | None:
    """The user's live session now (newest unexpired token), as ``_query_live_broker`` finds it."""
    return (BrokerCredential.objects.filter(user=user).exclude(access_token_encrypted="")
            .filter(token_expires_at__gt=timezone.now()).order_by("-updated_at").first())


def contract_adapter(broker: str) -> BrokerAdapter:
    """An adapter that can download ``broker``'s master contract: the master contract is the
    same for every user, so any live session there serves (or none, where it is public)."""
    credential = (BrokerCredential.objects.filter(broker=broker, token_expires_at__gt=timezone.now())
                  .exclude(access_token_encrypted="").select_related("user").order_by("-updated_at").first())
    if credential is None:
        return registry.build(broker, None, None)
    return registry.build(broker, credential.user, credentials_of(credential))


def live_sessions(brokers: Collection[str]) -> list[tuple[int, BrokerCredentials]]:
    """(user id, decrypted credentials) of every user whose live session now is at one of
    ``brokers``: the feed process runs one market stream for each. A user logged in at two
    brokers is served by the newer session, as ``live_broker_name`` says."""
    rows = (BrokerCredential.objects.exclude(access_token_encrypted="").filter(token_expires_at__gt=timezone.now())
            .order_by("user_id", "-updated_at"))
    sessions: dict[int, BrokerCredential] = {}
    for credential in rows:
        sessions.setdefault(credential.user_id, credential)
    return [(user_id, credentials_of(credential)) for user_id, credential in sessions.items()
            if credential.broker in brokers]


def shares_market_data(broker: str) -> bool:
    """Whether every user of ``broker`` reads the one shared stream of it (the sandbox's
    simulator), rather than their own session's."""
    return registry.shares_market_data(broker)


def supported_brokers() -> list[str]:
    return registry.registered()


def brokers_to_log_into() -> list[str]:
    """The installed brokers a trader opens a session at (their login kind is not NONE:
    the sandbox needs no login)."""
    return [name for name in registry.registered() if registry.capabilities_of(name).login != LoginKind.NONE]


def login_for(broker: str) -> BrokerLogin:
    return registry.login_for(broker)
