"""The paper exchange's order engine: pre-trade checks with the spec's messages (§2.9),
immediate fills, resting orders filled when a price crosses them, modify and cancel.

Every write locks the user's account row first (one fixed lock order), so concurrent
requests and the fill engine serialise per user and never double-book a fill."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from brokers.base import BrokerRejected, OrderRequest, PlacedOrder, Quote
from brokers.enums import CASH_EXCHANGES, Action, Exchange, OrderStatus, PriceType, Product
from brokers.sandbox import accounting, clock, prices
from brokers.sandbox.models import Account, SandboxHolding, SandboxOrder, SandboxPosition, SandboxTrade
from brokers.selectors import InstrumentInfo, find_instrument
from core.values import ZERO

log = logging.getLogger(__name__)

BROKER = "sandbox"
RESTING = (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)

# Callbacks told about every order change after commit: (user_id, SandboxOrder).
order_listeners: list[Callable[[int, SandboxOrder], None]] = []


class SandboxRejection(BrokerRejected):
    """A pre-trade rejection with the spec's wording."""


def _announce(order: SandboxOrder) -> None:
    def send() -> None:
        for listener in order_listeners:
            try:
                listener(order.user_id, order)
            except Exception:  # an order update must never undo or block the order
                log.exception("Order listener failed for %s", order.orderid)

    transaction.on_commit(send)


def new_order_id(at: datetime) -> str:
    """Spec §2.9: 14 digits, the IST date as YYMMDD then 8 digits."""
    return at.astimezone(clock.IST).strftime("%y%m%d") + f"{secrets.randbelow(10**8):08d}"


def ensure_current(user, at: datetime) -> None:
    """Roll the account to the current session (and square off what is due) in a transaction
    of its own, so a later rejection cannot roll the settlement back."""
    with transaction.atomic():
        locked_account(user, at)


def locked_account(user, at: datetime) -> Account:
    """The user's account, row-locked for this transaction and rolled to the current session."""
    from brokers.sandbox import sessions

    account = Account.objects.select_for_update().filter(user=user).first()
    if account is None:
        try:
            with transaction.atomic():
                Account.objects.create(user=user, session_date=clock.session_date(at))
        except IntegrityError:
            pass  # created concurrently
        account = Account.objects.select_for_update().get(user=user)
    sessions.roll_forward(account, at)
    return account


# --- Checks ------------------------------------------------------------------------------------


def instrument_for(symbol: str, exchange: str) -> InstrumentInfo:
    info = find_instrument(broker=BROKER, exchange=exchange, symbol=symbol)
    if info is None:
        raise SandboxRejection(f"Symbol {symbol} not found on {exchange}")
    return info


def check_order_shape(info: InstrumentInfo, *, exchange: str, product: str, pricetype: str,
                      quantity: Decimal, price: Decimal, trigger_price: Decimal) -> None:
    """Every rule that needs no price and no account (spec §2.9 rejections)."""
    if Exchange(exchange).is_index:
        raise SandboxRejection(f"{exchange} instruments are indices and cannot be traded")
    if exchange in CASH_EXCHANGES and product == Product.NRML:
        raise SandboxRejection(f"NRML product is not allowed on {exchange}. Use CNC or MIS for equity")
    if exchange not in CASH_EXCHANGES and product == Product.CNC:
        raise SandboxRejection(f"CNC product is not allowed on {exchange}. Use NRML or MIS for derivatives")
    if info.lotsize > 1 and quantity % info.lotsize:
        raise SandboxRejection(f"Quantity must be in multiples of lot size {info.lotsize}")
    if pricetype in (PriceType.LIMIT, PriceType.SL) and price <= 0:
        raise SandboxRejection(f"Price must be greater than 0 for {pricetype} orders")
    if pricetype in (PriceType.SL, PriceType.SL_M) and trigger_price <= 0:
        raise SandboxRejection(f"Trigger price must be greater than 0 for {pricetype} orders")
    for label, value in (("Price", price), ("Trigger price", trigger_price)):
        if value and pricetype != PriceType.MARKET and value % info.tick_size:
            raise SandboxRejection(f"{label} {value.normalize():f} is not a multiple of the tick size "
                                   f"{info.tick_size.normalize():f}")


