"""Modify and cancel working paper orders (spec §5.5-5.7), with the spec's messages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from brokers.base import ModifyRequest, OrderNotFound, PlacedOrder
from brokers.enums import Action, OrderStatus, PriceType, Product
from brokers.sandbox import accounting, clock, config, prices
from brokers.sandbox.exchange import check_resting
from brokers.sandbox.fills import announce, cancel
from brokers.sandbox.models import Account, SandboxOrder, SandboxPosition
from brokers.sandbox.rules import BROKER, RESTING, SandboxRejection, check_trigger_side, instrument_for, reference_price
from brokers.sandbox.sessions import ensure_current, locked_account
from core.values import ZERO

if TYPE_CHECKING:
    from brokers.sandbox.models import User


def _locked_order(user: User, orderid: str, at: datetime) -> tuple[Account, SandboxOrder]:
    account = locked_account(user, at)
    order = SandboxOrder.objects.select_for_update().filter(user=user, orderid=orderid).first()
    if order is None:
        raise OrderNotFound(f"Order {orderid} not found")
    return account, order


def modify_order(user: User, request: ModifyRequest, *, at: datetime | None = None) -> PlacedOrder:
    """Change quantity, type and prices of an open or trigger-pending order."""
    at = at or clock.now()
    ensure_current(user, at)
    with transaction.atomic():
        account, order = _locked_order(user, request.orderid, at)
        if order.status not in RESTING:
            raise SandboxRejection(f"Cannot modify order in {order.status} status")
        info = instrument_for(order.symbol, order.exchange)
        pricetype = request.pricetype
        if pricetype in (PriceType.MARKET, PriceType.SL_M) and request.price > 0:
            raise SandboxRejection(f"{pricetype} orders do not accept a price")
        if pricetype in (PriceType.LIMIT, PriceType.SL) and request.price <= 0:
            raise SandboxRejection(f"Price must be greater than 0 for {pricetype} orders")
        if pricetype in (PriceType.SL, PriceType.SL_M) and request.trigger_price <= 0:
            raise SandboxRejection(f"Trigger price must be greater than 0 for {pricetype} orders")
        if info.lotsize > 1 and request.quantity % info.lotsize:
            raise SandboxRejection(f"Quantity must be in multiples of lot size {info.lotsize}")
        check_trigger_side(order.action, pricetype, request.price, request.trigger_price)

        accounting.release(account, order.blocked_margin)
        order.blocked_margin = ZERO
        quote = prices.quote(info, at)
        reference = reference_price(pricetype, request.price, request.trigger_price, quote)
        held = SandboxPosition.objects.filter(
            user=user, symbol=order.symbol, exchange=order.exchange, product=order.product
        ).values_list("quantity", flat=True).first() or ZERO
        adding = accounting.exposure_added(held, order.action, request.quantity)
        needed = ZERO
        if adding and not (order.product == Product.CNC and order.action == Action.SELL):
            needed = accounting.margin_for(info, order.product, adding, reference, config.leverage_for(user.pk))
        if needed > account.cash:
            raise SandboxRejection(f"Insufficient funds. Required margin: {needed:.2f}, "
                                   f"available: {account.cash:.2f}")
        accounting.block(account, needed)
        order.blocked_margin = needed
        order.quantity = request.quantity
        order.pricetype = pricetype
        order.price = request.price if pricetype in (PriceType.LIMIT, PriceType.SL) else ZERO
        order.trigger_price = request.trigger_price if pricetype in (PriceType.SL, PriceType.SL_M) else ZERO
        order.status = OrderStatus.TRIGGER_PENDING if pricetype in (PriceType.SL, PriceType.SL_M) \
            else OrderStatus.OPEN
        order.updated_at = at
        order.save()
        account.save()
        announce(order)
    if quote is not None:
        check_resting(order.pk, quote, at)  # a modification may make it marketable at once
    return PlacedOrder(orderid=order.orderid, message="Order modified successfully")


def cancel_order(user: User, orderid: str, *, at: datetime | None = None) -> PlacedOrder:
    at = at or clock.now()
    ensure_current(user, at)
    with transaction.atomic():
        account, order = _locked_order(user, orderid, at)
        if order.status not in RESTING:
            raise SandboxRejection(f"Cannot cancel order in {order.status} status")
        cancel(account, order, at)
        account.save()
    return PlacedOrder(orderid=orderid, status=OrderStatus.CANCELLED, message="Order cancelled successfully")


def cancel_all(user: User, *, at: datetime | None = None) -> tuple[list[str], list[dict[str, str]]]:
    """Cancel every working order of the account; (cancelled ids, failures)."""
    at = at or clock.now()
    ensure_current(user, at)
    with transaction.atomic():
        account = locked_account(user, at)
        cancelled = []
        for order in SandboxOrder.objects.select_for_update().filter(user=user, status__in=RESTING).order_by("pk"):
            cancel(account, order, at)
            cancelled.append(order.orderid)
        account.save()
    return cancelled, []


__all__ = ["BROKER", "cancel_all", "cancel_order", "modify_order"]
