"""What happens to a paper order once it exists: stored under a fresh id, filled (trade,
position, holding, margin), cancelled, and announced to whoever listens for order
changes (brokers.signals.order_changed) once the change commits."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from brokers.base import BrokerOrder
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.sandbox import accounting, config
from brokers.sandbox.models import Account, SandboxHolding, SandboxOrder, SandboxPosition, SandboxTrade
from brokers.sandbox.rules import BROKER, SandboxRejection
from brokers.selectors import InstrumentInfo
from brokers.signals import order_changed
from core.values import ZERO

log = logging.getLogger(__name__)


def broker_order(row: SandboxOrder) -> BrokerOrder:
    """A paper order as the contract's dataclass."""
    return BrokerOrder(
        orderid=row.orderid, symbol=row.symbol, exchange=Exchange(row.exchange), action=Action(row.action),
        quantity=row.quantity, price=row.price, trigger_price=row.trigger_price,
        pricetype=PriceType(row.pricetype), product=Product(row.product), status=OrderStatus(row.status),
        timestamp=row.created_at, filled_quantity=row.filled_quantity, average_price=row.average_price,
        rejection_reason=row.rejection_reason, strategy=row.strategy, tag=row.tag,
    )


def announce(order: SandboxOrder) -> None:
    """Tell the listeners of ``order_changed`` about this order once the change commits
    (a rolled-back change is never announced). Its state is taken now."""
    snapshot = broker_order(order)
    user_id = order.user_id

    def send() -> None:
        for receiver, error in order_changed.send_robust(sender=BROKER, user_id=user_id, order=snapshot,
                                                             paper=True):
            if error is not None:  # an order update must never undo or block the order
                log.error("Order listener %s failed for %s: %r", receiver, snapshot.orderid, error)

    transaction.on_commit(send)


def save_new_order(order: SandboxOrder) -> None:
    for _ in range(5):
        try:
            with transaction.atomic():
                order.save(force_insert=True)
            return
        except IntegrityError:
            order.orderid = order.orderid[:6] + f"{secrets.randbelow(10**8):08d}"
    raise SandboxRejection("Could not allocate an order id; try again")


def fill(account: Account, order: SandboxOrder, info: InstrumentInfo, price: Decimal, at: datetime) -> None:
    """Fill ``order`` completely at ``price``: trade row, position, margin, status."""
    price = price.quantize(Decimal("0.0001"))
    quantity = order.quantity - order.filled_quantity
    from_holding, holding = ZERO, None
    realized = ZERO
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
        assert holding is not None  # selling from holdings passed the check above, so there is one
        realized += accounting.sell_from_holding(account, holding, from_holding, price)
        holding.updated_at = at
        holding.save() if holding.quantity else holding.delete()
    if quantity - from_holding:
        position, _ = SandboxPosition.objects.select_for_update().get_or_create(
            user_id=order.user_id, symbol=order.symbol, exchange=order.exchange, product=order.product,
            defaults={"session_date": account.session_date, "lot_size": info.lotsize},
        )
        realized += accounting.apply_fill(account, position, info, order.action, quantity - from_holding, price,
                                          config.leverage_for(order.user_id))
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
        strategy=order.strategy, session_date=account.session_date, created_at=at, realized_pnl=realized,
    )




def cancel(account: Account, order: SandboxOrder, at: datetime, reason: str = "") -> None:
    """Cancel a working order of a locked account: its blocked margin comes back."""
    accounting.release(account, order.blocked_margin)
    order.blocked_margin = ZERO
    order.status = OrderStatus.CANCELLED
    order.rejection_reason = reason or order.rejection_reason
    order.updated_at = at
    order.save()
    announce(order)
