"""Dhan's fields <-> ours, both ways, as pure functions (no I/O): tested with documented
payloads alone. Dhan names an instrument by (exchangeSegment, securityId), never by symbol,
so every reader takes our symbol for the row, found by the adapter in the master contract."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from brokers.base import (
    BrokerOrder,
    Candle,
    Depth,
    DepthLevel,
    Funds,
    Holding,
    MarginLeg,
    MarginResult,
    ModifyRequest,
    OrderRequest,
    Quote,
    Trade,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import PositionTotals
from core.values import IST

from .schemas import ModifyBody, OrderBody

SIDES = {Action.BUY: "BUY", Action.SELL: "SELL"}
ORDER_TYPES = {PriceType.MARKET: "MARKET", PriceType.LIMIT: "LIMIT", PriceType.SL: "STOP_LOSS",
               PriceType.SL_M: "STOP_LOSS_MARKET"}
PRODUCTS = {Product.CNC: "CNC", Product.MIS: "INTRADAY", Product.NRML: "MARGIN"}
# Dhan's order statuses. It has no trigger-pending state (a stop order waits as PENDING);
# PART_TRADED is still working; EXPIRED (validity ran out, e.g. an IOC) is a cancellation.
STATUSES = {"TRANSIT": OrderStatus.OPEN, "PENDING": OrderStatus.OPEN, "PART_TRADED": OrderStatus.OPEN,
            "CONFIRM": OrderStatus.OPEN, "TRADED": OrderStatus.COMPLETE, "REJECTED": OrderStatus.REJECTED,
            "CANCELLED": OrderStatus.CANCELLED, "EXPIRED": OrderStatus.CANCELLED}
# Our exchange -> Dhan's exchangeSegment. Both index exchanges share IDX_I.
SEGMENTS = {Exchange.NSE: "NSE_EQ", Exchange.BSE: "BSE_EQ", Exchange.NFO: "NSE_FNO", Exchange.BFO: "BSE_FNO",
            Exchange.CDS: "NSE_CURRENCY", Exchange.BCD: "BSE_CURRENCY", Exchange.MCX: "MCX_COMM",
            Exchange.NSE_INDEX: "IDX_I", Exchange.BSE_INDEX: "IDX_I"}
# The feed's numeric segment codes (annexure); there is no 6.
SEGMENT_CODES = {"IDX_I": 0, "NSE_EQ": 1, "NSE_FNO": 2, "NSE_CURRENCY": 3, "BSE_EQ": 4, "MCX_COMM": 5,
                 "BSE_CURRENCY": 7, "BSE_FNO": 8}
# Chart intervals: ours -> Dhan's intraday minutes ("D" is the daily endpoint). Dhan's 25m has no name of ours.
INTRADAY_INTERVALS = {"1m": "1", "5m": "5", "15m": "15", "1h": "60"}
INTERVALS = (*INTRADAY_INTERVALS, "D")
# correlationId: Dhan documents no limit; OpenAlgo cuts at 30. We keep 25 safe characters.
TAG_LENGTH = 25
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

_SIDE_OF = {theirs: ours for ours, theirs in SIDES.items()}
_TYPE_OF = {theirs: ours for ours, theirs in ORDER_TYPES.items()}
_PRODUCT_OF = {theirs: ours for ours, theirs in PRODUCTS.items()}
_EXCHANGES_OF: dict[str, tuple[Exchange, ...]] = {
    "NSE_EQ": (Exchange.NSE,), "BSE_EQ": (Exchange.BSE,), "NSE_FNO": (Exchange.NFO,), "BSE_FNO": (Exchange.BFO,),
    "NSE_CURRENCY": (Exchange.CDS,), "BSE_CURRENCY": (Exchange.BCD,), "MCX_COMM": (Exchange.MCX,),
    "IDX_I": (Exchange.NSE_INDEX, Exchange.BSE_INDEX),
}
SEGMENT_OF_CODE = {code: name for name, code in SEGMENT_CODES.items()}


class UnreadablePayload(ValueError):
    """A payload field is missing or not what Dhan documents."""


# --- Vocabulary ---------------------------------------------------------------------------------

def segment(exchange: Exchange) -> str:
    try:
        return SEGMENTS[exchange]
    except KeyError:
        raise UnreadablePayload(f"Dhan does not trade on {exchange}") from None


def exchanges_of(segment_name: str) -> tuple[Exchange, ...]:
    """Our exchanges a Dhan segment may stand for (IDX_I: NSE's and BSE's indices)."""
    try:
        return _EXCHANGES_OF[segment_name]
    except KeyError:
        raise UnreadablePayload(f"unknown exchange segment {segment_name!r}") from None


def product_of(product: str) -> Product:
    """Our product for Dhan's; its CO and BO are intraday, MTF is delivery on margin."""
    if product in ("CO", "BO"):
        return Product.MIS
    if product == "MTF":
        return Product.CNC
    try:
        return _PRODUCT_OF[product]
    except KeyError:
        raise UnreadablePayload(f"unknown product {product!r}") from None


