"""Pre-trade risk checks and the kill switch (issue 5 §1).

Every order that ``orders.services.place_order`` sends passes ``check_order`` first,
whatever the broker: the sandbox and live brokers get the same limits. A failed check
raises ``RiskRejected`` (a ``BrokerRejected``, so the API answers in the spec's error
shape) with a reason that says which limit and by how much; it is logged, audited and
written to the ledger as a rejected row that never reached the broker.

The daily loss limit is watched twice: before each order, and by Celery beat between
orders (``monitor_losses``). When the day's P&L (realised + unrealised) reaches the
loss, the kill switch engages: open orders are cancelled, positions squared off if the
user chose so (orders/killswitch.py), and new orders are refused until the user resets
the switch."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from decimal import Decimal

from django.core.cache import caches
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts import audit
from brokers.base import BrokerError, BrokerRejected, ModifyRequest, OrderRequest
from brokers.enums import Action, PriceType
from core import metrics
from core.dblocks import locked_get_or_create
from core.values import ZERO
from orders.locks import user_lock
from orders.models import LedgerStatus, Order, RiskLimits

log = logging.getLogger(__name__)

HUNDRED = Decimal(100)
# Orders that only reduce risk: the kill switch's own square-off and the trader's
# "close all positions". Limits never stand in their way.
EXEMPT_SOURCES = frozenset({"killswitch", "closeposition", "squareoff"})
WORKING = (LedgerStatus.SUBMITTING, LedgerStatus.OPEN, LedgerStatus.TRIGGER_PENDING, LedgerStatus.UNKNOWN)


class RiskRejected(BrokerRejected):
    """A pre-trade limit refused the order. ``reason`` is a short, bounded code (metrics)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RiskRateLimited(RiskRejected):
    http_status = 429


def limits_for(user) -> RiskLimits | None:
    """Read fresh for every order: a kill switch or a changed limit holds at once, in every process."""
    return RiskLimits.objects.filter(user=user).first()


def _money(value: Decimal) -> str:
    return f"₹{value:,.2f}"


def _qty(value: Decimal) -> str:
    return f"{value.normalize():f}"


# --- The checks --------------------------------------------------------------------------------


@contextmanager
def guarded(user, limits: RiskLimits | None) -> Iterator[None]:
    """Hold the user's lock around the checks and the ledger insert when a limit counts
    orders or exposure, so two concurrent orders cannot both pass the same headroom."""
    needs_lock = limits is not None and (limits.max_open_orders is not None or limits.max_position_value is not None)
    with user_lock(user.pk) if needs_lock else nullcontext():
        yield


def check_order(user, adapter, request: OrderRequest, limits: RiskLimits) -> None:
    """Raise RiskRejected if ``request`` breaks one of ``limits``. Cheap checks first; the
    price is fetched only when a limit needs it, and a limit that needs a price it
    cannot get refuses the order (fail closed)."""
    if limits.kill_switch_engaged:
        raise RiskRejected("kill_switch", "Kill switch is on: new orders are blocked until you reset it on the "
                           f"Risk page ({limits.kill_switch_reason or 'engaged'})")
    exchange, product = str(request.exchange), str(request.product)
    if limits.allowed_exchanges and exchange not in limits.allowed_exchanges:
        raise RiskRejected("exchange_not_allowed", f"Risk limit: exchange {exchange} is not allowed "
                           f"(allowed: {', '.join(limits.allowed_exchanges)})")
    if limits.allowed_products and product not in limits.allowed_products:
        raise RiskRejected("product_not_allowed", f"Risk limit: product {product} is not allowed "
                           f"(allowed: {', '.join(limits.allowed_products)})")
    if limits.max_order_quantity is not None and request.quantity > limits.max_order_quantity:
        raise RiskRejected("max_order_quantity", f"Risk limit: quantity {_qty(request.quantity)} exceeds the maximum "
                           f"of {_qty(limits.max_order_quantity)} per order")
    if limits.max_orders_per_second is not None:
        _check_rate(user, limits.max_orders_per_second)
    if limits.max_open_orders is not None:
        working = Order.objects.filter(user=user, analyze=bool(user.analyze_mode), status__in=WORKING).count()
        if working >= limits.max_open_orders:
            raise RiskRejected("max_open_orders", f"Risk limit: {working} orders are already working; the "
                               f"maximum is {limits.max_open_orders}")
    needs_price = (limits.price_band_percent is not None or limits.max_order_value is not None
                   or limits.max_position_value is not None)
    if not needs_price:
        return
    ltp = _ltp(adapter, request)
    _check_price_band(request, ltp, limits.price_band_percent)
    price = _order_price(request, ltp)
    if limits.max_order_value is not None and request.quantity * price > limits.max_order_value:
        raise RiskRejected("max_order_value", f"Risk limit: order value {_money(request.quantity * price)} exceeds "
                           f"the maximum of {_money(limits.max_order_value)}")
    if limits.max_position_value is not None:
        _check_position_value(user, adapter, request, price, limits.max_position_value)


