"""Order-event latency across processes: from a paper fill (the ledger row moving to
complete in the FEED process) to its receipt by a subscribe_orders WebSocket client of
the WEB process, p50/p99 over N fills, beside a WebSocket ping round trip measured in
the same run. Runs `make run`'s processes (honcho: web, feed, worker, beat) on the
embedded defaults, and again on Redis when REDIS_URL is set. Goal: p99 <= 50 ms.

The simulated price is a pure function of time, so resting LIMIT BUYs are priced at the
new lows the market will make in the next minute or two: they fill one level at a time.

Usage: python bench/events.py [--fills 200] [--symbols 40]"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import ROOT, free_port, percentile, prepare, stop_group, wait_for_ping

PATHS_AHEAD = """
import json, time
from datetime import datetime, UTC
from brokers.models import Instrument
from brokers.sandbox import prices
from brokers.selectors import find_instrument
names = Instrument.objects.filter(broker="sandbox", exchange="NSE", instrumenttype="EQ").order_by("symbol")
start = int(time.time())
paths = {}
for symbol in names.values_list("symbol", flat=True)[:%d]:
    info = find_instrument(broker="sandbox", exchange="NSE", symbol=symbol)
    paths[symbol] = [str(prices.quote(info, datetime.fromtimestamp(start + s, UTC)).ltp) for s in range(%d)]
print(json.dumps({"start": start, "paths": paths}))
"""

FILL_TIMES = """
import json
from orders.models import OrderEvent
print(json.dumps({e.order.broker_order_id: e.at.timestamp()
                  for e in OrderEvent.objects.filter(to_status="complete").select_related("order")}))
"""


def manage(env: dict, *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=300).stdout


def new_lows(path: list[str], after: int) -> list[tuple[str, int]]:
    """(price, second) of each new low the path makes after second ``after``."""
    low = min(float(p) for p in path[:after + 1])
    found = []
    for second in range(after + 1, len(path)):
        if float(path[second]) < low:
            low = float(path[second])
            found.append((path[second], second))
    return found


def ws_ping_round_trips(ws, count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        ws.send(json.dumps({"action": "ping", "_pingId": n}))
        while json.loads(ws.recv(timeout=5)).get("type") != "pong":
            pass
        samples.append(time.perf_counter() - started)
    return samples


def run_platform(label: str, env: dict, fills: int, symbols: int, horizon: int) -> None:
    from websockets.sync.client import connect

    key = prepare(env, sandbox=True)
    log = open(Path(env["OPENALGO_VAR_DIR"]).parent / f"honcho-{label}.log", "w+")  # noqa: SIM115
    # Its own env file: honcho would otherwise read the checkout's .env (another pepper).
    honcho = [str(Path(sys.executable).parent / "honcho"), "start", "-f", "Procfile", "-e", env["OPENALGO_ENV_FILE"]]
    proc = subprocess.Popen(honcho, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_ping(int(env["PORT"]), key)
        ahead = json.loads(manage(env, "shell", "-c", PATHS_AHEAD % (symbols, horizon)).splitlines()[-1])
        placing = int(time.time()) - ahead["start"] + 20  # seconds to place every order, with margin
        levels = [(symbol, price, second) for symbol, path in ahead["paths"].items()
                  for price, second in new_lows(path, placing)]
        assert levels, "the simulated market makes no new low ahead"
        orders = [levels[n % len(levels)] for n in range(fills)]
        received: dict[str, float] = {}
        with connect(f"ws://127.0.0.1:{env['WS_PORT']}/", open_timeout=10, max_size=None) as ws:
            ws.send(json.dumps({"action": "authenticate", "api_key": key}))
            ws.recv(timeout=10)
            ping = ws_ping_round_trips(ws, 200)
            ws.send(json.dumps({"action": "subscribe_orders"}))
            while json.loads(ws.recv(timeout=10)).get("type") != "subscribe_orders":
                pass
            last_fill = ahead["start"] + max(second for _, _, second in orders) + 10

            def receive() -> None:  # reads while the orders are placed: fills start meanwhile
                while time.time() < last_fill:
                    try:
                        message = json.loads(ws.recv(timeout=max(0.1, last_fill - time.time())))
                    except (TimeoutError, ConnectionError):
                        return
                    if message.get("type") == "order_update" and message["order_status"] == "complete":
                        received.setdefault(message["orderid"], time.time())
                        if len(received) >= fills:
                            return

            reader = threading.Thread(target=receive, daemon=True)
            reader.start()
            placed = set()
            with httpx.Client(timeout=10) as client:
                for symbol, price, _ in orders:
                    response = client.post(f"http://127.0.0.1:{env['PORT']}/api/v1/placeorder", json={
                        "apikey": key, "strategy": "bench", "symbol": symbol, "exchange": "NSE", "action": "BUY",
                        "product": "MIS", "pricetype": "LIMIT", "quantity": "1", "price": price})
                    assert response.status_code == 200, response.text
                    placed.add(response.json()["orderid"])
            reader.join(timeout=max(1, last_fill - time.time() + 5))
        filled_at = json.loads(manage(env, "shell", "-c", FILL_TIMES).splitlines()[-1])
        latencies = [(received[o] - filled_at[o]) * 1000 for o in placed if o in received and o in filled_at]
        ping_ms = [x * 1000 for x in ping]
        in_ledger = len(placed & set(filled_at))
        print(f"{label}: {len(placed)} orders, {in_ledger} filled in the ledger, {len(latencies)} of those announced "
              f"to the client, over {len(levels)} price levels; "
              f"fill -> client p50 {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
              f"max {max(latencies):.1f} ms | reference WebSocket ping round trip p50 "
              f"{statistics.median(ping_ms):.2f} ms, p99 {percentile(ping_ms, 0.99):.2f} ms")
    except Exception:
        log.seek(0)
        print(log.read()[-5000:])
        raise
    finally:
        stop_group(proc)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=200)
    parser.add_argument("--symbols", type=int, default=40)
    parser.add_argument("--horizon", type=int, default=120, help="seconds of the price path to use")
    args = parser.parse_args()
    transports = [("embedded (ZeroMQ bus)", "")]
    if os.environ.get("REDIS_URL"):
        transports.append(("Redis", os.environ["REDIS_URL"]))
    for label, redis_url in transports:
        with tempfile.TemporaryDirectory(prefix="openalgo-bench-events-") as tmp:
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
            env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", HOST="127.0.0.1",
                       PORT=str(free_port()), WS_PORT=str(free_port()),
                       ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                       ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", WORKER_CONCURRENCY="1",
                       SIM_TICKS_PER_SECOND="10", API_RATE_LIMIT="100000 per second",
                       ORDER_RATE_LIMIT="100000 per second", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
            if redis_url:
                env["REDIS_URL"] = redis_url
            run_platform(label, env, args.fills, args.symbols, args.horizon)
    return 0


if __name__ == "__main__":
    sys.exit(main())
