"""Exchange freeze quantities: data, applied to master contracts and the sandbox's universe,
and the per-order limit slicing uses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from brokers.base import InstrumentRow
from brokers.contracts import load_master_contract
from brokers.enums import Exchange
from brokers.freeze import applied, freeze_quantity, order_limit
from brokers.models import Instrument
from brokers.sandbox.contracts import load_sandbox_universe


def test_published_index_limits():
    assert freeze_quantity("NFO", "NIFTY") == 1800
    assert freeze_quantity("NFO", "banknifty") == 600
    assert freeze_quantity("BFO", "SENSEX") == 1000
    assert freeze_quantity("NFO", "SBIN") == 1  # not in the list: unknown


def test_a_brokers_own_figure_wins_and_cash_rows_keep_theirs():
    assert applied("NFO", "NIFTY", 1, derivative=True) == 1800
    assert applied("NFO", "NIFTY", 1755, derivative=True) == 1755
    assert applied("NSE", "NIFTY", 1, derivative=False) == 1


def test_the_order_limit_is_whole_lots_under_the_freeze():
    assert order_limit(1800, 65) == 1755
    assert order_limit(600, 30) == 600
    assert order_limit(1, 65) == 0
    assert order_limit(10, 65) == 65  # a freeze below one lot still lets one lot through


@pytest.mark.django_db
def test_the_sandbox_lists_nifty_options_with_their_freeze_quantity():
    load_sandbox_universe(date(2026, 11, 27))
    rows = Instrument.objects.filter(broker="sandbox", exchange="NFO", name="NIFTY")
    assert rows.exists() and set(rows.values_list("freeze_qty", flat=True)) == {1800}
    Instrument.objects.filter(broker="sandbox", name="NIFTY").update(freeze_qty=1)  # listed before the data
    load_sandbox_universe(date(2026, 11, 27))
    assert set(rows.values_list("freeze_qty", flat=True)) == {1800}


@pytest.mark.django_db
def test_a_live_brokers_contract_gets_the_published_figure():
    row = InstrumentRow(symbol="NIFTY29DEC2626000CE", brsymbol="NIFTY26DEC26000CE", name="NIFTY",
                        exchange=Exchange.NFO, brexchange="NFO", token="9002", expiry=date(2026, 12, 29),
                        strike=Decimal(26000), lotsize=65, instrumenttype="CE", tick_size=Decimal("0.05"))
    load_master_contract("fakelive", [row])
    assert Instrument.objects.get(broker="fakelive", token="9002").freeze_qty == 1800
