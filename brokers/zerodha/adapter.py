"""Zerodha (Kite Connect v3) behind the broker contract: composes the client (HTTP), the
mapping (fields), the master contract and GTT. Symbols are translated through Zerodha's
master-contract rows (our symbol -> Kite's tradingsymbol and instrument token).

Since 2026-04-01 (SEBI's retail-algo rules as Zerodha applies them) Kite accepts orders
only from the static IP registered under "IP Whitelist" at developers.kite.trade: a
deployment sets BROKER_EGRESS_IP (a local address to send from) or BROKER_EGRESS_PROXY
(brokers/http.py), and every MARKET or SL-M order carries ``market_protection`` (-1, Kite's
automatic band, unless ZERODHA_MARKET_PROTECTION sets a percentage). Orders are never
auto-sliced at Kite (no ``autoslice``): the platform splits by freeze quantity itself.
See README.md in this package for the Kite app's settings (redirect and postback URLs)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from django.conf import settings

from brokers import ratelimit
from brokers.base import (
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
from brokers.enums import Exchange
from brokers.gtt import GttPriceUnavailable, GttRequest, GttStatus, GttTrigger, GttTriggerNotFound, rule_errors
from brokers.positions import position_of
from brokers.selectors import InstrumentInfo, find_instrument_by_token

from . import contracts, mapping
from .client import ZerodhaClient
from .schemas import Row
from .symbols import NAME, instrument, our_symbol, quote_key

Mapped = TypeVar("Mapped")
QUOTE_BATCH = 500  # instruments per GET /quote (Kite's documented maximum)
VARIETY = "regular"
# How long a data call may wait for Kite's per-app quote (1/s) or history (3/s) allowance.
DATA_WAIT_SECONDS = 2.0
EXCHANGES = frozenset({Exchange.NSE, Exchange.BSE, Exchange.NFO, Exchange.BFO, Exchange.CDS, Exchange.BCD,
                       Exchange.MCX, Exchange.NCO, Exchange.NSE_INDEX, Exchange.BSE_INDEX, Exchange.MCX_INDEX,
                       Exchange.GLOBAL_INDEX})


def order_updates() -> OrderUpdateSource:
    """Kite posts order updates to the app's registered postback URL, which needs an address
    Kite can reach; a deployment without one sets ZERODHA_ORDER_UPDATES = "poll" and the
    generic poller reads the order book instead. Read once, when the package loads."""
    chosen = str(getattr(settings, "ZERODHA_ORDER_UPDATES", "") or OrderUpdateSource.POSTBACK)
    if chosen not in (OrderUpdateSource.POSTBACK, OrderUpdateSource.POLL):
        raise ValueError(f"ZERODHA_ORDER_UPDATES must be 'postback' or 'poll', not {chosen!r}")
    return OrderUpdateSource(chosen)


def market_protection() -> str:
    """What MARKET and SL-M orders send as ``market_protection`` (2026 rules): -1, Kite's
    automatic band, unless the deployment sets a percentage (0 < p <= 100)."""
    return str(getattr(settings, "ZERODHA_MARKET_PROTECTION", "") or mapping.MARKET_PROTECTION_AUTO)


class ZerodhaAdapter:
    name = NAME
    capabilities = Capabilities(
        exchanges=EXCHANGES, depth_levels=5, intervals=tuple(mapping.INTERVALS), margin_calculator=True, gtt=True,
        modify=True, cancel_all=False, order_lookup=True, paper=False, login=LoginKind.OAUTH,
        order_updates=order_updates(), market_feed=True, batch_quotes=QUOTE_BATCH,
        # Kite's limits (exceptions docs; staff, forum thread 16217): orders are per account,
        # quotes and history per app.
        rate_limits=RateLimits(orders_per_second=10, orders_per_minute=400, orders_per_day=5000,
                               quotes_per_second=1, history_per_second=3),
        orders_per_second=10, history_days=2000,
    )

    def __init__(self, user: object, credentials: BrokerCredentials | None) -> None:
        self.user = user
        self.credentials = credentials
        self.client = ZerodhaClient(credentials)

    def session_valid(self) -> bool:
        return token_usable(self.credentials)

    # --- Reading rows ---------------------------------------------------------------------------

    def _read(self, rows: object, read: Callable[[Row, str], Mapped]) -> list[Mapped]:
        if not isinstance(rows, list):
            raise BrokerUnavailable("Zerodha answered a list that is not a list")
        try:
            return [read(row, our_symbol(row)) for row in rows]
        except (mapping.UnreadablePayload, KeyError, TypeError, ArithmeticError) as problem:
            raise BrokerUnavailable(f"Zerodha answered an unreadable row: {problem}") from None

    def _pace(self, kind: ratelimit.CallKind) -> None:
        if not getattr(settings, "ZERODHA_PACE_DATA", True):
            return
        account = self.credentials.api_key if self.credentials else ""
        try:
            ratelimit.pace(broker=NAME, account=account, limits=self.capabilities.rate_limits, kind=kind,
                           max_wait=DATA_WAIT_SECONDS)
        except ratelimit.PacingExceeded as busy:
            raise BrokerRateLimited("Zerodha data rate limit reached", retry_after=busy.retry_after) from None

    # --- Orders ---------------------------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> PlacedOrder:
        if not request.exchange.is_tradable:
            raise BrokerRejected(f"{request.exchange} instruments are indices and cannot be traded")
        info = instrument(request.symbol, request.exchange)
        data = self.client.post(f"/orders/{VARIETY}", mapping.order_form(request, info.brsymbol, market_protection()))
        if not isinstance(data, dict) or not data.get("order_id"):
            raise BrokerUnavailable("Zerodha accepted the order without an order id")
        return PlacedOrder(orderid=str(data["order_id"]))

    def modify_order(self, request: ModifyRequest) -> PlacedOrder:
        data = self.client.put(f"/orders/{VARIETY}/{request.orderid}",
                               mapping.modify_form(request, market_protection()))
        return PlacedOrder(orderid=str(data.get("order_id", request.orderid) if isinstance(data, dict)
                                       else request.orderid))

    def cancel_order(self, orderid: str) -> PlacedOrder:
        data = self.client.delete(f"/orders/{VARIETY}/{orderid}")
        return PlacedOrder(orderid=str(data.get("order_id", orderid) if isinstance(data, dict) else orderid))

    def order_book(self) -> list[BrokerOrder]:
        return self._read(self.client.get("/orders"), mapping.broker_order)

    def order(self, orderid: str) -> BrokerOrder:
        """``GET /orders/{id}`` answers the order's every state, oldest first: the last is now."""
        history = self.client.get(f"/orders/{orderid}")
        if not isinstance(history, list) or not history:
            raise OrderNotFound(f"Order {orderid} not found at Zerodha")
        return self._read(history[-1:], mapping.broker_order)[0]

    def trade_book(self) -> list[Trade]:
        return self._read(self.client.get("/trades"), mapping.trade)

    # --- Portfolio ------------------------------------------------------------------------------

    def positions(self) -> list[Position]:
        data = self.client.get("/portfolio/positions")
        if not isinstance(data, dict):
            raise BrokerUnavailable("Zerodha answered positions that are not an object")

        def read(row: Row, symbol: str) -> Position:
            info = self._by_token(row)
            return position_of(mapping.position_totals(row, symbol, info.lotsize if info else 1))

        return self._read(data.get("net") or [], read)

    def _by_token(self, row: Row) -> InstrumentInfo | None:
        return find_instrument_by_token(broker=NAME, exchange=str(row.get("exchange", "")),
                                        token=str(row.get("instrument_token", "")))

    def holdings(self) -> list[Holding]:
        return self._read(self.client.get("/portfolio/holdings"), mapping.holding)

    def funds(self) -> Funds:
        data = self.client.get("/user/margins")
        try:
            return mapping.funds(data if isinstance(data, dict) else {})
        except mapping.UnreadablePayload as problem:
            raise BrokerUnavailable(f"Zerodha answered unreadable margins: {problem}") from None

    def margin(self, legs: Sequence[MarginLeg]) -> MarginResult:
        try:
            body = mapping.margin_orders([(leg, instrument(leg.symbol, leg.exchange).brsymbol) for leg in legs])
        except mapping.UnreadablePayload as problem:
            raise BrokerRejected(str(problem)) from None
        data = self.client.post_json("/margins/basket", body, params={"consider_positions": "true"})
        try:
            return mapping.margin_result(data if isinstance(data, dict) else {})
        except mapping.UnreadablePayload as problem:
            raise BrokerUnavailable(f"Zerodha answered an unreadable margin: {problem}") from None

    # --- Market data ----------------------------------------------------------------------------

    def _quote_rows(self, infos: Sequence[InstrumentInfo]) -> dict[str, Row]:
        rows: dict[str, Row] = {}
        for start in range(0, len(infos), QUOTE_BATCH):
            keys = [quote_key(info) for info in infos[start:start + QUOTE_BATCH]]
            self._pace(ratelimit.CallKind.QUOTES)
            data = self.client.get("/quote", params=[("i", key) for key in keys])
            if not isinstance(data, dict):
                raise BrokerUnavailable("Zerodha answered quotes that are not an object")
            rows.update({key: row for key, row in data.items() if isinstance(row, dict)})
        return rows

    def _quote_row(self, symbol: str, exchange: Exchange) -> Row:
        info = instrument(symbol, exchange)
        row = self._quote_rows([info]).get(quote_key(info))
        if row is None:
            raise SymbolNotFound(f"Zerodha has no quote for '{symbol}' on '{exchange}'")
        return row

    def quote(self, symbol: str, exchange: Exchange) -> Quote:
        return self._parse(mapping.quote, self._quote_row(symbol, exchange))

    def quotes(self, items: Sequence[tuple[str, Exchange]]) -> dict[tuple[str, Exchange], Quote]:
        """Many quotes in Kite's batch call (500 instruments per request); symbols unknown
        here or at Kite are left out of the answer."""
        found: list[tuple[tuple[str, Exchange], InstrumentInfo]] = []
        for symbol, exchange in items:
            try:
                found.append(((symbol, exchange), instrument(symbol, exchange)))
            except SymbolNotFound:
                continue
        rows = self._quote_rows([info for _, info in found])
        return {item: self._parse(mapping.quote, rows[quote_key(info)]) for item, info in found
                if quote_key(info) in rows}

    def depth(self, symbol: str, exchange: Exchange) -> Depth:
        return self._parse(mapping.depth, self._quote_row(symbol, exchange))

    @staticmethod
    def _parse(read: Callable[[Row], Mapped], row: Row) -> Mapped:
        try:
            return read(row)
        except (mapping.UnreadablePayload, KeyError, TypeError, ArithmeticError) as problem:
            raise BrokerUnavailable(f"Zerodha answered an unreadable quote: {problem}") from None

    def history(self, symbol: str, exchange: Exchange, interval: str, start: date, end: date) -> list[Candle]:
        kite_interval = mapping.INTERVALS.get(interval)
        if kite_interval is None:
            raise CapabilityMissing(f"Zerodha has no {interval} bars")
        info = instrument(symbol, exchange)
        span = timedelta(days=mapping.INTERVAL_SPAN_DAYS[kite_interval] - 1)
        candles: list[Candle] = []
        day = start
        while day <= end:
            last = min(end, day + span)
            self._pace(ratelimit.CallKind.HISTORY)
            data = self.client.get(f"/instruments/historical/{info.token}/{kite_interval}", params={
                "from": datetime.combine(day, time(0, 0)).strftime("%Y-%m-%d %H:%M:%S"),
                "to": datetime.combine(last, time(23, 59, 59)).strftime("%Y-%m-%d %H:%M:%S"),
                "continuous": "0", "oi": "1"})
            rows = data.get("candles") if isinstance(data, dict) else None
            if not isinstance(rows, list):
                raise BrokerUnavailable("Zerodha answered history without candles")
            candles.extend(self._parse(mapping.candle, row) for row in rows)
            day = last + timedelta(days=1)
        return candles

    def master_contract(self) -> Iterable[InstrumentRow | UnparsableRow]:
        return contracts.master_contract(self.client)

    # --- GTT --------------------------------------------------------------------------------------

    def _gtt_form(self, request: GttRequest) -> dict[str, str]:
        problems = rule_errors(request.trigger_type, triggerprice_sl=request.triggerprice_sl,
                               triggerprice_tg=request.triggerprice_tg, stoploss=request.stoploss,
                               target=request.target)
        if problems:
            raise BrokerRejected(next(iter(problems.values()))[0])
        info = instrument(request.symbol, request.exchange)
        try:
            last_price = self.quote(request.symbol, request.exchange).ltp
        except (BrokerError, ArithmeticError):
            raise GttPriceUnavailable() from None
        if last_price <= 0:
            raise GttPriceUnavailable()
        try:
            return mapping.gtt_form(request, info.brsymbol, last_price)
        except mapping.UnreadablePayload as problem:
            raise BrokerRejected(str(problem)) from None

    def place_gtt(self, request: GttRequest) -> str:
        data = self.client.post("/gtt/triggers", self._gtt_form(request))
        if not isinstance(data, dict) or data.get("trigger_id") in (None, ""):
            raise BrokerUnavailable("Zerodha accepted the GTT without a trigger id")
        return str(data["trigger_id"])

    def modify_gtt(self, trigger_id: str, request: GttRequest) -> str:
        data = self._gtt_call("PUT", trigger_id, self._gtt_form(request))
        return str(data.get("trigger_id", trigger_id) if isinstance(data, dict) else trigger_id)

    def cancel_gtt(self, trigger_id: str) -> str:
        data = self._gtt_call("DELETE", trigger_id)
        return str(data.get("trigger_id", trigger_id) if isinstance(data, dict) else trigger_id)

    def _gtt_call(self, method: str, trigger_id: str, form: dict[str, str] | None = None) -> Any:
        try:
            return self.client.request(method, f"/gtt/triggers/{trigger_id}", data=form)
        except OrderNotFound as missing:
            raise GttTriggerNotFound(missing.message) from None

    def gtt_book(self) -> list[GttTrigger]:
        rows = self.client.get("/gtt/triggers")
        if not isinstance(rows, list):
            raise BrokerUnavailable("Zerodha answered a GTT book that is not a list")
        book = []
        try:
            for row in rows:
                condition = row["condition"]
                exchange = mapping.our_exchange(condition["exchange"])
                symbol = our_symbol({"exchange": str(exchange), "instrument_token": condition.get("instrument_token"),
                                     "tradingsymbol": condition["tradingsymbol"]})
                trigger = mapping.gtt_trigger(row, symbol, exchange)
                if trigger.status == GttStatus.ACTIVE:
                    book.append(trigger)
        except (mapping.UnreadablePayload, KeyError, TypeError, ArithmeticError) as problem:
            raise BrokerUnavailable(f"Zerodha answered an unreadable GTT: {problem}") from None
        return book
