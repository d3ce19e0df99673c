"""One ZeroMQ SUB per web process, fanning ticks out to the WebSocket connections of that
process. Subscriptions are reference-counted per (owner, exchange, symbol): the first
local subscriber subscribes on the bus, the last one leaving unsubscribes. Each tick is
decoded once and encoded once per mode; a slow connection never blocks the others: its
outbox keeps only the latest frame per (exchange, symbol), and what it overwrote is
counted as dropped."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict

import zmq
import zmq.asyncio
from django.conf import settings

from core import metrics
from marketdata.stream import codec

log = logging.getLogger(__name__)


class Outbox:
    """A connection's pending frames: at most one per (exchange, symbol), newest wins."""

    __slots__ = ("dropped", "pending", "ready", "sent")

    def __init__(self) -> None:
        self.pending: dict[tuple[str, str], str] = {}
        self.ready = asyncio.Event()
        self.dropped = 0
        self.sent = 0

    def put(self, key: tuple[str, str], text: str) -> bool:
        """Queue ``text``; True when it overwrote an untaken frame (a dropped frame)."""
        overwrote = key in self.pending
        if overwrote:
            self.dropped += 1
        self.pending[key] = text
        self.ready.set()
        return overwrote

    def pop(self) -> str | None:
        """The frame of the symbol waiting longest (its newest tick), or None when empty."""
        pending = self.pending
        if not pending:
            self.ready.clear()
            return None
        text = pending.pop(next(iter(pending)))
        if not pending:
            self.ready.clear()
        return text

    def take(self) -> list[str]:
        frames = list(self.pending.values())
        self.pending.clear()
        self.ready.clear()
        return frames


class Hub:
    def __init__(self, address: str | None = None) -> None:
        self.address = address
        # (owner, exchange, symbol) -> {outbox: (mode, depth_level, broker)}
        self.routes: dict[tuple[str, str, str], dict[Outbox, tuple[int, int, str]]] = defaultdict(dict)
        self._socket: zmq.asyncio.Socket | None = None
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ticks = 0

    def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        if self._task is not None and self._loop is loop and not self._task.done():
            return
        self._loop = loop
        context = zmq.asyncio.Context.instance()
        self._socket = context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 100_000)
        self._socket.connect(self.address or settings.ZMQ_XPUB_ADDRESS)
        for key in self.routes:
            self._socket.setsockopt(zmq.SUBSCRIBE, codec.encode_topic(*key))
        self._task = loop.create_task(self._receive(), name="tick-hub")

    def subscribe(self, outbox: Outbox, key: tuple[str, str, str], mode: int, depth_level: int, broker: str) -> None:
        self._ensure_started()
        routes = self.routes[key]
        if not routes:
            self._socket.setsockopt(zmq.SUBSCRIBE, codec.encode_topic(*key))
        routes[outbox] = (mode, depth_level, broker)

    def unsubscribe(self, outbox: Outbox, key: tuple[str, str, str]) -> None:
        routes = self.routes.get(key)
        if not routes or outbox not in routes:
            return
        del routes[outbox]
        if not routes:
            del self.routes[key]
            if self._socket is not None:
                self._socket.setsockopt(zmq.UNSUBSCRIBE, codec.encode_topic(*key))

    async def _receive(self) -> None:
        socket = self._socket
        while True:
            try:
                topic, payload = await socket.recv_multipart()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Tick bus receive failed")
                await asyncio.sleep(0.1)
                continue
            try:
                self.dispatch(topic, payload)
            except Exception:
                log.exception("Tick dispatch failed")

    def dispatch(self, topic: bytes, payload: bytes) -> None:
        key = codec.decode_topic(topic)
        routes = self.routes.get(key)
        if not routes:
            return
        self.ticks += 1
        tick = json.loads(payload)
        _owner, exchange, symbol = key
        frames: dict[tuple[int, int, str], str] = {}
        dropped = 0
        for outbox, spec in routes.items():
            text = frames.get(spec)
            if text is None:
                mode, depth_level, broker = spec
                text = frames[spec] = codec.frame(symbol, exchange, mode, broker, tick, depth_level)
            dropped += outbox.put((exchange, symbol), text)
        if dropped:  # one shared-memory write per tick at most, not one per frame
            metrics.count_dropped_frames(dropped)


_hub: Hub | None = None


def hub() -> Hub:
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub


def reset_hub(address: str | None = None) -> Hub:
    """Tests: a fresh hub on their own bus."""
    global _hub
    _hub = Hub(address)
    return _hub
