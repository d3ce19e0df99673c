"""Angel One's fields <-> ours, both ways, as pure functions (no I/O): tested with the
documented payloads alone. ``symbol`` arguments are our names for a row's instrument,
found by the adapter through the master contract."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from brokers.base import (
    BrokerOrder,
    Candle,
    Depth,
    DepthLevel,
    Funds,
    Holding,
    ModifyRequest,
    OrderRequest,
    Quote,
    Trade,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.positions import PositionTotals
from core.values import IST

from .schemas import (
    HoldingRow,
    ModifyOrderBody,
    Number,
    OrderRow,
    PlaceOrderBody,
    PositionRow,
    QuoteRow,
    RmsPayload,
    TradeRow,
)

SIDES = {Action.BUY: "BUY", Action.SELL: "SELL"}
ORDER_TYPES = {PriceType.MARKET: "MARKET", PriceType.LIMIT: "LIMIT", PriceType.SL: "STOPLOSS_LIMIT",
               PriceType.SL_M: "STOPLOSS_MARKET"}
PRODUCTS = {Product.CNC: "DELIVERY", Product.NRML: "CARRYFORWARD", Product.MIS: "INTRADAY"}
# Stop-loss orders go in the STOPLOSS variety, the others in NORMAL (ROBO is a bracket order,
# AMO is applied by Angel itself to orders placed after hours).
VARIETIES = {PriceType.MARKET: "NORMAL", PriceType.LIMIT: "NORMAL", PriceType.SL: "STOPLOSS",
             PriceType.SL_M: "STOPLOSS"}
DURATION = "DAY"  # IOC is refused for commodities, and forbidden for algos since April 2026

# The order-book ``status`` words. Ours already; Angel's transient states are working orders.
STATUSES = {
    "open": OrderStatus.OPEN, "complete": OrderStatus.COMPLETE, "rejected": OrderStatus.REJECTED,
    "cancelled": OrderStatus.CANCELLED, "trigger pending": OrderStatus.TRIGGER_PENDING,
    "open pending": OrderStatus.OPEN, "validation pending": OrderStatus.OPEN,
    "put order req received": OrderStatus.OPEN, "modify pending": OrderStatus.OPEN,
    "modify validation pending": OrderStatus.OPEN, "modified": OrderStatus.OPEN,
    "after market order req received": OrderStatus.OPEN, "modify after market order req received": OrderStatus.OPEN,
    "cancel pending": OrderStatus.OPEN, "cancelled after market order": OrderStatus.CANCELLED,
}

# Exchanges: the same words there, except that indices are rows of the cash segment.
EXCHANGES = {Exchange.NSE: "NSE", Exchange.BSE: "BSE", Exchange.NFO: "NFO", Exchange.BFO: "BFO",
             Exchange.CDS: "CDS", Exchange.MCX: "MCX", Exchange.NSE_INDEX: "NSE", Exchange.BSE_INDEX: "BSE",
             Exchange.MCX_INDEX: "MCX"}
_TRADED = {Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.MCX}

# Candle intervals: ours -> (Angel's word, most days one request may cover).
INTERVALS = {"1m": ("ONE_MINUTE", 30), "3m": ("THREE_MINUTE", 60), "5m": ("FIVE_MINUTE", 100),
             "10m": ("TEN_MINUTE", 100), "15m": ("FIFTEEN_MINUTE", 200), "30m": ("THIRTY_MINUTE", 200),
             "1h": ("ONE_HOUR", 400), "D": ("ONE_DAY", 2000)}

ORDER_TAG_LENGTH = 19  # "ordertag" must be under 20 characters (AB4008 beyond)

_SIDE_OF = {theirs: ours for ours, theirs in SIDES.items()}
_TYPE_OF = {theirs: ours for ours, theirs in ORDER_TYPES.items()}
_PRODUCT_OF = {theirs: ours for ours, theirs in PRODUCTS.items()}
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class UnreadablePayload(ValueError):
    """A payload field is missing or not what the broker documents."""


def their_exchange(exchange: Exchange) -> str:
    try:
        return EXCHANGES[exchange]
    except KeyError:
        raise UnreadablePayload(f"Angel One does not trade {exchange}") from None


def our_exchange(exchange: str) -> Exchange:
    """The exchange of a traded row (orders, trades, positions): never an index."""
    try:
        ours = Exchange(exchange)
    except ValueError:
        raise UnreadablePayload(f"unknown exchange {exchange!r}") from None
    if ours not in _TRADED:
        raise UnreadablePayload(f"unknown exchange {exchange!r}")
    return ours


def our_product(product: str) -> Product:
    """Angel's product back to ours; MARGIN (margin delivery) is delivery to us, and BO (a
    ROBO bracket order, placed elsewhere: we never send one) is intraday."""
    if product == "MARGIN":
        return Product.CNC
    if product == "BO":
        return Product.MIS
    try:
        return _PRODUCT_OF[product]
    except KeyError:
        raise UnreadablePayload(f"unknown product {product!r}") from None


def decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value).strip()) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        raise UnreadablePayload(f"not a number: {value!r}") from None


def integer(value: object) -> int:
    return int(decimal(value))


def order_tag(tag: str) -> str:
    """Our order reference as Angel takes it: letters, digits, '-' and '_', under 20 chars."""
    return _TAG_UNSAFE.sub("", tag)[:ORDER_TAG_LENGTH]


def _price(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


# --- Ours -> theirs ---------------------------------------------------------------------------------

def order_body(request: OrderRequest, *, brsymbol: str, token: str, pricetype: PriceType,
               price: Decimal) -> PlaceOrderBody:
    """placeOrder's body. ``pricetype`` and ``price`` are what is sent, after market
    protection turned a MARKET order into a protected LIMIT (see protection.py)."""
    body: PlaceOrderBody = {
        "variety": VARIETIES[pricetype], "tradingsymbol": brsymbol, "symboltoken": token,
        "transactiontype": SIDES[request.action], "exchange": their_exchange(request.exchange),
        "ordertype": ORDER_TYPES[pricetype], "producttype": PRODUCTS[request.product], "duration": DURATION,
        "price": _price(price), "triggerprice": _price(request.trigger_price),
        "quantity": str(int(request.quantity)), "disclosedquantity": str(request.disclosed_quantity),
        "squareoff": "0", "stoploss": "0",
    }
    tag = order_tag(request.tag)
    if tag:
        body["ordertag"] = tag
    return body


def modify_body(request: ModifyRequest, *, brsymbol: str, token: str, pricetype: PriceType,
                price: Decimal) -> ModifyOrderBody:
    return {
        "variety": VARIETIES[pricetype], "orderid": request.orderid, "ordertype": ORDER_TYPES[pricetype],
        "producttype": PRODUCTS[request.product], "duration": DURATION, "price": _price(price),
        "triggerprice": _price(request.trigger_price), "quantity": str(int(request.quantity)),
        "disclosedquantity": str(request.disclosed_quantity), "tradingsymbol": brsymbol, "symboltoken": token,
        "exchange": their_exchange(request.exchange),
    }


# --- Theirs -> ours ---------------------------------------------------------------------------------

def order_time(text: str) -> datetime:
    """``18-May-2023 09:51:38`` (IST) as an aware datetime; also ISO forms."""
    text = (text or "").strip()
    for layout in ("%d-%b-%Y %H:%M:%S", "%Y-%b-%d %H:%M:%S", "%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=IST)
        except ValueError:
            continue
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UnreadablePayload(f"not a timestamp: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=IST)


def _stamp(row: OrderRow) -> datetime:
    """The row's last update; a row not yet stamped (pushed updates may carry "") is now."""
    text = row.get("updatetime") or row.get("exchorderupdatetime") or row.get("exchtime")
    return order_time(text) if text else datetime.now(IST)


