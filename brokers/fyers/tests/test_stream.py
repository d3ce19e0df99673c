"""Fyers' HSM feed: frames built byte by byte from the layout hsm.py documents, parsed into
ticks, and a socket that drops mid-session coming back with all its subscriptions."""

from __future__ import annotations

import struct
import threading
import time
from collections import deque
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosedError

from brokers.base import BrokerAuthExpired
from brokers.fyers import hsm
from brokers.fyers.stream import FyersSocket, fyers_stream
from brokers.fyers.testing import HSM_KEY, credentials, jwt
from brokers.streaming import Mode, ShardedStream, StreamRunner, Subscription

D = Decimal
SBIN = Subscription(exchange="NSE", symbol="SBIN", token="10100000003045", mode=Mode.DEPTH)
NIFTY = Subscription(exchange="NSE_INDEX", symbol="NIFTY", token="10100000026000", mode=Mode.QUOTE)
AUTH_OK = b"\x00\x05" + b"\x01" + b"\x01" + b"\x01" + b"\x00\x01" + b"K"


# --- Frames we send -------------------------------------------------------------------------------

def test_the_auth_frame_carries_hsm_key_mode_flag_and_source_as_length_prefixed_fields():
    frame = hsm.auth_frame("abc", source="src")
    assert frame == (b"\x00\x16" b"\x01" b"\x04"
                     b"\x01\x00\x03abc" b"\x02\x00\x01P" b"\x03\x00\x01\x01" b"\x04\x00\x03src")


def test_the_subscribe_frame_carries_a_counted_topic_block_and_channel_11():
    frame = hsm.subscribe_frame(["sf|nse_cm|3045", "dp|nse_cm|3045"])
    block = b"\x00\x02" + b"\x0esf|nse_cm|3045" + b"\x0edp|nse_cm|3045"
    assert frame == struct.pack(">H", 6 + len(block)) + b"\x04\x02" + b"\x01" + struct.pack(">H", len(block)) \
        + block + b"\x02\x00\x01\x0b"
    assert hsm.unsubscribe_frame(["sf|nse_cm|3045"])[2] == 5


def test_topics_come_from_the_fytokens_segment_and_exchange_token():
    assert hsm.topic("sf", "10100000003045") == "sf|nse_cm|3045"
    assert hsm.topic("dp", "101126122935001") == "dp|nse_fo|35001"
    assert hsm.topic("sf", "1120201019217406") == "sf|mcx_fo|217406"
    assert hsm.topic("sf", "1211230811110454") == "sf|bse_fo|110454"
    assert hsm.topic("sf", "1012201028001560") == "sf|cde_fo|001560"
    assert hsm.topic("if", "10100000026000", "Nifty 50") == "if|nse_cm|Nifty 50"
    with pytest.raises(ValueError):
        hsm.topic("sf", "9999000000123")


def test_the_auth_reply_says_k_when_accepted():
    assert hsm.auth_accepted(AUTH_OK)
    assert not hsm.auth_accepted(b"\x00\x05\x01\x01\x01\x00\x01E")


# --- Frames we receive ----------------------------------------------------------------------------

def _data(*entries: bytes, count: int | None = None) -> bytes:
    body = b"\x06" + struct.pack(">I", 42) + struct.pack(">H", len(entries) if count is None else count) \
        + b"".join(entries)
    return struct.pack(">H", len(body)) + body


def _snapshot(topic_id: int, name: str, values: list[int], trailer: bool = True, precision: int = 2) -> bytes:
    entry = b"S" + struct.pack(">H", topic_id) + bytes((len(name),)) + name.encode() + bytes((len(values),))
    entry += b"".join(struct.pack(">i", value) for value in values)
    if trailer:
        entry += b"\x00\x00" + struct.pack(">H", 1) + bytes((precision,))
        for text in (b"NSE", b"3045", b"SBIN-EQ"):
            entry += bytes((len(text),)) + text
    return entry


def _update(topic_id: int, values: list[int]) -> bytes:
    return b"U" + struct.pack(">H", topic_id) + bytes((len(values),)) \
        + b"".join(struct.pack(">i", value) for value in values)


