"""Kite Connect v3's fields <-> ours, both ways, as pure functions (no I/O): tested with
documented payloads alone. Positions go through brokers.positions (P&L is computed there)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
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
from brokers.gtt import BOOK_TYPE, GttLeg, GttRequest, GttStatus, GttTrigger, GttType
from brokers.positions import PositionTotals
from core.values import IST

from .schemas import ModifyForm, OrderForm, Row

SIDES = {Action.BUY: "BUY", Action.SELL: "SELL"}
ORDER_TYPES = {PriceType.MARKET: "MARKET", PriceType.LIMIT: "LIMIT", PriceType.SL: "SL", PriceType.SL_M: "SL-M"}
PRODUCTS = {Product.CNC: "CNC", Product.MIS: "MIS", Product.NRML: "NRML"}
# Kite's products with no OpenAlgo equivalent, read as the nearest one (never sent by us):
# margin trading is held overnight like delivery; cover and bracket orders are intraday.
EXTRA_PRODUCTS = {"MTF": Product.CNC, "CO": Product.MIS, "BO": Product.MIS}
# Every status Kite documents (orders docs; forum comment 28101). The interim states of an
# order on its way in or being changed are still working orders: open.
STATUSES = {
    "OPEN": OrderStatus.OPEN, "COMPLETE": OrderStatus.COMPLETE, "REJECTED": OrderStatus.REJECTED,
    "CANCELLED": OrderStatus.CANCELLED, "TRIGGER PENDING": OrderStatus.TRIGGER_PENDING,
    "PUT ORDER REQ RECEIVED": OrderStatus.OPEN, "VALIDATION PENDING": OrderStatus.OPEN,
    "OPEN PENDING": OrderStatus.OPEN, "MODIFY VALIDATION PENDING": OrderStatus.OPEN,
    "MODIFY PENDING": OrderStatus.OPEN, "CANCEL PENDING": OrderStatus.OPEN, "AMO REQ RECEIVED": OrderStatus.OPEN,
    "MODIFIED": OrderStatus.OPEN, "UPDATE": OrderStatus.OPEN,
}
# Tradable segments carry the same codes at Kite as here.
EXCHANGES = {exchange: str(exchange) for exchange in (Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO,
                                                      Exchange.CDS, Exchange.BCD, Exchange.MCX, Exchange.NCO)}
# Indices are quoted on their exchange's own code ("NSE:NIFTY 50"), never "NSE_INDEX".
INDEX_EXCHANGES = {Exchange.NSE_INDEX: "NSE", Exchange.BSE_INDEX: "BSE", Exchange.MCX_INDEX: "MCX"}
# Kite's historical intervals (the candle API's path segment) for ours; nothing else exists there.
INTERVALS = {"1m": "minute", "3m": "3minute", "5m": "5minute", "10m": "10minute", "15m": "15minute",
             "30m": "30minute", "1h": "60minute", "D": "day"}
# Days of bars Kite answers in one historical request, per interval (forum thread 3105).
INTERVAL_SPAN_DAYS = {"minute": 60, "3minute": 100, "5minute": 100, "10minute": 100, "15minute": 200,
                      "30minute": 200, "60minute": 400, "day": 2000}
# market_protection = -1: Kite sets the protection band itself (its "automatic"). Since
# 2026-04-01 a MARKET or SL-M order without it is refused.
MARKET_PROTECTION_AUTO = "-1"
TAG_LENGTH = 20
GTT_STATUSES = {"active": GttStatus.ACTIVE, "triggered": GttStatus.TRIGGERED, "disabled": GttStatus.CANCELLED,
                "expired": GttStatus.EXPIRED, "cancelled": GttStatus.CANCELLED, "rejected": GttStatus.REJECTED,
                "deleted": GttStatus.CANCELLED}

_SIDE_OF = {theirs: ours for ours, theirs in SIDES.items()}
_TYPE_OF = {theirs: ours for ours, theirs in ORDER_TYPES.items()}
_PRODUCT_OF = {**{theirs: ours for ours, theirs in PRODUCTS.items()}, **EXTRA_PRODUCTS}
_NOT_TAG = re.compile(r"[^A-Za-z0-9]")
ZERO = Decimal(0)


class UnreadablePayload(ValueError):
    """A payload field is missing or not what Kite documents."""


# --- Values ------------------------------------------------------------------------------------

def decimal(value: object) -> Decimal:
    if value is None or value == "":
        return ZERO
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise UnreadablePayload(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise UnreadablePayload(f"not a number: {value!r}")
    return number


def integer(value: object) -> int:
    number = decimal(value)
    if number != number.to_integral_value():
        raise UnreadablePayload(f"not a whole number: {value!r}")
    return int(number)


def ist_time(value: object) -> datetime:
    """Kite's ``YYYY-MM-DD HH:MM:SS`` (IST, no offset) or an ISO time with an offset, as aware UTC."""
    if not isinstance(value, str) or not value:
        raise UnreadablePayload(f"not a timestamp: {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UnreadablePayload(f"not a timestamp: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    return moment.astimezone(UTC)


def their_exchange(exchange: Exchange) -> str:
    code = EXCHANGES.get(exchange) or INDEX_EXCHANGES.get(exchange)
    if code is None:
        raise UnreadablePayload(f"Zerodha does not trade on {exchange}")
    return code


def our_exchange(code: str) -> Exchange:
    try:
        exchange = Exchange(code)
    except ValueError:
        raise UnreadablePayload(f"unknown exchange {code!r}") from None
    if exchange not in EXCHANGES:
        raise UnreadablePayload(f"unknown exchange {code!r}")
    return exchange


def order_tag(tag: str) -> str:
    """Our reference as Kite accepts a tag: letters and digits only, at most 20 of them."""
    return _NOT_TAG.sub("", tag)[:TAG_LENGTH]


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


# --- Ours -> theirs ---------------------------------------------------------------------------

def needs_market_protection(pricetype: PriceType) -> bool:
    return pricetype in (PriceType.MARKET, PriceType.SL_M)


def order_form(request: OrderRequest, brsymbol: str, market_protection: str = MARKET_PROTECTION_AUTO) -> OrderForm:
    form: OrderForm = {
        "tradingsymbol": brsymbol, "exchange": their_exchange(request.exchange),
        "transaction_type": SIDES[request.action], "order_type": ORDER_TYPES[request.pricetype],
        "quantity": str(int(request.quantity)), "product": PRODUCTS[request.product],
        "price": _number(request.price), "trigger_price": _number(request.trigger_price),
        "disclosed_quantity": str(request.disclosed_quantity), "validity": "DAY",
    }
    if needs_market_protection(request.pricetype):
        form["market_protection"] = market_protection
    tag = order_tag(request.tag)
    if tag:
        form["tag"] = tag
    return form


def modify_form(request: ModifyRequest, market_protection: str = MARKET_PROTECTION_AUTO) -> ModifyForm:
    form: ModifyForm = {
        "quantity": str(int(request.quantity)), "order_type": ORDER_TYPES[request.pricetype],
        "price": _number(request.price), "trigger_price": _number(request.trigger_price),
        "disclosed_quantity": str(request.disclosed_quantity), "validity": "DAY",
    }
    if needs_market_protection(request.pricetype):
        form["market_protection"] = market_protection
    return form


def margin_orders(legs: Sequence[tuple[MarginLeg, str]]) -> list[dict[str, Any]]:
    """``POST /margins/basket``'s JSON body: one object per (leg, Kite tradingsymbol)."""
    return [{"exchange": their_exchange(leg.exchange), "tradingsymbol": brsymbol,
             "transaction_type": SIDES[leg.action], "variety": "regular", "product": PRODUCTS[leg.product],
             "order_type": ORDER_TYPES[leg.pricetype], "quantity": int(leg.quantity), "price": float(leg.price),
             "trigger_price": float(leg.trigger_price)} for leg, brsymbol in legs]


def gtt_form(request: GttRequest, brsymbol: str, last_price: Decimal) -> dict[str, str]:
    """``POST /gtt/triggers`` (and PUT): form fields whose values are JSON strings. Legs are
    LIMIT orders at Kite (a MARKET leg is refused there), so a MARKET request's leg is a
    limit at its trigger."""
    exchange = their_exchange(request.exchange)
    side, product = SIDES[request.action], PRODUCTS[request.product]

    def leg(limit: Decimal) -> dict[str, Any]:
        return {"exchange": exchange, "tradingsymbol": brsymbol, "transaction_type": side,
                "quantity": int(request.quantity), "order_type": "LIMIT", "product": product,
                "price": float(limit)}

    if request.trigger_type == GttType.OCO:
        triggers = [request.triggerprice_sl, request.triggerprice_tg]
        orders = [leg(request.stoploss or request.triggerprice_sl), leg(request.target or request.triggerprice_tg)]
    else:
        trigger = request.trigger_prices[0]
        limit = request.price if request.pricetype == PriceType.LIMIT and request.price > 0 else trigger
        triggers, orders = [trigger], [leg(limit)]
    condition = {"exchange": exchange, "tradingsymbol": brsymbol,
                 "trigger_values": [float(value) for value in triggers], "last_price": float(last_price)}
    form = {"type": BOOK_TYPE[request.trigger_type], "condition": json.dumps(condition),
            "orders": json.dumps(orders)}
    if request.expires_at is not None:
        form["expires_at"] = request.expires_at.astimezone(IST).strftime("%Y-%m-%d %H:%M:%S")
    return form


# --- Theirs -> ours (``symbol`` is our name for the row's instrument) -----------------------

def status_of(status: object) -> OrderStatus:
    text = str(status or "").upper()
    known = STATUSES.get(text)
    if known is not None:
        return known
    if text.endswith(("PENDING", "RECEIVED")):
        return OrderStatus.OPEN  # a new interim state of an order still on its way
    raise UnreadablePayload(f"unknown order status {status!r}")


def product_of(code: object) -> Product:
    try:
        return _PRODUCT_OF[str(code)]
    except KeyError:
        raise UnreadablePayload(f"unknown product {code!r}") from None


def side_of(code: object) -> Action:
    try:
        return _SIDE_OF[str(code).upper()]
    except KeyError:
        raise UnreadablePayload(f"unknown transaction type {code!r}") from None


def price_type_of(code: object) -> PriceType:
    try:
        return _TYPE_OF[str(code)]
    except KeyError:
        raise UnreadablePayload(f"unknown order type {code!r}") from None


def broker_order(row: Row, symbol: str) -> BrokerOrder:
    try:
        status = status_of(row["status"])
        reason = row.get("status_message") or row.get("status_message_raw") or ""
        return BrokerOrder(
            orderid=str(row["order_id"]), symbol=symbol, exchange=our_exchange(row["exchange"]),
            action=side_of(row["transaction_type"]), quantity=decimal(row["quantity"]),
            price=decimal(row.get("price")), trigger_price=decimal(row.get("trigger_price")),
            pricetype=price_type_of(row["order_type"]), product=product_of(row["product"]), status=status,
            timestamp=ist_time(row.get("order_timestamp") or row.get("exchange_timestamp")),
            filled_quantity=decimal(row.get("filled_quantity")), average_price=decimal(row.get("average_price")),
            rejection_reason=str(reason) if status == OrderStatus.REJECTED else "", tag=str(row.get("tag") or ""),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"order row lacks {missing}") from None


def trade(row: Row, symbol: str) -> Trade:
    try:
        return Trade(
            orderid=str(row["order_id"]), symbol=symbol, exchange=our_exchange(row["exchange"]),
            action=side_of(row["transaction_type"]), product=product_of(row["product"]),
            quantity=decimal(row["quantity"]), average_price=decimal(row["average_price"]),
            timestamp=ist_time(row.get("fill_timestamp") or row.get("exchange_timestamp")),
            tradeid=str(row.get("trade_id") or ""),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"trade row lacks {missing}") from None


def position_totals(row: Row, symbol: str, lot_size: int = 1) -> PositionTotals:
    """A net-position row as brokers.positions reads it. Kite's ``buy_value`` already carries
    the contract multiplier, so the values are rebuilt from quantity x price. Kite's net
    buy/sell quantities include what was carried overnight; if a row's quantities do not add
    up to its net ``quantity``, the difference is carried at the row's average price."""
    try:
        bought, sold = decimal(row["buy_quantity"]), decimal(row["sell_quantity"])
        net = decimal(row["quantity"])
        carried = net - (bought - sold)
        return PositionTotals(
            symbol=symbol, exchange=our_exchange(row["exchange"]), product=product_of(row["product"]),
            buy_quantity=bought, buy_value=bought * decimal(row.get("buy_price")),
            sell_quantity=sold, sell_value=sold * decimal(row.get("sell_price")),
            ltp=decimal(row.get("last_price")), carry_quantity=carried,
            carry_price=decimal(row.get("average_price")) if carried else ZERO,
            multiplier=decimal(row.get("multiplier")) or Decimal(1), lot_size=lot_size,
        )
    except KeyError as missing:
        raise UnreadablePayload(f"position row lacks {missing}") from None


def holding(row: Row, symbol: str) -> Holding:
    try:
        quantity = decimal(row["quantity"]) + decimal(row.get("t1_quantity"))
        return Holding(symbol=symbol, exchange=our_exchange(row["exchange"]), quantity=quantity,
                       average_price=decimal(row["average_price"]), ltp=decimal(row.get("last_price")),
                       product=product_of(row.get("product") or "CNC"))
    except KeyError as missing:
        raise UnreadablePayload(f"holding row lacks {missing}") from None


def funds(data: Row) -> Funds:
    """``GET /user/margins``: the equity and commodity segments added up."""
    segments = [data[name] for name in ("equity", "commodity") if isinstance(data.get(name), dict)]
    if not segments:
        raise UnreadablePayload("margins without an equity or commodity segment")

    def total(path: tuple[str, ...]) -> Decimal:
        amount = ZERO
        for segment in segments:
            value: Any = segment
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            amount += decimal(value)
        return amount

    return Funds(availablecash=total(("net",)), collateral=total(("available", "collateral")),
                 m2mrealized=total(("utilised", "m2m_realised")),
                 m2munrealized=total(("utilised", "m2m_unrealised")),
                 utiliseddebits=total(("utilised", "debits")))


def margin_result(data: Row) -> MarginResult:
    """``POST /margins/basket``: ``final`` is the margin after netting against positions."""
    final = data.get("final") if isinstance(data.get("final"), dict) else data.get("initial")
    if not isinstance(final, dict):
        raise UnreadablePayload("basket margin without a total")
    return MarginResult(total_margin_required=decimal(final.get("total")), span_margin=decimal(final.get("span")),
                        exposure_margin=decimal(final.get("exposure")))


def _object(value: object) -> Row:
    return value if isinstance(value, dict) else {}


def _levels(rows: object) -> tuple[DepthLevel, ...]:
    if not isinstance(rows, list):
        return ()
    return tuple(DepthLevel(price=decimal(row.get("price")), quantity=integer(row.get("quantity")),
                            orders=integer(row.get("orders"))) for row in rows if decimal(row.get("price")) > 0)


def quote(row: Row) -> Quote:
    """One instrument of ``GET /quote`` (full quote: ohlc, depth, oi)."""
    ohlc = _object(row.get("ohlc"))
    book = _object(row.get("depth"))
    bids, asks = _levels(book.get("buy")), _levels(book.get("sell"))
    stamp = row.get("timestamp")
    return Quote(ltp=decimal(row.get("last_price")), open=decimal(ohlc.get("open")), high=decimal(ohlc.get("high")),
                 low=decimal(ohlc.get("low")), prev_close=decimal(ohlc.get("close")), volume=integer(row.get("volume")),
                 bid=bids[0].price if bids else ZERO, ask=asks[0].price if asks else ZERO, oi=integer(row.get("oi")),
                 timestamp=ist_time(stamp) if stamp else None)


def depth(row: Row) -> Depth:
    book = _object(row.get("depth"))
    return Depth(bids=_levels(book.get("buy")), asks=_levels(book.get("sell")), quote=quote(row))


def candle(row: object) -> Candle:
    """A bar: ``[time, open, high, low, close, volume(, oi)]``, time like ``2015-12-28T09:15:00+0530``."""
    if not isinstance(row, list) or len(row) < 6:
        raise UnreadablePayload(f"short candle {row!r}")
    return Candle(timestamp=int(ist_time(row[0]).timestamp()), open=decimal(row[1]), high=decimal(row[2]),
                  low=decimal(row[3]), close=decimal(row[4]), volume=integer(row[5]),
                  oi=integer(row[6]) if len(row) > 6 else 0)


def gtt_trigger(row: Row, symbol: str, exchange: Exchange) -> GttTrigger:
    try:
        condition = row["condition"]
        legs = tuple(GttLeg(action=side_of(order["transaction_type"]), quantity=decimal(order["quantity"]),
                            price=decimal(order.get("price")),
                            pricetype=price_type_of(order.get("order_type", "LIMIT")),
                            product=product_of(order["product"])) for order in row["orders"])
        status = GTT_STATUSES.get(str(row.get("status")))
        if status is None:
            raise UnreadablePayload(f"unknown GTT status {row.get('status')!r}")
        return GttTrigger(
            trigger_id=str(row["id"]), trigger_type=str(row["type"]), status=status, symbol=symbol,
            exchange=exchange, trigger_prices=tuple(sorted(decimal(v) for v in condition["trigger_values"])),
            last_price=decimal(condition.get("last_price")), legs=legs, created_at=ist_time(row["created_at"]),
            updated_at=ist_time(row["updated_at"]) if row.get("updated_at") else None,
            expires_at=ist_time(row["expires_at"]) if row.get("expires_at") else None,
        )
    except (KeyError, TypeError) as missing:
        raise UnreadablePayload(f"GTT row lacks {missing}") from None