def check_trigger_side(action: str, pricetype: str, price: Decimal, trigger_price: Decimal) -> None:
    if pricetype != PriceType.SL:
        return
    if action == Action.BUY and trigger_price > price:
        raise SandboxRejection("For a BUY stop-loss order the trigger price must not be above the limit price")
    if action == Action.SELL and trigger_price < price:
        raise SandboxRejection("For a SELL stop-loss order the trigger price must not be below the limit price")


@dataclass(frozen=True, slots=True)
class Decision:
    """What happens to an order now: fill at ``price``, or rest with ``status``."""

    fill_price: Decimal | None
    status: OrderStatus


def decide(action: str, pricetype: str, price: Decimal, trigger: Decimal, quote: Quote,
           triggered: bool = False) -> Decision:
    """The spec's fill rules, at placement (§2.9) and on every later price."""
    ltp = quote.ltp
    buy = action == Action.BUY
    if pricetype == PriceType.MARKET:
        best = (quote.ask if buy else quote.bid) or ltp
        return Decision(best, OrderStatus.COMPLETE)
    if pricetype in (PriceType.SL, PriceType.SL_M) and not triggered:
        crossed = ltp >= trigger if buy else ltp <= trigger
        if not crossed:
            return Decision(None, OrderStatus.TRIGGER_PENDING)
        if pricetype == PriceType.SL_M:
            return Decision(ltp, OrderStatus.COMPLETE)
    marketable = ltp <= price if buy else ltp >= price
    if marketable:
        return Decision(ltp, OrderStatus.COMPLETE)
    return Decision(None, OrderStatus.OPEN)


def _reference_price(pricetype: str, price: Decimal, trigger: Decimal, quote: Quote | None) -> Decimal:
    if pricetype in (PriceType.LIMIT, PriceType.SL):
        return price
    if pricetype == PriceType.SL_M:
        return trigger
    return quote.ltp if quote else ZERO


# --- Placement ---------------------------------------------------------------------------------


def place_order(user, request: OrderRequest, *, at: datetime | None = None) -> PlacedOrder:
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
        if request.product == Product.MIS and adding and clock.mis_window_closed(exchange, at):
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
            _save_new(order)
            account.save()
            _announce(order)
        else:
            reference = _reference_price(request.pricetype, request.price, request.trigger_price, quote)
            needed = accounting.margin_for(info, request.product, adding, reference) if adding else ZERO
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
            _save_new(order)
            if decision.fill_price is not None:
                fill(account, order, info, decision.fill_price, at)
            account.save()
            _announce(order)
    if shortfall:
        raise BrokerRejected(shortfall, orderid=order.orderid)
    return PlacedOrder(orderid=order.orderid, status=OrderStatus(order.status))


def _save_new(order: SandboxOrder) -> None:
    for _ in range(5):
        try:
            with transaction.atomic():
                order.save(force_insert=True)
            return
        except IntegrityError:
            order.orderid = order.orderid[:6] + f"{secrets.randbelow(10**8):08d}"
    raise SandboxRejection("Could not allocate an order id; try again")


def _cnc_sell_shortfall(user, info: InstrumentInfo, quantity: Decimal, cnc_position: Decimal) -> str:
    holding = SandboxHolding.objects.filter(user=user, symbol=info.symbol, exchange=info.exchange).first()
    available = (holding.quantity if holding else ZERO) + max(ZERO, cnc_position)
    if quantity > available:
        return (f"Cannot sell {quantity.normalize():f} {info.symbol}: only {available.normalize():f} available "
                "in holdings and CNC positions")
    return ""


