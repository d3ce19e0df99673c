"""Client idempotency for order writes: a retried request with the same ``Idempotency-Key``
header (or ``client_order_id`` field) gets the first answer back instead of a new order.

A request claims a record (unique per user and key: the database, not a process lock,
decides between concurrent retries on any process), owned by its process. Every ledger row
it writes is linked to the record in the row's own INSERT (``Running``/``link_fields``,
read by orders.sending). Its answer is stored when it answers, except an answer given
while one of its orders' outcome was unknown (a broker timeout): that record is abandoned
to reconciliation, so a retry learns what really happened.

A record left unanswered (its process was killed, or it abandoned it) is settled by
``settle``: at the retry that finds it, and by every reconciliation run (at web start and
by beat, orders/reconcile.py) once the ledger rows' outcomes are known:
- rows settled, one reached the broker: the answer is rebuilt from them (orders/answers.py);
- no row, or none reached the broker: the record is deleted, the retry places the request;
- a row still submitting or unknown: a retry gets 409 with ``Retry-After`` meanwhile.
A record whose owner still runs on this host is never settled by another process; one of
another host (whose processes cannot be seen from here) only after RECONCILE_GRACE_SECONDS
without a new ledger row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from orders import answers
from orders.models import IdempotencyRecord, Order
from orders.owners import on_this_host, owner_is_gone, this_process

if TYPE_CHECKING:
    from accounts.models import User

Body = dict[str, Any]

KEEP_FOR = timedelta(days=2)
MAX_KEY = 128
# Owner of a record its process stopped waiting for: reconciliation settles it from the ledger.
ABANDONED = "abandoned"
IN_FLIGHT = "A request with this idempotency key is still being processed"
RECOVERING = ("The request with this idempotency key was interrupted before it answered; its orders are being "
              "reconciled with the broker")
# Seconds a retry is asked to wait: a request in flight answers within milliseconds; an
# interrupted one when reconciliation has settled its orders (at web start, then every run).
IN_FLIGHT_RETRY_AFTER = 1
RECOVERING_RETRY_AFTER = 2

ANSWERED, RELEASED, PENDING = "answered", "released", "pending"


class Replay(Exception):
    """Answer with this stored (or conflict) response instead of running the request."""

    def __init__(self, status: int, body: Body, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})


def _in_flight() -> Replay:
    return Replay(409, {"status": "error", "message": IN_FLIGHT}, {"Retry-After": str(IN_FLIGHT_RETRY_AFTER)})


def _recovering() -> Replay:
    return Replay(409, {"status": "error", "message": RECOVERING}, {"Retry-After": str(RECOVERING_RETRY_AFTER)})


def request_hash(endpoint: str, data: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in data.items() if k not in ("apikey", "client_order_id")}
    return hashlib.sha256(json.dumps([endpoint, shown], sort_keys=True, default=str).encode()).hexdigest()


def _plain(data: Mapping[str, Any]) -> Body:
    plain: Body = json.loads(json.dumps({k: v for k, v in data.items() if k != "apikey"}, default=str))
    return plain


def claim(*, user: User, key: str, endpoint: str, data: Mapping[str, Any]) -> IdempotencyRecord:
    """Reserve ``key`` for this request, or raise Replay with what the first one answered."""
    if not key or len(key) > MAX_KEY:
        raise Replay(400, {"status": "error", "message": f"Idempotency key must be 1 to {MAX_KEY} characters"})
    digest = request_hash(endpoint, data)
    # Twice at most: a first record settled as released here is gone, and the key free again.
    for _ in range(2):
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(user=user, key=key, endpoint=endpoint, request_hash=digest,
                                                        owner=this_process(), request=_plain(data))
        except IntegrityError:
            pass
        first = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if first is None:
            continue  # released between our insert and this read
        if first.request_hash != digest:
            raise Replay(422, {"status": "error", "message": "Idempotency key was already used for a different "
                                                             "request"})
        if first.status_code is None and unattended(first):
            outcome = settle(first)
            if outcome == RELEASED:
                continue
            if outcome == PENDING:
                raise _recovering()
            first.refresh_from_db()
        if first.status_code is None:
            raise _in_flight()
        raise Replay(first.status_code, dict(first.response or {}))
    raise _in_flight()


# --- Linking the request's ledger rows -----------------------------------------------------------


class Running:
    """A claimed request while it runs (``with Running(record):``): the ledger rows written
    meanwhile name its record (``link_fields``, read by orders.sending), and sending says
    here when one of its orders' outcome is unknown (``outcome_unknown``)."""

    def __init__(self, record: IdempotencyRecord) -> None:
        self.record = record
        self.outcome_unknown = False
        self._tokens: list[Token[tuple[Running, int] | None]] = []

    def __enter__(self) -> Running:
        self._tokens.append(_link.set((self, 0)))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        _link.reset(self._tokens.pop())


