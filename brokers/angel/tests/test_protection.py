"""Market protection: what a MARKET order becomes at Angel One since 2026-04-01."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.enums import Action

from ..protection import buffer, protected_price

D = Decimal


@pytest.mark.parametrize(("kind", "price", "fraction"), [
    ("", D(800), D("0.005")),  # cash
    ("EQ", D(800), D("0.005")),
    ("FUTIDX", D(24000), D("0.005")),
    ("FUTSTK", D(3900), D("0.01")),
    ("FUTCOM", D(78000), D("0.01")),
    ("OPTIDX", D("9.95"), D("0.20")),
    ("OPTIDX", D(10), D("0.10")),
    ("OPTIDX", D(35), D("0.05")),
    ("OPTIDX", D(150), D("0.025")),
    ("OPTFUT", D(210), D("0.025")),  # commodity options as index options
    ("OPTSTK", D(5), D("0.40")),
    ("OPTSTK", D(15), D("0.20")),
    ("OPTSTK", D(49), D("0.10")),
    ("OPTSTK", D(51), D("0.05")),
])
def test_angels_mpp_buffers(kind, price, fraction):
    assert buffer(kind, price) == fraction


def test_the_protected_price_is_on_the_tick_grid_inside_the_band():
    assert protected_price(Action.BUY, D(800), "", D("0.05")) == D(804)
    assert protected_price(Action.SELL, D(800), "", D("0.05")) == D(796)
    assert protected_price(Action.BUY, D("568.2"), "", D("0.05")) == D("571.00")  # 571.041 floored
    assert protected_price(Action.SELL, D("568.2"), "", D("0.05")) == D("565.4")  # 565.359 ceiled
    assert protected_price(Action.BUY, D(150), "OPTIDX", D("0.05")) == D("153.75")
    assert protected_price(Action.SELL, D("0.10"), "OPTIDX", D("0.05")) == D("0.1")  # band under a tick: at the price
    assert protected_price(Action.SELL, D("0.03"), "OPTIDX", D("0.05")) == D("0.05")  # never below one tick


def test_a_buffer_smaller_than_a_tick_still_crosses_to_the_next_tick():
    assert protected_price(Action.BUY, D(5), "", D(1)) == D(5)
    assert protected_price(Action.BUY, D("5.2"), "", D(1)) == D(6)


def test_no_reference_price_is_refused():
    with pytest.raises(ValueError):
        protected_price(Action.BUY, D(0), "", D("0.05"))
