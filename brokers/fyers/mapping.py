"""Fyers' fields <-> ours, both ways, as pure functions (no I/O): tested with documented
payloads alone. Symbols are resolved by the adapter (``symbol`` arguments are already ours);
the master contract's rows are read in instruments.py."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    Position,
    Quote,
    Trade,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import PositionTotals, position_of
from core.values import IST

# --- Vocabularies (Docs "Orders" constants) ------------------------------------------------------

SIDES = {Action.BUY: 1, Action.SELL: -1}
# 1 limit, 2 market, 3 stop (SL-M), 4 stop-limit (SL).
ORDER_TYPES = {PriceType.LIMIT: 1, PriceType.MARKET: 2, PriceType.SL_M: 3, PriceType.SL: 4}
PRODUCTS = {Product.CNC: "CNC", Product.NRML: "MARGIN", Product.MIS: "INTRADAY"}
# Integer order statuses: 1 cancelled, 2 traded, 4 transit (in flight to the exchange: still
# working, so open), 5 rejected, 6 pending, 7 expired (no longer working: we have no
# "expired", cancelled is its nearest meaning). 3 is unused.
STATUSES = {1: OrderStatus.CANCELLED, 2: OrderStatus.COMPLETE, 4: OrderStatus.OPEN, 5: OrderStatus.REJECTED,
            6: OrderStatus.OPEN, 7: OrderStatus.CANCELLED}
# (exchange code, segment code) as Fytokens and rows carry them -> our exchange.
SEGMENTS = {"1010": Exchange.NSE, "1011": Exchange.NFO, "1012": Exchange.CDS, "1120": Exchange.MCX,
            "1210": Exchange.BSE, "1211": Exchange.BFO, "1212": Exchange.BCD}
PREFIXES = {Exchange.NSE: "NSE", Exchange.NFO: "NSE", Exchange.CDS: "NSE", Exchange.NSE_INDEX: "NSE",
            Exchange.BSE: "BSE", Exchange.BFO: "BSE", Exchange.BCD: "BSE", Exchange.BSE_INDEX: "BSE",
            Exchange.MCX: "MCX"}
# Our history intervals -> Fyers resolutions (Docs "History"); nothing else is offered.
INTERVALS = {"5s": "5S", "10s": "10S", "15s": "15S", "30s": "30S", "45s": "45S",
             "1m": "1", "2m": "2", "3m": "3", "5m": "5", "10m": "10", "15m": "15", "20m": "20", "30m": "30",
             "1h": "60", "2h": "120", "4h": "240", "D": "1D"}
# CO/BO/MTF positions exist at Fyers; we trade none of them, and read them as their base product.
_PRODUCT_OF = {"CNC": Product.CNC, "MARGIN": Product.NRML, "INTRADAY": Product.MIS, "MTF": Product.CNC,
               "CO": Product.MIS, "BO": Product.MIS}
_SIDE_OF = {theirs: ours for ours, theirs in SIDES.items()}
_TYPE_OF = {theirs: ours for ours, theirs in ORDER_TYPES.items()}
# orderTag: alphanumeric, at most 30 characters (Docs "Orders").
TAG_LIMIT = 30
_NOT_TAG = re.compile(r"[^A-Za-z0-9]")
# The Docs' book samples echo a tag as "1:Ordertag": a numeric prefix and a colon before ours.
_ECHOED_TAG = re.compile(r"^\d+:")
_ORDER_TIME = "%d-%b-%Y %H:%M:%S"
ZERO = Decimal(0)


class UnreadablePayload(ValueError):
    """A payload field is missing or not what the broker documents."""


def decimal(value: object) -> Decimal:
    if value in (None, ""):
        return ZERO
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise UnreadablePayload(f"not a number: {value!r}") from None


def integer(value: object) -> int:
    return int(decimal(value))


def order_tag(tag: str) -> str:
    """Our reference as Fyers accepts it (alphanumeric, <= 30): ``oa123`` passes unchanged."""
    return _NOT_TAG.sub("", tag)[:TAG_LIMIT]


def echoed_tag(value: object) -> str:
    """Our tag as a book row echoes it (``"1:oa17"`` -> ``"oa17"``)."""
    return _ECHOED_TAG.sub("", str(value or ""))


def exchange_of_token(fytoken: str) -> Exchange | None:
    """Our exchange from a Fytoken's first four digits (exchange + segment); None if unknown."""
    return SEGMENTS.get(str(fytoken)[:4])


