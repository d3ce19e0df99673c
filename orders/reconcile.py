"""Reconciliation: our ledger against each broker's books (issue 5 §2).

Two jobs:
- Orders whose answer we never got: a row still ``submitting`` because the process that
  wrote it died between the ledger insert and the broker's answer (kill -9, power cut,
  OOM), or ``unknown`` after a timeout. Each is looked up in the broker's order book by
  its order id or by the tag we sent with it (``oa<ledger id>``), and marked with its
  true state; not there after the grace period means it never reached the broker
  (``failed``). The user is told either way: an order update on the WebSocket order
  stream, an audit event, and the run on the Reconciliation page.
- Drift: broker orders the ledger does not know (placed in the broker's own app), ledger
  orders the broker no longer shows, status and fill differences (corrected in the
  ledger), and per-symbol traded quantity that does not agree. Beat runs this every
  RECONCILE_INTERVAL_SECONDS; differences are listed on the Reconciliation page.

A row is orphaned at once when the process recorded in ``Order.owner`` is gone from this
host (so a restart reconciles immediately), and after RECONCILE_GRACE_SECONDS otherwise
(another host's process, which this one cannot see).

Every run ends by settling the Idempotency-Key requests that such a process left without
an answer (orders/idempotency.py): answered from their now-settled ledger rows, or
released when none of their orders reached the broker, so a client's retry learns what
happened to its order within the run that settled it.

Any number of processes may run it at once (every web process sweeps when it starts, beat
runs it on schedule): the startup sweep is one at a time across processes (a lock that a
sweep starting meanwhile skips; it would find nothing left to do), one (user, broker) is
reconciled by one run at a time (a run finding it taken skips it: the other is doing it
now), and a row is settled only from the status it was read with (re-read under its row
lock), so no order is moved, announced or audited twice."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from accounts import audit
from accounts.brokers import adapter_named
from accounts.models import User
from brokers.base import BrokerOrder
from brokers.enums import Action
from orders import events, idempotency
from orders.ledger import ledger_tag
from orders.locks import lock_if_free
from orders.models import TERMINAL, TRANSITIONS, LedgerStatus, Order, Reconciliation
from orders.owners import owner_is_gone, this_process

log = logging.getLogger(__name__)

ZERO = Decimal(0)
NEVER_SENT = ("Not found in the broker's order book after the process sending it stopped or timed out: "
              "the order never reached the broker and was not placed")


def is_orphaned(order: Order, now=None) -> bool:
    if order.status not in (LedgerStatus.SUBMITTING, LedgerStatus.UNKNOWN):
        return False
    now = now or timezone.now()
    if order.created_at <= now - timedelta(seconds=settings.RECONCILE_GRACE_SECONDS):
        return True
    return order.status == LedgerStatus.SUBMITTING and order.owner != this_process() and owner_is_gone(order.owner)


# --- One user, one broker ------------------------------------------------------------------------


def reconcile(user, broker: str, *, trigger: str) -> Reconciliation:
    """Compare and correct; always returns the saved run (with ``error`` if the broker failed)."""
    run = Reconciliation(user=user, broker=broker, trigger=trigger)
    try:
        adapter = adapter_named(user, broker)
        book = adapter.order_book()
        trades = adapter.trade_book()
    except Exception as exc:
        run.error = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
        log.warning("Reconciliation of %s at %s failed: %s", user.username, broker, run.error)
        run.save()
        return run
    by_id = {o.orderid: o for o in book}
    by_tag = {o.tag: o for o in book if o.tag}
    now = timezone.now()
    fixed, differences = [], []

    unresolved = Order.objects.filter(user=user, broker=broker).exclude(status__in=TERMINAL).order_by("pk")
    for row in unresolved:
        run.checked_orders += 1
        match = by_id.get(row.broker_order_id) if row.broker_order_id else by_tag.get(ledger_tag(row))
        if match is None:
            if row.broker_order_id:
                differences.append({"kind": "missing_at_broker", "ledger_id": row.pk, "orderid": row.broker_order_id,
                                    "symbol": row.symbol, "exchange": row.exchange, "status": row.status})
            elif is_orphaned(row, now) and (change := _settle(row, LedgerStatus.FAILED, message=NEVER_SENT)):
                fixed.append(change)
            continue
        if row.status == LedgerStatus.SUBMITTING and not is_orphaned(row, now):
            continue  # its own process is still waiting for the broker's answer
        change = _sync(row, match)
        if change:
            fixed.append(change)

    # Orders in the broker's book: fills and statuses the ledger has not caught up with.
    for row in Order.objects.filter(user=user, broker=broker, broker_order_id__in=list(by_id), status__in=TERMINAL):
        match = by_id[row.broker_order_id]
        if str(match.status.value) != row.status:
            differences.append({"kind": "status_differs", "ledger_id": row.pk, "orderid": row.broker_order_id,
                                "ledger": row.status, "broker": str(match.status.value)})
        elif change := _sync(row, match):
            fixed.append(change)

    ledger_ids = set(Order.objects.filter(user=user, broker=broker, broker_order_id__in=list(by_id))
                     .values_list("broker_order_id", flat=True))
    for o in book:
        if o.orderid not in ledger_ids:
            differences.append({"kind": "not_in_ledger", "orderid": o.orderid, "symbol": o.symbol,
                                "exchange": str(o.exchange), "action": str(o.action),
                                "quantity": str(o.quantity), "status": str(o.status.value)})
    differences.extend(_position_differences(user, broker, ledger_ids, trades))
    run.fixed, run.differences = fixed, differences
    run.save()
    if fixed or differences:
        log.info("Reconciled %s at %s: %d corrected, %d differences", user.username, broker, len(fixed),
                 len(differences))
    return run


def _sync(row: Order, match: BrokerOrder) -> dict | None:
    """Bring a ledger row to the broker's view of the order; None if nothing changed."""
    status = str(match.status.value)
    fields = {}
    if match.orderid != row.broker_order_id:
        fields["broker_order_id"] = match.orderid
    if match.filled_quantity != row.filled_quantity:
        fields["filled_quantity"] = match.filled_quantity
    if match.average_price and match.average_price != row.average_price:
        fields["average_price"] = match.average_price
    if match.rejection_reason and match.rejection_reason != row.message:
        fields["message"] = match.rejection_reason
    if status == row.status:
        if fields:  # fill details only (e.g. the average price of an instant fill): no news to tell
            Order.objects.filter(pk=row.pk).update(**fields, updated_at=timezone.now())
        return None
    if status not in TRANSITIONS[row.status]:
        log.error("Reconciliation: ledger %s is %s but the broker says %s", row.pk, row.status, status)
        return None
    return _settle(row, status, **fields)


