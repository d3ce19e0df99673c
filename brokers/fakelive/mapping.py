"""FakeLive's fields <-> ours, both ways, as pure functions (no I/O): tested with payloads alone."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

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
    Position,
    Quote,
    Trade,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.fakelive.schemas import (
    HoldingRow,
    InstrumentPayload,
    MarginsPayload,
    OrderPayload,
    OrderRow,
    PositionRow,
    QuotePayload,
    TradeRow,
)
from brokers.symbols import format_future, format_option

SIDES = {Action.BUY: "B", Action.SELL: "S"}
ORDER_TYPES = {PriceType.MARKET: "MKT", PriceType.LIMIT: "LMT", PriceType.SL: "SL", PriceType.SL_M: "SLM"}
PRODUCTS = {Product.CNC: "D", Product.MIS: "I", Product.NRML: "C"}
STATUSES = {"OPEN": OrderStatus.OPEN, "TRIGGER_PENDING": OrderStatus.TRIGGER_PENDING,
            "COMPLETE": OrderStatus.COMPLETE, "REJECTED": OrderStatus.REJECTED,
            "CANCELLED": OrderStatus.CANCELLED}
# Indices are quoted on the cash exchange's "IDX" segment there.
EXCHANGES = {Exchange.NSE_INDEX: "NSEIDX", Exchange.BSE_INDEX: "BSEIDX"}
INTERVALS = {"1m": "minute", "3m": "3minute", "5m": "5minute", "10m": "10minute", "15m": "15minute",
             "30m": "30minute", "1h": "60minute", "D": "day"}
EQUITY_SUFFIX = "-EQ"

_SIDE_OF = {theirs: ours for ours, theirs in SIDES.items()}
_TYPE_OF = {theirs: ours for ours, theirs in ORDER_TYPES.items()}
_PRODUCT_OF = {theirs: ours for ours, theirs in PRODUCTS.items()}
_EXCHANGE_OF = {theirs: ours for ours, theirs in EXCHANGES.items()}


class UnreadablePayload(ValueError):
    """A payload field is missing or not what the broker documents."""


def their_exchange(exchange: Exchange) -> str:
    return EXCHANGES.get(exchange, str(exchange))


def our_exchange(exchange: str) -> Exchange:
    try:
        return _EXCHANGE_OF.get(exchange) or Exchange(exchange)
    except ValueError:
        raise UnreadablePayload(f"unknown exchange {exchange!r}") from None


def decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        raise UnreadablePayload(f"not a number: {value!r}") from None


def timestamp(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise UnreadablePayload(f"not a timestamp: {value!r}") from None
    if moment.tzinfo is None:
        raise UnreadablePayload(f"timestamp without an offset: {value!r}")
    return moment


# --- Ours -> theirs -----------------------------------------------------------------------------

def order_payload(request: OrderRequest, brsymbol: str) -> OrderPayload:
    return {
        "tradingsymbol": brsymbol, "exchange": their_exchange(request.exchange),
        "transaction_type": SIDES[request.action], "quantity": int(request.quantity),
        "order_type": ORDER_TYPES[request.pricetype], "product": PRODUCTS[request.product],
        "price": str(request.price), "trigger_price": str(request.trigger_price),
        "disclosed_quantity": request.disclosed_quantity, "tag": request.tag,
    }


def modify_payload(request: ModifyRequest) -> OrderPayload:
    return {
        "quantity": int(request.quantity), "order_type": ORDER_TYPES[request.pricetype],
        "price": str(request.price), "trigger_price": str(request.trigger_price),
        "disclosed_quantity": request.disclosed_quantity,
    }


# --- Theirs -> ours (``symbol`` is our name for the row's instrument, found by its token) -------

def broker_order(row: OrderRow, symbol: str) -> BrokerOrder:
    try:
        return BrokerOrder(
            orderid=row["order_id"], symbol=symbol, exchange=our_exchange(row["exchange"]),
            action=_SIDE_OF[row["transaction_type"]], quantity=Decimal(row["quantity"]),
            price=decimal(row.get("price")), trigger_price=decimal(row.get("trigger_price")),
            pricetype=_TYPE_OF[row["order_type"]], product=_PRODUCT_OF[row["product"]],
            status=STATUSES[row["status"]], timestamp=timestamp(row["order_timestamp"]),
            filled_quantity=Decimal(row.get("filled_quantity", 0)), average_price=decimal(row.get("average_price")),
            rejection_reason=row.get("status_message", "") if row["status"] == "REJECTED" else "",
            tag=row.get("tag", ""),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"order row lacks or mislabels {missing}") from None


def trade(row: TradeRow, symbol: str) -> Trade:
    try:
        return Trade(
            orderid=row["order_id"], symbol=symbol, exchange=our_exchange(row["exchange"]),
            action=_SIDE_OF[row["transaction_type"]], product=_PRODUCT_OF[row["product"]],
            quantity=Decimal(row["quantity"]), average_price=decimal(row["average_price"]),
            timestamp=timestamp(row["fill_timestamp"]), tradeid=row.get("trade_id", ""),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"trade row lacks or mislabels {missing}") from None


def position(row: PositionRow, symbol: str, lot_size: int = 1) -> Position:
    try:
        return Position(
            symbol=symbol, exchange=our_exchange(row["exchange"]), product=_PRODUCT_OF[row["product"]],
            quantity=Decimal(row["quantity"]), average_price=decimal(row["average_price"]),
            ltp=decimal(row.get("last_price")), pnl=decimal(row.get("pnl")),
            realized_pnl=decimal(row.get("realised")), unrealized_pnl=decimal(row.get("unrealised")),
            lot_size=lot_size,
        )
    except KeyError as missing:
        raise UnreadablePayload(f"position row lacks or mislabels {missing}") from None


def holding(row: HoldingRow, symbol: str) -> Holding:
    try:
        return Holding(symbol=symbol, exchange=our_exchange(row["exchange"]), quantity=Decimal(row["quantity"]),
                       average_price=decimal(row["average_price"]), ltp=decimal(row.get("last_price")))
    except KeyError as missing:
        raise UnreadablePayload(f"holding row lacks {missing}") from None


def funds(payload: MarginsPayload) -> Funds:
    return Funds(availablecash=decimal(payload.get("available_cash")), collateral=decimal(payload.get("collateral")),
                 m2mrealized=decimal(payload.get("realised_m2m")), m2munrealized=decimal(payload.get("unrealised_m2m")),
                 utiliseddebits=decimal(payload.get("utilised")))


def _levels(rows: list[dict[str, str | int]]) -> tuple[DepthLevel, ...]:
    return tuple(DepthLevel(price=decimal(row["price"]), quantity=int(row["quantity"]),
                            orders=int(row.get("orders", 0))) for row in rows)


def quote(payload: QuotePayload) -> Quote:
    ohlc = payload.get("ohlc", {})
    depth = payload.get("depth", {})
    bids, asks = _levels(depth.get("buy", [])), _levels(depth.get("sell", []))
    stamp = payload.get("timestamp")
    return Quote(ltp=decimal(payload.get("last_price")), open=decimal(ohlc.get("open")),
                 high=decimal(ohlc.get("high")), low=decimal(ohlc.get("low")), prev_close=decimal(ohlc.get("close")),
                 volume=int(payload.get("volume", 0)),
                 bid=bids[0].price if bids else Decimal(0), ask=asks[0].price if asks else Decimal(0),
                 oi=int(payload.get("oi", 0)), timestamp=timestamp(stamp) if stamp else None)


def depth(payload: QuotePayload) -> Depth:
    levels = payload.get("depth", {})
    return Depth(bids=_levels(levels.get("buy", [])), asks=_levels(levels.get("sell", [])), quote=quote(payload))


def candle(row: list) -> Candle:
    """A bar: [ISO time, open, high, low, close, volume, oi?]."""
    if len(row) < 6:
        raise UnreadablePayload(f"short candle {row!r}")
    return Candle(timestamp=int(timestamp(row[0]).timestamp()), open=decimal(row[1]), high=decimal(row[2]),
                  low=decimal(row[3]), close=decimal(row[4]), volume=int(row[5]), oi=int(row[6]) if len(row) > 6 else 0)


def instrument_row(payload: InstrumentPayload) -> InstrumentRow:
    """One master-contract row, with our symbol built from its parts (spec §4.1)."""
    try:
        exchange = our_exchange(payload["exchange"])
        kind = payload["instrument_type"]
        name = payload["name"]
        expiry = date.fromisoformat(payload["expiry"]) if payload.get("expiry") else None
        strike = decimal(payload["strike"]) if kind in ("CE", "PE") else None
        brsymbol = payload["tradingsymbol"]
        if kind in ("CE", "PE"):
            if expiry is None or strike is None:
                raise UnreadablePayload(f"option {brsymbol} without expiry or strike")
            symbol = format_option(name, expiry, strike, kind)
        elif kind == "FUT":
            if expiry is None:
                raise UnreadablePayload(f"future {brsymbol} without expiry")
            symbol = format_future(name, expiry)
        elif kind == "IDX":  # "NIFTY 50" there, "NIFTY" here
            symbol = name
        else:
            symbol = brsymbol.removesuffix(EQUITY_SUFFIX)
        return InstrumentRow(
            symbol=symbol, brsymbol=brsymbol, name=name, exchange=exchange, brexchange=payload["exchange"],
            token=str(payload["instrument_token"]), expiry=expiry, strike=strike,
            lotsize=int(payload.get("lot_size", 1)), instrumenttype=_INSTRUMENT_TYPES.get(kind, kind),
            tick_size=decimal(payload.get("tick_size", "0.05")), freeze_qty=int(payload.get("freeze_quantity", 1)),
        )
    except (KeyError, ValueError, TypeError) as problem:
        if isinstance(problem, UnreadablePayload):
            raise
        raise UnreadablePayload(f"instrument row unreadable: {problem}") from None


_INSTRUMENT_TYPES = {"EQ": "EQ", "IDX": "", "FUT": "FUT", "CE": "OPT", "PE": "OPT"}