def exchange_of_row(row: Mapping[str, Any]) -> Exchange:
    """A book row's exchange: from its Fytoken, else its numeric exchange and segment."""
    found = exchange_of_token(str(row.get("fyToken", "")))
    if found is None:
        found = SEGMENTS.get(f"{row.get('exchange', '')}{row.get('segment', '')}")
    if found is None:
        raise UnreadablePayload(f"row of unknown exchange/segment: {row.get('symbol')!r}")
    return found


def order_time(value: object) -> datetime:
    """``orderDateTime`` ("14-Jan-2026 09:15:02", IST) as an aware datetime."""
    try:
        return datetime.strptime(str(value), _ORDER_TIME).replace(tzinfo=IST)
    except ValueError:
        raise UnreadablePayload(f"not an order time: {value!r}") from None


# --- Ours -> theirs ---------------------------------------------------------------------------

def order_payload(request: OrderRequest, ticker: str) -> dict[str, Any]:
    """The place-order body. A MARKET order goes as type 2: since 1 Apr 2026 Fyers converts
    it to a market-price-protection order on its side; the API has no field for the
    protection (Fyers support article on the SEBI retail-algo rules), so there is nothing
    more to send. Slicing stays ours (isSliceOrder is not sent): split orders obey the
    freeze quantities and the 10-slice cap above us."""
    payload: dict[str, Any] = {
        "symbol": ticker, "qty": int(request.quantity), "type": ORDER_TYPES[request.pricetype],
        "side": SIDES[request.action], "productType": PRODUCTS[request.product],
        "limitPrice": float(request.price) if request.pricetype in (PriceType.LIMIT, PriceType.SL) else 0,
        "stopPrice": float(request.trigger_price) if request.pricetype in (PriceType.SL, PriceType.SL_M) else 0,
        "validity": "DAY", "disclosedQty": int(request.disclosed_quantity), "offlineOrder": False,
        "stopLoss": 0, "takeProfit": 0,
    }
    tag = order_tag(request.tag)
    if tag:
        payload["orderTag"] = tag
    return payload


def modify_payload(request: ModifyRequest) -> dict[str, Any]:
    return {
        "id": request.orderid, "type": ORDER_TYPES[request.pricetype], "qty": int(request.quantity),
        "limitPrice": float(request.price) if request.pricetype in (PriceType.LIMIT, PriceType.SL) else 0,
        "stopPrice": float(request.trigger_price) if request.pricetype in (PriceType.SL, PriceType.SL_M) else 0,
        "disclosedQty": int(request.disclosed_quantity),
    }


def margin_payload(legs: Sequence[tuple[MarginLeg, str]]) -> dict[str, Any]:
    """``legs``: each leg with its Fyers ticker."""
    return {"data": [{
        "symbol": ticker, "qty": int(leg.quantity), "side": SIDES[leg.action], "type": ORDER_TYPES[leg.pricetype],
        "productType": PRODUCTS[leg.product],
        "limitPrice": float(leg.price) if leg.pricetype in (PriceType.LIMIT, PriceType.SL) else 0,
        "stopPrice": float(leg.trigger_price) if leg.pricetype in (PriceType.SL, PriceType.SL_M) else 0,
        "stopLoss": 0, "takeProfit": 0,
    } for leg, ticker in legs]}


# --- Theirs -> ours -----------------------------------------------------------------------------

