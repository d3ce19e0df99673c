"""Reads of the master contract. Exact lookups sit on the order hot path, so they are
cached in-process for a short time (rows change once a day, at the contract refresh)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet

from brokers.base import SymbolNotFound
from brokers.models import ContractLoad, Instrument

LOOKUP_TTL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class InstrumentInfo:
    """What the order path needs of an instrument, detached from the ORM."""

    id: int
    symbol: str
    exchange: str
    brsymbol: str
    brexchange: str
    token: str
    name: str
    expiry: date | None
    strike: Decimal | None
    option_type: str
    lotsize: int
    tick_size: Decimal
    instrumenttype: str
    freeze_qty: int
    underlying_exchange: str

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    @property
    def kind(self) -> str:
        if self.option_type:
            return "OPT"
        if self.expiry is not None:
            return "FUT"
        return "INDEX" if self.exchange.endswith("_INDEX") else "EQ"


_FIELDS = [f for f in InstrumentInfo.__dataclass_fields__]


def _info(row: dict) -> InstrumentInfo:
    return InstrumentInfo(**{name: row[name] for name in _FIELDS})


class _LookupCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[float, InstrumentInfo | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> tuple[float, InstrumentInfo | None] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[0] > time.monotonic():
            return entry
        return None

    def put(self, key: tuple[str, ...], value: InstrumentInfo | None) -> None:
        with self._lock:
            if len(self._entries) > 50_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + LOOKUP_TTL_SECONDS, value)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


lookup_cache = _LookupCache()


def find_instrument(*, broker: str, exchange: str, symbol: str) -> InstrumentInfo | None:
    """The instrument ``exchange:symbol`` in ``broker``'s master contract, or None."""
    key = (broker, exchange, symbol)
    cached = lookup_cache.get(key)
    if cached is not None:
        return cached[1]
    row = Instrument.objects.filter(broker=broker, exchange=exchange, symbol=symbol).values(*_FIELDS).first()
    info = _info(row) if row else None
    lookup_cache.put(key, info)
    return info


def require_instrument(*, broker: str, exchange: str, symbol: str) -> InstrumentInfo:
    """The instrument ``exchange:symbol`` in ``broker``'s master contract; SymbolNotFound
    (with the spec's text) when it is not there."""
    info = find_instrument(broker=broker, exchange=exchange, symbol=symbol)
    if info is None:
        raise SymbolNotFound(f"Symbol '{symbol}' not found for exchange '{exchange}'")
    return info


def find_instrument_by_token(*, broker: str, exchange: str, token: str) -> InstrumentInfo | None:
    """The instrument the broker calls ``token`` on ``exchange`` (its order and position rows
    name instruments by token), or None."""
    key = ("token", broker, exchange, token)
    cached = lookup_cache.get(key)
    if cached is not None:
        return cached[1]
    row = Instrument.objects.filter(broker=broker, exchange=exchange, token=token).values(*_FIELDS).first()
    info = _info(row) if row else None
    lookup_cache.put(key, info)
    return info


def instruments(*, broker: str) -> QuerySet[Instrument]:
    return Instrument.objects.filter(broker=broker)


SEARCH_LIMIT = 500
SEARCH_FIELDS = ("id", "symbol", "brsymbol", "name", "exchange", "brexchange", "token", "expiry", "strike",
                 "lotsize", "instrumenttype", "tick_size", "freeze_qty")


def search_instruments(*, broker: str, query: str, exchange: str | None = None) -> list[dict]:
    """Spec §8.2: every term must match (a substring of symbol, brsymbol, name or token,
    or equal to the strike when numeric). Ranked: exact symbol, prefix, substring, other
    fields; shorter symbols first within a rank; at most 500 rows."""
    terms = [term.upper() for term in query.split()]
    rows = Instrument.objects.filter(broker=broker)
    if exchange:
        rows = rows.filter(exchange=exchange)
    for term in terms:
        match = (Q(symbol__icontains=term) | Q(brsymbol__icontains=term) | Q(name__icontains=term)
                 | Q(token__icontains=term))
        if re.fullmatch(r"[0-9]+(\.[0-9]*)?", term):  # str.isdigit() also takes "³", which Decimal() refuses
            match |= Q(strike=Decimal(term))
        rows = rows.filter(match)
    first = terms[0] if terms else ""

    def rank(row: dict) -> tuple:
        symbol = row["symbol"].upper()
        if symbol == first:
            level = 0
        elif symbol.startswith(first):
            level = 1
        elif first in symbol:
            level = 2
        else:
            level = 3
        return level, len(symbol), symbol, row["exchange"]

    candidates = list(rows.values(*SEARCH_FIELDS)[:20_000])
    return sorted(candidates, key=rank)[:SEARCH_LIMIT]


def expiries(*, broker: str, exchange: str, name: str, kind: str) -> list[date]:
    """Distinct expiries of ``name`` on ``exchange``: kind "futures" or "options"."""
    rows = Instrument.objects.filter(broker=broker, exchange=exchange, name=name, expiry__isnull=False)
    rows = rows.exclude(option_type="") if kind == "options" else rows.filter(option_type="")
    return sorted({day for day in rows.values_list("expiry", flat=True) if day is not None})


def latest_contract_load(*, broker: str) -> ContractLoad | None:
    """The newest master-contract load of ``broker`` (its progress, for the dashboard)."""
    return ContractLoad.objects.filter(broker=broker).order_by("-started_at", "-pk").first()
