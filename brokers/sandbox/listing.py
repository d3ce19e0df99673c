"""What the sandbox lists: the NIFTY 50 constituents (NSE, and the same stocks on BSE),
the main NSE/BSE indices, and a few MCX and currency contracts, with reference prices
for the simulator and the derivative specifications (lot size, strike step) in force.

Sources: NIFTY 50 constituents as of the September 2025 rebalance plus the October 2025
Tata Motors demerger (TMPV); index lot sizes from NSE's revision effective with the
January 2026 contracts (NIFTY 65, BANKNIFTY 30, FINNIFTY 60, MIDCPNIFTY 120,
NIFTYNXT50 25) and BSE's (SENSEX 20, BANKEX 30). Stock lot sizes and reference prices
are approximate (late 2025 levels, rounded): the sandbox needs plausible numbers, and
a live broker's master contract supersedes all of this."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from brokers.enums import Exchange


@dataclass(frozen=True, slots=True)
class DerivativeSpec:
    exchange: Exchange
    lot_size: int
    strike_step: Decimal
    strikes_each_side: int = 20
    futures: bool = True
    options: bool = True
    tick_size: Decimal = Decimal("0.05")
    freeze_qty: int = 1


@dataclass(frozen=True, slots=True)
class Underlying:
    symbol: str
    exchange: Exchange
    name: str
    ref_price: Decimal
    annual_vol: float
    tick_size: Decimal = Decimal("0.05")
    derivatives: DerivativeSpec | None = None


# symbol, company, reference price, annual volatility, F&O lot size, strike step
NIFTY50 = (
    ("ADANIENT", "Adani Enterprises", "2450", 0.38, 300, "20"),
    ("ADANIPORTS", "Adani Ports and SEZ", "1450", 0.30, 475, "20"),
    ("APOLLOHOSP", "Apollo Hospitals", "7500", 0.25, 125, "50"),
    ("ASIANPAINT", "Asian Paints", "2850", 0.22, 250, "20"),
    ("AXISBANK", "Axis Bank", "1250", 0.24, 625, "10"),
    ("BAJAJ-AUTO", "Bajaj Auto", "9000", 0.24, 75, "100"),
    ("BAJFINANCE", "Bajaj Finance", "1020", 0.28, 750, "10"),
    ("BAJAJFINSV", "Bajaj Finserv", "2050", 0.26, 250, "20"),
    ("BEL", "Bharat Electronics", "410", 0.32, 1425, "5"),
    ("BHARTIARTL", "Bharti Airtel", "2100", 0.22, 475, "20"),
    ("CIPLA", "Cipla", "1520", 0.22, 375, "20"),
    ("COALINDIA", "Coal India", "385", 0.26, 1350, "5"),
    ("DRREDDY", "Dr. Reddy's Laboratories", "1250", 0.22, 625, "10"),
    ("EICHERMOT", "Eicher Motors", "7000", 0.26, 175, "50"),
    ("ETERNAL", "Eternal", "300", 0.40, 2425, "5"),
    ("GRASIM", "Grasim Industries", "2800", 0.22, 250, "20"),
    ("HCLTECH", "HCL Technologies", "1600", 0.24, 350, "20"),
    ("HDFCBANK", "HDFC Bank", "1000", 0.18, 550, "10"),
    ("HDFCLIFE", "HDFC Life Insurance", "760", 0.24, 1100, "10"),
    ("HINDALCO", "Hindalco Industries", "820", 0.30, 700, "10"),
    ("HINDUNILVR", "Hindustan Unilever", "2450", 0.20, 300, "20"),
    ("ICICIBANK", "ICICI Bank", "1380", 0.20, 700, "10"),
    ("INDIGO", "InterGlobe Aviation", "5700", 0.30, 150, "50"),
    ("INFY", "Infosys", "1550", 0.24, 400, "20"),
    ("ITC", "ITC", "405", 0.18, 1600, "5"),
    ("JIOFIN", "Jio Financial Services", "300", 0.32, 2350, "5"),
    ("JSWSTEEL", "JSW Steel", "1150", 0.28, 675, "10"),
    ("KOTAKBANK", "Kotak Mahindra Bank", "2100", 0.22, 400, "20"),
    ("LT", "Larsen & Toubro", "4000", 0.22, 175, "50"),
    ("M&M", "Mahindra & Mahindra", "3700", 0.26, 200, "50"),
    ("MARUTI", "Maruti Suzuki India", "16000", 0.22, 50, "100"),
    ("MAXHEALTH", "Max Healthcare Institute", "1150", 0.30, 525, "10"),
    ("NESTLEIND", "Nestle India", "1250", 0.18, 500, "10"),
    ("NTPC", "NTPC", "330", 0.24, 1500, "5"),
    ("ONGC", "Oil and Natural Gas Corporation", "245", 0.28, 2250, "2.5"),
    ("POWERGRID", "Power Grid Corporation of India", "275", 0.22, 1900, "2.5"),
    ("RELIANCE", "Reliance Industries", "1500", 0.22, 500, "10"),
    ("SBILIFE", "SBI Life Insurance", "2000", 0.22, 375, "20"),
    ("SBIN", "State Bank of India", "950", 0.24, 750, "10"),
    ("SHRIRAMFIN", "Shriram Finance", "830", 0.32, 825, "10"),
    ("SUNPHARMA", "Sun Pharmaceutical Industries", "1750", 0.20, 350, "20"),
    ("TATACONSUM", "Tata Consumer Products", "1150", 0.22, 550, "10"),
    ("TMPV", "Tata Motors Passenger Vehicles", "400", 0.34, 800, "5"),
    ("TATASTEEL", "Tata Steel", "170", 0.30, 5500, "2"),
    ("TCS", "Tata Consultancy Services", "3100", 0.20, 175, "50"),
    ("TECHM", "Tech Mahindra", "1450", 0.26, 600, "20"),
    ("TITAN", "Titan Company", "3800", 0.22, 175, "50"),
    ("TRENT", "Trent", "4500", 0.34, 100, "50"),
    ("ULTRACEMCO", "UltraTech Cement", "11800", 0.22, 50, "100"),
    ("WIPRO", "Wipro", "245", 0.24, 3000, "2.5"),
)

# symbol, exchange, reference level, volatility, derivative exchange, lot, strike step, options
INDICES = (
    ("NIFTY", Exchange.NSE_INDEX, "26000", 0.13, Exchange.NFO, 65, "50", True),
    ("BANKNIFTY", Exchange.NSE_INDEX, "59000", 0.15, Exchange.NFO, 30, "100", True),
    ("FINNIFTY", Exchange.NSE_INDEX, "27500", 0.15, Exchange.NFO, 60, "50", True),
    ("MIDCPNIFTY", Exchange.NSE_INDEX, "13800", 0.18, Exchange.NFO, 120, "25", True),
    ("NIFTYNXT50", Exchange.NSE_INDEX, "69000", 0.17, Exchange.NFO, 25, "100", True),
    ("INDIAVIX", Exchange.NSE_INDEX, "12", 0.80, None, 0, "0", False),
    ("SENSEX", Exchange.BSE_INDEX, "85000", 0.13, Exchange.BFO, 20, "100", True),
    ("BANKEX", Exchange.BSE_INDEX, "66000", 0.15, Exchange.BFO, 30, "100", True),
)

# symbol, exchange, name, reference price, volatility, lot, tick, strike step, options
COMMODITIES_AND_CURRENCIES = (
    ("CRUDEOIL", Exchange.MCX, "Crude Oil", "5200", 0.35, 100, "1", "50", True),
    ("CRUDEOILM", Exchange.MCX, "Crude Oil Mini", "5200", 0.35, 10, "1", "50", False),
    ("NATURALGAS", Exchange.MCX, "Natural Gas", "380", 0.55, 1250, "0.1", "5", True),
    ("GOLDM", Exchange.MCX, "Gold Mini", "125000", 0.16, 10, "1", "500", False),
    ("SILVERM", Exchange.MCX, "Silver Mini", "155000", 0.25, 5, "1", "1000", False),
    ("USDINR", Exchange.CDS, "US Dollar - Indian Rupee", "88.70", 0.04, 1000, "0.0025", "0.25", True),
    ("EURINR", Exchange.CDS, "Euro - Indian Rupee", "102.50", 0.06, 1000, "0.0025", "0.25", False),
    ("GBPINR", Exchange.CDS, "Pound Sterling - Indian Rupee", "116.50", 0.07, 1000, "0.0025", "0.25", False),
)


@functools.cache
def underlyings() -> tuple[Underlying, ...]:
    rows: list[Underlying] = []
    spec: DerivativeSpec | None
    for symbol, name, price, vol, lot, step in NIFTY50:
        spec = DerivativeSpec(Exchange.NFO, lot, Decimal(step), strikes_each_side=10)
        rows.append(Underlying(symbol, Exchange.NSE, name, Decimal(price), vol, derivatives=spec))
        rows.append(Underlying(symbol, Exchange.BSE, name, Decimal(price), vol))
    for symbol, exchange, level, vol, fo, lot, step, has_options in INDICES:
        spec = DerivativeSpec(fo, lot, Decimal(step), options=has_options) if fo else None
        rows.append(Underlying(symbol, exchange, symbol, Decimal(level), vol, derivatives=spec))
    for symbol, exchange, name, price, vol, lot, tick, step, has_options in COMMODITIES_AND_CURRENCIES:
        spec = DerivativeSpec(exchange, lot, Decimal(step), strikes_each_side=10, options=has_options,
                              tick_size=Decimal(tick))
        rows.append(Underlying(symbol, exchange, name, Decimal(price), vol, tick_size=Decimal(tick),
                               derivatives=spec))
    return tuple(rows)


@functools.cache
def _by_key() -> dict[tuple[str, str], Underlying]:
    return {(u.symbol, str(u.exchange)): u for u in underlyings()}


def underlying(symbol: str, exchange: str) -> Underlying | None:
    """The listed underlying ``symbol`` on ``exchange``; a derivative exchange finds the
    spot it derives from (NFO -> NSE or NSE_INDEX, BFO -> BSE_INDEX, MCX/CDS -> itself)."""
    table = _by_key()
    found = table.get((symbol, str(exchange)))
    if found is not None:
        return found
    for candidate in ("NSE_INDEX", "BSE_INDEX", "NSE", "BSE", "MCX", "CDS"):
        found = table.get((symbol, candidate))
        if found is not None and found.derivatives is not None:
            return found
    return None
