"""The OpenAlgo WebSocket feed (websocket.md): authenticate with the API key, subscribe
in modes 1-3, unsubscribe, ping, order updates; the error envelope for anything wrong."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import socket
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.apikeys import authenticate_key, key_is_active
from accounts.brokers import active_broker_name, shares_market_data, supported_brokers
from brokers.selectors import find_instrument
from core import metrics
from marketdata.stream import codec
from marketdata.stream.hub import Outbox, hub
from marketdata.stream.orderfeed import OrderOutbox, order_feed, ui_feed

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
# What may wait for a client beyond its outbox: the server's write buffer and the kernel's
# send queue. Small, so that a client slower than its ticks makes our send wait (and the
# outbox conflate) after a few dozen frames rather than after megabytes of stale ones.
SEND_BUFFER_BYTES = 8 * 1024
# The kernel's send buffer, fixed (autotuning grows it to megabytes on loopback: seconds of
# stale frames). Not with TCP_NOTSENT_LOWAT: with both set, loopback sends stalled for
# seconds now and then in the overload test.
SOCKET_SEND_BUFFER_BYTES = 16 * 1024
# accounts.services publishes it (core.uievents) when a key is revoked or replaced.
APIKEY_REVOKED = "apikey_revoked"
CLOSE_KEY_REVOKED = 4401
KEY_WATCH_JOIN_SECONDS = 1.0


def _transport_of(send):
    """The transport behind an ASGI ``send``, when the server lets us see it: uvicorn's send
    is its protocol's bound method (an asyncio transport), daphne's a partial over its
    protocol (a twisted transport)."""
    owner = send.args[0] if isinstance(send, functools.partial) and send.args else getattr(send, "__self__", None)
    return getattr(owner, "transport", None)


class _Writable:
    """A streaming producer on a twisted transport (daphne): twisted pauses it when the
    transport's write buffer passes ``bufferSize``. daphne's send never waits for the socket,
    so without it a slow client's frames would pile up in twisted's buffer, unconflated."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.event.set()

    def pauseProducing(self) -> None:  # twisted IPushProducer names
        self.event.clear()

    def resumeProducing(self) -> None:
        self.event.set()

    def stopProducing(self) -> None:
        self.event.set()


def bound_send_buffers(send) -> asyncio.Event | None:
    """Keep at most about SEND_BUFFER_BYTES of a connection's frames between us and its
    socket: the server's write buffer and the kernel's send buffer (fixed, no autotuning). Under uvicorn its send waits
    while the socket is full; under daphne the returned event is clear while it is (wait on
    it before taking a frame). Best effort: a server that hides its transport keeps its own
    buffers."""
    transport = _transport_of(send)
    if transport is None:
        return None
    writable = None
    try:
        if hasattr(transport, "get_extra_info"):  # asyncio
            sock = transport.get_extra_info("socket")
            transport.set_write_buffer_limits(high=SEND_BUFFER_BYTES)
        else:  # twisted
            sock = transport.getHandle()
            producer = _Writable()
            transport.bufferSize = SEND_BUFFER_BYTES
            transport.registerProducer(producer, True)
            writable = producer.event
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SEND_BUFFER_BYTES)
    except (OSError, AttributeError, ValueError, TypeError, RuntimeError):
        log.debug("Feed socket buffers left as the server set them", exc_info=True)
    return writable


def _error(code: str, message: str) -> str:
    return json.dumps({"status": "error", "code": code, "message": message})


@database_sync_to_async
def _authenticate(key: str):
    found = authenticate_key(key)
    if found is None:
        return None, None, None
    user, key_id = found
    return user, key_id, active_broker_name(user)


_key_is_active = database_sync_to_async(key_is_active)


