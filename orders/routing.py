"""Which adapter serves a user's request: analyze mode routes orders and account reads
to the paper engine, while market data always comes from the live data source.

One decision per request (issue 14): a request's user object may be stale (the API-key
cache keeps user objects for up to API_KEY_RECHECK_SECONDS, and another process may have
switched analyze mode since), and the object it carries is shared with other requests of
the same key. So every order path and account read starts with ``pin_modes``: a copy of
the user whose ``analyze_mode`` and ``order_mode`` are read from the database at that
moment. Everything downstream (the adapter of each child order, the smart order's position
read, the ledger's analyze flag, the answer's ``"mode"``) reads that copy, so a switch made
mid-request (by this process or another) changes nothing for the request in flight, and
the next request sees it."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from accounts import brokers as broker_routing
from brokers.base import BrokerAdapter

if TYPE_CHECKING:
    from accounts.models import User

_PINNED = "_modes_pinned"


def is_pinned(user: User) -> bool:
    return bool(getattr(user, _PINNED, False))


def pin_modes(user: User, *, analyze: bool = False) -> User:
    """``user`` as this request sees it from start to end: a copy carrying the trading modes
    the database holds now (one primary-key query; none if ``user`` is already pinned).
    ``analyze=True`` forces the sandbox whatever the database says; nothing forces the
    other way. A user whose row is gone is routed to the sandbox. The caller's object is
    never changed (it may be shared with other requests)."""
    if is_pinned(user) and (user.analyze_mode or not analyze):
        return user
    pinned = copy.copy(user)
    if not is_pinned(user):
        modes = broker_routing.trading_modes(user)
        if modes is None:
            pinned.analyze_mode = True
        else:
            pinned.analyze_mode, pinned.order_mode = modes
    pinned.analyze_mode = bool(pinned.analyze_mode or analyze)
    setattr(pinned, _PINNED, True)
    return pinned


def adapter_for(user: User) -> BrokerAdapter:
    """The adapter serving ``user``'s orders and account reads now (the sandbox in analyze
    mode). Order paths pass a user pinned by ``pin_modes`` so the mode is the request's."""
    return broker_routing.adapter_for(user, analyze_mode=user.analyze_mode)


def live_adapter_for(user: User) -> BrokerAdapter:
    """The user's live broker whatever the mode (margin is computed by the real broker)."""
    return broker_routing.adapter_for(user, analyze_mode=False)


def data_adapter_for(user: User) -> BrokerAdapter:
    """Where quotes come from: the live data source, never the paper engine (spec §2.9)."""
    return broker_routing.adapter_for(user, analyze_mode=False, for_orders=False)
