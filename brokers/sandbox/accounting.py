"""Margin and position accounting of the paper exchange: pure arithmetic on the rows,
done inside the caller's transaction with the account row locked."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings

from brokers.enums import Action, Product
from brokers.sandbox.models import Account, SandboxHolding, SandboxPosition
from brokers.selectors import InstrumentInfo
from core.values import ZERO


def leverage(info: InstrumentInfo, product: str, table: Mapping[str, object] | None = None) -> Decimal:
    """The trader's ``table`` (brokers/sandbox/config.py) or the installation's; spec §2.9
    defaults: equity MIS 5x, equity CNC 1x, futures 10x, options 1x (full premium)."""
    table = table if table is not None else settings.SANDBOX_LEVERAGE
    if info.kind == "OPT":
        return Decimal(str(table.get("options", 1)))
    if info.kind == "FUT":
        return Decimal(str(table.get("futures", 10)))
    if product == Product.MIS:
        return Decimal(str(table.get("equity_mis", 5)))
    return Decimal(str(table.get("equity_cnc", 1)))


def margin_for(info: InstrumentInfo, product: str, quantity: Decimal, price: Decimal,
               table: Mapping[str, object] | None = None) -> Decimal:
    return (quantity * price / leverage(info, product, table)).quantize(Decimal("0.0001"))


def signed(action: str, quantity: Decimal) -> Decimal:
    return quantity if action == Action.BUY else -quantity


def exposure_added(position_qty: Decimal, action: str, quantity: Decimal) -> Decimal:
    """How much of an order opens new exposure rather than closing the current position."""
    delta = signed(action, quantity)
    if position_qty == 0 or (position_qty > 0) == (delta > 0):
        return quantity
    return max(ZERO, quantity - abs(position_qty))


def block(account: Account, amount: Decimal) -> None:
    account.cash -= amount
    account.used_margin += amount


def release(account: Account, amount: Decimal) -> None:
    account.cash += amount
    account.used_margin -= amount


def realize(account: Account, pnl: Decimal) -> None:
    account.cash += pnl
    account.realized_pnl += pnl
    account.today_realized_pnl += pnl


def apply_fill(account: Account, position: SandboxPosition, info: InstrumentInfo, action: str,
               quantity: Decimal, price: Decimal, table: Mapping[str, object] | None = None) -> Decimal:
    """Book a fill into ``position`` and ``account``; return the P&L it realised.

    Closing first releases the closed share of the position's margin and realises the P&L;
    what is left opens (or adds to) exposure and blocks margin at the fill price."""
    delta = signed(action, quantity)
    held = position.quantity
    realized = ZERO
    if held and (held > 0) != (delta > 0):
        closing = min(abs(delta), abs(held))
        direction = 1 if held > 0 else -1
        realized = (price - position.average_price) * closing * direction
        freed = (position.margin * closing / abs(held)).quantize(Decimal("0.0001"))
        release(account, freed)
        realize(account, realized)
        position.margin -= freed
        position.today_realized_pnl += realized
        held += closing if held < 0 else -closing
        remaining = abs(delta) - closing
        position.quantity = held
        if held == 0:
            release(account, position.margin)  # rounding dust
            position.margin = ZERO
            position.average_price = ZERO
        if remaining == 0:
            return realized
        delta = remaining if delta > 0 else -remaining
    opening = abs(delta)
    new_qty = held + delta
    position.average_price = (
        (abs(held) * position.average_price + opening * price) / abs(new_qty)
    ).quantize(Decimal("0.0001"))
    position.quantity = new_qty
    needed = margin_for(info, position.product, opening, price, table)
    block(account, needed)
    position.margin += needed
    return realized


def sell_from_holding(account: Account, holding: SandboxHolding, quantity: Decimal, price: Decimal) -> Decimal:
    """Deliver shares out of holdings: the proceeds come back as cash, the P&L is realised."""
    cost = holding.average_price * quantity
    realized = (price - holding.average_price) * quantity
    account.cash += cost  # the cost basis returns (the invariant counts holdings at cost)
    realize(account, realized)
    holding.quantity -= quantity
    return realized


def unrealized(position: SandboxPosition, ltp: Decimal) -> Decimal:
    return (ltp - position.average_price) * position.quantity if position.quantity else ZERO
