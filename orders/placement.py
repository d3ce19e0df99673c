"""Placing orders: one order (risk checks, then sent through the ledger) and the smart
order that trades the difference between a target and the current position."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING

from brokers.base import BrokerAdapter, OrderRequest, PlacedOrder
from brokers.enums import Action
from core.values import ZERO
from orders import freeze, killswitch, risk
from orders.locks import symbol_lock
from orders.routing import adapter_for
from orders.sending import open_row, pace_order_call, send

if TYPE_CHECKING:
    from accounts.models import User

ALREADY_MATCHED = "Positions Already Matched. No Action needed."
NO_POSITION_TO_EXIT = "No OpenPosition Found. Not placing Exit order."


def place_order(*, user: User, request: OrderRequest, source: str = "api",
                adapter: BrokerAdapter | None = None, max_wait: float | None = None) -> PlacedOrder:
    """Send one order: broker pacing (waiting at most ``max_wait``), risk checks, ledger row
    committed, broker call, ledger row completed. Raises BrokerError subclasses
    (RiskRejected, BrokerRateLimited among them) for the caller."""
    adapter = adapter or adapter_for(user)
    freeze.check_order(adapter, request)
    pace_order_call(user, adapter, max_wait=max_wait)
    limits = None if source in risk.EXEMPT_SOURCES else risk.limits_for(user)
    try:
        if limits is not None:
            breach = risk.daily_loss_breach(user, adapter, limits)
            if breach:
                killswitch.engage(user, reason=breach, actor="risk")
                raise risk.switched_on(breach)
        with risk.guarded(user, limits):
            if limits is not None:
                risk.check_order(user, adapter, request, limits)
            order = open_row(user, adapter, request, source)
    except risk.RiskRejected as exc:
        risk.record_rejection(user, adapter, request, source, exc)
        raise
    return send(user, adapter, order, request)


# --- Smart order -------------------------------------------------------------------------------


def net_quantity(adapter: BrokerAdapter, symbol: str, exchange: str, product: str) -> Decimal:
    for position in adapter.positions():
        if position.symbol == symbol and str(position.exchange) == exchange and str(position.product) == product:
            return position.quantity
    return ZERO


@dataclass(frozen=True, slots=True)
class SmartResult:
    placed: PlacedOrder | None
    message: str = ""


def smart_order_action(action: str, quantity: Decimal, target: Decimal, current: Decimal
                       ) -> tuple[str, Decimal] | None:
    """The spec §5.2 table: what to trade to move from ``current`` to ``target``."""
    if target == 0 and current == 0 and quantity > 0:
        return action, quantity
    if target == current:
        return None
    if target == 0:
        return (Action.SELL, current) if current > 0 else (Action.BUY, -current)
    if current == 0:
        return (Action.BUY, target) if target > 0 else (Action.SELL, -target)
    return (Action.BUY, target - current) if target > current else (Action.SELL, current - target)


def place_smart_order(*, user: User, request: OrderRequest, position_size: Decimal) -> SmartResult:
    """Serialised per user and (symbol, exchange, product) across processes; the position
    is read fresh inside the lock, so two concurrent calls never double the position."""
    adapter = adapter_for(user)
    with symbol_lock(user.pk, str(request.exchange), request.symbol, str(request.product)):
        current = net_quantity(adapter, request.symbol, str(request.exchange), str(request.product))
        decided = smart_order_action(request.action, request.quantity, position_size, current)
        if decided is None:
            # The paper engine words the "exit with nothing to exit" case its own way.
            nothing_to_exit = request.quantity == 0 and position_size == 0 and current == 0
            if adapter.capabilities.paper and nothing_to_exit:
                return SmartResult(None, NO_POSITION_TO_EXIT)
            return SmartResult(None, ALREADY_MATCHED)
        action, quantity = decided
        order = replace(request, action=Action(action), quantity=quantity)
        return SmartResult(place_order(user=user, request=order, source="smart", adapter=adapter))
