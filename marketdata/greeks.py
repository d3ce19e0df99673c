"""Option Greeks (spec §9.5, §9.6, and §9.4's with_greeks): Black-76 on the forward, IV
solved from the option's last price, with the spec's units and rounding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal

from django.utils import timezone

from brokers import options
from brokers.base import BrokerError
from brokers.enums import Exchange
from brokers.optionmath import IVError, black76_greeks, implied_volatility
from brokers.symbols import SymbolFormatError, format_expiry, parse_symbol, underlying_exchange
from marketdata.candles import IST

CUTOFF = {Exchange.NFO: time(15, 30), Exchange.BFO: time(15, 30), Exchange.CDS: time(12, 30),
          Exchange.BCD: time(12, 30), Exchange.MCX: time(23, 30), Exchange.NCO: time(23, 30)}
MIN_YEARS = 0.0001


class GreeksError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


@dataclass(frozen=True, slots=True)
class GreeksRequest:
    symbol: str
    exchange: Exchange
    interest_rate: float = 0.0  # percent
    forward_price: float | None = None
    underlying_symbol: str | None = None
    underlying_exchange: Exchange | None = None
    expiry_time: time | None = None


def _ltp(adapter, symbol: str, exchange: Exchange, missing: str) -> float:
    try:
        value = float(adapter.quote(symbol, exchange).ltp)
    except BrokerError:
        raise GreeksError(missing, 404) from None
    if value <= 0:
        raise GreeksError(missing, 404)
    return value


def option_greeks(adapter, req: GreeksRequest, now: datetime | None = None) -> dict:
    """The §9.5 success body for one option, or GreeksError with the spec's text and code."""
    now = now or timezone.now()
    try:
        parsed = parse_symbol(req.symbol, req.exchange)
    except SymbolFormatError as exc:
        raise GreeksError(f"Invalid option symbol {req.symbol}: {exc}", 400) from None
    if parsed.kind != "OPT":
        raise GreeksError(f"{req.symbol} is not an option symbol", 400)
    cutoff = datetime.combine(parsed.expiry, req.expiry_time or CUTOFF.get(req.exchange, time(15, 30)), IST)
    expiry_text = parsed.expiry.strftime("%d-%b-%Y")
    if cutoff <= now:
        raise GreeksError(f"Option has expired on {expiry_text}", 400)
    days = (cutoff - now).total_seconds() / 86400
    years = max(days / 365, MIN_YEARS)
    option_price = _ltp(adapter, req.symbol, req.exchange, "Option LTP not available")
    if req.forward_price:
        forward = req.forward_price
    elif req.underlying_symbol:
        forward = _ltp(adapter, req.underlying_symbol, req.underlying_exchange or req.exchange,
                       "Underlying LTP not available")
    else:
        forward = _synthetic_forward(adapter, parsed, req.exchange) or _ltp(
            adapter, parsed.base, underlying_exchange(parsed.base, req.exchange), "Underlying LTP not available")
    strike, kind, rate = float(parsed.strike), str(parsed.option_type), req.interest_rate / 100
    body = {"status": "success", "symbol": req.symbol, "exchange": str(req.exchange), "underlying": parsed.base,
            "strike": round(strike, 2), "option_type": kind, "expiry_date": expiry_text,
            "days_to_expiry": round(days, 4), "spot_price": round(forward, 2), "option_price": round(option_price, 2),
            "interest_rate": round(req.interest_rate, 2)}
    try:
        vol = implied_volatility(option_price, forward, strike, years, rate, kind)
    except IVError as exc:
        intrinsic = max(0.0, forward - strike) if kind == "CE" else max(0.0, strike - forward)
        if "intrinsic" not in str(exc):
            raise GreeksError(str(exc), 400) from None
        return {**body, "implied_volatility": 0.0,
                "greeks": {"delta": 1.0 if kind == "CE" else -1.0, "gamma": 0.0, "theta": 0.0, "vega": 0.0,
                           "rho": 0.0},
                "intrinsic_value": round(intrinsic, 2), "time_value": round(option_price - intrinsic, 2),
                "note": "Option trades at or below its intrinsic value: no implied volatility"}
    g = black76_greeks(forward, strike, years, rate, vol, kind)
    return {**body, "implied_volatility": round(vol * 100, 2),
            "greeks": {"delta": round(g.delta, 4), "gamma": round(g.gamma, 6), "theta": round(g.theta, 4),
                       "vega": round(g.vega, 4), "rho": round(g.rho, 6)}}


def _synthetic_forward(adapter, parsed, exchange: Exchange) -> float | None:
    """The synthetic future of the option's expiry (§9.7), when its chain is quotable."""
    try:
        u = options.parse_underlying(parsed.base, underlying_exchange(parsed.base, exchange),
                                     format_expiry(parsed.expiry))
        ltp, _ = options.underlying_ltp(adapter, u, timezone.localdate())
        return float(options.synthetic_future(adapter, u, ltp)[1])
    except options.ResolutionError:
        return None


def add_chain_greeks(chain: list[dict], atm_strike: Decimal, ltp: Decimal, u, rate_percent) -> float:
    """Add IV and Greeks to each chain leg in place; returns the forward used."""
    atm_row = next((row for row in chain if Decimal(str(row["strike"])) == atm_strike), None)
    forward = float(ltp)
    if atm_row and atm_row.get("ce") and atm_row.get("pe") and atm_row["ce"]["ltp"] and atm_row["pe"]["ltp"]:
        forward = float(atm_strike) + atm_row["ce"]["ltp"] - atm_row["pe"]["ltp"]
    cutoff = datetime.combine(u.expiry, CUTOFF.get(u.options_exchange, time(15, 30)), IST)
    years = max((cutoff - timezone.now()).total_seconds() / (365 * 86400), MIN_YEARS)
    rate = float(rate_percent) / 100
    for row in chain:
        for kind in ("ce", "pe"):
            leg = row.get(kind)
            if not leg or not leg["ltp"]:
                continue
            try:
                vol = implied_volatility(leg["ltp"], forward, row["strike"], years, rate, kind.upper())
            except IVError:
                continue
            g = black76_greeks(forward, row["strike"], years, rate, vol, kind.upper())
            leg.update({"implied_volatility": round(vol * 100, 2), "delta": round(g.delta, 4),
                        "gamma": round(g.gamma, 6), "theta": round(g.theta, 4), "vega": round(g.vega, 4)})
    return round(forward, 2)
