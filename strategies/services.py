"""The strategies app's writes: accepting an alert (durably, before its answer), running
an accepted alert's orders through orders.services, the daily square-off, and finding
alerts whose worker died (strategies/tasks.py queues them again).

Why an alert never places twice: each order of an alert carries the idempotency key
``webhook:<alert id>:<n>`` into ``orders.services.submit_order_request``. Whatever runs it
again (a redelivered Celery message, a restarted worker, the recovery sweep) gets the
first answer back from the ledger's idempotency record instead of a second order."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.values import IST, json_safe
from orders import services as order_services
from orders.services import OrderPath
from strategies import alerts
from strategies.alerts import Mapped, Refused
from strategies.models import Alert, Strategy, SymbolMapping

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)

INVALID_ID = "Invalid webhook ID"
INACTIVE = "Strategy is inactive"
BAD_SECRET = "Invalid webhook secret or signature"
# A task asks to be run again after this many seconds while an order's outcome is being settled.
RETRY_SECONDS = 1.0
# Alerts left received/running this long are taken to have lost their worker.
STUCK_AFTER = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Accepted:
    alert: Alert
    message: str
    duplicate: bool = False


def now() -> datetime:
    """The clock of the trading window; tests move it."""
    return timezone.now()


def strategy_for_webhook(webhook_id: str) -> tuple[Strategy, dict[str, Mapped]]:
    """The strategy of a webhook URL and its symbol map, or Refused(404).
    One query when the strategy maps symbols (each map row joined to its strategy; the
    owner is not needed to accept): the accept path is a handful of round trips in all."""
    if not _is_uuid(webhook_id):
        raise Refused(404, INVALID_ID)
    rows = list(SymbolMapping.objects.select_related("strategy").filter(strategy__webhook_id=webhook_id))
    if rows:
        return rows[0].strategy, _mapped(rows)
    strategy = Strategy.objects.filter(webhook_id=webhook_id).first()
    if strategy is None:
        raise Refused(404, INVALID_ID)
    return strategy, {}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def check_secret(strategy: Strategy, raw: bytes, headers: Mapping[str, str]) -> None:
    """A strategy with a secret takes an alert only with ``X-Webhook-Secret: <secret>`` or
    ``X-Signature: <hex HMAC-SHA256 of the body keyed by the secret>`` (``sha256=`` prefix allowed)."""
    if not strategy.secret:
        return
    given = headers.get("X-Webhook-Secret", "")
    if given and hmac.compare_digest(given.encode(), strategy.secret.encode()):
        return
    signature = headers.get("X-Signature", "").strip().lower().removeprefix("sha256=")
    expected = hmac.new(strategy.secret.encode(), raw, hashlib.sha256).hexdigest()
    if signature and hmac.compare_digest(signature, expected):
        return
    raise Refused(401, BAD_SECRET)


def _mapped(rows: Iterable[SymbolMapping]) -> dict[str, Mapped]:
    return {row.symbol: Mapped(row.symbol, row.exchange, row.quantity, row.product) for row in rows}


def mapping_of(strategy: Strategy) -> dict[str, Mapped]:
    return _mapped(strategy.symbols.all())


def body_hash(source: str, raw: bytes) -> str:
    return hashlib.sha256(source.encode() + b"\0" + raw).hexdigest()


def refuse(*, strategy: Strategy, source: str, raw: bytes, body: Mapping[str, Any], reason: str) -> Alert:
    """Log a refused alert (what the sender was answered), for the strategy's page."""
    return Alert.objects.create(strategy=strategy, source=source, state=Alert.State.REFUSED, reason=reason,
                                body=json_safe(dict(body)), body_hash=body_hash(source, raw),
                                finished_at=timezone.now())


