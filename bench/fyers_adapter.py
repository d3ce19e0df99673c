"""Fyers benchmarks (not tests): the master contract of a 100,000-row synthetic dump in
Fyers' CSV format converted and stored through the generic pipeline (goal <= 30 s), the
adapter's own overhead on an order round trip against respx (goal <= 2 ms), and HSM
quote-frame parsing.

Usage: .venv/bin/python -m pytest -q -s -p no:cacheprovider bench/fyers_adapter.py [--rows 100000]
(a test database is created as for the test suite; DATABASE_URL picks PostgreSQL)."""

from __future__ import annotations

import statistics
import struct
import time

import pytest
import respx

from brokers.contracts import load_master_contract
from brokers.fyers import client as fyers_client
from brokers.fyers import hsm
from brokers.fyers.adapter import FyersAdapter
from brokers.fyers.testing import order_world, synthetic_dump
from brokers.selectors import lookup_cache

ROWS = 100_000


@pytest.mark.django_db(transaction=True)
def test_master_contract_of_a_100k_row_dump():
    fyers_client.close()
    with respx.mock(assert_all_called=False) as router:
        synthetic_dump(router, ROWS)
        started = time.perf_counter()
        load = load_master_contract("fyers", FyersAdapter(None, None).master_contract())
        took = time.perf_counter() - started
    print(f"\nfyers master contract: {load.rows} rows stored, {load.skipped} skipped in {took:.1f} s "
          f"({load.rows / took:,.0f} rows/s)")
    assert load.rows >= ROWS * 0.9 and took <= 30


@pytest.mark.django_db(transaction=True)
def test_order_round_trip_overhead():
    fyers_client.close()
    with respx.mock(assert_all_called=False) as router:
        synthetic_dump(router, 1000)
        load_master_contract("fyers", FyersAdapter(None, None).master_contract())
        credentials, request = order_world(router)
        adapter = FyersAdapter(None, credentials)
        lookup_cache.clear()
        adapter.place_order(request)  # warm: pooled client, instrument cache
        laps = []
        for _ in range(500):
            started = time.perf_counter()
            adapter.place_order(request)
            laps.append(time.perf_counter() - started)
    laps.sort()
    p50, p99 = statistics.median(laps) * 1000, laps[int(len(laps) * 0.99)] * 1000
    print(f"\nfyers place_order through respx: p50 {p50:.3f} ms, p99 {p99:.3f} ms (includes respx's own work)")
    assert p50 <= 2


def test_hsm_quote_frame_parsing_rate():
    name = b"sf|nse_cm|3045"
    entry = b"U" + struct.pack(">H", 7) + bytes((21,)) + struct.pack(">21i", *range(1, 22))
    snapshot = b"S" + struct.pack(">H", 7) + bytes((len(name),)) + name + bytes((21,)) \
        + struct.pack(">21i", *range(1, 22)) + b"\x00\x00" + struct.pack(">H", 1) + b"\x02" + b"\x00\x00\x00"
    decoder = hsm.Decoder()
    list(decoder.feed(b"\x00\x00\x06" + struct.pack(">I", 1) + struct.pack(">H", 1) + snapshot))
    frame = b"\x00\x00\x06" + struct.pack(">I", 2) + struct.pack(">H", 50) + entry * 50
    count = 0
    started = time.perf_counter()
    for _ in range(4000):
        for _state in decoder.feed(frame):
            count += 1
    took = time.perf_counter() - started
    print(f"\nfyers HSM updates parsed: {count / took:,.0f} per second")
    assert count == 200_000
