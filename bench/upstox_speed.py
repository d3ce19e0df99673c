"""Upstox's speed figures (issue 16): the master contract (100,000 rows of a synthetic
complete.json.gz converted and stored, target <= 30 s), v3 feed decoding (full-mode
FeedResponse frames, one instrument each, per second, through to normalised ticks) and an
order's round trip through the adapter against respx (our own overhead). Runs in a
throw-away test database. Prints figures. Not a test.

Usage: python bench/upstox_speed.py [--rows 100000] [--frames 100000] [--orders 500]"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")
sys.modules.setdefault("pytest", __import__("pytest"))  # brokers.upstox.testing imports pytest fixtures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    import respx
    from django.db import connection
    from django.test.utils import setup_test_environment

    from brokers.contracts import load_master_contract
    from brokers.selectors import lookup_cache
    from brokers.streaming import Mode, Subscription
    from brokers.upstox import client as upstox_client
    from brokers.upstox import testing
    from brokers.upstox.adapter import UpstoxAdapter
    from brokers.upstox.stream import UpstoxSocket
    from brokers.upstox.tests.test_stream import full_frame

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        upstox_client.close()
        with respx.mock(assert_all_called=False) as router:
            testing.synthetic_dump(router, args.rows)
            started = time.perf_counter()
            load = load_master_contract("upstox", UpstoxAdapter(None, testing.credentials()).master_contract())
            seconds = time.perf_counter() - started
        print(f"master contract: {load.rows} rows stored ({load.skipped} skipped) in {seconds:.1f} s "
              f"({load.rows / seconds:,.0f} rows/s)")
        lookup_cache.clear()

        ticks = []
        socket = UpstoxSocket(testing.credentials(), authorize=lambda: "wss://x", open_socket=lambda url: None)
        socket._sink = lambda *tick: ticks.append(1)
        socket._by_key[testing.SBIN] = Subscription("NSE", "SBIN", testing.SBIN, Mode.DEPTH)
        frame = full_frame(testing.SBIN, 812.35)
        started = time.perf_counter()
        for _ in range(args.frames):
            socket.deliver(frame)
        seconds = time.perf_counter() - started
        print(f"feed decoding: {args.frames / seconds:,.0f} full-mode FeedResponse frames/s "
              f"({len(frame)} bytes each, decoded and normalised to quote + 5-level depth)")

        upstox_client.close()
        with respx.mock(assert_all_called=False) as router:
            testing.synthetic_dump(router, 1000)
            load_master_contract("upstox", UpstoxAdapter(None, testing.credentials()).master_contract())
            credentials, request = testing.order_world(router)
            adapter = UpstoxAdapter(None, credentials)
            adapter.place_order(request)  # warm the pool and the instrument cache
            started = time.perf_counter()
            for _ in range(args.orders):
                adapter.place_order(request)
            seconds = time.perf_counter() - started
        print(f"order round trip (v3 place against respx): {seconds / args.orders * 1000:.2f} ms each")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
