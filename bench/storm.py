"""Tick-storm isolation (issue 15): do orders stay fast while the feed runs flat out?

The platform runs as `make run` starts it (honcho and the Procfile: whatever processes and
counts it declares, e.g. FEED_PROCESSES and WS_PORT), on the embedded defaults, with the
simulator's rate raised (SIM_TICKS_PER_SECOND, --tick-rate) so that the feed has more to
send than it can: 100 feed clients x 50 symbols in mode 2 on ws://HOST:WS_PORT/. Three
phases of --seconds each, in one run:

  1. placeorder alone: one client, sequential sandbox MARKET orders, no feed client;
  2. the storm alone: the feed clients, no order traffic (frames/s delivered);
  3. both: the same storm and the same order client.

Goals: placeorder p99 in phase 3 <= 2x phase 1's; frames/s in phase 3 >= 0.8x phase 2's.
Prints the figures side by side with the load average. Not a test.

    .venv/bin/python bench/storm.py [--seconds 20] [--tick-rate 10] [--clients 100] [--symbols 50]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.feed import FeedClients, layout, platform_env, sandbox_symbols, summary
from bench.load import create_users, start_platform, stop_platform, wait_ready
from bench.ping import percentile


def place_orders(base: str, key: str, seconds: float) -> list[float]:
    """Sequential sandbox MARKET orders for ``seconds``: latencies in ms (failures raise)."""
    body = {"apikey": key, "strategy": "storm", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
            "quantity": "1", "pricetype": "MARKET", "product": "MIS"}
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            response = client.post("placeorder", json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or response.json().get("status") != "success":
                raise RuntimeError(f"placeorder answered {response.status_code}: {response.text[:200]}")
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--tick-rate", type=float, default=10.0, help="SIM_TICKS_PER_SECOND of the storm")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-storm-") as tmp:
        env = platform_env(tmp, SIM_TICKS_PER_SECOND=str(args.tick_rate))
        key = create_users(env, 1)[0]
        names = sandbox_symbols(env, args.symbols)
        proc = start_platform(env, Path(tmp) / "honcho.log")
        try:
            wait_ready(proc, int(env["PORT"]), int(env["WS_PORT"]), key)
            base = f"http://127.0.0.1:{env['PORT']}/api/v1/"
            offered = args.clients * len(names) * args.tick_rate
            print(f"bench/storm.py: {layout(env)}, embedded defaults, {os.cpu_count()} cores; storm: "
                  f"{args.clients} clients x {len(names)} symbols (mode 2) at SIM_TICKS_PER_SECOND {args.tick_rate:g} "
                  f"({offered:,.0f} frames/s offered), {args.seconds:g} s per phase", flush=True)
            place_orders(base, key, 2)  # warm-up
            idle = place_orders(base, key, args.seconds)
            print(f"  1. placeorder alone: {len(idle)} orders, {summary(idle)}", flush=True)
            clients = FeedClients(f"ws://127.0.0.1:{env['WS_PORT']}/", key, names, clients=args.clients, mode=2)
            alone = clients.measure(args.seconds)
            print(f"  2. storm alone: {alone['rate']:,.0f} frames/s, tick age {summary(alone['ages'])}; "
                  f"ws ping {summary(alone['pings'])}", flush=True)
            during: list[float] = []
            both = clients.measure(args.seconds, during=lambda seconds: during.extend(
                place_orders(base, key, seconds)))
            print(f"  3. storm + orders: {both['rate']:,.0f} frames/s, tick age {summary(both['ages'])}; "
                  f"ws ping {summary(both['pings'])}; placeorder {len(during)} orders, {summary(during)}", flush=True)
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        finally:
            print(f"  platform {stop_platform(proc)}")
    ratio_p99 = percentile(during, 0.99) / percentile(idle, 0.99)
    ratio_frames = both["rate"] / alone["rate"] if alone["rate"] else 0.0
    print(f"\nplaceorder p99 in the storm / alone: {ratio_p99:.2f} (goal <= 2); p50 {statistics.median(during):.1f} "
          f"vs {statistics.median(idle):.1f} ms")
    print(f"frames/s with orders / without: {ratio_frames:.2f} (goal >= 0.8)")
    print(f"load average {load}")
    return 0 if ratio_p99 <= 2 and ratio_frames >= 0.8 else 1


if __name__ == "__main__":
    sys.exit(main())
