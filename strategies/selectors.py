"""Reads for the strategy pages: a user's strategies, an alert log, and a strategy's P&L
from the fills of the orders it placed (the ledger rows tagged with its name)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from brokers.base import Position
from brokers.enums import Exchange, Product
from brokers.positions import PositionTotals, position_of
from orders.selectors import strategy_fills
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
    def position(self) -> Position:
        """The same arithmetic as every broker's positions (brokers/positions.py)."""
        return position_of(PositionTotals(symbol=self.symbol, exchange=Exchange(self.exchange),
                                          product=Product(self.product), buy_quantity=self.bought,
                                          buy_value=self.buy_value, sell_quantity=self.sold,
                                          sell_value=self.sell_value))

    @property
    def open_quantity(self) -> Decimal:
        return self.bought - self.sold

    @property
    def realised(self) -> Decimal:
        """Profit on the quantity bought and sold back, at each side's average price."""
        return self.position.realized_pnl

    @property
    def open_average(self) -> Decimal:
        return self.position.average_price


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
    fills = strategy_fills(strategy.owner, strategy.name)
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
