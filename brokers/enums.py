"""The contract's vocabularies (spec §3), in one place for every app and broker."""

from __future__ import annotations

from enum import StrEnum


class Exchange(StrEnum):
    NSE = "NSE"
    BSE = "BSE"
    NFO = "NFO"
    BFO = "BFO"
    CDS = "CDS"
    BCD = "BCD"
    MCX = "MCX"
    NCDEX = "NCDEX"
    NCO = "NCO"
    NSE_INDEX = "NSE_INDEX"
    BSE_INDEX = "BSE_INDEX"
    MCX_INDEX = "MCX_INDEX"
    GLOBAL_INDEX = "GLOBAL_INDEX"
    CRYPTO = "CRYPTO"

    @property
    def is_index(self) -> bool:
        return self in INDEX_EXCHANGES

    @property
    def is_derivative(self) -> bool:
        return self in DERIVATIVE_EXCHANGES

    @property
    def is_tradable(self) -> bool:
        return self not in INDEX_EXCHANGES


INDEX_EXCHANGES = frozenset({Exchange.NSE_INDEX, Exchange.BSE_INDEX, Exchange.MCX_INDEX, Exchange.GLOBAL_INDEX})
# "F&O" exchanges used by expiry, optiongreeks and the symbol helpers.
DERIVATIVE_EXCHANGES = frozenset(
    {Exchange.NFO, Exchange.BFO, Exchange.MCX, Exchange.CDS, Exchange.NCO, Exchange.BCD, Exchange.NCDEX,
     Exchange.CRYPTO}
)
CASH_EXCHANGES = frozenset({Exchange.NSE, Exchange.BSE})


class Product(StrEnum):
    CNC = "CNC"  # equity delivery
    NRML = "NRML"  # F&O carry-forward
    MIS = "MIS"  # intraday, squared off automatically


class PriceType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    SL = "SL"  # stop-loss limit
    SL_M = "SL-M"  # stop-loss market


class Action(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderStatus(StrEnum):
    OPEN = "open"
    TRIGGER_PENDING = "trigger pending"
    COMPLETE = "complete"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class OptionType(StrEnum):
    CE = "CE"
    PE = "PE"


# History intervals accepted by /history and /ticker (spec §3.4), in ascending length.
INTERVALS = (
    "1s", "5s", "10s", "15s", "30s", "45s",
    "1m", "2m", "3m", "5m", "10m", "15m", "20m", "30m",
    "1h", "2h", "3h", "4h",
    "D", "W", "M", "Q", "Y",
)

# Underlyings whose options route to an index exchange (spec §4.1).
INDEX_UNDERLYING_EXCHANGE = {
    "NIFTY": Exchange.NSE_INDEX, "BANKNIFTY": Exchange.NSE_INDEX, "FINNIFTY": Exchange.NSE_INDEX,
    "MIDCPNIFTY": Exchange.NSE_INDEX, "NIFTYNXT50": Exchange.NSE_INDEX, "INDIAVIX": Exchange.NSE_INDEX,
    "SENSEX": Exchange.BSE_INDEX, "BANKEX": Exchange.BSE_INDEX, "SENSEX50": Exchange.BSE_INDEX,
}
