"""Order updates: the sandbox tells us when its orders move (fills on later ticks, expiry,
square-off); we complete the ledger row and publish the update for the order stream."""

from __future__ import annotations

import logging

from django.db import transaction

from orders.models import TRANSITIONS, LedgerStatus, Order

log = logging.getLogger(__name__)


def on_sandbox_order(user_id: int, sandbox_order) -> None:
    status = str(sandbox_order.status)
    order = Order.objects.filter(broker="sandbox", broker_order_id=sandbox_order.orderid, user_id=user_id).first()
    if order is not None and status != order.status and status in TRANSITIONS[order.status]:
        with transaction.atomic():
            event = order.move_to(LedgerStatus(status), source="sandbox",
                                  detail={"average_price": str(sandbox_order.average_price)})
            order.filled_quantity = sandbox_order.filled_quantity
            order.average_price = sandbox_order.average_price
            order.message = sandbox_order.rejection_reason or order.message
            order.save()
            event.save()
    publish(user_id, order_update_payload(sandbox_order))


def order_update_payload(o) -> dict:
    """websocket.md §7: the paper engine's orders are mode "analyze", broker "sandbox"."""
    resting = o.status in ("open", "trigger pending")
    return {
        "orderid": o.orderid, "symbol": o.symbol, "exchange": o.exchange, "action": o.action,
        "quantity": int(o.quantity), "price": float(o.price), "trigger_price": float(o.trigger_price),
        "pricetype": o.pricetype, "product": o.product, "order_status": o.status,
        "filled_quantity": int(o.filled_quantity), "pending_quantity": int(o.quantity - o.filled_quantity)
        if resting else 0, "average_price": float(o.average_price), "rejection_reason": o.rejection_reason,
        "mode": "analyze", "broker": "sandbox",
    }


def ledger_update_payload(order: Order) -> dict:
    """An order update for a live broker's order, from our ledger row (§7, mode "live")."""
    return {
        "orderid": order.broker_order_id, "symbol": order.symbol, "exchange": order.exchange,
        "action": order.action, "quantity": int(order.quantity), "price": float(order.price),
        "trigger_price": float(order.trigger_price), "pricetype": order.pricetype, "product": order.product,
        "order_status": order.status, "filled_quantity": int(order.filled_quantity),
        "pending_quantity": int(order.quantity - order.filled_quantity) if order.status in ("open",
                                                                                             "trigger pending") else 0,
        "average_price": float(order.average_price), "rejection_reason": order.message,
        "mode": "analyze" if order.analyze else "live", "broker": order.broker,
    }


def publish(user_id: int, payload: dict) -> None:
    """Hand the update to the order stream without ever failing the caller."""
    from accounts.models import User
    from marketdata.stream.events import publish_order_update

    try:
        username = User.objects.filter(pk=user_id).values_list("username", flat=True).first() or str(user_id)
        publish_order_update(user_id, username, payload)
    except Exception:
        log.exception("Publishing an order update failed")
