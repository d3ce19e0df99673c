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
    return {
        "orderid": o.orderid, "symbol": o.symbol, "exchange": o.exchange, "action": o.action,
        "quantity": float(o.quantity), "filled_quantity": float(o.filled_quantity),
        "pending_quantity": float(o.quantity - o.filled_quantity) if o.status in ("open", "trigger pending") else 0.0,
        "price": float(o.price), "trigger_price": float(o.trigger_price), "average_price": float(o.average_price),
        "pricetype": o.pricetype, "product": o.product, "status": o.status, "strategy": o.strategy,
        "rejection_reason": o.rejection_reason, "mode": "analyze", "broker": "sandbox",
    }


def publish(user_id: int, payload: dict) -> None:
    """Hand the update to the order stream (marketdata.events) without ever failing the caller."""
    try:
        from marketdata import events
    except ImportError:
        return
    try:
        events.publish_order_update(user_id, payload)
    except Exception:
        log.exception("Publishing an order update failed")
