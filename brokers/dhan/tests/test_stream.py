"""Dhan's binary feed, parsed from frames built byte by byte from the documented layout,
and the stream: subscriptions as Dhan documents them, 5,000 instruments a socket over up
to 5 sockets, a drop mid-session that reconnects and resumes every subscription."""

from __future__ import annotations

import json
import queue
import struct
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosed

from brokers.base import BrokerAuthExpired
from brokers.streaming import Mode, ShardedStream, StreamClosed, StreamRunner, Subscription

from ..feed import FeedParser
from ..stream import DhanSocket, dhan_stream, feed_url
from ..testing import CLIENT_ID, TOKEN, credentials

D = Decimal
NOW = 1_764_400_000  # a fixed "now" (epoch seconds)


def u8(value: int) -> bytes:
    return value.to_bytes(1, "little")


def i16(value: int) -> bytes:
    return value.to_bytes(2, "little", signed=True)


def i32(value: int) -> bytes:
    return value.to_bytes(4, "little", signed=True)


def f32(value: float) -> bytes:
    return struct.pack("<f", value)


def header(code: int, length: int, segment: int, security_id: int) -> bytes:
    return u8(code) + i16(length) + u8(segment) + i32(security_id)


def ticker(segment: int, security_id: int, ltp: float, ltt: int = NOW) -> bytes:
    return header(2, 16, segment, security_id) + f32(ltp) + i32(ltt)


def quote_packet(segment: int, security_id: int) -> bytes:
    return (header(4, 50, segment, security_id) + f32(801.25) + i16(7) + i32(NOW) + f32(800.5) + i32(123456)
            + i32(900) + i32(1100) + f32(795.0) + f32(0.0) + f32(805.5) + f32(790.25))


def full_packet(segment: int, security_id: int) -> bytes:
    body = (f32(150.5) + i16(65) + i32(NOW) + f32(149.8) + i32(987654) + i32(5000) + i32(6000) + i32(1_200_000)
            + i32(1_300_000) + i32(1_100_000) + f32(140.0) + f32(0.0) + f32(155.0) + f32(138.5))
    levels = b"".join(i32(100 * n) + i32(50 * n) + i16(n) + i16(n + 10) + f32(150.5 - 0.05 * n)
                      + f32(150.5 + 0.05 * n) for n in range(1, 6))
    packet = header(8, 162, segment, security_id) + body + levels
    assert len(packet) == 162
    return packet


def prev_close(segment: int, security_id: int, close: float, oi: int = 0) -> bytes:
    return header(6, 16, segment, security_id) + f32(close) + i32(oi)


def test_a_ticker_packet_reads_with_the_previous_close_sent_before_it():
    parser = FeedParser(clock=lambda: NOW)
    assert list(parser.ticks(prev_close(1, 3045, 799.0))) == []
    [tick] = parser.ticks(ticker(1, 3045, 800.05))
    assert (tick.segment, tick.security_id, tick.quote.ltp, tick.quote.prev_close) == (1, 3045, D("800.05"), D(799))
    assert tick.at == datetime.fromtimestamp(NOW, UTC) and tick.depth is None


def test_a_quote_packet_reads_every_field():
    [tick] = FeedParser(clock=lambda: NOW).ticks(quote_packet(1, 3045))
    quote = tick.quote
    assert (quote.ltp, quote.open, quote.high, quote.low, quote.volume) == (
        D("801.25"), D(795), D("805.50"), D("790.25"), 123456)


def test_a_full_packet_reads_oi_and_five_levels_of_both_sides():
    [tick] = FeedParser(clock=lambda: NOW).ticks(full_packet(2, 43854))
    quote, depth = tick.quote, tick.depth
    assert (quote.ltp, quote.open, quote.high, quote.low, quote.volume, quote.oi) == (
        D("150.50"), D(140), D(155), D("138.50"), 987654, 1_200_000)
    assert [(level.price, level.quantity, level.orders) for level in depth.bids] == [
        (D("150.45"), 100, 1), (D("150.40"), 200, 2), (D("150.35"), 300, 3), (D("150.30"), 400, 4),
        (D("150.25"), 500, 5)]
    assert [(level.price, level.quantity, level.orders) for level in depth.asks][-1] == (D("150.75"), 250, 15)
    assert (quote.bid, quote.ask) == (D("150.45"), D("150.55"))


