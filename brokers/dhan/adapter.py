"""Dhan behind the broker contract: composes its client (HTTP), mapping (fields), contracts
(instruments) and Forever Orders (GTT). Dhan names instruments by (exchangeSegment,
securityId); our symbols are translated through Dhan's master contract rows.

The 2026 retail-algo rules, as Dhan applies them:
- Static IP: Dhan accepts order place/modify/cancel calls (normal and Forever) only from
  the IP the client registered (web.dhan.co, or ``POST /v2/ip/setIP``; changeable about
  once a week). A deployment sends from it with ``BROKER_EGRESS_IP`` (a local address to
  bind) or ``BROKER_EGRESS_PROXY`` (brokers/http.py); a wrong IP comes back as Dhan's own
  rejection text.
- Market protection: Dhan itself turns an API MARKET order into a LIMIT order inside its
  preset protection range (since 21 March 2026); it takes no field from us, so MARKET goes
  as MARKET and the fill is read from the order book, never assumed.
- Orders per second: 10 (RATE_LIMITS) unless the algo is registered with the exchange.
- Slicing: splits go through the platform's generic split (freeze quantities as data),
  not Dhan's ``/orders/slicing``, so every slice is a ledger row of its own and paced."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from brokers.base import (
    BrokerError,
    BrokerOrder,
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
    Trade,
    UnparsableRow,
)
from brokers.enums import Exchange, OrderStatus
from brokers.positions import position_of
from brokers.selectors import InstrumentInfo, find_instrument, find_instrument_by_token

from . import contracts, mapping
from .client import DhanRejected
from .forever import ForeverOrders
from .session import NAME, QUOTE_BATCH, batches

log = logging.getLogger(__name__)

INTRADAY_SPAN = timedelta(days=90)  # per /charts/intraday request (documented)
NO_DATA = "DH-907"
NO_HOLDINGS = ("DH-1111",)

# Dhan's published limits. Orders: 10/s since the 2026 retail-algo rules (it was 25/s; the
# dates differ between Dhan's notices, so we budget for the lower figure), 250/min, 1,000/h,
# 7,000/day. Quotes: 1 request/s. Charts: 5/s.
RATE_LIMITS = RateLimits(orders_per_second=10, orders_per_minute=250, orders_per_hour=1000, orders_per_day=7000,
                         quotes_per_second=1, history_per_second=5)


def chart_instrument(info: InstrumentInfo) -> str:
    """Dhan's ``instrument`` of a chart request (its SEM_INSTRUMENT_NAME, kept in our row)."""
    if info.exchange.endswith("_INDEX"):
        return "INDEX"
    if info.instrumenttype in ("", "EQ"):
        return "EQUITY"
    return info.instrumenttype


