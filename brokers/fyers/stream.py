"""Fyers' market data as the contract's stream: HSM sockets (hsm.py's protocol) of at most
5,000 symbols each (Docs changelog, 26 Mar 2024), run as one ShardedStream per session.

Modes: LTP and QUOTE subscribe the quote topic (``sf``: last price, OHLC, volume, best
bid/ask, OI); DEPTH adds the 5-level depth topic (``dp``); an index has its own topic
(``if``) whatever the mode. Every change of a topic hands the instrument's current quote
(and depth, for DEPTH subscriptions) to the sink."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials, Depth, DepthLevel, Quote
from brokers.enums import Exchange
from brokers.selectors import find_instrument
from brokers.streaming import MarketStream, Mode, ShardedStream, StreamClosed, Subscription, TickSink

from . import hsm
from .login import jwt_claims

log = logging.getLogger(__name__)

DEFAULT_FEED_URL = "wss://socket.fyers.in/hsm/v1-5/prod"
# 5,000 symbols per connection (documented). Whether an instrument on both the quote and the
# depth feed counts once or twice is not; the feed process asks DEPTH (two topics) for every
# instrument, so a socket takes 2,500 instruments and never carries more than 5,000 topics.
TOPICS_PER_SOCKET = 5000
INSTRUMENTS_PER_SOCKET = TOPICS_PER_SOCKET // 2
# Connections per user are not documented; four sockets carry 10,000 instruments.
MAX_SOCKETS = 4
# Topics per subscribe frame: the block's size is a uint16, and a topic is up to ~40 bytes.
TOPICS_PER_FRAME = 1000
AUTH_TIMEOUT = 10.0
DRAIN = 256
# The feed names of index topics, as the official library knows them (observed); an index
# not listed goes by its master-contract name ("Symbol Details").
INDEX_FEED_NAMES = {
    "NSE:NIFTY50-INDEX": "Nifty 50", "NSE:NIFTYBANK-INDEX": "Nifty Bank", "NSE:FINNIFTY-INDEX": "Nifty Fin Service",
    "NSE:INDIAVIX-INDEX": "India VIX", "NSE:NIFTY100-INDEX": "Nifty 100", "NSE:NIFTYNEXT50-INDEX": "Nifty Next 50",
    "NSE:NIFTYMIDCAP50-INDEX": "Nifty Midcap 50", "BSE:SENSEX-INDEX": "SENSEX", "BSE:BANKEX-INDEX": "BANKEX",
}
ZERO = Decimal(0)


class Connection(Protocol):
    """What we use of a websockets sync client connection (tests pass a fake)."""

    def send(self, message: bytes) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self) -> None: ...


Connector = Callable[[str], Connection]


def _connect(url: str) -> Connection:
    # Keep-alive: websocket pings (the server sends no heartbeat of its own).
    return ws_connect(url, open_timeout=10, ping_interval=30, ping_timeout=30, close_timeout=2, max_size=None,
                      compression=None)


def index_feed_name(subscription: Subscription) -> str:
    """The name an index topic uses, from the master contract's ticker (or its name)."""
    info = find_instrument(broker="fyers", exchange=subscription.exchange, symbol=subscription.symbol)
    if info is None:
        return subscription.symbol
    return INDEX_FEED_NAMES.get(info.brsymbol) or info.name or subscription.symbol


def _is_index(subscription: Subscription) -> bool:
    return subscription.exchange in (Exchange.NSE_INDEX, Exchange.BSE_INDEX)


def quote_of(state: hsm.TopicState) -> Quote:
    stamp = state.get("last_traded_time") or state.get("exch_feed_time")
    if state.kind == "if":
        return Quote(ltp=state.scaled("ltp"), open=state.scaled("open_price"), high=state.scaled("high_price"),
                     low=state.scaled("low_price"), prev_close=state.scaled("prev_close_price"), volume=0,
                     bid=ZERO, ask=ZERO, timestamp=datetime.fromtimestamp(stamp, UTC) if stamp else None)
    return Quote(ltp=state.scaled("ltp"), open=state.scaled("open_price"), high=state.scaled("high_price"),
                 low=state.scaled("low_price"), prev_close=state.scaled("prev_close_price"),
                 volume=state.get("vol_traded_today"), bid=state.scaled("bid_price"), ask=state.scaled("ask_price"),
                 oi=state.get("oi"), timestamp=datetime.fromtimestamp(stamp, UTC) if stamp else None)


def depth_of(state: hsm.TopicState, quote: Quote) -> Depth:
    def side(name: str) -> tuple[DepthLevel, ...]:
        return tuple(DepthLevel(price=state.scaled(f"{name}_price{level}"), quantity=state.get(f"{name}_size{level}"),
                                orders=state.get(f"{name}_orders{level}")) for level in range(1, 6))

    return Depth(bids=side("bid"), asks=side("ask"), quote=quote)


