"""Angel One's SmartStream: handshake, subscribe messages, heartbeat, ticks to the sink,
per-socket limits across three sockets, and a drop mid-session that resumes every
subscription (StreamRunner over fake sockets)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from decimal import Decimal

import pytest
from websockets.exceptions import ConnectionClosedError

from brokers.base import BrokerAuthExpired
from brokers.streaming import Mode, StreamClosed, StreamRunner, Subscription

from .. import testing
from ..stream import DEFAULT_URL, AngelSocket, market_stream
from .test_ticks import ltp_frame, snap_frame


class FakeSocket:
    """A SmartStream connection: what we send is kept, what the server says is queued."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers = url, headers
        self.sent: list[str] = []
        self.incoming: deque[str | bytes | Exception] = deque()
        self.closed = False

    def send(self, message: str) -> None:
        if self.closed:
            raise ConnectionClosedError(None, None)
        self.sent.append(message)

    def recv(self, timeout: float | None = None) -> str | bytes:
        if self.incoming:
            item = self.incoming.popleft()
            if isinstance(item, Exception):
                self.closed = True
                raise item
            return item
        time.sleep(min(timeout or 0, 0.005))
        raise TimeoutError

    def close(self) -> None:
        self.closed = True

    def requests(self) -> list[dict]:
        return [json.loads(message) for message in self.sent if message != "ping"]


class Connector:
    def __init__(self) -> None:
        self.sockets: list[FakeSocket] = []

    def __call__(self, url: str, headers: dict[str, str]) -> FakeSocket:
        socket = FakeSocket(url, headers)
        self.sockets.append(socket)
        return socket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


SBIN = Subscription(exchange="NSE", symbol="SBIN", token="3045", mode=Mode.LTP)
NIFTY = Subscription(exchange="NSE_INDEX", symbol="NIFTY", token="99926000", mode=Mode.QUOTE)
OPTION = Subscription(exchange="NFO", symbol="NIFTY28NOV2425000CE", token="43434", mode=Mode.DEPTH)
USDINR = Subscription(exchange="CDS", symbol="USDINR29OCT25FUT", token="1165", mode=Mode.LTP)


def _socket(clock=None) -> tuple[AngelSocket, Connector, list]:
    connector = Connector()
    ticks: list = []
    socket = AngelSocket(testing.credentials(), connector=connector, clock=clock or time.monotonic)
    socket.connect(lambda *tick: ticks.append(tick))
    return socket, connector, ticks


def test_the_handshake_carries_the_jwt_key_client_code_and_feed_token():
    _, connector, _ = _socket()
    (socket,) = connector.sockets
    assert socket.url == DEFAULT_URL == "wss://smartapisocket.angelone.in/smart-stream"
    assert socket.headers == {"Authorization": testing.JWT, "x-api-key": testing.API_KEY,
                              "x-client-code": testing.CLIENT_CODE, "x-feed-token": testing.FEED_TOKEN}


def test_subscriptions_are_grouped_by_mode_and_exchange_type():
    stream, connector, _ = _socket()
    stream.subscribe([SBIN, NIFTY, OPTION, USDINR])
    requests = connector.sockets[0].requests()
    assert all(len(r["correlationID"]) == 10 and r["action"] == 1 for r in requests)
    assert [(r["params"]["mode"], r["params"]["tokenList"]) for r in requests] == [
        (1, [{"exchangeType": 1, "tokens": ["3045"]}, {"exchangeType": 13, "tokens": ["1165"]}]),
        (2, [{"exchangeType": 1, "tokens": ["99926000"]}]),
        (3, [{"exchangeType": 2, "tokens": ["43434"]}]),
    ]


def test_a_mode_change_unsubscribes_the_old_mode_first_and_unsubscribe_sends_action_0():
    stream, connector, _ = _socket()
    stream.subscribe([SBIN])
    stream.subscribe([SBIN])  # same mode again: nothing new to say
    stream.subscribe([Subscription(exchange="NSE", symbol="SBIN", token="3045", mode=Mode.DEPTH)])
    stream.unsubscribe([SBIN])
    sent = [(r["action"], r["params"]["mode"], r["params"]["tokenList"][0]["tokens"])
            for r in connector.sockets[0].requests()]
    assert sent == [(1, 1, ["3045"]), (0, 1, ["3045"]), (1, 3, ["3045"]), (0, 3, ["3045"])]


