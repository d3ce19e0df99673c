"""The paper exchange's GTT book: triggers kept in the database, fired by the fill engine
when a tick of their instrument crosses them (spec §5.9).

Firing places the order on the paper exchange itself, the way a live broker's GTT fires at
the broker and not through us: ``exchange.place_order`` runs its usual checks, and the order
is announced after commit through the same order-changed notification as every paper order
(``exchange.order_listeners``, which orders/updates.py turns into the order stream). The
sandbox cannot import ``orders``, and placing through the ledger from here would need a
callback after the claim commits, where a crash between claim and placement loses the
order. Here the claim and the order commit in one transaction: both or neither.

Exactly once, even with two processes firing: the trigger is claimed with a conditional
UPDATE (``status='active'`` -> ``'triggered'``); the loser updates no row and places nothing.
Lock order: the trigger row, then the account row (inside ``exchange.place_order``); no path
takes them the other way round."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypedDict

from django.db import IntegrityError, transaction

from brokers.base import BrokerRejected, OrderRequest, Quote
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.gtt import (
    BOOK_TYPE,
    GTT_PRICETYPES,
    GTT_PRODUCTS,
    PRODUCT_ONLY_CNC_NRML,
    GttLeg,
    GttPriceUnavailable,
    GttRequest,
    GttStatus,
    GttTrigger,
    GttTriggerNotFound,
    GttType,
    fired_order_tag,
    rule_errors,
)
from brokers.sandbox import clock, exchange, prices
from brokers.sandbox.models import SandboxGtt
from brokers.selectors import InstrumentInfo, find_instrument
from core.values import ZERO

if TYPE_CHECKING:
    from brokers.sandbox.models import User

log = logging.getLogger(__name__)

STOPLOSS, TARGET = "sl", "tg"


# --- Checks ------------------------------------------------------------------------------------


def _legs(request: GttRequest) -> list[tuple[str, Decimal]]:
    """(leg, limit price) of each order the trigger may place."""
    if request.trigger_type == GttType.OCO:
        return [(STOPLOSS, request.stoploss or ZERO), (TARGET, request.target or ZERO)]
    return [(STOPLOSS if request.triggerprice_sl > 0 else TARGET, request.price)]


def _checked(request: GttRequest) -> InstrumentInfo:
    """The rules the API validated, checked again (an adapter trusts no caller), and every
    order the trigger may place checked as the exchange will check it when it fires."""
    errors = rule_errors(request.trigger_type, triggerprice_sl=request.triggerprice_sl,
                         triggerprice_tg=request.triggerprice_tg, stoploss=request.stoploss, target=request.target)
    if errors:
        raise exchange.SandboxRejection(next(iter(errors.values()))[0])
    if request.product not in GTT_PRODUCTS:
        raise exchange.SandboxRejection(PRODUCT_ONLY_CNC_NRML)
    if request.pricetype not in GTT_PRICETYPES:
        raise exchange.SandboxRejection(f"GTT orders are LIMIT or MARKET, not {request.pricetype}")
    info = exchange.instrument_for(request.symbol, str(request.exchange))
    for _leg, price in _legs(request):
        exchange.check_order_shape(info, exchange=str(request.exchange), product=request.product,
                                   pricetype=request.pricetype, quantity=request.quantity,
                                   price=price if request.pricetype == PriceType.LIMIT else ZERO,
                                   trigger_price=ZERO)
    for trigger in request.trigger_prices:
        if trigger % info.tick_size:
            raise exchange.SandboxRejection(f"Trigger price {trigger.normalize():f} is not a multiple of the "
                                            f"tick size {info.tick_size.normalize():f}")
    return info


def _last_price(info: InstrumentInfo, at: datetime) -> Decimal:
    quote = prices.quote(info, at)
    if quote is None or quote.ltp <= 0:
        raise GttPriceUnavailable()
    return quote.ltp


def crossed_leg(trigger_type: str, triggerprice_sl: Decimal, triggerprice_tg: Decimal, ltp: Decimal) -> str:
    """Which leg ``ltp`` fires: the stop-loss trigger fires at or below it, the target
    trigger at or above it. '' when neither."""
    if triggerprice_sl > 0 and ltp <= triggerprice_sl:
        return STOPLOSS
    if triggerprice_tg > 0 and ltp >= triggerprice_tg:
        return TARGET
    return ""


def _refuse_met(request: GttRequest, ltp: Decimal, at: datetime) -> None:
    """A trigger the price has already crossed would fire on the next tick: almost always a
    mistake (a stop-loss above the market), so it is refused, as live brokers refuse it; one
    that has already expired would never fire at all."""
    if crossed_leg(request.trigger_type, request.triggerprice_sl, request.triggerprice_tg, ltp):
        raise exchange.SandboxRejection(f"Trigger already met: the last price {ltp.normalize():f} has crossed it")
    if request.expires_at is not None and request.expires_at <= at:
        raise exchange.SandboxRejection("The GTT's expires_at is in the past")


class _GttFields(TypedDict):
    """The columns of a ``SandboxGtt`` that come from the trader's request."""

    trigger_type: GttType
    symbol: str
    exchange: str
    action: Action
    product: Product
    quantity: Decimal
    pricetype: PriceType
    price: Decimal
    triggerprice_sl: Decimal
    triggerprice_tg: Decimal
    stoploss: Decimal | None
    target: Decimal | None
    expires_at: datetime | None
    strategy: str


