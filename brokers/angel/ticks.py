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


# Each mode's whole frame in one unpack (the same layout as the parts above).
LTP_FRAME = HEADER
QUOTE_FRAME = struct.Struct("<BB25sqqq" + QUOTE_PART.format.lstrip("<"))
SNAP_FRAME = struct.Struct("<BB25sqqq" + QUOTE_PART.format.lstrip("<") + SNAP_PART.format.lstrip("<")
                           + LEVEL.format.lstrip("<") * 10 + CIRCUITS.format.lstrip("<"))
assert (QUOTE_FRAME.size, SNAP_FRAME.size) == (QUOTE_SIZE, SNAP_SIZE)
_FRAMES = {1: (Mode.LTP, LTP_FRAME), 2: (Mode.QUOTE, QUOTE_FRAME), 3: (Mode.DEPTH, SNAP_FRAME)}


def parse(frame: bytes) -> Tick:
    """One tick frame -> a normalised tick (mode 1, 2 or 3)."""
    if len(frame) < LTP_SIZE:
        raise BadFrame(f"frame of {len(frame)} bytes is shorter than an LTP tick")
    known = _FRAMES.get(frame[0])
    if known is None:
        raise BadFrame(f"unknown subscription mode {frame[0]}")
    mode, layout = known
    if len(frame) < layout.size:
        raise BadFrame(f"mode {frame[0]} frame of {len(frame)} bytes, {layout.size} expected")
    fields = layout.unpack_from(frame, 0)
    exchange_type, raw_token, stamp = fields[1], fields[2], fields[4]
    token = raw_token.split(b"\x00", 1)[0].decode("ascii", "replace")
    places = -7 if exchange_type == CURRENCY else -2
    at = datetime.fromtimestamp(stamp / 1000, UTC)
    ltp = Decimal(fields[5]).scaleb(places)
    if mode == Mode.LTP:
        quote = Quote(ltp=ltp, open=ZERO, high=ZERO, low=ZERO, prev_close=ZERO, volume=0, bid=ZERO, ask=ZERO,
                      timestamp=at)
        return Tick(exchange_type, token, mode, at, quote, None)
    # fields[6:15]: last traded qty, average price, volume, total buy, total sell, open, high, low, close
    volume, open_, high, low, close = fields[8], fields[11], fields[12], fields[13], fields[14]
    bids: tuple[DepthLevel, ...] = ()
    asks: tuple[DepthLevel, ...] = ()
    oi = 0
    if mode == Mode.DEPTH:
        oi = fields[16]  # fields[15:18]: last traded time, open interest, OI change %
        buy: list[DepthLevel] = []
        sell: list[DepthLevel] = []
        for at_field in range(18, 58, 4):  # ten (flag, quantity, price, orders)
            flag, quantity, price, orders = fields[at_field:at_field + 4]
            if price <= 0 and quantity <= 0:
                continue
            (buy if flag == 1 else sell).append(DepthLevel(price=Decimal(price).scaleb(places), quantity=quantity,
                                                           orders=orders))
        bids, asks = tuple(buy), tuple(sell)
    quote = Quote(ltp=ltp, open=Decimal(open_).scaleb(places), high=Decimal(high).scaleb(places),
                  low=Decimal(low).scaleb(places), prev_close=Decimal(close).scaleb(places), volume=volume,
                  bid=bids[0].price if bids else ZERO, ask=asks[0].price if asks else ZERO, oi=oi, timestamp=at)
    depth = Depth(bids=bids, asks=asks, quote=quote) if mode == Mode.DEPTH else None
    return Tick(exchange_type, token, mode, at, quote, depth)