def broker_order(row: Mapping[str, Any], symbol: str) -> BrokerOrder:
    try:
        status = STATUSES[int(row["status"])]
        return BrokerOrder(
            orderid=str(row["id"]), symbol=symbol, exchange=exchange_of_row(row), action=_SIDE_OF[int(row["side"])],
            quantity=decimal(row["qty"]), price=decimal(row.get("limitPrice")),
            trigger_price=decimal(row.get("stopPrice")), pricetype=_TYPE_OF[int(row["type"])],
            product=_PRODUCT_OF[str(row["productType"])], status=status,
            timestamp=order_time(row["orderDateTime"]), filled_quantity=decimal(row.get("filledQty")),
            average_price=decimal(row.get("tradedPrice")),
            rejection_reason=str(row.get("message", "")) if status == OrderStatus.REJECTED else "",
            tag=echoed_tag(row.get("orderTag")),
        )
    except (KeyError, TypeError, ValueError) as problem:
        if isinstance(problem, UnreadablePayload):
            raise
        raise UnreadablePayload(f"order row lacks or mislabels {problem}") from None


def trade(row: Mapping[str, Any], symbol: str) -> Trade:
    try:
        return Trade(
            orderid=str(row["orderNumber"]), symbol=symbol, exchange=exchange_of_row(row),
            action=_SIDE_OF[int(row["side"])], product=_PRODUCT_OF[str(row["productType"])],
            quantity=decimal(row["tradedQty"]), average_price=decimal(row["tradePrice"]),
            timestamp=order_time(row["orderDateTime"]), tradeid=str(row.get("tradeNumber", "")),
        )
    except (KeyError, TypeError, ValueError) as problem:
        if isinstance(problem, UnreadablePayload):
            raise
        raise UnreadablePayload(f"trade row lacks or mislabels {problem}") from None


def position(row: Mapping[str, Any], symbol: str, lot_size: int = 1) -> Position:
    """Net position, average and P&L computed by brokers.positions from Fyers' totals:
    ``buyQty``/``buyAvg`` and ``sellQty``/``sellAvg`` cover the carried-forward and today's
    quantities together (``cfBuyQty`` + ``dayBuyQty``), so nothing is carried separately.
    A row without them (older answers) is read as a carried position at ``netAvg``."""
    try:
        exchange, product = exchange_of_row(row), _PRODUCT_OF[str(row["productType"])]
        if "buyQty" in row or "sellQty" in row:
            bought, sold = decimal(row.get("buyQty")), decimal(row.get("sellQty"))
            totals = PositionTotals(symbol=symbol, exchange=exchange, product=product, buy_quantity=bought,
                                    buy_value=bought * decimal(row.get("buyAvg")), sell_quantity=sold,
                                    sell_value=sold * decimal(row.get("sellAvg")), ltp=decimal(row.get("ltp")),
                                    lot_size=lot_size)
        else:
            totals = PositionTotals(symbol=symbol, exchange=exchange, product=product,
                                    carry_quantity=decimal(row["netQty"]), carry_price=decimal(row.get("netAvg")),
                                    ltp=decimal(row.get("ltp")), lot_size=lot_size)
        return position_of(totals)
    except (KeyError, TypeError, ValueError) as problem:
        if isinstance(problem, UnreadablePayload):
            raise
        raise UnreadablePayload(f"position row lacks or mislabels {problem}") from None


def holding(row: Mapping[str, Any], symbol: str) -> Holding:
    try:
        return Holding(symbol=symbol, exchange=exchange_of_row(row), quantity=decimal(row["quantity"]),
                       average_price=decimal(row["costPrice"]), ltp=decimal(row.get("ltp")))
    except (KeyError, TypeError, ValueError) as problem:
        if isinstance(problem, UnreadablePayload):
            raise
        raise UnreadablePayload(f"holding row lacks {problem}") from None


def _fund_line(rows: Sequence[Mapping[str, Any]], title: str) -> Decimal:
    for row in rows:
        if str(row.get("title", "")).strip().lower() == title:
            return decimal(row.get("equityAmount")) + decimal(row.get("commodityAmount"))
    return ZERO


