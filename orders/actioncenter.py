"""Action Center (spec §2.10): semi-auto users' orders wait here for the account holder's
approval; approving runs the very path the request would have run (orders/paths.py).

Where an approved order goes (spec §2.9, §2.10; issue 14): to the sandbox if the request
was queued in analyze mode *or* analyze mode is on at approval (read from the database
then, not from the approving user object); to the live broker only if both were off. A
paper signal approved after the trader went live stays paper (approving it must not turn
a test into a real trade), and nothing reaches a live broker while analyze mode is on.

Every decision (approve, reject, delete, approve all) is kept on the row (who and when) and
in the audit trail, and told to the user's browser tabs after it commits (websocket.md §9:
``pending_order_created`` when a request is queued, ``pending_order_updated`` on a decision),
whoever queued or decided it: the API, a webhook or the Action Center page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import audit
from core import uievents
from core.values import json_safe
from orders.models import PendingOrder
from orders.paths import OrderPath, perform
from orders.routing import pin_modes

if TYPE_CHECKING:
    from accounts.models import User


def _announce(user_id: int, event: str, data: dict[str, Any]) -> None:
    """Tell the user's tabs once the change is committed (at once outside a transaction)."""
    transaction.on_commit(lambda: uievents.publish(user_id, event, data))


def queue(*, user: User, path: OrderPath, data: Mapping[str, Any]) -> PendingOrder:
    """Keep the validated request (without the key) and the mode it arrived in: approving
    runs ``path`` on it."""
    pending = PendingOrder.objects.create(user=user, endpoint=str(path), strategy=str(data.get("strategy", "")),
                                          analyze=bool(user.analyze_mode),
                                          payload=json_safe({k: v for k, v in data.items() if k != "apikey"}))
    _announce(user.pk, "pending_order_created", {
        "pending_order_id": pending.pk, "user_id": user.pk, "api_type": pending.endpoint,
        "message": f"New {pending.endpoint} order queued for approval"})
    return pending


def pending_for(user: User) -> QuerySet[PendingOrder]:
    return PendingOrder.objects.filter(user=user, state=PendingOrder.State.PENDING).order_by("-created_at")


def decided_for(user: User, limit: int = 50) -> QuerySet[PendingOrder]:
    """The latest decisions, newest first: what was approved, rejected or deleted, by whom."""
    return PendingOrder.objects.filter(user=user).exclude(state=PendingOrder.State.PENDING).order_by(
        "-decided_at", "-pk")[:limit]


def _claim(user: User, pending_id: int, state: str, actor: str) -> PendingOrder | None:
    """Move one pending order out of PENDING exactly once (a conditional UPDATE, so two
    clicks or two processes never approve it twice)."""
    claimed = PendingOrder.objects.filter(pk=pending_id, user=user, state=PendingOrder.State.PENDING).update(
        state=state, decided_at=timezone.now(), decided_by=actor or user.username)
    return PendingOrder.objects.get(pk=pending_id) if claimed else None


def _record(pending: PendingOrder, actor: str, ip: str) -> None:
    detail: dict[str, Any] = {"endpoint": pending.endpoint, "strategy": pending.strategy,
                              "analyze": pending.analyze}
    for name in ("symbol", "exchange", "action", "quantity", "underlying"):
        if name in pending.payload:
            detail[name] = pending.payload[name]
    if pending.result:
        detail["result"] = {k: v for k, v in pending.result.items() if k in ("status", "orderid", "message")}
    audit.record(f"pending_order_{pending.state}", actor=actor or pending.user.username,
                 subject=f"pending order #{pending.pk}", detail=detail, ip=ip)


def _decide(user: User, pending_id: int, state: str, actor: str, ip: str) -> PendingOrder | None:
    pending = _claim(user, pending_id, state, actor)
    if pending is not None:
        _record(pending, actor, ip)
        _announce(user.pk, "pending_order_updated", {"action": str(state), "order_id": pending.pk,
                                                     "user_id": user.pk})
    return pending


def reject(*, user: User, pending_id: int, actor: str = "", ip: str = "") -> PendingOrder | None:
    return _decide(user, pending_id, PendingOrder.State.REJECTED, actor, ip)


def delete(*, user: User, pending_id: int, actor: str = "", ip: str = "") -> PendingOrder | None:
    """Take it off the list without placing it; the row stays, marked deleted, as the record."""
    return _decide(user, pending_id, PendingOrder.State.DELETED, actor, ip)


def approve(*, user: User, pending_id: int, actor: str = "", ip: str = "", announce: bool = True
            ) -> PendingOrder | None:
    """Execute the queued request now, in the sandbox if it was queued in analyze mode or
    analyze mode is on now (the module's rule); its answer (as the API would have given
    it) is stored on the row. None when it was not pending (already decided, or not
    ``user``'s): nothing is placed then."""
    pending = _claim(user, pending_id, PendingOrder.State.APPROVED, actor)
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
    _record(pending, actor, ip)
    if announce:
        _announce(user.pk, "pending_order_updated", {"action": "approved", "order_id": pending.pk,
                                                     "user_id": user.pk})
    return pending


def approve_all(*, user: User, actor: str = "", ip: str = "") -> list[PendingOrder]:
    """Approve every pending order of ``user``, oldest first, each exactly once (one that
    another click decided meanwhile is skipped); one ``batch_approved`` event at the end."""
    ids = list(PendingOrder.objects.filter(user=user, state=PendingOrder.State.PENDING)
               .order_by("created_at", "pk").values_list("pk", flat=True))
    approved = [done for pk in ids
                if (done := approve(user=user, pending_id=pk, actor=actor, ip=ip, announce=False)) is not None]
    if approved:
        _announce(user.pk, "pending_order_updated", {"action": "batch_approved", "user_id": user.pk,
                                                     "count": len(approved)})
    return approved
