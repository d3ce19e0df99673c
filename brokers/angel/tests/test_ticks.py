"""SmartStream 2.0 tick frames, built byte by byte from the documented layout (little-endian)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.streaming import Mode

from ..ticks import BadFrame, parse

D = Decimal
STAMP_MS = 1_764_300_600_123  # 2025-11-28 03:30:00.123 UTC


def i64(value: int) -> bytes:
    return value.to_bytes(8, "little", signed=True)


def i16(value: int) -> bytes:
    return value.to_bytes(2, "little", signed=True)


def f64(value: float) -> bytes:
    import struct as layout  # only to spell an IEEE-754 double; the parser's offsets are not used here

    return layout.pack("<d", value)


def ltp_frame(mode: int = 1, exchange_type: int = 1, token: bytes = b"3045", ltp: int = 80025) -> bytes:
    frame = bytes([mode, exchange_type]) + token + b"\x00" * (25 - len(token)) + i64(7) + i64(STAMP_MS) + i64(ltp)
    assert len(frame) == 51
    return frame


def quote_frame(mode: int = 2, exchange_type: int = 1, ltp: int = 80025) -> bytes:
    frame = ltp_frame(mode, exchange_type, ltp=ltp)
    frame += i64(25) + i64(79990) + i64(1_234_567) + f64(1000.0) + f64(2000.0)  # ltq, atp, volume, buys, sells
    frame += i64(79500) + i64(80500) + i64(79000) + i64(79800)  # open, high, low, close
    assert len(frame) == 123
    return frame


def snap_frame(exchange_type: int = 2) -> bytes:
    frame = quote_frame(3, exchange_type)
    frame += i64(STAMP_MS // 1000) + i64(456_000) + f64(1.5)  # last traded time, OI, OI change
    for n in range(5):  # best five buys: flag 1
        frame += i16(1) + i64(100 * (n + 1)) + i64(80020 - 5 * n) + i16(n + 1)
    for n in range(5):  # best five sells: flag 0
        frame += i16(0) + i64(50 * (n + 1)) + i64(80030 + 5 * n) + i16(n + 2)
    frame += i64(88000) + i64(72000) + i64(90000) + i64(60000)  # circuits, 52-week high/low
    assert len(frame) == 379
    return frame


def test_an_ltp_frame_is_mode_1_with_its_token_time_and_price_in_rupees():
    tick = parse(ltp_frame())
    assert (tick.mode, tick.exchange_type, tick.token) == (Mode.LTP, 1, "3045")
    assert tick.quote.ltp == D("800.25") and tick.depth is None
    assert tick.at == datetime(2025, 11, 28, 3, 30, 0, 123000, tzinfo=UTC)


def test_a_quote_frame_carries_ohlc_and_volume():
    tick = parse(quote_frame())
    assert tick.mode == Mode.QUOTE and tick.depth is None
    quote = tick.quote
    assert (quote.open, quote.high, quote.low, quote.prev_close) == (D("795"), D("805"), D("790"), D("798"))
    assert quote.volume == 1_234_567 and quote.ltp == D("800.25")


def test_a_snap_quote_frame_carries_five_levels_each_side_and_open_interest():
    tick = parse(snap_frame())
    assert tick.mode == Mode.DEPTH and tick.exchange_type == 2
    depth = tick.depth
    assert depth is not None and len(depth.bids) == len(depth.asks) == 5
    assert (depth.bids[0].price, depth.bids[0].quantity, depth.bids[0].orders) == (D("800.2"), 100, 1)
    assert (depth.asks[4].price, depth.asks[4].quantity, depth.asks[4].orders) == (D("800.5"), 250, 6)
    assert tick.quote.oi == 456_000 and tick.quote.bid == D("800.2") and tick.quote.ask == D("800.3")


def test_currency_prices_are_in_ten_millionths_of_a_rupee():
    tick = parse(ltp_frame(exchange_type=13, token=b"1165", ltp=835_025_000))
    assert tick.quote.ltp == D("83.5025")


def test_a_full_length_token_without_a_terminator_reads_whole():
    tick = parse(ltp_frame(token=b"1234567890123456789012345"))
    assert tick.token == "1234567890123456789012345"


@pytest.mark.parametrize("frame", [ltp_frame()[:50], quote_frame()[:122], snap_frame()[:378], ltp_frame(mode=9)])
def test_short_frames_and_unknown_modes_are_bad_frames(frame):
    with pytest.raises(BadFrame):
        parse(frame)