def test_one_frame_holds_several_packets_and_odd_ones_are_skipped():
    frame = (header(7, 8, 0, 0) + ticker(1, 3045, 800.0) + header(5, 12, 2, 43854) + i32(4242)
             + header(99, 12, 1, 1) + i32(0) + ticker(2, 43854, 151.0))
    ticks = list(FeedParser(clock=lambda: NOW).ticks(frame))
    assert [(tick.security_id, tick.quote.ltp, tick.quote.oi) for tick in ticks] == [
        (3045, D(800), 0), (43854, D(151), 4242)]
    assert list(FeedParser().ticks(ticker(1, 3045, 800.0)[:12])) == []  # a truncated packet yields nothing


def test_currency_prices_keep_four_decimals_and_ist_shifted_times_are_corrected():
    parser = FeedParser(clock=lambda: NOW)
    [tick] = parser.ticks(ticker(3, 8386, 84.1225, ltt=NOW + 19800))
    assert tick.quote.ltp == D("84.1225") and tick.at == datetime.fromtimestamp(NOW, UTC)


def test_a_disconnect_packet_closes_the_stream_with_dhan_reason():
    socket = FakeSocket([header(50, 10, 0, 0) + i16(807)])
    stream = DhanSocket(credentials(), connector=lambda url: socket)
    stream.connect(lambda *tick: None)
    with pytest.raises(StreamClosed, match="807 access token expired"):
        stream.pump(0.01)


class FakeSocket:
    """The websockets sync client's surface: send, recv(timeout), close."""

    def __init__(self, frames: list[bytes] | None = None) -> None:
        self.sent: list[dict] = []
        self.frames: queue.Queue = queue.Queue()
        for frame in frames or []:
            self.frames.put(frame)
        self.closed = False

    def send(self, message: str) -> None:
        if self.closed:
            raise ConnectionClosed(None, None)
        self.sent.append(json.loads(message))

    def recv(self, timeout: float | None = None):
        try:
            frame = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if frame is None:
            self.closed = True
            raise ConnectionClosed(None, None)
        return frame

    def close(self) -> None:
        self.closed = True


def _subscriptions(count: int, mode: Mode = Mode.LTP, exchange: str = "NSE") -> list[Subscription]:
    return [Subscription(exchange=exchange, symbol=f"S{n}", token=str(10_000 + n), mode=mode) for n in range(count)]


def test_the_feed_url_carries_token_client_id_and_version():
    url = feed_url(credentials())
    assert url == f"wss://api-feed.dhan.co?version=2&token={TOKEN}&clientId={CLIENT_ID}&authType=2"


def test_subscriptions_go_in_messages_of_100_by_mode_and_a_mode_change_leaves_the_old_one():
    socket = FakeSocket()
    urls = []
    stream = DhanSocket(credentials(), connector=lambda url: urls.append(url) or socket)
    stream.connect(lambda *tick: None)
    stream.subscribe(_subscriptions(250))
    assert [(message["RequestCode"], message["InstrumentCount"]) for message in socket.sent] == [
        (15, 100), (15, 100), (15, 50)]
    assert socket.sent[0]["InstrumentList"][0] == {"ExchangeSegment": "NSE_EQ", "SecurityId": "10000"}
    socket.sent.clear()
    nifty = Subscription(exchange="NSE_INDEX", symbol="NIFTY", token="13", mode=Mode.QUOTE)
    stream.subscribe([nifty])
    stream.subscribe([Subscription(exchange="NSE_INDEX", symbol="NIFTY", token="13", mode=Mode.DEPTH)])
    assert [(message["RequestCode"], message["InstrumentList"]) for message in socket.sent] == [
        (17, [{"ExchangeSegment": "IDX_I", "SecurityId": "13"}]),
        (18, [{"ExchangeSegment": "IDX_I", "SecurityId": "13"}]),
        (21, [{"ExchangeSegment": "IDX_I", "SecurityId": "13"}])]
    socket.sent.clear()
    stream.unsubscribe([nifty, *_subscriptions(1)])
    assert sorted(message["RequestCode"] for message in socket.sent) == [16, 22]
    stream.close()
    assert socket.sent[-1] == {"RequestCode": 12} and socket.closed


