"""Paper P&L per symbol and per day: realised P&L is the sum of what each fill realised
(``SandboxTrade.realized_pnl``), unrealised is the open position marked to the current
price, exactly as the position book marks it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Count, Sum

from brokers.sandbox import books, clock
from brokers.sandbox.models import Account, SandboxTrade
from core.values import ZERO

if TYPE_CHECKING:
    from brokers.sandbox.models import User


@dataclass(frozen=True, slots=True)
class SymbolPnl:
    symbol: str
    exchange: str
    product: str
    quantity: Decimal
    average_price: Decimal
    ltp: Decimal
    realized_pnl: Decimal  # everything this symbol realised since the last reset
    unrealized_pnl: Decimal
    today_realized_pnl: Decimal

    @property
    def pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl

    @property
    def total_pnl_today(self) -> Decimal:
        return self.today_realized_pnl + self.unrealized_pnl


@dataclass(frozen=True, slots=True)
class DayPnl:
    session_date: date
    realized_pnl: Decimal
    unrealized_pnl: Decimal  # only the current session has any
    trades: int

    @property
    def pnl(self) -> Decimal:
        return self.realized_pnl + self.unrealized_pnl


def current_session(user: User, at: datetime) -> date:
    account = Account.objects.filter(user=user).values_list("session_date", flat=True).first()
    now = clock.session_date(at)
    return now if account is None else max(now, account)


def symbol_pnl(user: User, at: datetime | None = None) -> list[SymbolPnl]:
    """One row per position of today's position book (open, or closed today) and per
    symbol that realised something today (e.g. a sale out of holdings)."""
    at = at or clock.now()
    today = current_session(user, at)
    trades = SandboxTrade.objects.filter(user=user).values("symbol", "exchange", "product")
    total = {(r["symbol"], r["exchange"], r["product"]): r["realized"] or ZERO
             for r in trades.annotate(realized=Sum("realized_pnl")).order_by()}
    todays = {(r["symbol"], r["exchange"], r["product"]): r["realized"] or ZERO
              for r in trades.filter(session_date=today).annotate(realized=Sum("realized_pnl")).order_by()}
    rows: list[SymbolPnl] = []
    seen = set()
    for position in books.positions(user, at):
        key = (position.symbol, str(position.exchange), str(position.product))
        seen.add(key)
        rows.append(SymbolPnl(
            symbol=key[0], exchange=key[1], product=key[2], quantity=position.quantity,
            average_price=position.average_price, ltp=position.ltp, realized_pnl=total.get(key, ZERO),
            unrealized_pnl=position.unrealized_pnl or ZERO, today_realized_pnl=todays.get(key, ZERO)))
    for key in sorted(set(todays) - seen):
        rows.append(SymbolPnl(symbol=key[0], exchange=key[1], product=key[2], quantity=ZERO, average_price=ZERO,
                              ltp=ZERO, realized_pnl=total.get(key, ZERO), unrealized_pnl=ZERO,
                              today_realized_pnl=todays[key]))
    return rows


def daily_pnl(user: User, at: datetime | None = None, days: int = 30,
              symbols: list[SymbolPnl] | None = None) -> list[DayPnl]:
    """The last ``days`` sessions with trades (and the current one), newest first; ``symbols``
    are today's rows of ``symbol_pnl`` when the caller has them already."""
    at = at or clock.now()
    today = current_session(user, at)
    per_day = (SandboxTrade.objects.filter(user=user).values("session_date")
               .annotate(realized=Sum("realized_pnl"), trades=Count("pk")).order_by("-session_date")[:days])
    rows = symbols if symbols is not None else symbol_pnl(user, at)
    unrealized = sum((row.unrealized_pnl for row in rows), ZERO)
    result = [DayPnl(session_date=row["session_date"], realized_pnl=row["realized"] or ZERO,
                     unrealized_pnl=unrealized if row["session_date"] == today else ZERO, trades=row["trades"])
              for row in per_day]
    if unrealized and not any(day.session_date == today for day in result):
        result.insert(0, DayPnl(session_date=today, realized_pnl=ZERO, unrealized_pnl=unrealized, trades=0))
    return result
