"""The paper exchange's fill engine, run by the feed process: resting orders are checked
on every tick of their instrument (the tick stream drives fills), with a poller every
``SANDBOX_POLL_SECONDS`` as the safety net, and session settlement once a minute."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import close_old_connections

from brokers.base import Quote
from brokers.enums import OrderStatus
from brokers.sandbox import clock, exchange, gtt, prices, sessions
from brokers.sandbox.models import SandboxOrder
from brokers.sandbox.rules import decide
from brokers.selectors import find_instrument

log = logging.getLogger(__name__)

RESTING = (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)


@dataclass(frozen=True, slots=True)
class Resting:
    """What the engine needs to decide whether a resting order is due, held in memory."""

    pk: int
    action: str
    pricetype: str
    price: Decimal
    trigger_price: Decimal
    status: str

    def due(self, quote: Quote) -> bool:
        """Whether ``quote`` fills or triggers it: only then is the account locked."""
        decision = decide(self.action, self.pricetype, self.price, self.trigger_price, quote,
                          self.status == OrderStatus.OPEN)
        return decision.fill_price is not None or decision.status != self.status


class FillEngine:
    """Resting orders and active GTT triggers are kept in memory by instrument (one read of
    each, refreshed at most every ``keys_refresh_seconds`` and after every move), and a tick
    is decided against them there: only an order the tick makes due is locked, re-read and
    re-checked in a transaction, and only a trigger it crosses (or that expired) is claimed
    and decided again on the claimed row. A tick that crosses nothing costs no database
    write, and no read at all."""

    def __init__(self, *, poll_seconds: float | None = None, keys_refresh_seconds: float = 0.5) -> None:
        self.poll_seconds = poll_seconds if poll_seconds is not None else settings.SANDBOX_POLL_SECONDS
        self.keys_refresh_seconds = keys_refresh_seconds
        self._book: dict[tuple[str, str], tuple[Resting, ...]] = {}
        self._keys: set[tuple[str, str]] = set()
        self._triggers: dict[tuple[str, str], tuple[gtt.Armed, ...]] = {}
        self._keys_at: float | None = None  # never read yet
        self._lock = threading.Lock()
        self.fills = 0
        self.locked_checks = 0  # ticks that took an account lock (due orders), for tests and metrics

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._keys_at is not None and now - self._keys_at < self.keys_refresh_seconds:
            return
        book: dict[tuple[str, str], list[Resting]] = {}
        rows = SandboxOrder.objects.filter(status__in=RESTING).order_by("created_at", "pk").values_list(
            "pk", "exchange", "symbol", "action", "pricetype", "price", "trigger_price", "status")
        for pk, exchange_code, symbol, action, pricetype, price, trigger, status in rows:
            book.setdefault((exchange_code, symbol), []).append(Resting(pk, action, pricetype, price, trigger, status))
        triggers = gtt.armed_triggers()
        with self._lock:
            self._book = {key: tuple(orders) for key, orders in book.items()}
            self._triggers = triggers
            self._keys, self._keys_at = set(book) | set(triggers), now

    def invalidate(self) -> None:
        """Re-read the resting orders on the next tick (after a fill or a trigger)."""
        self._keys_at = None

    def resting_keys(self) -> set[tuple[str, str]]:
        """(exchange, symbol) of every resting order and active GTT."""
        self._refresh()
        return self._keys

    def on_tick(self, exchange_code: str, symbol: str, quote: Quote, at: datetime | None = None) -> int:
        """A tick arrived: decide the instrument's resting orders against it in memory, then
        lock and re-check only those it makes due."""
        key = (exchange_code, symbol)
        if key not in self.resting_keys():
            return 0
        at = at or clock.now()
        moved, due = gtt.fire_armed(self._triggers.get(key, ()), quote, at)
        for order in self._book.get(key, ()):
            if order.due(quote):
                self.locked_checks += 1
                due += 1
                moved += exchange.check_resting(order.pk, quote, at)
        if moved or due:
            self.invalidate()
        self.fills += moved
        return moved

    def poll_once(self, at: datetime | None = None) -> int:
        moved = gtt.fire_due(at=at) + exchange.sweep(at=at)
        if moved:
            self.invalidate()
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