class _LegFields(TypedDict):
    """What the legs of one trigger share."""

    action: Action
    quantity: Decimal
    pricetype: PriceType
    product: Product


def _fields(request: GttRequest) -> _GttFields:
    single = request.trigger_type == GttType.SINGLE
    return {
        "trigger_type": request.trigger_type, "symbol": request.symbol, "exchange": str(request.exchange),
        "action": request.action, "product": request.product, "quantity": request.quantity,
        "pricetype": request.pricetype, "price": request.price if single else ZERO,
        "triggerprice_sl": request.triggerprice_sl, "triggerprice_tg": request.triggerprice_tg,
        "stoploss": None if single else request.stoploss, "target": None if single else request.target,
        "expires_at": request.expires_at, "strategy": request.strategy,
    }


# --- Place, modify, cancel, book ---------------------------------------------------------------


def place_gtt(user: User, request: GttRequest, *, at: datetime | None = None) -> str:
    at = at or clock.now()
    info = _checked(request)
    ltp = _last_price(info, at)
    _refuse_met(request, ltp, at)
    row = SandboxGtt(user=user, trigger_id=exchange.new_order_id(at), last_price=ltp, created_at=at,
                     **_fields(request))
    for _ in range(5):
        try:
            with transaction.atomic():
                row.save(force_insert=True)
            return row.trigger_id
        except IntegrityError:
            row.trigger_id = row.trigger_id[:6] + f"{secrets.randbelow(10**8):08d}"
    raise exchange.SandboxRejection("Could not allocate a trigger id; try again")


def _not_found(trigger_id: str) -> GttTriggerNotFound:
    return GttTriggerNotFound(f"Trigger {trigger_id} not found")


def modify_gtt(user: User, trigger_id: str, request: GttRequest, *, at: datetime | None = None) -> str:
    """Replace an active trigger whole; the last price is read again (502 without one)."""
    at = at or clock.now()
    current = SandboxGtt.objects.filter(user=user, trigger_id=trigger_id).first()
    if current is None:
        raise _not_found(trigger_id)
    if current.trigger_type != request.trigger_type:
        raise exchange.SandboxRejection(f"Cannot change a {current.trigger_type} GTT into {request.trigger_type}; "
                                        "cancel it and place a new one")
    if (current.symbol, current.exchange, current.action) != (request.symbol, str(request.exchange),
                                                               str(request.action)):
        raise exchange.SandboxRejection("Cannot change the symbol, exchange or action of a GTT; "
                                        "cancel it and place a new one")
    info = _checked(request)
    ltp = _last_price(info, at)
    _refuse_met(request, ltp, at)
    # Conditional on still being active, so a trigger that fired meanwhile is never rewritten.
    changed = SandboxGtt.objects.filter(pk=current.pk, status=GttStatus.ACTIVE).update(
        last_price=ltp, updated_at=at, **_fields(request))
    if not changed:
        status = SandboxGtt.objects.filter(pk=current.pk).values_list("status", flat=True).first()
        raise exchange.SandboxRejection(f"Cannot modify trigger in {status} status")
    return trigger_id


