"""Reads of the paper exchange as the contract's dataclasses: order book, trade book,
positions (marked to the simulated price), holdings, funds and margin."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Model, QuerySet

from brokers.base import (
    BrokerOrder,
    Funds,
    Holding,
    MarginLeg,
    MarginResult,
    OrderNotFound,
    Position,
    Trade,
)
from brokers.enums import Action, Exchange, OrderStatus, PriceType, Product
from brokers.sandbox import accounting, clock, prices
from brokers.sandbox.fills import broker_order
from brokers.sandbox.models import (
    STARTING_CAPITAL,
    Account,
    SandboxHolding,
    SandboxOrder,
    SandboxPosition,
    SandboxTrade,
)
from brokers.sandbox.rules import BROKER, SandboxRejection, instrument_for
from brokers.selectors import find_instrument
from core.values import ZERO

if TYPE_CHECKING:
    from brokers.sandbox.models import User


def _session(user: User, at: datetime) -> date:
    account = Account.objects.filter(user=user).only("session_date").first()
    current = clock.session_date(at)
    return current if account is None else max(current, account.session_date)


_BOOK_FIELDS = ("orderid", "symbol", "exchange", "action", "quantity", "price", "trigger_price", "pricetype",
                "product", "status", "created_at", "filled_quantity", "average_price", "rejection_reason",
                "strategy", "tag")


def _raw(queryset: QuerySet[Model, tuple[object, ...]]) -> list[tuple[Any, ...]]:
    """Rows of ``queryset`` straight from the driver, skipping Django's per-value
    converters (on SQLite they cost more than the query itself for a busy book)."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()  # the driver's values, as they come
        return rows


def _decimal(value: Decimal | float | int | str) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def order_book(user: User, at: datetime | None = None) -> list[BrokerOrder]:
    """Today's orders (the current session), newest first."""
    at = at or clock.now()
    rows = SandboxOrder.objects.filter(user=user, session_date=_session(user, at)).order_by("-created_at", "-pk")
    exchange_of = {m.value: m for m in Exchange}
    action_of = {m.value: m for m in Action}
    pricetype_of = {m.value: m for m in PriceType}
    product_of = {m.value: m for m in Product}
    status_of = {m.value: m for m in OrderStatus}
    d = _decimal
    return [
        BrokerOrder(orderid=o, symbol=sym, exchange=exchange_of[ex], action=action_of[act], quantity=d(q),
                    price=d(p), trigger_price=d(tp), pricetype=pricetype_of[pt], product=product_of[pr],
                    status=status_of[st], timestamp=_moment(ts), filled_quantity=d(fq), average_price=d(ap),
                    rejection_reason=rr, strategy=sg, tag=tg)
        for o, sym, ex, act, q, p, tp, pt, pr, st, ts, fq, ap, rr, sg, tg in _raw(rows.values_list(*_BOOK_FIELDS))
    ]


def order(user: User, orderid: str) -> BrokerOrder:
    row = SandboxOrder.objects.filter(user=user, orderid=orderid).first()
    if row is None:
        raise OrderNotFound(f"Order {orderid} not found")
    return broker_order(row)


def trade_book(user: User, at: datetime | None = None) -> list[Trade]:
    at = at or clock.now()
    rows = SandboxTrade.objects.filter(user=user, session_date=_session(user, at)).order_by("-created_at", "-pk")
    fields = ("tradeid", "symbol", "exchange", "action", "product", "quantity", "price", "created_at", "strategy")
    return [
        Trade(orderid=tid[1:], symbol=sym, exchange=Exchange(ex), action=Action(act), product=Product(pr),
              quantity=_decimal(q), average_price=_decimal(p), timestamp=_moment(ts), tradeid=tid, strategy=sg)
        for tid, sym, ex, act, pr, q, p, ts, sg in _raw(rows.values_list(*fields))
    ]