def status_of(row: OrderRow) -> OrderStatus:
    word = str(row.get("status") or row.get("orderstatus") or "").strip().lower()
    try:
        return STATUSES[word]
    except KeyError:
        raise UnreadablePayload(f"unknown order status {word!r}") from None


def broker_order(row: OrderRow, symbol: str) -> BrokerOrder:
    try:
        status = status_of(row)
        return BrokerOrder(
            orderid=str(row["orderid"]), symbol=symbol, exchange=our_exchange(row["exchange"]),
            action=_SIDE_OF[row["transactiontype"]], quantity=decimal(row["quantity"]),
            price=decimal(row.get("price")), trigger_price=decimal(row.get("triggerprice")),
            pricetype=_TYPE_OF[row["ordertype"]], product=our_product(row["producttype"]), status=status,
            timestamp=_stamp(row),
            filled_quantity=decimal(row.get("filledshares")), average_price=decimal(row.get("averageprice")),
            rejection_reason=str(row.get("text") or "") if status == OrderStatus.REJECTED else "",
            tag=str(row.get("ordertag") or ""),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"order row lacks or mislabels {missing}") from None


def trade(row: TradeRow, symbol: str, day: date) -> Trade:
    """A fill. Angel gives its time of day only (``13:27:53``); ``day`` is today in IST."""
    try:
        fill_time = str(row.get("filltime") or "00:00:00")
        try:
            moment = datetime.combine(day, time.fromisoformat(fill_time), IST)
        except ValueError:
            moment = order_time(fill_time)
        return Trade(
            orderid=str(row["orderid"]), symbol=symbol, exchange=our_exchange(row["exchange"]),
            action=_SIDE_OF[row["transactiontype"]], product=our_product(row["producttype"]),
            quantity=decimal(row["fillsize"]), average_price=decimal(row["fillprice"]), timestamp=moment,
            tradeid=str(row.get("fillid") or ""),
        )
    except KeyError as missing:
        raise UnreadablePayload(f"trade row lacks or mislabels {missing}") from None


