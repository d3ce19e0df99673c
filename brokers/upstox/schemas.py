"""The shapes of Upstox's JSON payloads, as its API documentation gives them (v2 reads,
v3 order writes). Only the fields we read or send are listed."""

from __future__ import annotations

from typing import TypedDict


class OrderPayload(TypedDict, total=False):
    """Body of POST /v3/order/place."""

    quantity: int
    product: str  # "I" intraday, "D" delivery / carry-forward, "MTF"
    validity: str  # "DAY" / "IOC"
    price: float
    tag: str
    instrument_token: str  # the instrument_key, e.g. "NSE_EQ|INE062A01020"
    order_type: str  # MARKET / LIMIT / SL / SL-M
    transaction_type: str  # BUY / SELL
    disclosed_quantity: int
    trigger_price: float
    is_amo: bool
    slice: bool
    market_protection: int  # MARKET and SL-M only: -1 broker decides, 0 none, 1..25 percent


class ModifyPayload(TypedDict, total=False):
    """Body of PUT /v3/order/modify."""

    order_id: str
    quantity: int
    validity: str
    price: float
    order_type: str
    disclosed_quantity: int
    trigger_price: float
    market_protection: int


class OrderRow(TypedDict, total=False):
    """One row of GET /v2/order/retrieve-all and /v2/order/details (and the order update)."""

    exchange: str
    product: str
    price: float
    quantity: int
    status: str
    tag: str | None
    instrument_token: str
    trading_symbol: str
    order_type: str
    validity: str
    trigger_price: float
    disclosed_quantity: int
    transaction_type: str
    average_price: float
    filled_quantity: int
    pending_quantity: int
    status_message: str | None
    status_message_raw: str | None
    exchange_order_id: str
    order_id: str
    variety: str
    order_timestamp: str  # "2023-12-11 13:52:01" (IST, no offset)
    is_amo: bool


class TradeRow(TypedDict, total=False):
    exchange: str
    product: str
    trading_symbol: str
    instrument_token: str
    order_type: str
    transaction_type: str
    quantity: int
    exchange_order_id: str
    order_id: str
    exchange_timestamp: str
    average_price: float
    trade_id: str
    order_timestamp: str


class PositionRow(TypedDict, total=False):
    exchange: str
    multiplier: float
    product: str
    instrument_token: str
    trading_symbol: str
    quantity: int
    last_price: float
    day_buy_quantity: int
    day_buy_value: float
    day_sell_quantity: int
    day_sell_value: float
    overnight_buy_quantity: int
    overnight_buy_amount: float
    overnight_sell_quantity: int
    overnight_sell_amount: float


class HoldingRow(TypedDict, total=False):
    exchange: str
    instrument_token: str
    trading_symbol: str
    isin: str
    product: str
    quantity: int
    t1_quantity: int
    average_price: float
    last_price: float


class QuoteRow(TypedDict, total=False):
    """One value of GET /v2/market-quote/quotes ``data`` (keyed "NSE_EQ:SBIN")."""

    instrument_token: str
    last_price: float
    volume: int
    average_price: float
    oi: float
    net_change: float
    total_buy_quantity: float
    total_sell_quantity: float
    ohlc: dict[str, float]
    depth: dict[str, list[dict[str, float]]]  # buy/sell: [{quantity, price, orders}]
    last_trade_time: str  # epoch ms
    timestamp: str


class InstrumentPayload(TypedDict, total=False):
    """One element of the complete.json.gz instrument dump."""

    segment: str  # NSE_EQ, NSE_FO, NCD_FO, BSE_EQ, BSE_FO, BCD_FO, MCX_FO, NSE_INDEX, BSE_INDEX, ...
    name: str
    exchange: str
    isin: str
    instrument_type: str  # EQ (and other series), INDEX, FUT, CE, PE
    instrument_key: str
    exchange_token: str
    trading_symbol: str
    lot_size: int
    tick_size: float  # in paise: 5.0 is a 0.05 rupee tick
    freeze_quantity: float
    expiry: int  # epoch milliseconds
    strike_price: float
    underlying_key: str
    underlying_symbol: str
    weekly: bool


class TokenReply(TypedDict, total=False):
    """POST /v2/login/authorization/token: flat, no ``data`` wrapper."""

    email: str
    user_id: str
    user_name: str
    access_token: str
    extended_token: str
