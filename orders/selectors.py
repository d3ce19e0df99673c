"""The orders app's reads for views and other apps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orders.analyzer import analyzer_log_count
from orders.models import Order, Reconciliation, RiskLimits

if TYPE_CHECKING:
    from accounts.models import User

__all__ = ["analyzer_log_count", "order_safety", "strategy_fills"]


def order_safety(user: User) -> dict[str, Any]:
    """The dashboard's order-safety card: kill switch, orders awaiting an answer, drift."""
    latest = Reconciliation.objects.filter(user=user).order_by("-at", "-pk").first()
    return {
        "kill_switch": RiskLimits.objects.filter(user=user, kill_switch_engaged=True).exists(),
        "unanswered": Order.objects.filter(user=user, status__in=("submitting", "unknown")).count(),
        "differences": len(latest.differences) if latest else 0,
    }


def strategy_fills(user: User, strategy: str) -> list[tuple[str, str, str, str, Any, Any]]:
    """(exchange, symbol, product, action, filled quantity, average price) of every ledger
    order of ``user`` tagged ``strategy`` that filled at least in part, oldest first."""
    return list(Order.objects.filter(user=user, strategy=strategy, filled_quantity__gt=0).order_by("pk")
                .values_list("exchange", "symbol", "product", "action", "filled_quantity", "average_price"))