def _value(row: PositionRow, quantity: str, average: str, amount: str) -> tuple[Decimal, Decimal]:
    """(quantity, value) of one side: quantity x its average price (the amount field's
    meaning varies between copies of the docs; the average's does not)."""
    count = decimal(row.get(quantity))
    price = row.get(average)
    if price not in (None, ""):
        return count, count * decimal(price)
    return count, decimal(row.get(amount))


def position_totals(row: PositionRow, symbol: str, lot_size: int = 1) -> PositionTotals:
    """What Angel reports of a position, for brokers.positions to compute net, average and P&L:
    today's buys and sells, and the carried-forward quantities at their average prices."""
    try:
        bought, bought_value = _value(row, "buyqty", "buyavgprice", "buyamount")
        sold, sold_value = _value(row, "sellqty", "sellavgprice", "sellamount")
        carry_bought, carry_bought_value = _value(row, "cfbuyqty", "cfbuyavgprice", "cfbuyamount")
        carry_sold, carry_sold_value = _value(row, "cfsellqty", "cfsellavgprice", "cfsellamount")
        carry = carry_bought - carry_sold
        if carry > 0:
            carry_price = carry_bought_value / carry_bought
        elif carry < 0:
            carry_price = carry_sold_value / carry_sold
        else:
            carry_price = Decimal(0)
        multiplier = decimal(row.get("multiplier"))
        return PositionTotals(
            symbol=symbol, exchange=our_exchange(row["exchange"]), product=our_product(row["producttype"]),
            buy_quantity=bought, buy_value=bought_value, sell_quantity=sold, sell_value=sold_value,
            ltp=decimal(row.get("ltp")), carry_quantity=carry, carry_price=carry_price,
            multiplier=multiplier if multiplier > 0 else Decimal(1), lot_size=lot_size,
        )
    except KeyError as missing:
        raise UnreadablePayload(f"position row lacks {missing}") from None
    except ArithmeticError:
        raise UnreadablePayload("position row has a carried quantity without its price") from None


