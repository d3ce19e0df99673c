"""Upstox's master contract: the gzipped JSON instrument dump (complete.json.gz, one array
of every instrument), read row by row into our rows. A row that cannot be read, or of a
segment we do not trade (NSE_COM, global indices), is handed on as UnparsableRow for the
loader to count and skip."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from typing import Any

import httpx

from brokers.base import BrokerUnavailable, InstrumentRow, UnparsableRow
from brokers.http import check_status

from . import mapping
from .client import BROKER, HTTP, instruments_url


def _rows(response: httpx.Response) -> list[Any]:
    check_status(response, BROKER)
    if not response.is_success:
        raise BrokerUnavailable(f"{BROKER}'s instrument dump answered HTTP {response.status_code}")
    raw = response.content
    try:
        if raw[:2] == b"\x1f\x8b":  # served as a file, not with Content-Encoding: unzip it here
            raw = gzip.decompress(raw)
        rows = json.loads(raw)
    except (OSError, EOFError, zlib.error, ValueError):
        raise BrokerUnavailable(f"{BROKER}'s instrument dump is not readable gzip JSON") from None
    if not isinstance(rows, list):
        raise BrokerUnavailable(f"{BROKER}'s instrument dump is not a list")
    return rows


def master_contract() -> Iterator[InstrumentRow | UnparsableRow]:
    for raw in HTTP.request("GET", instruments_url(), classify=_rows):
        try:
            yield mapping.instrument_row(raw)
        except (mapping.UnreadablePayload, AttributeError) as problem:
            yield UnparsableRow(raw=json.dumps(raw, default=str)[:300], reason=str(problem))
