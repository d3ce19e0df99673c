"""From an alert's body to the orders it asks for: the rules of the strategy webhook and
the ChartInk webhook (spec §11.2), as pure functions of the body, the strategy, its
symbol map and the time. Nothing here writes; a refusal is an exception with its answer."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from brokers.enums import Exchange
from core.values import IST

# Every order an alert places is a market order of the mapped product.
ORDER_DEFAULTS = {"pricetype": "MARKET", "price": "0", "trigger_price": "0", "disclosed_quantity": 0}
PLACE, SMART = "placeorder", "placesmartorder"
CHARTINK_ACTIONS = ("COVER", "SHORT", "SELL", "BUY")  # looked for in this order: "SHORT SELL" is SHORT
_WORD = re.compile(r"[A-Za-z]+")


class Refused(Exception):
    """The alert is answered with ``status`` and ``message`` and places nothing."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class StrategyView:
    """What the rules need of a strategy (a model instance fits)."""

    name: str
    direction: str
    intraday: bool
    start_time: time
    end_time: time
    squareoff_time: time


@dataclass(frozen=True, slots=True)
class Mapped:
    symbol: str
    exchange: str
    quantity: Decimal
    product: str


def parse_body(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object whatever its Content-Type (TradingView sends text/plain)."""
    if not raw.strip():
        raise Refused(400, "No data received")
    if b"\x00" in raw or b"\\u0000" in raw:  # the database's JSON cannot keep NUL characters
        raise Refused(400, "Invalid JSON body: NUL characters are not allowed")
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused(400, "Invalid JSON body: send a JSON object such as "
                           '{"symbol": "RELIANCE", "action": "BUY", "position_size": "1"}') from None
    if not isinstance(data, dict):
        raise Refused(400, "Invalid JSON body: expected a JSON object")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool):
        raise Refused(400, f"Invalid {field}: must be a number")
    try:
        number = Decimal(_text(value))
    except InvalidOperation:
        raise Refused(400, f"Invalid {field}: must be a number") from None
    if not number.is_finite():
        raise Refused(400, f"Invalid {field}: must be a number")
    return number


def _whole(value: Decimal, exchange: str, field: str) -> Decimal:
    if exchange != Exchange.CRYPTO and value != value.to_integral_value():
        raise Refused(400, f"Fractional {field} ({float(value)}) is not allowed for non-crypto exchanges")
    return value if exchange == Exchange.CRYPTO else value.to_integral_value()


def _qty(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _in_window(now: datetime, strategy: StrategyView, *, entry: bool) -> None:
    if not strategy.intraday:
        return
    local = now.astimezone(IST).time()
    if entry and not (strategy.start_time <= local < strategy.end_time):
        raise Refused(400, f"Entry orders are allowed only between {strategy.start_time:%H:%M} and "
                           f"{strategy.end_time:%H:%M} IST")
    if not entry and local >= strategy.squareoff_time:
        raise Refused(400, f"Exit orders are not allowed after the square-off time "
                           f"({strategy.squareoff_time:%H:%M} IST)")


def _order(strategy: StrategyView, mapped: Mapped, action: str, quantity: Decimal,
           position_size: Decimal | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"strategy": strategy.name, "symbol": mapped.symbol, "exchange": mapped.exchange,
                            "action": action, "quantity": _qty(quantity), "product": mapped.product,
                            **ORDER_DEFAULTS}
    if position_size is not None:
        data["position_size"] = _qty(position_size)
        return {"path": SMART, "data": data}
    return {"path": PLACE, "data": data}


def _exit(strategy: StrategyView, mapped: Mapped, action: str) -> dict[str, Any]:
    """Flatten the position: a smart order to position 0 (quantity 0), the reference's exit."""
    return _order(strategy, mapped, action, Decimal(0), Decimal(0))


def strategy_alert(body: Mapping[str, Any], strategy: StrategyView, mapping: Mapping[str, Mapped],
                   now: datetime) -> tuple[str, list[dict[str, Any]]]:
    """A TradingView or SDK alert (``{"symbol", "action", "position_size"}``): the symbol and
    its one order. LONG: BUY enters (|position_size| or the mapped quantity), SELL exits to
    flat; SHORT mirrors it; BOTH: a smart order to ``position_size`` (BUY needs it ≥ 0, SELL ≤ 0)."""
    required = ["symbol", "action"] + (["position_size"] if strategy.direction == "BOTH" else [])
    missing = [field for field in required if _text(body.get(field)) == ""]
    if missing:
        raise Refused(400, f"Missing required fields: {', '.join(missing)}")
    symbol, action = _text(body["symbol"]), _text(body["action"]).upper()
    if action not in ("BUY", "SELL"):
        raise Refused(400, "Invalid action: use BUY or SELL")
    mapped = mapping.get(symbol)
    if mapped is None:
        raise Refused(400, f"No mapping found for symbol {symbol}")
    given = _text(body.get("position_size"))
    position = _whole(_number(given, "position_size"), mapped.exchange, "position_size") if given else None
    if strategy.direction == "BOTH":
        assert position is not None
        if action == "BUY" and position < 0:
            raise Refused(400, "For BUY orders in BOTH mode, position_size must be 0 or more")
        if action == "SELL" and position > 0:
            raise Refused(400, "For SELL orders in BOTH mode, position_size must be 0 or less")
        _in_window(now, strategy, entry=position != 0)
        quantity = mapped.quantity if position != 0 else Decimal(0)
        return symbol, [_order(strategy, mapped, action, quantity, position)]
    entry_action = "BUY" if strategy.direction == "LONG" else "SELL"
    if action == entry_action:
        _in_window(now, strategy, entry=True)
        quantity = abs(position) if position else mapped.quantity
        return symbol, [_order(strategy, mapped, action, quantity)]
    _in_window(now, strategy, entry=False)
    return symbol, [_exit(strategy, mapped, action)]


def chartink_action(scan_name: str) -> str | None:
    words = {word.upper() for word in _WORD.findall(scan_name)}
    return next((action for action in CHARTINK_ACTIONS if action in words), None)


ALLOWED_CHARTINK = {"LONG": ("BUY", "SELL"), "SHORT": ("SHORT", "COVER"), "BOTH": CHARTINK_ACTIONS}


def chartink_alert(body: Mapping[str, Any], strategy: StrategyView, mapping: Mapping[str, Mapped],
                   now: datetime) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """A ChartInk scan alert (``{"stocks": "SBIN,INFY", "scan_name": "... BUY ..."}``): the
    action is a keyword of the scan name (BUY enters long, SELL exits long, SHORT enters
    short, COVER exits short). Returns (symbols placed, symbols without a mapping, orders)."""
    missing = [field for field in ("stocks", "scan_name") if _text(body.get(field)) == ""]
    if missing:
        raise Refused(400, f"Missing required fields: {', '.join(missing)}")
    action = chartink_action(_text(body["scan_name"]))
    if action is None:
        raise Refused(400, "No action in scan_name: name the scan with BUY, SELL, SHORT or COVER")
    if action not in ALLOWED_CHARTINK[strategy.direction]:
        raise Refused(400, f"{action} alerts are not allowed in a {strategy.direction} strategy")
    _in_window(now, strategy, entry=action in ("BUY", "SHORT"))
    stocks = [stock.strip() for stock in _text(body["stocks"]).split(",") if stock.strip()]
    placed = [stock for stock in dict.fromkeys(stocks) if stock in mapping]
    unmapped = [stock for stock in dict.fromkeys(stocks) if stock not in mapping]
    if not placed:
        raise Refused(400, f"No mapping found for symbol {', '.join(unmapped)}")
    orders = []
    for stock in placed:
        mapped = mapping[stock]
        if action == "BUY":
            orders.append(_order(strategy, mapped, "BUY", mapped.quantity))
        elif action == "SHORT":
            orders.append(_order(strategy, mapped, "SELL", mapped.quantity))
        else:
            orders.append(_exit(strategy, mapped, "SELL" if action == "SELL" else "BUY"))
    return placed, unmapped, orders


def square_off_orders(strategy: StrategyView, mapping: Mapping[str, Mapped]) -> list[dict[str, Any]]:
    """Flatten every mapped symbol's position (a smart order to 0 does nothing when flat).
    The action is only the smart order's fallback; with quantity 0 it never trades on its own."""
    return [_exit(strategy, mapped, "SELL") for mapped in mapping.values()]
