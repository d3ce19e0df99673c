"""The shapes of the Dhan payloads we send, as its API documents them (DhanHQ v2)."""

from __future__ import annotations

from typing import TypedDict


class _OrderBodyRequired(TypedDict):
    dhanClientId: str
    transactionType: str  # BUY | SELL
    exchangeSegment: str  # NSE_EQ, NSE_FNO, ...
    productType: str  # CNC | INTRADAY | MARGIN | MTF | CO | BO
    orderType: str  # LIMIT | MARKET | STOP_LOSS | STOP_LOSS_MARKET
    validity: str  # DAY | IOC
    securityId: str
    quantity: int
    disclosedQuantity: int
    price: float
    triggerPrice: float
    afterMarketOrder: bool


class OrderBody(_OrderBodyRequired, total=False):
    """POST /orders."""

    correlationId: str  # our order tag


class ModifyBody(TypedDict):
    """PUT /orders/{order-id}."""

    dhanClientId: str
    orderId: str
    orderType: str
    legName: str
    quantity: int
    price: float
    disclosedQuantity: int
    triggerPrice: float
    validity: str


class _ForeverRequired(TypedDict):
    dhanClientId: str
    orderFlag: str  # SINGLE | OCO
    transactionType: str
    exchangeSegment: str
    productType: str
    orderType: str
    validity: str
    securityId: str
    quantity: int
    disclosedQuantity: int
    price: float
    triggerPrice: float


class ForeverBody(_ForeverRequired, total=False):
    """POST /forever/orders; an OCO adds the target leg's price1, triggerPrice1, quantity1."""

    correlationId: str
    price1: float
    triggerPrice1: float
    quantity1: int


class ForeverModifyBody(TypedDict):
    """PUT /forever/orders/{order-id}: one leg at a time."""

    dhanClientId: str
    orderId: str
    orderFlag: str
    orderType: str
    legName: str  # ENTRY_LEG | TARGET_LEG | STOP_LOSS_LEG
    quantity: int
    price: float
    disclosedQuantity: int
    triggerPrice: float
    validity: str
