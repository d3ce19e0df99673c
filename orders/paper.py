"""The sandbox as the trader's pages and the P&L endpoint see it: paper P&L per symbol and
per day (one selector, so the page and ``POST /pnl/symbols`` show the same figures), and the
writes of the Sandbox page: analyze mode, paper settings, starting capital and a funds reset,
each recorded in the audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from accounts import audit
from accounts import services as account_services
from brokers.base import Funds
from brokers.sandbox import books, config, exchange, pnl, sessions
from brokers.sandbox.config import InvalidSettings, PaperSettings
from brokers.sandbox.sessions import OrdersStillWorking as ResetRefused
from core.values import ZERO
from orders import presenters

if TYPE_CHECKING:
    from accounts.models import User

__all__ = ["InvalidSettings", "PaperPnl", "PaperSettings", "ResetRefused", "paper_funds", "paper_pnl", "paper_settings",
           "pnl_symbols_body", "reset_funds", "save_paper_settings", "set_analyze_mode"]


@dataclass(frozen=True, slots=True)
class PaperPnl:
    symbols: list[pnl.SymbolPnl]
    days: list[pnl.DayPnl]

    @property
    def total_pnl(self) -> Decimal:
        return sum((row.pnl for row in self.symbols), ZERO)

    @property
    def total_unrealized_pnl(self) -> Decimal:
        return sum((row.unrealized_pnl for row in self.symbols), ZERO)

    @property
    def total_today_realized_pnl(self) -> Decimal:
        return sum((row.today_realized_pnl for row in self.symbols), ZERO)

    @property
    def total_pnl_today(self) -> Decimal:
        return sum((row.total_pnl_today for row in self.symbols), ZERO)


def paper_pnl(user: User, *, days: int = 30) -> PaperPnl:
    """The sandbox's P&L for ``user``, after the fills that are due (as every paper read)."""
    exchange.sweep(user=user)
    symbols = pnl.symbol_pnl(user)
    return PaperPnl(symbols=symbols, days=pnl.daily_pnl(user, days=days, symbols=symbols))


def pnl_symbols_body(figures: PaperPnl) -> dict[str, Any]:
    """The answer of ``POST /pnl/symbols`` (spec §10.8)."""
    money = presenters.money
    return {
        "status": "success",
        "data": [{"symbol": row.symbol, "exchange": row.exchange, "product": row.product,
                  "quantity": presenters.qty(row.quantity, row.exchange), "pnl": money(row.pnl),
                  "unrealized_pnl": money(row.unrealized_pnl), "today_realized_pnl": money(row.today_realized_pnl),
                  "total_pnl_today": money(row.total_pnl_today)} for row in figures.symbols],
        "total_pnl": money(figures.total_pnl),
        "total_unrealized_pnl": money(figures.total_unrealized_pnl),
        "total_today_realized_pnl": money(figures.total_today_realized_pnl),
        "total_pnl_today": money(figures.total_pnl_today),
        "mode": "analyze",
    }


def set_analyze_mode(*, user: User, on: bool, ip: str = "") -> User:
    """The Sandbox page's toggle: the same service as ``POST /analyzer/toggle``."""
    return account_services.set_analyze_mode(user=user, on=on, actor=user.username, ip=ip)


def paper_settings(user: User) -> dict[str, Any]:
    """The settings form's current values: capital, leverage and square-off times."""
    capital = sessions.starting_capital(user).quantize(Decimal("0.01"))
    return {"starting_capital": capital, **config.settings_for(user.pk).as_dict()}


def save_paper_settings(*, user: User, values: Mapping[str, Any], ip: str = "") -> dict[str, tuple[str, str]]:
    """Check and store the trader's paper settings; raises InvalidSettings (field -> message)
    and changes nothing when a value is out of range. Returns what changed."""
    settings_values = {k: v for k, v in values.items() if k in config.FIELDS}
    config.check(settings_values)  # every value checked before anything is written
    changes: dict[str, tuple[str, str]] = {}
    capital = values.get("starting_capital")
    if capital is not None:
        previous = sessions.set_starting_capital(user, capital)
        if previous != capital:
            changes["starting_capital"] = (f"{previous:.2f}", f"{capital:.2f}")
    changes.update(config.save(user.pk, settings_values))
    if changes:
        audit.record("sandbox_settings_changed", actor=user.username, subject=user.username,
                     detail={name: {"from": old, "to": new} for name, (old, new) in changes.items()}, ip=ip)
    return changes


def reset_funds(*, user: User, ip: str = "") -> Decimal:
    """Start the paper account over: capital restored; paper orders, trades, positions and
    holdings removed. Refused while paper orders are working, so no order in the ledger is
    left pointing at an order the sandbox no longer has. Returns the restored cash."""
    account = sessions.reset_account(user, keep_working=True)
    audit.record("sandbox_funds_reset", actor=user.username, subject=user.username,
                 detail={"capital": f"{account.cash:.2f}", "reset_count": account.reset_count}, ip=ip)
    return account.cash


def paper_funds(user: User) -> Funds:
    """The paper account's funds, as the funds endpoint reads them in analyze mode."""
    exchange.sweep(user=user)
    return books.funds(user)
