"""Option maths, pure: Black-Scholes/Black-76 prices and Greeks, an IV solver that says why it fails, a smile."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from brokers.enums import OptionType

Model = Literal["black_scholes", "black76"]

SQRT_2PI = math.sqrt(2.0 * math.pi)
DAYS_PER_YEAR = 365.0  # theta is quoted per calendar day
IV_LOW, IV_HIGH = 1e-4, 5.0  # the bracket the solver searches: 0.01% to 500%


class IVError(ValueError):
    """Implied volatility cannot be solved; ``str(error)`` says why, ``reason`` says it as a code.

    Codes: ``expired``, ``invalid_input``, ``below_intrinsic``, ``no_time_value``,
    ``above_upper_bound``, ``not_converged``."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Greeks:
    delta: float
    gamma: float
    theta: float  # per calendar day
    vega: float  # per 1 volatility point (0.01)
    rho: float  # per 1 percentage point of rate (0.01)


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / SQRT_2PI


def is_call(option_type: OptionType | str) -> bool:
    """``CE`` -> True, ``PE`` -> False; anything else is a caller's mistake."""
    if option_type == OptionType.CE:
        return True
    if option_type == OptionType.PE:
        return False
    raise ValueError(f"option_type must be CE or PE, not {option_type!r}")


def _check(underlying: float, strike: float) -> None:
    if not (underlying > 0 and strike > 0 and math.isfinite(underlying) and math.isfinite(strike)):
        raise ValueError("underlying price and strike must be positive and finite")


def _d1_d2(forward: float, strike: float, years: float, vol: float) -> tuple[float, float]:
    spread = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    return d1, d1 - spread


def black76(forward: float, strike: float, years: float, rate: float, vol: float,
            option_type: OptionType | str) -> float:
    """Price of a European option on a forward (rate and vol as decimals: 0.065, 0.15).

    At or after expiry (``years <= 0``) the payoff; with no volatility the discounted payoff."""
    _check(forward, strike)
    call = is_call(option_type)
    intrinsic = max(0.0, forward - strike) if call else max(0.0, strike - forward)
    if years <= 0:
        return intrinsic
    discount = math.exp(-rate * years)
    if vol <= 0:
        return discount * intrinsic
    d1, d2 = _d1_d2(forward, strike, years, vol)
    if call:
        return discount * (forward * norm_cdf(d1) - strike * norm_cdf(d2))
    return discount * (strike * norm_cdf(-d2) - forward * norm_cdf(-d1))


def black_scholes(spot: float, strike: float, years: float, rate: float, vol: float,
                  option_type: OptionType | str, dividend: float = 0.0) -> float:
    """Price of a European option on a spot paying a continuous ``dividend`` yield."""
    _check(spot, strike)
    if years <= 0:
        return black76(spot, strike, 0.0, rate, vol, option_type)
    return black76(spot * math.exp((rate - dividend) * years), strike, years, rate, vol, option_type)


def greeks(underlying: float, strike: float, years: float, rate: float, vol: float,
           option_type: OptionType | str, model: Model = "black_scholes", dividend: float = 0.0) -> Greeks:
    """Greeks of one option. ``underlying`` is the spot (``black_scholes``) or the forward
    (``black76``, which holds the forward fixed: its theta has no carry, its rho is -T*V).

    Expired (``years <= 0``) or volatility-free options have the payoff's Greeks: delta
    +-1 (discounted) in the money, 0 out of it, everything else 0."""
    _check(underlying, strike)
    call = is_call(option_type)
    if model not in ("black_scholes", "black76"):
        raise ValueError(f"model must be black_scholes or black76, not {model!r}")
    if model == "black76":
        carry_spot, forward = 1.0, underlying
    else:
        carry_spot = math.exp(-dividend * max(years, 0.0))  # e^{-qT}
        forward = underlying * math.exp((rate - dividend) * max(years, 0.0))
    discount = math.exp(-rate * max(years, 0.0))
    if years <= 0 or vol <= 0:
        in_the_money = forward > strike if call else forward < strike
        scale = discount if model == "black76" else carry_spot
        delta = (scale if call else -scale) if in_the_money else 0.0
        return Greeks(delta=delta, gamma=0.0, theta=0.0, vega=0.0, rho=0.0)

    root = math.sqrt(years)
    d1, d2 = _d1_d2(forward, strike, years, vol)
    density = norm_pdf(d1)
    price = black76(forward, strike, years, rate, vol, option_type)
    if model == "black76":
        delta = discount * (norm_cdf(d1) if call else norm_cdf(d1) - 1.0)
        gamma = discount * density / (forward * vol * root)
        vega = discount * forward * density * root
        theta = -discount * forward * density * vol / (2.0 * root) + rate * price
        rho = -years * price
    else:
        spot, q = underlying, dividend
        delta = carry_spot * (norm_cdf(d1) if call else norm_cdf(d1) - 1.0)
        gamma = carry_spot * density / (spot * vol * root)
        vega = spot * carry_spot * density * root
        decay = -spot * carry_spot * density * vol / (2.0 * root)
        if call:
            theta = decay - rate * strike * discount * norm_cdf(d2) + q * spot * carry_spot * norm_cdf(d1)
            rho = strike * years * discount * norm_cdf(d2)
        else:
            theta = decay + rate * strike * discount * norm_cdf(-d2) - q * spot * carry_spot * norm_cdf(-d1)
            rho = -strike * years * discount * norm_cdf(-d2)
    return Greeks(delta=delta, gamma=gamma, theta=theta / DAYS_PER_YEAR, vega=vega / 100.0, rho=rho / 100.0)


