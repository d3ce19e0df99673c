"""Net position and P&L, computed once for every live broker (brokers/positions.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

from brokers.base import Trade
from brokers.enums import Action, Exchange, Product
from brokers.positions import PositionTotals, position_of, positions_from_trades


def totals(**change) -> PositionTotals:
    fields = {"symbol": "SBIN", "exchange": Exchange.NSE, "product": Product.MIS}
    fields.update(change)
    return PositionTotals(**fields)


def test_an_open_long_carries_its_buy_average_and_marks_to_the_last_price():
    p = position_of(totals(buy_quantity=D(10), buy_value=D(8000), ltp=D(810)))
    assert (p.quantity, p.average_price, p.realized_pnl, p.unrealized_pnl, p.pnl) == (10, D("800.00"), 0, 100, 100)


def test_a_partly_closed_long_realises_the_matched_part():
    p = position_of(totals(buy_quantity=D(10), buy_value=D(8000), sell_quantity=D(4), sell_value=D(3300), ltp=D(790)))
    assert p.quantity == 6 and p.average_price == D("800.00")
    assert p.realized_pnl == D("100.00")  # (825 - 800) * 4
    assert p.unrealized_pnl == D("-60.00") and p.pnl == D("40.00")


def test_a_short_uses_the_sell_average_and_a_flat_position_has_only_realised_pnl():
    short = position_of(totals(sell_quantity=D(5), sell_value=D(500), ltp=D(90)))
    assert short.quantity == -5 and short.average_price == D("100.00") and short.unrealized_pnl == D("50.00")
    flat = position_of(totals(buy_quantity=D(5), buy_value=D(500), sell_quantity=D(5), sell_value=D(450), ltp=D(1)))
    assert flat.quantity == 0 and flat.average_price == 0 and flat.pnl == D("-50.00") and flat.unrealized_pnl == 0


def test_carried_quantity_joins_its_side_and_the_multiplier_scales_currency_pnl():
    p = position_of(totals(carry_quantity=D(2), carry_price=D("83.10"), sell_quantity=D(1), sell_value=D("83.30"),
                           ltp=D("83.20"), multiplier=D(1000), exchange=Exchange.CDS))
    assert p.quantity == 1 and p.realized_pnl == D("200.00") and p.unrealized_pnl == D("100.00")


def test_positions_from_a_trade_book():
    at = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)

    def trade(action, qty, price, product=Product.MIS):
        return Trade(orderid="1", symbol="SBIN", exchange=Exchange.NSE, action=action, product=product,
                     quantity=D(qty), average_price=D(price), timestamp=at)

    rows = positions_from_trades([trade(Action.BUY, 10, 800), trade(Action.SELL, 4, 810),
                                  trade(Action.BUY, 1, 700, Product.CNC)], ltp=lambda s, e: D(805))
    mis, cnc = rows
    assert (mis.product, mis.quantity, mis.realized_pnl, mis.unrealized_pnl) == (Product.MIS, 6, D("40.00"), D("30.00"))
    assert (cnc.product, cnc.quantity, cnc.pnl) == (Product.CNC, 1, D("105.00"))
