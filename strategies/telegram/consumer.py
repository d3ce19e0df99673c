"""The order events (orders/events.py) of linked users, turned into alert tasks.

Where it runs: a daemon thread of each Celery worker's main process, started when the
worker is ready (tasks.start_on_worker). The worker is the process that sends the alerts
anyway, so a platform that can send them is one that hears the events: no extra process in
the Procfile, and nothing of the web process is needed (the bus is the feed process's
forwarder, or Redis). Several workers each hear every event: the task claims each
(orderid, order_status, filled_quantity) once in the database, so one alert goes out.
An in-process memory of recent keys spares the queue the duplicates one worker hears."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

from django.db import close_old_connections

from core import bus
from orders import events
from strategies.telegram import services

log = logging.getLogger(__name__)

Enqueue = Callable[[int, dict], object]

SEEN_LIMIT = 10_000

_thread: threading.Thread | None = None
_consumer: AlertConsumer | None = None
_lock = threading.Lock()


class AlertConsumer:
    def __init__(self, enqueue: Enqueue) -> None:
        self.enqueue = enqueue
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self.joined = threading.Event()
        self.queued = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def handle(self, user_id: int, message: dict) -> bool:
        """One event (synchronous: runs in a worker thread). True when an alert task was queued."""
        key = (user_id, *events.dedupe_key(message))
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)
        if services.alert_target(user_id, message) is None:
            return False
        self.enqueue(user_id, message)
        self.queued += 1
        return True

    def _handle_in_thread(self, user_id: int, message: dict) -> bool:
        close_old_connections()
        try:
            return self.handle(user_id, message)
        finally:
            close_old_connections()

    async def run(self) -> None:
        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        subscription = bus.subscribe(events.TOPIC_PREFIX)
        joined = asyncio.get_running_loop().create_task(subscription.wait_joined(bus.publisher()))
        joined.add_done_callback(self._on_joined)
        try:
            while True:
                try:
                    _topic, payload = await subscription.receive()
                    user_id, message = events.decode(payload)
                    await asyncio.to_thread(self._handle_in_thread, user_id, message)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("Telegram alert for an order event failed")
                    await asyncio.sleep(0.1)
        finally:
            subscription.close()

    def _on_joined(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is None:
            log.info("Telegram alerts: subscribed to order events" if task.result()
                     else "Telegram alerts: order events subscription not confirmed yet")
        self.joined.set()

    def cancel(self) -> None:
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)


def start(enqueue: Enqueue) -> AlertConsumer | None:
    """Start this process's consumer once (a thread with its own loop)."""
    global _thread, _consumer
    with _lock:
        if _thread is not None and _thread.is_alive():
            return None
        consumer = AlertConsumer(enqueue)
        _thread = threading.Thread(target=_run, args=(consumer,), name="telegram-alerts", daemon=True)
        _consumer = consumer
        _thread.start()
        log.info("Telegram alerts: listening to order events")
        return consumer


def _run(consumer: AlertConsumer) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(consumer.run())


def stop(timeout: float = 5.0) -> None:
    """Stop this process's consumer (tests; a worker just exits)."""
    global _thread, _consumer
    with _lock:
        thread, consumer, _thread, _consumer = _thread, _consumer, None, None
    if consumer is not None:
        consumer.cancel()
    if thread is not None:
        thread.join(timeout)


_poller: threading.Thread | None = None
_poller_stop = threading.Event()


def start_poller(poll_once: Callable[[], float]) -> bool:
    """Long polling in a thread of this process: ``poll_once`` runs round after round and
    says how long to wait before the next (it does nothing while the bot is stopped or on
    a webhook, so the thread is cheap when idle)."""
    global _poller
    with _lock:
        if _poller is not None and _poller.is_alive():
            return False
        _poller_stop.clear()
        _poller = threading.Thread(target=_poll_forever, args=(poll_once,), name="telegram-poller", daemon=True)
        _poller.start()
        return True


def _poll_forever(poll_once: Callable[[], float]) -> None:
    while not _poller_stop.is_set():
        close_old_connections()
        try:
            wait = poll_once()
        except Exception:
            log.exception("Telegram long polling failed")
            wait = 5.0
        if wait:
            _poller_stop.wait(wait)
