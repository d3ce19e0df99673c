"""The hand-written FeedResponse decoder, on frames built byte by byte from the .proto
layout (MarketDataFeedV3.proto): key = (field << 3) | wire type; 0 varint, 1 fixed64
double, 2 length-delimited."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brokers.upstox import protobuf
from brokers.upstox.protobuf import ProtobufError, parse_feed_response


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint(number << 3 | wire)


def double(number: int, value: float) -> bytes:
    return key(number, 1) + struct.pack("<d", value)


def integer(number: int, value: int) -> bytes:
    return key(number, 0) + varint(value)


def message(number: int, body: bytes) -> bytes:
    return key(number, 2) + varint(len(body)) + body


def text(number: int, value: str) -> bytes:
    return message(number, value.encode())


def ltpc(ltp: float, ltt: int, ltq: int, cp: float) -> bytes:
    return double(1, ltp) + integer(2, ltt) + integer(3, ltq) + double(4, cp)


def feed_entry(instrument_key: str, feed: bytes) -> bytes:
    """A map<string, Feed> entry: key 1, value 2, inside FeedResponse field 2."""
    return message(2, text(1, instrument_key) + message(2, feed))


def test_an_ltpc_frame_written_out_byte_by_byte_decodes():
    body = (b"\x09" + struct.pack("<d", 812.35)  # ltp = 1, fixed64
            + b"\x10" + varint(1732600000123)  # ltt = 2, varint
            + b"\x18\x19"  # ltq = 3, varint 25
            + b"\x21" + struct.pack("<d", 805.5))  # cp = 4, fixed64
    feed = b"\x0a" + bytes([len(body)]) + body + b"\x20\x00"  # Feed.ltpc = 1; requestMode = 4 (ltpc)
    entry = b"\x0a\x13" + b"NSE_EQ|INE062A01020" + b"\x12" + bytes([len(feed)]) + feed  # key: 19 bytes
    frame = b"\x08\x01" + b"\x12" + bytes([len(entry)]) + entry + b"\x18" + varint(1732600000500)
    response = parse_feed_response(frame)
    assert response.type == protobuf.LIVE_FEED and response.current_ts == 1732600000500
    got = response.feeds["NSE_EQ|INE062A01020"]
    assert got.kind == "ltpc"
    assert (got.ltpc.ltp, got.ltpc.ltt, got.ltpc.ltq, got.ltpc.cp) == (812.35, 1732600000123, 25, 805.5)


def test_a_full_market_feed_carries_depth_ohlc_volume_and_oi():
    levels = b"".join(message(1, integer(1, 100 * n) + double(2, 800 - n * 0.05) + integer(3, 50 * n)
                              + double(4, 800 + n * 0.05)) for n in range(1, 6))
    day = message(1, text(1, "1d") + double(2, 790) + double(3, 815) + double(4, 785) + double(5, 812.35)
                  + integer(6, 1234567) + integer(7, 1732559400000))
    minute = message(1, text(1, "I1") + double(2, 812) + double(3, 812.5) + double(4, 811.9) + double(5, 812.35)
                     + integer(6, 900) + integer(7, 1732600000000))
    market = (message(1, ltpc(812.35, 1732600000123, 10, 805.5)) + message(2, levels) + message(4, day + minute)
              + double(5, 805.12) + integer(6, 1234567) + double(7, 0.0) + double(9, 250000.0) + double(10, 310000.0))
    feed = message(2, message(1, market)) + integer(4, protobuf.FULL_D5)
    response = parse_feed_response(integer(1, 1) + feed_entry("NSE_EQ|INE062A01020", feed))
    got = response.feeds["NSE_EQ|INE062A01020"]
    assert got.kind == "market" and got.request_mode == protobuf.FULL_D5
    assert [(level.bid_quantity, level.bid_price) for level in got.levels][:2] == [(100, 799.95), (200, 799.9)]
    assert got.levels[0].ask_price == 800.05 and got.levels[4].ask_quantity == 250
    assert [bar.interval for bar in got.ohlc] == ["1d", "I1"]
    assert (got.ohlc[0].open, got.ohlc[0].high, got.ohlc[0].low, got.ohlc[0].volume) == (790, 815, 785, 1234567)
    assert (got.atp, got.volume, got.total_buy, got.total_sell) == (805.12, 1234567, 250000.0, 310000.0)


def test_an_index_feed_and_a_market_status_message():
    index = message(1, ltpc(24010.5, 1732600000000, 0, 23950.0)) + message(2, message(
        1, text(1, "1d") + double(2, 23960) + double(3, 24050) + double(4, 23920) + double(5, 24010.5)))
    frame = integer(1, 0) + feed_entry("NSE_INDEX|Nifty 50", message(2, message(2, index)))
    got = parse_feed_response(frame).feeds["NSE_INDEX|Nifty 50"]
    assert got.kind == "index" and got.ltpc.cp == 23950.0 and got.ohlc[0].high == 24050
    info = message(4, message(1, text(1, "NSE_EQ") + integer(2, 2)) + message(1, text(1, "MCX_FO") + integer(2, 3)))
    status = parse_feed_response(integer(1, protobuf.MARKET_INFO) + info)
    assert status.type == protobuf.MARKET_INFO and status.segment_status == {"NSE_EQ": 2, "MCX_FO": 3}


def test_option_greeks_feed_gives_first_level_volume_and_oi():
    greeks = (message(1, ltpc(150.5, 1, 75, 140.0)) + message(2, integer(1, 750) + double(2, 150.45)
                                                              + integer(3, 1500) + double(4, 150.6))
              + message(3, double(1, 0.51) + double(2, -12.3)) + integer(4, 998877) + double(5, 4567800.0)
              + double(6, 0.14))
    got = parse_feed_response(feed_entry("NSE_FO|35002", message(3, greeks))).feeds["NSE_FO|35002"]
    assert got.kind == "greeks" and got.levels[0].bid_price == 150.45 and got.volume == 998877
    assert got.oi == 4567800.0


def test_negative_int64_unknown_fields_and_defaults():
    body = integer(2, -5) + integer(99, 7) + message(98, b"whatever") + key(97, 5) + b"\x01\x02\x03\x04"
    got = protobuf.parse_ltpc(body)
    assert got.ltt == -5 and got.ltp == 0.0 and got.ltq == 0  # proto3 leaves defaults out


@pytest.mark.parametrize("frame", [b"\x0a\x05abc", b"\x09\x00\x00", b"\x08\xff\xff", b"\x0b", b"\x00\x01",
                                   b"\x08" + b"\xff" * 11])
def test_truncated_or_malformed_frames_raise_protobuf_error(frame):
    with pytest.raises(ProtobufError):
        parse_feed_response(frame)


def test_a_double_sent_with_the_wrong_wire_type_is_refused():
    with pytest.raises(ProtobufError):
        protobuf.parse_ltpc(integer(1, 812))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_protobuf_error_only(frame):
    with contextlib.suppress(ProtobufError):
        parse_feed_response(frame)


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**63), 2**63 - 1),
       st.integers(0, 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False))
def test_ltpc_round_trips_through_the_wire_format(ltp, ltt, ltq, cp):
    got = protobuf.parse_ltpc(ltpc(ltp, ltt, ltq, cp))
    assert (got.ltp, got.ltt, got.ltq, got.cp) == (ltp, ltt, ltq, cp)
