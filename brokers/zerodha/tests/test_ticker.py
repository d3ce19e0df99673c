"""Kite's binary ticker frames, built byte by byte from the documented layout (big-endian,
offsets as the websocket docs and pykiteconnect give them) with ``int.to_bytes`` (not the
parser's own ``struct`` formats), and read back into modes 1/2/3."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from brokers.streaming import Mode

from ..ticker import MalformedFrame, TickParser

D = Decimal
NOW = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)
SBIN = 779521  # segment 1 (NSE): 779521 & 0xFF == 1
USDINR = 412675  # segment 3 (CDS)
NIFTY = 256265  # segment 9 (indices)
BCD_TOKEN = (4321 << 8) | 6  # segment 6 (BCD)


def i32(value: int) -> bytes:
    return value.to_bytes(4, "big", signed=True)


def u32(value: int) -> bytes:
    return value.to_bytes(4, "big", signed=False)


def u16(value: int) -> bytes:
    return value.to_bytes(2, "big", signed=False)


def frame(*packets: bytes) -> bytes:
    return u16(len(packets)) + b"".join(u16(len(packet)) + packet for packet in packets)


def ltp_packet(token: int, price: int) -> bytes:
    return u32(token) + i32(price)


def quote_packet(token: int) -> bytes:
    return (u32(token) + i32(80_025) + u32(7) + i32(80_010) + u32(1_234_567) + u32(5000) + u32(6000)
            + i32(79_500) + i32(80_500) + i32(79_000) + i32(79_900))


def full_packet(token: int, exchange_time: int) -> bytes:
    head = (quote_packet(token) + u32(exchange_time - 1) + u32(150_000) + u32(160_000) + u32(140_000)
            + u32(exchange_time))
    bids = b"".join(u32(100 * n) + i32(80_020 - 5 * n) + u16(n) + b"\x00\x00" for n in range(1, 6))
    asks = b"".join(u32(50 * n) + i32(80_030 + 5 * n) + u16(n + 10) + b"\x00\x00" for n in range(1, 6))
    return head + bids + asks


@pytest.fixture
def parser() -> TickParser:
    return TickParser(now=lambda: NOW)


def test_the_documented_packet_sizes():
    assert (len(ltp_packet(SBIN, 1)), len(quote_packet(SBIN)), len(full_packet(SBIN, 1))) == (8, 44, 184)


def test_an_ltp_packet_is_mode_1_in_rupees(parser):
    ((tick, at),) = parser.frame(frame(ltp_packet(SBIN, 80_025)))
    assert (tick.token, tick.mode, tick.quote.ltp, tick.depth, at) == (SBIN, Mode.LTP, D("800.25"), None, NOW)


def test_a_quote_packet_is_mode_2_with_ohlc_and_volume(parser):
    ((tick, _),) = parser.frame(frame(quote_packet(SBIN)))
    quote = tick.quote
    assert tick.mode == Mode.QUOTE and tick.depth is None
    assert (quote.ltp, quote.open, quote.high, quote.low, quote.prev_close, quote.volume) == (
        D("800.25"), D("795.00"), D("805.00"), D("790.00"), D("799.00"), 1_234_567)


def test_a_full_packet_is_mode_3_with_five_levels_oi_and_the_exchange_time(parser):
    stamp = int(datetime(2026, 11, 27, 4, 5, 6, tzinfo=UTC).timestamp())
    ((tick, at),) = parser.frame(frame(full_packet(SBIN, stamp)))
    assert tick.mode == Mode.DEPTH and at == datetime(2026, 11, 27, 4, 5, 6, tzinfo=UTC)
    assert tick.quote.oi == 150_000 and tick.quote.timestamp == at
    depth = tick.depth
    assert [(level.price, level.quantity, level.orders) for level in depth.bids] == [
        (D("800.15"), 100, 1), (D("800.10"), 200, 2), (D("800.05"), 300, 3), (D("800.00"), 400, 4),
        (D("799.95"), 500, 5)]
    best_ask = depth.asks[0]
    assert (best_ask.price, best_ask.quantity, best_ask.orders) == (D("800.35"), 50, 11)
    assert (tick.quote.bid, tick.quote.ask) == (D("800.15"), D("800.35"))


def test_cds_prices_are_in_ten_millionths_and_bcd_in_ten_thousandths(parser):
    ticks = parser.frame(frame(ltp_packet(USDINR, 832_512_500), ltp_packet(BCD_TOKEN, 832_525)))
    assert [tick.quote.ltp for tick, _ in ticks] == [D("83.25125"), D("83.2525")]


def test_index_packets_read_their_own_layout(parser):
    stamp = int(datetime(2026, 11, 27, 4, 0, 1, tzinfo=UTC).timestamp())
    index_quote = u32(NIFTY) + i32(2_600_050) + i32(2_610_000) + i32(2_590_000) + i32(2_595_000) + i32(2_599_000) \
        + i32(1050)
    ((quote_tick, _), (full_tick, at)) = parser.frame(frame(index_quote, index_quote + u32(stamp)))
    assert quote_tick.mode == Mode.QUOTE and full_tick.mode == Mode.DEPTH and full_tick.depth is None
    quote = full_tick.quote
    assert (quote.ltp, quote.high, quote.low, quote.open, quote.prev_close) == (
        D("26000.50"), D("26100.00"), D("25900.00"), D("25950.00"), D("25990.00"))
    assert at == datetime(2026, 11, 27, 4, 0, 1, tzinfo=UTC)


def test_many_packets_in_one_frame_in_order(parser):
    ticks = parser.frame(frame(ltp_packet(SBIN, 100), quote_packet(SBIN), full_packet(SBIN, 1_700_000_000)))
    assert [tick.mode for tick, _ in ticks] == [Mode.LTP, Mode.QUOTE, Mode.DEPTH]


def test_a_heartbeat_has_no_packet_and_an_undocumented_length_is_skipped(parser):
    assert parser.frame(b"\x00") == []
    assert parser.frame(frame(b"\x00" * 12)) == []


def test_a_frame_shorter_than_its_header_says_is_malformed(parser):
    with pytest.raises(MalformedFrame):
        parser.frame(frame(full_packet(SBIN, 1))[:-10])
    with pytest.raises(MalformedFrame):
        parser.frame(u16(2) + u16(8) + ltp_packet(SBIN, 1))


def test_the_fast_built_objects_equal_what_the_contracts_constructors_build(parser):
    """The tick path fills the contract's frozen dataclasses through their slots: if a field is
    ever added to Quote, DepthLevel or Depth, this fails rather than leaving it unset."""
    import dataclasses

    from brokers.base import Depth, DepthLevel, Quote

    from .. import ticker

    assert [field.name for field in dataclasses.fields(DepthLevel)] == ["price", "quantity", "orders"]
    assert len(ticker._QUOTE) == len(dataclasses.fields(Quote)) and len(ticker._DEPTH) == len(dataclasses.fields(Depth))
    ((tick, at),) = parser.frame(frame(full_packet(SBIN, 1_764_216_000)))
    bids = tuple(DepthLevel(D(80_020 - 5 * n) / 100, 100 * n, n) for n in range(1, 6))
    asks = tuple(DepthLevel(D(80_030 + 5 * n) / 100, 50 * n, n + 10) for n in range(1, 6))
    quote = Quote(ltp=D("800.25"), open=D("795"), high=D("805"), low=D("790"), prev_close=D("799"), volume=1_234_567,
                  bid=bids[0].price, ask=asks[0].price, oi=150_000, timestamp=at)
    assert tick.quote == quote
    assert tick.depth == Depth(bids=bids, asks=asks, quote=quote)