class FeedConsumer(AsyncWebsocketConsumer):
    # No channel layer: ticks come from the hub, order and UI events from core.bus. With one
    # (the default alias) Channels would open a channel per socket and keep a task receiving
    # on it (in Redis under REDIS_URL) for messages nobody sends. An alias that names no
    # layer gives None (channels.layers.get_channel_layer).
    channel_layer_alias = "none: the feed uses no channel layer"

    async def connect(self) -> None:
        self.user = None
        self.broker = None
        self.owner = None
        self.outbox = Outbox()
        # (exchange, symbol) -> {mode: depth}
        self.subscriptions: dict[tuple[str, str], dict[int, int]] = {}
        self.orders = False
        self.order_outbox = OrderOutbox()
        self.key_id: int | None = None  # the API key this socket authenticated with
        self._key_watch: int | None = None  # the user whose key revocations it listens to
        self._revoked: asyncio.Task | None = None
        await self.accept()
        self._writable = bound_send_buffers(self.base_send)
        grace = settings.WS_AUTH_GRACE_SECONDS
        self._grace = asyncio.get_running_loop().create_task(self._auth_deadline(grace))
        self._sender = asyncio.get_running_loop().create_task(self._send_ticks())
        self._order_sender = asyncio.get_running_loop().create_task(self._send_order_updates())

    async def _auth_deadline(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.user is None:
            await self.close(code=4401, reason="auth timeout")

    async def _send_ticks(self) -> None:
        """One frame at a time, each the newest of its symbol when it leaves: while a send
        waits for a slow socket, the outbox goes on replacing what it holds."""
        outbox, writable = self.outbox, self._writable
        while True:
            await outbox.ready.wait()
            if writable is not None and not writable.is_set():
                await writable.wait()  # meanwhile the outbox conflates
            text = outbox.pop()
            if text is not None:
                await self.send(text_data=text)
                outbox.sent += 1

    async def _send_order_updates(self) -> None:
        queue = self.order_outbox.queue
        while True:
            message = await queue.get()
            await self.send(text_data=json.dumps(message))

    async def disconnect(self, code) -> None:
        for name in ("_grace", "_sender", "_order_sender"):
            task = getattr(self, name, None)
            if task is not None:
                task.cancel()
        if hasattr(self, "outbox"):
            metrics.observe_connection_dropped(self.outbox.dropped)
        self._release_all()
        self._stop_order_updates()
        self._stop_key_watch()

    # --- the key it authenticated with: revoked or replaced anywhere -> this socket closes ---
    async def _watch_key(self, user_id: int, key_id: int) -> bool:
        """Listen for the revocation of ``key_id``; False if it is already revoked (between
        the check and the listener's start, an event could have been missed)."""
        self.key_id = key_id
        if self._key_watch != user_id:
            self._stop_key_watch()
            self._key_watch = user_id
            # The listener is in place at once; waiting for the bus to confirm the
            # subscription is bounded, so a bus that is down never stalls authentication.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ui_feed().add(user_id, self._on_account_event), KEY_WATCH_JOIN_SECONDS)
        return await _key_is_active(key_id)

    def _stop_key_watch(self) -> None:
        if getattr(self, "_key_watch", None) is not None:
            ui_feed().remove(self._key_watch, self._on_account_event)
            self._key_watch = None

    def _on_account_event(self, message: dict) -> None:
        if message.get("type") != APIKEY_REVOKED or self.key_id is None or message.get("key_id") != self.key_id:
            return
        if self._revoked is None:
            self._revoked = asyncio.get_running_loop().create_task(self._close_revoked())

    async def _close_revoked(self) -> None:
        self.key_id = None
        self._release_all()
        self._stop_order_updates()
        self._stop_key_watch()
        self.user = None
        await self.send(text_data=_error("AUTHENTICATION_ERROR", "API key revoked"))
        await self.close(code=CLOSE_KEY_REVOKED, reason="api key revoked")

    def _stop_order_updates(self) -> None:
        if self.orders and self.user is not None:
            order_feed().remove(self.user.pk, self.order_outbox.put)
        self.orders = False

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw) > MAX_FRAME:
            await self.send(text_data=_error("INVALID_PARAMETERS", "Message too large"))
            return
        try:
            message = json.loads(raw)
        except ValueError:
            await self.send(text_data=_error("INVALID_JSON", "Invalid JSON message"))
            return
        if not isinstance(message, dict):
            await self.send(text_data=_error("INVALID_JSON", "Invalid JSON message"))
            return
        action = message.get("action") or message.get("type")
        handler = {
            "authenticate": self.on_authenticate, "auth": self.on_authenticate, "subscribe": self.on_subscribe,
            "unsubscribe": self.on_unsubscribe, "unsubscribe_all": self.on_unsubscribe_all,
            "subscribe_orders": self.on_subscribe_orders, "unsubscribe_orders": self.on_unsubscribe_orders,
            "get_broker_info": self.on_broker_info, "get_supported_brokers": self.on_supported_brokers,
            "ping": self.on_ping,
        }.get(action if isinstance(action, str) else "")
        if handler is None:
            await self.send(text_data=_error("INVALID_ACTION", f"Invalid action: {action}"))
            return
        needs_auth = action not in ("authenticate", "auth", "get_supported_brokers", "ping")
        if needs_auth and self.user is None:
            await self.send(text_data=_error("NOT_AUTHENTICATED", "You must authenticate first"))
            return
        try:
            await handler(message)
        except Exception:
            await self.send(text_data=_error("PROCESSING_ERROR", "Could not process the message"))
            raise

    # --- verbs -------------------------------------------------------------------------------
    async def on_authenticate(self, message: dict) -> None:
        key = message.get("api_key") or message.get("apikey")
        if not key or not isinstance(key, str):
            await self.send(text_data=_error("AUTHENTICATION_ERROR", "API key is required"))
            return
        user, key_id, broker = await _authenticate(key)
        if user is None:
            await self.send(text_data=_error("AUTHENTICATION_ERROR", "Invalid API key"))
            return
        if self.user is not None and self.user.pk != user.pk:
            self._release_all()
            self._stop_order_updates()
        if not await self._watch_key(user.pk, key_id):
            self.user = self.key_id = None
            self._stop_key_watch()
            await self.send(text_data=_error("AUTHENTICATION_ERROR", "Invalid API key"))
            return
        self.user, self.broker = user, broker
        self.owner = codec.owner_for(broker, user.pk, shared=shares_market_data(broker))
        await self.send(text_data=json.dumps({
            "type": "auth", "status": "success", "message": "Authentication successful", "broker": broker,
            "user_id": user.username, "supported_features": {"ltp": True, "quote": True, "depth": True}}))

    def _items(self, message: dict, default_mode: int | None) -> list[tuple[str, str, object]]:
        symbols = message.get("symbols")
        if isinstance(symbols, list) and symbols:
            return [(s.get("symbol"), s.get("exchange"), s.get("mode", default_mode)) for s in symbols
                    if isinstance(s, dict) and isinstance(s.get("symbol"), str) and isinstance(s.get("exchange"), str)]
        symbol, exchange = message.get("symbol"), message.get("exchange")
        if isinstance(symbol, str) and isinstance(exchange, str) and symbol and exchange:
            return [(symbol, exchange, default_mode)]
        return []

    async def on_subscribe(self, message: dict) -> None:
        raw_mode = message.get("mode", 2)
        mode = codec.parse_mode(raw_mode)
        if mode is None:
            await self.send(text_data=_error(
                "INVALID_MODE", f"Invalid mode {raw_mode}; expected 1 (LTP), 2 (Quote), or 3 (Depth)"))
            return
        items = self._items(message, mode)
        if not items:
            await self.send(text_data=_error("INVALID_PARAMETERS", "At least one symbol must be specified"))
            return
        depth = message.get("depth", message.get("depth_level", 5))
        granted = 5 if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1 else min(depth, 5)
        known = await self._known([(symbol, exchange) for symbol, exchange, _ in items])
        results = []
        for symbol, exchange, _ in items:
            if (symbol, exchange) not in known:
                results.append({"symbol": symbol, "exchange": exchange, "status": "error",
                                "message": f"Token not found for {symbol} on {exchange}", "broker": self.broker})
                continue
            self.subscriptions.setdefault((exchange, symbol), {})[mode] = granted
            self._route(exchange, symbol)
            results.append({"symbol": symbol, "exchange": exchange, "status": "success", "mode": codec.MODES[mode],
                            "depth": granted, "broker": self.broker})
        ack = {"type": "subscribe", "status": "success" if all(r["status"] == "success" for r in results)
               else "partial", "message": "Subscription processing complete", "broker": self.broker}
        if "request_id" in message:
            ack["request_id"] = message["request_id"]
        ack["subscriptions"] = results
        await self.send(text_data=json.dumps(ack))

    @database_sync_to_async
    def _known(self, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(s, e) for s, e in pairs if find_instrument(broker=self.broker, exchange=e, symbol=s) is not None}

    def _route(self, exchange: str, symbol: str) -> None:
        modes = self.subscriptions.get((exchange, symbol))
        key = (self.owner, exchange, symbol)
        if not modes:
            hub().unsubscribe(self.outbox, key)
            return
        top = max(modes)
        hub().subscribe(self.outbox, key, top, modes[top] if top == 3 else 5, self.broker)

    def _release_all(self) -> list[tuple[str, str]]:
        released = list(self.subscriptions)
        self.subscriptions.clear()
        for exchange, symbol in released:
            hub().unsubscribe(self.outbox, (self.owner, exchange, symbol))
        return released

    async def on_unsubscribe(self, message: dict) -> None:
        if message.get("unsubscribe_all"):
            await self.on_unsubscribe_all(message)
            return
        items = self._items(message, message.get("mode", 2))
        if not items:
            await self.send(text_data=_error("INVALID_PARAMETERS", "Either symbols or unsubscribe_all is required"))
            return
        successful = []
        for symbol, exchange, raw_mode in items:
            modes = self.subscriptions.get((exchange, symbol), {})
            modes.pop(codec.parse_mode(raw_mode) or 2, None)
            if not modes:
                self.subscriptions.pop((exchange, symbol), None)
            self._route(exchange, symbol)
            successful.append({"symbol": symbol, "exchange": exchange, "status": "success", "broker": self.broker})
        await self.send(text_data=json.dumps({
            "type": "unsubscribe", "status": "success", "message": "Unsubscription processing complete",
            "successful": successful, "failed": [], "broker": self.broker}))

    async def on_unsubscribe_all(self, message: dict) -> None:
        released = self._release_all()
        await self.send(text_data=json.dumps({
            "type": "unsubscribe", "status": "success", "message": "Unsubscription processing complete",
            "successful": [{"symbol": s, "exchange": e, "status": "success", "broker": self.broker}
                           for e, s in released], "failed": [], "broker": self.broker}))

    async def on_subscribe_orders(self, message: dict) -> None:
        await order_feed().add(self.user.pk, self.order_outbox.put)
        self.orders = True
        ack = {"type": "subscribe_orders", "status": "success", "message": "Subscribed to order updates"}
        if "request_id" in message:
            ack["request_id"] = message["request_id"]
        await self.send(text_data=json.dumps(ack))

    async def on_unsubscribe_orders(self, message: dict) -> None:
        self._stop_order_updates()
        await self.send(text_data=json.dumps({"type": "unsubscribe_orders", "status": "success",
                                              "message": "Unsubscribed from order updates"}))

    async def on_broker_info(self, message: dict) -> None:
        await self.send(text_data=json.dumps({"type": "broker_info", "status": "success", "broker": self.broker,
                                              "adapter_status": "connected", "user_id": self.user.username}))

    async def on_supported_brokers(self, message: dict) -> None:
        brokers = supported_brokers()
        await self.send(text_data=json.dumps({"type": "supported_brokers", "status": "success",
                                              "brokers": brokers, "count": len(brokers)}))

    async def on_ping(self, message: dict) -> None:
        # `dropped`: market_data frames this connection lost to conflation since it opened
        # (a newer tick of the same symbol replaced one it had not taken yet). An addition to
        # websocket.md §3.7's pong; its other fields are unchanged.
        pong = {"type": "pong", "status": "success", "server_timestamp": int(time.time() * 1000)}
        if "timestamp" in message:
            pong["client_timestamp"] = message["timestamp"]
        if "_pingId" in message:
            pong["_pingId"] = message["_pingId"]
        pong["dropped"] = self.outbox.dropped
        await self.send(text_data=json.dumps(pong))
