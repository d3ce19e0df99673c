"""Option maths, pure: Black-Scholes and Black-76 prices, Greeks, an implied-volatility
solver that converges or says why not, and the volatility smile the simulator uses."""

from __future__ import annotations

import math
from dataclasses import dataclass

SQRT_2PI = math.sqrt(2 * math.pi)


class IVError(ValueError):
    """Implied volatility cannot be solved; ``str(error)`` says why."""


def norm_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / SQRT_2PI


def _d1_d2(forward: float, strike: float, years: float, vol: float) -> tuple[float, float]:
    spread = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * vol * vol * years) / spread
    return d1, d1 - spread


def black76(forward: float, strike: float, years: float, rate: float, vol: float, option_type: str) -> float:
    """Price of a European option on a forward ``forward`` (rate as a decimal, 0.065)."""
    discount = math.exp(-rate * years)
    if years <= 0 or vol <= 0:
        intrinsic = max(0.0, forward - strike) if option_type == "CE" else max(0.0, strike - forward)
        return discount * intrinsic
    d1, d2 = _d1_d2(forward, strike, years, vol)
    if option_type == "CE":
        return discount * (forward * norm_cdf(d1) - strike * norm_cdf(d2))
    return discount * (strike * norm_cdf(-d2) - forward * norm_cdf(-d1))


def black_scholes(spot: float, strike: float, years: float, rate: float, vol: float, option_type: str,
                  dividend: float = 0.0) -> float:
    forward = spot * math.exp((rate - dividend) * max(years, 0.0))
    return black76(forward, strike, years, rate, vol, option_type)


@dataclass(frozen=True, slots=True)
class Greeks:
    delta: float
    gamma: float
    theta: float  # per calendar day
    vega: float  # per 1 volatility point
    rho: float  # per 1 percentage point of rate


def black76_greeks(forward: float, strike: float, years: float, rate: float, vol: float,
                   option_type: str) -> Greeks:
    discount = math.exp(-rate * years)
    d1, _d2 = _d1_d2(forward, strike, years, vol)
    call = option_type == "CE"
    delta = discount * (norm_cdf(d1) if call else norm_cdf(d1) - 1)
    gamma = discount * norm_pdf(d1) / (forward * vol * math.sqrt(years))
    vega = forward * discount * norm_pdf(d1) * math.sqrt(years) / 100
    price = black76(forward, strike, years, rate, vol, option_type)
    decay = -forward * discount * norm_pdf(d1) * vol / (2 * math.sqrt(years))
    theta_year = decay + rate * price
    rho = -years * price / 100
    return Greeks(delta=delta, gamma=gamma, theta=theta_year / 365, vega=vega, rho=rho)


def implied_volatility(price: float, forward: float, strike: float, years: float, rate: float,
                       option_type: str) -> float:
    """Black-76 implied volatility: Newton from a sensible start, bisection when Newton
    strays; raises IVError with the reason when there is no answer."""
    if years <= 0:
        raise IVError("Option has expired")
    if price <= 0 or forward <= 0 or strike <= 0:
        raise IVError("Option price, forward and strike must be positive")
    discount = math.exp(-rate * years)
    intrinsic = discount * (max(0.0, forward - strike) if option_type == "CE" else max(0.0, strike - forward))
    upper = discount * (forward if option_type == "CE" else strike)
    if price <= intrinsic + 1e-12:
        raise IVError("Option price is at or below intrinsic value")
    if price >= upper:
        raise IVError("Option price is above the no-arbitrage upper bound")
    low, high = 1e-4, 5.0
    vol = math.sqrt(2 * abs(math.log(forward / strike)) / years) if forward != strike else 0.2
    vol = min(max(vol, 0.05), 3.0)
    for _ in range(100):
        value = black76(forward, strike, years, rate, vol, option_type) - price
        if abs(value) < 1e-8:
            return vol
        if value > 0:
            high = vol
        else:
            low = vol
        d1, _ = _d1_d2(forward, strike, years, vol)
        vega = forward * discount * norm_pdf(d1) * math.sqrt(years)
        step = value / vega if vega > 1e-12 else None
        vol = vol - step if step is not None and low < vol - step < high else (low + high) / 2
    if high - low < 1e-7:
        return (low + high) / 2
    raise IVError("Implied volatility did not converge")


def smile_vol(atm_vol: float, spot: float, strike: float, years: float) -> float:
    """A stable skew and smile in log-moneyness, steeper for near expiries: out-of-the-
    money puts richer than calls, as on Indian index options. Floored at 5%."""
    scale = math.sqrt(max(years, 1 / 365))
    m = math.log(strike / spot) / scale
    return max(0.05, atm_vol * (1 - 0.35 * m + 0.9 * m * m))
