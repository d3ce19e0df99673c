"""Kite's binary market-data frames, parsed with ``struct`` byte-exact to the documented
layout (https://kite.trade/docs/connect/v3/websocket/; offsets as pykiteconnect reads them).
Pure functions: no I/O, no clock but the one passed in.

A frame is big-endian: ``uint16`` packet count, then per packet ``uint16`` length and the
packet. The length says the mode:

- 8 bytes, LTP: token, last price.
- 28 / 32 bytes, an index (segment 9) in quote / full mode: token, last price, high, low,
  open, close, change (, exchange timestamp).
- 44 bytes, quote: token, last price, last traded quantity, average traded price, volume,
  total buy quantity, total sell quantity, open, high, low, close.
- 184 bytes, full: quote, then last trade time, OI, OI day high, OI day low, exchange
  timestamp (epoch seconds), then 10 depth entries of 12 bytes (quantity ``int32``, price
  ``int32``, orders ``int16``, 2 bytes padding): 5 bids, then 5 asks.

Prices are integers scaled per segment (``token & 0xFF``): CDS ÷ 10,000,000, BCD ÷ 10,000,
everything else ÷ 100 (paise). A frame of one byte is a heartbeat."""

from __future__ import annotations

import struct
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from brokers.base import Depth, DepthLevel, Quote
from brokers.streaming import Mode

SEGMENT_NSE, SEGMENT_NFO, SEGMENT_CDS, SEGMENT_BSE, SEGMENT_BFO, SEGMENT_BCD, SEGMENT_MCX = 1, 2, 3, 4, 5, 6, 7
SEGMENT_MCXSX, SEGMENT_INDICES = 8, 9
SCALE_DIGITS = {SEGMENT_CDS: 7, SEGMENT_BCD: 4}  # price = integer / 10**digits; 2 (paise) elsewhere

LTP_LENGTH, INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH, QUOTE_LENGTH, FULL_LENGTH = 8, 28, 32, 44, 184
COUNT = struct.Struct(">H")
LTP = struct.Struct(">Ii")
INDEX_FULL = struct.Struct(">Iiiiiii I")
INDEX_QUOTE = struct.Struct(">Iiiiiii")
QUOTE = struct.Struct(">IiIiIIIiiii")
# The 64-byte head of a full packet, then 10 depth entries: 46 values in one unpack.
FULL = struct.Struct(">IiIiIIIiiii IIIII" + " IiH2x" * 10)
MODES = {LTP_LENGTH: Mode.LTP, INDEX_QUOTE_LENGTH: Mode.QUOTE, QUOTE_LENGTH: Mode.QUOTE,
         INDEX_FULL_LENGTH: Mode.DEPTH, FULL_LENGTH: Mode.DEPTH}
# What Kite calls each of our modes in a ``mode`` message.
MODE_NAMES = {Mode.LTP: "ltp", Mode.QUOTE: "quote", Mode.DEPTH: "full"}

ZERO = Decimal(0)
_PRICES_PER_INSTRUMENT = 4096


class MalformedFrame(ValueError):
    """A frame shorter than its own header says."""


class _Prices(dict[int, Decimal]):
    """One instrument's scaled integers -> Decimal, remembered: its book repeats the same few
    hundred prices, so most conversions are one subscript of a small dict that stays in the
    CPU's cache for the packet's 15 prices (``__missing__`` only on a new price)."""

    def __init__(self, digits: int) -> None:
        super().__init__()
        self.digits = digits

    def __missing__(self, value: int) -> Decimal:
        if len(self) > _PRICES_PER_INSTRUMENT:
            self.clear()
        price = self[value] = Decimal(value).scaleb(-self.digits)
        return price


# The contract's Quote, DepthLevel and Depth are frozen slotted dataclasses; building one
# through its __init__ costs an ``object.__setattr__`` lookup per field. On the tick path
# (a full packet makes ten levels, a quote and a depth) they are built as __init__ would
# build them, through the slots' own descriptors, written out: the same objects at about
# half the cost (bench/zerodha_ticks.py).
_new = object.__new__
_LEVEL = tuple(getattr(DepthLevel, name).__set__ for name in ("price", "quantity", "orders"))
_QUOTE = tuple(getattr(Quote, name).__set__ for name in ("ltp", "open", "high", "low", "prev_close", "volume", "bid",
                                                          "ask", "oi", "timestamp"))
_DEPTH = tuple(getattr(Depth, name).__set__ for name in ("bids", "asks", "quote"))


class Tick:
    """One parsed packet: the instrument's token, the packet's mode, and the normalised data."""

    __slots__ = ("depth", "mode", "quote", "token")

    def __init__(self, token: int, mode: Mode, quote: Quote, depth: Depth | None) -> None:
        self.token = token
        self.mode = mode
        self.quote = quote
        self.depth = depth