def test_ticks_reach_the_sink_under_our_exchange_and_symbol():
    socket = FakeSocket([ticker(1, 3045, 800.0) + ticker(1, 9999, 1.0), full_packet(2, 43854)])
    got = []
    stream = DhanSocket(credentials(), connector=lambda url: socket)
    stream.connect(lambda exchange, symbol, quote, depth, at: got.append((exchange, symbol, quote.ltp, depth)))
    stream.subscribe([Subscription("NSE", "SBIN", "3045", Mode.LTP),
                      Subscription("NFO", "NIFTY29DEC2626000CE", "43854", Mode.DEPTH)])
    assert stream.pump(0.05) and stream.pump(0.05)
    assert not stream.pump(0.01)  # nothing more: not lively, not dropped
    assert [(exchange, symbol, ltp) for exchange, symbol, ltp, _ in got] == [
        ("NSE", "SBIN", D(800)), ("NFO", "NIFTY29DEC2626000CE", D("150.50"))]
    assert got[1][3] is not None and len(got[1][3].bids) == 5


def test_a_session_spreads_over_five_sockets_of_5000_and_refuses_beyond():
    sockets: list[FakeSocket] = []

    def connector(url: str) -> FakeSocket:
        sockets.append(FakeSocket())
        return sockets[-1]

    stream = dhan_stream(credentials(), connector=connector)
    assert isinstance(stream, ShardedStream) and stream.capacity == 25_000
    stream.connect(lambda *tick: None)
    stream.subscribe(_subscriptions(25_001))
    assert len(sockets) == 5 and stream.refused == 1
    assert [sum(message["InstrumentCount"] for message in socket.sent) for socket in sockets] == [5000] * 5
    with pytest.raises(BrokerAuthExpired):
        dhan_stream(None)


def test_a_stream_that_drops_mid_session_reconnects_and_resumes_its_subscriptions():
    first = FakeSocket([ticker(1, 3045, 800.0), None])  # one tick, then the connection breaks
    second = FakeSocket([ticker(1, 3045, 801.0), ticker(2, 43854, 150.0)])
    sockets = iter([first, second])
    ticks: list[tuple[str, Decimal]] = []
    done = threading.Event()

    def sink(exchange, symbol, quote, depth, at):
        ticks.append((symbol, quote.ltp))
        if len(ticks) == 3:
            done.set()

    runner = StreamRunner(dhan_stream(credentials(), connector=lambda url: next(sockets)), sink,
                          backoff_initial=0.01, backoff_max=0.02, pump_timeout=0.02)
    runner.subscribe([Subscription("NSE", "SBIN", "3045", Mode.LTP),
                      Subscription("NFO", "NIFTY29DEC2626000CE", "43854", Mode.QUOTE)])
    runner.start()
    try:
        assert done.wait(5)
    finally:
        runner.stop()
    assert ticks == [("SBIN", D(800)), ("SBIN", D(801)), ("NIFTY29DEC2626000CE", D(150))]
    assert runner.reconnects >= 1
    resumed = {(message["RequestCode"], item["SecurityId"]) for message in second.sent
               if message.get("InstrumentList") for item in message["InstrumentList"]}
    assert resumed == {(15, "3045"), (17, "43854")}


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little", signed=False)


def test_counts_are_unsigned_as_dhan_own_client_reads_them():
    packet = (header(4, 50, 1, 3045) + f32(10.0) + i16(1) + i32(NOW) + f32(10.0) + u32(3_000_000_000) + i32(0)
              + i32(0) + f32(9.0) + f32(0.0) + f32(11.0) + f32(9.5))
    [tick] = FeedParser(clock=lambda: NOW).ticks(packet)
    assert tick.quote.volume == 3_000_000_000


def test_a_depth_packet_reads_ltp_and_five_levels():
    levels = b"".join(i32(10 * n) + i32(20 * n) + i16(n) + i16(n) + f32(99.0 - n) + f32(101.0 + n)
                      for n in range(1, 6))
    packet = header(3, 112, 1, 3045) + f32(100.0) + levels
    assert len(packet) == 112
    [tick] = FeedParser(clock=lambda: NOW).ticks(packet)
    assert tick.quote.ltp == D(100) and (tick.quote.bid, tick.quote.ask) == (D(98), D(102))
    assert [level.quantity for level in tick.depth.asks] == [20, 40, 60, 80, 100]


def test_an_instrument_dhan_cannot_carry_is_skipped_not_fatal():
    socket = FakeSocket()
    stream = DhanSocket(credentials(), connector=lambda url: socket)
    stream.connect(lambda *tick: None)
    stream.subscribe([Subscription("NCO", "X", "1", Mode.LTP), Subscription("NSE", "Y", "not-a-number", Mode.LTP),
                      Subscription("NSE", "SBIN", "3045", Mode.LTP)])
    assert [message["InstrumentList"] for message in socket.sent] == [[{"ExchangeSegment": "NSE_EQ",
                                                                        "SecurityId": "3045"}]]
