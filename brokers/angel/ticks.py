"""SmartAPI WebSocket 2.0 tick frames, parsed with ``struct`` byte-exact to the documented
layout: little-endian, one tick per binary frame, prices in paise (currencies in 10^-7
rupees). Pure: tested with frames built byte by byte.

    off  size  field
      0     1  subscription mode (1 LTP, 2 QUOTE, 3 SNAP_QUOTE)    uint8
      1     1  exchange type                                      uint8
      2    25  token, ASCII, NUL-terminated                       bytes
     27     8  sequence number                                    int64
     35     8  exchange timestamp, epoch ms                       int64
     43     8  last traded price            (LTP frame: 51 bytes) int64
     51     8  last traded quantity                               int64
     59     8  average traded price                               int64
     67     8  volume for the day                                 int64
     75     8  total buy quantity                                 float64
     83     8  total sell quantity                                float64
     91  4 x 8  open, high, low, close     (QUOTE frame: 123 bytes) int64
    123     8  last traded timestamp                              int64
    131     8  open interest                                      int64
    139     8  open interest change % (documented as garbage)     float64
    147   200  best five: 10 x (flag int16 1 buy/0 sell, qty int64, price int64, orders int16)
    347  4 x 8  upper circuit, lower circuit, 52-week high, 52-week low  (SNAP: 379 bytes)"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from brokers.base import Depth, DepthLevel, Quote
from brokers.streaming import Mode

HEADER = struct.Struct("<BB25sqqq")  # mode, exchange type, token, sequence, exchange time, ltp
QUOTE_PART = struct.Struct("<qqqddqqqq")  # ltq, atp, volume, total buy, total sell, open, high, low, close
SNAP_PART = struct.Struct("<qqd")  # last traded time, open interest, OI change %
LEVEL = struct.Struct("<hqqh")  # flag, quantity, price, orders
CIRCUITS = struct.Struct("<qqqq")
LTP_SIZE = HEADER.size  # 51
QUOTE_SIZE = LTP_SIZE + QUOTE_PART.size  # 123
BEST_FIVE_AT = QUOTE_SIZE + SNAP_PART.size  # 147
SNAP_SIZE = BEST_FIVE_AT + 10 * LEVEL.size + CIRCUITS.size  # 379
assert (LTP_SIZE, QUOTE_SIZE, BEST_FIVE_AT, SNAP_SIZE) == (51, 123, 147, 379)

# exchangeType codes of the subscribe message and the frames.
EXCHANGE_TYPES = {"NSE": 1, "NFO": 2, "BSE": 3, "BFO": 4, "MCX": 5, "NCX": 7, "CDS": 13}
CURRENCY = 13
MODES = {Mode.LTP: 1, Mode.QUOTE: 2, Mode.DEPTH: 3}
_MODE_OF = {theirs: ours for ours, theirs in MODES.items()}
PAISE = Decimal(100)
CURRENCY_UNIT = Decimal(10_000_000)
ZERO = Decimal(0)


class BadFrame(ValueError):
    """A binary frame shorter than its mode's layout, or of an unknown mode."""


@dataclass(frozen=True, slots=True)
class Tick:
    exchange_type: int
    token: str
    mode: Mode
    at: datetime
    quote: Quote
    depth: Depth | None


def _unit(exchange_type: int) -> Decimal:
    return CURRENCY_UNIT if exchange_type == CURRENCY else PAISE


def parse(frame: bytes) -> Tick:
    """One tick frame -> a normalised tick (mode 1, 2 or 3)."""
    if len(frame) < LTP_SIZE:
        raise BadFrame(f"frame of {len(frame)} bytes is shorter than an LTP tick")
    mode_code, exchange_type, raw_token, _sequence, stamp, ltp_raw = HEADER.unpack_from(frame, 0)
    mode = _MODE_OF.get(mode_code)
    if mode is None:
        raise BadFrame(f"unknown subscription mode {mode_code}")
    needed = {Mode.LTP: LTP_SIZE, Mode.QUOTE: QUOTE_SIZE, Mode.DEPTH: SNAP_SIZE}[mode]
    if len(frame) < needed:
        raise BadFrame(f"mode {mode_code} frame of {len(frame)} bytes, {needed} expected")
    token = raw_token.split(b"\x00", 1)[0].decode("ascii", "replace")
    unit = _unit(exchange_type)
    at = datetime.fromtimestamp(stamp / 1000, UTC)
    ltp = Decimal(ltp_raw) / unit
    if mode == Mode.LTP:
        quote = Quote(ltp=ltp, open=ZERO, high=ZERO, low=ZERO, prev_close=ZERO, volume=0, bid=ZERO, ask=ZERO,
                      timestamp=at)
        return Tick(exchange_type, token, mode, at, quote, None)
    _ltq, _atp, volume, _buys, _sells, open_, high, low, close = QUOTE_PART.unpack_from(frame, LTP_SIZE)
    bids: tuple[DepthLevel, ...] = ()
    asks: tuple[DepthLevel, ...] = ()
    oi = 0
    if mode == Mode.DEPTH:
        _traded_at, oi, _oi_change = SNAP_PART.unpack_from(frame, QUOTE_SIZE)
        buy: list[DepthLevel] = []
        sell: list[DepthLevel] = []
        for index in range(10):
            flag, quantity, price, orders = LEVEL.unpack_from(frame, BEST_FIVE_AT + index * LEVEL.size)
            if price <= 0 and quantity <= 0:
                continue
            level = DepthLevel(price=Decimal(price) / unit, quantity=quantity, orders=orders)
            (buy if flag == 1 else sell).append(level)
        bids, asks = tuple(buy), tuple(sell)
    quote = Quote(ltp=ltp, open=Decimal(open_) / unit, high=Decimal(high) / unit, low=Decimal(low) / unit,
                  prev_close=Decimal(close) / unit, volume=volume, bid=bids[0].price if bids else ZERO,
                  ask=asks[0].price if asks else ZERO, oi=oi, timestamp=at)
    depth = Depth(bids=bids, asks=asks, quote=quote) if mode == Mode.DEPTH else None
    return Tick(exchange_type, token, mode, at, quote, depth)
