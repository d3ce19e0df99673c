"""Session rules of the paper exchange: the daily roll (day orders expire, MIS squared off,
expired contracts settled, CNC buys settle into holdings T+1), MIS square-off at the
exchange cut-off, and the account reset. All of it runs lazily under the account lock,
and from the beat task, so nothing depends on a process having been up at the time."""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from brokers.enums import Action, OrderStatus, PriceType, Product
from brokers.sandbox import clock, config, prices
from brokers.sandbox.fills import announce, cancel, fill, save_new_order
from brokers.sandbox.models import Account, SandboxHolding, SandboxOrder, SandboxPosition, SandboxTrade
from brokers.sandbox.rules import new_order_id
from brokers.selectors import find_instrument
from core.dblocks import creation_turns
from core.values import ZERO

if TYPE_CHECKING:
    from brokers.sandbox.models import User

log = logging.getLogger(__name__)

SQUARE_OFF_STRATEGY = "Squareoff"
EXPIRY_SETTLEMENT_TIME = time(15, 30)


def ensure_current(user: User, at: datetime) -> None:
    """Roll the account to the current session (and square off what is due) in a transaction
    of its own, so a later rejection cannot roll the settlement back. Decided first without a
    lock: an account already current (every order but the first of a session) costs one read,
    not a write transaction (on SQLite every transaction is a turn of the one writer)."""
    if not roll_due(user, at):
        return
    with transaction.atomic():
        locked_account(user, at)


def roll_due(user: User, at: datetime) -> bool:
    """Whether ``locked_account`` would change anything at ``at``: no account yet, an account
    of a past session, or (under exchange hours) an open MIS position past its cut-off. Only
    time makes a roll due, so an unlocked read never misses one at ``at``."""
    session = Account.objects.filter(user=user).values_list("session_date", flat=True).first()
    today = clock.session_date(at)
    if session is None or session < today:
        return True
    if clock.always_open():
        return False
    exchanges = set(SandboxPosition.objects.filter(user=user, product=Product.MIS).exclude(quantity=0)
                    .values_list("exchange", flat=True))
    if not exchanges:
        return False
    times = config.square_off_for(user.pk)
    return any(at >= clock.square_off_instant(exchange, today, times) for exchange in exchanges)


def locked_account(user: User, at: datetime) -> Account:
    """The user's account, row-locked for this transaction and rolled to the current session."""
    account = Account.objects.select_for_update().filter(user=user).first()
    if account is None:
        with creation_turns(f"sandbox-account:{user.pk}"):  # a locking read waits for the previous turn's row
            if Account.objects.select_for_update().filter(user=user).first() is None:
                try:
                    with transaction.atomic():
                        Account.objects.create(user=user, session_date=clock.session_date(at))
                except IntegrityError:
                    pass  # created concurrently
            account = Account.objects.select_for_update().get(user=user)
    roll_forward(account, at)
    return account


def roll_forward(account: Account, at: datetime) -> None:
    """Bring a locked account from its last session to the one ``at`` falls in."""
    current = clock.session_date(at)
    if account.session_date < current:
        stale = SandboxOrder.objects.select_for_update().filter(
            user_id=account.user_id, status__in=(OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING),
            session_date__lt=current)
        for order in stale.order_by("pk"):
            cancel(account, order, clock.session_start(current), "Day order expired at the end of the session")
        times = config.square_off_for(account.user_id)
        for position in _open_positions(account).filter(product=Product.MIS, session_date__lt=current):
            close_position(account, position,
                           clock.square_off_instant(position.exchange, position.session_date, times))
        _settle_expired(account, current)
        _settle_deliveries(account, current)
        SandboxPosition.objects.filter(user_id=account.user_id, quantity=0).delete()
        SandboxPosition.objects.filter(user_id=account.user_id).update(today_realized_pnl=ZERO,
                                                                       session_date=current)
        account.today_realized_pnl = ZERO
        account.session_date = current
        account.save()
    if not clock.always_open():
        square_off_if_due(account, at)


def _open_positions(account: Account) -> QuerySet[SandboxPosition]:
    positions = SandboxPosition.objects.select_for_update().filter(user_id=account.user_id).exclude(quantity=0)
    return positions.order_by("pk")  # locked in one order, whatever the plan


def close_position(account: Account, position: SandboxPosition, at: datetime,
                   strategy: str = SQUARE_OFF_STRATEGY) -> SandboxOrder | None:
    """Square ``position`` off with a MARKET order filled at the price of instant ``at``."""
    info = find_instrument(broker="sandbox", exchange=position.exchange, symbol=position.symbol)
    quote = prices.quote(info, at) if info else None
    if info is None or quote is None:
        log.error("No price to square off %s:%s for user %s", position.exchange, position.symbol,
                  account.user_id)
        return None
    action = Action.SELL if position.quantity > 0 else Action.BUY
    order = SandboxOrder(
        user_id=account.user_id, orderid=new_order_id(at), symbol=position.symbol, exchange=position.exchange,
        action=action, quantity=abs(position.quantity), pricetype=PriceType.MARKET, product=position.product,
        status=OrderStatus.OPEN, strategy=strategy, session_date=position.session_date, created_at=at,
        updated_at=at,
    )
    save_new_order(order)
    fill(account, order, info, (quote.bid if action == Action.SELL else quote.ask) or quote.ltp, at)
    position.refresh_from_db()
    announce(order)
    return order


