"""Angel One's market data: SmartAPI WebSocket 2.0 (SmartStream) as the contract's stream.

One ``AngelSocket`` is one connection: the handshake carries the JWT (bare, as Angel's own
SDK sends it), the API key, the client code and the feed token; subscriptions are JSON text
(``action`` 1 subscribe / 0 unsubscribe, ``mode`` 1 LTP / 2 QUOTE / 3 SNAP_QUOTE, tokens
grouped by exchange type); ticks are binary frames (ticks.py); the text ``ping`` every 10 s
keeps it alive and is answered ``pong``. Angel counts at most 1000 token-and-mode
subscriptions per connection and 3 connections per client code, so one session's feed is a
ShardedStream of up to 3 sockets of 1000 instruments. Each instrument is subscribed in one
mode only: a mode change unsubscribes the old mode first (both would count)."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials
from brokers.streaming import MarketStream, Mode, ShardedStream, StreamClosed, Subscription, TickSink

from . import ticks
from .login import bare_token

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://smartapisocket.angelone.in/smart-stream"
PER_SOCKET = 1000
MAX_SOCKETS = 3
HEARTBEAT_SECONDS = 10.0
# Our exchange -> Angel's exchangeType (indices are rows of their cash or commodity segment).
EXCHANGE_TYPES = {"NSE": 1, "NSE_INDEX": 1, "NFO": 2, "BSE": 3, "BSE_INDEX": 3, "BFO": 4, "MCX": 5, "MCX_INDEX": 5,
                  "CDS": 13}


class Socket(Protocol):
    """What we use of a ``websockets`` sync connection (a fake one in tests)."""

    def send(self, message: str) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self) -> None: ...


Connector = Callable[[str, dict[str, str]], Socket]


def _connect(url: str, headers: dict[str, str]) -> Socket:
    try:
        return ws_connect(url, additional_headers=headers, open_timeout=10, ping_interval=None, close_timeout=2,
                          max_size=2**20)
    except InvalidStatus as refused:  # 401 with an x-error-message header: a header was refused
        if refused.response.status_code in (401, 403):
            reason = refused.response.headers.get("x-error-message", "invalid session")
            raise BrokerAuthExpired(f"Angel One refused the market stream: {reason}") from None
        raise


def stream_url() -> str:
    return str(getattr(settings, "ANGEL_STREAM_URL", "") or DEFAULT_URL)


def handshake_headers(credentials: BrokerCredentials) -> dict[str, str]:
    return {"Authorization": bare_token(credentials.access_token), "x-api-key": credentials.api_key,
            "x-client-code": credentials.client_id, "x-feed-token": credentials.feed_token}


_correlation = itertools.count(1)


def request(action: int, mode: int, tokens: dict[int, list[str]]) -> str:
    """A subscribe (1) or unsubscribe (0) message for ``tokens`` by exchange type."""
    return json.dumps({
        "correlationID": f"oa{next(_correlation) % 10**8:08d}", "action": action,
        "params": {"mode": mode, "tokenList": [{"exchangeType": exchange_type, "tokens": batch}
                                               for exchange_type, batch in sorted(tokens.items())]},
    })


class AngelSocket:
    """One SmartStream connection (a MarketStream; ShardedStream runs up to three)."""

    def __init__(self, credentials: BrokerCredentials, *, connector: Connector = _connect,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.connector = connector
        self.clock = clock
        self.socket: Socket | None = None
        self.sink: TickSink | None = None
        self.names: dict[tuple[int, str], tuple[str, str]] = {}  # (exchange type, token) -> (exchange, symbol)
        self.modes: dict[tuple[int, str], Mode] = {}
        self.pinged_at = 0.0
        self.errors: list[dict[str, Any]] = []

    def connect(self, sink: TickSink) -> None:
        self.sink = sink
        self.names.clear()
        self.modes.clear()
        self.socket = self.connector(stream_url(), handshake_headers(self.credentials))
        self.pinged_at = self.clock()

    def _send(self, message: str) -> None:
        if self.socket is None:
            raise StreamClosed("not connected")
        try:
            self.socket.send(message)
        except ConnectionClosed as closed:
            raise StreamClosed(f"Angel One closed the stream: {closed}") from None

    def _send_grouped(self, action: int, entries: Sequence[tuple[Mode, int, str]]) -> None:
        by_mode: dict[Mode, dict[int, list[str]]] = {}
        for mode, exchange_type, token in entries:
            by_mode.setdefault(mode, {}).setdefault(exchange_type, []).append(token)
        for mode, tokens in sorted(by_mode.items()):
            self._send(request(action, ticks.MODES[mode], tokens))

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        stale: list[tuple[Mode, int, str]] = []
        wanted: list[tuple[Mode, int, str]] = []
        for subscription in subscriptions:
            exchange_type = EXCHANGE_TYPES.get(subscription.exchange)
            if exchange_type is None:
                log.warning("Angel One streams no %s: %s not subscribed", subscription.exchange, subscription.symbol)
                continue
            key = (exchange_type, subscription.token)
            previous = self.modes.get(key)
            if previous == subscription.mode:
                continue
            if previous is not None:
                stale.append((previous, exchange_type, subscription.token))
            self.names[key] = (subscription.exchange, subscription.symbol)
            self.modes[key] = subscription.mode
            wanted.append((subscription.mode, exchange_type, subscription.token))
        if stale:
            self._send_grouped(0, stale)
        if wanted:
            self._send_grouped(1, wanted)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        gone: list[tuple[Mode, int, str]] = []
        for subscription in subscriptions:
            exchange_type = EXCHANGE_TYPES.get(subscription.exchange)
            key = (exchange_type or 0, subscription.token)
            mode = self.modes.pop(key, None)
            self.names.pop(key, None)
            if exchange_type is not None and mode is not None:
                gone.append((mode, exchange_type, subscription.token))
        if gone:
            self._send_grouped(0, gone)

    def pump(self, timeout: float) -> bool:
        socket = self.socket
        if socket is None:
            raise StreamClosed("not connected")
        deadline = self.clock() + timeout
        lively = False
        while True:
            now = self.clock()
            if now - self.pinged_at >= HEARTBEAT_SECONDS:
                self._send("ping")
                self.pinged_at = now
            remaining = deadline - now
            if remaining <= 0:
                return lively
            try:
                message = socket.recv(timeout=remaining)
            except TimeoutError:
                return lively
            except ConnectionClosed as closed:
                raise StreamClosed(f"Angel One closed the stream: {closed}") from None
            lively = self._handle(message) or lively

    def _handle(self, message: str | bytes) -> bool:
        if isinstance(message, bytes):
            try:
                tick = ticks.parse(message)
            except ticks.BadFrame as problem:
                log.warning("Angel One sent an unreadable tick: %s", problem)
                return True
            name = self.names.get((tick.exchange_type, tick.token))
            if name is not None and self.sink is not None:
                self.sink(name[0], name[1], tick.quote, tick.depth, tick.at)
            return True
        if message.strip().lower() == "pong":
            return True
        try:
            error = json.loads(message)
        except ValueError:
            log.warning("Angel One sent an unexpected text frame: %.200s", message)
            return False
        if isinstance(error, dict) and error.get("errorCode"):
            self.errors.append(error)
            log.warning("Angel One stream error %s: %s", error.get("errorCode"), error.get("errorMessage"))
        return True

    def close(self) -> None:
        socket, self.socket = self.socket, None
        if socket is not None:
            try:
                socket.close()
            except Exception:  # closing a broken socket must not fail the runner
                log.debug("Angel One socket failed to close", exc_info=True)


def market_stream(credentials: BrokerCredentials | None, *, connector: Connector = _connect) -> MarketStream:
    """One logged-in session's feed: up to 3 sockets of 1000 instruments each."""
    if credentials is None or not credentials.access_token or not credentials.feed_token:
        raise BrokerAuthExpired("Angel One session expired, please log in to the broker again")
    return ShardedStream(lambda: AngelSocket(credentials, connector=connector), per_socket=PER_SOCKET,
                         max_sockets=MAX_SOCKETS)
