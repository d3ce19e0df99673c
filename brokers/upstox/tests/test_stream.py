"""The v3 market-data feed as a MarketStream: the authorise call, the JSON requests sent as
binary frames, protobuf frames normalised to our modes, the per-socket cap, and a feed
that drops mid-session and comes back with every subscription."""

from __future__ import annotations

import json
import queue
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosedError

from brokers import registry
from brokers.streaming import Mode, ShardedStream, StreamClosed, StreamRunner, Subscription
from brokers.upstox import protobuf
from brokers.upstox.stream import PER_SOCKET, UpstoxSocket, UpstoxStream
from brokers.upstox.testing import TOKEN, credentials
from brokers.upstox.tests.test_protobuf import double, feed_entry, integer, ltpc, message, text

SBIN = Subscription("NSE", "SBIN", "NSE_EQ|INE062A01020", Mode.DEPTH)
NIFTY = Subscription("NSE_INDEX", "NIFTY", "NSE_INDEX|Nifty 50", Mode.LTP)
OPTION = Subscription("NFO", "NIFTY28NOV2425000CE", "NSE_FO|35002", Mode.QUOTE)


def full_frame(key: str, ltp: float, *, ltt: int = 1732600000123) -> bytes:
    levels = b"".join(message(1, integer(1, 100 * n) + double(2, ltp - 0.05 * n) + integer(3, 50 * n)
                              + double(4, ltp + 0.05 * n)) for n in range(1, 6))
    day = message(1, text(1, "1d") + double(2, ltp - 10) + double(3, ltp + 5) + double(4, ltp - 12)
                  + double(5, ltp) + integer(6, 1234567))
    market = (message(1, ltpc(ltp, ltt, 10, ltp - 7.5)) + message(2, levels) + message(4, day) + integer(6, 1234567)
              + double(7, 4200.0))
    return integer(1, protobuf.LIVE_FEED) + feed_entry(key, message(2, message(1, market)) + integer(4, 1))


def ltpc_frame(key: str, ltp: float) -> bytes:
    return integer(1, protobuf.LIVE_FEED) + feed_entry(key, message(1, ltpc(ltp, 1732600000999, 0, ltp - 100)))