# ltp, vol, ltt, feed time, bid size, ask size, bid, ask, ltq, tbq, tsq, atp, oi, low, high, yhigh, ylow,
# lower circuit, upper circuit, open, prev close (prices in paise at precision 2)
QUOTE = [80050, 1234567, 1764480000, 1764480001, 100, 200, 80045, 80055, 5, 9000, 8000, 80010, 0, 79000, 81000,
         90000, 60000, 72000, 88000, 79500, 79900]
DEPTH = [80045, 80040, 80035, 80030, 80025, 80055, 80060, 80065, 80070, 80075,  # bid, ask prices
         100, 200, 300, 400, 500, 150, 250, 350, 450, 550,  # bid, ask sizes
         1, 2, 3, 4, 5, 6, 7, 8, 9, 10]  # bid, ask orders
INDEX = [2600055, 2590010, 1764480001, 2610000, 2580000, 2591000]


def test_a_quote_snapshot_then_an_update_read_into_scaled_prices():
    decoder = hsm.Decoder()
    [state] = decoder.feed(_data(_snapshot(7, "sf|nse_cm|3045", QUOTE)))
    assert (state.name, state.kind, state.precision) == ("sf|nse_cm|3045", "sf", 2)
    assert (state.scaled("ltp"), state.get("vol_traded_today"), state.scaled("bid_price")) == (
        D("800.50"), 1234567, D("800.45"))
    [updated] = decoder.feed(_data(_update(7, [80100, hsm.ABSENT, 1764480005])))
    assert updated is state
    assert (state.scaled("ltp"), state.get("vol_traded_today"), state.get("last_traded_time")) == (
        D("801.00"), 1234567, 1764480005)


def test_a_frame_with_depth_and_index_snapshots_reads_both_and_skips_an_unknown_update():
    decoder = hsm.Decoder()
    frame = _data(_snapshot(8, "dp|nse_cm|3045", DEPTH), _snapshot(9, "if|nse_cm|Nifty 50", INDEX, trailer=False),
                  _update(99, [1, 2]))
    depth, index = decoder.feed(frame)
    assert (depth.kind, depth.scaled("ask_price5"), depth.get("bid_size3"), depth.get("ask_orders1")) == (
        "dp", D("800.75"), 300, 6)
    assert (index.kind, index.scaled("ltp"), index.scaled("prev_close_price")) == ("if", D("26000.55"),
                                                                                   D("25900.10"))


def test_a_cut_frame_is_a_frame_error_not_a_crash():
    frame = _data(_snapshot(7, "sf|nse_cm|3045", QUOTE))[:-10]
    with pytest.raises(hsm.FrameError):
        list(hsm.Decoder().feed(frame))


def test_currency_precision_four_scales_by_ten_thousand():
    [state] = hsm.Decoder().feed(_data(_snapshot(3, "sf|cde_fo|1560", [965475, *QUOTE[1:]], precision=4)))
    assert state.scaled("ltp") == D("96.5475")


# --- The socket -------------------------------------------------------------------------------------

class FakeConnection:
    """A websocket connection whose server frames are scripted; then silence, or a drop."""

    def __init__(self, frames: list[bytes], drop: bool = False) -> None:
        self.inbox = deque(frames)
        self.drop = drop
        self.sent: list[bytes] = []
        self.closed = False

    def send(self, message: bytes) -> None:
        self.sent.append(message)

    def recv(self, timeout: float | None = None) -> bytes:
        if self.inbox:
            return self.inbox.popleft()
        if self.drop:
            raise ConnectionClosedError(None, None)
        time.sleep(min(timeout or 0, 0.005))
        raise TimeoutError

    def close(self) -> None:
        self.closed = True


def _socket(*connections: FakeConnection) -> tuple[FyersSocket, list]:
    ticks: list = []
    queue = deque(connections)
    socket = FyersSocket(credentials(), connector=lambda url: queue.popleft(), index_name=lambda s: "Nifty 50")
    return socket, ticks


