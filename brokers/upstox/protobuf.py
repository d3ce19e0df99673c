"""Upstox's v3 market-data messages (protobuf ``FeedResponse``, package
com.upstox.marketdatafeederv3udapi.rpc.proto), decoded by hand from the wire format:
the ``protobuf`` package is not a dependency. Only the fields we use are read; any
other field is skipped by its wire type, as protobuf requires, so a field Upstox adds
later does not break the feed.

Wire format: every field is a key varint ``(number << 3) | wire_type`` then its value:
0 varint, 1 fixed64 (a double here), 2 length-delimited (string, bytes, sub-message,
map entry), 5 fixed32. proto3 leaves out fields at their default (0, 0.0, empty), so
every decoded value starts at that default. A map is a repeated entry message whose key
is field 1 and value field 2. int64 values are two's-complement varints (10 bytes when
negative)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
_DOUBLE = struct.Struct("<d")

# FeedResponse.type
INITIAL_FEED, LIVE_FEED, MARKET_INFO = 0, 1, 2
# Feed.requestMode
LTPC_MODE, FULL_D5, OPTION_GREEKS, FULL_D30 = 0, 1, 2, 3


class ProtobufError(ValueError):
    """The bytes are not a well-formed message of the documented layout."""


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    end = len(data)
    while True:
        if position >= end:
            raise ProtobufError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def _signed(value: int) -> int:
    """An int64 read from its varint (negative numbers are sent as 64-bit two's complement)."""
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def fields(data: bytes) -> Iterator[tuple[int, int, int | float | bytes]]:
    """(field number, wire type, value) of each field of one message, in wire order.
    Varints come as int, fixed64 as a double, length-delimited as bytes, fixed32 as int."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == FIXED64:
            if position + 8 > end:
                raise ProtobufError("truncated fixed64")
            yield number, wire, _DOUBLE.unpack_from(data, position)[0]
            position += 8
        elif wire == LENGTH:
            size, position = _varint(data, position)
            if position + size > end:
                raise ProtobufError("truncated length-delimited field")
            yield number, wire, bytes(data[position:position + size])
            position += size
        elif wire == FIXED32:
            if position + 4 > end:
                raise ProtobufError("truncated fixed32")
            yield number, wire, int.from_bytes(data[position:position + 4], "little")
            position += 4
        else:
            raise ProtobufError(f"wire type {wire} is not used by this message")


# --- The messages we read --------------------------------------------------------------------


@dataclass(slots=True)
class LTPC:
    ltp: float = 0.0  # 1 double
    ltt: int = 0  # 2 int64, epoch ms of the last trade
    ltq: int = 0  # 3 int64
    cp: float = 0.0  # 4 double, previous close


@dataclass(slots=True)
class BidAsk:
    """``Quote``: one level of both sides."""

    bid_quantity: int = 0  # 1 int64 bidQ
    bid_price: float = 0.0  # 2 double bidP
    ask_quantity: int = 0  # 3 int64 askQ
    ask_price: float = 0.0  # 4 double askP


@dataclass(slots=True)
class OHLC:
    interval: str = ""  # 1 string ("1d", "I1", "I30")
    open: float = 0.0  # 2
    high: float = 0.0  # 3
    low: float = 0.0  # 4
    close: float = 0.0  # 5
    volume: int = 0  # 6 int64 vol
    ts: int = 0  # 7 int64


@dataclass(slots=True)
class Feed:
    """One instrument's update: which oneof arm came, and what it carried, flattened."""

    kind: str = ""  # "ltpc", "market", "index" or "greeks"
    ltpc: LTPC = field(default_factory=LTPC)
    levels: list[BidAsk] = field(default_factory=list)
    ohlc: list[OHLC] = field(default_factory=list)
    atp: float = 0.0
    volume: int = 0  # vtt
    oi: float = 0.0
    total_buy: float = 0.0  # tbq
    total_sell: float = 0.0  # tsq
    request_mode: int = 0


@dataclass(slots=True)
class FeedResponse:
    type: int = INITIAL_FEED  # 1 enum
    feeds: dict[str, Feed] = field(default_factory=dict)  # 2 map<string, Feed>
    current_ts: int = 0  # 3 int64
    segment_status: dict[str, int] = field(default_factory=dict)  # 4 MarketInfo.segmentStatus


# --- Decoding: one loop over a message's bytes, driven by its field table -------------------------
#
# A table maps a field number to (attribute, kind): DOUBLE (fixed64), INT (int64 varint),
# STRING, or a handler ``(target, buf, start, stop)`` for a sub-message. Sub-messages are
# read in place (offsets into the frame, no copies). A field whose wire type contradicts
# the table is a malformed frame; a field not in the table is skipped.

DOUBLE, INT, STRING = "double", "int", "string"
Handler = Callable[[Any, bytes, int, int], None]
Table = dict[int, tuple[str, str | Handler]]
_WIRE_OF = {DOUBLE: FIXED64, INT: VARINT, STRING: LENGTH}


def _fill(target: Any, table: Table, buf: bytes, pos: int, end: int) -> Any:
    unpack = _DOUBLE.unpack_from
    while pos < end:
        key = buf[pos]
        pos += 1
        if key & 0x80:
            key, pos = _varint(buf, pos - 1)
            if pos > end:
                raise ProtobufError("truncated field key")
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ProtobufError("field number 0")
        value: Any
        if wire == FIXED64:
            if pos + 8 > end:
                raise ProtobufError("truncated fixed64")
            value = unpack(buf, pos)[0]
            pos += 8
        elif wire == VARINT:
            if pos < end and not buf[pos] & 0x80:
                value = buf[pos]
                pos += 1
            else:
                value, pos = _varint(buf, pos)
                if pos > end:
                    raise ProtobufError("truncated varint")
                value = _signed(value)
        elif wire == LENGTH:
            size = buf[pos] if pos < end else 0x80
            if size & 0x80:
                size, pos = _varint(buf, pos)
            else:
                pos += 1
            value = pos
            pos += size
            if pos > end:
                raise ProtobufError("truncated length-delimited field")
        elif wire == FIXED32:
            pos += 4
            if pos > end:
                raise ProtobufError("truncated fixed32")
            continue
        else:
            raise ProtobufError(f"wire type {wire} is not used by this message")
        entry = table.get(number)
        if entry is None:
            continue
        name, kind = entry
        if isinstance(kind, str):
            if _WIRE_OF[kind] != wire:
                raise ProtobufError(f"field {name} has wire type {wire}")
            if kind == STRING:
                value = bytes(buf[value:pos]).decode("utf-8", "replace")
            setattr(target, name, value)
        else:
            if wire != LENGTH:
                raise ProtobufError(f"message field {name} is not length-delimited")
            kind(target, buf, value, pos)
    if pos != end:
        raise ProtobufError("a field runs past the end of its message")
    return target


_LTPC: Table = {1: ("ltp", DOUBLE), 2: ("ltt", INT), 3: ("ltq", INT), 4: ("cp", DOUBLE)}
_QUOTE: Table = {1: ("bid_quantity", INT), 2: ("bid_price", DOUBLE), 3: ("ask_quantity", INT),
                 4: ("ask_price", DOUBLE)}
_OHLC: Table = {1: ("interval", STRING), 2: ("open", DOUBLE), 3: ("high", DOUBLE), 4: ("low", DOUBLE),
                5: ("close", DOUBLE), 6: ("volume", INT), 7: ("ts", INT)}


def _ltpc(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    feed.ltpc = _fill(LTPC(), _LTPC, buf, start, stop)


def _level(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    """MarketLevel.bidAskQuote (repeated Quote = 1) and FirstLevelWithGreeks.firstDepth."""
    feed.levels.append(_fill(BidAsk(), _QUOTE, buf, start, stop))


def _bar(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    """MarketOHLC.ohlc (repeated OHLC = 1)."""
    feed.ohlc.append(_fill(OHLC(), _OHLC, buf, start, stop))


def _levels(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    _fill(feed, {1: ("bidAskQuote", _level)}, buf, start, stop)


def _bars(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    _fill(feed, {1: ("ohlc", _bar)}, buf, start, stop)


def _skip(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    """A message we do not read (OptionGreeks)."""


# MarketFullFeed: ltpc 1, marketLevel 2, optionGreeks 3, marketOHLC 4, atp 5, vtt 6, oi 7, iv 8,
# tbq 9, tsq 10.
_MARKET: Table = {1: ("ltpc", _ltpc), 2: ("marketLevel", _levels), 3: ("optionGreeks", _skip),
                  4: ("marketOHLC", _bars), 5: ("atp", DOUBLE), 6: ("volume", INT), 7: ("oi", DOUBLE),
                  9: ("total_buy", DOUBLE), 10: ("total_sell", DOUBLE)}
# IndexFullFeed: ltpc 1, marketOHLC 2.
_INDEX: Table = {1: ("ltpc", _ltpc), 2: ("marketOHLC", _bars)}
# FirstLevelWithGreeks: ltpc 1, firstDepth 2, optionGreeks 3, vtt 4, oi 5, iv 6.
_GREEKS: Table = {1: ("ltpc", _ltpc), 2: ("firstDepth", _level), 3: ("optionGreeks", _skip),
                  4: ("volume", INT), 5: ("oi", DOUBLE)}


def _arm(kind: str, table: Table) -> Handler:
    def read(feed: Feed, buf: bytes, start: int, stop: int) -> None:
        feed.kind = kind
        _fill(feed, table, buf, start, stop)
    return read


# FullFeed: oneof { MarketFullFeed marketFF = 1; IndexFullFeed indexFF = 2; }
_FULL: Table = {1: ("marketFF", _arm("market", _MARKET)), 2: ("indexFF", _arm("index", _INDEX))}


def _full(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    _fill(feed, _FULL, buf, start, stop)


def _ltpc_arm(feed: Feed, buf: bytes, start: int, stop: int) -> None:
    feed.kind = "ltpc"
    _ltpc(feed, buf, start, stop)


# Feed: oneof { LTPC ltpc = 1; FullFeed fullFeed = 2; FirstLevelWithGreeks firstLevelWithGreeks = 3; }
# RequestMode requestMode = 4.
_FEED: Table = {1: ("ltpc", _ltpc_arm), 2: ("fullFeed", _full), 3: ("firstLevelWithGreeks", _arm("greeks", _GREEKS)),
                4: ("request_mode", INT)}


@dataclass(slots=True)
class _Entry:
    """A map entry: key = 1 (string), value = 2 (where it lies in the frame, or an enum)."""

    key: str = ""
    start: int = -1
    stop: int = -1
    number: int = 0


def _entry_value(entry: _Entry, buf: bytes, start: int, stop: int) -> None:
    entry.start, entry.stop = start, stop


_FEED_ENTRY: Table = {1: ("key", STRING), 2: ("value", _entry_value)}
_STATUS_ENTRY: Table = {1: ("key", STRING), 2: ("number", INT)}


def _feed_entry(response: FeedResponse, buf: bytes, start: int, stop: int) -> None:
    entry = _fill(_Entry(), _FEED_ENTRY, buf, start, stop)
    feed = Feed()
    if entry.start >= 0:
        _fill(feed, _FEED, buf, entry.start, entry.stop)
    response.feeds[entry.key] = feed


def _status_entry(response: FeedResponse, buf: bytes, start: int, stop: int) -> None:
    entry = _fill(_Entry(), _STATUS_ENTRY, buf, start, stop)
    response.segment_status[entry.key] = entry.number


def _market_info(response: FeedResponse, buf: bytes, start: int, stop: int) -> None:
    """MarketInfo { map<string, MarketStatus> segmentStatus = 1; }"""
    _fill(response, {1: ("segmentStatus", _status_entry)}, buf, start, stop)


# FeedResponse: type 1, map<string, Feed> feeds 2, currentTs 3, marketInfo 4.
_RESPONSE: Table = {1: ("type", INT), 2: ("feeds", _feed_entry), 3: ("current_ts", INT),
                    4: ("marketInfo", _market_info)}


def parse_ltpc(data: bytes) -> LTPC:
    return _fill(LTPC(), _LTPC, data, 0, len(data))  # type: ignore[no-any-return]


def parse_feed(data: bytes) -> Feed:
    return _fill(Feed(), _FEED, data, 0, len(data))  # type: ignore[no-any-return]


def parse_feed_response(data: bytes) -> FeedResponse:
    """One WebSocket message of the v3 market-data feed."""
    return _fill(FeedResponse(), _RESPONSE, data, 0, len(data))  # type: ignore[no-any-return]
