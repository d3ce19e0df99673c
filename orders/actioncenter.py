"""Action Center (spec §2.10): semi-auto users' orders wait here for the account holder's
approval; approving runs the very path the request would have run (orders/paths.py).

Where an approved order goes (spec §2.9, §2.10; issue 14): to the sandbox if the request
was queued in analyze mode *or* analyze mode is on at approval (read from the database
then, not from the approving user object); to the live broker only if both were off. A
paper signal approved after the trader went live stays paper (approving it must not turn
a test into a real trade), and nothing reaches a live broker while analyze mode is on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.values import json_safe
from orders.models import PendingOrder
from orders.paths import OrderPath, perform
from orders.routing import pin_modes

if TYPE_CHECKING:
    from accounts.models import User


def queue(*, user: User, path: OrderPath, data: Mapping[str, Any]) -> PendingOrder:
    """Keep the validated request (without the key) and the mode it arrived in: approving
    runs ``path`` on it."""
    return PendingOrder.objects.create(user=user, endpoint=str(path), strategy=str(data.get("strategy", "")),
                                       analyze=bool(user.analyze_mode),
                                       payload=json_safe({k: v for k, v in data.items() if k != "apikey"}))


def pending_for(user: User) -> QuerySet[PendingOrder]:
    return PendingOrder.objects.filter(user=user, state=PendingOrder.State.PENDING).order_by("-created_at")


def _claim(user: User, pending_id: int, state: str) -> PendingOrder | None:
    """Move one pending order out of PENDING exactly once (a conditional UPDATE, so two
    clicks or two processes never approve it twice)."""
    claimed = PendingOrder.objects.filter(pk=pending_id, user=user, state=PendingOrder.State.PENDING).update(
        state=state, decided_at=timezone.now())
    return PendingOrder.objects.get(pk=pending_id) if claimed else None


def reject(*, user: User, pending_id: int) -> PendingOrder | None:
    return _claim(user, pending_id, PendingOrder.State.REJECTED)


def approve(*, user: User, pending_id: int) -> PendingOrder | None:
    """Execute the queued request now, in the sandbox if it was queued in analyze mode or
    analyze mode is on now (the module's rule); its answer (as the API would have given
    it) is stored on the row."""
    pending = _claim(user, pending_id, PendingOrder.State.APPROVED)
    if pending is None:
        return None
    try:
        path = OrderPath(pending.endpoint)
    except ValueError:
        result: dict[str, Any] = {"status": "error", "message": f"Unsupported endpoint {pending.endpoint}"}
    else:
        result = perform(user=pin_modes(user, analyze=pending.analyze), path=path, data=pending.payload).body
    with transaction.atomic():
        PendingOrder.objects.filter(pk=pending.pk).update(result=json_safe(result))
    pending.refresh_from_db()
    return pending