class FyersSocket:
    """One HSM connection (a MarketStream of at most INSTRUMENTS_PER_SOCKET instruments)."""

    def __init__(self, credentials: BrokerCredentials, *, connector: Connector = _connect,
                 index_name: Callable[[Subscription], str] = index_feed_name, url: str | None = None) -> None:
        self.credentials = credentials
        self.connector = connector
        self.index_name = index_name
        self.url = url or str(getattr(settings, "FYERS_FEED_URL", "") or DEFAULT_FEED_URL)
        self.connection: Connection | None = None
        self.decoder = hsm.Decoder()
        self._sink: TickSink | None = None
        self._by_topic: dict[str, Subscription] = {}
        self._topics_of: dict[tuple[str, str], set[str]] = {}
        self._quotes: dict[tuple[str, str], Quote] = {}
        self._depths: dict[tuple[str, str], hsm.TopicState] = {}

    def connect(self, sink: TickSink) -> None:
        hsm_key = jwt_claims(self.credentials.access_token).get("hsm_key")
        if not isinstance(hsm_key, str) or not hsm_key:
            raise BrokerAuthExpired("The Fyers access token carries no feed key: log in to Fyers again")
        self._sink = sink
        self.decoder = hsm.Decoder()
        self._by_topic.clear()
        self._topics_of.clear()
        connection = self.connection = self.connector(self.url)
        connection.send(hsm.auth_frame(hsm_key))
        while True:
            try:
                frame = connection.recv(timeout=AUTH_TIMEOUT)
            except TimeoutError:
                raise StreamClosed("Fyers feed did not answer the login") from None
            except ConnectionClosed as closed:
                raise StreamClosed(f"Fyers feed closed during login: {closed}") from None
            if isinstance(frame, bytes) and len(frame) > 2 and frame[2] == hsm.AUTH:
                if not hsm.auth_accepted(frame):
                    raise BrokerAuthExpired("Fyers refused the feed login: log in to Fyers again")
                return

    def _topics(self, subscription: Subscription) -> set[str]:
        if _is_index(subscription):
            return {hsm.topic("if", subscription.token, self.index_name(subscription))}
        topics = {hsm.topic("sf", subscription.token)}
        if subscription.mode >= Mode.DEPTH:
            topics.add(hsm.topic("dp", subscription.token))
        return topics

    def _send(self, build: Callable[[Sequence[str]], bytes], topics: list[str]) -> None:
        if self.connection is None:
            raise StreamClosed("not connected")
        for start in range(0, len(topics), TOPICS_PER_FRAME):
            try:
                self.connection.send(build(topics[start:start + TOPICS_PER_FRAME]))
            except ConnectionClosed as closed:
                raise StreamClosed(f"Fyers feed closed: {closed}") from None

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        new: list[str] = []
        gone: list[str] = []
        for subscription in subscriptions:
            try:
                wanted = self._topics(subscription)
            except ValueError as problem:
                log.warning("Fyers feed cannot stream %s:%s: %s", subscription.exchange, subscription.symbol, problem)
                continue
            had = self._topics_of.get(subscription.key, set())
            self._topics_of[subscription.key] = wanted
            for name in wanted:
                self._by_topic[name] = subscription
            new += sorted(wanted - had)
            gone += sorted(had - wanted)
        if gone:
            self._forget(gone)
            self._send(hsm.unsubscribe_frame, gone)
        if new:
            self._send(hsm.subscribe_frame, new)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        gone: list[str] = []
        for subscription in subscriptions:
            gone += sorted(self._topics_of.pop(subscription.key, set()))
            self._quotes.pop(subscription.key, None)
            self._depths.pop(subscription.key, None)
        if gone:
            self._forget(gone)
            self._send(hsm.unsubscribe_frame, gone)

    def _forget(self, topics: list[str]) -> None:
        for name in topics:
            self._by_topic.pop(name, None)

    def pump(self, timeout: float) -> bool:
        """Wait up to ``timeout`` for a frame, then drain what has already arrived (up to
        DRAIN frames), so a busy socket is read in batches rather than one frame a call."""
        if self.connection is None:
            raise StreamClosed("not connected")
        wait: float = timeout
        for _ in range(DRAIN):
            try:
                frame = self.connection.recv(timeout=wait)
            except TimeoutError:
                return wait == 0  # something arrived before, or nothing did
            except ConnectionClosed as closed:
                raise StreamClosed(f"Fyers feed closed: {closed}") from None
            wait = 0
            self._read(frame)
        return True

    def _read(self, frame: str | bytes) -> None:
        if isinstance(frame, bytes) and len(frame) > 2 and frame[2] == hsm.DATA:
            try:
                for state in self.decoder.feed(frame):
                    self._deliver(state)
            except hsm.FrameError as problem:
                log.warning("Fyers feed sent an unreadable frame: %s", problem)

    def _deliver(self, state: hsm.TopicState) -> None:
        subscription = self._by_topic.get(state.name)
        if subscription is None or self._sink is None:
            return  # a topic we left, still in flight
        key = subscription.key
        if state.kind == "dp":
            self._depths[key] = state
            quote = self._quotes.get(key)
            if quote is None:
                return  # depth before the quote's snapshot: wait for the quote
        else:
            quote = self._quotes[key] = quote_of(state)
        book = self._depths.get(key) if subscription.mode >= Mode.DEPTH else None
        depth = depth_of(book, quote) if book is not None else None
        self._sink(subscription.exchange, subscription.symbol, quote, depth, quote.timestamp or datetime.now(UTC))

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


def fyers_stream(credentials: BrokerCredentials | None, *, connector: Connector = _connect,
                 index_name: Callable[[Subscription], str] = index_feed_name) -> MarketStream:
    """One session's feed: as many sockets as its instruments need, 2,500 (5,000 topics) to a socket."""
    if credentials is None:
        raise BrokerAuthExpired("Fyers' feed needs a logged-in session")
    return ShardedStream(lambda: FyersSocket(credentials, connector=connector, index_name=index_name),
                         per_socket=INSTRUMENTS_PER_SOCKET, max_sockets=MAX_SOCKETS)