class FakeFeedSocket:
    """A websockets sync connection in memory: frames to hand out, what we sent."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: queue.Queue[bytes | str | Exception] = queue.Queue()
        self.sent: list[bytes] = []
        self.closed = False
        self.pings = 0
        self.answers_pings = True

    def send(self, message: bytes) -> None:
        if self.closed:
            raise ConnectionClosedError(None, None)
        self.sent.append(message)

    def recv(self, timeout: float | None = None) -> str | bytes:
        try:
            frame = self.frames.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError from None
        if isinstance(frame, Exception):
            raise frame
        return frame

    def close(self) -> None:
        self.closed = True

    def ping(self) -> threading.Event:
        self.pings += 1
        pong = threading.Event()
        if self.answers_pings:
            pong.set()
        return pong

    def requests(self) -> list[dict]:
        return [json.loads(frame) for frame in self.sent]


class Feed:
    """Opens FakeFeedSockets at fresh one-time URLs, as the authorise call hands out."""

    def __init__(self) -> None:
        self.sockets: list[FakeFeedSocket] = []
        self.authorised = 0

    def authorize(self) -> str:
        self.authorised += 1
        return f"wss://wsfeeder-api.upstox.com/market-data-feeder/v3/upstox-developer-api/feeds?code={self.authorised}"

    def open(self, url: str) -> FakeFeedSocket:
        socket = FakeFeedSocket(url)
        self.sockets.append(socket)
        return socket

    def socket(self) -> UpstoxSocket:
        return UpstoxSocket(credentials(), authorize=self.authorize, open_socket=self.open)


def test_the_feed_is_registered_and_declared():
    spec = registry.feed_for("upstox")
    assert spec.stream is UpstoxStream and registry.capabilities_of("upstox").market_feed
    stream = UpstoxStream(credentials())
    assert isinstance(stream, ShardedStream) and (stream.per_socket, stream.max_sockets) == (1500, 1)


def test_connecting_asks_upstox_for_the_one_time_feed_url(upstox_exchange):
    opened = []
    socket = UpstoxSocket(credentials(), open_socket=lambda url: opened.append(url) or FakeFeedSocket(url))
    socket.connect(lambda *tick: None)
    (request,) = upstox_exchange.requests
    assert (request.method, request.url.path) == ("GET", "/v3/feed/market-data-feed/authorize")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert opened == ["wss://wsfeeder-api.upstox.com/market-data-feeder/v3/upstox-developer-api/feeds?"
                      "requestId=abc&code=xyz"]


def test_subscriptions_go_up_as_binary_json_by_mode_and_mode_changes_are_change_mode():
    feed = Feed()
    socket = feed.socket()
    socket.connect(lambda *tick: None)
    socket.subscribe([SBIN, NIFTY, OPTION])
    sent = feed.sockets[0].requests()
    assert all(isinstance(frame, bytes) for frame in feed.sockets[0].sent)
    assert [(r["method"], r["data"]["mode"], r["data"]["instrumentKeys"]) for r in sent] == [
        ("sub", "full", ["NSE_EQ|INE062A01020", "NSE_FO|35002"]), ("sub", "ltpc", ["NSE_INDEX|Nifty 50"])]
    assert all(r["guid"] for r in sent)
    socket.subscribe([Subscription("NSE_INDEX", "NIFTY", "NSE_INDEX|Nifty 50", Mode.DEPTH), SBIN])
    socket.unsubscribe([OPTION])
    assert [(r["method"], r["data"].get("mode"), r["data"]["instrumentKeys"]) for r in feed.sockets[0].requests()[2:]] \
        == [("change_mode", "full", ["NSE_INDEX|Nifty 50"]), ("unsub", None, ["NSE_FO|35002"])]


def test_frames_become_ticks_of_the_subscribed_mode():
    feed, ticks = Feed(), []
    socket = feed.socket()
    socket.connect(lambda *tick: ticks.append(tick))
    socket.subscribe([SBIN, NIFTY, OPTION])
    feed.sockets[0].frames.put(full_frame("NSE_EQ|INE062A01020", 812.35))
    feed.sockets[0].frames.put(ltpc_frame("NSE_INDEX|Nifty 50", 24010.5))
    feed.sockets[0].frames.put(full_frame("NSE_FO|35002", 150.5))
    feed.sockets[0].frames.put(ltpc_frame("NSE_EQ|INE002A01018", 1500.0))  # not ours: ignored
    assert all(socket.pump(0.01) for _ in range(4))
    assert not socket.pump(0.01)  # nothing more: quiet, not dropped
    (exchange, symbol, quote, depth, at), index, option = ticks
    assert (exchange, symbol) == ("NSE", "SBIN") and at == datetime.fromtimestamp(1732600000.123, UTC)
    assert (quote.ltp, quote.prev_close, quote.open, quote.high, quote.low) == (
        Decimal("812.35"), Decimal("804.85"), Decimal("802.35"), Decimal("817.35"), Decimal("800.35"))
    assert (quote.bid, quote.ask, quote.volume, quote.oi) == (Decimal("812.3"), Decimal("812.4"), 1234567, 4200)
    assert [level.price for level in depth.bids] == [Decimal(p) for p in ("812.3", "812.25", "812.2", "812.15",
                                                                          "812.1")]
    assert depth.asks[4].quantity == 250
    assert index[:2] == ("NSE_INDEX", "NIFTY") and index[2].ltp == Decimal("24010.5") and index[3] is None
    assert index[2].prev_close == Decimal("23910.5")
    assert option[1] == "NIFTY28NOV2425000CE" and option[3] is None and option[2].bid == Decimal("150.45")


def test_a_market_status_frame_is_life_not_a_tick():
    feed, ticks = Feed(), []
    socket = feed.socket()
    socket.connect(lambda *tick: ticks.append(tick))
    status = integer(1, protobuf.MARKET_INFO) + message(4, message(1, text(1, "NSE_EQ") + integer(2, 2)))
    feed.sockets[0].frames.put(status)
    feed.sockets[0].frames.put(b"\x0a\x05ab")  # truncated: skipped, the socket stays up
    assert socket.pump(0.01) and socket.pump(0.01) and ticks == []
    assert socket.market_status == {"NSE_EQ": 2}


def test_a_closed_socket_raises_stream_closed():
    feed = Feed()
    socket = feed.socket()
    socket.connect(lambda *tick: None)
    feed.sockets[0].frames.put(ConnectionClosedError(None, None))
    with pytest.raises(StreamClosed):
        socket.pump(0.01)
    socket.close()
    with pytest.raises(StreamClosed):
        socket.pump(0.01)


def test_a_second_socket_opens_past_1500_instruments_when_the_plan_allows_it(settings):
    settings.UPSTOX_FEED_SOCKETS = 2
    feed = Feed()
    stream = ShardedStream(feed.socket, per_socket=PER_SOCKET, max_sockets=2)
    assert UpstoxStream(credentials()).max_sockets == 2
    stream.connect(lambda *tick: None)
    many = [Subscription("NSE", f"S{n}", f"NSE_EQ|INE{n:09d}", Mode.LTP) for n in range(3001)]
    stream.subscribe(many)
    assert [len(json.loads(s.sent[0])["data"]["instrumentKeys"]) for s in feed.sockets] == [1500, 1500]
    assert stream.refused == 1


def _until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def test_a_feed_that_drops_mid_session_resumes_with_every_subscription():
    feed, ticks = Feed(), []
    stream = ShardedStream(feed.socket, per_socket=PER_SOCKET, max_sockets=1)
    runner = StreamRunner(stream, lambda *tick: ticks.append(tick), name="upstox-test", pump_timeout=0.01,
                          backoff_initial=0.01, backoff_max=0.02, stale_after=5)
    runner.subscribe([SBIN, NIFTY])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert _until(lambda: feed.sockets and len(feed.sockets[0].sent) == 2)
        feed.sockets[0].frames.put(full_frame("NSE_EQ|INE062A01020", 800.0))
        assert _until(lambda: len(ticks) == 1)
        feed.sockets[0].frames.put(ConnectionClosedError(None, None))  # Upstox drops the connection
        assert _until(lambda: len(feed.sockets) == 2 and len(feed.sockets[1].sent) == 2)
        resent = sorted((r["method"], r["data"]["mode"], tuple(r["data"]["instrumentKeys"]))
                        for r in feed.sockets[1].requests())
        assert resent == [("sub", "full", ("NSE_EQ|INE062A01020",)), ("sub", "ltpc", ("NSE_INDEX|Nifty 50",))]
        assert feed.authorised == 2 and feed.sockets[0].closed  # a fresh one-time URL for the new socket
        feed.sockets[1].frames.put(ltpc_frame("NSE_INDEX|Nifty 50", 24000.0))
        assert _until(lambda: len(ticks) == 2)
        assert ticks[1][1] == "NIFTY" and runner.reconnects == 1
    finally:
        runner.stop()
        thread.join(2)


def test_a_quiet_feed_is_pinged_and_its_pong_counts_as_life(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("brokers.upstox.stream.time.monotonic", lambda: clock[0])
    feed = Feed()
    socket = feed.socket()
    socket.connect(lambda *tick: None)
    assert not socket.pump(0.001) and feed.sockets[0].pings == 0  # quiet for less than PING_EVERY
    clock[0] += 11
    assert not socket.pump(0.001) and feed.sockets[0].pings == 1  # pinged
    assert socket.pump(0.001)  # the pong came: alive
    feed.sockets[0].answers_pings = False
    clock[0] += 11
    assert not socket.pump(0.001) and feed.sockets[0].pings == 2
    clock[0] += 30
    assert not any(socket.pump(0.001) for _ in range(3)) and feed.sockets[0].pings == 2  # left to the runner


def test_over_a_real_local_websocket_server_the_feed_drops_and_resumes():
    """The websockets client itself: binary JSON requests up, protobuf frames down, the
    server closing the first connection, the runner reconnecting and re-subscribing."""
    from websockets.sync.server import serve

    requests: list[list[dict]] = []

    def handler(connection):
        number = len(requests)
        requests.append([])
        request = connection.recv(timeout=5)
        assert isinstance(request, bytes)  # Upstox wants the JSON in a binary frame
        requests[number].append(json.loads(request))
        connection.send(full_frame("NSE_EQ|INE062A01020", 800.0 + number))
        if number == 0:
            return  # the server drops the first connection mid-session
        time.sleep(1)

    server = serve(handler, "127.0.0.1", 0)
    port = server.socket.getsockname()[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    ticks = []
    stream = ShardedStream(lambda: UpstoxSocket(credentials(), authorize=lambda: f"ws://127.0.0.1:{port}"),
                           per_socket=PER_SOCKET, max_sockets=1)
    runner = StreamRunner(stream, lambda *tick: ticks.append(tick), name="upstox-ws", pump_timeout=0.02,
                          backoff_initial=0.01, backoff_max=0.02, stale_after=5)
    runner.subscribe([SBIN])
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        assert _until(lambda: len(ticks) >= 2)
        assert [tick[2].ltp for tick in ticks[:2]] == [Decimal("800.0"), Decimal("801.0")]
        assert [r[0]["data"] for r in requests[:2]] == [{"instrumentKeys": ["NSE_EQ|INE062A01020"], "mode": "full"}] * 2
        assert runner.reconnects >= 1
    finally:
        runner.stop()
        thread.join(2)
        server.shutdown()