def funds(body: Mapping[str, Any], unrealized: Decimal = ZERO) -> Funds:
    """``fund_limit`` lines by title. Cash is "Clear Balance" (settled, without collateral:
    "Available Balance" folds the collateral back in and would count it twice)."""
    rows = body.get("fund_limit")
    if not isinstance(rows, list):
        raise UnreadablePayload("funds answer without fund_limit")
    return Funds(availablecash=_fund_line(rows, "clear balance"), collateral=_fund_line(rows, "collaterals"),
                 m2mrealized=_fund_line(rows, "realized profit and loss"), m2munrealized=unrealized,
                 utiliseddebits=_fund_line(rows, "utilized amount"),
                 extra={str(row.get("title", "")): str(row.get("equityAmount", "")) for row in rows})


def margin(body: Mapping[str, Any]) -> MarginResult:
    """``margin_total`` is the margin the orders need ("approximate margin required");
    ``margin_new_order`` counts the existing positions too."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise UnreadablePayload("margin answer without data")
    return MarginResult(total_margin_required=decimal(data.get("margin_total")))


def _stamp(value: object) -> datetime | None:
    try:
        seconds = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(seconds, UTC) if seconds > 0 else None


def quote(values: Mapping[str, Any]) -> Quote:
    """One ``d[].v`` of /data/quotes (bulk quotes carry no OI)."""
    return Quote(ltp=decimal(values.get("lp")), open=decimal(values.get("open_price")),
                 high=decimal(values.get("high_price")), low=decimal(values.get("low_price")),
                 prev_close=decimal(values.get("prev_close_price")), volume=integer(values.get("volume")),
                 bid=decimal(values.get("bid")), ask=decimal(values.get("ask")), timestamp=_stamp(values.get("tt")))


def quotes(body: Mapping[str, Any]) -> dict[str, Quote]:
    """/data/quotes' answer by ticker; tickers Fyers could not answer (``s`` not ok) are left out."""
    rows = body.get("d")
    if not isinstance(rows, list):
        raise UnreadablePayload("quotes answer without d")
    return {str(row["n"]): quote(row.get("v") or {}) for row in rows
            if isinstance(row, dict) and row.get("s") == "ok" and "n" in row}


def _levels(rows: object) -> tuple[DepthLevel, ...]:
    if not isinstance(rows, list):
        return ()
    return tuple(DepthLevel(price=decimal(row.get("price")), quantity=integer(row.get("volume")),
                            orders=integer(row.get("ord"))) for row in rows if isinstance(row, dict))


def depth(body: Mapping[str, Any], ticker: str) -> Depth:
    """/data/depth's ``d[<ticker>]``: five ``bids`` and five ``ask`` (singular) levels, with OHLCV."""
    data = body.get("d")
    book = data.get(ticker) if isinstance(data, dict) else None
    if not isinstance(book, dict):
        raise UnreadablePayload(f"depth answer without d[{ticker}]")
    bids, asks = _levels(book.get("bids")), _levels(book.get("ask"))
    summary = Quote(ltp=decimal(book.get("ltp")), open=decimal(book.get("o")), high=decimal(book.get("h")),
                    low=decimal(book.get("l")), prev_close=decimal(book.get("c")), volume=integer(book.get("v")),
                    bid=bids[0].price if bids else ZERO, ask=asks[0].price if asks else ZERO,
                    oi=integer(book.get("oi")), timestamp=_stamp(book.get("ltt")))
    return Depth(bids=bids, asks=asks, quote=summary)


def candles(body: Mapping[str, Any]) -> list[Candle]:
    """``candles: [[epoch_s, o, h, l, c, v, oi?]]`` (OI is the 7th value with ``oi_flag=1``)."""
    rows = body.get("candles")
    if not isinstance(rows, list):
        raise UnreadablePayload("history answer without candles")
    bars = []
    for row in rows:
        if not isinstance(row, list) or len(row) < 6:
            raise UnreadablePayload(f"short candle {row!r}")
        bars.append(Candle(timestamp=int(row[0]), open=decimal(row[1]), high=decimal(row[2]), low=decimal(row[3]),
                           close=decimal(row[4]), volume=integer(row[5]),
                           oi=integer(row[6]) if len(row) > 6 else 0))
    return bars