def check_modify(user, adapter, request: ModifyRequest, limits: RiskLimits) -> None:
    """A modification is held to the limits of a single order: kill switch, quantity,
    price band and value (the order already counts as working and as exposure)."""
    as_order = OrderRequest(symbol=request.symbol, exchange=request.exchange, action=request.action,
                            quantity=request.quantity, product=request.product, pricetype=request.pricetype,
                            price=request.price, trigger_price=request.trigger_price)
    single = RiskLimits(kill_switch_engaged=limits.kill_switch_engaged, kill_switch_reason=limits.kill_switch_reason,
                        max_order_quantity=limits.max_order_quantity, max_order_value=limits.max_order_value,
                        price_band_percent=limits.price_band_percent)
    try:
        check_order(user, adapter, as_order, single)
    except RiskRejected as exc:
        metrics.count_reject(f"risk_{exc.reason}")
        log.warning("Risk check refused a modification of order %s of %s (%s): %s", request.orderid,
                    user.username, exc.reason, exc.message)
        audit.record("order_risk_rejected", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                     detail={"orderid": request.orderid, "reason": exc.reason, "message": exc.message,
                             "source": "modify"})
        raise


def _check_rate(user, per_second: int) -> None:
    """At most ``per_second`` orders of the user in one second, counted by every process
    (the ``counters`` cache: Redis, or a file every process of this host shares)."""
    cache = caches["counters"]
    key = f"risk:rate:{user.pk}:{int(time.time())}"
    if cache.add(key, 1, timeout=5):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=5)
            count = 1
    if count > per_second:
        raise RiskRateLimited("max_orders_per_second", f"Risk limit: more than {per_second} orders in one second")


def _ltp(adapter, request: OrderRequest) -> Decimal | None:
    try:
        ltp = adapter.quote(request.symbol, request.exchange).ltp
    except BrokerError as exc:
        log.warning("Risk check: no quote for %s:%s (%s)", request.exchange, request.symbol, exc.message)
        return None
    return ltp if ltp and ltp > 0 else None


def _order_price(request: OrderRequest, ltp: Decimal | None) -> Decimal:
    if request.pricetype in (PriceType.LIMIT, PriceType.SL) and request.price > 0:
        return request.price
    if request.pricetype == PriceType.SL_M and request.trigger_price > 0:
        return request.trigger_price
    if ltp is None:
        raise RiskRejected("no_price", f"Risk check: no last traded price for {request.exchange}:{request.symbol}, "
                           "so the order's value cannot be checked; order not placed")
    return ltp


def _check_price_band(request: OrderRequest, ltp: Decimal | None, band: Decimal | None) -> None:
    if band is None:
        return
    prices = []
    if request.pricetype in (PriceType.LIMIT, PriceType.SL) and request.price > 0:
        prices.append(("price", request.price))
    if request.pricetype in (PriceType.SL, PriceType.SL_M) and request.trigger_price > 0:
        prices.append(("trigger price", request.trigger_price))
    if not prices:
        return
    if ltp is None:
        raise RiskRejected("no_price", f"Risk check: no last traded price for {request.exchange}:{request.symbol}, "
                           "so the price band cannot be checked; order not placed")
    for label, price in prices:
        away = abs(price - ltp) / ltp * HUNDRED
        if away > band:
            raise RiskRejected("price_band", f"Risk limit: {label} {price:f} is {away:.2f}% away from the last "
                               f"traded price {ltp:f}; the band is {band:f}%")


def _check_position_value(user, adapter, request: OrderRequest, price: Decimal, limit: Decimal) -> None:
    exchange = str(request.exchange)
    held = sum((p.quantity for p in adapter.positions()
                if p.symbol == request.symbol and str(p.exchange) == exchange), ZERO)
    # Orders written to the ledger but not yet answered are exposure the broker cannot show yet.
    for action, quantity in Order.objects.filter(
            user=user, analyze=bool(user.analyze_mode), symbol=request.symbol, exchange=exchange,
            status=LedgerStatus.SUBMITTING).values_list("action", "quantity"):
        held += quantity if action == Action.BUY else -quantity
    after = held + (request.quantity if request.action == Action.BUY else -request.quantity)
    if abs(after) > abs(held) and abs(after) * price > limit:
        raise RiskRejected("max_position_value", f"Risk limit: the position in {request.symbol} would be worth "
                           f"{_money(abs(after) * price)}, above the maximum of {_money(limit)} per symbol")


