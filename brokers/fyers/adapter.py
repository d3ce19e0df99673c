"""Fyers (API v3) behind the broker contract: composes its client (HTTP), mapping (fields)
and instruments (master contract). Our symbols become Fyers tickers (``NSE:SBIN-EQ``)
through the master contract's ``brsymbol``; book rows come back by their Fytoken."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

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
    OrderNotFound,
    OrderRequest,
    OrderUpdateSource,
    PlacedOrder,
    Position,
    Quote,
    RateLimits,
    SymbolNotFound,
    Trade,
    UnparsableRow,
    token_usable,
)
from brokers.enums import INTERVALS, Exchange
from brokers.selectors import InstrumentInfo, find_instrument_by_token, require_instrument
from brokers.symbols import strip_broker_suffix

from . import contracts, mapping
from .client import NO_ACK_CODE, FyersClient

NAME = "fyers"
Mapped = TypeVar("Mapped")
# Quotes answer at most 50 tickers per call (Docs "Quotes").
QUOTE_BATCH = 50
# Days per history request: <= 100 for minute bars, <= 366 for daily; second bars exist for
# the last 30 trading days only (Docs "History"); a longer range is fetched in chunks.
HISTORY_CHUNK_DAYS = {"S": 30, "M": 100, "D": 366}
HISTORY_SINCE = date(2017, 7, 3)  # the oldest minute bar Fyers serves


def _chunk_kind(resolution: str) -> str:
    if resolution.endswith("S"):
        return "S"
    return "D" if resolution.endswith("D") else "M"


class FyersAdapter:
    name = NAME
    capabilities = Capabilities(
        exchanges=frozenset({Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.MCX,
                             Exchange.NSE_INDEX, Exchange.BSE_INDEX}),
        depth_levels=5, intervals=tuple(interval for interval in INTERVALS if interval in mapping.INTERVALS),
        margin_calculator=True, gtt=False, modify=True, cancel_all=False, order_lookup=True, paper=False,
        login=LoginKind.OAUTH, order_updates=OrderUpdateSource.PUSH, market_feed=True, batch_quotes=50,
        # Per app (Docs "Rate Limit"): 10/s, 200/min, 100,000/day for every call; more than
        # three per-minute breaches in a day block the user until the next day. The
        # per-minute cap covers quotes and history too, which RateLimits can only state for
        # orders.
        rate_limits=RateLimits(orders_per_second=10, orders_per_minute=200, orders_per_day=100_000,
                               quotes_per_second=10, history_per_second=10),
        orders_per_second=10, history_days=(date.today() - HISTORY_SINCE).days,
    )

    def __init__(self, user: object, credentials: BrokerCredentials | None) -> None:
        self.user = user
        self.credentials = credentials
        self.client = FyersClient(credentials)

    def session_valid(self) -> bool:
        credentials = self.credentials
        return credentials is not None and bool(credentials.api_key) and token_usable(credentials)

    # --- Symbols --------------------------------------------------------------------------------

    def _instrument(self, symbol: str, exchange: Exchange) -> InstrumentInfo:
        return require_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)

    def _ours(self, row: Mapping[str, Any]) -> tuple[str, int]:
        """Our symbol (and lot size) for a book row, found by its Fytoken; a row of an
        instrument we do not list keeps Fyers' name without its exchange prefix and series."""
        exchange = mapping.exchange_of_row(row)
        info = find_instrument_by_token(broker=NAME, exchange=str(exchange), token=str(row.get("fyToken", "")))
        if info is not None:
            return info.symbol, info.lotsize
        return strip_broker_suffix(str(row.get("symbol", "")).partition(":")[2]), 1

    def _read(self, body: Mapping[str, Any], key: str, read: Callable[[Any, str], Mapped]) -> list[Mapped]:
        rows = body.get(key)
        if rows is None:
            return []  # Fyers leaves the list out of an empty book
        if not isinstance(rows, list):
            raise BrokerUnavailable(f"Fyers answered a {key} that is not a list")
        try:
            return [read(row, self._ours(row)[0]) for row in rows]
        except (mapping.UnreadablePayload, KeyError, TypeError, ValueError) as problem:
            raise BrokerUnavailable(f"Fyers answered an unreadable {key} row: {problem}") from None

    # --- Orders ---------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        info = self._instrument(request.symbol, request.exchange)
        body = self.client.post("/api/v3/orders/sync", mapping.order_payload(request, info.brsymbol))
        orderid = str(body.get("id") or "")
        if not orderid:
            # Code 201: sent to the exchange without an acknowledgement. Its outcome is
            # unknown: reconciliation finds it in the book by its tag; never place it again.
            known = "sent without acknowledgement" if body.get("code") == NO_ACK_CODE else "answered without an id"
            raise BrokerUnavailable(f"Fyers {known}: the order's outcome is unknown, check the order book")
        return PlacedOrder(orderid=orderid, message=str(body.get("message", "")))

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        body = self.client.patch("/api/v3/orders/sync", mapping.modify_payload(request))
        return PlacedOrder(orderid=str(body.get("id") or request.orderid), message=str(body.get("message", "")))

    def cancel_order(self, orderid: str) -> PlacedOrder:
        body = self.client.delete("/api/v3/orders/sync", {"id": orderid})
        return PlacedOrder(orderid=str(body.get("id") or orderid), message=str(body.get("message", "")))

    def order_book(self) -> list[BrokerOrder]:
        return self._read(self.client.get("/api/v3/orders"), "orderBook", mapping.broker_order)

    def order(self, orderid: str) -> BrokerOrder:
        rows = self._read(self.client.get("/api/v3/orders", id=orderid), "orderBook", mapping.broker_order)
        for row in rows:
            if row.orderid == orderid:
                return row
        raise OrderNotFound(f"Order {orderid} not found")

    def trade_book(self) -> list[Trade]:
        return self._read(self.client.get("/api/v3/tradebook"), "tradeBook", mapping.trade)

    # --- Portfolio ------------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        rows = self.client.get("/api/v3/positions").get("netPositions") or []
        if not isinstance(rows, list):
            raise BrokerUnavailable("Fyers answered netPositions that is not a list")
        try:
            return [mapping.position(row, *self._ours(row)) for row in rows]
        except (mapping.UnreadablePayload, KeyError, TypeError, ValueError) as problem:
            raise BrokerUnavailable(f"Fyers answered an unreadable position row: {problem}") from None

    def holdings(self) -> list[Holding]:
        return self._read(self.client.get("/api/v3/holdings"), "holdings", mapping.holding)

    def funds(self) -> Funds:
        body = self.client.get("/api/v3/funds")
        overall = self.client.get("/api/v3/positions").get("overall") or {}
        try:
            return mapping.funds(body, mapping.decimal(overall.get("pl_unrealized")))
        except mapping.UnreadablePayload as problem:
            raise BrokerUnavailable(f"Fyers answered unreadable funds: {problem}") from None

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        tickers = [(leg, self._instrument(leg.symbol, leg.exchange).brsymbol) for leg in legs]
        body = self.client.post("/api/v3/multiorder/margin", mapping.margin_payload(tickers))
        try:
            return mapping.margin(body)
        except mapping.UnreadablePayload as problem:
            raise BrokerUnavailable(f"Fyers answered an unreadable margin: {problem}") from None

    # --- Market data ----------------------------------------------------------------------------

    def quotes(self, items: Sequence[tuple[str, Exchange]]) -> dict[tuple[str, Exchange], Quote]:
        """Many quotes in Fyers' batch call (50 tickers per request). Symbols we do not list
        raise SymbolNotFound; tickers Fyers does not answer are left out."""
        tickers = {self._instrument(symbol, exchange).brsymbol: (symbol, exchange) for symbol, exchange in items}
        found: dict[tuple[str, Exchange], Quote] = {}
        names = list(tickers)
        for start in range(0, len(names), QUOTE_BATCH):
            batch = names[start:start + QUOTE_BATCH]
            body = self.client.get("/data/quotes", symbols=",".join(batch))
            try:
                answered = mapping.quotes(body)
            except (mapping.UnreadablePayload, KeyError, TypeError) as problem:
                raise BrokerUnavailable(f"Fyers answered unreadable quotes: {problem}") from None
            found.update({tickers[ticker]: quote for ticker, quote in answered.items() if ticker in tickers})
        return found

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        quote = self.quotes([(symbol, exchange)]).get((symbol, exchange))
        if quote is None:
            raise SymbolNotFound(f"Fyers has no quote for '{symbol}' on '{exchange}'")
        return quote

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        ticker = self._instrument(symbol, exchange).brsymbol
        body = self.client.get("/data/depth", symbol=ticker, ohlcv_flag="1")
        try:
            return mapping.depth(body, ticker)
        except (mapping.UnreadablePayload, KeyError, TypeError) as problem:
            raise BrokerUnavailable(f"Fyers answered an unreadable depth: {problem}") from None

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        resolution = mapping.INTERVALS.get(interval)
        if resolution is None:
            raise CapabilityMissing(f"Fyers has no {interval} bars")
        ticker = self._instrument(symbol, exchange).brsymbol
        step = timedelta(days=HISTORY_CHUNK_DAYS[_chunk_kind(resolution)] - 1)
        bars: dict[int, Candle] = {}
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + step)
            body = self.client.get("/data/history", symbol=ticker, resolution=resolution, date_format="1",
                                   range_from=chunk_start.isoformat(), range_to=chunk_end.isoformat(),
                                   cont_flag="1", oi_flag="1")
            try:
                bars.update((bar.timestamp, bar) for bar in mapping.candles(body))
            except (mapping.UnreadablePayload, TypeError, ValueError) as problem:
                raise BrokerUnavailable(f"Fyers answered unreadable bars: {problem}") from None
            chunk_start = chunk_end + timedelta(days=1)
        return [bars[stamp] for stamp in sorted(bars)]

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]:
        return contracts.master_contract()