def status_of(status: str) -> OrderStatus:
    try:
        return STATUSES[status.upper()]
    except KeyError:
        raise UnreadablePayload(f"unknown order status {status!r}") from None


def correlation_id(tag: str) -> str:
    """Our order tag as Dhan's correlationId: safe characters only, at most TAG_LENGTH."""
    return _TAG_UNSAFE.sub("", tag)[:TAG_LENGTH]


def decimal(value: object) -> Decimal:
    if value is None or value == "":
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise UnreadablePayload(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise UnreadablePayload(f"not a number: {value!r}")
    return number


def price(value: float) -> Decimal:
    """A price Dhan sent as a float (JSON or float32): rupees to the paisa."""
    return Decimal(repr(float(value))).quantize(Decimal("0.01"))


def ist_time(value: object) -> datetime:
    """Dhan's ``2021-11-24 13:33:03`` (IST, no offset) as an aware datetime."""
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise UnreadablePayload(f"not a timestamp: {value!r}") from None
    return moment.replace(tzinfo=IST) if moment.tzinfo is None else moment


def first_time(row: Mapping[str, Any], *names: str) -> datetime:
    """The first of ``names`` holding a real time: Dhan fills unknown ones with
    ``0001-01-01 00:00:00``, ``NA`` or null (an order not yet at the exchange)."""
    for name in names:
        value = row.get(name)
        if value in (None, "", "NA"):
            continue
        try:
            moment = ist_time(value)
        except UnreadablePayload:
            continue
        if moment.year >= 1980:
            return moment
    raise UnreadablePayload(f"no time in {', '.join(names)}")


def _amount(value: Decimal) -> float:
    """Dhan takes prices as JSON numbers."""
    return float(value)


# --- Ours -> theirs -----------------------------------------------------------------------------

def order_body(request: OrderRequest, *, client_id: str, security_id: str) -> OrderBody:
    body: OrderBody = {
        "dhanClientId": client_id, "transactionType": SIDES[request.action],
        "exchangeSegment": segment(request.exchange), "productType": PRODUCTS[request.product],
        "orderType": ORDER_TYPES[request.pricetype], "validity": "DAY", "securityId": security_id,
        "quantity": int(request.quantity), "disclosedQuantity": request.disclosed_quantity,
        "price": _amount(request.price) if request.pricetype in (PriceType.LIMIT, PriceType.SL) else 0.0,
        "triggerPrice": _amount(request.trigger_price) if request.pricetype in (PriceType.SL, PriceType.SL_M) else 0.0,
        "afterMarketOrder": False,
    }
    tag = correlation_id(request.tag)
    if tag:
        body["correlationId"] = tag
    return body


def modify_body(request: ModifyRequest, *, client_id: str) -> ModifyBody:
    """Dhan's modify: ``quantity`` is the order's whole quantity (not what is left)."""
    return {
        "dhanClientId": client_id, "orderId": request.orderid, "orderType": ORDER_TYPES[request.pricetype],
        "legName": "", "quantity": int(request.quantity),
        "price": _amount(request.price) if request.pricetype in (PriceType.LIMIT, PriceType.SL) else 0.0,
        "disclosedQuantity": request.disclosed_quantity,
        "triggerPrice": _amount(request.trigger_price) if request.pricetype in (PriceType.SL, PriceType.SL_M) else 0.0,
        "validity": "DAY",
    }


def margin_body(leg: MarginLeg, *, client_id: str, security_id: str, last_price: Decimal) -> dict[str, Any]:
    """One leg for /margincalculator; a market leg is priced at the last price."""
    leg_price = leg.price if leg.pricetype in (PriceType.LIMIT, PriceType.SL) and leg.price else last_price
    return {"dhanClientId": client_id, "exchangeSegment": segment(leg.exchange),
            "transactionType": SIDES[leg.action], "quantity": int(leg.quantity),
            "productType": PRODUCTS[leg.product], "securityId": security_id, "price": _amount(leg_price),
            "triggerPrice": _amount(leg.trigger_price)}


# --- Theirs -> ours -----------------------------------------------------------------------------

def _field(row: Mapping[str, Any], name: str) -> Any:
    try:
        return row[name]
    except KeyError:
        raise UnreadablePayload(f"row lacks {name!r}") from None


def _one(table: Mapping[str, Any], key: object, what: str) -> Any:
    try:
        return table[str(key)]
    except KeyError:
        raise UnreadablePayload(f"unknown {what} {key!r}") from None


def broker_order(row: Mapping[str, Any], symbol: str, exchange: Exchange) -> BrokerOrder:
    status = str(_field(row, "orderStatus"))
    filled = row.get("filledQty")
    if filled is None:  # older rows: filled = quantity - remaining
        remaining = row.get("remainingQuantity")
        filled = int(row["quantity"]) - int(remaining) if remaining is not None else 0
    return BrokerOrder(
        orderid=str(_field(row, "orderId")), symbol=symbol, exchange=exchange,
        action=_one(_SIDE_OF, _field(row, "transactionType"), "side"),
        quantity=decimal(_field(row, "quantity")), price=decimal(row.get("price")),
        trigger_price=decimal(row.get("triggerPrice")),
        pricetype=_one(_TYPE_OF, _field(row, "orderType"), "order type"),
        product=product_of(str(_field(row, "productType"))), status=status_of(status),
        timestamp=first_time(row, "updateTime", "createTime", "exchangeTime"),
        filled_quantity=decimal(filled), average_price=decimal(row.get("averageTradedPrice")),
        rejection_reason=str(row.get("omsErrorDescription") or "") if status.upper() == "REJECTED" else "",
        tag=str(row.get("correlationId") or ""),
    )


def trade(row: Mapping[str, Any], symbol: str, exchange: Exchange) -> Trade:
    return Trade(
        orderid=str(_field(row, "orderId")), symbol=symbol, exchange=exchange,
        action=_one(_SIDE_OF, _field(row, "transactionType"), "side"),
        product=product_of(str(_field(row, "productType"))), quantity=decimal(_field(row, "tradedQuantity")),
        average_price=decimal(_field(row, "tradedPrice")),
        timestamp=first_time(row, "exchangeTime", "updateTime", "createTime"),
        tradeid=str(row.get("exchangeTradeId") or ""),
    )


def position_totals(row: Mapping[str, Any], symbol: str, exchange: Exchange, ltp: Decimal,
                    lot_size: int = 1) -> PositionTotals:
    """What Dhan reports of a position, for brokers.positions to net: today's buys and sells
    plus the carried-forward ones (each side with its value), and the contract multiplier
    (currency contracts quote per unit of a lot of 1000: ``multiplier``)."""
    carry_buy, carry_sell = decimal(row.get("carryForwardBuyQty")), decimal(row.get("carryForwardSellQty"))
    return PositionTotals(
        symbol=symbol, exchange=exchange, product=product_of(str(_field(row, "productType"))),
        buy_quantity=decimal(row.get("dayBuyQty")) + carry_buy,
        buy_value=decimal(row.get("dayBuyValue")) + decimal(row.get("carryForwardBuyValue")),
        sell_quantity=decimal(row.get("daySellQty")) + carry_sell,
        sell_value=decimal(row.get("daySellValue")) + decimal(row.get("carryForwardSellValue")),
        ltp=ltp, multiplier=decimal(row.get("multiplier")) or Decimal(1), lot_size=lot_size,
    )


def reported_ltp(row: Mapping[str, Any]) -> Decimal:
    """The last price Dhan's own P&L implies (it sends no LTP with a position): used only
    when the quote call for positions fails."""
    net = decimal(row.get("netQty"))
    multiplier = decimal(row.get("multiplier")) or Decimal(1)
    if not net:
        return Decimal(0)
    return (decimal(row.get("costPrice")) + decimal(row.get("unrealizedProfit")) / (net * multiplier)).quantize(
        Decimal("0.01"))


def holding(row: Mapping[str, Any], symbol: str, exchange: Exchange, ltp: Decimal) -> Holding:
    return Holding(symbol=symbol, exchange=exchange, quantity=decimal(_field(row, "totalQty")),
                   average_price=decimal(row.get("avgCostPrice")), ltp=ltp)


def funds(payload: Mapping[str, Any]) -> Funds:
    # "availabelBalance" is Dhan's spelling; read the corrected one too, should they fix it.
    available = payload.get("availabelBalance", payload.get("availableBalance"))
    return Funds(availablecash=decimal(available), collateral=decimal(payload.get("collateralAmount")),
                 m2mrealized=Decimal(0), m2munrealized=Decimal(0),
                 utiliseddebits=decimal(payload.get("utilizedAmount")),
                 extra={key: payload[key] for key in ("sodLimit", "withdrawableBalance", "receiveableAmount",
                                                      "blockedPayoutAmount") if key in payload})


def margin(payload: Mapping[str, Any]) -> MarginResult:
    return MarginResult(total_margin_required=decimal(_field(payload, "totalMargin")),
                        span_margin=decimal(payload.get("spanMargin")),
                        exposure_margin=decimal(payload.get("exposureMargin")))


def _levels(rows: object) -> tuple[DepthLevel, ...]:
    if not isinstance(rows, list):
        return ()
    return tuple(DepthLevel(price=decimal(row.get("price")), quantity=int(row.get("quantity") or 0),
                            orders=int(row.get("orders") or 0))
                 for row in rows if isinstance(row, dict) and decimal(row.get("price")) > 0)


def quote(payload: Mapping[str, Any]) -> Quote:
    """One instrument of /marketfeed/quote (or /ohlc, /ltp: what is missing is 0)."""
    ohlc = payload.get("ohlc") or {}
    depth_rows = payload.get("depth") or {}
    bids, asks = _levels(depth_rows.get("buy")), _levels(depth_rows.get("sell"))
    return Quote(ltp=decimal(payload.get("last_price")), open=decimal(ohlc.get("open")),
                 high=decimal(ohlc.get("high")), low=decimal(ohlc.get("low")), prev_close=decimal(ohlc.get("close")),
                 volume=int(payload.get("volume") or 0), bid=bids[0].price if bids else Decimal(0),
                 ask=asks[0].price if asks else Decimal(0), oi=int(payload.get("oi") or 0))


def depth(payload: Mapping[str, Any]) -> Depth:
    depth_rows = payload.get("depth") or {}
    return Depth(bids=_levels(depth_rows.get("buy")), asks=_levels(depth_rows.get("sell")), quote=quote(payload))


def candles(payload: Mapping[str, Any]) -> list[Candle]:
    """Dhan's columnar bars ({open[], high[], ..., timestamp[] epoch s}) as rows."""
    try:
        stamps = payload["timestamp"]
        columns = [payload[name] for name in ("open", "high", "low", "close", "volume")]
    except KeyError as missing:
        raise UnreadablePayload(f"bars lack {missing}") from None
    interest = payload.get("open_interest") or []
    if any(len(column) != len(stamps) for column in columns):
        raise UnreadablePayload("bar columns of different lengths")
    opens, highs, lows, closes, volumes = columns
    return [Candle(timestamp=int(stamp), open=price(opens[i]), high=price(highs[i]), low=price(lows[i]),
                   close=price(closes[i]), volume=int(volumes[i]),
                   oi=int(interest[i]) if i < len(interest) and interest[i] is not None else 0)
            for i, stamp in enumerate(stamps)]
