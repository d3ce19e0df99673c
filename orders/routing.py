"""Which adapter serves a user's request: analyze mode routes orders and account reads
to the paper engine, while market data always comes from the live data source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts import brokers as broker_routing
from brokers.base import BrokerAdapter

if TYPE_CHECKING:
    from accounts.models import User


def adapter_for(user: User) -> BrokerAdapter:
    """The adapter serving ``user``'s orders and account reads now (the sandbox in analyze mode)."""
    return broker_routing.adapter_for(user, analyze_mode=user.analyze_mode)


def live_adapter_for(user: User) -> BrokerAdapter:
    """The user's live broker whatever the mode (margin is computed by the real broker)."""
    return broker_routing.adapter_for(user, analyze_mode=False)


def data_adapter_for(user: User) -> BrokerAdapter:
    """Where quotes come from: the live data source, never the paper engine (spec §2.9)."""
    return broker_routing.adapter_for(user, analyze_mode=False, for_orders=False)
