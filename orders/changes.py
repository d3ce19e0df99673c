"""Changes to working orders and the account-wide sweeps: modify, cancel, cancel all,
close all positions. The kill switch uses the sweeps (orders/killswitch.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from accounts import audit
from brokers.base import BrokerError, ModifyRequest, OrderRequest, PlacedOrder, cancel_all_adapter
from brokers.enums import Action, OrderStatus, PriceType, Product
from orders import risk
from orders.ledger import record_cancelled, row_for
from orders.models import Order, OrderEvent
from orders.routing import adapter_for
from orders.sending import open_row, pace_order_call, send

if TYPE_CHECKING:
    from accounts.models import User


def modify_order(*, user: User, request: ModifyRequest) -> PlacedOrder:
    adapter = adapter_for(user)
    limits = risk.limits_for(user)
    if limits is not None:
        risk.check_modify(user, adapter, request, limits)
    pace_order_call(user, adapter)
    placed = adapter.modify_order(request)
    audit.record("order_modified", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                 detail={"orderid": request.orderid, "quantity": str(request.quantity), "price": str(request.price),
                         "trigger_price": str(request.trigger_price), "pricetype": str(request.pricetype)})
    order = row_for(user, adapter.name, request.orderid)
    if order is not None:
        with transaction.atomic():
            OrderEvent.objects.create(order=order, from_status=order.status, to_status=order.status,
                                      source="modify", detail={"quantity": str(request.quantity),
                                                               "price": str(request.price),
                                                               "trigger_price": str(request.trigger_price),
                                                               "pricetype": str(request.pricetype)})
            Order.objects.filter(pk=order.pk).update(
                quantity=request.quantity, price=request.price, trigger_price=request.trigger_price,
                pricetype=request.pricetype, updated_at=timezone.now())
    return placed


def cancel_order(*, user: User, orderid: str) -> PlacedOrder:
    adapter = adapter_for(user)
    pace_order_call(user, adapter)
    placed = adapter.cancel_order(orderid)
    record_cancelled(user, adapter.name, orderid, source="cancel")
    return placed


def cancel_all_orders(*, user: User) -> tuple[list[str], list[Any]]:
    """Cancel every working order of the account: (cancelled, failed). A broker that
    declares ``cancel_all`` does it in one call (the paper engine's failures are
    {"orderid", "message"} objects, spec §5.7); the others one order at a time."""
    adapter = adapter_for(user)
    cancelled: list[str]
    failed: list[Any]
    if adapter.capabilities.cancel_all:
        pace_order_call(user, adapter)
        cancelled, failed = cancel_all_adapter(adapter).cancel_all_orders()
    else:
        cancelled, failed = [], []
        for working in adapter.order_book():
            if working.status not in (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING):
                continue
            try:
                pace_order_call(user, adapter)
                adapter.cancel_order(working.orderid)
                cancelled.append(working.orderid)
            except BrokerError:
                failed.append(working.orderid)
    for orderid in cancelled:
        record_cancelled(user, adapter.name, orderid, source="cancelall")
    return cancelled, failed


def close_all_positions(*, user: User, source: str = "closeposition") -> tuple[int, int]:
    """Square off every open position of the account with MARKET orders: (closed, failed).
    These orders only reduce risk, so no limit stands in their way (risk.EXEMPT_SOURCES)."""
    adapter = adapter_for(user)
    closed = failed = 0
    for position in adapter.positions():
        if not position.quantity:
            continue
        request = OrderRequest(
            symbol=position.symbol, exchange=position.exchange,
            action=Action.SELL if position.quantity > 0 else Action.BUY, quantity=abs(position.quantity),
            product=Product(position.product), pricetype=PriceType.MARKET, strategy="Squareoff",
        )
        try:
            pace_order_call(user, adapter)
            send(user, adapter, open_row(user, adapter, request, source), request)
            closed += 1
        except BrokerError:
            failed += 1
    return closed, failed
