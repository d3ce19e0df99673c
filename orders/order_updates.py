"""Order-book polling: how an order that moves at a broker without telling us (a fill,
a cancellation at the exchange) reaches the ledger and the one order event, for brokers
that declare ``order_updates=POLL``. (PUSH brokers: brokers/order_stream.py; POSTBACK
brokers: orders/postbacks.py. All three send ``brokers.signals.order_changed``, whose
receiver, orders/updates.py, moves the row and announces the event exactly once.)

Which accounts are read: those with working ledger rows at a polled broker (open,
trigger pending, unknown, or submitting past the grace in which its process answers)
and a live, unexpired session there. An account with nothing working costs no call.

How often: each account's book at most every ORDER_POLL_SECONDS (ORDER_SAFETY_POLL_SECONDS
at brokers that push or post their updates: the read only catches what a socket that was
down or a lost postback missed; 0 turns it off), and only when the
broker's order-call bucket has a token at once (brokers/ratelimit.py, the declared
RateLimits): a poll never makes a trader's order wait. A failed read (timeout, 5xx,
expired session, 429 with Retry-After) is logged and that account waits longer before
the next read (doubling, capped; Retry-After when the broker says it); the others go on.

Who reads: each (user, broker) has one OrderPoll row. A process reads a book only after
claiming the row with one conditional UPDATE (``due_at <= now`` -> ``now + lease``); it
then sets ``due_at`` to the next poll. However many processes poll, one reads.

What a poll writes: decided first, written after. A round reads which accounts are due
(no write when none is; the OrderPoll row is inserted once, at an account's first poll);
a due account costs its lease (the claim and the release, two one-row UPDATEs); the
ledger is written only for the orders ``changed_orders`` finds moved. An unchanged book
writes nothing else, and the receiver (orders/updates.py) skips unchanged news unlocked.

Runners (the same lease guards both, so running both is harmless):
- the feed process: ``OrderBookPoller().run(stop)`` in a thread (``start_polling(stop)``);
- Celery beat: ``orders.poll_order_updates`` every ORDER_POLL_SECONDS, one ``poll_once()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from accounts.selectors import live_sessions
from brokers import ratelimit, registry
from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerError,
    BrokerOrder,
    BrokerRateLimited,
    OrderUpdateSource,
)
from brokers.signals import order_changed
from orders.ledger import ledger_id_from_tag
from orders.models import LedgerStatus, Order, OrderPoll
from orders.owners import this_process

log = logging.getLogger(__name__)

WORKING = (LedgerStatus.OPEN, LedgerStatus.TRIGGER_PENDING, LedgerStatus.UNKNOWN)
# Longer than any broker read takes (FakeLive's read timeout is 10 s): the claim lapses
# only if the claiming process died mid-read.
LEASE = timedelta(seconds=30)
MAX_BACKOFF = 300.0
SESSION_EXPIRED_BACKOFF = 300.0  # the trader must log in again; no point asking sooner


@dataclass(frozen=True, slots=True)
class PollRound:
    """What one pass did: books read, orders reported changed, reads that failed."""

    polled: int = 0
    changed: int = 0
    failed: int = 0


TOLD = (OrderUpdateSource.PUSH, OrderUpdateSource.POSTBACK)


def polled_brokers() -> list[str]:
    """The registered live brokers whose books are read: those whose order updates come only
    that way (every ORDER_POLL_SECONDS), and, as a safety net for a socket that was down or
    a postback that never came, those that tell us (every ORDER_SAFETY_POLL_SECONDS)."""
    return [name for name in registry.registered()
            if registry.capabilities_of(name).order_updates is OrderUpdateSource.POLL
            or (registry.capabilities_of(name).order_updates in TOLD and settings.ORDER_SAFETY_POLL_SECONDS > 0)]


def accounts_with_working_orders(brokers: Iterable[str], now: datetime) -> list[tuple[int, str]]:
    """(user id, broker) of every live account with a ledger row still working at ``brokers``."""
    stale = now - timedelta(seconds=settings.RECONCILE_GRACE_SECONDS)
    working = Q(status__in=WORKING) | Q(status=LedgerStatus.SUBMITTING, created_at__lte=stale)
    rows = (Order.objects.filter(working, analyze=False, broker__in=list(brokers))
            .values_list("user_id", "broker").distinct())
    return sorted(set(rows))


def changed_orders(book: Iterable[BrokerOrder], rows: Iterable[Order]) -> list[BrokerOrder]:
    """The broker's orders whose (status, filled quantity) differs from their working
    ledger row, matched by broker order id or by our tag. Orders without a working row are
    not ours to report here (reconciliation lists them)."""
    by_id: dict[str, Order] = {}
    by_pk: dict[int, Order] = {}
    for working in rows:
        if working.broker_order_id:
            by_id[working.broker_order_id] = working
        else:
            by_pk[working.pk] = working
    changed = []
    for order in book:
        row: Order | None = by_id.get(order.orderid)
        tag = order.tag or ""
        ledger_id = ledger_id_from_tag(tag)
        if row is None and ledger_id is not None:
            row = by_pk.get(ledger_id)
        if row is None:
            continue
        if (str(order.status), order.filled_quantity) != (row.status, Decimal(row.filled_quantity)):
            changed.append(order)
    return changed


class OrderBookPoller:
    """Reads the due order books of polled brokers and reports what moved."""

    def __init__(self, *, interval: float | None = None, holder: str = "",
                 clock: Callable[[], datetime] = timezone.now) -> None:
        self.interval = float(settings.ORDER_POLL_SECONDS if interval is None else interval)
        self.safety_interval = float(settings.ORDER_SAFETY_POLL_SECONDS)
        self.holder = holder or f"{this_process()}:{id(self):x}"
        self.clock = clock

    # --- One pass ---------------------------------------------------------------------------

    def poll_once(self) -> PollRound:
        """Every due account once; never raises for one account's failure."""
        brokers = polled_brokers()
        if not brokers:
            return PollRound()
        accounts = accounts_with_working_orders(brokers, self.clock())
        if not accounts:
            return PollRound()
        now = self.clock()
        known = {(user_id, broker): due_at for user_id, broker, due_at in OrderPoll.objects.filter(
            broker__in=brokers, user_id__in={user_id for user_id, _ in accounts}).values_list(
            "user_id", "broker", "due_at")}
        missing = [account for account in accounts if account not in known]
        if missing:  # an account's first poll: its row, once (not an INSERT every round)
            OrderPoll.objects.bulk_create([OrderPoll(user_id=user_id, broker=broker, due_at=now)
                                           for user_id, broker in missing], ignore_conflicts=True)
        due = {account for account in accounts if account not in known or known[account] <= now}
        polled = changed = failed = 0
        for broker in brokers:
            user_ids = [user_id for user_id, name in accounts if name == broker and (user_id, name) in due]
            if not user_ids:
                continue
            for user_id, (user, credentials) in sorted(live_sessions(broker, user_ids).items()):
                if not self._claim(user_id, broker):
                    continue
                outcome = self._poll_account(user, broker, credentials)
                polled += 1
                changed += max(outcome, 0)
                failed += outcome < 0
        return PollRound(polled=polled, changed=changed, failed=failed)

    def _interval(self, broker: str) -> float:
        told = registry.capabilities_of(broker).order_updates in TOLD
        return max(self.interval, self.safety_interval) if told else self.interval

    def _claim(self, user_id: int, broker: str) -> bool:
        now = self.clock()
        return OrderPoll.objects.filter(user_id=user_id, broker=broker, due_at__lte=now).update(
            due_at=now + LEASE, holder=self.holder) == 1

    def _release(self, user_id: int, broker: str, *, wait: float, failed: str = "") -> None:
        due = self.clock() + timedelta(seconds=wait)
        claimed = OrderPoll.objects.filter(user_id=user_id, broker=broker, holder=self.holder)
        if failed:
            failures = (claimed.values_list("failures", flat=True).first() or 0) + 1
            due = max(due, self.clock() + timedelta(seconds=min(MAX_BACKOFF, self.interval * 2 ** failures)))
            claimed.update(due_at=due, failures=failures, last_error=failed[:255])
        else:
            claimed.update(due_at=due, failures=0, last_error="")

    def _poll_account(self, user: User, broker: str, credentials: BrokerCredentials) -> int:
        """Read one account's book and report its moves: how many, or -1 when the read failed."""
        adapter = registry.build(broker, user, credentials)
        try:
            ratelimit.pace(broker=broker, account=str(user.pk), limits=adapter.capabilities.rate_limits,
                           kind=ratelimit.CallKind.ORDERS, max_wait=0)
        except ratelimit.PacingExceeded as busy:  # the trader's own orders come first
            self._release(user.pk, broker, wait=max(self._interval(broker), busy.retry_after))
            return 0
        try:
            book = adapter.order_book()
        except BrokerAuthExpired as expired:
            log.warning("Order book of user %s at %s: %s", user.pk, broker, expired)
            self._release(user.pk, broker, wait=SESSION_EXPIRED_BACKOFF, failed=str(expired))
            return -1
        except BrokerRateLimited as limited:
            log.warning("Order book of user %s at %s: rate limited, retry after %ss", user.pk, broker,
                        limited.retry_after)
            self._release(user.pk, broker, wait=max(self._interval(broker), limited.retry_after or 0.0),
                          failed=str(limited))
            return -1
        except BrokerError as failure:
            log.warning("Order book of user %s at %s could not be read: %s", user.pk, broker, failure)
            self._release(user.pk, broker, wait=self._interval(broker), failed=str(failure))
            return -1
        except Exception as bug:  # an adapter bug must not stop the others' polling
            log.exception("Order book of user %s at %s: unexpected failure", user.pk, broker)
            self._release(user.pk, broker, wait=self._interval(broker), failed=f"{type(bug).__name__}: {bug}")
            return -1
        rows = Order.objects.filter(user_id=user.pk, broker=broker, analyze=False).exclude(
            status__in=(LedgerStatus.COMPLETE, LedgerStatus.REJECTED, LedgerStatus.CANCELLED, LedgerStatus.FAILED))
        moved = changed_orders(book, rows)
        for order in moved:
            for receiver, outcome in order_changed.send_robust(sender=broker, user_id=user.pk, order=order,
                                                               paper=False):
                if isinstance(outcome, Exception):
                    log.error("Order %s of user %s at %s not taken by %r: %s", order.orderid, user.pk, broker,
                              receiver, outcome)
        self._release(user.pk, broker, wait=self._interval(broker))
        return len(moved)

    # --- The loop ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Poll every ``interval`` seconds until ``stop`` is set (the feed process's thread)."""
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:  # the database away for a moment: try again next round
                log.exception("Order-book polling round failed")
            finally:
                close_old_connections()
            stop.wait(self.interval)


def start_polling(stop: threading.Event, *, holder: str = "") -> threading.Thread:
    """The poller in a daemon thread of this process, until ``stop`` is set."""
    thread = threading.Thread(target=OrderBookPoller(holder=holder).run, args=(stop,), name="order-book-poller",
                              daemon=True)
    thread.start()
    return thread
