"""The order event: one message for every change of an order's state, whichever process
made it (web for API orders, feed for paper fills, worker for strategies and
reconciliation). It is published after the change commits, on the process bus
(core.bus), and every web process hands it to its WebSocket order streams. Consumers
deduplicate on (orderid, order_status, filled_quantity)."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import TypeAlias

from django.db import transaction

from brokers import registry
from brokers.base import BrokerOrder
from core import bus
from orders.models import Order

log = logging.getLogger(__name__)

# An order update or a frame of the order stream: a JSON object (str, int, float or None values).
Message: TypeAlias = dict[str, object]

TOPIC_PREFIX = b"ev.order."  # no feed owner looks like this, so tick subscribers never see one

# Keys of an order update (websocket.md §7); orderid, order_status, mode and broker are always present.
ORDER_FIELDS = ("orderid", "symbol", "exchange", "action", "quantity", "price", "trigger_price", "pricetype",
                "product", "order_status", "filled_quantity", "pending_quantity", "average_price",
                "rejection_reason", "mode", "broker")


def topic_for(user_id: int) -> bytes:
    return TOPIC_PREFIX + str(user_id).encode()


def ledger_update_payload(order: Order) -> Message:
    """The order update of a ledger row (§7): mode "analyze" for the paper engine's orders."""
    resting = order.status in ("open", "trigger pending")
    return {
        "orderid": order.broker_order_id, "symbol": order.symbol, "exchange": order.exchange,
        "action": order.action, "quantity": int(order.quantity), "price": float(order.price),
        "trigger_price": float(order.trigger_price), "pricetype": order.pricetype, "product": order.product,
        "order_status": str(order.status), "filled_quantity": int(order.filled_quantity),
        "pending_quantity": int(order.quantity - order.filled_quantity) if resting else 0,
        "average_price": float(order.average_price), "rejection_reason": order.message,
        "mode": "analyze" if order.analyze or registry.is_paper(order.broker) else "live", "broker": order.broker,
    }


def broker_order_payload(broker_order: BrokerOrder, *, broker: str, mode: str) -> Message:
    """The order update of an order the broker made itself and our ledger never sent
    (e.g. the paper exchange's square-off at the cut-off time)."""
    resting = broker_order.status in ("open", "trigger pending")
    return {
        "orderid": broker_order.orderid, "symbol": broker_order.symbol, "exchange": str(broker_order.exchange),
        "action": str(broker_order.action), "quantity": int(broker_order.quantity),
        "price": float(broker_order.price), "trigger_price": float(broker_order.trigger_price),
        "pricetype": str(broker_order.pricetype), "product": str(broker_order.product),
        "order_status": str(broker_order.status), "filled_quantity": int(broker_order.filled_quantity),
        "pending_quantity": int(broker_order.quantity - broker_order.filled_quantity) if resting else 0,
        "average_price": float(broker_order.average_price), "rejection_reason": broker_order.rejection_reason,
        "mode": mode, "broker": broker,
    }


def order_update_message(username: str, payload: Message) -> Message:
    """The frame a subscribe_orders connection receives (§7)."""
    return {"type": "order_update", "user_id": username,
            **{key: payload[key] for key in ORDER_FIELDS if key in payload}}


def dedupe_key(message: Message) -> tuple[object, object, object]:
    return message.get("orderid"), message.get("order_status"), message.get("filled_quantity")


def encode(user_id: int, message: Message) -> bytes:
    return json.dumps({"user": user_id, "message": message}, separators=(",", ":")).encode()


def decode(payload: bytes) -> tuple[int, Message]:
    event = json.loads(payload)
    return int(event["user"]), event["message"]


def publish_now(user_id: int, message: Message) -> None:
    """Put one order event on the bus. Never raises into the caller: the order has moved
    whether or not anyone could be told."""
    try:
        bus.publish(topic_for(user_id), encode(user_id, message))
    except Exception:
        log.exception("Order event for user %s could not be published", user_id)


def announce(order: Order) -> None:
    """The ledger row ``order`` just moved: publish its update once the change commits.
    The payload is taken now, so a later change in the same transaction has its own."""
    try:
        message = order_update_message(order.user.username, ledger_update_payload(order))
    except Exception:  # the order has moved all the same; never fail it for its notification
        log.exception("Order event for ledger row %s could not be built", order.pk)
        return
    transaction.on_commit(partial(publish_now, order.user_id, message))


def announce_broker_order(user_id: int, username: str, payload: Message) -> None:
    transaction.on_commit(partial(publish_now, user_id, order_update_message(username, payload)))