def _settle(row: Order, status: str, **fields) -> dict | None:
    """Move the row to ``status``, unless it is no longer in the status it was read with
    (another process settled it meanwhile: its answer stands, None here)."""
    was = row.status
    with transaction.atomic():
        current = Order.objects.select_for_update().filter(pk=row.pk).values_list("status", flat=True).first()
        if current != was:
            return None
        event = row.move_to(status, source="reconcile", detail={k: str(v) for k, v in fields.items()})
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
        event.save()
        events.announce(row)
    change = {"ledger_id": row.pk, "orderid": row.broker_order_id, "symbol": row.symbol, "exchange": row.exchange,
              "from": was, "to": status}
    if was in (LedgerStatus.SUBMITTING, LedgerStatus.UNKNOWN):
        # The trader never got a definite answer for this order: record it for the audit.
        audit.record("order_reconciled", actor="reconcile", subject=f"{row.exchange}:{row.symbol}",
                     detail={**change, "user": row.user.username})
        log.warning("Order %s of %s was %s; the broker's book says %s", row.pk, row.user.username, was, status)
    return change


def _position_differences(user, broker: str, ledger_ids: set[str], trades) -> list[dict]:
    """Today's traded quantity per (symbol, exchange, product): the broker's trade book
    against the fills our ledger recorded for the orders in its book."""
    broker_net: dict[tuple, Decimal] = {}
    for t in trades:
        key = (t.symbol, str(t.exchange), str(t.product))
        broker_net[key] = broker_net.get(key, ZERO) + (t.quantity if t.action == Action.BUY else -t.quantity)
    ledger_net: dict[tuple, Decimal] = {}
    rows = Order.objects.filter(user=user, broker=broker, broker_order_id__in=list(ledger_ids))
    for symbol, exchange, product, action, filled in rows.values_list(
            "symbol", "exchange", "product", "action", "filled_quantity"):
        key = (symbol, exchange, product)
        ledger_net[key] = ledger_net.get(key, ZERO) + (filled if action == Action.BUY else -filled)
    out = []
    for key in sorted(set(broker_net) | set(ledger_net)):
        ours, theirs = ledger_net.get(key, ZERO), broker_net.get(key, ZERO)
        if ours != theirs:
            out.append({"kind": "position_differs", "symbol": key[0], "exchange": key[1], "product": key[2],
                        "ledger": str(ours.normalize()), "broker": str(theirs.normalize())})
    return out


