"""The bundled sandbox universe: the NIFTY 50 on NSE and BSE, the indices, MCX and CDS, each sane."""

from __future__ import annotations

from decimal import Decimal

import pytest

from brokers.enums import INDEX_UNDERLYING_EXCHANGE, Exchange
from brokers.sandbox.universe import (
    DerivativeSpec,
    nifty50,
    underlying,
    underlying_for_derivative,
    underlyings,
    universe_info,
    with_derivatives_on,
)


def test_the_nifty_50_has_fifty_distinct_constituents_on_nse_and_the_same_on_bse():
    symbols = [row.symbol for row in nifty50()]
    assert len(symbols) == 50 == len(set(symbols))
    bse = {row.symbol for row in underlyings() if row.exchange == Exchange.BSE}
    assert bse == set(symbols)
    for symbol in ("RELIANCE", "M&M", "BAJAJ-AUTO", "TMPV", "INDIGO", "MAXHEALTH", "ETERNAL"):
        assert symbol in symbols
    for gone in ("TATAMOTORS", "INDUSINDBK", "HEROMOTOCO", "BPCL", "BRITANNIA", "TMCV"):
        assert gone not in symbols


def test_every_key_is_unique():
    keys = [row.key for row in underlyings()]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("row", underlyings(), ids=lambda row: row.key)
def test_prices_are_positive_and_on_tick(row):
    assert row.ref_price > 0 and row.tick_size > 0
    assert row.ref_price % row.tick_size == 0
    assert 0.01 <= row.annual_vol <= 1.0
    assert row.name and row.lot_size == 1


@pytest.mark.parametrize("row", [row for row in underlyings() if row.derivatives], ids=lambda row: row.key)
def test_every_derivative_spec_is_sane(row):
    spec: DerivativeSpec = row.derivatives
    assert spec.exchange.is_derivative
    assert spec.lot_size >= 1 and spec.freeze_qty >= spec.lot_size
    assert spec.futures or spec.options
    assert spec.tick_size > 0 and spec.option_tick_size > 0
    assert 1 <= spec.strikes_each_side <= 50
    assert spec.strike_step > 0 and spec.strike_step % spec.option_tick_size == 0
    # A strike grid fits the price: about 0.1% to 5% of the reference per step.
    assert row.ref_price * Decimal("0.001") <= spec.strike_step <= row.ref_price * Decimal("0.05")
    if row.exchange in (Exchange.NSE, Exchange.NSE_INDEX):
        assert spec.exchange == Exchange.NFO
    if row.exchange == Exchange.BSE_INDEX:
        assert spec.exchange == Exchange.BFO


def test_nse_stock_contracts_are_worth_a_few_lakh_a_lot():
    # SEBI's band at review is 5-10 lakh; prices move between reviews (TMPV after its demerger: ~3 lakh).
    for row in nifty50():
        value = row.ref_price * row.derivatives.lot_size
        assert Decimal(250_000) <= value <= Decimal(2_000_000), row.symbol


def test_index_lot_sizes_and_strike_steps_are_those_in_force():
    expected = {"NIFTY": (65, 50), "BANKNIFTY": (30, 100), "FINNIFTY": (60, 50), "MIDCPNIFTY": (120, 25),
                "NIFTYNXT50": (25, 100), "SENSEX": (20, 100), "BANKEX": (30, 100)}
    for symbol, (lot, step) in expected.items():
        row = underlying(symbol, INDEX_UNDERLYING_EXCHANGE[symbol])
        assert (row.derivatives.lot_size, row.derivatives.strike_step) == (lot, step)
    assert underlying("INDIAVIX", "NSE_INDEX").derivatives is None


def test_every_index_the_enums_route_is_listed_where_they_route_it():
    for symbol, exchange in INDEX_UNDERLYING_EXCHANGE.items():
        if symbol != "SENSEX50":
            assert underlying(symbol, exchange) is not None, symbol


def test_commodities_and_currencies_trade_in_exchange_units():
    crude, gold, usd = underlying("CRUDEOIL", "MCX"), underlying("GOLDM", "MCX"), underlying("USDINR", "CDS")
    assert (crude.derivatives.lot_size, crude.tick_size, crude.derivatives.options) == (100, Decimal(1), True)
    assert crude.derivatives.option_tick_size == Decimal("0.10")
    assert (gold.derivatives.lot_size, gold.derivatives.options) == (10, False)
    assert "10 grams" in gold.quote_unit
    assert (usd.derivatives.lot_size, usd.tick_size, usd.derivatives.strike_step) == (1000, Decimal("0.0025"),
                                                                                       Decimal("0.25"))
    assert underlying("NATURALGAS", Exchange.MCX).derivatives.lot_size == 1250
    assert underlying("SILVERM", Exchange.MCX).derivatives.lot_size == 5
    assert {row.symbol for row in with_derivatives_on("CDS")} == {"USDINR", "EURINR", "GBPINR"}


def test_a_derivative_finds_the_spot_it_derives_from():
    assert underlying_for_derivative("NIFTY", "NFO").key == "NSE_INDEX:NIFTY"
    assert underlying_for_derivative("SBIN", Exchange.NFO).key == "NSE:SBIN"
    assert underlying_for_derivative("SENSEX", "BFO").key == "BSE_INDEX:SENSEX"
    assert underlying_for_derivative("CRUDEOIL", "MCX").key == "MCX:CRUDEOIL"
    assert underlying_for_derivative("SBIN", "BFO") is None
    assert underlying_for_derivative("NIFTY", "NOPE") is None
    assert underlying("NIFTY", "NOPE") is None


def test_the_data_says_when_it_was_true():
    info = universe_info()
    assert info.as_of.year >= 2026
    assert any("NIFTY 50" in note for note in info.notes)
