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
from collections.abc import Iterator
from dataclasses import dataclass, field

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


def _double(wire: int, value: int | float | bytes) -> float:
    if wire != FIXED64 or not isinstance(value, float):
        raise ProtobufError("a double field is not fixed64")
    return value


def _int(wire: int, value: int | float | bytes) -> int:
    if wire != VARINT or not isinstance(value, int):
        raise ProtobufError("an integer field is not a varint")
    return _signed(value)


def _bytes(wire: int, value: int | float | bytes) -> bytes:
    if wire != LENGTH or not isinstance(value, bytes):
        raise ProtobufError("a message or string field is not length-delimited")
    return value


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


def parse_ltpc(data: bytes) -> LTPC:
    message = LTPC()
    for number, wire, value in fields(data):
        if number == 1:
            message.ltp = _double(wire, value)
        elif number == 2:
            message.ltt = _int(wire, value)
        elif number == 3:
            message.ltq = _int(wire, value)
        elif number == 4:
            message.cp = _double(wire, value)
    return message


def parse_bid_ask(data: bytes) -> BidAsk:
    level = BidAsk()
    for number, wire, value in fields(data):
        if number == 1:
            level.bid_quantity = _int(wire, value)
        elif number == 2:
            level.bid_price = _double(wire, value)
        elif number == 3:
            level.ask_quantity = _int(wire, value)
        elif number == 4:
            level.ask_price = _double(wire, value)
    return level


def parse_ohlc(data: bytes) -> OHLC:
    bar = OHLC()
    for number, wire, value in fields(data):
        if number == 1:
            bar.interval = _bytes(wire, value).decode("utf-8", "replace")
        elif number == 2:
            bar.open = _double(wire, value)
        elif number == 3:
            bar.high = _double(wire, value)
        elif number == 4:
            bar.low = _double(wire, value)
        elif number == 5:
            bar.close = _double(wire, value)
        elif number == 6:
            bar.volume = _int(wire, value)
        elif number == 7:
            bar.ts = _int(wire, value)
    return bar


def _levels(data: bytes) -> list[BidAsk]:
    """``MarketLevel { repeated Quote bidAskQuote = 1; }``"""
    return [parse_bid_ask(_bytes(wire, value)) for number, wire, value in fields(data) if number == 1]


def _bars(data: bytes) -> list[OHLC]:
    """``MarketOHLC { repeated OHLC ohlc = 1; }``"""
    return [parse_ohlc(_bytes(wire, value)) for number, wire, value in fields(data) if number == 1]


def _market_full(data: bytes, feed: Feed) -> None:
    """MarketFullFeed: ltpc 1, marketLevel 2, optionGreeks 3 (unused), marketOHLC 4, atp 5,
    vtt 6, oi 7, iv 8 (unused), tbq 9, tsq 10."""
    feed.kind = "market"
    for number, wire, value in fields(data):
        if number == 1:
            feed.ltpc = parse_ltpc(_bytes(wire, value))
        elif number == 2:
            feed.levels = _levels(_bytes(wire, value))
        elif number == 4:
            feed.ohlc = _bars(_bytes(wire, value))
        elif number == 5:
            feed.atp = _double(wire, value)
        elif number == 6:
            feed.volume = _int(wire, value)
        elif number == 7:
            feed.oi = _double(wire, value)
        elif number == 9:
            feed.total_buy = _double(wire, value)
        elif number == 10:
            feed.total_sell = _double(wire, value)


def _index_full(data: bytes, feed: Feed) -> None:
    """IndexFullFeed: ltpc 1, marketOHLC 2."""
    feed.kind = "index"
    for number, wire, value in fields(data):
        if number == 1:
            feed.ltpc = parse_ltpc(_bytes(wire, value))
        elif number == 2:
            feed.ohlc = _bars(_bytes(wire, value))


def _greeks(data: bytes, feed: Feed) -> None:
    """FirstLevelWithGreeks: ltpc 1, firstDepth 2, optionGreeks 3 (unused), vtt 4, oi 5, iv 6 (unused)."""
    feed.kind = "greeks"
    for number, wire, value in fields(data):
        if number == 1:
            feed.ltpc = parse_ltpc(_bytes(wire, value))
        elif number == 2:
            feed.levels = [parse_bid_ask(_bytes(wire, value))]
        elif number == 4:
            feed.volume = _int(wire, value)
        elif number == 5:
            feed.oi = _double(wire, value)


def parse_feed(data: bytes) -> Feed:
    """Feed: oneof { LTPC ltpc = 1; FullFeed fullFeed = 2 (marketFF 1 | indexFF 2);
    FirstLevelWithGreeks firstLevelWithGreeks = 3 }; RequestMode requestMode = 4."""
    feed = Feed()
    for number, wire, value in fields(data):
        if number == 1:
            feed.kind = "ltpc"
            feed.ltpc = parse_ltpc(_bytes(wire, value))
        elif number == 2:
            for arm, arm_wire, arm_value in fields(_bytes(wire, value)):
                if arm == 1:
                    _market_full(_bytes(arm_wire, arm_value), feed)
                elif arm == 2:
                    _index_full(_bytes(arm_wire, arm_value), feed)
        elif number == 3:
            _greeks(_bytes(wire, value), feed)
        elif number == 4:
            feed.request_mode = _int(wire, value)
    return feed


def _map_entry(data: bytes) -> tuple[str, int | float | bytes | None, int]:
    key, entry_value, entry_wire = "", None, LENGTH
    for number, wire, value in fields(data):
        if number == 1:
            key = _bytes(wire, value).decode("utf-8", "replace")
        elif number == 2:
            entry_value, entry_wire = value, wire
    return key, entry_value, entry_wire


def parse_feed_response(data: bytes) -> FeedResponse:
    """One WebSocket message of the v3 market-data feed."""
    response = FeedResponse()
    for number, wire, value in fields(data):
        if number == 1:
            response.type = _int(wire, value)
        elif number == 2:
            key, entry, entry_wire = _map_entry(_bytes(wire, value))
            response.feeds[key] = parse_feed(_bytes(entry_wire, entry)) if entry is not None else Feed()
        elif number == 3:
            response.current_ts = _int(wire, value)
        elif number == 4:  # MarketInfo { map<string, MarketStatus> segmentStatus = 1; }
            for info_number, info_wire, info_value in fields(_bytes(wire, value)):
                if info_number == 1:
                    segment, status, status_wire = _map_entry(_bytes(info_wire, info_value))
                    response.segment_status[segment] = _int(status_wire, status) if status is not None else 0
    return response