def record_rejection(user, adapter, request: OrderRequest, source: str, exc: RiskRejected) -> None:
    """A refused order still leaves its trace: a rejected ledger row (never sent), a log
    line and an audit event."""
    with transaction.atomic():
        order = Order.objects.create(
            user=user, broker=adapter.name, analyze=bool(user.analyze_mode), strategy=request.strategy,
            symbol=request.symbol, exchange=str(request.exchange), action=request.action,
            quantity=request.quantity, product=request.product, pricetype=request.pricetype,
            price=request.price, trigger_price=request.trigger_price, disclosed_quantity=request.disclosed_quantity,
            source=source, status=LedgerStatus.REJECTED, message=exc.message,
        )
        order.events.create(from_status="", to_status=LedgerStatus.REJECTED, source="risk",
                            detail={"reason": exc.reason})
    metrics.count_reject(f"risk_{exc.reason}")
    log.warning("Risk check refused order %s of %s (%s): %s", order.pk, user.username, exc.reason, exc.message)
    audit.record("order_risk_rejected", actor=user.username, subject=f"{order.exchange}:{order.symbol}",
                 detail={"ledger_id": order.pk, "reason": exc.reason, "message": exc.message,
                         "action": order.action, "quantity": str(order.quantity), "source": source})


# --- Daily loss and the kill switch ------------------------------------------------------------


def day_pnl(adapter) -> Decimal:
    """Today's realised + unrealised P&L over every position of the account."""
    return sum((position.pnl for position in adapter.positions()), ZERO)


def loss_breach(limits: RiskLimits, pnl: Decimal) -> str:
    """Why the kill switch must engage at day P&L ``pnl``, or '' if it must not. After a
    reset the loss counts from the P&L at the reset, for the rest of that day."""
    if limits.daily_loss_limit is None:
        return ""
    baseline = limits.loss_baseline if limits.loss_baseline_date == timezone.localdate() else ZERO
    loss = baseline - pnl
    if loss < limits.daily_loss_limit:
        return ""
    since = " since the reset" if baseline else ""
    return f"daily loss {_money(loss)}{since} reached the limit of {_money(limits.daily_loss_limit)}"


def daily_loss_breach(user, adapter, limits: RiskLimits) -> str:
    """Before an order: why the day's loss trips the kill switch now, or '' if it does not."""
    if limits.daily_loss_limit is None or limits.kill_switch_engaged:
        return ""
    return loss_breach(limits, day_pnl(adapter))


def switched_on(reason: str) -> RiskRejected:
    """The refusal of an order while the kill switch is on for ``reason``."""
    return RiskRejected("kill_switch", f"Kill switch is on: new orders are blocked until you reset it on the "
                        f"Risk page ({reason})")


def switch_on(user, *, reason: str) -> RiskLimits | None:
    """Set the kill switch (once, under the row lock). Returns the limits if this call set
    it, None if it was already on. Cancelling and squaring off is the caller's job
    (orders/killswitch.py), so the checks never call the services that call them."""
    with transaction.atomic():
        limits, _ = locked_get_or_create(RiskLimits.objects, user=user)
        if limits.kill_switch_engaged:
            return None
        limits.kill_switch_engaged, limits.kill_switch_at, limits.kill_switch_reason = True, timezone.now(), reason
        limits.save(update_fields=["kill_switch_engaged", "kill_switch_at", "kill_switch_reason", "updated_at"])
    log.warning("Kill switch engaged for %s: %s", user.username, reason)
    return limits


def switch_off(user, *, baseline: Decimal) -> str | None:
    """Clear the kill switch with today's P&L ``baseline``; returns the reason it was on,
    or None if it was not on."""
    with transaction.atomic():
        limits = RiskLimits.objects.select_for_update().filter(user=user).first()
        if limits is None or not limits.kill_switch_engaged:
            return None
        previous = limits.kill_switch_reason
        limits.kill_switch_engaged, limits.kill_switch_at, limits.kill_switch_reason = False, None, ""
        limits.loss_baseline, limits.loss_baseline_date = baseline, timezone.localdate()
        limits.save(update_fields=["kill_switch_engaged", "kill_switch_at", "kill_switch_reason", "loss_baseline",
                                   "loss_baseline_date", "updated_at"])
    return previous


def watched_limits() -> QuerySet[RiskLimits]:
    """Users whose daily loss the monitor checks between orders."""
    return RiskLimits.objects.filter(daily_loss_limit__isnull=False, kill_switch_engaged=False).select_related("user")
