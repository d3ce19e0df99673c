"""Messages between the platform's processes, as bytes by topic: over ZeroMQ through the
feed process's XSUB/XPUB forwarder on the embedded defaults (publishers and subscribers
connect, only the feed process binds), over Redis pub/sub when REDIS_URL is set (any
number of hosts). Subscriptions match topics by prefix on both. Imports nothing of ours.

Ticks do not use this module (the tick path has its own lean sockets); it carries the
platform's domain events, which are few and must not be lost between live processes."""

from __future__ import annotations

import abc
import asyncio
import atexit
import contextlib
import logging
import os
import queue
import threading
import time
import uuid
from typing import Protocol

import redis
import redis.asyncio as aioredis
import zmq
import zmq.asyncio
from django.conf import settings

log = logging.getLogger(__name__)

# A topic under every prefix a subscriber may use, sent by that subscriber to itself to
# learn that its subscription is live end to end (see Subscription.wait_joined).
PROBE = b"~probe~"
REDIS_PREFIX = b"openalgo.bus."
# How long the first message of a new ZeroMQ publisher waits for the forwarder to pass it
# the subscriptions (a PUB socket drops what no subscription matches, so the first
# message of a fresh socket would otherwise be lost even with a subscriber listening).
JOIN_SECONDS = 1.0


class Publisher(Protocol):
    def publish(self, topic: bytes, payload: bytes) -> None: ...

    def close(self) -> None: ...


class ZmqPublisher:
    """One XPUB socket per process, connected to the forwarder's XSUB side, owned by one
    sender thread (sockets are not thread-safe, and the caller must never wait for the
    bus). XPUB rather than PUB so it hears which topics are wanted."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address or settings.ZMQ_XSUB_ADDRESS
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[bytes, bytes] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._pending = 0
        self._sent = threading.Condition()

    def publish(self, topic: bytes, payload: bytes) -> None:
        with self._lock:
            if self._thread is None or self._pid != os.getpid():  # a forked child needs its own
                self._queue, self._pid, self._pending = queue.SimpleQueue(), os.getpid(), 0
                self._thread = threading.Thread(target=self._send_forever, args=(self._queue,),
                                                name="bus-publisher", daemon=True)
                self._thread.start()
                atexit.register(self.flush)
            with self._sent:
                self._pending += 1
            self._queue.put((topic, payload))

    def flush(self, timeout: float = JOIN_SECONDS + 1) -> bool:
        """Wait until everything published so far has left (a process about to exit)."""
        with self._sent:
            return self._sent.wait_for(lambda: self._pending <= 0, timeout)

    def _send_forever(self, messages: queue.SimpleQueue) -> None:
        socket = zmq.Context.instance().socket(zmq.XPUB)
        socket.setsockopt(zmq.LINGER, 1000)
        socket.setsockopt(zmq.SNDHWM, 100_000)
        socket.connect(self.address)
        wanted: set[bytes] = set()
        joined = False
        try:
            while True:
                item = messages.get()
                if item is None:
                    return
                topic, payload = item
                _hear_subscriptions(socket, wanted, 0)
                if not joined:
                    deadline = time.monotonic() + JOIN_SECONDS
                    while not any(topic.startswith(p) for p in wanted) and time.monotonic() < deadline:
                        _hear_subscriptions(socket, wanted, 20)
                    joined = True
                try:
                    socket.send_multipart([topic, payload])
                finally:
                    with self._sent:
                        self._pending -= 1
                        self._sent.notify_all()
        finally:
            socket.close(linger=1000)

    def close(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                self._queue.put(None)
                self._thread.join(timeout=JOIN_SECONDS + 1)
            self._thread = None


def _hear_subscriptions(socket: zmq.Socket, wanted: set[bytes], timeout_ms: int) -> None:
    while socket.poll(timeout_ms, zmq.POLLIN):
        timeout_ms = 0
        message = socket.recv()
        if message[:1] == b"\x01":
            wanted.add(message[1:])
        elif message[:1] == b"\x00":
            wanted.discard(message[1:])


def redis_channel_prefix(url: str) -> bytes:
    """Redis pub/sub channels are global to the server, whatever the database number: the
    channels of an installation carry its database number, so two installations (or test
    runs) on one Redis server with different databases never hear each other."""
    return REDIS_PREFIX + str(redis.connection.parse_url(url).get("db") or 0).encode() + b"."


class RedisPublisher:
    def __init__(self, url: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._channels = redis_channel_prefix(url)

    def publish(self, topic: bytes, payload: bytes) -> None:
        self._client.publish(self._channels + topic, payload)

    def close(self) -> None:
        self._client.close()


class Subscription(abc.ABC):
    """Messages whose topic starts with ``prefix``, for one asyncio loop. ``receive``
    returns (topic, payload); the transport's own probes never come out of it."""

    def __init__(self, prefix: bytes) -> None:
        self.prefix = prefix
        self._probe = prefix + PROBE + uuid.uuid4().hex.encode()
        self._joined = asyncio.Event()

    @abc.abstractmethod
    async def _receive_raw(self) -> tuple[bytes, bytes]:
        """The next message of the transport, probes included."""

    async def receive(self) -> tuple[bytes, bytes]:
        while True:
            topic, payload = await self._receive_raw()
            if topic.startswith(self.prefix + PROBE):
                if topic == self._probe:
                    self._joined.set()
                continue
            return topic, payload

    async def wait_joined(self, publisher: Publisher, timeout: float = 5.0) -> bool:
        """Send ourselves probes until one comes back: from then on nothing published is
        missed for want of a subscription. Needs ``receive`` running in another task."""
        deadline = time.monotonic() + timeout
        while not self._joined.is_set() and time.monotonic() < deadline:
            await asyncio.to_thread(publisher.publish, self._probe, b"")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._joined.wait(), 0.05)
        return self._joined.is_set()

    @abc.abstractmethod
    def close(self) -> None:
        """Leave the transport."""


