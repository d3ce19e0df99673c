"""The paper exchange's fill engine, run by the feed process: resting orders are checked
on every tick of their instrument (the tick stream drives fills), with a poller every
``SANDBOX_POLL_SECONDS`` as the safety net, and session settlement once a minute."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections

from brokers.base import Quote
from brokers.enums import OrderStatus
from brokers.sandbox import clock, exchange, gtt, prices, sessions
from brokers.sandbox.models import SandboxOrder
from brokers.selectors import find_instrument

log = logging.getLogger(__name__)

RESTING = (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)


class FillEngine:
    def __init__(self, *, poll_seconds: float | None = None, keys_refresh_seconds: float = 1.0) -> None:
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.SANDBOX_POLL_SECONDS
        self.keys_refresh_seconds = keys_refresh_seconds
        self._keys: set[tuple[str, str]] = set()
        self._keys_at = 0.0
        self._lock = threading.Lock()
        self.fills = 0

    def resting_keys(self) -> set[tuple[str, str]]:
        """(exchange, symbol) of every resting order and active GTT, refreshed at most once a second."""
        now = time.monotonic()
        if now - self._keys_at >= self.keys_refresh_seconds:
            keys = set(SandboxOrder.objects.filter(status__in=RESTING).values_list("exchange", "symbol").distinct())
            keys |= gtt.active_keys()
            with self._lock:
                self._keys, self._keys_at = keys, now
        return self._keys

    def on_tick(self, exchange_code: str, symbol: str, quote: Quote, at: datetime | None = None) -> int:
        """A tick arrived: check the resting orders of that instrument against it."""
        if (exchange_code, symbol) not in self.resting_keys():
            return 0
        at = at or clock.now()
        moved = gtt.fire_triggers(exchange_code, symbol, quote, at)
        orders = SandboxOrder.objects.filter(status__in=RESTING, exchange=exchange_code, symbol=symbol)
        for pk in orders.order_by("created_at").values_list("pk", flat=True):
            moved += exchange.check_resting(pk, quote, at)
        self.fills += moved
        return moved

    def poll_once(self, at: datetime | None = None) -> int:
        moved = gtt.fire_due(at=at) + exchange.sweep(at=at)
        self.fills += moved
        return moved

    def run_ticks(self, stop: threading.Event, ticks_per_second: float | None = None) -> None:
        """The simulator's tick stream for instruments with resting orders: each tick of
        such an instrument is checked against its orders as it happens."""

        interval = 1.0 / (ticks_per_second or settings.SIM_TICKS_PER_SECOND)
        while not stop.wait(interval):
            try:
                now = clock.now()
                for exchange_code, symbol in sorted(self.resting_keys()):
                    info = find_instrument(broker=exchange.BROKER, exchange=exchange_code, symbol=symbol)
                    quote = prices.quote(info, now) if info else None
                    if quote is not None:
                        self.on_tick(exchange_code, symbol, quote, now)
            except Exception:
                log.exception("Sandbox tick pass failed")
            finally:
                close_old_connections()

    def run(self, stop: threading.Event) -> None:
        """The poller and settlement loop (ticks arrive through ``on_tick``)."""
        last_settle = 0.0
        while not stop.wait(self.poll_seconds):
            try:
                self.poll_once()
                if time.monotonic() - last_settle >= 60:
                    sessions.square_off_all_due()
                    last_settle = time.monotonic()
            except Exception:
                log.exception("Sandbox fill engine pass failed")
            finally:
                close_old_connections()
