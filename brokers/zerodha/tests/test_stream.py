"""Zerodha's ticker as the contract's MarketStream: what it sends (subscribe, then mode, by
instrument token), ticks named by our symbols, Kite's socket caps through ShardedStream,
an expired session at the handshake, and a stream that drops mid-session and comes back
with every subscription (over a fake socket object, and over a local WebSocket server)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.http11 import Response
from websockets.sync.server import serve

from brokers.base import BrokerAuthExpired
from brokers.streaming import Mode, ShardedStream, StreamRunner, Subscription

from ..stream import MAX_SOCKETS, PER_SOCKET, ZerodhaSocket, socket_url, zerodha_stream
from ..testing import ACCESS_TOKEN, API_KEY, credentials
from .test_ticker import frame, full_packet, ltp_packet, quote_packet

SBIN = Subscription("NSE", "SBIN", "779521", Mode.DEPTH)
INFY = Subscription("NSE", "INFY", "408065", Mode.LTP)
NIFTY_FUT = Subscription("NFO", "NIFTY29DEC26FUT", "9001", Mode.QUOTE)
DROP = object()


class FakeSocket:
    """websockets' sync client connection, in memory: ``incoming`` is what the server sends
    (bytes, str, or DROP to close the connection)."""

    def __init__(self, incoming: list[Any]) -> None:
        self.incoming = deque(incoming)
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    def send(self, message: str) -> None:
        if self.closed:
            raise ConnectionClosedError(None, None)
        self.sent.append(json.loads(message))

    def recv(self, timeout: float | None = None) -> Any:
        if not self.incoming:
            time.sleep(min(timeout or 0, 0.002))
            raise TimeoutError
        message = self.incoming.popleft()
        if message is DROP:
            self.closed = True
            raise ConnectionClosedError(None, None)
        return message

    def close(self) -> None:
        self.closed = True


class Connector:
    """Hands out one FakeSocket per connect, in order; records the URLs."""

    def __init__(self, *scripts: list[Any]) -> None:
        self.scripts = deque(scripts)
        self.sockets: list[FakeSocket] = []
        self.urls: list[str] = []

    def __call__(self, url: str, **options: Any) -> FakeSocket:
        self.urls.append(url)
        socket = FakeSocket(self.scripts.popleft() if self.scripts else [])
        self.sockets.append(socket)
        return socket


def _collect() -> tuple[list[tuple], Any]:
    ticks: list[tuple] = []
    return ticks, lambda *tick: ticks.append(tick)


def test_the_socket_url_authenticates_in_the_query():
    query = parse_qs(urlsplit(socket_url(credentials())).query)
    assert urlsplit(socket_url(credentials())).netloc == "ws.kite.trade"
    assert query == {"api_key": [API_KEY], "access_token": [ACCESS_TOKEN]}


def test_subscribing_sends_tokens_then_kites_mode_for_each_of_ours():
    connector = Connector([])
    socket = ZerodhaSocket(credentials(), connector=connector)
    socket.connect(lambda *tick: None)
    socket.subscribe([SBIN, INFY, NIFTY_FUT])
    assert connector.sockets[0].sent == [
        {"a": "subscribe", "v": [779521]}, {"a": "mode", "v": ["full", [779521]]},
        {"a": "subscribe", "v": [408065]}, {"a": "mode", "v": ["ltp", [408065]]},
        {"a": "subscribe", "v": [9001]}, {"a": "mode", "v": ["quote", [9001]]},
    ]
    socket.unsubscribe([INFY])
    assert connector.sockets[0].sent[-1] == {"a": "unsubscribe", "v": [408065]}


def test_ticks_reach_the_sink_under_our_names_and_unknown_tokens_are_dropped():
    stamp = 1_764_216_000
    connector = Connector([frame(full_packet(779521, stamp), ltp_packet(408065, 150_000), ltp_packet(12345, 1)),
                           b"\x00", json.dumps({"type": "error", "data": "bad token"})])
    ticks, sink = _collect()
    socket = ZerodhaSocket(credentials(), connector=connector)
    socket.connect(sink)
    socket.subscribe([SBIN, INFY])
    assert socket.pump(0.05) is True
    assert [(exchange, symbol) for exchange, symbol, *_ in ticks] == [("NSE", "SBIN"), ("NSE", "INFY")]
    *_, depth, at = ticks[0]
    assert depth is not None and len(depth.bids) == 5 and int(at.timestamp()) == stamp
    assert socket.pump(0.01) is False  # nothing more arrived


def test_an_expired_session_is_refused_at_the_handshake():
    def refuse(url: str, **options: Any) -> Any:
        raise InvalidStatus(Response(403, "Forbidden", Headers()))

    with pytest.raises(BrokerAuthExpired):
        ZerodhaSocket(credentials(), connector=refuse).connect(lambda *tick: None)
    with pytest.raises(BrokerAuthExpired):
        zerodha_stream(credentials(access_token=""))


def test_one_session_spreads_instruments_over_kites_three_sockets_of_3000():
    assert (PER_SOCKET, MAX_SOCKETS) == (3000, 3)
    connector = Connector()
    stream = zerodha_stream(credentials(), connector=connector)
    assert isinstance(stream, ShardedStream) and stream.capacity == 9000
    stream.connect(lambda *tick: None)
    wanted = [Subscription("NFO", f"OPT{n}", str(100_000 + n), Mode.QUOTE) for n in range(9001)]
    stream.subscribe(wanted)
    assert len(connector.sockets) == 3 and stream.refused == 1
    for socket in connector.sockets:
        tokens = [token for message in socket.sent if message["a"] == "subscribe" for token in message["v"]]
        assert len(tokens) == 3000
        assert max(len(message["v"]) for message in socket.sent if message["a"] == "subscribe") <= 500


def test_a_stream_that_drops_mid_session_reconnects_and_resubscribes_everything():
    connector = Connector([frame(ltp_packet(408065, 150_000)), DROP], [frame(ltp_packet(408065, 150_100))])
    ticks, sink = _collect()
    runner = StreamRunner(zerodha_stream(credentials(), connector=connector), sink, name="kite", pump_timeout=0.01,
                          backoff_initial=0.01, backoff_max=0.02, stale_after=5)
    runner.subscribe([INFY, SBIN])
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while len(ticks) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        runner.stop()
    assert [tick[2].ltp for tick in ticks[:2]] == [1500, 1501]
    assert runner.reconnects >= 1 and len(connector.sockets) >= 2
    resubscribed = {token for message in connector.sockets[1].sent if message["a"] == "subscribe"
                    for token in message["v"]}
    assert resubscribed == {408065, 779521}


def test_over_a_local_websocket_server_a_dropped_stream_resumes_its_subscriptions(settings):
    """A real WebSocket: the server checks the query's credentials, answers each subscription
    with a quote frame, and drops the first connection after its first frame."""
    connections: list[list[dict]] = []

    def handler(connection: Any) -> None:
        query = parse_qs(urlsplit(connection.request.path).query)
        assert query == {"api_key": [API_KEY], "access_token": [ACCESS_TOKEN]}
        heard: list[dict] = []
        connections.append(heard)
        for message in connection:
            heard.append(json.loads(message))
            if heard[-1]["a"] == "mode":
                connection.send(frame(*(quote_packet(token) for token in heard[-1]["v"][1])))
                if len(connections) == 1:
                    return  # the first connection drops mid-session

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings.ZERODHA_WS_URL = f"ws://127.0.0.1:{port}"
        ticks, sink = _collect()
        runner = StreamRunner(zerodha_stream(credentials()), sink, name="kite-local", pump_timeout=0.02,
                              backoff_initial=0.01, backoff_max=0.05, stale_after=5)
        runner.subscribe([NIFTY_FUT])
        runner.start()
        try:
            deadline = time.monotonic() + 5
            while len(connections) < 2 or len(ticks) < 2:
                assert time.monotonic() < deadline, (connections, ticks)
                time.sleep(0.01)
        finally:
            runner.stop()
            server.shutdown()
    assert connections[1][:2] == [{"a": "subscribe", "v": [9001]}, {"a": "mode", "v": ["quote", [9001]]}]
    assert {(tick[0], tick[1]) for tick in ticks} == {("NFO", "NIFTY29DEC26FUT")}


# --- Order updates pushed on a ticker connection (a bonus to postbacks) -------------------------

@pytest.mark.django_db
def test_order_frames_on_the_ticker_reach_the_order_sink_as_our_orders():
    from brokers.enums import OrderStatus
    from brokers.order_stream import OrderUpdateStream

    from ..stream import ZerodhaOrderStream
    from ..testing import fixture_json

    row = fixture_json("postback.json")
    connector = Connector([json.dumps({"type": "order", "data": row}), b"\x00",
                           json.dumps({"type": "order", "data": {"order_id": "1"}})])
    stream = ZerodhaOrderStream(credentials(), connector=connector)
    assert isinstance(stream, OrderUpdateStream)
    orders: list = []
    stream.connect(orders.append)
    assert stream.pump(0.05) is True
    assert [(order.orderid, order.symbol, order.status) for order in orders] == [
        ("220303000308932", "SBIN", OrderStatus.COMPLETE)]
    assert stream.unreadable == 1 and connector.sockets[0].sent == []  # it subscribes to no instrument
    stream.close()
    assert connector.sockets[0].closed
