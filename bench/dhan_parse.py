"""Dhan's parsing speed, no database: the scrip master (100,000 synthetic rows of every
kind, the issue's master-contract size) read into our rows, and full binary feed packets
(with 5-level depth) read into ticks. Prints figures. Not a test.

Usage: python bench/dhan_parse.py [--rows 100000] [--packets 200000]"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")

import django

django.setup()

import respx  # noqa: E402

from brokers.base import InstrumentRow  # noqa: E402
from brokers.dhan import contracts  # noqa: E402
from brokers.dhan.feed import FeedParser  # noqa: E402
from brokers.dhan.testing import synthetic_dump  # noqa: E402


def master_contract(rows: int) -> None:
    with respx.mock() as router:
        synthetic_dump(router, rows)
        started = time.perf_counter()
        parsed = list(contracts.master_contract())
        elapsed = time.perf_counter() - started
    good = sum(isinstance(row, InstrumentRow) for row in parsed)
    rate = len(parsed) / elapsed
    print(f"scrip master: {good:,} of {len(parsed):,} rows read in {elapsed:.2f} s ({rate:,.0f} rows/s)")


def feed(packets: int) -> None:
    import struct

    body = struct.pack("<BhBi", 8, 162, 2, 43854) + struct.pack("<fhifiiiiiiffff", 150.5, 65, 1_764_400_000, 149.8,
                                                                 987654, 5000, 6000, 1, 2, 3, 140.0, 0.0, 155.0, 138.5)
    body += b"".join(struct.pack("<iihhff", 100, 50, 1, 2, 150.45, 150.55) for _ in range(5))
    frame = body * 100
    parser = FeedParser()
    started = time.perf_counter()
    count = 0
    for _ in range(packets // 100):
        for _tick in parser.ticks(frame):
            count += 1
    elapsed = time.perf_counter() - started
    print(f"feed: {count:,} full packets in {elapsed:.2f} s ({count / elapsed:,.0f} packets/s)")


if __name__ == "__main__":
    arguments = argparse.ArgumentParser()
    arguments.add_argument("--rows", type=int, default=100_000)
    arguments.add_argument("--packets", type=int, default=200_000)
    options = arguments.parse_args()
    master_contract(options.rows)
    feed(options.packets)
