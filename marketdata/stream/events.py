"""The order-update stream (websocket.md §7) over the channel layer: order changes are
published to the user's group; connections that sent subscribe_orders are in it."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

# Keys of an order update (§7); orderid, order_status, mode and broker are always present.
ORDER_FIELDS = ("orderid", "symbol", "exchange", "action", "quantity", "price", "trigger_price", "pricetype",
                "product", "order_status", "filled_quantity", "pending_quantity", "average_price",
                "rejection_reason", "mode", "broker")


def order_group(user_id: int) -> str:
    return f"orders.{user_id}"


def publish_order_update(user_id: int, username: str, payload: dict) -> None:
    """Send one order update to the user's connections. Never raises into the caller: an
    order must not fail because a notification could not be delivered."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "order_update", "user_id": username,
               **{key: payload[key] for key in ORDER_FIELDS if key in payload}}
    try:
        async_to_sync(layer.group_send)(order_group(user_id), {"type": "order.update", "message": message})
    except Exception:
        log.exception("Order update for user %s could not be published", user_id)
