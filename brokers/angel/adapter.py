"""Angel One (SmartAPI) behind the broker contract: composes its client (HTTP), mapping
(fields), protection (2026 market protection) and contracts (scrip master). Orders name
instruments by both trading symbol and token; rows come back named by token (orders,
positions) or by trading symbol (trades), and are translated through the master contract."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from brokers import ratelimit
from brokers.base import (
    BrokerAuthExpired,
    BrokerCredentials,
    BrokerError,
    BrokerOrder,
    BrokerRateLimited,
    BrokerRejected,
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
from brokers.enums import Action, Exchange, PriceType
from brokers.models import Instrument
from brokers.positions import PositionTotals, position_of
from brokers.selectors import InstrumentInfo, find_instrument, find_instrument_by_token, require_instrument
from core.values import IST

from . import contracts, mapping, protection
from .client import AngelClient
from .instruments import cash_symbol
from .schemas import QuoteRow, RmsPayload

NAME = "angel"
log = logging.getLogger(__name__)
QUOTE_BATCH = 50  # tokens per /market/v1/quote request
Mapped = TypeVar("Mapped")


class AngelAdapter:
    name = NAME
    capabilities = Capabilities(
        exchanges=frozenset({Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.MCX,
                             Exchange.NSE_INDEX, Exchange.BSE_INDEX, Exchange.MCX_INDEX}),
        depth_levels=5, intervals=tuple(mapping.INTERVALS), margin_calculator=True, gtt=False, modify=True,
        cancel_all=False,
        # details/{id} takes the uniqueorderid, not the orderid that modify and cancel take.
        order_lookup=False, paper=False, login=LoginKind.TOTP, order_updates=OrderUpdateSource.PUSH,
        market_feed=True, batch_quotes=50,
        # SmartAPI's current rate table: place, modify and cancel share 9/s, 500/min and 1000/h;
        # quote 10/s; getCandleData 3/s. The older forum table said 20/s.
        rate_limits=RateLimits(orders_per_second=9, orders_per_minute=500, orders_per_hour=1000,
                               quotes_per_second=10, history_per_second=3),
        orders_per_second=9, history_days=2000,
    )

    def __init__(self, user: object, credentials: BrokerCredentials | None) -> None:
        self.user = user
        self.credentials = credentials
        self.client = AngelClient(credentials)
        self._by_brsymbol: dict[tuple[str, str], str] = {}

    def session_valid(self) -> bool:
        return token_usable(self.credentials)

    # --- Symbols --------------------------------------------------------------------------------

    def _instrument(self, symbol: str, exchange: Exchange) -> InstrumentInfo:
        return require_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)

    def _ours(self, row: dict[str, Any]) -> str:
        """Our symbol for a row Angel names by token (orders, positions) or trading symbol (trades)."""
        exchange = str(mapping.our_exchange(str(row.get("exchange", ""))))
        token = str(row.get("symboltoken") or "")
        if token:
            info = find_instrument_by_token(broker=NAME, exchange=exchange, token=token)
            if info is not None:
                return info.symbol
        brsymbol = str(row.get("tradingsymbol") or "")
        key = (exchange, brsymbol)
        if key not in self._by_brsymbol:  # trade rows name no token: one query per instrument, not per fill
            found = (Instrument.objects.filter(broker=NAME, exchange=exchange, brsymbol=brsymbol)
                     .values_list("symbol", flat=True).first())
            self._by_brsymbol[key] = found or cash_symbol(brsymbol)
        return self._by_brsymbol[key]

    def _read(self, rows: object, read: Callable[[Any, str], Mapped]) -> list[Mapped]:
        if rows is None:  # Angel answers "data": null for an empty book
            return []
        if not isinstance(rows, list):
            raise BrokerUnavailable("Angel One answered a list that is not a list")
        try:
            return [read(row, self._ours(row)) for row in rows]
        except (mapping.UnreadablePayload, KeyError, TypeError, ArithmeticError) as problem:
            raise BrokerUnavailable(f"Angel One answered an unreadable row: {problem}") from None

    def _pace(self, kind: ratelimit.CallKind, max_wait: float = 2.0) -> None:
        account = self.credentials.client_id if self.credentials else ""
        try:
            ratelimit.pace(broker=NAME, account=account, limits=self.capabilities.rate_limits, kind=kind,
                           max_wait=max_wait)
        except ratelimit.PacingExceeded as exceeded:
            raise BrokerRateLimited("Angel One rate limit reached", retry_after=exceeded.retry_after) from None

    # --- Orders ---------------------------------------------------------------------------------

    def _protect(self, info: InstrumentInfo, action: Action, pricetype: PriceType, price: Decimal,
                 trigger_price: Decimal) -> tuple[PriceType, Decimal]:
        """What is sent for a MARKET or SL-M order: a LIMIT (or SL) at the protected price."""
        if pricetype not in protection.PROTECTED:
            return pricetype, price
        reference = trigger_price if pricetype == PriceType.SL_M else self._last_price(info)
        try:
            limit = protection.protected_price(action, reference, info.instrumenttype, info.tick_size)
        except ValueError as problem:
            raise BrokerRejected(f"Market protection could not price the order: {problem}") from None
        return protection.PROTECTED[pricetype], limit

    def _last_price(self, info: InstrumentInfo) -> Decimal:
        """The last price from getLtpData: its own Angel limit (10/s), used only before an order
        placement or change, which the order pacing holds to 9/s, so it needs no pacing here."""
        try:
            data = self.client.post("ltp", {"exchange": info.brexchange, "tradingsymbol": info.brsymbol,
                                            "symboltoken": info.token})
        except (BrokerAuthExpired, BrokerRateLimited):
            raise
        except BrokerError as failure:  # no order was sent: say why, do not leave it "unknown"
            raise BrokerRejected(f"Market protection needs the last price of {info.symbol}: "
                                 f"{failure.message}") from None
        try:
            ltp = mapping.decimal(data.get("ltp")) if isinstance(data, dict) else Decimal(0)
        except mapping.UnreadablePayload:
            ltp = Decimal(0)
        if ltp <= 0:
            raise BrokerRejected(f"Market protection needs the last price of {info.symbol}, "
                                 "which Angel One did not give")
        return ltp

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        info = self._instrument(request.symbol, request.exchange)
        pricetype, price = self._protect(info, request.action, request.pricetype, request.price, request.trigger_price)
        body = mapping.order_body(request, brsymbol=info.brsymbol, token=info.token, pricetype=pricetype, price=price)
        data = self.client.post("place", body)
        orderid = data.get("orderid") if isinstance(data, dict) else None
        if not orderid:
            # Accepted without an id: the outcome is unknown; the tag finds it in the book.
            raise BrokerUnavailable("Angel One accepted the order without an order id")
        return PlacedOrder(orderid=str(orderid))

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        info = self._instrument(request.symbol, request.exchange)
        pricetype, price = self._protect(info, request.action, request.pricetype, request.price, request.trigger_price)
        data = self.client.post("modify", mapping.modify_body(request, brsymbol=info.brsymbol, token=info.token,
                                                                pricetype=pricetype, price=price))
        orderid = data.get("orderid") if isinstance(data, dict) else None
        return PlacedOrder(orderid=str(orderid or request.orderid))

    def cancel_order(self, orderid: str) -> PlacedOrder:
        data = self.client.post("cancel", {"variety": "NORMAL", "orderid": orderid})
        cancelled = data.get("orderid") if isinstance(data, dict) else None
        return PlacedOrder(orderid=str(cancelled or orderid))

    def order_book(self) -> list[BrokerOrder]:
        return self._read(self.client.get("orders"), mapping.broker_order)

    def order(self, orderid: str) -> BrokerOrder:
        for row in self.order_book():
            if row.orderid == orderid:
                return row
        raise OrderNotFound(f"Order {orderid} not found")

    def trade_book(self) -> list[Trade]:
        today = datetime.now(IST).date()
        return self._read(self.client.get("trades"), lambda row, symbol: mapping.trade(row, symbol, today))

    # --- Portfolio ------------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        rows = self.client.get("positions")
        totals = self._read(rows, mapping.position_totals)
        if totals:
            totals = self._with_last_prices(rows, totals)
        return [position_of(total) for total in totals]

    def _with_last_prices(self, rows: list[dict[str, Any]], totals: list[PositionTotals]) -> list[PositionTotals]:
        """getPosition's documented rows carry no last price: open positions without one get it
        from the quote call (50 a request). If that fails, the average stands in (unrealised
        P&L 0, logged), never 0 (which would show the whole position as lost)."""
        wanted: dict[tuple[str, str], InstrumentInfo] = {}
        for row, total in zip(rows, totals, strict=True):
            if row.get("ltp") in (None, "") and mapping.net_quantity(total):
                info = find_instrument_by_token(broker=NAME, exchange=str(total.exchange),
                                                token=str(row.get("symboltoken") or ""))
                if info is not None:
                    wanted[(info.brexchange, info.token)] = info
        prices: dict[tuple[str, str], Decimal] = {}
        batch = list(wanted.values())
        try:
            for first in range(0, len(batch), QUOTE_BATCH):
                for quote_row in self._quote_rows("LTP", batch[first:first + QUOTE_BATCH]):
                    key = (str(quote_row.get("exchange", "")), str(quote_row.get("symbolToken", "")))
                    prices[key] = mapping.decimal(quote_row.get("ltp"))
        except (BrokerError, mapping.UnreadablePayload) as failure:
            log.warning("Angel One positions without last prices: %s", failure)
        answer = []
        for row, total in zip(rows, totals, strict=True):
            if row.get("ltp") in (None, "") and mapping.net_quantity(total):
                ltp = prices.get((str(row.get("exchange", "")), str(row.get("symboltoken", ""))))
                if not ltp:
                    position = position_of(total)
                    ltp = position.average_price
                total = replace(total, ltp=ltp)
            answer.append(total)
        return answer

    def holdings(self) -> list[Holding]:
        data = self.client.get("holdings")
        rows = data.get("holdings") if isinstance(data, dict) else data
        return self._read(rows, mapping.holding)

    def funds(self) -> Funds:
        data = self.client.get("funds")
        if not isinstance(data, dict):
            raise BrokerUnavailable("Angel One answered funds that are not an object")
        return mapping.funds(cast(RmsPayload, data))

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        positions = []
        for leg in legs:
            info = self._instrument(leg.symbol, leg.exchange)
            positions.append({
                "exchange": info.brexchange, "qty": int(leg.quantity), "price": float(leg.price),
                "productType": mapping.PRODUCTS[leg.product], "token": info.token,
                "tradeType": mapping.SIDES[leg.action], "orderType": mapping.ORDER_TYPES[leg.pricetype],
            })
        data = self.client.post("margin", {"positions": positions})
        if not isinstance(data, dict):
            raise BrokerUnavailable("Angel One answered a margin that is not an object")
        components = data.get("marginComponents") or {}
        span = components.get("spanMargin") if isinstance(components, dict) else None
        return MarginResult(total_margin_required=mapping.decimal(data.get("totalMarginRequired")),
                            span_margin=mapping.decimal(span) if span is not None else None)

    # --- Market data ----------------------------------------------------------------------------

    def _quote_rows(self, mode: str, infos: Sequence[InstrumentInfo]) -> list[QuoteRow]:
        """/market/v1/quote for up to 50 instruments; rows in Angel's order (by token)."""
        tokens: dict[str, list[str]] = {}
        for info in infos:
            tokens.setdefault(info.brexchange, []).append(info.token)
        self._pace(ratelimit.CallKind.QUOTES)
        data = self.client.post("quote", {"mode": mode, "exchangeTokens": tokens})
        if not isinstance(data, dict):
            raise BrokerUnavailable("Angel One answered a quote that is not an object")
        fetched = data.get("fetched") or []
        if not fetched and data.get("unfetched"):
            missing = data["unfetched"][0]
            raise SymbolNotFound(str(missing.get("message") or "Angel One has no quote for that instrument"))
        return list(fetched)

    def _full(self, symbol: str, exchange: Exchange) -> QuoteRow:
        info = self._instrument(symbol, exchange)
        rows = self._quote_rows("FULL", [info])
        if not rows:
            raise SymbolNotFound(f"Angel One has no quote for {symbol} on {exchange}")
        return rows[0]

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        return self._read_one(self._full(symbol, exchange), mapping.quote)

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        return self._read_one(self._full(symbol, exchange), mapping.depth)

    def quotes(self, items: Sequence[tuple[str, Exchange]]) -> dict[tuple[str, Exchange], Quote]:
        """Many quotes in Angel's batch call (50 instruments a request). Symbols not in the
        master contract, or that Angel did not fetch, are left out of the answer."""
        infos = {}
        for symbol, exchange in items:
            info = find_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)
            if info is not None:
                infos[(info.brexchange, info.token)] = (symbol, exchange, info)
        answer: dict[tuple[str, Exchange], Quote] = {}
        batch = [info for _, _, info in infos.values()]
        for first in range(0, len(batch), QUOTE_BATCH):
            try:
                rows = self._quote_rows("FULL", batch[first:first + QUOTE_BATCH])
            except SymbolNotFound:
                continue
            for row in rows:
                key = (str(row.get("exchange", "")), str(row.get("symbolToken", "")))
                if key in infos:
                    symbol, exchange, _ = infos[key]
                    answer[(symbol, exchange)] = self._read_one(row, mapping.quote)
        return answer

    @staticmethod
    def _read_one(row: QuoteRow, read: Callable[[QuoteRow], Mapped]) -> Mapped:
        try:
            return read(row)
        except (mapping.UnreadablePayload, TypeError, AttributeError) as problem:
            raise BrokerUnavailable(f"Angel One answered an unreadable quote: {problem}") from None

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        if interval not in mapping.INTERVALS:
            raise CapabilityMissing(f"Angel One has no {interval} candles")
        info = self._instrument(symbol, exchange)
        word, _ = mapping.INTERVALS[interval]
        bars: dict[int, Candle] = {}
        for fromdate, todate in mapping.candle_windows(start, end, interval):
            self._pace(ratelimit.CallKind.HISTORY, max_wait=5.0)
            data = self.client.post("candles", {"exchange": info.brexchange, "symboltoken": info.token,
                                                "interval": word, "fromdate": fromdate, "todate": todate})
            if data is None:
                continue
            if not isinstance(data, list):
                raise BrokerUnavailable("Angel One answered candles that are not a list")
            try:
                for row in data:
                    bar = mapping.candle(row)
                    bars[bar.timestamp] = bar
            except (mapping.UnreadablePayload, TypeError) as problem:
                raise BrokerUnavailable(f"Angel One answered unreadable candles: {problem}") from None
        return [bars[stamp] for stamp in sorted(bars)]

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]:
        return contracts.master_contract(self.client)
