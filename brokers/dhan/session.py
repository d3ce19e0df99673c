"""One Dhan session's plumbing shared by the adapter and its Forever Orders: the client,
symbol translation through Dhan's master contract (Dhan names instruments by
exchangeSegment + securityId), and last prices in Dhan's batch call."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from brokers.base import BrokerCredentials, BrokerUnavailable, Capabilities, SymbolNotFound
from brokers.enums import Exchange
from brokers.selectors import InstrumentInfo, find_instrument, find_instrument_by_token

from . import mapping
from .client import DhanClient

log = logging.getLogger(__name__)

NAME = "dhan"
QUOTE_BATCH = 1000  # instruments per /marketfeed request (documented)
Mapped = TypeVar("Mapped")


class DhanSession:
    name = NAME
    capabilities: Capabilities

    def __init__(self, user: object, credentials: BrokerCredentials | None) -> None:
        self.user = user
        self.credentials = credentials
        self.client = DhanClient(credentials)

    def session_valid(self) -> bool:
        credentials = self.credentials
        if credentials is None or not credentials.access_token:
            return False
        return credentials.expires_at is None or credentials.expires_at > datetime.now(UTC)

    # --- Symbols --------------------------------------------------------------------------------

    def _instrument(self, symbol: str, exchange: Exchange) -> InstrumentInfo:
        if exchange not in self.capabilities.exchanges:
            raise SymbolNotFound(f"Dhan does not trade on exchange '{exchange}'")
        info = find_instrument(broker=NAME, exchange=str(exchange), symbol=symbol)
        if info is None:
            raise SymbolNotFound(f"Symbol '{symbol}' not found for exchange '{exchange}'")
        return info

    def _ours(self, row: Mapping[str, Any]) -> tuple[str, Exchange]:
        """Our symbol and exchange for a row Dhan names by segment and security id (its own
        trading symbol when our master contract lacks it)."""
        candidates = mapping.exchanges_of(str(row.get("exchangeSegment", "")))
        token = str(row.get("securityId", ""))
        for exchange in candidates:
            info = find_instrument_by_token(broker=NAME, exchange=str(exchange), token=token)
            if info is not None:
                return info.symbol, exchange
        return str(row.get("tradingSymbol") or token), candidates[0]

    def _read(self, rows: object, read: Callable[[Mapping[str, Any], str, Exchange], Mapped], *,
              skip_unreadable: bool = False) -> list[Mapped]:
        """Each row of a list answer read with ``read``. An unreadable row fails the whole
        read, unless ``skip_unreadable`` (the order and trade books: one order of a kind we
        do not trade, such as a super-order leg, must not hide every other order); a skipped
        row is logged, never silently dropped."""
        if not isinstance(rows, list):
            raise BrokerUnavailable("Dhan answered a list that is not a list")
        read_rows: list[Mapped] = []
        for row in rows:
            try:
                read_rows.append(read(row, *self._ours(row)))
            except (mapping.UnreadablePayload, KeyError, TypeError, ValueError, AttributeError) as problem:
                if not skip_unreadable:
                    raise BrokerUnavailable(f"Dhan answered an unreadable row: {problem}") from None
                log.error("Dhan row skipped, unreadable (%s): %.300r", problem, row)
        return read_rows

    def _last_prices(self, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
        """Last prices of (segment, security id) pairs, in Dhan's batch LTP call."""
        by_segment: dict[str, list[int]] = {}
        for segment_name, token in dict.fromkeys(wanted):
            if token.isdigit():
                by_segment.setdefault(segment_name, []).append(int(token))
        prices: dict[tuple[str, str], Decimal] = {}
        for body in batches(by_segment, QUOTE_BATCH):
            data = self.client.post("/marketfeed/ltp", body)
            for segment_name, rows in (data.get("data") or {}).items() if isinstance(data, dict) else ():
                for token, row in (rows or {}).items():
                    prices[(segment_name, str(token))] = mapping.decimal(row.get("last_price"))
        return prices


def batches(by_segment: Mapping[str, list[int]], size: int) -> Iterable[dict[str, list[int]]]:
    """Request bodies {segment: [ids]} of at most ``size`` instruments each."""
    body: dict[str, list[int]] = {}
    count = 0
    for segment_name, tokens in by_segment.items():
        for token in tokens:
            if count == size:
                yield body
                body, count = {}, 0
            body.setdefault(segment_name, []).append(token)
            count += 1
    if body:
        yield body