def cancel_gtt(user: User, trigger_id: str, *, at: datetime | None = None) -> str:
    """Cancel an active trigger (both legs of an OCO at once)."""
    at = at or clock.now()
    cancelled = SandboxGtt.objects.filter(user=user, trigger_id=trigger_id, status=GttStatus.ACTIVE).update(
        status=GttStatus.CANCELLED, updated_at=at)
    if not cancelled:
        status = SandboxGtt.objects.filter(user=user, trigger_id=trigger_id).values_list("status", flat=True).first()
        if status is None:
            raise _not_found(trigger_id)
        raise exchange.SandboxRejection(f"Cannot cancel trigger in {status} status")
    return trigger_id


def as_trigger(row: SandboxGtt) -> GttTrigger:
    base: _LegFields = {"action": Action(row.action), "quantity": row.quantity, "pricetype": PriceType(row.pricetype),
            "product": Product(row.product)}
    prices_: tuple[Decimal, ...]
    legs: tuple[GttLeg, ...]
    if row.trigger_type == GttType.OCO:
        prices_ = (row.triggerprice_sl, row.triggerprice_tg)
        legs = (GttLeg(price=row.stoploss or ZERO, **base), GttLeg(price=row.target or ZERO, **base))
    else:
        prices_ = (row.triggerprice_sl or row.triggerprice_tg,)
        legs = (GttLeg(price=row.price, **base),)
    return GttTrigger(
        trigger_id=row.trigger_id, trigger_type=BOOK_TYPE[GttType(row.trigger_type)], status=GttStatus(row.status),
        symbol=row.symbol, exchange=Exchange(row.exchange), trigger_prices=prices_, last_price=row.last_price,
        legs=legs, created_at=row.created_at, updated_at=row.updated_at, expires_at=row.expires_at,
    )


def gtt_book(user: User, *, at: datetime | None = None) -> list[GttTrigger]:
    """The user's active triggers, oldest first, after firing or expiring what is due."""
    fire_due(user=user, at=at)
    rows = SandboxGtt.objects.filter(user=user, status=GttStatus.ACTIVE).order_by("created_at", "pk")
    return [as_trigger(row) for row in rows]


# --- Firing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Armed:
    """What the fill engine needs to decide whether an active trigger is due, held in memory."""

    pk: int
    trigger_type: str
    triggerprice_sl: Decimal
    triggerprice_tg: Decimal
    expires_at: datetime | None

    def due(self, ltp: Decimal, at: datetime) -> bool:
        """Expired, or crossed by ``ltp``: only then is anything written."""
        return (self.expires_at is not None and self.expires_at <= at) or bool(
            crossed_leg(self.trigger_type, self.triggerprice_sl, self.triggerprice_tg, ltp))


_ARMED_FIELDS = ("pk", "trigger_type", "triggerprice_sl", "triggerprice_tg", "expires_at")


def active_keys() -> set[tuple[str, str]]:
    """(exchange, symbol) of every active trigger: the instruments whose ticks matter."""
    return set(SandboxGtt.objects.filter(status=GttStatus.ACTIVE).values_list("exchange", "symbol").distinct())


def armed_triggers() -> dict[tuple[str, str], tuple[Armed, ...]]:
    """Every active trigger by (exchange, symbol), oldest first: one read, for the engine's memory."""
    book: dict[tuple[str, str], list[Armed]] = {}
    rows = SandboxGtt.objects.filter(status=GttStatus.ACTIVE).order_by("created_at", "pk")
    for exchange_code, symbol, *fields in rows.values_list("exchange", "symbol", *_ARMED_FIELDS):
        book.setdefault((exchange_code, symbol), []).append(Armed(*fields))
    return {key: tuple(armed) for key, armed in book.items()}


