"""Angel One's speed figures (issue 16): the master contract (100,000 rows of a synthetic
OpenAPIScripMaster.json converted and stored, target <= 30 s), SmartStream tick parsing
(SNAP_QUOTE frames, the longest, per second) and an order's round trip through the adapter
against respx (our own overhead: a protected MARKET order is a getLtpData call then a placement).
Runs in a throw-away test database. Prints figures. Not a test.

Usage: python bench/angel_speed.py [--rows 100000] [--frames 200000] [--orders 500]"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")
sys.modules.setdefault("pytest", __import__("pytest"))  # brokers.angel.testing imports pytest fixtures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=500)
    args = parser.parse_args()

    import django

    django.setup()
    import respx
    from django.db import connection
    from django.test.utils import setup_test_environment

    from brokers.angel import client as angel_client
    from brokers.angel import testing
    from brokers.angel.adapter import AngelAdapter
    from brokers.angel.tests.test_ticks import snap_frame
    from brokers.angel.ticks import parse
    from brokers.contracts import load_master_contract
    from brokers.selectors import lookup_cache

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        angel_client.close()
        with respx.mock(assert_all_called=False) as router:
            testing.synthetic_dump(router, args.rows)
            started = time.perf_counter()
            load = load_master_contract("angel", AngelAdapter(None, testing.credentials()).master_contract())
            seconds = time.perf_counter() - started
        print(f"master contract: {load.rows} rows stored ({load.skipped} skipped) in {seconds:.1f} s "
              f"({load.rows / seconds:,.0f} rows/s)")
        lookup_cache.clear()

        frame = snap_frame()
        started = time.perf_counter()
        for _ in range(args.frames):
            parse(frame)
        seconds = time.perf_counter() - started
        print(f"tick parsing: {args.frames / seconds:,.0f} SNAP_QUOTE frames/s")

        angel_client.close()
        with respx.mock(assert_all_called=False) as router:
            credentials, request = testing.order_world(router)
            adapter = AngelAdapter(None, credentials)
            adapter.place_order(request)  # warm the pool and the instrument cache
            started = time.perf_counter()
            for _ in range(args.orders):
                adapter.place_order(request)
            seconds = time.perf_counter() - started
        print(f"order round trip (getLtpData + placeOrder against respx): {seconds / args.orders * 1000:.2f} ms each")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
