"""Client idempotency for order writes: a retried request with the same ``Idempotency-Key``
header (or ``client_order_id`` field) gets the first answer back instead of a new order."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from orders.models import IdempotencyRecord

KEEP_FOR = timedelta(days=2)
MAX_KEY = 128


class Replay(Exception):
    """Answer with this stored (or conflict) response instead of running the request."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def request_hash(endpoint: str, data: dict) -> str:
    shown = {k: v for k, v in data.items() if k not in ("apikey", "client_order_id")}
    return hashlib.sha256(json.dumps([endpoint, shown], sort_keys=True, default=str).encode()).hexdigest()


def claim(*, user, key: str, endpoint: str, data: dict) -> IdempotencyRecord:
    """Reserve ``key`` for this request, or raise Replay with what the first one answered."""
    if not key or len(key) > MAX_KEY:
        raise Replay(400, {"status": "error", "message": f"Idempotency key must be 1 to {MAX_KEY} characters"})
    digest = request_hash(endpoint, data)
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(user=user, key=key, endpoint=endpoint, request_hash=digest)
    except IntegrityError:
        pass
    first = IdempotencyRecord.objects.get(user=user, key=key)
    if first.request_hash != digest:
        raise Replay(422, {"status": "error", "message": "Idempotency key was already used for a different "
                                                         "request"})
    if first.status_code is None:
        raise Replay(409, {"status": "error", "message": "A request with this idempotency key is still being "
                                                         "processed"})
    return_body = dict(first.response or {})
    raise Replay(first.status_code, return_body)


def complete(record: IdempotencyRecord, status: int, body: dict) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status_code=status, response=json.loads(json.dumps(body, default=str)))


def forget_in_progress(record: IdempotencyRecord) -> None:
    """The request died before answering (no order placed): let a retry run it."""
    IdempotencyRecord.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def purge(now=None) -> int:
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=(now or timezone.now()) - KEEP_FOR).delete()
    return deleted