def test_ticks_reach_the_sink_under_our_names_and_unknown_tokens_are_dropped():
    stream, connector, ticks = _socket()
    stream.subscribe([SBIN, OPTION])
    server = connector.sockets[0]
    server.incoming.extend([ltp_frame(), _option(), ltp_frame(token=b"999"), "pong"])
    assert stream.pump(0.05) is True
    assert [(exchange, symbol) for exchange, symbol, *_ in ticks] == [("NSE", "SBIN"), ("NFO", "NIFTY28NOV2425000CE")]
    assert ticks[0][2].ltp == Decimal("800.25") and ticks[1][3] is not None and len(ticks[1][3].bids) == 5


def _option() -> bytes:
    frame = bytearray(snap_frame(exchange_type=2))
    frame[2:27] = b"43434" + b"\x00" * 20
    return bytes(frame)


def test_the_heartbeat_is_a_text_ping_every_ten_seconds():
    clock = Clock()
    stream, connector, _ = _socket(clock)
    stream.pump(0)
    assert "ping" not in connector.sockets[0].sent
    clock.now += 10
    stream.pump(0)
    clock.now += 5
    stream.pump(0)
    assert connector.sockets[0].sent.count("ping") == 1


def test_an_error_frame_is_kept_and_a_closed_socket_is_a_dropped_stream():
    stream, connector, _ = _socket()
    server = connector.sockets[0]
    server.incoming.append(json.dumps({"correlationID": "oa00000001", "errorCode": "E1002",
                                       "errorMessage": "Subscription limit exceeded"}))
    stream.pump(0.01)
    assert stream.errors[0]["errorCode"] == "E1002"
    server.incoming.append(ConnectionClosedError(None, None))
    with pytest.raises(StreamClosed):
        stream.pump(0.01)


def test_one_session_spreads_three_thousand_instruments_over_three_sockets_of_a_thousand():
    connector = Connector()
    stream = market_stream(testing.credentials(), connector=connector)
    stream.connect(lambda *tick: None)
    subscriptions = [Subscription(exchange="NFO", symbol=f"S{n}", token=str(100000 + n), mode=Mode.QUOTE)
                     for n in range(3001)]
    stream.subscribe(subscriptions)
    assert len(connector.sockets) == 3
    counts = [sum(len(group["tokens"]) for r in socket.requests() for group in r["params"]["tokenList"])
              for socket in connector.sockets]
    assert counts == [1000, 1000, 1000] and stream.refused == 1


def test_a_feed_needs_a_session_and_its_feed_token():
    with pytest.raises(BrokerAuthExpired):
        market_stream(testing.credentials(feed_token=""))
    with pytest.raises(BrokerAuthExpired):
        market_stream(None)


def test_a_stream_that_drops_mid_session_reconnects_and_resumes_every_subscription():
    connector = Connector()
    received: list[tuple[str, str]] = []
    second_tick = threading.Event()

    def sink(exchange, symbol, quote, depth, at):
        received.append((exchange, symbol))
        if len(received) >= 2:
            second_tick.set()

    runner = StreamRunner(market_stream(testing.credentials(), connector=connector), sink, name="angel-test",
                          pump_timeout=0.01, backoff_initial=0.001, backoff_max=0.01)
    runner.subscribe([SBIN, OPTION])
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while not connector.sockets or not connector.sockets[0].requests():
            assert time.monotonic() < deadline
            time.sleep(0.005)
        first = connector.sockets[0]
        first.incoming.extend([ltp_frame(), ConnectionClosedError(None, None)])
        while len(connector.sockets) < 2 or not connector.sockets[1].requests():
            assert time.monotonic() < deadline
            time.sleep(0.005)
        second = connector.sockets[1]
        resumed = {(r["params"]["mode"], token) for r in second.requests()
                   for group in r["params"]["tokenList"] for token in group["tokens"]}
        assert resumed == {(1, "3045"), (3, "43434")}
        second.incoming.append(_option())
        assert second_tick.wait(5)
    finally:
        runner.stop()
    assert received[:2] == [("NSE", "SBIN"), ("NFO", "NIFTY28NOV2425000CE")]
    assert runner.reconnects >= 1 and first.closed


def test_a_refused_handshake_is_an_expired_session(monkeypatch):
    from websockets.datastructures import Headers
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    from .. import stream as stream_module

    def refuse(url, **options):
        refused = Headers({"x-error-message": "Invalid Header - Invalid Auth token"})
        raise InvalidStatus(Response(401, "Unauthorized", refused))

    monkeypatch.setattr(stream_module, "ws_connect", refuse)
    with pytest.raises(BrokerAuthExpired, match="Invalid Auth token"):
        stream_module._connect(DEFAULT_URL, {})
