"""Upstox's v3 market-data feed as the contract's MarketStream.

One socket: ``GET /v3/feed/market-data-feed/authorize`` (Bearer) answers a one-time
``wss://`` URL; requests go up as JSON in *binary* frames (``{"guid", "method": "sub" |
"unsub" | "change_mode", "data": {"mode", "instrumentKeys"}}``); every message down is a
protobuf ``FeedResponse`` (protobuf.py). Our modes: LTP -> ``ltpc``; QUOTE and DEPTH ->
``full`` (5-level depth, OHLC, volume, OI). Prices come in rupees.

Upstox caps instruments per connection: ``full`` 2,000, or 1,500 when modes are mixed
(``ltpc`` 5,000 / 2,000). ``UpstoxStream`` is a ShardedStream of 1,500 per socket, the cap
that holds whatever the mix; the default plan allows one connection per user and app,
the "Plus" plan up to five (``UPSTOX_FEED_SOCKETS``)."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from django.conf import settings

from brokers.base import BrokerCredentials, BrokerUnavailable, Depth, DepthLevel, Quote
from brokers.streaming import Mode, ShardedStream, StreamClosed, Subscription, TickSink

from .client import UpstoxClient
from .protobuf import MARKET_INFO, Feed, ProtobufError, parse_feed_response

log = logging.getLogger(__name__)

AUTHORIZE_PATH = "/v3/feed/market-data-feed/authorize"
MODES = {Mode.LTP: "ltpc", Mode.QUOTE: "full", Mode.DEPTH: "full"}
PER_SOCKET = 1500
PING_EVERY = 10.0  # seconds of silence before we ask the server whether it is there
DEFAULT_SOCKETS = 1
_ZERO = Decimal(0)


class FeedSocket(Protocol):
    """What we use of a ``websockets`` sync connection."""

    def send(self, message: bytes) -> None: ...

    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self) -> None: ...

    def ping(self) -> threading.Event: ...


def _open_websocket(url: str) -> FeedSocket:
    from websockets.sync.client import connect

    return connect(url, open_timeout=10, close_timeout=2, max_size=2**24)


@lru_cache(maxsize=65536)  # prices repeat tick after tick (and across depth levels)
def _price(value: float) -> Decimal:
    """A price double as Decimal, to 4 places (the finest tick, currency's 0.0025), so float
    noise (812.3000000000001) does not reach the trader."""
    return Decimal(repr(round(value, 4))) if value else _ZERO


def _at(milliseconds: int) -> datetime:
    return datetime.fromtimestamp(milliseconds / 1000, UTC) if milliseconds > 0 else datetime.now(UTC)


def normalise(feed: Feed, current_ts: int = 0) -> tuple[Quote, Depth | None, datetime]:
    """One instrument's protobuf Feed as our tick: a quote, and depth when levels came."""
    ltpc = feed.ltpc
    day = next((bar for bar in feed.ohlc if bar.interval == "1d"), None)
    levels = feed.levels
    bids = tuple(DepthLevel(price=_price(level.bid_price), quantity=level.bid_quantity)
                 for level in levels if level.bid_price > 0)
    asks = tuple(DepthLevel(price=_price(level.ask_price), quantity=level.ask_quantity)
                 for level in levels if level.ask_price > 0)
    at = _at(ltpc.ltt or current_ts)
    quote = Quote(ltp=_price(ltpc.ltp), open=_price(day.open) if day else _ZERO,
                  high=_price(day.high) if day else _ZERO, low=_price(day.low) if day else _ZERO,
                  prev_close=_price(ltpc.cp), volume=feed.volume or (day.volume if day else 0),
                  bid=bids[0].price if bids else _ZERO, ask=asks[0].price if asks else _ZERO,
                  oi=int(feed.oi), timestamp=at)
    depth = Depth(bids=bids, asks=asks, quote=quote) if feed.kind == "market" and levels else None
    return quote, depth, at


class UpstoxSocket:
    """One authorised feed connection (a MarketStream of its own)."""

    def __init__(self, credentials: BrokerCredentials | None, *,
                 authorize: Callable[[], str] | None = None,
                 open_socket: Callable[[str], FeedSocket] = _open_websocket) -> None:
        self.credentials = credentials
        self._authorize = authorize or self._authorized_url
        self._open = open_socket
        self._socket: FeedSocket | None = None
        self._sink: TickSink | None = None
        self._by_key: dict[str, Subscription] = {}
        self._heard_at = 0.0
        self._pong: threading.Event | None = None
        self.market_status: dict[str, int] = {}

    def _authorized_url(self) -> str:
        data = UpstoxClient(self.credentials).get(AUTHORIZE_PATH)
        if not isinstance(data, dict):
            raise BrokerUnavailable("Upstox answered the feed authorisation without a wss:// address")
        url = data.get("authorized_redirect_uri") or data.get("authorizedRedirectUri")
        if not isinstance(url, str) or not url.startswith("wss://"):
            raise BrokerUnavailable("Upstox answered the feed authorisation without a wss:// address")
        return url

    def connect(self, sink: TickSink) -> None:
        self._sink = sink
        self._by_key.clear()
        self._pong = None
        self._socket = self._open(self._authorize())
        self._heard_at = time.monotonic()

    def _send(self, method: str, mode: str | None, keys: list[str]) -> None:
        if self._socket is None:
            raise StreamClosed("not connected")
        data: dict[str, object] = {"instrumentKeys": keys}
        if mode is not None:
            data["mode"] = mode
        message = {"guid": uuid.uuid4().hex, "method": method, "data": data}
        try:
            self._socket.send(json.dumps(message, separators=(",", ":")).encode())  # binary, as Upstox wants
        except Exception as failure:
            raise StreamClosed(f"send failed: {failure}") from failure

    def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """New instruments are ``sub``; one already here in another mode is ``change_mode``."""
        requests: dict[tuple[str, str], list[str]] = {}
        for subscription in subscriptions:
            before = self._by_key.get(subscription.token)
            self._by_key[subscription.token] = subscription
            mode = MODES[subscription.mode]
            if before is not None and MODES[before.mode] == mode:
                continue
            method = "sub" if before is None else "change_mode"
            requests.setdefault((method, mode), []).append(subscription.token)
        for (method, mode), keys in requests.items():
            self._send(method, mode, keys)

    def unsubscribe(self, subscriptions: Sequence[Subscription]) -> None:
        keys = [subscription.token for subscription in subscriptions if self._by_key.pop(subscription.token, None)]
        if keys:
            self._send("unsub", None, keys)

    def pump(self, timeout: float) -> bool:
        if self._socket is None:
            raise StreamClosed("not connected")
        try:
            message = self._socket.recv(timeout=timeout)
        except TimeoutError:
            return self._answered_ping()
        except Exception as failure:  # websockets' ConnectionClosed and transport errors
            raise StreamClosed(f"feed closed: {failure}") from failure
        self._heard_at = time.monotonic()
        if isinstance(message, str):
            return True  # a text frame is not a feed message; the socket is alive all the same
        self.deliver(message)
        return True

    def _answered_ping(self) -> bool:
        """A quiet feed (market closed, illiquid instruments) is not a dead one: after
        PING_EVERY seconds of silence we ping, and the pong counts as life. A ping left
        unanswered lets the runner's staleness check reconnect."""
        now = time.monotonic()
        if self._pong is not None and self._pong.is_set():
            self._pong = None
            self._heard_at = now
            return True
        if self._pong is None and now - self._heard_at >= PING_EVERY and self._socket is not None:
            try:
                self._pong = self._socket.ping()
            except Exception as failure:
                raise StreamClosed(f"feed closed: {failure}") from failure
        return False

    def deliver(self, message: bytes) -> int:
        """Hand each instrument of one FeedResponse to the sink; returns how many went."""
        try:
            response = parse_feed_response(message)
        except ProtobufError as problem:
            log.warning("Upstox feed message unreadable, skipped: %s", problem)
            return 0
        if response.type == MARKET_INFO:
            self.market_status = response.segment_status
        sink = self._sink
        delivered = 0
        for key, feed in response.feeds.items():
            subscription = self._by_key.get(key)
            if subscription is None or sink is None or not feed.kind:
                continue
            quote, depth, at = normalise(feed, response.current_ts)
            sink(subscription.exchange, subscription.symbol, quote,
                 depth if subscription.mode == Mode.DEPTH else None, at)
            delivered += 1
        return delivered

    def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            try:
                socket.close()
            except Exception:
                log.debug("Upstox feed socket failed to close", exc_info=True)


def sockets_allowed() -> int:
    return max(1, int(getattr(settings, "UPSTOX_FEED_SOCKETS", DEFAULT_SOCKETS)))


def UpstoxStream(credentials: BrokerCredentials | None) -> ShardedStream:
    """One session's feed: as many sockets as the plan allows, 1,500 instruments each."""
    return ShardedStream(lambda: UpstoxSocket(credentials), per_socket=PER_SOCKET, max_sockets=sockets_allowed())
