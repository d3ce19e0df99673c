"""Upstox behind the broker contract: composes its client (HTTP), mapping (fields) and
contracts (instruments). Instruments are addressed by Upstox's instrument_key, kept as the
master contract's ``token``; rows coming back are mapped to our symbols through it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote as url_quote

from django.conf import settings

from brokers.base import (
    BrokerCredentials,
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
from brokers.enums import Exchange
from brokers.positions import position_of
from brokers.ratelimit import Window, shared_buckets
from brokers.selectors import InstrumentInfo, find_instrument_by_token, require_instrument
from brokers.symbols import strip_broker_suffix
from core.values import IST

from . import contracts, mapping
from .client import UpstoxClient

NAME = "upstox"
log = logging.getLogger(__name__)
Mapped = TypeVar("Mapped")

QUOTE_BATCH = 500  # instrument keys per market-quote call
MARGIN_LEGS = 20  # instruments per margin call
ORDERS_PER_HALF_HOUR = Window(2000, 1800)
# MARKET and SL-M orders carry market protection since 2026: -1 lets Upstox choose the band,
# 1..25 is a percentage a deployment may set instead (0, "none", is what the rules retired).
DEFAULT_MARKET_PROTECTION = -1


def market_protection() -> int:
    value = int(getattr(settings, "UPSTOX_MARKET_PROTECTION", DEFAULT_MARKET_PROTECTION))
    if value != -1 and not 1 <= value <= 25:
        raise BrokerRejected("UPSTOX_MARKET_PROTECTION must be -1 (Upstox decides) or a percentage from 1 to 25")
    return value


def _served(rows: list[Any]) -> list[Any]:
    """The rows of exchanges we serve. A row of another one (NSE's commodity segment, NSCOM)
    cannot be one of our orders or positions: it is logged and left out rather than failing
    the whole book."""
    served = [row for row in rows if not isinstance(row, dict) or row.get("exchange") in mapping.ROW_EXCHANGES]
    if len(served) < len(rows):
        log.warning("Upstox rows of exchanges we do not serve left out: %s",
                    sorted({str(row.get("exchange")) for row in rows if row not in served}))
    return served


def _today_ist() -> date:
    return datetime.now(IST).date()


class UpstoxAdapter:
    name = NAME
    capabilities = Capabilities(
        exchanges=frozenset({Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.BCD,
                             Exchange.MCX, Exchange.NSE_INDEX, Exchange.BSE_INDEX}),
        depth_levels=5, intervals=tuple(mapping.INTERVALS), margin_calculator=True, gtt=False, modify=True,
        cancel_all=False, order_lookup=True, paper=False, login=LoginKind.OAUTH,
        order_updates=OrderUpdateSource.PUSH, market_feed=True, batch_quotes=QUOTE_BATCH,
        # Upstox can slice an order above the freeze quantity itself (``slice: true``), but its
        # answer lists every slice's id and the ledger tracks one: orders above the freeze are
        # refused before the ledger instead (orders/freeze.py), and splitorder places tracked slices.
        autoslice=False,
        # Docs /rate-limiting, per user: order APIs 10/s, 500/min and 2,000 per 30 minutes (that
        # window RateLimits cannot say: _within_half_hour_limit keeps it); other APIs 50/s,
        # 500/min, 2,000/30 min.
        rate_limits=RateLimits(orders_per_second=10, orders_per_minute=500, quotes_per_second=50,
                               history_per_second=50),
        orders_per_second=10, history_days=3650,
    )

    def __init__(self, user: object, credentials: BrokerCredentials | None, *,
                 today: Callable[[], date] = _today_ist) -> None:
        self.user = user
        self.credentials = credentials
        self.client = UpstoxClient(credentials)
        self.today = today

    def session_valid(self) -> bool:
        return token_usable(self.credentials)

    # --- Symbols --------------------------------------------------------------------------------

    def _instrument(self, symbol: str, exchange: Exchange) -> InstrumentInfo:
        return require_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)

    def _known(self, row: dict[str, Any]) -> InstrumentInfo | None:
        exchange = mapping.row_exchange(row.get("exchange"))
        return find_instrument_by_token(broker=NAME, exchange=str(exchange), token=str(row.get("instrument_token")))

    def _ours(self, row: dict[str, Any]) -> tuple[str, int]:
        """Our symbol and lot size for a row (Upstox's own text, suffix stripped, and lot 1 if
        we do not list the instrument)."""
        info = self._known(row)
        if info is not None:
            return info.symbol, info.lotsize
        return strip_broker_suffix(str(row.get("trading_symbol") or row["tradingsymbol"])), 1

    def _read(self, rows: object, read: Callable[[Any, str, int], Mapped]) -> list[Mapped]:
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise BrokerUnavailable("Upstox answered a list that is not a list")
        try:
            return [read(row, *self._ours(row)) for row in _served(rows)]
        except (mapping.UnreadablePayload, KeyError, TypeError, AttributeError) as problem:
            raise BrokerUnavailable(f"Upstox answered an unreadable row: {problem}") from None

    # --- Orders ---------------------------------------------------------------------------------

    def _within_half_hour_limit(self) -> None:
        """Upstox's third order window, 2,000 per 30 minutes per user, which RateLimits cannot
        declare: taken here from the same shared buckets (never waiting), so the broker is not
        tripped. The per-second and per-minute windows are paced by the order path."""
        self.client.headers()  # no session: BrokerAuthExpired before a token is taken
        account = (self.credentials.client_id or self.credentials.api_key) if self.credentials else ""
        grant = shared_buckets().take(f"{NAME}:{account}:orders-30m", (ORDERS_PER_HALF_HOUR,), 0.0)
        if not grant.granted:
            raise BrokerRateLimited("Upstox allows 2000 order requests per 30 minutes; wait before the next",
                                    retry_after=grant.wait)

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        info = self._instrument(request.symbol, request.exchange)
        try:
            quantity = mapping.their_quantity(request.quantity, request.exchange, info.lotsize)
        except ValueError as problem:
            raise BrokerRejected(str(problem)) from None
        slices = mapping.slices_needed(quantity, info.freeze_qty)
        if slices > mapping.MAX_SLICES:
            raise BrokerRejected(
                f"Quantity {request.quantity} is {slices} slices of the freeze quantity {info.freeze_qty}; "
                f"an order may be sliced into at most {mapping.MAX_SLICES} (SEBI retail-algo rules)")
        payload = mapping.order_payload(request, info.token, market_protection=market_protection(),
                                        slice_order=slices > 1, lot_size=info.lotsize)
        self._within_half_hour_limit()
        data = self.client.order_write("POST", "/v3/order/place", payload=payload)
        ids = data.get("order_ids") if isinstance(data, dict) else None
        if not isinstance(ids, list) or not ids:
            # Accepted, yet no id we can read: the outcome is unknown, never retried.
            raise BrokerUnavailable("Upstox accepted the order but answered no order id")
        message = f"sliced into {len(ids)} orders: {', '.join(map(str, ids))}" if len(ids) > 1 else ""
        return PlacedOrder(orderid=str(ids[0]), message=message)

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        lot_size = self._instrument(request.symbol, request.exchange).lotsize
        try:
            payload = mapping.modify_payload(request, market_protection=market_protection(), lot_size=lot_size)
        except ValueError as problem:
            raise BrokerRejected(str(problem)) from None
        self._within_half_hour_limit()
        data = self.client.order_write("PUT", "/v3/order/modify", payload=payload)
        return PlacedOrder(orderid=str((data or {}).get("order_id") or request.orderid))

    def cancel_order(self, orderid: str) -> PlacedOrder:
        self._within_half_hour_limit()
        data = self.client.order_write("DELETE", "/v3/order/cancel", params={"order_id": orderid})
        return PlacedOrder(orderid=str((data or {}).get("order_id") or orderid))

    def order_book(self) -> list[BrokerOrder]:
        return self._read(self.client.get("/v2/order/retrieve-all"), mapping.broker_order)

    def order(self, orderid: str) -> BrokerOrder:
        data = self.client.get("/v2/order/details", order_id=orderid)
        if not isinstance(data, dict):
            raise BrokerUnavailable("Upstox answered an order that is not an object")
        return self._read([data], mapping.broker_order)[0]

    def trade_book(self) -> list[Trade]:
        return self._read(self.client.get("/v2/order/trades/get-trades-for-day"), mapping.trade)

    # --- Portfolio ------------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        rows = self.client.get("/v2/portfolio/short-term-positions")
        if rows is None:
            return []
        if not isinstance(rows, list):
            raise BrokerUnavailable("Upstox answered positions that are not a list")
        try:
            positions = []
            for row in _served(rows):
                positions.append(position_of(mapping.position_totals(row, *self._ours(row))))
            return positions
        except (mapping.UnreadablePayload, KeyError, TypeError, AttributeError) as problem:
            raise BrokerUnavailable(f"Upstox answered an unreadable position: {problem}") from None

    def holdings(self) -> list[Holding]:
        return self._read(self.client.get("/v2/portfolio/long-term-holdings"),
                          lambda row, symbol, lot: mapping.holding(row, symbol))

    def funds(self) -> Funds:
        """v3 funds (Upstox's from April 2026): free cash and pledge margin apart. v2's
        ``available_margin`` counts pledge margin as cash, so it is not used."""
        data = self.client.request("GET", "/v3/user/get-funds-and-margin", extra_headers={"Api-Version": "3.0"})
        try:
            funds = mapping.funds(data)
        except (mapping.UnreadablePayload, KeyError, TypeError, AttributeError) as problem:
            raise BrokerUnavailable(f"Upstox answered unreadable funds: {problem}") from None
        positions = self.positions()
        return Funds(availablecash=funds.availablecash, collateral=funds.collateral,
                     m2mrealized=sum((p.realized_pnl for p in positions), Decimal(0)),
                     m2munrealized=sum((p.unrealized_pnl for p in positions), Decimal(0)),
                     utiliseddebits=funds.utiliseddebits, extra=funds.extra)

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        if not legs:
            return MarginResult(total_margin_required=Decimal(0))
        if len(legs) > MARGIN_LEGS:
            raise BrokerRejected(f"Upstox calculates margin for at most {MARGIN_LEGS} instruments at once")
        instruments = []
        for leg in legs:
            info = self._instrument(leg.symbol, leg.exchange)
            instruments.append({"instrument_key": info.token, "quantity": int(leg.quantity),
                                "transaction_type": mapping.SIDES[leg.action], "product": mapping.PRODUCTS[leg.product],
                                "price": float(leg.price)})
        data = self.client.post("/v2/charges/margin", {"instruments": instruments})
        if not isinstance(data, dict):
            raise BrokerUnavailable("Upstox answered a margin that is not an object")
        margins = [row for row in data.get("margins") or [] if isinstance(row, dict)]
        return MarginResult(
            total_margin_required=mapping.decimal(data.get("final_margin", data.get("required_margin"))),
            span_margin=sum((mapping.decimal(row.get("span_margin")) for row in margins), Decimal(0)),
            exposure_margin=sum((mapping.decimal(row.get("exposure_margin")) for row in margins), Decimal(0)))

    # --- Market data ----------------------------------------------------------------------------

    def _quote_rows(self, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Full quotes by instrument_key, in batches of 500. The reply is keyed by
        "NSE_EQ:SBIN"; each value names its instrument_key in ``instrument_token``."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), QUOTE_BATCH):
            batch = list(keys[start:start + QUOTE_BATCH])
            data = self.client.get("/v2/market-quote/quotes", instrument_key=",".join(batch))
            if not isinstance(data, dict):
                raise BrokerUnavailable("Upstox answered quotes that are not an object")
            for value in data.values():
                if isinstance(value, dict):
                    found[str(value.get("instrument_token", ""))] = value
        return found

    def _quote_row(self, symbol: str, exchange: Exchange) -> dict[str, Any]:
        info = self._instrument(symbol, exchange)
        row = self._quote_rows([info.token]).get(info.token)
        if row is None:
            raise SymbolNotFound(f"Upstox has no quote for {exchange}:{symbol}")
        return row

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        return mapping.quote(self._quote_row(symbol, exchange))  # type: ignore[arg-type]

    def quotes(self, items: Sequence[tuple[str, Exchange]]) -> dict[tuple[str, Exchange], Quote]:
        """Many quotes in Upstox's batch call (500 keys a request). Not in the contract yet:
        multiquotes still asks ``quote`` per symbol."""
        infos = {item: self._instrument(*item) for item in items}
        rows = self._quote_rows(sorted({info.token for info in infos.values()}))
        return {item: mapping.quote(rows[info.token])  # type: ignore[arg-type]
                for item, info in infos.items() if info.token in rows}

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        return mapping.depth(self._quote_row(symbol, exchange))  # type: ignore[arg-type]

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        if interval not in mapping.INTERVALS:
            raise CapabilityMissing(f"Upstox has no {interval} bars")
        unit, step, span = mapping.INTERVALS[interval]
        key = url_quote(self._instrument(symbol, exchange).token, safe="")
        rows: list[Any] = []
        chunk_end = end
        while chunk_end >= start:
            chunk_start = max(start, chunk_end - timedelta(days=span - 1))
            data = self.client.get(f"/v3/historical-candle/{key}/{unit}/{step}/{chunk_end.isoformat()}/"
                                   f"{chunk_start.isoformat()}")
            rows += (data or {}).get("candles") or []
            chunk_end = chunk_start - timedelta(days=1)
        if end >= self.today() and unit in ("minutes", "hours", "days"):
            data = self.client.get(f"/v3/historical-candle/intraday/{key}/{unit}/{step}")
            rows += (data or {}).get("candles") or []
        try:
            bars = {bar.timestamp: bar for bar in map(mapping.candle, rows)}
        except (mapping.UnreadablePayload, TypeError) as problem:
            raise BrokerUnavailable(f"Upstox answered unreadable bars: {problem}") from None
        return [bars[stamp] for stamp in sorted(bars)]

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]:
        return contracts.master_contract()
