"""The orders/account API's speed against a real daphne with the embedded defaults and the
sandbox broker (issue: ping >= 500 req/s with 8 clients and p50 <= 3 ms sequential;
funds/orderbook/positionbook p50 <= 5 ms, orderbook with 1,000 orders <= 20 ms;
placeorder MARKET p50 <= 8 ms, p99 <= 25 ms). Prints p50/p95/p99 and req/s. Not a test.

Usage: python bench/api.py [--requests N] [--postgres URL]"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import client_process, fresh_database, percentile, prepare, sequential, start_daphne, wait_for_ping

ORDER = {"strategy": "bench", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
         "pricetype": "MARKET", "product": "MIS"}


def report(label: str, latencies: list[float], wall: float) -> None:
    ms = [x * 1000 for x in latencies]
    print(f"{label:<34} {len(ms):>6} req {len(ms) / wall:>7.0f} req/s   p50 {statistics.median(ms):6.2f} ms   "
          f"p95 {percentile(ms, 0.95):6.2f} ms   p99 {percentile(ms, 0.99):6.2f} ms", flush=True)


def concurrent(url: str, body: dict, clients: int, count: int) -> tuple[list[float], float]:
    """``clients`` client processes (one Python client process cannot drive a server alone)."""
    with multiprocessing.Pool(clients) as pool:
        started = time.perf_counter()
        parts = pool.map(client_process, [(url, body, count // clients)] * clients)
        wall = time.perf_counter() - started
    return [x for part in parts for x in part], wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL="WARNING",
                   API_RATE_LIMIT="1000000 per second", ORDER_RATE_LIMIT="1000000 per second",
                   SMART_ORDER_RATE_LIMIT="1000000 per second")
        if args.postgres:
            env["DATABASE_URL"] = fresh_database(args.postgres, "bench")
        key = prepare(env, sandbox=True)
        server, port = start_daphne(env)
        base = f"http://127.0.0.1:{port}/api/v1/"
        auth = {"apikey": key}
        try:
            wait_for_ping(port, key)
            database = "PostgreSQL" if args.postgres else "SQLite"
            print(f"bench/api.py: one daphne process, {database}, sandbox broker, {os.cpu_count()} cores")
            sequential(base + "ping", auth, 200)  # warm-up
            n = args.requests
            report("ping sequential", *sequential(base + "ping", auth, n))
            report("ping 8 clients", *concurrent(base + "ping", auth, 8, n * 2))
            report("placeorder MARKET sequential", *sequential(base + "placeorder", {**auth, **ORDER}, n))
            report("funds sequential", *sequential(base + "funds", auth, n))
            report("positionbook sequential", *sequential(base + "positionbook", auth, n))
            report(f"orderbook ({n} orders) sequential", *sequential(base + "orderbook", auth, 200))
            report("tradebook sequential", *sequential(base + "tradebook", auth, 200))
            report("quotes sequential", *sequential(base + "quotes", {**auth, "symbol": "SBIN",
                                                                     "exchange": "NSE"}, n))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
