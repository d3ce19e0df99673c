"""Which broker serves a user. Adapters register here by name; the sandbox is always
logged in, and serves every user in analyze mode or without a live broker session."""

from __future__ import annotations

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


def live_broker_name(user) -> str | None:
    """The broker whose session the user is logged into now, if any."""
    from accounts.models import BrokerCredential

    return (
        BrokerCredential.objects.filter(user=user)
        .exclude(access_token_encrypted="")
        .filter(token_expires_at__gt=timezone.now())
        .order_by("-updated_at")
        .values_list("broker", flat=True)
        .first()
    )


def active_broker_name(user) -> str:
    """The broker serving the user's data and live orders: the live session, else the sandbox."""
    return live_broker_name(user) or SANDBOX


def order_broker_name(user, *, analyze_mode: bool) -> str:
    """Where an order goes: the sandbox in analyze mode, else the live broker (or sandbox)."""
    return SANDBOX if analyze_mode else active_broker_name(user)


class BrokerNotAvailable(LookupError):
    """The user's broker has no adapter installed here (spec §2.6: 404 broker module missing)."""


def adapter_for(user, *, analyze_mode: bool, for_orders: bool = True):
    """Build the adapter that serves ``user`` now. Reads the credential fresh each call so a
    login or logout at the broker takes effect on the very next request."""
    from accounts.models import BrokerCredential

    name = order_broker_name(user, analyze_mode=analyze_mode) if for_orders else active_broker_name(user)
    factory = _factories.get(name)
    if factory is None:
        raise BrokerNotAvailable(f"Broker '{name}' is not available")
    credential = None if name == SANDBOX else BrokerCredential.objects.filter(user=user, broker=name).first()
    return factory(user, credential)
