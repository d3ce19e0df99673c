"""Dhan's live market feed (v2) as the contract's MarketStream.

One ``DhanSocket`` is one WebSocket to ``wss://api-feed.dhan.co?version=2&token=..&clientId=..
&authType=2``: subscriptions go as JSON text (``RequestCode`` 15/17/21 subscribe ticker,
quote, full; 16/18/22 unsubscribe; at most 100 instruments a message), every answer is
binary (brokers/dhan/feed.py). Dhan allows 5,000 instruments a connection and 5 connections
a user (a sixth disconnects the oldest), so a session's stream is a ShardedStream of up to
five sockets: 25,000 instruments. Dhan pings every 10 s; the websockets client answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials
from brokers.enums import Exchange
from brokers.streaming import MarketStream, Mode, ShardedStream, StreamClosed, Subscription, TickSink

from . import mapping
from .client import client_id_of
from .feed import FeedDisconnect, FeedParser

log = logging.getLogger(__name__)

FEED_URL = "wss://api-feed.dhan.co"
PER_SOCKET = 5000
MAX_SOCKETS = 5
PER_MESSAGE = 100
SUBSCRIBE = {Mode.LTP: 15, Mode.QUOTE: 17, Mode.DEPTH: 21}
UNSUBSCRIBE = {mode: code + 1 for mode, code in SUBSCRIBE.items()}
DISCONNECT = 12

# Opens a WebSocket (url) -> an object with send(str), recv(timeout) and close(): the
# websockets sync client, or a fake in tests.
Connector = Callable[[str], Any]


def _connect(url: str) -> Any:
    return ws_connect(url, open_timeout=10, close_timeout=2, max_size=2**22, compression=None)


def feed_url(credentials: BrokerCredentials) -> str:
    base = str(getattr(settings, "DHAN_FEED_URL", "") or FEED_URL)
    client_id = client_id_of(credentials.access_token) or credentials.client_id
    query = urlencode({"version": 2, "token": credentials.access_token, "clientId": client_id, "authType": 2})
    return f"{base}?{query}"


def requests(code: int, subscriptions: Sequence[Subscription]) -> list[str]:
    """The JSON messages asking ``code`` for ``subscriptions``, 100 instruments each."""
    messages = []
    for start in range(0, len(subscriptions), PER_MESSAGE):
        chunk = subscriptions[start:start + PER_MESSAGE]
        messages.append(json.dumps({
            "RequestCode": code, "InstrumentCount": len(chunk),
            "InstrumentList": [{"ExchangeSegment": mapping.SEGMENTS[Exchange(item.exchange)],
                                "SecurityId": str(item.token)} for item in chunk],
        }))
    return messages


def _segment_code(item: Subscription) -> int | None:
    """The feed's segment code of a subscription, None when Dhan's feed cannot carry it."""
    try:
        segment = mapping.SEGMENTS[Exchange(item.exchange)]
    except (KeyError, ValueError):
        return None
    return mapping.SEGMENT_CODES[segment] if str(item.token).isdigit() else None


class DhanSocket:
    """One feed connection (up to 5,000 instruments)."""

    def __init__(self, credentials: BrokerCredentials, connector: Connector = _connect,
                 parser: FeedParser | None = None) -> None:
        self.credentials = credentials
        self.connector = connector
        self.parser = parser or FeedParser()
        self.socket: Any = None
        self.sink: TickSink | None = None
        self.modes: dict[tuple[str, str], Mode] = {}  # (exchange, symbol) -> mode asked
        self.names: dict[tuple[int, int], tuple[str, str]] = {}  # (segment code, security id) -> ours

    def connect(self, sink: TickSink) -> None:
        self.sink = sink
        self.modes.clear()
        self.names.clear()
        self.socket = self.connector(feed_url(self.credentials))

    def _send(self, messages: list[str]) -> None:
        if self.socket is None:
            raise StreamClosed("not connected")
        try:
            for message in messages:
                self.socket.send(message)
        except ConnectionClosed as closed:
            raise StreamClosed(f"Dhan feed closed: {closed}") from None

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        by_mode: dict[Mode, list[Subscription]] = {}
        changed: dict[Mode, list[Subscription]] = {}
        for item in subscriptions:
            if _segment_code(item) is None:
                log.warning("Dhan feed cannot carry %s:%s (token %r)", item.exchange, item.symbol, item.token)
                continue
            key = (item.exchange, item.symbol)
            old = self.modes.get(key)
            if old is not None and old != item.mode:
                changed.setdefault(old, []).append(item)  # leave the old mode first
            self.modes[key] = item.mode
            self.names[(_segment_code(item) or 0, int(item.token))] = key
            by_mode.setdefault(item.mode, []).append(item)
        for mode, items in changed.items():
            self._send(requests(UNSUBSCRIBE[mode], items))
        for mode, items in by_mode.items():
            self._send(requests(SUBSCRIBE[mode], items))

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        by_mode: dict[Mode, list[Subscription]] = {}
        for item in subscriptions:
            mode = self.modes.pop((item.exchange, item.symbol), None)
            if mode is None:
                continue
            self.names.pop((_segment_code(item) or 0, int(item.token)), None)
            by_mode.setdefault(mode, []).append(item)
        for mode, items in by_mode.items():
            self._send(requests(UNSUBSCRIBE[mode], items))

    def pump(self, timeout: float) -> bool:
        if self.socket is None or self.sink is None:
            raise StreamClosed("not connected")
        try:
            frame = self.socket.recv(timeout=timeout)
        except TimeoutError:
            return False
        except ConnectionClosed as closed:
            raise StreamClosed(f"Dhan feed closed: {closed}") from None
        if isinstance(frame, str):
            return True  # Dhan answers in binary; text is life, not data
        try:
            for tick in self.parser.ticks(frame):
                key = self.names.get((tick.segment, tick.security_id))
                if key is not None:
                    self.sink(key[0], key[1], tick.quote, tick.depth, tick.at)
        except FeedDisconnect as told:
            raise StreamClosed(str(told)) from None
        return True

    def close(self) -> None:
        socket, self.socket = self.socket, None
        if socket is None:
            return
        try:
            socket.send(json.dumps({"RequestCode": DISCONNECT}))
        except Exception:  # the socket may already be gone: closing is best effort
            log.debug("Dhan feed disconnect request not sent", exc_info=True)
        try:
            socket.close()
        except Exception:
            log.debug("Dhan feed close failed", exc_info=True)


def dhan_stream(credentials: BrokerCredentials | None, connector: Connector = _connect) -> MarketStream:
    """One session's feed: up to 5 sockets of 5,000 instruments each."""
    if credentials is None or not credentials.access_token:
        raise BrokerAuthExpired("Dhan's market feed needs a logged-in session")
    return ShardedStream(lambda: DhanSocket(credentials, connector), per_socket=PER_SOCKET, max_sockets=MAX_SOCKETS)
