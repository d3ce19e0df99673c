"""The shapes of Kite Connect v3's payloads (https://kite.trade/docs/connect/v3/), as the
mapping reads them. Every answer is ``{"status": "success", "data": ...}`` or
``{"status": "error", "message": ..., "error_type": ...}``; the ``data`` rows are plain JSON
objects whose documented fields are listed here for the reader."""

from __future__ import annotations

from typing import Any, TypedDict

# One JSON object of Kite's (order, trade, position, holding, quote, GTT): read field by field.
Row = dict[str, Any]


class OrderForm(TypedDict, total=False):
    """``POST /orders/{variety}``: form-encoded, every value a string."""

    tradingsymbol: str
    exchange: str
    transaction_type: str  # BUY | SELL
    order_type: str  # MARKET | LIMIT | SL | SL-M
    quantity: str
    product: str  # CNC | NRML | MIS (MTF, CO exist at Kite, not here)
    price: str
    trigger_price: str
    disclosed_quantity: str
    validity: str  # DAY | IOC | TTL
    market_protection: str  # since 2026-04-01 required on MARKET and SL-M: -1 automatic, 0-100 percent
    tag: str  # alphanumeric, at most 20 characters


class ModifyForm(TypedDict, total=False):
    """``PUT /orders/{variety}/{order_id}``: form-encoded."""

    quantity: str
    price: str
    order_type: str
    trigger_price: str
    validity: str
    disclosed_quantity: str
    market_protection: str


# Fields of an order-book row (GET /orders, GET /orders/{id}, postbacks, WebSocket order frames):
# order_id, exchange_order_id, parent_order_id, status, status_message, status_message_raw,
# order_timestamp ("YYYY-MM-DD HH:MM:SS", IST), exchange_timestamp, variety, exchange, tradingsymbol,
# instrument_token, order_type, transaction_type, validity, product, quantity, disclosed_quantity,
# price, trigger_price, average_price, filled_quantity, pending_quantity, cancelled_quantity,
# market_protection, tag, guid. Postbacks add user_id, app_id, checksum.
ORDER_FIELDS = ("order_id", "status", "order_timestamp", "exchange", "tradingsymbol", "instrument_token",
                "order_type", "transaction_type", "product", "quantity", "price", "trigger_price",
                "average_price", "filled_quantity", "status_message", "tag")

# The instrument dump (GET /instruments, CSV), its columns in order.
INSTRUMENT_COLUMNS = ("instrument_token", "exchange_token", "tradingsymbol", "name", "last_price", "expiry",
                      "strike", "tick_size", "lot_size", "instrument_type", "segment", "exchange")
