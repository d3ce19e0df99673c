"""Action Center (spec §2.10): semi-auto users' orders wait here for the account holder's
approval; approving replays the request through the same services as the API."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from brokers.base import BrokerError
from core.values import json_safe
from orders import gtt
from orders.models import PendingOrder


def queue(*, user, endpoint: str, data: dict) -> PendingOrder:
    return PendingOrder.objects.create(user=user, endpoint=endpoint, strategy=str(data.get("strategy", "")),
                                       payload=json_safe({k: v for k, v in data.items() if k != "apikey"}))


def pending_for(user):
    return PendingOrder.objects.filter(user=user, state=PendingOrder.State.PENDING).order_by("-created_at")


def _claim(user, pending_id: int, state: str) -> PendingOrder | None:
    """Move one pending order out of PENDING exactly once (a conditional UPDATE, so two
    clicks or two processes never approve it twice)."""
    claimed = PendingOrder.objects.filter(pk=pending_id, user=user, state=PendingOrder.State.PENDING).update(
        state=state, decided_at=timezone.now())
    return PendingOrder.objects.get(pk=pending_id) if claimed else None


def reject(*, user, pending_id: int) -> PendingOrder | None:
    return _claim(user, pending_id, PendingOrder.State.REJECTED)


def approve(*, user, pending_id: int) -> PendingOrder | None:
    """Execute the queued request now; its outcome is stored on the row."""
    from orders import services
    from orders.api import order_request

    pending = _claim(user, pending_id, PendingOrder.State.APPROVED)
    if pending is None:
        return None
    data = dict(pending.payload)
    for name in ("quantity", "price", "trigger_price", "position_size"):
        if name in data:
            data[name] = Decimal(str(data[name]))
    try:
        if pending.endpoint == "placeorder":
            result = {"status": "success", "orderid": services.place_order(
                user=user, request=order_request(data)).orderid}
        elif pending.endpoint == "placesmartorder":
            smart = services.place_smart_order(user=user, request=order_request(data),
                                               position_size=data["position_size"])
            result = {"status": "success", **({"orderid": smart.placed.orderid} if smart.placed
                                              else {"message": smart.message})}
        elif pending.endpoint == "basketorder":
            items = []
            for item in data["orders"]:
                item = {**item, **{k: Decimal(str(item[k])) for k in ("quantity", "price", "trigger_price")
                                   if k in item}}
                items.append(order_request(item, data["strategy"]))
            result = {"status": "success", "results": services.place_basket(user=user, requests=items)}
        elif pending.endpoint == "splitorder":
            result = {"status": "success", "results": services.place_split(
                user=user, request=order_request(data), splitsize=int(data["splitsize"]))}
        elif pending.endpoint == "placegttorder":
            result = gtt.replay_place(user=user, payload=pending.payload)
        elif pending.endpoint in ("optionsorder", "optionsmultiorder"):
            from marketdata.options_api import replay

            result = replay(pending.endpoint, user, pending.payload)
        else:
            result = {"status": "error", "message": f"Unsupported endpoint {pending.endpoint}"}
    except BrokerError as exc:
        result = {"status": "error", "message": exc.message}
    with transaction.atomic():
        PendingOrder.objects.filter(pk=pending.pk).update(result=json_safe(result))
    pending.refresh_from_db()
    return pending
