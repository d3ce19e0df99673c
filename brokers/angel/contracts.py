"""Angel One's master contract: OpenAPIScripMaster.json (one JSON array, rebuilt once a
day), read row by row into our rows. A row that cannot be read is handed on as
UnparsableRow for the loader to count and skip. Cash rows of other series (-BE, -SM...)
come after the -EQ rows, so the loader keeps the -EQ row when both strip to one symbol."""

from __future__ import annotations

import json
from collections.abc import Iterator

from django.conf import settings

from brokers.base import BrokerUnavailable, InstrumentRow, UnparsableRow

from .client import AngelClient
from .instruments import UNROUTED, UnreadableRow, instrument_row, is_preferred_cash

DEFAULT_URL = "https://margincalculator.angelone.in/OpenAPI_File/files/OpenAPIScripMaster.json"


def master_url() -> str:
    return str(getattr(settings, "ANGEL_MASTER_CONTRACT_URL", "") or DEFAULT_URL)


def rows_of(dump: object) -> Iterator[InstrumentRow | UnparsableRow]:
    if not isinstance(dump, list):
        raise BrokerUnavailable("Angel One's scrip master is not a list")
    later: list[InstrumentRow] = []
    for raw in dump:
        try:
            if not isinstance(raw, dict):
                raise UnreadableRow("row is not an object")
            if str(raw.get("exch_seg", "")).upper() in UNROUTED:
                continue  # listed by Angel, not routed by the platform
            row = instrument_row(raw)  # type: ignore[arg-type]
        except (UnreadableRow, ValueError, TypeError, AttributeError) as problem:
            yield UnparsableRow(raw=json.dumps(raw, default=str)[:300], reason=str(problem))
            continue
        if row.instrumenttype == "EQ" and not is_preferred_cash(raw):  # type: ignore[arg-type]
            later.append(row)
        else:
            yield row
    yield from later


def master_contract(client: AngelClient) -> Iterator[InstrumentRow | UnparsableRow]:
    yield from rows_of(client.download(master_url()))