def accept(*, strategy: Strategy, source: str, raw: bytes, body: Mapping[str, Any], orders: list[dict[str, Any]],
           message: str, idempotency_key: str = "") -> Accepted:
    """Write the alert (committed) before its answer, then queue it for a worker. A retry
    of an accepted alert (same Idempotency-Key within a day, or same body within
    WEBHOOK_DUPLICATE_SECONDS) is logged as a duplicate and runs nothing."""
    digest = body_hash(source, raw)
    key = idempotency_key[:128]
    received = timezone.now()
    with transaction.atomic():
        # One alert of a strategy at a time decides what is a duplicate (a row lock, not a process lock).
        Strategy.objects.select_for_update().filter(pk=strategy.pk).values_list("pk", flat=True).first()
        accepted = Alert.objects.exclude(state__in=(Alert.State.REFUSED, Alert.State.DUPLICATE)).filter(
            strategy=strategy)
        if key:
            same = accepted.filter(idempotency_key=key, received_at__gte=received - timedelta(days=1))
        else:
            window = timedelta(seconds=settings.WEBHOOK_DUPLICATE_SECONDS)
            same = accepted.filter(body_hash=digest, received_at__gte=received - window)
        dedupe = key or settings.WEBHOOK_DUPLICATE_SECONDS > 0
        first = same.order_by("-received_at").values_list("pk", flat=True).first() if dedupe else None
        alert = Alert.objects.create(
            strategy=strategy, source=source, body=json_safe(dict(body)), body_hash=digest, idempotency_key=key,
            orders=orders if first is None else [], received_at=received,
            state=Alert.State.RECEIVED if first is None else Alert.State.DUPLICATE, duplicate_of_id=first,
            reason="" if first is None else f"Same alert as #{first}: no second order",
            finished_at=None if first is None else received)
    return Accepted(alert, message, duplicate=first is not None)


# --- Running an accepted alert ---------------------------------------------------------------


DONE, PENDING = "done", "pending"


def _trader(strategy: Strategy) -> User:
    """The owner as this run sees the modes: a semi-auto strategy sends its orders to the
    Action Center even when the account itself is in auto mode."""
    user = order_services.pin_modes(strategy.owner)
    if strategy.mode == Strategy.Mode.SEMI_AUTO and user.order_mode != user.OrderMode.SEMI_AUTO:
        user = copy.copy(user)
        user.order_mode = user.OrderMode.SEMI_AUTO
    return user


def run_orders(*, user: User, orders: list[dict[str, Any]], key_prefix: str
               ) -> tuple[list[dict[str, Any]], bool]:
    """Each planned order through orders.services with its own idempotency key; returns
    the answers and whether one of them is still being settled (a 409: run again later)."""
    results, waiting = [], False
    for number, order in enumerate(orders, start=1):
        outcome = order_services.submit_order_request(
            user=user, path=OrderPath(order["path"]), data=order["data"], source="webhook",
            idempotency_key=f"{key_prefix}:{number}")
        waiting = waiting or outcome.status == 409
        results.append({"symbol": order["data"]["symbol"], "exchange": order["data"]["exchange"],
                        "path": order["path"], "status": outcome.status, "answer": json_safe(outcome.body)})
    return results, waiting


def execute(alert_id: int) -> str:
    """Run an accepted alert's orders once; DONE when the alert is finished (or was
    already), PENDING when an order's outcome is still being settled (run again later)."""
    started = timezone.now()
    claimed = Alert.objects.filter(pk=alert_id, state__in=(Alert.State.RECEIVED, Alert.State.RUNNING)).update(
        state=Alert.State.RUNNING, attempts=F("attempts") + 1, started_at=started)
    if not claimed:
        return DONE
    alert = Alert.objects.select_related("strategy", "strategy__owner").get(pk=alert_id)
    user = _trader(alert.strategy)
    results, waiting = run_orders(user=user, orders=alert.orders, key_prefix=f"webhook:{alert.pk}")
    if waiting:
        Alert.objects.filter(pk=alert.pk, state=Alert.State.RUNNING).update(results=results)
        settle_orders(user)
        return PENDING
    order_ids = [str(r["answer"][field]) for r in results for field in ("orderid", "pending_order_id")
                 if field in r["answer"]]
    failures = [f"{r['symbol']}: {r['answer'].get('message', r['status'])}" for r in results if r["status"] != 200
                or r["answer"].get("status") != "success"]
    Alert.objects.filter(pk=alert.pk, state=Alert.State.RUNNING).update(
        state=Alert.State.FAILED if failures else Alert.State.EXECUTED, reason="; ".join(failures),
        results=results, order_ids=order_ids, finished_at=timezone.now())
    return DONE


