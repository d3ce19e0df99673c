"""Fyers' master contract: every segment's symbol-master CSV, downloaded one after the
other and read into our rows (a row it cannot read is handed on as UnparsableRow for the
loader to count and skip). A segment that fails to download fails the whole load, so the
previous contract stays live rather than a partial one replacing it."""

from __future__ import annotations

from collections.abc import Iterator

from brokers.base import InstrumentRow, UnparsableRow

from .client import symbol_master
from .instruments import SEGMENT_FILES, read_rows


def master_contract() -> Iterator[InstrumentRow | UnparsableRow]:
    for segment in SEGMENT_FILES:
        yield from read_rows(symbol_master(segment), segment)