def net_quantity(totals: PositionTotals) -> Decimal:
    return totals.buy_quantity - totals.sell_quantity + totals.carry_quantity


def holding(row: HoldingRow, symbol: str) -> Holding:
    try:
        return Holding(symbol=symbol, exchange=our_exchange(row["exchange"]), quantity=decimal(row["quantity"]),
                       average_price=decimal(row.get("averageprice")), ltp=decimal(row.get("ltp")),
                       product=Product.CNC)
    except KeyError as missing:
        raise UnreadablePayload(f"holding row lacks {missing}") from None


_RMS_EXTRA = ("net", "availableintradaypayin", "availablelimitmargin", "utilisedspan", "utilisedexposure",
              "utilisedoptionpremium", "utilisedpayout")


def funds(payload: RmsPayload) -> Funds:
    return Funds(availablecash=decimal(payload.get("availablecash")), collateral=decimal(payload.get("collateral")),
                 m2mrealized=decimal(payload.get("m2mrealized")), m2munrealized=decimal(payload.get("m2munrealized")),
                 utiliseddebits=decimal(payload.get("utiliseddebits")),
                 extra={key: str(payload.get(key)) for key in _RMS_EXTRA if payload.get(key) not in (None, "")})


def _levels(rows: list[dict[str, Number]]) -> tuple[DepthLevel, ...]:
    return tuple(DepthLevel(price=decimal(row.get("price")), quantity=integer(row.get("quantity")),
                            orders=integer(row.get("orders"))) for row in rows if decimal(row.get("price")) > 0)


def quote(row: QuoteRow) -> Quote:
    levels = row.get("depth") or {}
    bids, asks = _levels(levels.get("buy") or []), _levels(levels.get("sell") or [])
    stamp = row.get("exchFeedTime") or row.get("exchTradeTime")
    return Quote(ltp=decimal(row.get("ltp")), open=decimal(row.get("open")), high=decimal(row.get("high")),
                 low=decimal(row.get("low")), prev_close=decimal(row.get("close")),
                 volume=integer(row.get("tradeVolume")), bid=bids[0].price if bids else Decimal(0),
                 ask=asks[0].price if asks else Decimal(0), oi=integer(row.get("opnInterest")),
                 timestamp=order_time(stamp) if stamp else None)


def depth(row: QuoteRow) -> Depth:
    levels = row.get("depth") or {}
    return Depth(bids=_levels(levels.get("buy") or []), asks=_levels(levels.get("sell") or []), quote=quote(row))


def candle(row: list[object]) -> Candle:
    """A bar: [ISO time with +05:30, open, high, low, close, volume]."""
    if not isinstance(row, list) or len(row) < 6:
        raise UnreadablePayload(f"short candle {row!r}")
    try:
        moment = datetime.fromisoformat(str(row[0]))
    except ValueError:
        raise UnreadablePayload(f"not a timestamp: {row[0]!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=IST)
    return Candle(timestamp=int(moment.timestamp()), open=decimal(row[1]), high=decimal(row[2]), low=decimal(row[3]),
                  close=decimal(row[4]), volume=integer(row[5]))


def candle_windows(start: date, end: date, interval: str) -> list[tuple[str, str]]:
    """(fromdate, todate) pairs, ``yyyy-MM-dd HH:mm``, each within the interval's limit of days."""
    _, days = INTERVALS[interval]
    windows = []
    first = start
    while first <= end:
        last = min(end, first + timedelta(days=days - 1))
        windows.append((f"{first.isoformat()} 00:00", f"{last.isoformat()} 23:59"))
        first = last + timedelta(days=1)
    return windows