def give_up(alert_id: int, reason: str) -> None:
    Alert.objects.filter(pk=alert_id, state__in=(Alert.State.RECEIVED, Alert.State.RUNNING)).update(
        state=Alert.State.FAILED, reason=reason, finished_at=timezone.now())


def settle_orders(user: User) -> None:
    """Orders a dead worker left unanswered are looked up at the broker now, so the retry
    that follows learns their true outcome (orders/reconcile.py does the lookup)."""
    try:
        order_services.reconcile(user, order_services.adapter_for(user).name, trigger="webhook")
    except Exception:  # the next retry, or beat's reconciliation, tries again
        log.exception("Reconciliation before retrying an alert failed")


def unfinished(older_than: timedelta = STUCK_AFTER) -> list[int]:
    """Accepted alerts no worker finished: received (the worker was down) or running
    (the worker died) for longer than ``older_than``."""
    cutoff = timezone.now() - older_than
    stale = Q(state=Alert.State.RECEIVED, received_at__lte=cutoff) | Q(state=Alert.State.RUNNING,
                                                                         started_at__lte=cutoff)
    return list(Alert.objects.filter(stale).order_by("pk").values_list("pk", flat=True)[:500])


# --- Square-off --------------------------------------------------------------------------------


def square_off_due(at: datetime | None = None) -> list[int]:
    """Close the intraday positions of every enabled intraday strategy whose square-off
    time has passed today (IST), once a day each (claimed by a conditional UPDATE), and
    only in that strategy's mapped symbols. Returns the strategies squared off."""
    at = at or now()
    local = at.astimezone(IST)
    done = []
    candidates = Strategy.objects.filter(kind=Strategy.Kind.INTRADAY, enabled=True,
                                         squareoff_time__lte=local.time()).exclude(squared_off_on=local.date())
    for strategy in candidates.select_related("owner"):
        claimed = Strategy.objects.filter(pk=strategy.pk).exclude(squared_off_on=local.date()).update(
            squared_off_on=local.date())
        if claimed:
            square_off(strategy, day=local.date().isoformat())
            done.append(strategy.pk)
    return done


def square_off(strategy: Strategy, *, day: str) -> list[dict[str, Any]]:
    """Flatten the strategy's mapped symbols now, in auto mode (closing exposure is never
    held for approval), logged as one alert of the strategy."""
    orders = alerts.square_off_orders(strategy, mapping_of(strategy))
    user = order_services.pin_modes(strategy.owner)
    if user.order_mode != user.OrderMode.AUTO:
        user = copy.copy(user)
        user.order_mode = user.OrderMode.AUTO
    results, _ = run_orders(user=user, orders=orders, key_prefix=f"squareoff:{strategy.pk}:{day}")
    order_ids = [str(r["answer"]["orderid"]) for r in results if "orderid" in r["answer"]]
    failures = [f"{r['symbol']}: {r['answer'].get('message', r['status'])}" for r in results
                if r["status"] != 200 or r["answer"].get("status") != "success"]
    if not order_ids and not failures:
        return results  # nothing was open: nothing worth a line in the log
    reason = f"Square-off at {strategy.squareoff_time:%H:%M} IST" + (f": {'; '.join(failures)}" if failures else "")
    Alert.objects.create(strategy=strategy, source=Alert.Source.STRATEGY,
                         state=Alert.State.FAILED if failures else Alert.State.EXECUTED,
                         reason=reason, body={"squareoff": day},
                         body_hash=body_hash("squareoff", day.encode()), orders=orders, results=results,
                         order_ids=order_ids, finished_at=timezone.now())
    return results


