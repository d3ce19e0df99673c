"""Dhan's live order-update socket as the contract's OrderUpdateStream (brokers/order_stream.py).

``wss://api-order-update.dhan.co``; once connected we send
``{"LoginReq": {"MsgCode": 42, "ClientId": .., "Token": ..}, "UserType": "SELF"}`` and Dhan
pushes JSON ``{"Type": "order_alert", "Data": {...}}`` for every order of the account,
whatever platform placed it. Dhan's docs write the Data keys in PascalCase (``OrderNo``,
``Status``, ``TxnType``); OpenAlgo reports the live feed sends camelCase (``orderNo``): we
read both. Codes: ``Product`` C/I/M/F/V/B, ``TxnType`` B/S, ``OrderType`` LMT/MKT/SL/SLM,
``Exchange`` NSE/BSE/MCX with ``Segment`` E/D/C/M.

Dhan's HTTP postback carries no signature, so it cannot be verified and is not used; the
capability stays POLL until the platform runs PUSH streams (this socket is ready for it)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials, BrokerOrder
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.order_stream import OrderSink
from brokers.selectors import find_instrument_by_token
from brokers.streaming import StreamClosed

from . import mapping
from .client import client_id_of
from .session import NAME

log = logging.getLogger(__name__)

ORDER_UPDATE_URL = "wss://api-order-update.dhan.co"
LOGIN_CODE = 42
PRODUCTS = {"C": Product.CNC, "I": Product.MIS, "M": Product.NRML, "F": Product.CNC, "V": Product.MIS,
            "B": Product.MIS}
SIDES = {"B": Action.BUY, "S": Action.SELL}
ORDER_TYPES = {"LMT": PriceType.LIMIT, "MKT": PriceType.MARKET, "SL": PriceType.SL, "SLM": PriceType.SL_M}
EXCHANGES = {("NSE", "E"): Exchange.NSE, ("NSE", "D"): Exchange.NFO, ("NSE", "C"): Exchange.CDS,
             ("BSE", "E"): Exchange.BSE, ("BSE", "D"): Exchange.BFO, ("BSE", "C"): Exchange.BCD,
             ("MCX", "M"): Exchange.MCX}

Connector = Callable[[str], Any]


def _connect(url: str) -> Any:
    return ws_connect(url, open_timeout=10, close_timeout=2, compression=None)


def _get(data: Mapping[str, Any], name: str) -> Any:
    """A Data key in Dhan's documented PascalCase or the camelCase seen live."""
    if name in data:
        return data[name]
    return data.get(name[0].lower() + name[1:])


def _code(table: Mapping[str, Any], value: object, what: str) -> Any:
    try:
        return table[str(value).upper()]
    except KeyError:
        raise mapping.UnreadablePayload(f"unknown {what} {value!r}") from None


def order_of(data: Mapping[str, Any]) -> BrokerOrder:
    """One pushed order as ours (pure but for the instrument lookup by security id)."""
    exchange = EXCHANGES.get((str(_get(data, "Exchange")).upper(), str(_get(data, "Segment")).upper()))
    if exchange is None:
        raise mapping.UnreadablePayload(f"unknown exchange {_get(data, 'Exchange')}/{_get(data, 'Segment')}")
    token = str(_get(data, "SecurityId") or "")
    info = find_instrument_by_token(broker=NAME, exchange=str(exchange), token=token)
    symbol = info.symbol if info else str(_get(data, "DisplayName") or _get(data, "Symbol") or token)
    status = str(_get(data, "Status") or "")
    orderid = str(_get(data, "OrderNo") or "")
    if not orderid:
        raise mapping.UnreadablePayload("order update without OrderNo")
    return BrokerOrder(
        orderid=orderid, symbol=symbol, exchange=exchange, action=_code(SIDES, _get(data, "TxnType"), "side"),
        quantity=mapping.decimal(_get(data, "Quantity")), price=mapping.decimal(_get(data, "Price")),
        trigger_price=mapping.decimal(_get(data, "TriggerPrice")),
        pricetype=_code(ORDER_TYPES, _get(data, "OrderType"), "order type"),
        product=_code(PRODUCTS, _get(data, "Product"), "product"), status=mapping.status_of(status),
        timestamp=mapping.first_time({"at": _get(data, "LastUpdatedTime"), "placed": _get(data, "OrderDateTime"),
                                      "exchange": _get(data, "ExchOrderTime")}, "at", "placed", "exchange"),
        filled_quantity=mapping.decimal(_get(data, "TradedQty")),
        average_price=mapping.decimal(_get(data, "AvgTradedPrice")) or Decimal(0),
        rejection_reason=str(_get(data, "ReasonDescription") or "") if status.upper() == "REJECTED" else "",
        tag=str(_get(data, "CorrelationId") or ""),
    )


class DhanOrderStream:
    """One account's order-update socket."""

    def __init__(self, credentials: BrokerCredentials, connector: Connector = _connect) -> None:
        if not credentials.access_token:
            raise BrokerAuthExpired("Dhan's order updates need a logged-in session")
        self.credentials = credentials
        self.connector = connector
        self.socket: Any = None
        self.sink: OrderSink | None = None

    def connect(self, sink: OrderSink) -> None:
        self.sink = sink
        url = str(getattr(settings, "DHAN_ORDER_UPDATE_URL", "") or ORDER_UPDATE_URL)
        self.socket = self.connector(url)
        client_id = client_id_of(self.credentials.access_token) or self.credentials.client_id
        self.socket.send(json.dumps({"LoginReq": {"MsgCode": LOGIN_CODE, "ClientId": client_id,
                                                  "Token": self.credentials.access_token}, "UserType": "SELF"}))

    def pump(self, timeout: float) -> bool:
        if self.socket is None or self.sink is None:
            raise StreamClosed("not connected")
        try:
            message = self.socket.recv(timeout=timeout)
        except TimeoutError:
            return False
        except ConnectionClosed as closed:
            raise StreamClosed(f"Dhan order updates closed: {closed}") from None
        try:
            payload = json.loads(message)
        except (TypeError, ValueError):
            log.warning("Dhan order update not JSON: %.200r", message)
            return True
        if isinstance(payload, dict) and str(payload.get("Type", "")).lower() == "order_alert":
            data = payload.get("Data")
            try:
                order = order_of(data if isinstance(data, dict) else {})
            except (mapping.UnreadablePayload, ValueError, TypeError) as problem:
                log.warning("Dhan order update unreadable (%s): %.300r", problem, data)
                return True
            self.sink(order)
        return True

    def close(self) -> None:
        socket, self.socket = self.socket, None
        if socket is not None:
            try:
                socket.close()
            except Exception:
                log.debug("Dhan order-update socket close failed", exc_info=True)
