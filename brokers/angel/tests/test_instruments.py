"""The scrip master -> OpenAlgo symbols, on real rows of every instrument kind."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from brokers.base import InstrumentRow, UnparsableRow
from brokers.enums import Exchange
from brokers.symbols import parse_symbol

from ..contracts import rows_of
from ..instruments import UnreadableRow, instrument_row
from ..testing import scrip_master, synthetic_rows


def _row(brsymbol: str) -> InstrumentRow:
    return instrument_row(next(row for row in scrip_master() if row["symbol"] == brsymbol))


@pytest.mark.parametrize(("brsymbol", "symbol", "exchange"), [
    ("SBIN-EQ", "SBIN", Exchange.NSE),  # equity
    ("RELIANCE-EQ", "RELIANCE", Exchange.NSE),
    ("SBIN", "SBIN", Exchange.BSE),
    ("Nifty 50", "NIFTY", Exchange.NSE_INDEX),  # index
    ("Nifty Bank", "BANKNIFTY", Exchange.NSE_INDEX),
    ("Nifty Fin Service", "FINNIFTY", Exchange.NSE_INDEX),
    ("SENSEX", "SENSEX", Exchange.BSE_INDEX),
    ("NIFTY28NOV24FUT", "NIFTY28NOV24FUT", Exchange.NFO),  # index future
    ("TCS28MAR24FUT", "TCS28MAR24FUT", Exchange.NFO),  # stock future
    ("NIFTY28NOV2425000CE", "NIFTY28NOV2425000CE", Exchange.NFO),  # monthly option
    ("NIFTY07NOV2424000PE", "NIFTY07NOV2424000PE", Exchange.NFO),  # weekly option
    ("SENSEX2432875000CE", "SENSEX28MAR2475000CE", Exchange.BFO),  # BSE index option, rebuilt
    ("USDINR25OCT8325CE", "USDINR29OCT2583.25CE", Exchange.CDS),  # currency option, strike / 10^7
    ("USDINR25OCTFUT", "USDINR29OCT25FUT", Exchange.CDS),  # currency future
    ("CRUDEOIL25NOV5000CE", "CRUDEOIL17NOV255000CE", Exchange.MCX),  # commodity option, true expiry
    ("GOLD30OCT26FUT", "GOLD30OCT26FUT", Exchange.MCX),  # commodity future
])
def test_each_kind_converts_to_the_openalgo_symbol(brsymbol, symbol, exchange):
    row = _row(brsymbol)
    assert (row.symbol, row.exchange, row.brsymbol) == (symbol, exchange, brsymbol)
    parsed = parse_symbol(row.symbol, row.exchange)  # and it is a valid OpenAlgo symbol there
    assert parsed.expiry in (None, row.expiry)


def test_numbers_are_read_in_rupees_from_paise():
    option = _row("NIFTY28NOV2425000CE")
    assert option.strike == Decimal(25000) and option.expiry == date(2024, 11, 28)
    assert option.lotsize == 25 and option.tick_size == Decimal("0.05") and option.instrumenttype == "OPTIDX"
    assert option.brexchange == "NFO" and option.token == "43434" and option.name == "NIFTY"
    currency = _row("USDINR25OCT8325CE")
    assert currency.strike == Decimal("83.25") and currency.tick_size == Decimal("0.0025")
    assert _row("GOLD30OCT26FUT").tick_size == Decimal(1)
    equity = _row("SBIN-EQ")
    assert (equity.expiry, equity.strike, equity.instrumenttype, equity.freeze_qty) == (None, None, "EQ", 1)
    index = _row("Nifty 50")
    assert (index.brexchange, index.instrumenttype, index.name) == ("NSE", "AMXIDX", "NIFTY")


def test_unreadable_rows_are_handed_on_and_unrouted_segments_left_out():
    rows = list(rows_of(scrip_master()))
    unparsable = [row for row in rows if isinstance(row, UnparsableRow)]
    assert len(unparsable) == 1 and "BROKENOPT" in unparsable[0].raw and "DDMMMYYYY" in unparsable[0].reason
    assert not any(isinstance(row, InstrumentRow) and row.brexchange == "NCDEX" for row in rows)
    for broken in ({"symbol": "X", "token": ""}, {"symbol": "X-EQ", "token": "1", "exch_seg": "NSE", "lotsize": "a"},
                   {"symbol": "NIFTYX", "token": "1", "exch_seg": "NFO", "instrumenttype": "OPTIDX", "name": "NIFTY",
                    "expiry": "28NOV2024", "strike": "100"}):
        with pytest.raises(UnreadableRow):
            instrument_row(broken)


def test_the_eq_series_row_comes_before_other_series_of_the_same_stock():
    rows = [row for row in rows_of(scrip_master()) if isinstance(row, InstrumentRow) and row.symbol == "SBIN"
            and row.exchange == Exchange.NSE]
    assert [row.brsymbol for row in rows] == ["SBIN-EQ", "SBIN-BE"]


def test_the_synthetic_dump_reads_cleanly_and_mixes_every_kind():
    rows = [row for row in rows_of(synthetic_rows(3000)) if isinstance(row, InstrumentRow)]
    assert len(rows) >= 2990
    kinds = {row.instrumenttype for row in rows}
    assert {"EQ", "AMXIDX", "FUTIDX", "FUTSTK", "OPTIDX", "OPTSTK", "OPTCUR", "FUTCUR", "OPTFUT", "FUTCOM"} <= kinds
    assert any(row.symbol == "SBIN" and row.exchange == Exchange.NSE for row in rows)