# --- Fills -------------------------------------------------------------------------------------


def fill(account: Account, order: SandboxOrder, info: InstrumentInfo, price: Decimal, at: datetime) -> None:
    """Fill ``order`` completely at ``price``: trade row, position, margin, status."""
    price = price.quantize(Decimal("0.0001"))
    quantity = order.quantity - order.filled_quantity
    from_holding, holding = ZERO, None
    if order.product == Product.CNC and order.action == Action.SELL:
        held = SandboxPosition.objects.filter(
            user_id=order.user_id, symbol=order.symbol, exchange=order.exchange, product=order.product
        ).values_list("quantity", flat=True).first() or ZERO
        from_holding = quantity - min(quantity, max(ZERO, held))
        holding = SandboxHolding.objects.select_for_update().filter(
            user_id=order.user_id, symbol=order.symbol, exchange=order.exchange).first()
        if from_holding > (holding.quantity if holding else ZERO):
            # The shares went elsewhere while this sell rested: it cannot be delivered.
            accounting.release(account, order.blocked_margin)
            order.blocked_margin = ZERO
            order.status, order.updated_at = OrderStatus.REJECTED, at
            order.rejection_reason = f"Cannot sell {quantity.normalize():f} {order.symbol}: not enough holdings"
            order.save()
            return
    accounting.release(account, order.blocked_margin)
    order.blocked_margin = ZERO
    if from_holding:
        accounting.sell_from_holding(account, holding, from_holding, price)
        holding.updated_at = at
        holding.save() if holding.quantity else holding.delete()
    if quantity - from_holding:
        position, _ = SandboxPosition.objects.select_for_update().get_or_create(
            user_id=order.user_id, symbol=order.symbol, exchange=order.exchange, product=order.product,
            defaults={"session_date": account.session_date, "lot_size": info.lotsize},
        )
        accounting.apply_fill(account, position, info, order.action, quantity - from_holding, price)
        position.session_date = account.session_date
        position.updated_at = at
        position.save()
    order.filled_quantity = order.quantity
    order.average_price = price
    order.status = OrderStatus.COMPLETE
    order.updated_at = at
    order.save()
    SandboxTrade.objects.create(
        user_id=order.user_id, order=order, tradeid=f"T{order.orderid}", symbol=order.symbol,
        exchange=order.exchange, action=order.action, product=order.product, quantity=quantity, price=price,
        strategy=order.strategy, session_date=account.session_date, created_at=at,
    )


def check_resting(order_pk: int, quote: Quote, at: datetime) -> bool:
    """Re-check one resting order against ``quote``; True if it moved (filled or triggered)."""
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
                _announce(order)
                return True
            return False
        info = instrument_for(order.symbol, order.exchange)
        if order.pricetype == PriceType.LIMIT or (order.pricetype == PriceType.SL and triggered):
            price = order.price  # a resting limit fills at its limit price
        else:
            price = decision.fill_price
        fill(account, order, info, price, at)
        account.save()
        _announce(order)
        return True


def sweep(*, user=None, at: datetime | None = None) -> int:
    """Check every resting order (of ``user``, or everyone) against the current price: the
    poller's job, and a safety net under the tick-driven checks. Returns fills+triggers."""
    at = at or clock.now()
    rows = SandboxOrder.objects.filter(status__in=RESTING)
    if user is not None:
        rows = rows.filter(user=user)
    moved = 0
    quotes: dict[tuple[str, str], Quote | None] = {}
    for pk, symbol, exchange in rows.values_list("pk", "symbol", "exchange"):
        key = (exchange, symbol)
        if key not in quotes:
            info = find_instrument(broker=BROKER, exchange=exchange, symbol=symbol)
            quotes[key] = prices.quote(info, at) if info else None
        if quotes[key] is not None:
            moved += check_resting(pk, quotes[key], at)
    return moved