class ZmqSubscription(Subscription):
    def __init__(self, prefix: bytes, address: str | None = None) -> None:
        super().__init__(prefix)
        self._socket = zmq.asyncio.Context.instance().socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVHWM, 100_000)
        self._socket.setsockopt(zmq.SUBSCRIBE, prefix)
        self._socket.connect(address or settings.ZMQ_XPUB_ADDRESS)

    async def _receive_raw(self) -> tuple[bytes, bytes]:
        topic, payload = await self._socket.recv_multipart()
        return topic, payload

    def close(self) -> None:
        self._socket.close(linger=0)


class RedisSubscription(Subscription):
    def __init__(self, prefix: bytes, url: str) -> None:
        super().__init__(prefix)
        self._url = url
        self._channels = redis_channel_prefix(url)
        self._client: aioredis.Redis | None = None
        self._pubsub = None

    async def _connect(self) -> None:
        self._client = aioredis.Redis.from_url(self._url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.psubscribe(self._channels + self.prefix + b"*")

    async def _receive_raw(self) -> tuple[bytes, bytes]:
        while True:
            try:
                if self._pubsub is None:
                    await self._connect()
                message = await self._pubsub.get_message(timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                log.warning("Redis bus subscription lost; reconnecting")
                self._pubsub = None
                await asyncio.sleep(0.5)
                continue
            if message and message.get("type") == "pmessage":
                return message["channel"][len(self._channels):], message["data"]

    def close(self) -> None:
        pubsub, client, self._pubsub, self._client = self._pubsub, self._client, None, None
        if pubsub is not None:
            with contextlib.suppress(RuntimeError):  # no loop left to close on: the process is ending
                asyncio.get_running_loop().create_task(_close_redis(pubsub, client))


async def _close_redis(pubsub, client) -> None:
    await pubsub.aclose()
    await client.aclose()


_publisher: Publisher | None = None
_publisher_lock = threading.Lock()


def publisher() -> Publisher:
    """This process's publisher on the configured transport."""
    global _publisher
    with _publisher_lock:
        if _publisher is None:
            _publisher = RedisPublisher(settings.REDIS_URL) if settings.REDIS_URL else ZmqPublisher()
        return _publisher


def reset_publisher() -> None:
    """Tests: forget the publisher so the next one follows the current settings."""
    global _publisher
    with _publisher_lock:
        if _publisher is not None:
            _publisher.close()
        _publisher = None


def publish(topic: bytes, payload: bytes) -> None:
    publisher().publish(topic, payload)


def subscribe(prefix: bytes) -> Subscription:
    """A subscription on the configured transport; call from the loop that will read it."""
    if settings.REDIS_URL:
        return RedisSubscription(prefix, settings.REDIS_URL)
    return ZmqSubscription(prefix)
