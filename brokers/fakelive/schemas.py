"""The shapes of FakeLive's JSON payloads (a made-up broker API, shaped like the real
ones: snake_case fields, its own names for sides, order types and statuses)."""

from __future__ import annotations

from typing import TypedDict


class OrderPayload(TypedDict, total=False):
    tradingsymbol: str
    exchange: str
    transaction_type: str  # "B" / "S"
    quantity: int
    order_type: str  # "MKT", "LMT", "SL", "SLM"
    product: str  # "D" delivery, "I" intraday, "C" carry-forward
    price: str
    trigger_price: str
    disclosed_quantity: int
    tag: str


class OrderRow(TypedDict, total=False):
    order_id: str
    tradingsymbol: str
    exchange: str
    instrument_token: str
    transaction_type: str
    quantity: int
    filled_quantity: int
    price: str
    trigger_price: str
    average_price: str
    order_type: str
    product: str
    status: str  # "OPEN", "TRIGGER_PENDING", "COMPLETE", "REJECTED", "CANCELLED"
    status_message: str
    order_timestamp: str  # ISO 8601 with offset
    tag: str


class TradeRow(TypedDict, total=False):
    trade_id: str
    order_id: str
    tradingsymbol: str
    exchange: str
    instrument_token: str
    transaction_type: str
    product: str
    quantity: int
    average_price: str
    fill_timestamp: str
    tag: str


class PositionRow(TypedDict, total=False):
    tradingsymbol: str
    exchange: str
    instrument_token: str
    product: str
    quantity: int
    average_price: str
    last_price: str
    pnl: str
    realised: str
    unrealised: str


class HoldingRow(TypedDict, total=False):
    tradingsymbol: str
    exchange: str
    instrument_token: str
    quantity: int
    average_price: str
    last_price: str


class MarginsPayload(TypedDict, total=False):
    available_cash: str
    collateral: str
    realised_m2m: str
    unrealised_m2m: str
    utilised: str


class QuotePayload(TypedDict, total=False):
    last_price: str
    ohlc: dict[str, str]
    volume: int
    oi: int
    depth: dict[str, list[dict[str, str | int]]]  # "buy"/"sell": [{price, quantity, orders}]
    timestamp: str


class InstrumentPayload(TypedDict, total=False):
    instrument_token: str
    tradingsymbol: str
    name: str
    exchange: str
    segment: str
    expiry: str  # "YYYY-MM-DD" or ""
    strike: str
    lot_size: int
    tick_size: str
    instrument_type: str  # "EQ", "IDX", "FUT", "CE", "PE"
    freeze_quantity: int


class SessionPayload(TypedDict, total=False):
    access_token: str
    feed_token: str
    user_id: str
