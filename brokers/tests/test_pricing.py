"""Option maths: textbook prices, put-call parity, Greeks against finite differences, and an IV solver
that round-trips or says why not."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from brokers.enums import OptionType
from brokers.sandbox.pricing import (
    Greeks,
    IVError,
    black76,
    black_scholes,
    greeks,
    implied_volatility,
    norm_cdf,
    norm_pdf,
    smile_vol,
)

CE, PE = OptionType.CE, OptionType.PE

spots = st.floats(min_value=10.0, max_value=100_000.0)
moneyness = st.floats(min_value=0.5, max_value=1.5)
years = st.floats(min_value=1 / 365, max_value=3.0)
rates = st.floats(min_value=0.0, max_value=0.15)
vols = st.floats(min_value=0.02, max_value=2.0)


def test_the_normal_distribution_functions_match_known_values():
    assert norm_cdf(0.0) == pytest.approx(0.5)
    assert norm_cdf(1.959963984540054) == pytest.approx(0.975, abs=1e-12)
    assert norm_cdf(-1.0) + norm_cdf(1.0) == pytest.approx(1.0, abs=1e-15)
    assert norm_pdf(0.0) == pytest.approx(1 / math.sqrt(2 * math.pi))


def test_black_scholes_matches_hulls_textbook_example():
    # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5.
    assert black_scholes(42, 40, 0.5, 0.10, 0.20, CE) == pytest.approx(4.76, abs=0.005)
    assert black_scholes(42, 40, 0.5, 0.10, 0.20, PE) == pytest.approx(0.81, abs=0.005)


def test_black76_prices_a_futures_option_like_black_scholes_on_its_forward():
    # Hull's futures-option example: F=20, K=20, r=9%, sigma=25%, T=4/12 -> put 1.12.
    assert black76(20, 20, 4 / 12, 0.09, 0.25, PE) == pytest.approx(1.12, abs=0.005)
    spot, rate, t = 100.0, 0.07, 0.75
    assert black76(spot * math.exp(rate * t), 95, t, rate, 0.3, CE) == pytest.approx(
        black_scholes(spot, 95, t, rate, 0.3, CE), rel=1e-12)


def test_option_type_accepts_the_enum_and_its_strings_only():
    assert black_scholes(100, 100, 1, 0.05, 0.2, "CE") == black_scholes(100, 100, 1, 0.05, 0.2, CE)
    with pytest.raises(ValueError, match="CE or PE"):
        black_scholes(100, 100, 1, 0.05, 0.2, "CALL")


def test_at_expiry_an_option_is_worth_its_payoff():
    assert black_scholes(105, 100, 0, 0.05, 0.2, CE) == 5
    assert black_scholes(105, 100, -0.1, 0.05, 0.2, PE) == 0
    assert black76(90, 100, 0, 0.05, 0.2, PE) == 10


@settings(max_examples=200, deadline=None)
@given(spot=spots, m=moneyness, t=years, r=rates, vol=vols, q=st.floats(min_value=0.0, max_value=0.05))
def test_put_call_parity_holds(spot, m, t, r, vol, q):
    strike = spot * m
    call = black_scholes(spot, strike, t, r, vol, CE, dividend=q)
    put = black_scholes(spot, strike, t, r, vol, PE, dividend=q)
    parity = spot * math.exp(-q * t) - strike * math.exp(-r * t)
    assert call - put == pytest.approx(parity, abs=1e-9 * spot)


@settings(max_examples=200, deadline=None)
@given(spot=spots, m=moneyness, t=years, r=rates, vol=vols)
def test_prices_stay_within_their_no_arbitrage_bounds(spot, m, t, r, vol):
    strike = spot * m
    call = black_scholes(spot, strike, t, r, vol, CE)
    put = black_scholes(spot, strike, t, r, vol, PE)
    slack = 1e-9 * spot
    assert max(0.0, spot - strike * math.exp(-r * t)) - slack <= call <= spot + slack
    assert max(0.0, strike * math.exp(-r * t) - spot) - slack <= put <= strike * math.exp(-r * t) + slack


def finite_differences(model: str, s: float, k: float, t: float, r: float, vol: float, kind: OptionType) -> Greeks:
    def price(s: float = s, t: float = t, r: float = r, vol: float = vol) -> float:
        if model == "black76":
            return black76(s, k, t, r, vol, kind)
        return black_scholes(s, k, t, r, vol, kind)

    hs, ht, hv, hr = s * 1e-4, 1e-5, 1e-5, 1e-5
    delta = (price(s=s + hs) - price(s=s - hs)) / (2 * hs)
    gamma = (price(s=s + hs) - 2 * price() + price(s=s - hs)) / (hs * hs)
    theta = (price(t=t - ht) - price(t=t + ht)) / (2 * ht) / 365
    vega = (price(vol=vol + hv) - price(vol=vol - hv)) / (2 * hv) / 100
    rho = (price(r=r + hr) - price(r=r - hr)) / (2 * hr) / 100
    return Greeks(delta=delta, gamma=gamma, theta=theta, vega=vega, rho=rho)


@pytest.mark.parametrize("model", ["black_scholes", "black76"])
@pytest.mark.parametrize("kind", [CE, PE])
@pytest.mark.parametrize(("s", "k", "t", "vol"), [(26_000, 26_000, 30 / 365, 0.13), (950, 900, 0.4, 0.3),
                                                  (88.7, 89.25, 0.1, 0.05), (5_200, 6_000, 1.5, 0.6)])
def test_greeks_agree_with_finite_differences(model, kind, s, k, t, vol):
    r = 0.065
    exact = greeks(s, k, t, r, vol, kind, model=model)
    numeric = finite_differences(model, s, k, t, r, vol, kind)
    assert exact.delta == pytest.approx(numeric.delta, rel=1e-5, abs=1e-8)
    assert exact.gamma == pytest.approx(numeric.gamma, rel=1e-3, abs=1e-9)
    assert exact.theta == pytest.approx(numeric.theta, rel=1e-4, abs=1e-7)
    assert exact.vega == pytest.approx(numeric.vega, rel=1e-5, abs=1e-8)
    assert exact.rho == pytest.approx(numeric.rho, rel=1e-5, abs=1e-8)


def test_greeks_have_the_signs_a_trader_expects():
    call = greeks(26_000, 26_000, 7 / 365, 0.065, 0.13, CE)
    put = greeks(26_000, 26_000, 7 / 365, 0.065, 0.13, PE)
    assert 0 < call.delta < 1 and -1 < put.delta < 0
    assert call.gamma == pytest.approx(put.gamma) and call.vega == pytest.approx(put.vega)
    assert call.theta < 0 and put.theta < 0
    assert call.rho > 0 > put.rho
    assert call.delta - put.delta == pytest.approx(1.0)


def test_expired_options_have_payoff_greeks():
    assert greeks(110, 100, 0, 0.05, 0.2, CE) == Greeks(delta=1.0, gamma=0.0, theta=0.0, vega=0.0, rho=0.0)
    assert greeks(110, 100, 0, 0.05, 0.2, PE).delta == 0.0
    assert greeks(90, 100, 0, 0.05, 0.2, PE, model="black76").delta == -1.0


@settings(max_examples=300, deadline=None)
@given(spot=spots, m=st.floats(min_value=0.7, max_value=1.3), t=st.floats(min_value=7 / 365, max_value=2.0),
       r=rates, vol=st.floats(min_value=0.05, max_value=1.5), kind=st.sampled_from([CE, PE]),
       model=st.sampled_from(["black_scholes", "black76"]))
def test_implied_volatility_recovers_the_volatility_that_priced_the_option(spot, m, t, r, vol, kind, model):
    strike = spot * m
    price = (black76 if model == "black76" else black_scholes)(spot, strike, t, r, vol, kind)
    forward = spot if model == "black76" else spot * math.exp(r * t)
    intrinsic = math.exp(-r * t) * max(0.0, forward - strike if kind == CE else strike - forward)
    g = greeks(spot, strike, t, r, vol, kind, model=model)
    # Only where the price says something about volatility: time value and vega well above noise.
    assume(price - intrinsic > 1e-6 * spot and g.vega * 100 > 1e-4 * spot)
    solved = implied_volatility(price, spot, strike, t, r, kind, model=model)
    assert solved == pytest.approx(vol, rel=1e-5, abs=1e-6)


def test_implied_volatility_of_a_nifty_option():
    price = black76(26_050, 26_000, 28.5 / 365, 0.0, 0.156, CE)
    assert implied_volatility(price, 26_050, 26_000, 28.5 / 365, 0.0, CE) == pytest.approx(0.156, abs=1e-7)


@pytest.mark.parametrize(("price", "t", "kind", "reason", "message"), [
    (5.0, 0.0, CE, "expired", "Option has expired"),
    (5.0, -1.0, PE, "expired", "Option has expired"),
    (9.0, 0.5, CE, "below_intrinsic", "Option price is below intrinsic value"),
    (110.0, 0.5, CE, "above_upper_bound", "no-arbitrage upper bound"),
    (120.0, 0.5, PE, "above_upper_bound", "no-arbitrage upper bound"),
    (0.0, 0.5, CE, "invalid_input", "must be positive"),
    (math.nan, 0.5, CE, "invalid_input", "finite"),
])
def test_implied_volatility_says_why_it_cannot_be_solved(price, t, kind, reason, message):
    # forward 110, strike 100, no rates: call intrinsic 10, call bound 110, put bound 100.
    with pytest.raises(IVError, match=message) as raised:
        implied_volatility(price, 110, 100, t, 0.0, kind)
    assert raised.value.reason == reason


def test_a_price_exactly_at_intrinsic_has_no_time_value():
    with pytest.raises(IVError, match="intrinsic") as raised:
        implied_volatility(10.0, 110, 100, 0.5, 0.0, CE)
    assert raised.value.reason == "no_time_value"


def test_implied_volatility_beyond_the_search_bracket_does_not_converge():
    price = black76(100, 100, 1.0, 0.0, 7.0, CE)  # 700% vol, above the 500% bracket
    with pytest.raises(IVError, match="Implied volatility did not converge") as raised:
        implied_volatility(price, 100, 100, 1.0, 0.0, CE)
    assert raised.value.reason == "not_converged"


def test_the_smile_is_skewed_towards_puts_and_stays_bounded():
    t, atm = 30 / 365, 0.13
    assert smile_vol(atm, 26_000, 26_000, t) == pytest.approx(atm)
    otm_put, otm_call = smile_vol(atm, 26_000, 24_700, t), smile_vol(atm, 26_000, 27_300, t)
    assert otm_put > atm and otm_put > otm_call
    for strike in (5_000, 13_000, 52_000, 260_000):
        assert 0.05 <= smile_vol(atm, 26_000, strike, t) <= 3.5 * atm
    assert smile_vol(0.01, 100, 100, 1.0) == 0.05
    # Continuous in strike: neighbouring strikes have neighbouring vols.
    assert abs(smile_vol(atm, 26_000, 26_050, t) - smile_vol(atm, 26_000, 26_000, t)) < 0.002
