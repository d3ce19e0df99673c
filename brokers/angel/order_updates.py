"""Angel One's order-update socket (SmartAPI "WebSocket Order Status") as an
``OrderUpdateStream`` (brokers/order_stream.py): ``wss://tns.angelone.in/smart-order-update``
with ``Authorization: Bearer <jwt>``, kept alive by WebSocket pings every 10 s. Each message
is JSON: ``{"user-id", "status-code", "order-status": "ABnn", "error-message", "orderData"}``
where orderData has the order book's fields; AB00 only acknowledges the connection.

Not wired yet: the registry has no place for an order-stream factory, so the package
declares POLL (the generic poller reads the order book) until it has one."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

from brokers.base import BrokerAuthExpired, BrokerCredentials, BrokerOrder, BrokerRateLimited
from brokers.enums import Exchange, OrderStatus
from brokers.order_stream import OrderSink
from brokers.selectors import find_instrument_by_token
from brokers.streaming import StreamClosed

from . import mapping
from .instruments import cash_symbol
from .login import bare_token

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://tns.angelone.in/smart-order-update"
CONNECTED = "AB00"
# "order-status" codes -> our status, for rows whose own status words are missing.
CODES = {"AB01": OrderStatus.OPEN, "AB02": OrderStatus.CANCELLED, "AB03": OrderStatus.REJECTED,
         "AB04": OrderStatus.OPEN, "AB05": OrderStatus.COMPLETE, "AB06": OrderStatus.OPEN,
         "AB07": OrderStatus.CANCELLED, "AB08": OrderStatus.OPEN, "AB09": OrderStatus.OPEN,
         "AB10": OrderStatus.TRIGGER_PENDING, "AB11": OrderStatus.OPEN}


class Socket(Protocol):
    def recv(self, timeout: float | None = None) -> str | bytes: ...

    def close(self) -> None: ...


Connector = Callable[[str, dict[str, str]], Socket]


def _connect(url: str, headers: dict[str, str]) -> Socket:
    try:
        return ws_connect(url, additional_headers=headers, open_timeout=10, ping_interval=10, ping_timeout=20,
                          close_timeout=2)
    except InvalidStatus as refused:  # 401 invalid token, 403 expired token, 429 too many connections
        status = refused.response.status_code
        if status in (401, 403):
            raise BrokerAuthExpired("Angel One session expired, please log in to the broker again") from None
        if status == 429:
            raise BrokerRateLimited("Angel One allows 3 order-update connections per client") from None
        raise


def order_of(message: dict[str, Any]) -> BrokerOrder | None:
    """The order a message reports, or None for the connection's acknowledgement."""
    code = str(message.get("order-status") or "").upper()
    row = message.get("orderData")
    if code == CONNECTED or not isinstance(row, dict) or not row.get("orderid"):
        return None
    if not (row.get("status") or row.get("orderstatus")) and code in CODES:
        row = {**row, "status": str(CODES[code])}
    return mapping.broker_order(row, _symbol(row))  # type: ignore[arg-type]


def _symbol(row: dict[str, Any]) -> str:
    exchange = str(mapping.our_exchange(str(row.get("exchange", ""))))
    info = find_instrument_by_token(broker="angel", exchange=exchange, token=str(row.get("symboltoken") or ""))
    if info is not None:
        return info.symbol
    return cash_symbol(str(row.get("tradingsymbol") or "")) if exchange in (Exchange.NSE, Exchange.BSE) else str(
        row.get("tradingsymbol") or "")


class AngelOrderStream:
    """One account's order-update socket."""

    def __init__(self, credentials: BrokerCredentials, *, connector: Connector = _connect,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.credentials = credentials
        self.connector = connector
        self.clock = clock
        self.socket: Socket | None = None
        self.sink: OrderSink | None = None

    def connect(self, sink: OrderSink) -> None:
        if not self.credentials.access_token:
            raise BrokerAuthExpired("Angel One session expired, please log in to the broker again")
        self.sink = sink
        url = str(getattr(settings, "ANGEL_ORDER_STREAM_URL", "") or DEFAULT_URL)
        self.socket = self.connector(url, {"Authorization": f"Bearer {bare_token(self.credentials.access_token)}"})

    def pump(self, timeout: float) -> bool:
        socket = self.socket
        if socket is None:
            raise StreamClosed("not connected")
        deadline = self.clock() + timeout
        lively = False
        while (remaining := deadline - self.clock()) > 0:
            try:
                message = socket.recv(timeout=remaining)
            except TimeoutError:
                break
            except ConnectionClosed as closed:
                raise StreamClosed(f"Angel One closed the order stream: {closed}") from None
            lively = True
            self._handle(message)
        return lively

    def _handle(self, message: str | bytes) -> None:
        try:
            payload = json.loads(message)
        except ValueError:
            if str(message).strip().lower() != "pong":
                log.warning("Angel One order stream sent an unreadable frame: %.200r", message)
            return
        if not isinstance(payload, dict):
            return
        try:
            order = order_of(payload)
        except (mapping.UnreadablePayload, KeyError, TypeError, ArithmeticError) as problem:
            log.warning("Angel One pushed an unreadable order (%s): %.300s", problem, message)
            return
        if order is not None and self.sink is not None:
            self.sink(order)

    def close(self) -> None:
        socket, self.socket = self.socket, None
        if socket is not None:
            try:
                socket.close()
            except Exception:  # closing a broken socket must not fail the runner
                log.debug("Angel One order socket failed to close", exc_info=True)


def order_stream(credentials: BrokerCredentials) -> AngelOrderStream:
    """The OrderStreamFactory of this package (for when the registry takes one)."""
    return AngelOrderStream(credentials)