def implied_volatility(price: float, underlying: float, strike: float, years: float, rate: float,
                       option_type: OptionType | str, model: Model = "black76", dividend: float = 0.0,
                       tol: float = 1e-8, max_iter: int = 100) -> float:
    """The volatility at which ``model`` prices the option at ``price``.

    Checks first (expiry, positive inputs, no-arbitrage bounds), each failure an
    :class:`IVError` with its reason; then Newton steps guarded by a bracket, bisecting on
    [0.01%, 500%] whenever Newton would leave it or vega vanishes. Converged means the model
    price is within ``tol`` of ``price`` (relative above a price of 1)."""
    if years <= 0:
        raise IVError("Option has expired", "expired")
    if not all(math.isfinite(v) for v in (price, underlying, strike, years, rate, dividend)):
        raise IVError("Option price, underlying and strike must be finite numbers", "invalid_input")
    if underlying <= 0 or strike <= 0:
        raise IVError("Underlying price and strike must be positive", "invalid_input")
    if price <= 0:
        raise IVError("Option price must be positive", "invalid_input")
    if model not in ("black_scholes", "black76"):
        raise ValueError(f"model must be black_scholes or black76, not {model!r}")
    call = is_call(option_type)
    forward = underlying if model == "black76" else underlying * math.exp((rate - dividend) * years)
    discount = math.exp(-rate * years)
    intrinsic = discount * (max(0.0, forward - strike) if call else max(0.0, strike - forward))
    upper = discount * (forward if call else strike)
    tolerance = tol * max(1.0, price)
    if price < intrinsic - tolerance:
        raise IVError("Option price is below intrinsic value", "below_intrinsic")
    if price <= intrinsic + tolerance:
        raise IVError("Option price is at intrinsic value (no time value)", "no_time_value")
    if price >= upper - tolerance:
        raise IVError("Option price is at or above the no-arbitrage upper bound", "above_upper_bound")
    return _solve(price, forward, strike, years, rate, call, tolerance, max_iter)


def _solve(price: float, forward: float, strike: float, years: float, rate: float, call: bool,
           tolerance: float, max_iter: int) -> float:
    option_type = OptionType.CE if call else OptionType.PE
    discount, root = math.exp(-rate * years), math.sqrt(years)

    def error(vol: float) -> float:
        return black76(forward, strike, years, rate, vol, option_type) - price

    low, high = IV_LOW, IV_HIGH
    if error(low) > tolerance or error(high) < -tolerance:
        raise IVError("Implied volatility did not converge (outside 0.01%-500%)", "not_converged")
    # Brenner-Subrahmanyam near the money, widened by the moneyness term away from it.
    vol = math.sqrt(2.0 * math.pi / years) * price / (discount * forward)
    vol = math.sqrt(vol * vol + 2.0 * abs(math.log(forward / strike)) / years)
    vol = min(max(vol, 0.01), 3.0)
    for _ in range(max_iter):
        miss = error(vol)
        if miss == 0.0:
            return vol
        if miss > 0:
            high = vol
        else:
            low = vol
        d1 = (math.log(forward / strike) + 0.5 * vol * vol * years) / (vol * root)
        vega = discount * forward * norm_pdf(d1) * root
        step = vol - miss / vega if vega > 1e-12 else math.nan
        following = step if low < step < high else 0.5 * (low + high)
        # Keep polishing past the price tolerance until the volatility itself stops moving.
        settled = abs(following - vol) < 1e-13 or high - low < 1e-13
        vol = following
        if settled:
            break
    if abs(error(vol)) <= tolerance:
        return vol
    raise IVError("Implied volatility did not converge", "not_converged")


SMILE_SKEW = -0.35  # negative: out-of-the-money puts richer than calls, as on NIFTY and BANKNIFTY
SMILE_CURVE = 0.25
SMILE_WIDTH = 2.5  # standardised moneyness is squashed into (-2.5, 2.5) so the wings stay bounded
SMILE_FLOOR = 0.05


def smile_vol(atm_vol: float, spot: float, strike: float, years: float) -> float:
    """A stable skew and smile in log-moneyness scaled by the square root of time:
    ``atm * (1 + skew*m + curve*m^2)`` with ``m = ln(K/S)/sqrt(T)`` squashed by tanh, so
    the multiplier stays within about 0.88x to 3.4x; floored at 5%. Short expiries (T
    under a day counts as a day) get the steepest smile, as the market's do."""
    _check(spot, strike)
    raw = math.log(strike / spot) / math.sqrt(max(years, 1.0 / DAYS_PER_YEAR))
    m = SMILE_WIDTH * math.tanh(raw / SMILE_WIDTH)
    return max(SMILE_FLOOR, atm_vol * (1.0 + SMILE_SKEW * m + SMILE_CURVE * m * m))
