"""Upstox's fields <-> ours, both ways, as pure functions (no I/O): tested with documented
payloads alone. Rows of the order book, trades, positions and holdings name their
instrument by ``instrument_token`` (the instrument_key); the caller looks our symbol up
by it and passes it in, so nothing here parses Upstox's trading-symbol text."""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from brokers.base import (
    BrokerOrder,
    Candle,
    Depth,
    DepthLevel,
    Funds,
    Holding,
    InstrumentRow,
    ModifyRequest,
    OrderRequest,
    Quote,
    Trade,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import PositionTotals
from brokers.symbols import format_future, format_option
from core.values import IST

from .schemas import (
    HoldingRow,
    InstrumentPayload,
    ModifyPayload,
    OrderPayload,
    OrderRow,
    PositionRow,
    QuoteRow,
    TradeRow,
)

log = logging.getLogger(__name__)

SIDES = {Action.BUY: "BUY", Action.SELL: "SELL"}
ORDER_TYPES = {PriceType.MARKET: "MARKET", PriceType.LIMIT: "LIMIT", PriceType.SL: "SL", PriceType.SL_M: "SL-M"}
# CNC and NRML are both "D" there; the exchange tells them apart on the way back.
PRODUCTS = {Product.CNC: "D", Product.NRML: "D", Product.MIS: "I"}

# Instrument segments (the part of an instrument_key before "|") -> our exchanges.
SEGMENTS = {"NSE_EQ": Exchange.NSE, "BSE_EQ": Exchange.BSE, "NSE_FO": Exchange.NFO, "BSE_FO": Exchange.BFO,
            "NCD_FO": Exchange.CDS, "BCD_FO": Exchange.BCD, "MCX_FO": Exchange.MCX,
            "NSE_INDEX": Exchange.NSE_INDEX, "BSE_INDEX": Exchange.BSE_INDEX}
# The ``exchange`` of order, trade, position and holding rows.
ROW_EXCHANGES = {"NSE": Exchange.NSE, "BSE": Exchange.BSE, "NFO": Exchange.NFO, "BFO": Exchange.BFO,
                 "CDS": Exchange.CDS, "BCD": Exchange.BCD, "MCX": Exchange.MCX}

# Upstox's 17 documented order states (appendix "order-status"): every pending, received or
# modified state is a working order to us.
STATUSES = {
    "validation pending": OrderStatus.OPEN, "modify validation pending": OrderStatus.OPEN,
    "put order req received": OrderStatus.OPEN, "open pending": OrderStatus.OPEN, "open": OrderStatus.OPEN,
    "trigger pending": OrderStatus.TRIGGER_PENDING, "modify pending": OrderStatus.OPEN,
    "modified": OrderStatus.OPEN, "not modified": OrderStatus.OPEN, "cancel pending": OrderStatus.OPEN,
    "not cancelled": OrderStatus.OPEN, "cancelled": OrderStatus.CANCELLED, "complete": OrderStatus.COMPLETE,
    "rejected": OrderStatus.REJECTED, "after market order req received": OrderStatus.OPEN,
    "modify after market order req received": OrderStatus.OPEN,
    "cancelled after market order": OrderStatus.CANCELLED,
}

# Our history intervals -> (v3 unit, interval, days one request may span).
INTERVALS: dict[str, tuple[str, int, int]] = {
    "1m": ("minutes", 1, 30), "2m": ("minutes", 2, 30), "3m": ("minutes", 3, 30), "5m": ("minutes", 5, 30),
    "10m": ("minutes", 10, 30), "15m": ("minutes", 15, 30), "20m": ("minutes", 20, 90),
    "30m": ("minutes", 30, 90), "1h": ("hours", 1, 90), "2h": ("hours", 2, 90), "3h": ("hours", 3, 90),
    "4h": ("hours", 4, 90), "D": ("days", 1, 3650), "W": ("weeks", 1, 36500), "M": ("months", 1, 36500),
}

# Index names as the instrument dump writes them (trading_symbol) -> ours (spec §4.1).
INDEX_NAMES = {
    "NIFTY 50": "NIFTY", "NIFTY BANK": "BANKNIFTY", "NIFTY FIN SERVICE": "FINNIFTY",
    "NIFTY MID SELECT": "MIDCPNIFTY", "NIFTY NEXT 50": "NIFTYNXT50", "INDIA VIX": "INDIAVIX",
    "SNSX50": "SENSEX50",
}

# The 2026 retail-algo rules cap one order's automatic slices at 10 (Upstox's own cap is 25).
MAX_SLICES = 10
TAG_LENGTH = 20
_TAG_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_ZERO = Decimal(0)


class UnreadablePayload(ValueError):
    """A payload field is missing or not what the broker documents."""


def decimal(value: object) -> Decimal:
    if value is None or value == "":
        return _ZERO
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise UnreadablePayload(f"not a number: {value!r}") from None
    if not number.is_finite():
        raise UnreadablePayload(f"not a finite number: {value!r}")
    return number


def integer(value: object) -> int:
    return int(decimal(value))


def row_exchange(exchange: object) -> Exchange:
    found = ROW_EXCHANGES.get(str(exchange))
    if found is None:
        raise UnreadablePayload(f"unknown exchange {exchange!r}")
    return found


def segment_of(instrument_key: str) -> str:
    return instrument_key.split("|", 1)[0]


def our_product(code: str, exchange: Exchange) -> Product:
    """``I`` is intraday everywhere; ``D`` is delivery on the cash market, carry-forward on derivatives."""
    if code == "I":
        return Product.MIS
    if code in ("D", "MTF"):
        return Product.NRML if exchange.is_derivative else Product.CNC
    raise UnreadablePayload(f"unknown product {code!r}")


def our_status(status: str) -> OrderStatus:
    found = STATUSES.get((status or "").strip().lower())
    if found is None:
        # A state Upstox added after its appendix: the order is treated as working, so the
        # poller keeps reading it until it reaches a state we know.
        log.warning("Upstox order status %r is not documented; read as open", status)
        return OrderStatus.OPEN
    return found


def order_time(text: object) -> datetime:
    """Upstox's order times: ``2023-12-11 13:52:01`` in IST (or ISO 8601 with an offset)."""
    if not isinstance(text, str) or not text:
        raise UnreadablePayload(f"not a timestamp: {text!r}")
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
    except ValueError:
        moment = _day_month_year(text)
    return moment.replace(tzinfo=IST) if moment.tzinfo is None else moment


def _day_month_year(text: str) -> datetime:
    """Trade-book times: ``20-Oct-2023 10:00:27``."""
    for layout in ("%d-%b-%Y %H:%M:%S", "%d-%m-%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, layout)
        except ValueError:
            continue
    raise UnreadablePayload(f"not a timestamp: {text!r}")


def tag_for(tag: str) -> str:
    """Our order reference as an Upstox order tag (letters, digits, '_' and '-', at most 20)."""
    return _TAG_CHARS.sub("", tag)[:TAG_LENGTH]


def slices_needed(quantity: int, freeze_qty: int) -> int:
    """How many orders a quantity becomes when sliced at the freeze quantity (1 when unknown)."""
    if freeze_qty <= 1 or quantity <= freeze_qty:
        return 1
    return math.ceil(quantity / freeze_qty)


# Upstox counts commodity (MCX) quantities in lots; everything else in units, as we do.
IN_LOTS = frozenset({Exchange.MCX})


def their_quantity(quantity: Decimal | int, exchange: Exchange, lot_size: int) -> int:
    """Our quantity (units) as Upstox counts it: lots on MCX. A quantity that is not whole
    lots there cannot be sent (rounding would trade a different size)."""
    units = int(quantity)
    if exchange not in IN_LOTS or lot_size <= 1:
        return units
    lots, rest = divmod(units, lot_size)
    if rest or units != quantity:
        raise ValueError(f"Quantity {quantity} is not a whole number of lots of {lot_size} on {exchange}")
    return lots


def our_quantity(quantity: object, exchange: Exchange, lot_size: int) -> Decimal:
    """An Upstox quantity as units (MCX lots times the lot size)."""
    value = decimal(quantity)
    return value * lot_size if exchange in IN_LOTS and lot_size > 1 else value


def _needs_protection(pricetype: PriceType) -> bool:
    return pricetype in (PriceType.MARKET, PriceType.SL_M)


# --- Ours -> theirs ------------------------------------------------------------------------------

def order_payload(request: OrderRequest, instrument_key: str, *, market_protection: int,
                  slice_order: bool, lot_size: int = 1) -> OrderPayload:
    payload: OrderPayload = {
        "quantity": their_quantity(request.quantity, request.exchange, lot_size),
        "product": PRODUCTS[request.product], "validity": "DAY",
        "price": float(request.price) if request.pricetype in (PriceType.LIMIT, PriceType.SL) else 0.0,
        "tag": tag_for(request.tag), "instrument_token": instrument_key,
        "order_type": ORDER_TYPES[request.pricetype], "transaction_type": SIDES[request.action],
        "disclosed_quantity": int(request.disclosed_quantity),
        "trigger_price": float(request.trigger_price) if request.pricetype in (PriceType.SL, PriceType.SL_M)
        else 0.0,
        "is_amo": False, "slice": slice_order,
    }
    if _needs_protection(request.pricetype):
        payload["market_protection"] = market_protection
    return payload


def modify_payload(request: ModifyRequest, *, market_protection: int, lot_size: int = 1) -> ModifyPayload:
    payload: ModifyPayload = {
        "order_id": request.orderid, "validity": "DAY",
        "quantity": their_quantity(request.quantity, request.exchange, lot_size),
        "price": float(request.price) if request.pricetype in (PriceType.LIMIT, PriceType.SL) else 0.0,
        "order_type": ORDER_TYPES[request.pricetype], "disclosed_quantity": int(request.disclosed_quantity),
        "trigger_price": float(request.trigger_price) if request.pricetype in (PriceType.SL, PriceType.SL_M)
        else 0.0,
    }
    if _needs_protection(request.pricetype):
        payload["market_protection"] = market_protection
    return payload


# --- Theirs -> ours (``symbol``: our name for the row's instrument, found by its key) ---------------

_SIDE_OF = {theirs: ours for ours, theirs in SIDES.items()}
_TYPE_OF = {theirs: ours for ours, theirs in ORDER_TYPES.items()}


def broker_order(row: OrderRow, symbol: str, lot_size: int = 1) -> BrokerOrder:
    try:
        exchange = row_exchange(row["exchange"])
        status = our_status(row["status"])
        message = row.get("status_message") or row.get("status_message_raw") or ""
        return BrokerOrder(
            orderid=str(row["order_id"]), symbol=symbol, exchange=exchange,
            action=_SIDE_OF[row["transaction_type"]], quantity=our_quantity(row["quantity"], exchange, lot_size),
            price=decimal(row.get("price")), trigger_price=decimal(row.get("trigger_price")),
            pricetype=_TYPE_OF[row["order_type"]], product=our_product(row["product"], exchange),
            status=status, timestamp=order_time(row.get("order_timestamp")),
            filled_quantity=our_quantity(row.get("filled_quantity"), exchange, lot_size),
            average_price=decimal(row.get("average_price")),
            rejection_reason=message if status == OrderStatus.REJECTED else "", tag=row.get("tag") or "",
        )
    except KeyError as missing:
        raise UnreadablePayload(f"order row lacks or mislabels {missing}") from None


def trade(row: TradeRow, symbol: str, lot_size: int = 1) -> Trade:
    try:
        exchange = row_exchange(row["exchange"])
        stamp = row.get("exchange_timestamp") or row.get("order_timestamp")
        return Trade(
            orderid=str(row["order_id"]), symbol=symbol, exchange=exchange,
            action=_SIDE_OF[row["transaction_type"]], product=our_product(row["product"], exchange),
            quantity=our_quantity(row["quantity"], exchange, lot_size), average_price=decimal(row["average_price"]),
            timestamp=order_time(stamp), tradeid=str(row.get("trade_id", "")),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"trade row lacks or mislabels {missing}") from None


def position_totals(row: PositionRow, symbol: str, lot_size: int = 1) -> PositionTotals:
    """Today's and the carried buys and sells of one position, for brokers.positions to net.
    On MCX, where Upstox counts lots, quantities become units and each side's value is its
    units times its average price."""
    try:
        exchange = row_exchange(row["exchange"])
        multiplier = decimal(row.get("multiplier")) or Decimal(1)
        sides = []
        for side in ("buy", "sell"):
            day_qty = our_quantity(row.get(f"day_{side}_quantity"), exchange, lot_size)
            night_qty = our_quantity(row.get(f"overnight_{side}_quantity"), exchange, lot_size)
            if exchange in IN_LOTS and lot_size > 1:
                night_lots = decimal(row.get(f"overnight_{side}_quantity"))
                night_price = decimal(row.get(f"overnight_{side}_amount")) / night_lots if night_lots else _ZERO
                value = day_qty * decimal(row.get(f"day_{side}_price")) + night_qty * night_price
            else:
                value = decimal(row.get(f"day_{side}_value")) + decimal(row.get(f"overnight_{side}_amount"))
            sides.append((day_qty + night_qty, value))
        (bought, bought_value), (sold, sold_value) = sides
        return PositionTotals(
            symbol=symbol, exchange=exchange, product=our_product(row["product"], exchange),
            buy_quantity=bought, buy_value=bought_value, sell_quantity=sold, sell_value=sold_value,
            ltp=decimal(row.get("last_price")), multiplier=multiplier, lot_size=lot_size,
        )
    except KeyError as missing:
        raise UnreadablePayload(f"position row lacks or mislabels {missing}") from None


def holding(row: HoldingRow, symbol: str) -> Holding:
    try:
        exchange = row_exchange(row["exchange"])
        return Holding(symbol=symbol, exchange=exchange, quantity=decimal(row["quantity"]),
                       average_price=decimal(row["average_price"]), ltp=decimal(row.get("last_price")),
                       product=Product.CNC)
    except KeyError as missing:
        raise UnreadablePayload(f"holding row lacks {missing}") from None


def funds(data: object) -> Funds:
    """``data.available_to_trade`` of GET /v3/user/get-funds-and-margin: the cash bucket's
    total is what can be traded; pledge margin is collateral (granted minus used)."""
    if not isinstance(data, dict):
        raise UnreadablePayload("funds are not an object")
    buckets = data["available_to_trade"]
    cash, pledge = buckets["cash_available_to_trade"], buckets.get("pledge_available_to_trade") or {}
    pledge_used = decimal((pledge.get("margin_used") or {}).get("total"))
    pledged = decimal((pledge.get("margin_from_pledge") or {}).get("total"))
    cash_used = decimal((cash.get("margin_used") or {}).get("total"))
    return Funds(availablecash=decimal(cash["total"]), collateral=pledged - pledge_used, m2mrealized=_ZERO,
                 m2munrealized=_ZERO, utiliseddebits=cash_used + pledge_used,
                 extra={"cash_margin_used": str(cash_used), "pledge_margin": str(pledged),
                        "pledge_margin_used": str(pledge_used)})


def _levels(rows: object) -> tuple[DepthLevel, ...]:
    if not isinstance(rows, list):
        return ()
    return tuple(DepthLevel(price=decimal(row.get("price")), quantity=integer(row.get("quantity")),
                            orders=integer(row.get("orders"))) for row in rows if decimal(row.get("price")) > 0)


def quote(row: QuoteRow) -> Quote:
    ohlc = row.get("ohlc") or {}
    depth = row.get("depth") or {}
    bids, asks = _levels(depth.get("buy")), _levels(depth.get("sell"))
    ltp = decimal(row.get("last_price"))
    traded = row.get("last_trade_time")
    stamp = datetime.fromtimestamp(int(traded) / 1000, UTC) if traded and str(traded).isdigit() else None
    return Quote(ltp=ltp, open=decimal(ohlc.get("open")), high=decimal(ohlc.get("high")),
                 low=decimal(ohlc.get("low")), prev_close=ltp - decimal(row.get("net_change")),
                 volume=integer(row.get("volume")), bid=bids[0].price if bids else _ZERO,
                 ask=asks[0].price if asks else _ZERO, oi=integer(row.get("oi")), timestamp=stamp)


def depth(row: QuoteRow) -> Depth:
    levels = row.get("depth") or {}
    return Depth(bids=_levels(levels.get("buy")), asks=_levels(levels.get("sell")), quote=quote(row))


def candle(row: list[Any]) -> Candle:
    """A bar: [ISO time with +05:30, open, high, low, close, volume, oi]."""
    if not isinstance(row, list) or len(row) < 6:
        raise UnreadablePayload(f"short candle {row!r}")
    try:
        start = datetime.fromisoformat(str(row[0]))
    except ValueError:
        raise UnreadablePayload(f"not a timestamp: {row[0]!r}") from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=IST)
    return Candle(timestamp=int(start.timestamp()), open=decimal(row[1]), high=decimal(row[2]),
                  low=decimal(row[3]), close=decimal(row[4]), volume=integer(row[5]),
                  oi=integer(row[6]) if len(row) > 6 else 0)


# --- The instrument dump ------------------------------------------------------------------------

def _expiry(value: object) -> date:
    """The dump's expiry: epoch milliseconds; the contract date is the IST calendar day."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UnreadablePayload(f"bad expiry {value!r}")
    return datetime.fromtimestamp(value / 1000, IST).date()


def index_symbol(trading_symbol: str) -> str:
    """Our index name: the documented renames, else the dump's name without spaces."""
    name = trading_symbol.strip().upper()
    return INDEX_NAMES.get(name, name.replace(" ", ""))


def _base(payload: InstrumentPayload) -> str:
    """A derivative's underlying as symbols write it (NIFTY, USDINR, CRUDEOIL)."""
    base = payload.get("underlying_symbol") or payload.get("name") or ""
    if not base:
        base = (payload.get("trading_symbol") or "").split(" ", 1)[0]
    return base.strip().upper().replace(" ", "")


def instrument_row(payload: InstrumentPayload) -> InstrumentRow:
    """One row of the dump with our symbol built from its fields (spec §4.1)."""
    try:
        segment = payload["segment"]
        exchange = SEGMENTS.get(segment)
        if exchange is None:
            raise UnreadablePayload(f"segment {segment} is not one we trade")
        kind = payload["instrument_type"]
        key = payload["instrument_key"]
        brsymbol = payload["trading_symbol"]
        tick = decimal(payload.get("tick_size")) / 100 or Decimal("0.05")  # the dump gives paise
        expiry: date | None = None
        strike: Decimal | None = None
        if kind in ("CE", "PE"):
            base, expiry, strike = _base(payload), _expiry(payload.get("expiry")), decimal(payload["strike_price"])
            symbol, name = format_option(base, expiry, strike, kind), base
        elif kind == "FUT":
            base, expiry = _base(payload), _expiry(payload.get("expiry"))
            symbol, name = format_future(base, expiry), base
        elif exchange.is_index:
            symbol = index_symbol(brsymbol)
            name = symbol
            kind = ""
        else:
            symbol, name = brsymbol.strip().upper(), payload.get("name") or brsymbol
        if exchange.is_derivative and expiry is None:
            raise UnreadablePayload(f"{kind or 'row'} {brsymbol!r} on {segment} is neither a future nor an option")
        freeze = payload.get("freeze_quantity")
        return InstrumentRow(
            symbol=symbol, brsymbol=brsymbol, name=name, exchange=exchange, brexchange=segment, token=key,
            expiry=expiry, strike=strike, lotsize=integer(payload.get("lot_size") or 1), instrumenttype=kind,
            tick_size=tick, freeze_qty=integer(freeze) if freeze else 1,
        )
    except (KeyError, TypeError, ValueError) as problem:
        if isinstance(problem, UnreadablePayload):
            raise
        raise UnreadablePayload(f"instrument row unreadable: {problem}") from None
