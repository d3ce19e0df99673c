"""The paper exchange's order entry: placement with immediate fills, and resting orders
filled when a price crosses them (on ticks, and by the sweep behind them).

Every write locks the user's account row first (one fixed lock order), so concurrent
requests and the fill engine serialise per user and never double-book a fill."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction

from brokers.base import BrokerRejected, OrderRequest, PlacedOrder, Quote
from brokers.enums import Action, OrderStatus, PriceType, Product
from brokers.sandbox import accounting, clock, config, prices
from brokers.sandbox.fills import announce, fill, save_new_order
from brokers.sandbox.models import SandboxHolding, SandboxOrder, SandboxPosition
from brokers.sandbox.rules import (
    BROKER,
    RESTING,
    Decision,
    SandboxRejection,
    check_order_shape,
    check_trigger_side,
    decide,
    instrument_for,
    new_order_id,
    reference_price,
)
from brokers.sandbox.sessions import ensure_current, locked_account
from brokers.selectors import InstrumentInfo, find_instrument
from core.values import ZERO

if TYPE_CHECKING:
    from brokers.sandbox.models import User

__all__ = ["BROKER", "SandboxRejection", "check_order_shape", "check_resting", "instrument_for", "new_order_id",
           "place_order", "sweep"]


def place_order(user: User, request: OrderRequest, *, at: datetime | None = None) -> PlacedOrder:
    at = at or clock.now()
    symbol, exchange = request.symbol, str(request.exchange)
    info = instrument_for(symbol, exchange)
    check_order_shape(info, exchange=exchange, product=request.product, pricetype=request.pricetype,
                      quantity=request.quantity, price=request.price, trigger_price=request.trigger_price)
    check_trigger_side(request.action, request.pricetype, request.price, request.trigger_price)
    quote = prices.quote(info, at)
    ensure_current(user, at)
    if quote is None and request.pricetype == PriceType.MARKET:
        raise SandboxRejection(f"Unable to get a price for {symbol} on {exchange}; MARKET order not placed")

    with transaction.atomic():
        account = locked_account(user, at)
        position = SandboxPosition.objects.select_for_update().filter(
            user=user, symbol=symbol, exchange=exchange, product=request.product).first()
        held = position.quantity if position else ZERO
        adding = accounting.exposure_added(held, request.action, request.quantity)
        paper = config.settings_for(user.pk)
        if request.product == Product.MIS and adding and clock.mis_window_closed(exchange, at, paper.square_off):
            raise SandboxRejection(f"MIS orders on {exchange} are not accepted after the square-off time "
                                   "or before 09:00 IST, unless they reduce an open position")
        order = SandboxOrder(
            user=user, orderid=new_order_id(at), symbol=symbol, exchange=exchange, action=request.action,
            quantity=request.quantity, pricetype=request.pricetype, product=request.product,
            price=request.price if request.pricetype in (PriceType.LIMIT, PriceType.SL) else ZERO,
            trigger_price=request.trigger_price if request.pricetype in (PriceType.SL, PriceType.SL_M) else ZERO,
            disclosed_quantity=request.disclosed_quantity, strategy=request.strategy,
            tag=request.tag[:20], session_date=account.session_date, created_at=at, updated_at=at,
            status=OrderStatus.OPEN,
        )
        shortfall = ""
        if request.product == Product.CNC and request.action == Action.SELL:
            shortfall = _cnc_sell_shortfall(user, info, request.quantity, held)
        if shortfall:
            # Recorded as a rejected order (it is part of the book), then answered 400.
            order.status, order.rejection_reason = OrderStatus.REJECTED, shortfall
            save_new_order(order)
            account.save()
            announce(order)
        else:
            reference = reference_price(request.pricetype, request.price, request.trigger_price, quote)
            needed = accounting.margin_for(info, request.product, adding, reference, paper.leverage) if adding else ZERO
            if request.product == Product.CNC and request.action == Action.SELL:
                needed = ZERO  # delivering shares already paid for
            if needed > account.cash:
                raise SandboxRejection(f"Insufficient funds. Required margin: {needed:.2f}, "
                                       f"available: {account.cash:.2f}")
            if quote is not None:
                decision = decide(request.action, request.pricetype, request.price, request.trigger_price, quote)
            else:
                waiting = OrderStatus.TRIGGER_PENDING if request.pricetype in (PriceType.SL, PriceType.SL_M) \
                    else OrderStatus.OPEN
                decision = Decision(None, waiting)
            order.status = decision.status if decision.fill_price is None else OrderStatus.OPEN
            if decision.fill_price is None:
                order.blocked_margin = needed
                accounting.block(account, needed)
            save_new_order(order)
            if decision.fill_price is not None:
                fill(account, order, info, decision.fill_price, at)
            account.save()
            announce(order)
    if shortfall:
        raise BrokerRejected(shortfall, orderid=order.orderid)
    return PlacedOrder(orderid=order.orderid, status=OrderStatus(order.status), average_price=order.average_price)


def _cnc_sell_shortfall(user: User, info: InstrumentInfo, quantity: Decimal, cnc_position: Decimal) -> str:
    holding = SandboxHolding.objects.filter(user=user, symbol=info.symbol, exchange=info.exchange).first()
    available = (holding.quantity if holding else ZERO) + max(ZERO, cnc_position)
    if quantity > available:
        return (f"Cannot sell {quantity.normalize():f} {info.symbol}: only {available.normalize():f} available "
                "in holdings and CNC positions")
    return ""


def check_resting(order_pk: int, quote: Quote, at: datetime) -> bool:
    """Re-check one resting order against ``quote``; True if it moved (filled or triggered).
    Decided first without a lock (most checks move nothing), then locked and decided again."""
    seen = SandboxOrder.objects.filter(pk=order_pk, status__in=RESTING).values_list(
        "action", "pricetype", "price", "trigger_price", "status").first()
    if seen is None:
        return False
    action, pricetype, price, trigger, status = seen
    first = decide(action, pricetype, price, trigger, quote, status == OrderStatus.OPEN)
    if first.fill_price is None and first.status == status:
        return False
    with transaction.atomic():
        order = SandboxOrder.objects.filter(pk=order_pk, status__in=RESTING).only("user_id").first()
        if order is None:
            return False
        account = locked_account(order.user, at)
        order = SandboxOrder.objects.select_for_update().filter(pk=order_pk, status__in=RESTING).first()
        if order is None:
            return False
        triggered = order.status == OrderStatus.OPEN
        decision = decide(order.action, order.pricetype, order.price, order.trigger_price, quote, triggered)
        if decision.fill_price is None:
            if decision.status != order.status:
                order.status, order.updated_at = decision.status, at
                order.save(update_fields=["status", "updated_at"])
                announce(order)
                return True
            return False
        info = instrument_for(order.symbol, order.exchange)
        if order.pricetype == PriceType.LIMIT or (order.pricetype == PriceType.SL and triggered):
            price = order.price  # a resting limit fills at its limit price
        else:
            price = decision.fill_price
        fill(account, order, info, price, at)
        account.save()
        announce(order)
        return True


def sweep(*, user: User | None = None, at: datetime | None = None) -> int:
    """Check every resting order (of ``user``, or everyone) against the current price: the
    poller's job, a safety net under the tick-driven checks, and the catch-up before a book
    is read. One read of the resting orders, decided in memory; only the orders the price
    has crossed are locked and re-checked. Returns fills+triggers."""
    at = at or clock.now()
    rows = SandboxOrder.objects.filter(status__in=RESTING)
    if user is not None:
        rows = rows.filter(user=user)
    moved = 0
    quotes: dict[tuple[str, str], Quote | None] = {}
    fields = ("pk", "symbol", "exchange", "action", "pricetype", "price", "trigger_price", "status")
    for pk, symbol, exchange, action, pricetype, price, trigger, status in rows.values_list(*fields):
        key = (exchange, symbol)
        if key not in quotes:
            info = find_instrument(broker=BROKER, exchange=exchange, symbol=symbol)
            quotes[key] = prices.quote(info, at) if info else None
        if (quote := quotes[key]) is None:
            continue
        decision = decide(action, pricetype, price, trigger, quote, status == OrderStatus.OPEN)
        if decision.fill_price is not None or decision.status != status:
            moved += check_resting(pk, quote, at)
    return moved