def fire_armed(armed: Iterable[Armed], quote: Quote, at: datetime) -> tuple[int, int]:
    """Decide ``armed`` (a tick's instrument's triggers) against ``quote`` in memory, then write
    only for the due ones: an expiry is one conditional UPDATE (still active and still past its
    date), a firing claims the row and decides again on what it claimed (``fire``). A tick that
    crosses nothing writes nothing. Returns (fired, due): how many placed their order, and how
    many were written for at all (the engine re-reads its memory after any)."""
    fired = due = 0
    for trigger in armed:
        if not trigger.due(quote.ltp, at):
            continue
        due += 1
        if trigger.expires_at is not None and trigger.expires_at <= at:
            SandboxGtt.objects.filter(pk=trigger.pk, status=GttStatus.ACTIVE, expires_at__lte=at).update(
                status=GttStatus.EXPIRED, updated_at=at)
        else:
            fired += fire(trigger.pk, quote.ltp, at)
    return fired, due


def fire_triggers(exchange_code: str, symbol: str, quote: Quote, at: datetime | None = None,
                  *, user: User | None = None) -> int:
    """A tick of ``exchange_code:symbol`` arrived: expire what is past its date, then fire
    every active trigger its last price crosses. One read; writes only for the triggers that
    expire or fire. Returns the number fired."""
    at = at or clock.now()
    active = SandboxGtt.objects.filter(status=GttStatus.ACTIVE, exchange=exchange_code, symbol=symbol)
    if user is not None:
        active = active.filter(user=user)
    rows = active.order_by("created_at", "pk").values_list(*_ARMED_FIELDS)
    return fire_armed([Armed(*row) for row in rows], quote, at)[0]


def _leg_price(row: SandboxGtt, leg: str) -> Decimal:
    if row.trigger_type == GttType.OCO:
        return (row.stoploss if leg == STOPLOSS else row.target) or ZERO
    return row.price


def fire(pk: int, ltp: Decimal, at: datetime) -> bool:
    """Claim one trigger and place the order of the leg ``ltp`` crossed, in one transaction.
    False when another process claimed it first (or a modify moved it out of reach)."""
    with transaction.atomic():
        claimed = SandboxGtt.objects.filter(pk=pk, status=GttStatus.ACTIVE).update(
            status=GttStatus.TRIGGERED, updated_at=at)
        if not claimed:
            return False
        row = SandboxGtt.objects.select_related("user").get(pk=pk)  # the claimed row, as it is now
        leg = crossed_leg(row.trigger_type, row.triggerprice_sl, row.triggerprice_tg, ltp)
        if not leg:
            transaction.set_rollback(True)  # modified since it was read: not crossed any more
            return False
        price = _leg_price(row, leg)
        request = OrderRequest(
            symbol=row.symbol, exchange=Exchange(row.exchange), action=Action(row.action), quantity=row.quantity,
            product=Product(row.product), pricetype=PriceType(row.pricetype),
            price=price if row.pricetype == PriceType.LIMIT else ZERO,
            strategy=row.strategy, tag=fired_order_tag(row.trigger_id),
        )
        row.fired_leg = leg
        try:
            placed = exchange.place_order(row.user, request, at=at)
            row.orderid = placed.orderid
        except BrokerRejected as exc:
            # The trigger fired and is spent, as at a live broker; the refusal is kept on it.
            row.status, row.message, row.orderid = GttStatus.REJECTED, exc.message, exc.orderid
            log.info("GTT %s fired but its order was refused: %s", row.trigger_id, exc.message)
        row.save(update_fields=["status", "fired_leg", "orderid", "message"])
    return True


def fire_due(*, user: User | None = None, at: datetime | None = None) -> int:
    """Check every active trigger (of ``user``, or everyone) against the current price: the
    poller's pass, and what a GTT book read runs first so it shows only what still waits."""
    at = at or clock.now()
    rows = SandboxGtt.objects.filter(status=GttStatus.ACTIVE)
    if user is not None:
        rows = rows.filter(user=user)
    book: dict[tuple[str, str], list[Armed]] = {}
    for exchange_code, symbol, *fields in rows.order_by("created_at", "pk").values_list(
            "exchange", "symbol", *_ARMED_FIELDS):
        book.setdefault((exchange_code, symbol), []).append(Armed(*fields))
    fired = 0  # one read of them all, decided in memory; writes only for the due ones
    for (exchange_code, symbol), armed in sorted(book.items()):
        info = find_instrument(broker=exchange.BROKER, exchange=exchange_code, symbol=symbol)
        quote = prices.quote(info, at) if info else None
        if quote is not None:
            fired += fire_armed(armed, quote, at)[0]
    return fired