class TickParser:
    """Reads frames into Ticks. ``now`` stamps packets that carry no exchange time."""

    def __init__(self, now: Callable[[], datetime] | None = None) -> None:
        self._books: dict[int, _Prices] = {}
        self._now = now or (lambda: datetime.now(UTC))
        self._stamp_seconds = -1
        self._stamp = datetime.fromtimestamp(0, UTC)

    def _prices_of(self, token: int) -> _Prices:
        prices = self._books.get(token)
        if prices is None:
            prices = self._books[token] = _Prices(SCALE_DIGITS.get(token & 0xFF, 2))
        return prices

    def _at(self, seconds: int) -> datetime:
        if seconds <= 0:
            return self._now()
        if seconds != self._stamp_seconds:
            self._stamp_seconds, self._stamp = seconds, datetime.fromtimestamp(seconds, UTC)
        return self._stamp

    def frame(self, data: bytes) -> list[tuple[Tick, datetime]]:
        """Every packet of one binary frame; a heartbeat (1 byte) has none."""
        if len(data) < 2:
            return []
        (count,) = COUNT.unpack_from(data, 0)
        offset, end, ticks = 2, len(data), []
        for _ in range(count):
            if offset + 2 > end:
                raise MalformedFrame(f"frame ends before packet header at byte {offset}")
            (length,) = COUNT.unpack_from(data, offset)
            offset += 2
            if offset + length > end:
                raise MalformedFrame(f"packet of {length} bytes runs past the frame's {end}")
            if length == FULL_LENGTH:  # the common case, without the dispatch below
                ticks.append(self._full(data, offset))
            else:
                parsed = self.packet(data, offset, length)
                if parsed is not None:
                    ticks.append(parsed)
            offset += length
        return ticks

    def packet(self, data: bytes, offset: int, length: int) -> tuple[Tick, datetime] | None:
        """One packet at ``offset``; None for a length Kite does not document (skipped)."""
        if length == FULL_LENGTH:
            return self._full(data, offset)
        if length == QUOTE_LENGTH:
            return self._quote(data, offset)
        if length == LTP_LENGTH:
            token, last = LTP.unpack_from(data, offset)
            price = self._prices_of(token)[last]
            quote = Quote(ltp=price, open=ZERO, high=ZERO, low=ZERO, prev_close=ZERO, volume=0, bid=ZERO, ask=ZERO)
            return Tick(token, Mode.LTP, quote, None), self._now()
        if length in (INDEX_QUOTE_LENGTH, INDEX_FULL_LENGTH):
            return self._index(data, offset, length)
        return None

    def _quote(self, data: bytes, offset: int) -> tuple[Tick, datetime]:
        (token, last, _last_qty, _average, volume, _buy_qty, _sell_qty,
         open_, high, low, close) = QUOTE.unpack_from(data, offset)
        price = self._prices_of(token)
        quote = Quote(ltp=price[last], open=price[open_], high=price[high], low=price[low], prev_close=price[close],
                      volume=volume, bid=ZERO, ask=ZERO)
        return Tick(token, Mode.QUOTE, quote, None), self._now()

    def _full(self, data: bytes, offset: int) -> tuple[Tick, datetime]:
        v = FULL.unpack_from(data, offset)
        token = v[0]
        price = self._books.get(token)
        if price is None:
            price = self._prices_of(token)
        at = self._at(v[15])
        new, (set_price, set_quantity, set_orders) = _new, _LEVEL
        levels = []
        for index in (16, 19, 22, 25, 28, 31, 34, 37, 40, 43):  # quantity, price, orders: 5 bids then 5 asks
            level = new(DepthLevel)
            set_price(level, price[v[index + 1]])
            set_quantity(level, v[index])
            set_orders(level, v[index + 2])
            levels.append(level)
        bids, asks = tuple(levels[:5]), tuple(levels[5:])
        quote = new(Quote)
        set_ltp, set_open, set_high, set_low, set_close, set_volume, set_bid, set_ask, set_oi, set_time = _QUOTE
        set_ltp(quote, price[v[1]])
        set_open(quote, price[v[7]])
        set_high(quote, price[v[8]])
        set_low(quote, price[v[9]])
        set_close(quote, price[v[10]])
        set_volume(quote, v[4])
        set_bid(quote, bids[0].price)
        set_ask(quote, asks[0].price)
        set_oi(quote, v[12])
        set_time(quote, at)
        depth = new(Depth)
        set_bids, set_asks, set_quote = _DEPTH
        set_bids(depth, bids)
        set_asks(depth, asks)
        set_quote(depth, quote)
        return Tick(token, Mode.DEPTH, quote, depth), at

    def _index(self, data: bytes, offset: int, length: int) -> tuple[Tick, datetime]:
        if length == INDEX_FULL_LENGTH:
            token, last, high, low, open_, close, _change, stamp = INDEX_FULL.unpack_from(data, offset)
            at = self._at(stamp)
        else:
            token, last, high, low, open_, close, _change = INDEX_QUOTE.unpack_from(data, offset)
            at = self._now()
        price = self._prices_of(token)
        quote = Quote(ltp=price[last], open=price[open_], high=price[high], low=price[low], prev_close=price[close],
                      volume=0, bid=ZERO, ask=ZERO, timestamp=at if length == INDEX_FULL_LENGTH else None)
        return Tick(token, MODES[length], quote, None), at
