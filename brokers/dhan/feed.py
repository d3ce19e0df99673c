"""Dhan's binary market feed (v2), parsed with ``struct`` byte-exact to the documented
layout; pure (no I/O), so frames built byte by byte test it.

Every packet is little-endian and starts with an 8-byte header: ``uint8`` response code,
``int16`` packet length, ``uint8`` exchange-segment code, ``int32`` security id. One frame
may hold several packets: we advance by the length field. Prices are ``float32`` rupees.

| code | packet        | bytes | after the header |
|------|---------------|-------|------------------|
| 2    | ticker        | 16    | f32 LTP, i32 last trade time |
| 4    | quote         | 50    | f32 LTP, i16 LTQ, i32 LTT, f32 ATP, i32 volume, i32 total sell qty, |
|      |               |       | i32 total buy qty, f32 open, f32 close, f32 high, f32 low |
| 5    | OI            | 12    | i32 open interest |
| 6    | prev close    | 16    | f32 previous close, i32 previous OI |
| 7    | market status | 8     | none |
| 8    | full          | 162   | f32 LTP, i16 LTQ, i32 LTT, f32 ATP, i32 volume, i32 total sell, i32 total buy, |
|      |               |       | i32 OI, i32 OI high, i32 OI low, f32 open, f32 close, f32 high, f32 low, |
|      |               |       | then 5 x 20-byte depth |
| 50   | disconnect    | 10    | i16 reason code |
| 3    | depth (v1; read by Dhan's own client) | 112 | f32 LTP, then 5 x 20-byte depth |

A depth entry (20 bytes) holds one level of both sides: ``int32 bid qty, int32 ask qty,
int16 bid orders, int16 ask orders, float32 bid price, float32 ask price``."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from brokers.base import Depth, DepthLevel, Quote

# Dhan's docs say int16/int32; its own client (DhanHQ-py) reads them unsigned, which is the
# same bytes for every value in range and keeps a volume above 2**31 positive: we do too.
HEADER = struct.Struct("<BHBI")
TICKER = struct.Struct("<fI")
QUOTE = struct.Struct("<fHIfIIIffff")
OI = struct.Struct("<I")
PREV_CLOSE = struct.Struct("<fI")
FULL = struct.Struct("<fHIfIIIIIIffff")
DEPTH_ONLY = struct.Struct("<f")
DEPTH_LEVEL = struct.Struct("<IIHHff")
DISCONNECT = struct.Struct("<H")
DEPTH_LEVELS = 5

INDEX, TICKER_CODE, DEPTH_CODE, QUOTE_CODE, OI_CODE, PREV_CLOSE_CODE, STATUS_CODE, FULL_CODE, DISCONNECT_CODE = (
    1, 2, 3, 4, 5, 6, 7, 8, 50)
SIZES = {TICKER_CODE: 16, DEPTH_CODE: 112, QUOTE_CODE: 50, OI_CODE: 12, PREV_CLOSE_CODE: 16, STATUS_CODE: 8,
         FULL_CODE: 162, DISCONNECT_CODE: 10}
DISCONNECT_REASONS = {805: "too many connections", 806: "data APIs not subscribed", 807: "access token expired",
                      808: "authentication failed", 809: "access token invalid", 810: "client id invalid"}
CURRENCY_SEGMENTS = frozenset({3, 7})  # NSE_CURRENCY, BSE_CURRENCY: prices to 4 decimals
# Dhan's trade times have been seen as epoch seconds shifted to IST wall-clock; a time this
# far ahead of now can only be that, so it is shifted back.
IST_SHIFT = 19800
ZERO = Decimal(0)


class FeedDisconnect(Exception):
    """Dhan told us it is closing the feed (packet 50), with its reason code."""

    def __init__(self, reason: int) -> None:
        super().__init__(f"Dhan closed the feed: {reason} {DISCONNECT_REASONS.get(reason, '')}".rstrip())
        self.reason = reason


@dataclass(slots=True)
class Instrument:
    """What the feed told us of one instrument so far (the packets complement each other:
    previous close and OI come in packets of their own)."""

    prev_close: Decimal = ZERO
    oi: int = 0


@dataclass(frozen=True, slots=True)
class Tick:
    segment: int
    security_id: int
    quote: Quote
    depth: Depth | None
    at: datetime


@dataclass(slots=True)
class FeedParser:
    """Reads frames into ticks, keeping each instrument's previous close and OI."""

    clock: Callable[[], float] = time.time
    instruments: dict[tuple[int, int], Instrument] = field(default_factory=dict)

    def ticks(self, frame: bytes) -> Iterator[Tick]:
        offset, size = 0, len(frame)
        while offset + HEADER.size <= size:
            code, length, segment, security_id = HEADER.unpack_from(frame, offset)
            if length < HEADER.size:
                length = SIZES.get(code, 0)
                if length < HEADER.size:
                    return  # unreadable: the rest of the frame cannot be framed
            if offset + length > size:
                return  # truncated packet
            tick = self._packet(code, frame, offset, segment, security_id)
            if tick is not None:
                yield tick
            offset += length

    def _state(self, segment: int, security_id: int) -> Instrument:
        key = (segment, security_id)
        state = self.instruments.get(key)
        if state is None:
            state = self.instruments[key] = Instrument()
        return state

    def _when(self, epoch: int) -> datetime:
        now = self.clock()
        if epoch <= 0:
            return datetime.fromtimestamp(now, UTC)
        if epoch - now > 3600:
            epoch -= IST_SHIFT
        return datetime.fromtimestamp(epoch, UTC)

    def _packet(self, code: int, frame: bytes, offset: int, segment: int, security_id: int) -> Tick | None:
        body = offset + HEADER.size
        money = _price4 if segment in CURRENCY_SEGMENTS else _price2
        if code == TICKER_CODE:
            ltp, ltt = TICKER.unpack_from(frame, body)
            state = self._state(segment, security_id)
            quote = Quote(ltp=money(ltp), open=ZERO, high=ZERO, low=ZERO, prev_close=state.prev_close, volume=0,
                          bid=ZERO, ask=ZERO, oi=state.oi)
            return Tick(segment, security_id, quote, None, self._when(ltt))
        if code == QUOTE_CODE:
            ltp, _ltq, ltt, _atp, volume, _sell, _buy, day_open, _close, high, low = QUOTE.unpack_from(frame, body)
            state = self._state(segment, security_id)
            quote = Quote(ltp=money(ltp), open=money(day_open), high=money(high), low=money(low),
                          prev_close=state.prev_close, volume=volume, bid=ZERO, ask=ZERO, oi=state.oi)
            return Tick(segment, security_id, quote, None, self._when(ltt))
        if code == FULL_CODE:
            return self._full(frame, body, segment, security_id, money)
        if code == DEPTH_CODE:
            (ltp,) = DEPTH_ONLY.unpack_from(frame, body)
            state = self._state(segment, security_id)
            bids, asks = _levels(frame, body + DEPTH_ONLY.size, money)
            quote = Quote(ltp=money(ltp), open=ZERO, high=ZERO, low=ZERO, prev_close=state.prev_close, volume=0,
                          bid=bids[0].price, ask=asks[0].price, oi=state.oi)
            return Tick(segment, security_id, quote, Depth(bids=tuple(bids), asks=tuple(asks), quote=quote),
                        self._when(0))
        if code == OI_CODE:
            self._state(segment, security_id).oi = OI.unpack_from(frame, body)[0]
        elif code == PREV_CLOSE_CODE:
            prev_close, _prev_oi = PREV_CLOSE.unpack_from(frame, body)
            self._state(segment, security_id).prev_close = money(prev_close)
        elif code == DISCONNECT_CODE:
            raise FeedDisconnect(DISCONNECT.unpack_from(frame, body)[0])
        return None  # market status, index (layout undocumented) and unknown codes: skipped

    def _full(self, frame: bytes, body: int, segment: int, security_id: int,
              money: Callable[[float], Decimal]) -> Tick:
        (ltp, _ltq, ltt, _atp, volume, _sell, _buy, oi, _oi_high, _oi_low, day_open, _close, high,
         low) = FULL.unpack_from(frame, body)
        state = self._state(segment, security_id)
        state.oi = oi
        bids, asks = _levels(frame, body + FULL.size, money)
        quote = Quote(ltp=money(ltp), open=money(day_open), high=money(high), low=money(low),
                      prev_close=state.prev_close, volume=volume, bid=bids[0].price, ask=asks[0].price, oi=oi)
        return Tick(segment, security_id, quote, Depth(bids=tuple(bids), asks=tuple(asks), quote=quote),
                    self._when(ltt))


