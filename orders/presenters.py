"""Domain results as the contract's JSON (spec §6): rounding, number-vs-string choices,
IST timestamps, and the paper engine's extra keys."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from brokers.base import BrokerOrder, Funds, Holding, Position, Trade
from brokers.enums import Exchange, OrderStatus, PriceType
from core.values import IST

CENT = Decimal("0.01")


def money(value: Decimal | float | int | None) -> float:
    """A price for JSON: a number rounded to 2 decimals (float rounding is exact enough for
    display of values that are already on a 0.05 or 0.0025 tick, and 5x cheaper)."""
    if value is None:
        return 0.0
    return round(float(value), 2)


def money_text(value: Decimal | None) -> str:
    return f"{Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP):.2f}"


def qty(value: Decimal, exchange: Exchange | str | None = None) -> int | float:
    """Quantities are integers, floats only for CRYPTO (spec §2.8)."""
    if str(exchange) == Exchange.CRYPTO:
        return float(value)
    return int(value)


def ist(at, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return at.astimezone(IST).strftime(fmt) if at else ""


def order_row(order: BrokerOrder, paper: bool) -> dict:
    row = {
        "orderid": order.orderid, "symbol": order.symbol, "exchange": str(order.exchange),
        "action": str(order.action), "quantity": qty(order.quantity, order.exchange),
        "price": 0.0 if order.pricetype == PriceType.MARKET else money(order.price),
        "trigger_price": money(order.trigger_price), "pricetype": str(order.pricetype),
        "product": str(order.product), "order_status": str(order.status), "timestamp": ist(order.timestamp),
    }
    if paper:
        row.update({
            "average_price": money(order.average_price),
            "filled_quantity": qty(order.filled_quantity, order.exchange),
            "pending_quantity": qty(order.pending_quantity, order.exchange),
            "rejection_reason": order.rejection_reason, "strategy": order.strategy,
        })
    return row


def order_book(orders: list[BrokerOrder], paper: bool) -> dict:
    return {"orders": [order_row(o, paper) for o in orders], "statistics": order_statistics(orders, paper)}


def order_statistics(orders: list[BrokerOrder], paper: bool) -> dict:
    def count(status: OrderStatus) -> int:
        return sum(1 for o in orders if o.status == status)

    statistics = {
        "total_buy_orders": sum(1 for o in orders if o.action == "BUY"),
        "total_sell_orders": sum(1 for o in orders if o.action == "SELL"),
        "total_completed_orders": count(OrderStatus.COMPLETE),
        "total_open_orders": count(OrderStatus.OPEN),
        "total_rejected_orders": count(OrderStatus.REJECTED),
    }
    if paper:
        statistics["total_trigger_pending_orders"] = count(OrderStatus.TRIGGER_PENDING)
    return statistics


def order_status(order: BrokerOrder, paper: bool) -> dict:
    complete = order.status == OrderStatus.COMPLETE
    data = {
        "orderid": order.orderid, "symbol": order.symbol, "exchange": str(order.exchange),
        "action": str(order.action), "quantity": qty(order.quantity, order.exchange),
        "price": 0.0 if order.pricetype == PriceType.MARKET else money(order.price),
        "trigger_price": money(order.trigger_price), "pricetype": str(order.pricetype),
        "product": str(order.product), "order_status": str(order.status),
        "average_price": money(order.average_price) if complete else 0,
        "timestamp": ist(order.timestamp, "%d-%b-%Y %H:%M:%S"),
    }
    if paper:
        data.update({
            "filled_quantity": qty(order.filled_quantity, order.exchange),
            "pending_quantity": qty(order.pending_quantity, order.exchange),
            "strategy": order.strategy,
        })
    return data


def trade_row(trade: Trade, paper: bool) -> dict:
    row = {
        "orderid": trade.orderid, "symbol": trade.symbol, "exchange": str(trade.exchange),
        "action": str(trade.action), "product": str(trade.product),
        "quantity": qty(trade.quantity, trade.exchange), "average_price": money(trade.average_price),
        "trade_value": money(trade.trade_value), "timestamp": ist(trade.timestamp),
    }
    if paper:
        row.update({"tradeid": trade.tradeid, "price": money(trade.average_price), "strategy": trade.strategy})
    return row


def position_book(positions: list[Position], paper: bool) -> tuple[list[dict], dict]:
    rows = []
    for p in positions:
        row = {
            "symbol": p.symbol, "exchange": str(p.exchange), "product": str(p.product),
            "quantity": qty(p.quantity, p.exchange),
            "average_price": money_text(p.average_price if p.quantity else 0),
            "ltp": money(p.ltp), "pnl": money(p.pnl),
        }
        if paper:
            invested = abs(p.quantity) * p.average_price
            row.update({
                "pnlpercent": money(p.unrealized_pnl / invested * 100) if invested else 0.0,
                "unrealized_pnl": money(p.unrealized_pnl), "today_realized_pnl": money(p.realized_pnl),
                "total_pnl_today": money(p.pnl), "lot_size": p.lot_size,
            })
        rows.append(row)
    totals = {}
    if paper:
        unrealized = sum((p.unrealized_pnl for p in positions), Decimal(0))
        realized = sum((p.realized_pnl for p in positions), Decimal(0))
        totals = {"total_pnl": money(unrealized + realized), "total_unrealized_pnl": money(unrealized),
                  "total_today_realized_pnl": money(realized), "total_pnl_today": money(unrealized + realized)}
    return rows, totals


def holdings(rows: list[Holding], paper: bool) -> dict:
    items = []
    value = invested = Decimal(0)
    for h in rows:
        value += h.ltp * h.quantity
        invested += h.average_price * h.quantity
        item = {
            "symbol": h.symbol, "exchange": str(h.exchange), "product": str(h.product),
            "quantity": qty(h.quantity, h.exchange), "average_price": money(h.average_price),
            "pnl": money(h.pnl), "pnlpercent": money(h.pnl_percent),
        }
        if paper:
            item.update({"ltp": money(h.ltp), "current_value": money(h.ltp * h.quantity),
                         "settlement_date": h.settlement_date.isoformat() if h.settlement_date else ""})
        items.append(item)
    pnl = value - invested
    statistics = {
        "totalholdingvalue": money(value), "totalinvvalue": money(invested), "totalprofitandloss": money(pnl),
        "totalpnlpercentage": money(pnl / invested * 100) if invested else 0.0,
    }
    return {"holdings": items, "statistics": statistics}


def funds(f: Funds) -> dict:
    data = {
        "availablecash": money_text(f.availablecash), "collateral": money_text(f.collateral),
        "m2mrealized": money_text(f.m2mrealized), "m2munrealized": money_text(f.m2munrealized),
        "utiliseddebits": money_text(f.utiliseddebits),
    }
    for key, value in f.extra.items():
        data[key] = money(value) if isinstance(value, Decimal) else value
    return data
