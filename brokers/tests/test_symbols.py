"""The OpenAlgo symbol format (spec §4.1): every documented example, round-trips and rejections."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brokers.enums import Exchange, OptionType
from brokers.symbols import (
    ParsedSymbol,
    SymbolFormatError,
    derivative_exchange,
    format_expiry,
    format_future,
    format_master_expiry,
    format_option,
    format_strike,
    parse_expiry,
    parse_symbol,
    strip_broker_suffix,
    underlying_exchange,
)

FUTURES = [
    ("NIFTY28MAR24FUT", "NFO", "NIFTY", date(2024, 3, 28)),
    ("BANKNIFTY24APR24FUT", "NFO", "BANKNIFTY", date(2024, 4, 24)),
    ("SENSEX24APR24FUT", "BFO", "SENSEX", date(2024, 4, 24)),
    ("USDINR10MAY24FUT", "CDS", "USDINR", date(2024, 5, 10)),
    ("CRUDEOILM20MAY24FUT", "MCX", "CRUDEOILM", date(2024, 5, 20)),
    ("726GS203325APR24FUT", "NFO", "726GS2033", date(2024, 4, 25)),
]
OPTIONS = [
    ("NIFTY28MAR2420800CE", "NFO", "NIFTY", date(2024, 3, 28), Decimal("20800"), OptionType.CE),
    ("VEDL25APR24292.5CE", "NFO", "VEDL", date(2024, 4, 25), Decimal("292.5"), OptionType.CE),
    ("USDINR19APR2482CE", "CDS", "USDINR", date(2024, 4, 19), Decimal("82"), OptionType.CE),
    ("CRUDEOIL17APR246750CE", "MCX", "CRUDEOIL", date(2024, 4, 17), Decimal("6750"), OptionType.CE),
    ("726GS203225APR2497PE", "NFO", "726GS2032", date(2024, 4, 25), Decimal("97"), OptionType.PE),
]
EQUITIES = ["RELIANCE", "SBIN", "INFY", "TATAMOTORS", "M&M", "BAJAJ-AUTO"]
INDICES = [("NIFTY", "NSE_INDEX"), ("BANKNIFTY", "NSE_INDEX"), ("FINNIFTY", "NSE_INDEX"),
           ("MIDCPNIFTY", "NSE_INDEX"), ("NIFTYNXT50", "NSE_INDEX"), ("INDIAVIX", "NSE_INDEX"),
           ("SENSEX", "BSE_INDEX"), ("BANKEX", "BSE_INDEX"), ("SENSEX50", "BSE_INDEX")]


@pytest.mark.parametrize(("symbol", "exchange", "base", "expiry"), FUTURES)
def test_documented_futures_parse_and_round_trip(symbol, exchange, base, expiry):
    assert parse_symbol(symbol, exchange) == ParsedSymbol(base=base, kind="FUT", expiry=expiry)
    assert format_future(base, expiry) == symbol


@pytest.mark.parametrize(("symbol", "exchange", "base", "expiry", "strike", "option_type"), OPTIONS)
def test_documented_options_parse_and_round_trip(symbol, exchange, base, expiry, strike, option_type):
    parsed = parse_symbol(symbol, Exchange(exchange))
    assert parsed == ParsedSymbol(base=base, kind="OPT", expiry=expiry, strike=strike, option_type=option_type)
    assert format_option(parsed.base, parsed.expiry, parsed.strike, parsed.option_type) == symbol


@pytest.mark.parametrize("symbol", EQUITIES)
@pytest.mark.parametrize("exchange", ["NSE", "BSE"])
def test_documented_equities_parse_as_themselves(symbol, exchange):
    assert parse_symbol(symbol, exchange) == ParsedSymbol(base=symbol, kind="EQ")


@pytest.mark.parametrize(("symbol", "exchange"), INDICES)
def test_documented_indices_parse_as_index(symbol, exchange):
    assert parse_symbol(symbol, exchange) == ParsedSymbol(base=symbol, kind="INDEX")


def test_nco_month_only_forms_parse_without_a_day():
    assert parse_symbol("ALUMINI26MAYFUT", "NCO") == ParsedSymbol(base="ALUMINI", kind="FUT")
    parsed = parse_symbol("COPPER26MAY1195CE", "NCO")
    assert (parsed.base, parsed.kind, parsed.expiry, parsed.strike) == ("COPPER", "OPT", None, Decimal(1195))


@pytest.mark.parametrize(("symbol", "exchange"), [
    ("", "NSE"), ("reliance", "NSE"), ("TATA MOTORS", "NSE"), (" SBIN", "BSE"), ("SBIN.NS", "NSE"),
    ("-SBIN", "NSE"), ("nifty", "NSE_INDEX"),
    ("NIFTY", "NFO"), ("RELIANCE", "BFO"), ("NIFTY28MAR24", "NFO"), ("NIFTY28MAR2420800XE", "NFO"),
    ("NIFTY31FEB25FUT", "NFO"), ("NIFTY30FEB2420000CE", "NFO"), ("NIFTY28XYZ24FUT", "NFO"),
    ("nifty28mar24fut", "NFO"), ("28MAR24FUT", "NFO"), ("NIFTY28MAR240CE", "NFO"),
    ("ALUMINI26MAYFUT", "MCX"), ("NIFTY28MAR24FUT", "XYZ"),
])
def test_malformed_symbols_are_rejected(symbol, exchange):
    with pytest.raises(SymbolFormatError):
        parse_symbol(symbol, exchange)


def test_symbol_format_error_is_a_value_error():
    assert issubclass(SymbolFormatError, ValueError)


@pytest.mark.parametrize(("strike", "text"), [
    (Decimal("20800.00"), "20800"), (Decimal("292.50"), "292.5"), (Decimal("2.08E+4"), "20800"),
    (Decimal("0.0025"), "0.0025"), (20800, "20800"), ("82.25", "82.25"), (Decimal("1E+2"), "100"),
])
def test_strikes_are_written_without_trailing_zeros_or_exponents(strike, text):
    assert format_strike(strike) == text


@pytest.mark.parametrize("strike", [0, -5, "abc", Decimal("NaN"), Decimal("Infinity")])
def test_impossible_strikes_are_rejected(strike):
    with pytest.raises(SymbolFormatError):
        format_strike(strike)


def test_expiry_formats():
    assert format_expiry(date(2025, 11, 28)) == "28NOV25"
    assert format_master_expiry(date(2025, 11, 28)) == "28-NOV-25"
    assert format_expiry(date(2026, 1, 5)) == "05JAN26"


@pytest.mark.parametrize("text", ["28NOV25", "28-NOV-25", "28nov25", "28-Nov-25"])
def test_parse_expiry_reads_both_forms_in_any_case(text):
    assert parse_expiry(text) == date(2025, 11, 28)


@pytest.mark.parametrize("text", ["", "28NOV2025", "28-NOV25", "28NOV-25", "31FEB25", "2025-11-28", "8NOV25", None])
def test_parse_expiry_rejects_other_forms(text):
    with pytest.raises(SymbolFormatError):
        parse_expiry(text)


def test_format_rejects_bad_bases_and_option_types():
    with pytest.raises(SymbolFormatError):
        format_future("nifty", date(2025, 11, 28))
    with pytest.raises(SymbolFormatError):
        format_option("NIFTY 50", date(2025, 11, 28), 100, "CE")
    with pytest.raises(SymbolFormatError):
        format_option("NIFTY", date(2025, 11, 28), 100, "XX")
    assert format_option("NIFTY", date(2025, 11, 28), 25000, "pe") == "NIFTY28NOV2525000PE"


@pytest.mark.parametrize(("base", "exchange", "expected"), [
    ("NIFTY", "NFO", Exchange.NSE_INDEX), ("INDIAVIX", "NFO", Exchange.NSE_INDEX),
    ("SENSEX", "BFO", Exchange.BSE_INDEX), ("SENSEX50", "BFO", Exchange.BSE_INDEX),
    ("RELIANCE", "NFO", Exchange.NSE), ("RELIANCE", "BFO", Exchange.BSE), ("nifty", "NFO", Exchange.NSE_INDEX),
    ("CRUDEOIL", "MCX", Exchange.MCX), ("USDINR", "CDS", Exchange.CDS), ("USDINR", "BCD", Exchange.BCD),
    ("ALUMINI", "NCO", Exchange.NCO), ("SBIN", "NSE", Exchange.NSE),
])
def test_underlying_exchange_routes_per_spec(base, exchange, expected):
    assert underlying_exchange(base, exchange) == expected


@pytest.mark.parametrize(("exchange", "expected"), [
    ("NSE", "NFO"), ("NSE_INDEX", "NFO"), ("BSE", "BFO"), ("BSE_INDEX", "BFO"), ("MCX", "MCX"),
    ("CDS", "CDS"), ("BCD", "BCD"), ("NCO", "NCO"), ("NCDEX", "NCDEX"), ("CRYPTO", "CRYPTO"),
    ("GLOBAL_INDEX", "NFO"),
])
def test_derivative_exchange_for_an_underlying(exchange, expected):
    assert derivative_exchange(exchange) == Exchange(expected)


@pytest.mark.parametrize(("symbol", "expected"), [
    ("RELIANCE-EQ", "RELIANCE"), ("SBIN-BE", "SBIN"), ("XYZ-BZ", "XYZ"), ("BAJAJ-AUTO", "BAJAJ-AUTO"),
    ("M&M", "M&M"), ("MCDOWELL-N", "MCDOWELL-N"), ("RELIANCE", "RELIANCE"), ("-EQ", "-EQ"),
])
def test_strip_broker_suffix_removes_only_series(symbol, expected):
    assert strip_broker_suffix(symbol) == expected


# Property tests: whatever we write, we read back.
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
bases = st.builds(lambda head, tail: head + tail, st.sampled_from(_ALNUM),
                  st.text(alphabet=_ALNUM + "&-_", max_size=14))
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
strikes = st.one_of(
    st.integers(min_value=1, max_value=500_000).map(Decimal),
    st.integers(min_value=1, max_value=10_000_000).map(lambda n: Decimal(n) * Decimal("0.05")),
)
derivative_exchanges = st.sampled_from(["NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX", "CRYPTO"])


@given(base=bases, expiry=expiries, exchange=derivative_exchanges)
def test_future_symbols_round_trip(base, expiry, exchange):
    symbol = format_future(base, expiry)
    assert parse_symbol(symbol, exchange) == ParsedSymbol(base=base, kind="FUT", expiry=expiry)


@given(base=bases, expiry=expiries, strike=strikes, option_type=st.sampled_from(OptionType),
       exchange=derivative_exchanges)
def test_option_symbols_round_trip(base, expiry, strike, option_type, exchange):
    symbol = format_option(base, expiry, strike, option_type)
    parsed = parse_symbol(symbol, exchange)
    assert parsed == ParsedSymbol(base=base, kind="OPT", expiry=expiry, strike=strike, option_type=option_type)
    assert format_option(parsed.base, parsed.expiry, parsed.strike, parsed.option_type) == symbol
    assert "E+" not in symbol and not format_strike(strike).endswith(".0")


@given(expiry=expiries)
def test_expiry_texts_round_trip(expiry):
    assert parse_expiry(format_expiry(expiry)) == expiry
    assert parse_expiry(format_master_expiry(expiry)) == expiry
    assert parse_expiry(format_master_expiry(expiry).lower()) == expiry


@given(base=bases)
def test_equity_symbols_parse_as_themselves(base):
    assert parse_symbol(base, "NSE") == ParsedSymbol(base=base, kind="EQ")


def test_nco_reads_a_dated_future_too():
    assert parse_symbol("GOLDM05DEC25FUT", "NCO").expiry == date(2025, 12, 5)