def test_the_socket_logs_in_with_the_tokens_hsm_key_and_subscribes_quote_and_depth_topics():
    connection = FakeConnection([AUTH_OK, _data(_snapshot(7, "sf|nse_cm|3045", QUOTE)),
                                 _data(_snapshot(8, "dp|nse_cm|3045", DEPTH)),
                                 _data(_snapshot(9, "if|nse_cm|Nifty 50", INDEX, trailer=False))])
    socket, ticks = _socket(connection)
    socket.connect(lambda *tick: ticks.append(tick))
    assert connection.sent == [hsm.auth_frame(HSM_KEY)]
    socket.subscribe([SBIN, NIFTY])
    assert connection.sent[1] == hsm.subscribe_frame(["dp|nse_cm|3045", "sf|nse_cm|3045", "if|nse_cm|Nifty 50"])
    while socket.pump(0.01) and connection.inbox:
        pass
    socket.pump(0.01)
    (ex1, sym1, quote1, depth1, _), (_, _, _, depth2, _), (ex3, sym3, quote3, depth3, _) = ticks
    assert (ex1, sym1, quote1.ltp, quote1.bid, quote1.ask, quote1.volume, depth1) == (
        "NSE", "SBIN", D("800.50"), D("800.45"), D("800.55"), 1234567, None)
    assert depth2 is not None and depth2.asks[0].price == D("800.55") and depth2.bids[4].quantity == 500
    assert (ex3, sym3, quote3.ltp, depth3) == ("NSE_INDEX", "NIFTY", D("26000.55"), None)


def test_lowering_a_depth_subscription_to_ltp_leaves_the_depth_topic_and_unsubscribing_leaves_all():
    connection = FakeConnection([AUTH_OK])
    socket, ticks = _socket(connection)
    socket.connect(lambda *tick: ticks.append(tick))
    socket.subscribe([SBIN])
    socket.subscribe([Subscription(exchange="NSE", symbol="SBIN", token="10100000003045", mode=Mode.LTP)])
    assert connection.sent[-1] == hsm.unsubscribe_frame(["dp|nse_cm|3045"])
    socket.unsubscribe([SBIN])
    assert connection.sent[-1] == hsm.unsubscribe_frame(["sf|nse_cm|3045"])


def test_a_refused_feed_login_is_auth_expired_and_a_token_without_hsm_key_never_connects():
    socket, _ = _socket(FakeConnection([b"\x00\x05\x01\x01\x01\x00\x01E"]))
    with pytest.raises(BrokerAuthExpired):
        socket.connect(lambda *tick: None)
    keyless = FyersSocket(credentials(access_token=jwt(hsm_key="")), connector=lambda url: pytest.fail("dialled"))
    with pytest.raises(BrokerAuthExpired):
        keyless.connect(lambda *tick: None)


def test_a_session_stream_opens_a_new_socket_past_5000_topics_and_carries_3000_depth_instruments():
    dialled: list[FakeConnection] = []

    def connector(url: str) -> FakeConnection:
        dialled.append(FakeConnection([AUTH_OK]))
        return dialled[-1]

    stream = fyers_stream(credentials(), connector=connector)
    assert isinstance(stream, ShardedStream)
    stream.connect(lambda *tick: None)
    wanted = [Subscription(exchange="NSE", symbol=f"S{n}", token=f"1010000000{n:05d}", mode=Mode.DEPTH)
              for n in range(3000)]
    stream.subscribe(wanted)
    topics_per_socket = [sum(struct.unpack_from(">H", frame, 7)[0] for frame in connection.sent[1:])
                         for connection in dialled]
    assert topics_per_socket == [5000, 1000] and stream.refused == 0


def test_a_stream_that_drops_mid_session_reconnects_and_resubscribes_everything():
    first = FakeConnection([AUTH_OK, _data(_snapshot(7, "sf|nse_cm|3045", QUOTE))], drop=True)
    second = FakeConnection([AUTH_OK, _data(_snapshot(1, "sf|nse_cm|3045", QUOTE))])
    dialled = deque([first, second])
    stream = fyers_stream(credentials(), connector=lambda url: dialled.popleft(), index_name=lambda s: "Nifty 50")
    ticks: list = []
    runner = StreamRunner(stream, lambda *tick: ticks.append(tick), pump_timeout=0.01, stale_after=60,
                          backoff_initial=0.001, backoff_max=0.001)
    runner.subscribe([SBIN, NIFTY])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 5
    while (len(ticks) < 2 or not second.sent[1:]) and time.monotonic() < deadline:
        time.sleep(0.01)
    runner.stop()
    thread.join(2)
    assert runner.reconnects >= 1 and first.closed
    expected = hsm.subscribe_frame(["dp|nse_cm|3045", "sf|nse_cm|3045", "if|nse_cm|Nifty 50"])
    assert first.sent[1] == expected and second.sent[1] == expected
    assert [tick[1] for tick in ticks[:2]] == ["SBIN", "SBIN"]