def square_off_if_due(account: Account, at: datetime) -> int:
    """Under exchange hours: close MIS positions whose exchange passed its cut-off today."""
    today = clock.session_date(at)
    closed = 0
    times = config.square_off_for(account.user_id)
    for position in _open_positions(account).filter(product=Product.MIS):
        instant = clock.square_off_instant(position.exchange, today, times)
        if at >= instant:
            closed += close_position(account, position, instant) is not None
    if closed:
        account.save()
    return closed


def _settle_expired(account: Account, current: date) -> None:
    for position in _open_positions(account):
        info = find_instrument(broker="sandbox", exchange=position.exchange, symbol=position.symbol)
        if info is None or info.expiry is None or info.expiry >= current:
            continue
        instant = datetime.combine(info.expiry, EXPIRY_SETTLEMENT_TIME, clock.IST)
        close_position(account, position, instant, strategy="Expiry")


def _settle_deliveries(account: Account, current: date) -> None:
    """CNC buys of past sessions become holdings, available from the new session (T+1)."""
    for position in SandboxPosition.objects.select_for_update().filter(
            user_id=account.user_id, product=Product.CNC, quantity__gt=0).order_by("pk"):
        holding, _ = SandboxHolding.objects.select_for_update().get_or_create(
            user_id=account.user_id, symbol=position.symbol, exchange=position.exchange,
            defaults={"settlement_date": current})
        cost = position.margin  # CNC is 1x: the margin is what the shares cost
        old_value = holding.average_price * holding.quantity
        total = holding.quantity + position.quantity
        holding.average_price = ((old_value + cost) / total).quantize(Decimal("0.0001"))
        holding.quantity = total
        holding.settlement_date = current
        holding.updated_at = timezone.now()
        holding.save()
        account.used_margin -= cost
        # Rounding of the new average stays in cash, so the books balance to the paisa.
        account.cash += old_value + cost - holding.average_price * total
        position.quantity = ZERO
        position.margin = ZERO
        position.average_price = ZERO
        position.save()


def square_off_all_due(at: datetime | None = None) -> int:
    """Beat task body: roll every account that has something to roll or square off."""
    at = at or clock.now()
    closed = 0
    users = set(SandboxPosition.objects.exclude(quantity=0).values_list("user_id", flat=True))
    users |= set(SandboxOrder.objects.filter(status__in=(OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING))
                 .values_list("user_id", flat=True))
    for user_id in sorted(users):
        with transaction.atomic():
            account = Account.objects.select_for_update().filter(user_id=user_id).first()
            if account is not None:
                before = SandboxOrder.objects.filter(user_id=user_id).count()
                roll_forward(account, at)
                closed += SandboxOrder.objects.filter(user_id=user_id).count() - before
    return closed


class OrdersStillWorking(Exception):
    """A reset asked not to strand working orders found some."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} sandbox order(s) are still working: cancel them first, then reset.")
        self.count = count


def reset_account(user: User, *, at: datetime | None = None, keep_working: bool = False) -> Account:
    """Start over: every paper order, trade, position and holding gone, capital restored.
    With ``keep_working`` a reset is refused (OrdersStillWorking) while orders are working,
    checked under the account lock so none can slip in between."""
    at = at or clock.now()
    with transaction.atomic():
        account = locked_account(user, at)
        if keep_working and (count := working_orders(user)):
            raise OrdersStillWorking(count)
        SandboxTrade.objects.filter(user=user).delete()
        SandboxOrder.objects.filter(user=user).delete()
        SandboxPosition.objects.filter(user=user).delete()
        SandboxHolding.objects.filter(user=user).delete()
        account.cash = account.starting_capital
        account.used_margin = account.realized_pnl = account.today_realized_pnl = ZERO
        account.reset_count += 1
        account.last_reset = at
        account.save()
    return account


def working_orders(user: User) -> int:
    """Paper orders still working (open or trigger pending): a reset would strand them."""
    return SandboxOrder.objects.filter(user=user, status__in=(OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)).count()


MIN_CAPITAL, MAX_CAPITAL = Decimal(10_000), Decimal(10_000_000_000)  # ₹10 thousand to ₹1,000 crore


def set_starting_capital(user: User, amount: Decimal, *, at: datetime | None = None) -> Decimal:
    """Change the paper capital; the difference is added to (or taken from) the free cash at
    once, so the books keep balancing. Returns the previous capital."""
    if not isinstance(amount, Decimal) or not amount.is_finite() or not MIN_CAPITAL <= amount <= MAX_CAPITAL:
        raise config.InvalidSettings({"starting_capital": f"Capital must be between {MIN_CAPITAL:,} and "
                                                          f"{MAX_CAPITAL:,}."})
    if amount != amount.quantize(Decimal("0.01")):
        raise config.InvalidSettings({"starting_capital": "Capital may have at most 2 decimal places."})
    at = at or clock.now()
    with transaction.atomic():
        account = locked_account(user, at)
        previous = account.starting_capital
        delta = amount - previous
        if account.cash + delta < 0:
            raise config.InvalidSettings({"starting_capital": (
                f"Capital cannot drop by more than the free cash ({account.cash:,.2f}): "
                f"{account.used_margin:,.2f} is blocked as margin.")})
        account.starting_capital = amount
        account.cash += delta
        account.save(update_fields=["starting_capital", "cash"])
    return previous


def starting_capital(user: User) -> Decimal:
    capital = Account.objects.filter(user=user).values_list("starting_capital", flat=True).first()
    return capital if capital is not None else Account._meta.get_field("starting_capital").default
