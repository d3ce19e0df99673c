"""Order requests from request data: the validated body of an order endpoint, or the same
body stored as JSON by the Action Center, into the contract's domain objects."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from brokers.base import ModifyRequest, OrderRequest
from brokers.enums import Action, Exchange, PriceType, Product

Data = Mapping[str, Any]


def number(value: Any) -> Decimal:
    """A validated number (a Decimal), or the text JSON storage turned it into."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def order_request(data: Data, strategy: str = "") -> OrderRequest:
    return OrderRequest(
        symbol=str(data["symbol"]), exchange=Exchange(data["exchange"]), action=Action(data["action"]),
        quantity=number(data["quantity"]), product=Product(data["product"]),
        pricetype=PriceType(data["pricetype"]), price=number(data["price"]),
        trigger_price=number(data["trigger_price"]), disclosed_quantity=int(data["disclosed_quantity"]),
        strategy=str(data.get("strategy", strategy)),
    )


def modify_request(data: Data) -> ModifyRequest:
    return ModifyRequest(
        orderid=str(data["orderid"]), symbol=str(data["symbol"]), exchange=Exchange(data["exchange"]),
        action=Action(data["action"]), product=Product(data["product"]), pricetype=PriceType(data["pricetype"]),
        quantity=number(data["quantity"]), price=number(data["price"]), trigger_price=number(data["trigger_price"]),
        disclosed_quantity=int(data["disclosed_quantity"]), strategy=str(data["strategy"]),
    )
