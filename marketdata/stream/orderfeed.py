"""The order events of every process, delivered to this web process's WebSocket order
streams (websocket.md §7): one bus subscription per process, fanned out in process to
the connections of the event's user that sent subscribe_orders."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from core import bus, uievents
from orders import events

log = logging.getLogger(__name__)

Listener = Callable[[dict], None]


class OrderFeed:
    """Order events (orders/events.py) by user."""

    PREFIX = events.TOPIC_PREFIX
    NAME = "order-events"

    @staticmethod
    def decode(payload: bytes) -> tuple[int, dict]:
        return events.decode(payload)

    def __init__(self) -> None:
        self.listeners: dict[int, set[Listener]] = {}
        self._subscription: bus.Subscription | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._joined: asyncio.Task | None = None
        self.delivered = 0

    async def add(self, user_id: int, listener: Listener) -> None:
        """Deliver ``user_id``'s order events to ``listener`` from now on. Returns once the
        bus subscription is live end to end, so an order placed after it is never missed."""
        self.listeners.setdefault(user_id, set()).add(listener)
        self._ensure_started()
        await asyncio.shield(self._joined)

    def remove(self, user_id: int, listener: Listener) -> None:
        listeners = self.listeners.get(user_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self.listeners[user_id]

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        if self._subscription is not None:
            self._subscription.close()
        self._loop = loop
        self._subscription = bus.subscribe(self.PREFIX)
        self._task = loop.create_task(self._receive(self._subscription), name=self.NAME)
        self._joined = loop.create_task(self._subscription.wait_joined(bus.publisher()), name=f"{self.NAME}-join")

    async def _receive(self, subscription: bus.Subscription) -> None:
        while True:
            try:
                _topic, payload = await subscription.receive()
                user_id, message = self.decode(payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Order event receive failed")
                await asyncio.sleep(0.1)
                continue
            self.dispatch(user_id, message)

    def dispatch(self, user_id: int, message: dict) -> None:
        for listener in list(self.listeners.get(user_id, ())):
            try:
                listener(message)
                self.delivered += 1
            except Exception:
                log.exception("Order event delivery failed")


class UiFeed(OrderFeed):
    """Browser events (core/uievents.py) by user, each as the frame a browser channel
    sends: ``{"type": <event>, **data}``."""

    PREFIX = uievents.TOPIC_PREFIX
    NAME = "ui-events"

    @staticmethod
    def decode(payload: bytes) -> tuple[int, dict]:
        user_id, event, data = uievents.decode(payload)
        return user_id, {**data, "type": event}


class OrderOutbox:
    """A connection's order updates, in order and none dropped, each (orderid, status,
    filled quantity) once: the same event may come from more than one path."""

    SEEN_LIMIT = 10_000

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict] = asyncio.Queue()
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self.duplicates = 0

    def put(self, message: dict) -> None:
        key = events.dedupe_key(message)
        if key in self._seen:
            self.duplicates += 1
            return
        self._seen[key] = None
        if len(self._seen) > self.SEEN_LIMIT:
            self._seen.popitem(last=False)
        self.queue.put_nowait(message)


_feed: OrderFeed | None = None
_ui_feed: UiFeed | None = None


def ui_feed() -> UiFeed:
    global _ui_feed
    if _ui_feed is None:
        _ui_feed = UiFeed()
    return _ui_feed


def order_feed() -> OrderFeed:
    global _feed
    if _feed is None:
        _feed = OrderFeed()
    return _feed


def reset_order_feed() -> OrderFeed:
    """Tests: a fresh feed on the current settings' bus."""
    global _feed
    if _feed is not None and _feed._subscription is not None:
        _feed._subscription.close()
        if _feed._task is not None:
            _feed._task.cancel()
    _feed = OrderFeed()
    global _ui_feed
    if _ui_feed is not None and _ui_feed._subscription is not None:
        _ui_feed._subscription.close()
        if _ui_feed._task is not None:
            _ui_feed._task.cancel()
    _ui_feed = UiFeed()
    bus.reset_publisher()
    return _feed