# --- Everyone ----------------------------------------------------------------------------------


def pairs_to_reconcile(*, orphans_only: bool) -> list[tuple[int, str]]:
    """(user id, broker) pairs with ledger rows that need a look: every pair with unresolved
    rows, or only those with orphaned rows."""
    rows = Order.objects.filter(status__in=(LedgerStatus.SUBMITTING, LedgerStatus.UNKNOWN, LedgerStatus.OPEN,
                                            LedgerStatus.TRIGGER_PENDING))
    if orphans_only:
        now = timezone.now()
        candidates = rows.filter(status__in=(LedgerStatus.SUBMITTING, LedgerStatus.UNKNOWN))
        pairs = {(o.user_id, o.broker) for o in candidates if is_orphaned(o, now)}
        # An interrupted request's orders, even one not orphaned yet (unknown after a timeout):
        # found in the book, they answer its retry now.
        pairs |= set(idempotency.waiting_orders().values_list("user_id", "broker").distinct())
        return sorted(pairs)
    pairs = set(rows.values_list("user_id", "broker").distinct())
    # Live brokers are also compared when nothing is pending, to catch drift.
    # Today as a range of instants: no time-zone conversion in SQL (MySQL's needs its zone tables).
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    today = Order.objects.filter(created_at__gte=midnight, created_at__lt=midnight + timedelta(days=1))
    pairs |= set(today.values_list("user_id", "broker").distinct())
    return sorted(pairs)


def pair_lock_key(user_id: int, broker: str) -> str:
    return f"reconcile:{user_id}:{broker}"


def reconcile_all(*, trigger: str, orphans_only: bool = False) -> list[Reconciliation]:
    """Every pair that needs a look, except those another process is reconciling now."""
    runs = []
    for user_id, broker in pairs_to_reconcile(orphans_only=orphans_only):
        with lock_if_free(pair_lock_key(user_id, broker)) as mine:
            if not mine:
                log.info("Reconciliation of user %s at %s skipped: another process is running it", user_id, broker)
                continue
            user = User.objects.get(pk=user_id)
            runs.append(reconcile(user, broker, trigger=trigger))
    settled = idempotency.settle_unattended()
    if any(settled.values()):
        log.info("Interrupted idempotent requests: %(answered)d answered, %(released)d released, "
                 "%(pending)d still waiting for the broker", settled)
    return runs


STARTUP_LOCK = "reconcile:startup"


def sweep_once(*, trigger: str = "startup") -> list[Reconciliation] | None:
    """The startup sweep, unless another process is sweeping now (None then): with several
    web processes starting together, one of them does it. One that starts after it ended
    sweeps again and finds only what is orphaned since (orphans_only: cheap when nothing is)."""
    with lock_if_free(STARTUP_LOCK) as mine:
        if not mine:
            log.info("Startup reconciliation skipped: another process is running it")
            return None
        return reconcile_all(trigger=trigger, orphans_only=True)


def sweep_after_start(delay: float = 1.0) -> threading.Thread:
    """Web process start: reconcile, in the background, the orders that a previous process
    of this host left without an answer. Never delays or fails the start; safe in every
    one of N web processes (``sweep_once``)."""

    def sweep() -> None:
        try:
            threading.Event().wait(delay)
            runs = sweep_once()
            if runs:
                log.info("Startup reconciliation: %d account(s) checked", len(runs))
        except Exception:
            log.exception("Startup reconciliation failed; beat will retry")
        finally:
            close_old_connections()

    thread = threading.Thread(target=sweep, name="reconcile-on-start", daemon=True)
    thread.start()
    return thread
