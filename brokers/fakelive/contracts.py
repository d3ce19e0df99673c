"""FakeLive's master contract: its instrument list, read row by row into our rows (a row
it cannot read is handed on as unparsable, for the loader to count and skip)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from brokers.base import BrokerUnavailable, InstrumentRow, UnparsableRow
from brokers.fakelive import mapping
from brokers.fakelive.client import FakeLiveClient


def master_contract(client: FakeLiveClient) -> Iterator[InstrumentRow | UnparsableRow]:
    rows = client.get("/instruments")
    if not isinstance(rows, list):
        raise BrokerUnavailable("FakeLive's instrument list is not a list")
    for raw in rows:
        try:
            yield mapping.instrument_row(raw)
        except (mapping.UnreadablePayload, AttributeError) as problem:
            yield UnparsableRow(raw=json.dumps(raw, default=str)[:300], reason=str(problem))