# float32 -> Decimal is the costly step of a tick; prices repeat (depth levels, a quiet
# instrument), so conversions are remembered, in a table cleared when it grows large.
_CACHE_LIMIT = 200_000
_cents: dict[float, Decimal] = {}
_hundredths_of_paise: dict[float, Decimal] = {}


def _levels(frame: bytes, at: int, money: Callable[[float], Decimal]) -> tuple[list[DepthLevel], list[DepthLevel]]:
    """Five 20-byte entries, each one level of both sides."""
    bids, asks = [], []
    for _ in range(DEPTH_LEVELS):
        bid_qty, ask_qty, bid_orders, ask_orders, bid_price, ask_price = DEPTH_LEVEL.unpack_from(frame, at)
        bids.append(DepthLevel(price=money(bid_price), quantity=bid_qty, orders=bid_orders))
        asks.append(DepthLevel(price=money(ask_price), quantity=ask_qty, orders=ask_orders))
        at += DEPTH_LEVEL.size
    return bids, asks


def _price2(value: float) -> Decimal:
    price = _cents.get(value)
    if price is None:
        if len(_cents) >= _CACHE_LIMIT:
            _cents.clear()
        price = _cents[value] = Decimal(f"{value:.2f}")
    return price


def _price4(value: float) -> Decimal:
    price = _hundredths_of_paise.get(value)
    if price is None:
        if len(_hundredths_of_paise) >= _CACHE_LIMIT:
            _hundredths_of_paise.clear()
        price = _hundredths_of_paise[value] = Decimal(f"{value:.4f}")
    return price
