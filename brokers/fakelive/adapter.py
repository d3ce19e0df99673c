"""FakeLive behind the broker contract: composes its client (HTTP), mapping (fields) and
contracts (instruments). Symbols are translated through FakeLive's master contract rows."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, TypeVar, cast

from brokers.base import (
    BrokerCredentials,
    BrokerOrder,
    BrokerUnavailable,
    Candle,
    Capabilities,
    CapabilityMissing,
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
    RateLimits,
    Trade,
    UnparsableRow,
    token_usable,
)
from brokers.enums import Exchange
from brokers.fakelive import contracts, mapping
from brokers.fakelive.client import FakeLiveClient
from brokers.fakelive.schemas import QuotePayload
from brokers.selectors import InstrumentInfo, find_instrument_by_token, require_instrument

NAME = "fakelive"
Mapped = TypeVar("Mapped")


class FakeLiveAdapter:
    name = NAME
    capabilities = Capabilities(
        exchanges=frozenset({Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.NSE_INDEX}),
        depth_levels=5, intervals=tuple(mapping.INTERVALS), margin_calculator=False, gtt=False, modify=True,
        cancel_all=False, order_lookup=True, paper=False, login=LoginKind.OAUTH,
        order_updates=OrderUpdateSource.POLL, market_feed=False,
        rate_limits=RateLimits(orders_per_second=10, orders_per_minute=200, quotes_per_second=5,
                               history_per_second=3),
        orders_per_second=10, history_days=365,
    )

    def __init__(self, user: object, credentials: BrokerCredentials | None) -> None:
        self.user = user
        self.credentials = credentials
        self.client = FakeLiveClient(credentials)

    def session_valid(self) -> bool:
        return token_usable(self.credentials)

    # --- Symbols --------------------------------------------------------------------------------

    def _instrument(self, symbol: str, exchange: Exchange) -> InstrumentInfo:
        return require_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)

    def _ours(self, row: dict) -> str:
        """Our symbol for a row FakeLive names by token (its own name if we do not list it)."""
        exchange = str(mapping.our_exchange(row["exchange"]))
        info = find_instrument_by_token(broker=NAME, exchange=exchange, token=str(row.get("instrument_token", "")))
        return info.symbol if info else str(row["tradingsymbol"]).removesuffix(mapping.EQUITY_SUFFIX)

    def _read(self, rows: object, read: Callable[[Any, str], Mapped]) -> list[Mapped]:
        if not isinstance(rows, list):
            raise BrokerUnavailable("FakeLive answered a list that is not a list")
        try:
            return [read(row, self._ours(row)) for row in rows]
        except (mapping.UnreadablePayload, KeyError, TypeError) as problem:
            raise BrokerUnavailable(f"FakeLive answered an unreadable row: {problem}") from None

    # --- Orders ---------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        info = self._instrument(request.symbol, request.exchange)
        data = self.client.post("/orders", mapping.order_payload(request, info.brsymbol))
        return PlacedOrder(orderid=str(data["order_id"]))

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        data = self.client.put(f"/orders/{request.orderid}", mapping.modify_payload(request))
        return PlacedOrder(orderid=str(data.get("order_id", request.orderid)))

    def cancel_order(self, orderid: str) -> PlacedOrder:
        data = self.client.delete(f"/orders/{orderid}")
        return PlacedOrder(orderid=str(data.get("order_id", orderid)))

    def order_book(self) -> list[BrokerOrder]:
        return self._read(self.client.get("/orders"), mapping.broker_order)

    def order(self, orderid: str) -> BrokerOrder:
        return self._read([self.client.get(f"/orders/{orderid}")], mapping.broker_order)[0]

    def trade_book(self) -> list[Trade]:
        return self._read(self.client.get("/trades"), mapping.trade)

    # --- Portfolio ------------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        return self._read(self.client.get("/portfolio/positions"), mapping.position)

    def holdings(self) -> list[Holding]:
        return self._read(self.client.get("/portfolio/holdings"), mapping.holding)

    def funds(self) -> Funds:
        return mapping.funds(self.client.get("/user/margins"))

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        raise CapabilityMissing("FakeLive has no margin calculator")

    # --- Market data ----------------------------------------------------------------------------

    def _quote_payload(self, symbol: str, exchange: Exchange) -> QuotePayload:
        info = self._instrument(symbol, exchange)
        payload = self.client.get("/quote", exchange=mapping.their_exchange(exchange), tradingsymbol=info.brsymbol)
        if not isinstance(payload, dict):
            raise BrokerUnavailable("FakeLive answered a quote that is not an object")
        return cast(QuotePayload, payload)

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        return mapping.quote(self._quote_payload(symbol, exchange))

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        return mapping.depth(self._quote_payload(symbol, exchange))

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        if interval not in mapping.INTERVALS:
            raise CapabilityMissing(f"FakeLive has no {interval} bars")
        info = self._instrument(symbol, exchange)
        data = self.client.get("/history", token=info.token, interval=mapping.INTERVALS[interval],
                               start=start.isoformat(), end=end.isoformat())
        try:
            return [mapping.candle(row) for row in data["candles"]]
        except (mapping.UnreadablePayload, KeyError, TypeError) as problem:
            raise BrokerUnavailable(f"FakeLive answered unreadable bars: {problem}") from None

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]:
        return contracts.master_contract(self.client)