# --- Receiving an alert (the webhooks and the page's test button) ------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    alert: Alert | None = None


def receive_strategy_alert(*, strategy: Strategy, raw: bytes, source: str = Alert.Source.STRATEGY,
                           idempotency_key: str = "", mapping: Mapping[str, Mapped] | None = None) -> Answer:
    """``POST /strategy/webhook/<id>`` after its id and secret passed: refuse (and log) or
    accept. Its answers carry no ``status`` key (spec §11.2)."""
    body: dict[str, Any] = {}
    try:
        if not strategy.enabled:
            raise Refused(400, INACTIVE)
        body = alerts.parse_body(raw)
        symbol, orders = alerts.strategy_alert(body, strategy, mapping_of(strategy) if mapping is None else mapping,
                                                now())
    except Refused as refusal:
        alert = refuse(strategy=strategy, source=source, raw=raw, body=body, reason=refusal.message)
        return Answer(refusal.status, {"error": refusal.message}, alert)
    accepted = accept(strategy=strategy, source=source, raw=raw, body=body, orders=orders,
                      message=f"Order queued successfully for {symbol}", idempotency_key=idempotency_key)
    return Answer(200, {"message": accepted.message}, accepted.alert)


def receive_chartink_alert(*, strategy: Strategy, raw: bytes, idempotency_key: str = "",
                           mapping: Mapping[str, Mapped] | None = None) -> Answer:
    """``POST /chartink/webhook/<id>``: the same, with ChartInk's answers (``status`` key)."""
    body: dict[str, Any] = {}
    try:
        if not strategy.enabled:
            raise Refused(400, INACTIVE)
        body = alerts.parse_body(raw)
        placed, unmapped, orders = alerts.chartink_alert(
            body, strategy, mapping_of(strategy) if mapping is None else mapping, now())
    except Refused as refusal:
        alert = refuse(strategy=strategy, source=Alert.Source.CHARTINK, raw=raw, body=body, reason=refusal.message)
        return Answer(refusal.status, {"status": "error", "error": refusal.message}, alert)
    message = f"Orders queued successfully for {', '.join(placed)}"
    if unmapped:
        message += f" (no mapping found for {', '.join(unmapped)})"
    accepted = accept(strategy=strategy, source=Alert.Source.CHARTINK, raw=raw, body=body, orders=orders,
                      message=message, idempotency_key=idempotency_key)
    return Answer(200, {"status": "success", "message": accepted.message}, accepted.alert)


def sample_alert(strategy: Strategy) -> bytes:
    """An entry alert for the strategy's first mapped symbol, as TradingView would send it."""
    first = strategy.symbols.order_by("symbol").first()
    symbol = first.symbol if first else "SBIN"
    action = "SELL" if strategy.direction == Strategy.Direction.SHORT else "BUY"
    quantity = format(first.quantity.normalize(), "f") if first else "1"
    body = {"symbol": symbol, "action": action}
    if strategy.direction == Strategy.Direction.BOTH:
        body["position_size"] = quantity
    return json.dumps(body).encode()


# --- Managing strategies -------------------------------------------------------------------------


def save_strategy(*, strategy: Strategy, symbol_map: list[dict[str, Any]]) -> Strategy:
    """Create or update a strategy (its owner set by the caller) with its whole symbol map."""
    with transaction.atomic():
        strategy.save()
        strategy.symbols.all().delete()
        strategy.symbols.bulk_create([SymbolMapping(strategy=strategy, **row) for row in symbol_map])
    return strategy


def set_enabled(*, strategy: Strategy, enabled: bool) -> None:
    Strategy.objects.filter(pk=strategy.pk).update(enabled=enabled)
    strategy.enabled = enabled


def delete_strategy(*, strategy: Strategy) -> None:
    strategy.delete()
