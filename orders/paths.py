"""Every order path by name, and what running one answers. A request, a webhook alert
and an Action Center approval all run a path through ``perform``: the same workflow,
the same answer in the spec's shape (success body, or error body with its status)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from brokers.gtt import GttPriceUnavailable
from brokers.options import ResolutionError
from core.api.errors import service_error_body
from core.errors import ServiceError
from orders import gtt
from orders.baskets import check_split, place_basket, place_split
from orders.changes import cancel_all_orders, cancel_order, close_all_positions, modify_order
from orders.options import place_options_multi_order, place_options_order
from orders.placement import place_order, place_smart_order
from orders.requests import Data, modify_request, number, order_request
from orders.routing import adapter_for, pin_modes
from orders.sending import PLACE_FAILED

if TYPE_CHECKING:
    from accounts.models import User

Body = dict[str, Any]


class OrderPath(StrEnum):
    """The order endpoints (spec §5, §9.2-9.3), named as the API names them."""

    PLACE = "placeorder"
    SMART = "placesmartorder"
    BASKET = "basketorder"
    SPLIT = "splitorder"
    OPTIONS = "optionsorder"
    OPTIONS_MULTI = "optionsmultiorder"
    MODIFY = "modifyorder"
    CANCEL = "cancelorder"
    CANCEL_ALL = "cancelallorder"
    CLOSE = "closeposition"
    PLACE_GTT = "placegttorder"
    MODIFY_GTT = "modifygttorder"
    CANCEL_GTT = "cancelgttorder"


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What a path answered: the HTTP status and the body, in the spec's shape. The API
    sends it as is; the Action Center and the idempotency store keep it."""

    status: int
    body: Body
    # HTTP headers the API adds: Retry-After on a 409 while an idempotent request's outcome is pending.
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == 200 and self.body.get("status") == "success"


def _with_message(orderid: str, message: str) -> Body:
    body: Body = {"status": "success", "orderid": orderid}
    if message:
        body["message"] = message
    return body


def _place(user: User, data: Data, source: str) -> Body:
    return {"status": "success", "orderid": place_order(user=user, request=order_request(data), source=source).orderid}


def _smart(user: User, data: Data, source: str) -> Body:
    result = place_smart_order(user=user, request=order_request(data), position_size=number(data["position_size"]))
    if result.placed is None:
        return {"status": "success", "message": result.message}
    return {"status": "success", "orderid": result.placed.orderid}


def _basket(user: User, data: Data, source: str) -> Body:
    requests = [order_request(item, data["strategy"]) for item in data["orders"]]
    return {"status": "success", "results": place_basket(user=user, requests=requests)}


def _split(user: User, data: Data, source: str) -> Body:
    total, size = int(number(data["quantity"])), int(data["splitsize"])
    check_split(total, size)
    request = order_request({**data, "quantity": Decimal(total)})
    return {"status": "success", "total_quantity": total, "split_size": size,
            "results": place_split(user=user, request=request, splitsize=size)}


def _options(user: User, data: Data, source: str) -> Body:
    return place_options_order(user=user, data=data)


def _options_multi(user: User, data: Data, source: str) -> Body:
    return place_options_multi_order(user=user, data=data)


def _modify(user: User, data: Data, source: str) -> Body:
    placed = modify_order(user=user, request=modify_request(data))
    return _with_message(placed.orderid, placed.message)


def _cancel(user: User, data: Data, source: str) -> Body:
    placed = cancel_order(user=user, orderid=str(data["orderid"]))
    return _with_message(placed.orderid, placed.message)


def _cancel_all(user: User, data: Data, source: str) -> Body:
    cancelled, failed = cancel_all_orders(user=user)
    if not cancelled and not failed:
        message = "No open orders to cancel"
    else:
        message = f"Canceled {len(cancelled)} orders. Failed to cancel {len(failed)} orders."
    return {"status": "success", "message": message, "canceled_orders": cancelled, "failed_cancellations": failed}


def _close(user: User, data: Data, source: str) -> Body:
    closed, failed = close_all_positions(user=user)
    # A live broker's answer does not count (spec §5.8); the paper engine's does.
    if not adapter_for(user).capabilities.paper:
        return {"status": "success", "message": "All Open Positions Squared Off"}
    if not closed and not failed:
        return {"status": "success", "message": "No open positions to close"}
    return {"status": "success", "message": f"Closed {closed} positions", "closed_positions": closed,
            "failed_closures": failed}


def _place_gtt(user: User, data: Data, source: str) -> Body:
    return {"status": "success", "trigger_id": gtt.place_gtt(user=user, request=gtt.gtt_request(data))}


def _modify_gtt(user: User, data: Data, source: str) -> Body:
    trigger_id = gtt.modify_gtt(user=user, trigger_id=str(data["trigger_id"]), request=gtt.gtt_request(data))
    return {"status": "success", "trigger_id": trigger_id}


def _cancel_gtt(user: User, data: Data, source: str) -> Body:
    return {"status": "success", "trigger_id": gtt.cancel_gtt(user=user, trigger_id=str(data["trigger_id"]))}


WORKFLOWS: dict[OrderPath, Callable[[User, Data, str], Body]] = {
    OrderPath.PLACE: _place, OrderPath.SMART: _smart, OrderPath.BASKET: _basket, OrderPath.SPLIT: _split,
    OrderPath.OPTIONS: _options, OrderPath.OPTIONS_MULTI: _options_multi, OrderPath.MODIFY: _modify,
    OrderPath.CANCEL: _cancel, OrderPath.CANCEL_ALL: _cancel_all, OrderPath.CLOSE: _close,
    OrderPath.PLACE_GTT: _place_gtt, OrderPath.MODIFY_GTT: _modify_gtt, OrderPath.CANCEL_GTT: _cancel_gtt,
}
# What a broker's failure (5xx) reads as; the other paths answer the generic text.
FAILURE_TEXT: dict[OrderPath, str] = {
    OrderPath.PLACE: PLACE_FAILED, OrderPath.SMART: PLACE_FAILED, OrderPath.OPTIONS: PLACE_FAILED,
    OrderPath.PLACE_GTT: "Failed to place GTT due to internal error",
    OrderPath.MODIFY_GTT: "Failed to modify GTT due to internal error",
    OrderPath.CANCEL_GTT: "Failed to cancel GTT due to internal error",
}


def mode_extra(user: User) -> Body:
    """Keys every answer carries: ``"mode":"analyze"`` in analyze mode (spec §2.9)."""
    return {"mode": "analyze"} if user.analyze_mode else {}


def perform(*, user: User, path: OrderPath, data: Data, source: str = "api") -> OrderOutcome:
    """Run ``path`` now (no queueing, no idempotency: see orders.services.submit_order_request)
    and answer in the spec's shape; refusals and broker failures become error answers. The
    analyze mode is decided once, here (orders/routing.py ``pin_modes``), for the whole path."""
    user = pin_modes(user)
    extra = mode_extra(user)
    try:
        body = WORKFLOWS[path](user, data, source)
    except ResolutionError as exc:
        return OrderOutcome(exc.status, {"status": "error", "message": exc.message, **extra})
    except GttPriceUnavailable as exc:  # its own text: the generic 5xx text would hide what failed
        return OrderOutcome(exc.http_status, {"status": "error", "message": exc.message, **extra})
    except ServiceError as exc:
        return OrderOutcome(exc.http_status, service_error_body(exc, extra, FAILURE_TEXT.get(path), str(path)))
    return OrderOutcome(200, {**body, **extra})
