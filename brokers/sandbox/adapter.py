"""The sandbox behind the broker contract: the default broker of every user."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from brokers.base import (
    BrokerCredentials,
    BrokerOrder,
    Candle,
    Capabilities,
    Depth,
    Funds,
    Holding,
    InstrumentRow,
    LoginKind,
    MarginLeg,
    MarginResult,
    ModifyRequest,
    OrderRequest,
    OrderUpdateSource,
    PlacedOrder,
    Position,
    Quote,
    SymbolNotFound,
    Trade,
)
from brokers.enums import INTERVALS, Exchange
from brokers.gtt import GttRequest, GttTrigger
from brokers.sandbox import amend, books, clock, config, exchange, gtt, prices
from brokers.sandbox.contracts import sandbox_instruments
from brokers.selectors import InstrumentInfo, find_instrument

if TYPE_CHECKING:
    from brokers.sandbox.models import User

SANDBOX_EXCHANGES = frozenset({
    Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.MCX,
    Exchange.NSE_INDEX, Exchange.BSE_INDEX,
})


class SandboxAdapter:
    name = "sandbox"
    capabilities = Capabilities(
        exchanges=SANDBOX_EXCHANGES, depth_levels=5, intervals=INTERVALS[6:], margin_calculator=True,
        gtt=True, modify=True, cancel_all=True, paper=True, login=LoginKind.NONE,
        order_updates=OrderUpdateSource.ENGINE, orders_per_second=1000, history_days=3650,
    )

    def __init__(self, user: User, credential: BrokerCredentials | None = None) -> None:
        self.user = user

    def session_valid(self) -> bool:
        return True

    # Orders: every write runs the pending fills first, so the book it acts on is current.
    def place_order(self, request: OrderRequest) -> PlacedOrder:
        return exchange.place_order(self.user, request)

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        exchange.sweep(user=self.user)
        return amend.modify_order(self.user, request)

    def cancel_order(self, orderid: str) -> PlacedOrder:
        exchange.sweep(user=self.user)
        return amend.cancel_order(self.user, orderid)

    def cancel_all_orders(self) -> tuple[list[str], list[dict[str, str]]]:
        exchange.sweep(user=self.user)
        return amend.cancel_all(self.user)

    # GTT (capabilities.gtt): triggers live in the sandbox's database, fired by its engine.
    def place_gtt(self, request: GttRequest) -> str:
        return gtt.place_gtt(self.user, request)

    def modify_gtt(self, trigger_id: str, request: GttRequest) -> str:
        return gtt.modify_gtt(self.user, trigger_id, request)

    def cancel_gtt(self, trigger_id: str) -> str:
        return gtt.cancel_gtt(self.user, trigger_id)

    def gtt_book(self) -> list[GttTrigger]:
        return gtt.gtt_book(self.user)

    def order_book(self) -> list[BrokerOrder]:
        exchange.sweep(user=self.user)
        return books.order_book(self.user)

    def order(self, orderid: str) -> BrokerOrder:
        exchange.sweep(user=self.user)
        return books.order(self.user, orderid)

    def trade_book(self) -> list[Trade]:
        exchange.sweep(user=self.user)
        return books.trade_book(self.user)

    def positions(self) -> list[Position]:
        exchange.sweep(user=self.user)
        return books.positions(self.user)

    def holdings(self) -> list[Holding]:
        return books.holdings(self.user)

    def funds(self) -> Funds:
        exchange.sweep(user=self.user)
        return books.funds(self.user)

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        return books.margin(legs, table=config.leverage_for(self.user.pk))

    # Market data from the simulator.
    def _info(self, symbol: str, exchange_code: Exchange) -> InstrumentInfo:
        info = find_instrument(broker="sandbox", exchange=str(exchange_code), symbol=symbol)
        if info is None:
            raise SymbolNotFound(f"Symbol {symbol} not found on {exchange_code}")
        return info

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        quote = prices.quote(self._info(symbol, exchange), clock.now())
        if quote is None:
            raise SymbolNotFound(f"No price for {symbol} on {exchange}")
        return quote

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        depth = prices.depth(self._info(symbol, exchange), clock.now())
        if depth is None:
            raise SymbolNotFound(f"No price for {symbol} on {exchange}")
        return depth

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        return prices.history(self._info(symbol, exchange), interval, start, end, clock.now())

    def master_contract(self) -> Iterable[InstrumentRow]:
        return sandbox_instruments(clock.session_date(clock.now()))
