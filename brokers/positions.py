"""Net position, average price and P&L, computed in one place for every live broker.

An adapter reads what its broker reports about a position (today's bought and sold
quantities and values, the carried-forward quantity and price, the last price, and a
price multiplier for currency and commodity contracts) into ``PositionTotals``, or hands
its trade book to ``positions_from_trades``; it never derives P&L in its own mapping.

The rules, the same as an exchange's contract note:
- bought and sold quantities are matched first: the matched part realises
  ``(average sell - average buy) * matched * multiplier``;
- the open remainder carries the average price of its side;
- unrealised P&L is ``(ltp - average) * net * multiplier``; P&L is their sum."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from brokers.base import Position, Trade
from brokers.enums import Action, Exchange, Product

ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class PositionTotals:
    """One position as a broker reports it. Quantities are units, values are quantity x price.
    ``carry_quantity`` is signed (overnight long > 0, short < 0) at ``carry_price``."""

    symbol: str
    exchange: Exchange
    product: Product
    buy_quantity: Decimal = ZERO
    buy_value: Decimal = ZERO
    sell_quantity: Decimal = ZERO
    sell_value: Decimal = ZERO
    ltp: Decimal = ZERO
    carry_quantity: Decimal = ZERO
    carry_price: Decimal = ZERO
    multiplier: Decimal = ONE
    lot_size: int = 1


def position_of(totals: PositionTotals) -> Position:
    bought, bought_value = totals.buy_quantity, totals.buy_value
    sold, sold_value = totals.sell_quantity, totals.sell_value
    if totals.carry_quantity > 0:
        bought += totals.carry_quantity
        bought_value += totals.carry_quantity * totals.carry_price
    elif totals.carry_quantity < 0:
        sold += -totals.carry_quantity
        sold_value += -totals.carry_quantity * totals.carry_price
    average_buy = bought_value / bought if bought else ZERO
    average_sell = sold_value / sold if sold else ZERO
    matched = min(bought, sold)
    realized = (average_sell - average_buy) * matched * totals.multiplier
    net = bought - sold
    average = average_buy if net > 0 else average_sell if net < 0 else ZERO
    unrealized = (totals.ltp - average) * net * totals.multiplier if net else ZERO
    return Position(symbol=totals.symbol, exchange=totals.exchange, product=totals.product, quantity=net,
                    average_price=_money(average), ltp=totals.ltp, pnl=_money(realized + unrealized),
                    realized_pnl=_money(realized), unrealized_pnl=_money(unrealized), lot_size=totals.lot_size)


def positions_from_trades(trades: Iterable[Trade], ltp: Callable[[str, Exchange], Decimal],
                          multiplier: Callable[[str, Exchange], Decimal] | None = None) -> list[Position]:
    """Today's net positions from a trade book (for brokers whose positions call lacks
    what is needed), one per (symbol, exchange, product), in first-traded order."""
    totals: dict[tuple[str, Exchange, Product], dict[str, Decimal]] = {}
    for trade in trades:
        row = totals.setdefault((trade.symbol, trade.exchange, trade.product),
                                {"bq": ZERO, "bv": ZERO, "sq": ZERO, "sv": ZERO})
        side = "b" if trade.action == Action.BUY else "s"
        row[f"{side}q"] += trade.quantity
        row[f"{side}v"] += trade.quantity * trade.average_price
    return [position_of(PositionTotals(symbol=symbol, exchange=exchange, product=product,
                                       buy_quantity=row["bq"], buy_value=row["bv"], sell_quantity=row["sq"],
                                       sell_value=row["sv"], ltp=ltp(symbol, exchange),
                                       multiplier=multiplier(symbol, exchange) if multiplier else ONE))
            for (symbol, exchange, product), row in totals.items()]


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))
