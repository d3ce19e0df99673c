"""What the shared contract suite (brokers/tests/test_contract.py) needs of a live broker
package served over respx: an adapter built through the registry with the package's test
credentials, a liquid symbol and lot, and limit prices that rest away from its fake market.
Each package's ``<name>_contract`` fixture returns one, holding its fake exchange."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from brokers import registry
from brokers.base import BrokerAdapter, BrokerCredentials, InstrumentRow, UnparsableRow
from brokers.models import Instrument
from brokers.selectors import lookup_cache


class ContractEnvironment:
    liquid = ("SBIN", "NSE")
    lot = 1

    def __init__(self, broker: str, credentials: Callable[[], BrokerCredentials], exchange: Any, *,
                 buy_below: Decimal = Decimal(700), sell_above: Decimal = Decimal(900)) -> None:
        self.broker = broker
        self.credentials = credentials
        self.exchange = exchange
        self.buy_below = buy_below
        self.sell_above = sell_above

    def adapter(self, user: object) -> BrokerAdapter:
        return registry.build(self.broker, user, self.credentials())

    def away_from_market(self, action: str) -> Decimal:
        return self.buy_below if action == "BUY" else self.sell_above


def load_instruments(broker: str, rows: Iterable[InstrumentRow | UnparsableRow]) -> int:
    """Put ``rows`` straight into ``broker``'s master contract (tests of an adapter alone,
    without the loading pipeline); a repeated (exchange, symbol) keeps its first row."""
    made: dict[tuple[str, str], Instrument] = {}
    for row in rows:
        if isinstance(row, UnparsableRow) or (str(row.exchange), row.symbol) in made:
            continue
        made[(str(row.exchange), row.symbol)] = Instrument(
            broker=broker, symbol=row.symbol, exchange=str(row.exchange), brsymbol=row.brsymbol,
            brexchange=row.brexchange, token=row.token, name=row.name, expiry=row.expiry, strike=row.strike,
            option_type=row.symbol[-2:] if row.strike is not None else "", lotsize=row.lotsize,
            tick_size=row.tick_size, instrumenttype=row.instrumenttype, freeze_qty=row.freeze_qty)
    Instrument.objects.bulk_create(made.values())
    lookup_cache.clear()
    return len(made)