# (request, item) this thread is running; a context variable, so nothing between the service and
# the ledger row changes, and a thread started in a copy of the context (basket batches) shares it.
_link: ContextVar[tuple[Running, int] | None] = ContextVar("idempotency_link", default=None)


@contextmanager
def item(number: int) -> Iterator[None]:
    """The ``number``-th order (from 1) of a multi-order request: basket item, split part."""
    current = _link.get()
    token = _link.set((current[0], number)) if current is not None else None
    try:
        yield
    finally:
        if token is not None:
            _link.reset(token)


def link_fields() -> dict[str, int]:
    """Fields of a ledger row that tie it to the request being run (none outside one)."""
    current = _link.get()
    return {} if current is None else {"idempotency_id": current[0].record.pk, "request_item": current[1]}


def outcome_unknown() -> None:
    """An order of the running request ended neither placed nor refused (timeout, outage):
    whatever the request answers, its retry should learn the real outcome."""
    current = _link.get()
    if current is not None:
        current[0].outcome_unknown = True


# --- Answering -------------------------------------------------------------------------------------


def complete(running: Running, status: int, body: Body) -> None:
    """Store the answer; but an answer given while an order's outcome was unknown (the broker
    may have it) is not final: the record is abandoned to reconciliation, which answers it
    from the ledger once the broker's book tells."""
    record = running.record
    if running.outcome_unknown:
        IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).update(owner=ABANDONED)
        return
    # Only if still unanswered: another host may have settled it after its grace period.
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).update(
        status_code=status, response=json.loads(json.dumps(body, default=str)))


def abandon(record: IdempotencyRecord) -> None:
    """The request failed without answering: with no ledger row written, no order was sent
    and a retry may run it; with rows, reconciliation decides."""
    with transaction.atomic():
        if Order.objects.filter(idempotency=record).exists():
            IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).update(owner=ABANDONED)
        else:
            IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


# --- Settling what a dead process left ----------------------------------------------------------


def unattended(record: IdempotencyRecord) -> bool:
    """Unanswered, and no process will answer it: abandoned, its owner gone from this host,
    or another host's and older than the grace period (settle also waits that long after
    its newest ledger row). Records older than the owner field (owner empty) stay as they are."""
    if record.status_code is not None or not record.owner:
        return False
    if record.owner == ABANDONED:
        return True
    if on_this_host(record.owner):
        return record.owner != this_process() and owner_is_gone(record.owner)
    created: datetime = record.created_at
    return created <= timezone.now() - _grace()


def _grace() -> timedelta:
    return timedelta(seconds=settings.RECONCILE_GRACE_SECONDS)


def settle(record: IdempotencyRecord) -> str:
    """Answer, release or leave an unattended record (see the module's docstring);
    ANSWERED when it has an answer now, RELEASED when deleted, else PENDING."""
    with transaction.atomic():
        locked = IdempotencyRecord.objects.select_for_update().filter(pk=record.pk).first()
        if locked is None:
            return RELEASED
        if locked.status_code is not None:
            return ANSWERED
        if not unattended(locked):
            return PENDING
        rows = list(Order.objects.filter(idempotency=locked).order_by("request_item", "pk"))
        if (locked.owner != ABANDONED and not on_this_host(locked.owner) and rows
                and max(row.created_at for row in rows) > timezone.now() - _grace()):
            return PENDING  # another host's request still writing its orders (a long split)
        if answers.unresolved(rows):
            return PENDING
        if not answers.reached_broker(rows):
            # Nothing reached the broker: forget the request so a retry places it. The rows
            # (failed) lose their link; a row inserted concurrently fails its foreign key.
            locked.delete()
            return RELEASED
        status, body = answers.rebuild(locked.endpoint, locked.request, rows)
        IdempotencyRecord.objects.filter(pk=locked.pk).update(status_code=status, response=body)
        return ANSWERED


def in_progress() -> QuerySet[IdempotencyRecord]:
    """Unanswered records that may be settled some day (the partial index covers this)."""
    return IdempotencyRecord.objects.filter(status_code__isnull=True).exclude(owner="")


def settle_unattended() -> dict[str, int]:
    """Every unattended record: how many were answered, released, or still wait."""
    counts = {ANSWERED: 0, RELEASED: 0, PENDING: 0}
    for record in in_progress().order_by("pk"):
        if unattended(record):
            counts[settle(record)] += 1
    return counts


def waiting_orders() -> QuerySet[Order]:
    """Unsettled ledger rows of unattended records: the rows reconciliation must look up
    for those records to be answered."""
    ids = [record.pk for record in in_progress() if unattended(record)]
    return Order.objects.filter(idempotency__in=ids, status__in=answers.UNRESOLVED)


def purge(now: datetime | None = None) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=(now or timezone.now()) - KEEP_FOR).delete()
    return deleted
