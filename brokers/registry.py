"""Which broker serves a user. Adapters register here by name; the sandbox is always
logged in, and serves every user in analyze mode or without a live broker session."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.utils import timezone

SANDBOX = "sandbox"

# name -> factory(user, credential | None) -> adapter
_factories: dict[str, Callable[..., Any]] = {}


def register(name: str, factory: Callable[..., Any]) -> None:
    """Register a broker adapter factory under its slug (done in the package's AppConfig.ready
    or module import). Registering a name twice with a different factory is a bug."""
    existing = _factories.get(name)
    if existing is not None and existing is not factory:
        raise ValueError(f"broker {name!r} is already registered")
    _factories[name] = factory


def registered() -> list[str]:
    return sorted(_factories)


def is_paper(name: str) -> bool:
    """Whether the broker registered as ``name`` is a simulated exchange (its declared
    capabilities say so); an unknown name is not."""
    factory = _factories.get(name)
    return factory is not None and factory.capabilities.paper


# user id -> (valid until (monotonic), live broker name or None). Every API call asks
# this; a credential change in this process evicts at once (signals in apps.py), one in
# another process is seen within LIVE_BROKER_TTL seconds.
LIVE_BROKER_TTL = 1.0
_live: dict[int, tuple[float, str | None]] = {}
_live_lock = threading.Lock()


def forget_live_broker(user_id: int | None = None) -> None:
    with _live_lock:
        if user_id is None:
            _live.clear()
        else:
            _live.pop(user_id, None)


def live_broker_name(user) -> str | None:
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


def _query_live_broker(user):
    from accounts.models import BrokerCredential

    row = (
        BrokerCredential.objects.filter(user=user)
        .exclude(access_token_encrypted="")
        .filter(token_expires_at__gt=timezone.now())
        .order_by("-updated_at")
        .values_list("broker", "token_expires_at")
        .first()
    )
    return row if row else (None, None)


def active_broker_name(user) -> str:
    """The broker serving the user's data and live orders: the live session, else the sandbox."""
    return live_broker_name(user) or SANDBOX


def order_broker_name(user, *, analyze_mode: bool) -> str:
    """Where an order goes: the sandbox in analyze mode, else the live broker (or sandbox)."""
    return SANDBOX if analyze_mode else active_broker_name(user)


class BrokerNotAvailable(LookupError):
    """The user's broker has no adapter installed here (spec §2.6: 404 broker module missing)."""


def adapter_named(user, name: str):
    """The adapter of broker ``name`` for ``user`` (reconciliation of that broker's ledger rows)."""
    from accounts.models import BrokerCredential

    factory = _factories.get(name)
    if factory is None:
        raise BrokerNotAvailable(f"Broker '{name}' is not available")
    credential = None if name == SANDBOX else BrokerCredential.objects.filter(user=user, broker=name).first()
    return factory(user, credential)


def adapter_for(user, *, analyze_mode: bool, for_orders: bool = True):
    """Build the adapter that serves ``user`` now. Reads the credential fresh each call so a
    login or logout at the broker takes effect on the very next request."""
    name = order_broker_name(user, analyze_mode=analyze_mode) if for_orders else active_broker_name(user)
    return adapter_named(user, name)