class DhanAdapter(ForeverOrders):
    name = NAME
    capabilities = Capabilities(
        exchanges=frozenset({Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.BCD,
                             Exchange.MCX, Exchange.NSE_INDEX, Exchange.BSE_INDEX}),
        depth_levels=5, intervals=mapping.INTERVALS, margin_calculator=True, gtt=True, modify=True,
        cancel_all=False, order_lookup=True, paper=False, login=LoginKind.TOKEN,
        order_updates=OrderUpdateSource.PUSH, market_feed=True, rate_limits=RATE_LIMITS, batch_quotes=1000,
        orders_per_second=10, history_days=5 * 365,
    )

    # --- Orders ---------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        info = self._instrument(request.symbol, request.exchange)
        if not request.exchange.is_tradable:
            raise BrokerRejected(f"Indices cannot be traded: {request.symbol} on {request.exchange}")
        body = mapping.order_body(request, client_id=self.client.client_id, security_id=info.token)
        data = self.client.post("/orders", body)
        orderid = str(data.get("orderId", "")) if isinstance(data, dict) else ""
        if not orderid:
            raise BrokerUnavailable("Dhan accepted the order without an order id")
        if str(data.get("orderStatus", "")).upper() == "REJECTED":
            raise BrokerRejected(self._rejection(orderid), orderid=orderid)
        return PlacedOrder(orderid=orderid)

    def _rejection(self, orderid: str) -> str:
        """Dhan's own reason for an order it rejected on placement (verbatim)."""
        try:
            row = self._order_row(orderid)
        except BrokerError:
            return f"Dhan rejected order {orderid}"
        return str(row.get("omsErrorDescription") or f"Dhan rejected order {orderid}")

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        data = self.client.put(f"/orders/{request.orderid}",
                               mapping.modify_body(request, client_id=self.client.client_id))
        return PlacedOrder(orderid=str(data.get("orderId") or request.orderid) if isinstance(data, dict)
                           else request.orderid)

    def cancel_order(self, orderid: str) -> PlacedOrder:
        data = self.client.delete(f"/orders/{orderid}")
        if not isinstance(data, dict):
            data = {}
        # Cancelled only when Dhan says so; a bare 202 means the request was taken, not done.
        said = str(data.get("orderStatus", "")).upper()
        return PlacedOrder(orderid=str(data.get("orderId") or orderid),
                           status=OrderStatus.CANCELLED if said == "CANCELLED" else None)

    def order_book(self) -> list[BrokerOrder]:
        return self._read(self.client.get("/orders"), mapping.broker_order, skip_unreadable=True)

    def _order_row(self, orderid: str) -> Mapping[str, Any]:
        data = self.client.get(f"/orders/{orderid}")
        row = data[0] if isinstance(data, list) and data else data  # documented as one object; seen as a list
        if not isinstance(row, dict) or not row:
            raise BrokerUnavailable(f"Dhan answered order {orderid} without it")
        return row

    def order(self, orderid: str) -> BrokerOrder:
        return self._read([self._order_row(orderid)], mapping.broker_order)[0]

    def trade_book(self) -> list[Trade]:
        return self._read(self.client.get("/trades"), mapping.trade, skip_unreadable=True)

    # --- Portfolio ------------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        rows = self.client.get("/positions")
        if not isinstance(rows, list):
            raise BrokerUnavailable("Dhan answered positions that are not a list")
        keys = [(str(row.get("exchangeSegment")), str(row.get("securityId"))) for row in rows]
        try:
            prices = self._last_prices(keys) if rows else {}
        except BrokerError as failure:  # no data plan, or the 1/s quote limit: Dhan's own P&L then
            log.warning("Dhan last prices for positions unavailable (%s); using its reported P&L", failure.message)
            prices = {}

        def read(row: Mapping[str, Any], symbol: str, exchange: Exchange) -> Position:
            key = (str(row.get("exchangeSegment")), str(row.get("securityId")))
            ltp = prices.get(key) or mapping.reported_ltp(row)
            info = find_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)
            return position_of(mapping.position_totals(row, symbol, exchange, ltp, info.lotsize if info else 1))

        return self._read(rows, read)

    def holdings(self) -> list[Holding]:
        try:
            rows = self.client.get("/holdings")
        except DhanRejected as refused:
            if refused.code in NO_HOLDINGS or "no holding" in refused.message.lower():
                return []
            raise
        if not isinstance(rows, list):
            raise BrokerUnavailable("Dhan answered holdings that are not a list")
        located: list[tuple[Mapping[str, Any], str, Exchange]] = []
        for row in rows:
            token = str(row.get("securityId", ""))
            # "ALL" in Dhan's docs (either cash market), "NSE"/"BSE" in its SDK's samples.
            stated = str(row.get("exchange", "")).upper()
            order = (Exchange.BSE, Exchange.NSE) if stated == "BSE" else (Exchange.NSE, Exchange.BSE)
            for exchange in order:
                info = find_instrument_by_token(broker=NAME, exchange=str(exchange), token=token)
                if info is not None:
                    located.append((row, info.symbol, exchange))
                    break
            else:
                located.append((row, str(row.get("tradingSymbol") or token), order[0]))
        # A holding carries its last price in newer answers; the rest are asked in one batch call.
        missing = [(mapping.SEGMENTS[exchange], str(row.get("securityId"))) for row, _, exchange in located
                   if not mapping.decimal(row.get("lastTradedPrice"))]
        try:
            prices = self._last_prices(missing) if missing else {}
        except BrokerError as failure:
            log.warning("Dhan last prices for holdings unavailable: %s", failure.message)
            prices = {}
        try:
            return [mapping.holding(row, symbol, exchange,
                                    mapping.decimal(row.get("lastTradedPrice"))
                                    or prices.get((mapping.SEGMENTS[exchange], str(row.get("securityId"))))
                                    or mapping.decimal(row.get("avgCostPrice")))
                    for row, symbol, exchange in located]
        except (mapping.UnreadablePayload, KeyError, TypeError, ValueError) as problem:
            raise BrokerUnavailable(f"Dhan answered an unreadable holding: {problem}") from None

    def funds(self) -> Funds:
        data = self.client.get("/fundlimit")
        if not isinstance(data, dict):
            raise BrokerUnavailable("Dhan answered funds that are not an object")
        funds = mapping.funds(data)
        positions = self.positions()
        realized = sum((position.realized_pnl for position in positions), Decimal(0))
        unrealized = sum((position.unrealized_pnl for position in positions), Decimal(0))
        return Funds(availablecash=funds.availablecash, collateral=funds.collateral, m2mrealized=realized,
                     m2munrealized=unrealized, utiliseddebits=funds.utiliseddebits, extra=funds.extra)

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        """Dhan's calculator per leg, summed (no hedge benefit across legs: an upper bound)."""
        total, span, exposure = Decimal(0), Decimal(0), Decimal(0)
        for leg in legs:
            info = self._instrument(leg.symbol, leg.exchange)
            last_price = Decimal(0)
            if not (leg.price and leg.pricetype.value in ("LIMIT", "SL")):
                last_price = self.quote(leg.symbol, leg.exchange).ltp
            data = self.client.post("/margincalculator", mapping.margin_body(
                leg, client_id=self.client.client_id, security_id=info.token, last_price=last_price))
            try:
                result = mapping.margin(data)
            except mapping.UnreadablePayload as problem:
                raise BrokerUnavailable(f"Dhan answered an unreadable margin: {problem}") from None
            total += result.total_margin_required
            span += result.span_margin or 0
            exposure += result.exposure_margin or 0
        return MarginResult(total_margin_required=total, span_margin=span, exposure_margin=exposure)

    # --- Market data ----------------------------------------------------------------------------

    def _quote_payloads(self, infos: Sequence[InstrumentInfo]) -> dict[tuple[str, str], Mapping[str, Any]]:
        by_segment: dict[str, list[int]] = {}
        for info in infos:
            by_segment.setdefault(info.brexchange, []).append(int(info.token))
        found: dict[tuple[str, str], Mapping[str, Any]] = {}
        for body in batches(by_segment, QUOTE_BATCH):
            data = self.client.post("/marketfeed/quote", body)
            for segment_name, rows in (data.get("data") or {}).items() if isinstance(data, dict) else ():
                for token, row in (rows or {}).items():
                    found[(segment_name, str(token))] = row
        return found

    def _quote_payload(self, symbol: str, exchange: Exchange) -> Mapping[str, Any]:
        info = self._instrument(symbol, exchange)
        payload = self._quote_payloads([info]).get((info.brexchange, info.token))
        if not isinstance(payload, dict):
            raise BrokerUnavailable(f"Dhan answered no quote for {symbol} on {exchange}")
        return payload

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        return mapping.quote(self._quote_payload(symbol, exchange))

    def quotes(self, items: Sequence[tuple[str, Exchange]]) -> dict[tuple[str, Exchange], Quote]:
        """Many quotes in Dhan's batch call (up to 1,000 instruments a request): what
        multiquotes would use if the contract had the hook. Unknown symbols are left out."""
        infos = {}
        for symbol, exchange in items:
            info = find_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)
            if info is not None:
                infos[(symbol, exchange)] = info
        payloads = self._quote_payloads(list(infos.values()))
        return {key: mapping.quote(payloads[(info.brexchange, info.token)]) for key, info in infos.items()
                if (info.brexchange, info.token) in payloads}

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        return mapping.depth(self._quote_payload(symbol, exchange))

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        if interval not in mapping.INTERVALS:
            raise CapabilityMissing(f"Dhan has no {interval} bars (it has {', '.join(mapping.INTERVALS)})")
        info = self._instrument(symbol, exchange)
        base = {"securityId": info.token, "exchangeSegment": info.brexchange, "instrument": chart_instrument(info),
                "oi": exchange.is_derivative}
        if interval == "D":
            # toDate is exclusive at Dhan.
            return self._bars("/charts/historical", {**base, "expiryCode": 0, "fromDate": start.isoformat(),
                                                      "toDate": (end + timedelta(days=1)).isoformat()})
        bars: list[Candle] = []
        cursor = start
        while cursor <= end:
            last = min(end, cursor + INTRADAY_SPAN - timedelta(days=1))
            bars += self._bars("/charts/intraday", {**base, "interval": mapping.INTRADAY_INTERVALS[interval],
                                                     "fromDate": f"{cursor.isoformat()} 00:00:00",
                                                     "toDate": f"{last.isoformat()} 23:59:59"})
            cursor = last + timedelta(days=1)
        return bars

    def _bars(self, path: str, body: dict[str, Any]) -> list[Candle]:
        try:
            data = self.client.post(path, body)
        except DhanRejected as refused:
            if refused.code == NO_DATA:
                return []
            raise
        if not isinstance(data, dict):
            raise BrokerUnavailable("Dhan answered bars that are not an object")
        try:
            return mapping.candles(data)
        except (mapping.UnreadablePayload, TypeError, ValueError) as problem:
            raise BrokerUnavailable(f"Dhan answered unreadable bars: {problem}") from None

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]:
        return contracts.master_contract()
