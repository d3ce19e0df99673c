"""Zerodha's market data: Kite's ticker WebSocket (``wss://ws.kite.trade?api_key=..&access_token=..``)
as the contract's MarketStream. Kite allows 3,000 instruments per connection and 3
connections per api_key, so one session's stream is a ShardedStream of up to three
sockets (9,000 instruments). Binary frames are parsed in ticker.py; text frames are JSON
(errors and notices are logged; order updates arrive by postback, see postback.py).

Every socket is driven from the runner's thread (websockets' sync client), so it needs
no lock of its own."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials, Depth, Quote
from brokers.order_stream import OrderSink
from brokers.streaming import MarketStream, Mode, ShardedStream, StreamClosed, Subscription, TickSink

from . import mapping
from .symbols import our_symbol
from .ticker import MODE_NAMES, MalformedFrame, TickParser

log = logging.getLogger(__name__)

DEFAULT_WS_URL = "wss://ws.kite.trade"
PER_SOCKET = 3000
MAX_SOCKETS = 3
BATCH = 500  # tokens per subscribe/mode message: Kite takes a list, we keep messages small
Connector = Callable[..., Any]


def socket_url(credentials: BrokerCredentials) -> str:
    base = str(getattr(settings, "ZERODHA_WS_URL", "") or DEFAULT_WS_URL)
    return f"{base}?{urlencode({'api_key': credentials.api_key, 'access_token': credentials.access_token})}"


class ZerodhaSocket:
    """One ticker connection (at most PER_SOCKET instruments)."""

    def __init__(self, credentials: BrokerCredentials, *, connector: Connector = ws_connect,
                 parser: TickParser | None = None, on_order: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.credentials = credentials
        self.connector = connector
        self.parser = parser or TickParser()
        self.on_order = on_order
        self._ws: Any = None
        self._sink: TickSink | None = None
        self._names: dict[int, tuple[str, str]] = {}  # instrument_token -> (exchange, symbol)
        self.frames = 0

    def connect(self, sink: TickSink) -> None:
        try:
            self._ws = self.connector(socket_url(self.credentials), open_timeout=10, close_timeout=2,
                                      max_size=2**22, compression=None)
        except InvalidStatus as refusal:
            if refusal.response.status_code in (401, 403):
                raise BrokerAuthExpired("Zerodha refused the ticker: session expired, please log in again") from None
            raise StreamClosed(f"Zerodha ticker answered HTTP {refusal.response.status_code}") from None
        self._sink = sink

    def _send(self, message: dict[str, Any]) -> None:
        if self._ws is None:
            raise StreamClosed("not connected")
        try:
            self._ws.send(json.dumps(message))
        except ConnectionClosed as closed:
            raise StreamClosed(f"Zerodha ticker closed: {closed}") from None

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        by_mode: dict[Mode, list[int]] = {}
        for subscription in subscriptions:
            token = int(subscription.token)
            self._names[token] = (subscription.exchange, subscription.symbol)
            by_mode.setdefault(subscription.mode, []).append(token)
        for mode, tokens in by_mode.items():
            for start in range(0, len(tokens), BATCH):
                batch = tokens[start:start + BATCH]
                self._send({"a": "subscribe", "v": batch})
                self._send({"a": "mode", "v": [MODE_NAMES[mode], batch]})

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        tokens = [int(subscription.token) for subscription in subscriptions]
        for token in tokens:
            self._names.pop(token, None)
        for start in range(0, len(tokens), BATCH):
            self._send({"a": "unsubscribe", "v": tokens[start:start + BATCH]})

    def pump(self, timeout: float) -> bool:
        if self._ws is None:
            raise StreamClosed("not connected")
        deadline = time.monotonic() + timeout
        lively = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return lively
            try:
                message = self._ws.recv(timeout=remaining)
            except TimeoutError:
                return lively
            except ConnectionClosed as closed:
                raise StreamClosed(f"Zerodha ticker closed: {closed}") from None
            lively = True
            if isinstance(message, bytes):
                self.deliver(message)
            else:
                self._text(message)

    def deliver(self, frame: bytes) -> None:
        """Hand every packet of a binary frame we subscribed to to the sink."""
        self.frames += 1
        sink = self._sink
        if sink is None:
            return
        try:
            ticks = self.parser.frame(frame)
        except MalformedFrame as problem:
            log.warning("Zerodha ticker sent a malformed frame: %s", problem)
            return
        names = self._names
        for tick, at in ticks:
            name = names.get(tick.token)
            if name is not None:
                sink(name[0], name[1], tick.quote, tick.depth, at)

    def _text(self, message: str) -> None:
        try:
            payload = json.loads(message)
        except ValueError:
            log.warning("Zerodha ticker sent unreadable text: %.200s", message)
            return
        kind = payload.get("type") if isinstance(payload, dict) else None
        if kind == "error":
            log.warning("Zerodha ticker error: %.300s", payload.get("data"))
        elif kind == "message":
            log.info("Zerodha ticker says: %.300s", payload.get("data"))
        elif kind == "order" and self.on_order is not None and isinstance(payload.get("data"), dict):
            self.on_order(payload["data"])
        # Without on_order, "order" frames repeat what the postback brings (postback.py).

    def close(self) -> None:
        ws, self._ws = self._ws, None
        self._sink = None
        if ws is not None:
            try:
                ws.close()
            except Exception:  # closing a broken socket: nothing left to save
                log.debug("Zerodha ticker socket failed to close", exc_info=True)


def zerodha_stream(credentials: BrokerCredentials | None, *, connector: Connector = ws_connect,
                   per_socket: int = PER_SOCKET, max_sockets: int = MAX_SOCKETS) -> MarketStream:
    """One session's market data: up to ``max_sockets`` ticker sockets of ``per_socket`` instruments."""
    if credentials is None or not credentials.access_token:
        raise BrokerAuthExpired("Zerodha session expired, please log in to Zerodha again")
    return ShardedStream(lambda: ZerodhaSocket(credentials, connector=connector), per_socket=per_socket,
                         max_sockets=max_sockets)


class ZerodhaOrderStream:
    """One account's order updates pushed on a ticker connection (Kite's ``{"type": "order"}``
    text frames, the postback's payload; they cover orders from every platform, not only
    ours). Implements brokers.order_stream.OrderUpdateStream, ready for a deployment that
    runs order sockets; it takes one of the account's three ticker connections."""

    def __init__(self, credentials: BrokerCredentials, *, connector: Connector = ws_connect) -> None:
        self.socket = ZerodhaSocket(credentials, connector=connector, on_order=self._order)
        self._sink: OrderSink | None = None
        self.unreadable = 0

    def connect(self, sink: OrderSink) -> None:
        self._sink = sink
        self.socket.connect(_no_ticks)

    def _order(self, row: dict[str, Any]) -> None:
        if self._sink is None:
            return
        try:
            order = mapping.broker_order(row, our_symbol(row))
        except (mapping.UnreadablePayload, KeyError, TypeError, ValueError, ArithmeticError) as problem:
            self.unreadable += 1
            log.warning("Zerodha pushed an unreadable order update: %s", problem)
            return
        self._sink(order)

    def pump(self, timeout: float) -> bool:
        return self.socket.pump(timeout)

    def close(self) -> None:
        self.socket.close()
        self._sink = None


def _no_ticks(exchange: str, symbol: str, quote: Quote, depth: Depth | None, at: datetime) -> None:
    """An order socket subscribes to no instrument: no tick comes."""