def _ltp(symbol: str, exchange: str, at: datetime) -> Decimal | None:
    info = find_instrument(broker=BROKER, exchange=exchange, symbol=symbol)
    quote = prices.quote(info, at) if info else None
    return quote.ltp if quote else None


def positions(user: User, at: datetime | None = None) -> list[Position]:
    """Open positions and the ones closed today (quantity 0, still showing today's P&L)."""
    at = at or clock.now()
    result = []
    for row in SandboxPosition.objects.filter(user=user).order_by("pk"):
        if not row.quantity and row.session_date < _session(user, at):
            continue
        ltp = _ltp(row.symbol, row.exchange, at) if row.quantity else None
        ltp = ltp if ltp is not None else row.average_price
        unrealized = accounting.unrealized(row, ltp)
        result.append(Position(
            symbol=row.symbol, exchange=Exchange(row.exchange), product=Product(row.product),
            quantity=row.quantity, average_price=row.average_price, ltp=ltp,
            pnl=unrealized + row.today_realized_pnl, realized_pnl=row.today_realized_pnl,
            unrealized_pnl=unrealized, lot_size=row.lot_size,
        ))
    return result


def holdings(user: User, at: datetime | None = None) -> list[Holding]:
    at = at or clock.now()
    result = []
    for row in SandboxHolding.objects.filter(user=user, quantity__gt=0).order_by("symbol"):
        ltp = _ltp(row.symbol, row.exchange, at)
        result.append(Holding(symbol=row.symbol, exchange=Exchange(row.exchange), quantity=row.quantity,
                              average_price=row.average_price, ltp=ltp if ltp is not None else row.average_price,
                              settlement_date=row.settlement_date))
    return result


def funds(user: User, at: datetime | None = None) -> Funds:
    at = at or clock.now()
    account = Account.objects.filter(user=user).first()
    if account is None:

        return Funds(availablecash=STARTING_CAPITAL, collateral=ZERO, m2mrealized=ZERO, m2munrealized=ZERO,
                     utiliseddebits=ZERO, extra={"total_realized_pnl": ZERO, "reset_count": 0})
    open_rows = SandboxPosition.objects.filter(user=user).exclude(quantity=0)
    unrealized = ZERO
    exposure = ZERO
    for row in open_rows:
        ltp = _ltp(row.symbol, row.exchange, at) or row.average_price
        unrealized += accounting.unrealized(row, ltp)
        exposure += abs(row.quantity) * ltp
    today = account.today_realized_pnl if account.session_date >= clock.session_date(at) else ZERO
    return Funds(
        availablecash=account.cash, collateral=ZERO, m2mrealized=today, m2munrealized=unrealized,
        utiliseddebits=account.used_margin,
        extra={"total_realized_pnl": account.realized_pnl, "grossexposure": exposure,
               "totalpnl": today + unrealized, "last_reset": clock.ist_text(account.last_reset),
               "reset_count": account.reset_count},
    )


def margin(legs: Sequence[MarginLeg], at: datetime | None = None,
           table: Mapping[str, object] | None = None) -> MarginResult:
    """Margin the sandbox would block for these legs, from its (or the trader's) leverage table (§6.8)."""
    at = at or clock.now()
    total = ZERO
    for number, leg in enumerate(legs, start=1):
        try:
            info = instrument_for(leg.symbol, str(leg.exchange))
        except SandboxRejection as exc:
            raise SandboxRejection(f"Position {number}: {exc.message}") from None
        price = leg.price if leg.pricetype in (PriceType.LIMIT, PriceType.SL) else leg.trigger_price
        if not price:
            quote = prices.quote(info, at)
            if quote is None:
                raise SandboxRejection(f"Position {number}: no price available for {leg.symbol}")
            price = quote.ltp
        total += accounting.margin_for(info, leg.product, leg.quantity, price, table)
    return MarginResult(total_margin_required=total, span_margin=ZERO, exposure_margin=total)
