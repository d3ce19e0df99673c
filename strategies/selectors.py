"""Reads for the strategy pages: a user's strategies, an alert log, and a strategy's P&L
from the fills of the orders it placed (the ledger rows tagged with its name)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from orders.models import Order
from strategies.models import Alert, Strategy

if TYPE_CHECKING:
    from accounts.models import User

ZERO = Decimal(0)


def strategies_for(user: User) -> QuerySet[Strategy]:
    return Strategy.objects.filter(owner=user).prefetch_related("symbols").order_by("name")


def strategy_of(user: User, pk: int) -> Strategy:
    """The user's own strategy, or 404 (another user's strategy does not exist for them)."""
    return get_object_or_404(Strategy.objects.prefetch_related("symbols"), pk=pk, owner=user)


def alert_log(strategy: Strategy, limit: int = 100) -> list[Alert]:
    return list(strategy.alerts.order_by("-received_at", "-pk")[:limit])


@dataclass
class SymbolPnl:
    exchange: str
    symbol: str
    product: str
    bought: Decimal = ZERO
    sold: Decimal = ZERO
    buy_value: Decimal = ZERO
    sell_value: Decimal = ZERO

    @property
    def open_quantity(self) -> Decimal:
        return self.bought - self.sold

    @property
    def realised(self) -> Decimal:
        """Profit on the quantity bought and sold back, at each side's average price."""
        closed = min(self.bought, self.sold)
        if not closed:
            return ZERO
        return (closed * (self.sell_value / self.sold - self.buy_value / self.bought)).quantize(Decimal("0.01"))

    @property
    def open_average(self) -> Decimal:
        if self.open_quantity > 0:
            return (self.buy_value / self.bought).quantize(Decimal("0.01"))
        if self.open_quantity < 0:
            return (self.sell_value / self.sold).quantize(Decimal("0.01"))
        return ZERO


@dataclass
class StrategyPnl:
    rows: list[SymbolPnl]
    orders: int

    @property
    def realised(self) -> Decimal:
        return sum((row.realised for row in self.rows), ZERO)


def pnl(strategy: Strategy) -> StrategyPnl:
    """Realised P&L and open quantity per symbol from the filled quantity and average
    price of every order tagged with the strategy's name (the sandbox's and live ones)."""
    fills = (Order.objects.filter(user=strategy.owner, strategy=strategy.name, filled_quantity__gt=0)
             .values_list("exchange", "symbol", "product", "action", "filled_quantity", "average_price"))
    rows: dict[tuple[str, str, str], SymbolPnl] = {}
    count = 0
    for exchange, symbol, product, action, quantity, price in fills:
        count += 1
        row = rows.setdefault((exchange, symbol, product), SymbolPnl(exchange, symbol, product))
        if action == "BUY":
            row.bought += quantity
            row.buy_value += quantity * price
        else:
            row.sold += quantity
            row.sell_value += quantity * price
    return StrategyPnl(sorted(rows.values(), key=lambda r: (r.exchange, r.symbol, r.product)), count)
