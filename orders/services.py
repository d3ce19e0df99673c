"""The orders app's writes, one call per order path. ``submit_order_request`` owns the
whole path of a request (design.md): idempotency, semi-auto queueing, then the path
itself (risk, analyze routing, ledger, broker call, event), then the analyzer log. The
API, webhooks and strategies call it and only shape its answer; the Action Center's
approval runs the same path (orders/paths.py ``perform``).

The building blocks are re-exported here so callers need one import: placement
(orders/placement.py), many orders (orders/baskets.py), options (orders/options.py),
changes and sweeps (orders/changes.py), the kill switch (orders/killswitch.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orders import actioncenter, faults, idempotency
from orders.analyzer import record_analyzed
from orders.answers import split_sizes
from orders.baskets import SPLIT_CAP, place_basket, place_split
from orders.changes import cancel_all_orders, cancel_order, close_all_positions, modify_order
from orders.killswitch import engage as engage_kill_switch
from orders.killswitch import reset as reset_kill_switch
from orders.ledger import ledger_tag
from orders.paths import OrderOutcome, OrderPath, perform
from orders.placement import (
    ALREADY_MATCHED,
    NO_POSITION_TO_EXIT,
    SmartResult,
    net_quantity,
    place_order,
    place_smart_order,
    smart_order_action,
)
from orders.reconcile import reconcile
from orders.routing import adapter_for, data_adapter_for, live_adapter_for, pin_modes
from orders.sending import PLACE_FAILED

if TYPE_CHECKING:
    from accounts.models import User

__all__ = [
    "ALREADY_MATCHED", "NO_POSITION_TO_EXIT", "PLACE_FAILED", "SPLIT_CAP", "OrderOutcome", "OrderPath",
    "SmartResult", "adapter_for", "cancel_all_orders", "cancel_order", "close_all_positions", "data_adapter_for",
    "engage_kill_switch", "ledger_tag", "live_adapter_for", "modify_order", "net_quantity", "place_basket",
    "place_order", "place_smart_order", "place_split", "reconcile", "record_analyzed", "reset_kill_switch",
    "smart_order_action", "split_sizes", "submit_order_request",
]

QUEUED = "Order queued for approval in Action Center"
# Semi-auto (spec §2.10): these paths wait in the Action Center for the account holder...
QUEUED_IN_SEMI_AUTO = frozenset({OrderPath.PLACE, OrderPath.SMART, OrderPath.BASKET, OrderPath.SPLIT,
                                 OrderPath.OPTIONS, OrderPath.OPTIONS_MULTI, OrderPath.PLACE_GTT})


def _refusal(what: str) -> str:
    return f"{what.capitalize()} operation is not allowed in Semi-Auto mode. Please switch to Auto mode to {what}."


# ...and these are refused outside analyze mode, with the reference's texts.
REFUSED_IN_SEMI_AUTO = {
    OrderPath.MODIFY: _refusal("modify order"), OrderPath.CANCEL: _refusal("cancel order"),
    OrderPath.CANCEL_ALL: _refusal("cancel all orders"), OrderPath.CLOSE: _refusal("close position"),
    OrderPath.MODIFY_GTT: "Modify GTT order is not allowed in Semi-Auto mode. Switch to Auto mode.",
    OrderPath.CANCEL_GTT: "Cancel GTT order is not allowed in Semi-Auto mode. Switch to Auto mode.",
}
# Paths that create orders honour an idempotency key (Idempotency-Key or client_order_id).
IDEMPOTENT = frozenset({OrderPath.PLACE, OrderPath.SMART, OrderPath.BASKET, OrderPath.SPLIT, OrderPath.OPTIONS,
                        OrderPath.OPTIONS_MULTI})


def submit_order_request(*, user: User, path: OrderPath, data: Mapping[str, Any], source: str = "api",
                         idempotency_key: str | None = None) -> OrderOutcome:
    """Run one order request for ``user`` and answer it in the spec's shape. ``data`` is
    the validated request without the API key; ``source`` says who asked (api, webhook,
    strategy). A repeated ``idempotency_key`` gets the first answer, never a second order;
    while that answer is not known yet, a 409 with a ``Retry-After`` header (orders/idempotency.py).
    Analyze and semi-auto mode are read from the database once, here, for the whole request."""
    user = pin_modes(user)
    if not idempotency_key or path not in IDEMPOTENT:
        return _answer(user, path, data, source)
    try:
        record = idempotency.claim(user=user, key=idempotency_key, endpoint=str(path), data=data)
    except idempotency.Replay as replay:
        outcome = OrderOutcome(replay.status, replay.body, replay.headers)
        if user.analyze_mode and replay.status != 200:
            record_analyzed(user=user, endpoint=str(path), request=data, response=outcome.body)
        return outcome
    running = idempotency.Running(record)
    try:
        faults.hit("after_claim")
        with running:  # the ledger rows this request writes name its record
            outcome = _answer(user, path, data, source)
    except Exception:
        idempotency.abandon(record)
        raise
    idempotency.complete(running, outcome.status, outcome.body)
    return outcome


def _answer(user: User, path: OrderPath, data: Mapping[str, Any], source: str) -> OrderOutcome:
    if user.order_mode == user.OrderMode.SEMI_AUTO:
        if path in QUEUED_IN_SEMI_AUTO:
            pending = actioncenter.queue(user=user, path=path, data=data)
            return OrderOutcome(200, {"status": "success", "message": QUEUED, "mode": "semi_auto",
                                      "pending_order_id": pending.pk})
        if path in REFUSED_IN_SEMI_AUTO and not user.analyze_mode:
            return OrderOutcome(403, {"status": "error", "message": REFUSED_IN_SEMI_AUTO[path]})
    outcome = perform(user=user, path=path, data=data, source=source)
    if user.analyze_mode:
        record_analyzed(user=user, endpoint=str(path), request=data, response=outcome.body)
    return outcome
