"""The tick bus's one codec, used by publishers and subscribers alike: topics carry the
feed owner, exchange and symbol; payloads are the normalised tick as compact JSON; and
the WebSocket frames of spec websocket.md §5 are built from it once per mode."""

from __future__ import annotations

import json
from decimal import Decimal

SEP = "|"
MODES = {1: "LTP", 2: "Quote", 3: "Depth"}
LABELS = {label.lower(): mode for mode, label in MODES.items()}


def owner_for(broker: str, user_id: int, *, shared: bool) -> str:
    """Whose feed a user's ticks come from: a broker whose one stream serves every user of
    it (market data they may all see) publishes under its own name; otherwise each logged-in
    session's stream publishes under its user."""
    return broker if shared else f"u{user_id}"


def owner_prefix(owner: str) -> bytes:
    """The start of every topic of ``owner``'s feed."""
    return f"{owner}{SEP}".encode()


def encode_topic(owner: str, exchange: str, symbol: str) -> bytes:
    return f"{owner}{SEP}{exchange}{SEP}{symbol}".encode()


def decode_topic(topic: bytes) -> tuple[str, str, str]:
    owner, exchange, symbol = topic.decode().split(SEP, 2)
    return owner, exchange, symbol


def _num(value) -> float:
    if value is None:
        return 0.0
    number = float(value)
    return number if number == number and abs(number) != float("inf") else 0.0


def tick_payload(quote, depth=None, *, at_ms: int, lot_size: int = 1) -> bytes:
    """The normalised tick (all of mode 3) from a contract Quote and optional Depth."""
    close = _num(quote.prev_close)
    ltp = _num(quote.ltp)
    change = round(ltp - close, 4) if close else 0.0
    bids = [{"price": _num(level.price), "quantity": int(level.quantity), "orders": int(level.orders)}
            for level in (depth.bids if depth else ())]
    asks = [{"price": _num(level.price), "quantity": int(level.quantity), "orders": int(level.orders)}
            for level in (depth.asks if depth else ())]
    data = {
        "ltp": ltp, "ltt": at_ms, "timestamp": at_ms, "open": _num(quote.open), "high": _num(quote.high),
        "low": _num(quote.low), "close": close, "volume": int(quote.volume or 0),
        "last_trade_quantity": lot_size, "avg_trade_price": round((_num(quote.high) + _num(quote.low) + ltp) / 3, 2),
        "change": change, "change_percent": round(change / close * 100, 2) if close else 0.0,
        "total_buy_quantity": sum(b["quantity"] for b in bids), "total_sell_quantity": sum(a["quantity"] for a in asks),
        "oi": int(quote.oi or 0), "bid": _num(quote.bid), "ask": _num(quote.ask),
        "depth": {"buy": bids, "sell": asks},
    }
    return json.dumps(data, separators=(",", ":"), default=_default).encode()


def _default(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value))


def pad(levels: list[dict], count: int) -> list[dict]:
    levels = levels[:count]
    return levels + [{"price": 0, "quantity": 0, "orders": 0}] * (count - len(levels))


def frame(symbol: str, exchange: str, mode: int, broker: str, tick: dict, depth_level: int = 5) -> str:
    """One market_data frame (§5). Mode 3 frames carry the padded book; the payload is
    otherwise shared (§5.5: a lower mode may see extra fields)."""
    data = tick
    if mode == 3:
        data = {**tick, "depth_level": depth_level,
                "depth": {"buy": pad(tick["depth"]["buy"], depth_level),
                          "sell": pad(tick["depth"]["sell"], depth_level)}}
    elif "depth" in tick:
        data = {key: value for key, value in tick.items() if key != "depth"}
    return json.dumps({"type": "market_data", "symbol": symbol, "exchange": exchange, "mode": mode,
                       "broker": broker, "data": data}, separators=(",", ":"))


def parse_mode(value) -> int | None:
    """1/2/3 or LTP/Quote/Depth (any case, trimmed); booleans and anything else: None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in MODES else None
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():  # "³".isdigit() is True, int("³") raises
            return int(text) if int(text) in MODES else None
        return LABELS.get(text.lower())
    return None
