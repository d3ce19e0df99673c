"""The simulated market: deterministic, on tick, consistent across quotes, depth, candles,
futures and options."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from brokers.optionmath import IVError, black76, black76_greeks, black_scholes, implied_volatility
from brokers.sandbox.simulator import IST, SimInstrument, SimulatedMarket

D = Decimal
SPOT = SimInstrument(key="NSE_INDEX:NIFTY", kind="INDEX", tick_size=D("0.05"), lot_size=1, ref_price=D(26000),
                     annual_vol=0.13)
STOCK = SimInstrument(key="NSE:SBIN", kind="EQ", tick_size=D("0.05"), lot_size=1, ref_price=D(950), annual_vol=0.24)
EXPIRY = date(2026, 12, 29)
FUT = SimInstrument(key="NFO:NIFTY29DEC26FUT", kind="FUT", tick_size=D("0.05"), lot_size=65, ref_price=D(26000),
                    annual_vol=0.13, underlying_key=SPOT.key, expiry=EXPIRY)


def option(strike: int, kind: str) -> SimInstrument:
    return SimInstrument(key=f"NFO:NIFTY29DEC26{strike}{kind}", kind="OPT", tick_size=D("0.05"), lot_size=65,
                         ref_price=D(26000), annual_vol=0.13, underlying_key=SPOT.key, expiry=EXPIRY,
                         strike=D(strike), option_type=kind)


INSTRUMENTS = {i.key: i for i in (SPOT, STOCK, FUT, option(26000, "CE"), option(26000, "PE"),
                                  option(25000, "CE"), option(27000, "CE"))}
NOON = datetime(2026, 11, 24, 12, 0, 7, tzinfo=IST)


def market(seed: int = 7) -> SimulatedMarket:
    return SimulatedMarket(seed, INSTRUMENTS.get)


def test_the_same_seed_gives_the_same_prices_in_any_process():
    assert market().quote(STOCK.key, NOON) == market().quote(STOCK.key, NOON)
    assert market().quote(STOCK.key, NOON) != market(8).quote(STOCK.key, NOON)


def test_prices_are_on_tick_and_the_spread_straddles_the_last_price():
    for second in range(0, 600, 37):
        quote = market().quote(STOCK.key, NOON + timedelta(seconds=second))
        assert quote.ltp % D("0.05") == 0 and quote.bid < quote.ltp < quote.ask
        assert quote.low <= quote.ltp <= quote.high


def test_depth_levels_are_ordered_around_the_best_prices():
    sim = market()
    quote, book = sim.quote(FUT.key, NOON), sim.depth(FUT.key, NOON)
    assert book.bids[0].price == quote.bid and book.asks[0].price == quote.ask
    assert [b.price for b in book.bids] == sorted((b.price for b in book.bids), reverse=True)
    assert [a.price for a in book.asks] == sorted(a.price for a in book.asks)
    assert all(level.quantity % 65 == 0 for level in book.bids + book.asks)


def test_five_one_minute_bars_make_the_five_minute_bar():
    sim = market()
    start = datetime(2026, 11, 24, 10, 0, tzinfo=IST)
    ones = sim.candles(STOCK.key, 60, start, start + timedelta(minutes=5))
    (five,) = sim.candles(STOCK.key, 300, start, start + timedelta(minutes=5))
    assert len(ones) == 5
    assert (five.open, five.close) == (ones[0].open, ones[-1].close)
    assert five.high == max(b.high for b in ones) and five.low == min(b.low for b in ones)
    assert five.volume == sum(b.volume for b in ones)


def test_todays_last_candle_closes_at_the_current_price():
    sim = market()
    now = NOON + timedelta(seconds=23)
    bars = sim.candles(STOCK.key, 300, datetime(2026, 11, 24, 9, 0, tzinfo=IST), now)
    assert bars[-1].close == sim.quote(STOCK.key, now).ltp


def test_futures_trade_above_spot_and_options_follow_the_spot():
    sim = market()
    spot = sim.quote(SPOT.key, NOON).ltp
    assert sim.quote(FUT.key, NOON).ltp > spot
    calls = [sim.quote(option(k, "CE").key, NOON).ltp for k in (25000, 26000, 27000)]
    assert calls == sorted(calls, reverse=True)
    call, put = sim.quote(option(26000, "CE").key, NOON).ltp, sim.quote(option(26000, "PE").key, NOON).ltp
    years = ((datetime(2026, 12, 29, 15, 30, tzinfo=IST) - NOON).total_seconds()) / (365 * 86400)
    parity = float(spot) - 26000 * 2.718281828 ** (-0.065 * years)
    assert abs(float(call - put) - parity) < 0.2  # exact but for tick rounding


def test_options_settle_at_intrinsic_after_expiry():
    sim = market()
    after = datetime(2026, 12, 31, 12, 0, tzinfo=IST)
    at_expiry = datetime(2026, 12, 29, 15, 30, tzinfo=IST)
    assert sim.quote(option(25000, "CE").key, after).ltp == sim.quote(option(25000, "CE").key, at_expiry).ltp


def test_prices_wander_but_stay_near_their_reference_for_years():
    sim = market()
    for days in range(0, 730, 29):
        ltp = sim.quote(STOCK.key, NOON + timedelta(days=days)).ltp
        assert D(950) * D("0.4") < ltp < D(950) * D("2.5")


def test_black_scholes_textbook_value_and_parity():
    assert round(black_scholes(42, 40, 0.5, 0.10, 0.20, "CE"), 2) == 4.76
    assert round(black_scholes(42, 40, 0.5, 0.10, 0.20, "PE"), 2) == 0.81


@pytest.mark.parametrize("vol", [0.08, 0.15, 0.4, 1.2])
@pytest.mark.parametrize("strike", [22000, 26000, 30000])
def test_implied_volatility_round_trips(vol, strike):
    price = black76(26000, strike, 0.1, 0.065, vol, "CE")
    solved = implied_volatility(price, 26000, strike, 0.1, 0.065, "CE")
    if price <= max(0, 26000 - strike) * 2.718 ** (-0.0065) + 1e-6:
        # Deep in the money at low volatility the time value is below a millionth of a
        # rupee: any volatility that reproduces the price is a correct answer.
        assert abs(black76(26000, strike, 0.1, 0.065, solved, "CE") - price) < 1e-6
        return
    assert abs(solved - vol) < 1e-4


def test_implied_volatility_says_why_it_cannot_solve():
    with pytest.raises(IVError, match="expired"):
        implied_volatility(10, 26000, 26000, 0, 0.0, "CE")
    with pytest.raises(IVError, match="below intrinsic"):
        implied_volatility(900, 26000, 25000, 0.1, 0.0, "CE")


def test_delta_matches_a_finite_difference():
    greeks = black76_greeks(26000, 26000, 0.1, 0.0, 0.15, "CE")
    bump = (black76(26001, 26000, 0.1, 0.0, 0.15, "CE") - black76(25999, 26000, 0.1, 0.0, 0.15, "CE")) / 2
    assert abs(greeks.delta - bump) < 1e-3
