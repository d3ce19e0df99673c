"""What the shared contract suite (brokers/tests/test_contract.py) needs of a live broker
package served over respx: an adapter built through the registry with the package's test
credentials, a liquid symbol and lot, and limit prices that rest away from its fake market.
Each package's ``<name>_contract`` fixture returns one, holding its fake exchange."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from brokers import registry
from brokers.base import BrokerAdapter, BrokerCredentials


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
