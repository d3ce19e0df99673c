"""Resting paper orders must not throttle the API (issue 15): the platform as `make run`
starts it (honcho: web, feed, worker, beat) on the embedded defaults (or PostgreSQL +
Redis with --postgres/--redis), one user, 8 concurrent clients, two phases of --seconds:

  A. MARKET orders and reads (funds, positionbook, orderbook), nothing resting;
  B. the same mix with about 80 near-the-market LIMIT orders resting (placed first, a
     little below the price, so ticks come close without crossing most of them).
Each phase has a user of its own, so both start from an empty book.

Before the fix the fill engine opened a transaction and took the account lock for every
resting order on every tick of its instrument, starving the web process (phase B ran at
0.26x of phase A, reads at 400-520 ms). Goals: B's request count >= 0.8x A's; no read p50
above 2x placeorder's; p99 <= 5x p50. Prints both phases side by side. Not a test.

    .venv/bin/python bench/resting.py [--seconds 30] [--clients 8] [--resting 80]
        [--postgres postgres://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/12]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import BIN, HIGH_LIMIT, create_users, flush_redis, start_platform, stop_platform, wait_ready
from bench.ping import descendants, free_port, fresh_database, percentile

SYMBOLS = ("SBIN", "RELIANCE", "INFY", "TCS")
READS = ("funds", "positionbook", "orderbook")


async def post(client: httpx.AsyncClient, path: str, body: dict, timings: dict[str, list[float]], label: str,
               errors: list[str]) -> dict:
    started = time.perf_counter()
    response = await client.post(path, json=body)
    timings[label].append(time.perf_counter() - started)
    data = response.json()
    if response.status_code != 200:
        errors.append(f"{label}: {response.status_code} {str(data)[:120]}")
    return data


async def phase(base: str, key: str, clients: int, seconds: float) -> tuple[dict[str, list[float]], list[str]]:
    timings: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    end = time.monotonic() + seconds

    async def client_loop(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            step = n
            while time.monotonic() < end:
                if step % 4 == 0:
                    await post(client, "placeorder", {"apikey": key, "strategy": "bench", "symbol": SYMBOLS[step % 4],
                                                      "exchange": "NSE", "action": "BUY", "quantity": "1",
                                                      "pricetype": "MARKET", "product": "MIS"},
                               timings, "placeorder", errors)
                else:
                    label = READS[step % 4 - 1]
                    await post(client, label, {"apikey": key}, timings, label, errors)
                step += 1

    await asyncio.gather(*(client_loop(n) for n in range(clients)))
    return timings, errors


async def rest_orders(base: str, key: str, count: int) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for n in range(count):
            symbol = SYMBOLS[n % len(SYMBOLS)]
            quote = (await client.post("quotes", json={"apikey": key, "symbol": symbol, "exchange": "NSE"})).json()
            ltp = Decimal(str(quote["data"]["ltp"]))
            tick = Decimal("0.05")
            price = (ltp * Decimal("0.995") / tick).to_integral_value() * tick  # 0.5% below: close, rarely crossed
            answer = (await client.post("placeorder", json={
                "apikey": key, "strategy": "bench", "symbol": symbol, "exchange": "NSE", "action": "BUY",
                "quantity": "1", "pricetype": "LIMIT", "price": str(price), "product": "MIS"})).json()
            if answer.get("status") != "success":
                print(f"  a resting order was refused: {answer}")
        book = (await client.post("orderbook", json={"apikey": key})).json()
        return sum(1 for row in book["data"]["orders"] if row["order_status"] == "open")


def platform_processes(proc: subprocess.Popen) -> dict[str, int]:
    """pid of the web (the HTTP server) and feed (runfeed) processes among honcho's descendants."""
    found: dict[str, int] = {}
    for pid in descendants(proc.pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "python" not in command.split(" ")[0]:
            continue  # honcho's /bin/sh wrappers
        if "openalgo.asgi" in command or "daphne" in command:
            found.setdefault("web", pid)
        elif "runfeed" in command:
            found.setdefault("feed", pid)
    return found


def start_profiles(py_spy: str, proc: subprocess.Popen, seconds: float, out: Path) -> list[subprocess.Popen]:
    """py-spy record (raw collapsed stacks, idle threads included) of web and feed for phase B."""
    recorders = []
    for name, pid in sorted(platform_processes(proc).items()):
        recorders.append(subprocess.Popen(
            [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "50", "--idle",
             "--threads", "--format", "raw", "--output", str(out / f"{name}.txt"), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return recorders


def summary(timings: dict[str, list[float]]) -> dict[str, tuple[int, float, float]]:
    return {label: (len(values), statistics.median(values) * 1000, percentile(values, 0.99) * 1000)
            for label, values in sorted(timings.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--resting", type=int, default=80)
    parser.add_argument("--postgres", default="", help="maintenance URL: the run creates <its database>_resting")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--py-spy", default="", help="path of a py-spy binary: record web and feed during phase B")
    parser.add_argument("--profile-dir", default=".", help="where --py-spy writes web.txt and feed.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-resting-") as tmp:
        port, ws_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL="WARNING",
                   HOST="127.0.0.1", PORT=str(port), WS_PORT=str(ws_port),
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1",
                   API_RATE_LIMIT=HIGH_LIMIT, ORDER_RATE_LIMIT=HIGH_LIMIT, SMART_ORDER_RATE_LIMIT=HIGH_LIMIT)
        where = "embedded defaults (SQLite, no Redis)"
        if args.postgres:
            flush_redis(args.redis)
            env.update(DATABASE_URL=fresh_database(args.postgres, "resting"), REDIS_URL=args.redis)
            where = "PostgreSQL + Redis"
        # One user per phase, so both start from an empty book (a book grown by phase A would
        # slow phase B's orderbook reads for reasons that have nothing to do with resting orders).
        key, resting_key = create_users(env, 2)
        proc = start_platform(env, Path(tmp) / "honcho.log")
        try:
            wait_ready(proc, port, ws_port, key)
            base = f"http://127.0.0.1:{port}/api/v1/"
            print(f"bench/resting.py: make run's processes on {where}, {args.clients} clients of one user, "
                  f"{args.seconds:.0f} s per phase, {os.cpu_count()} cores")
            market, market_errors = asyncio.run(phase(base, key, args.clients, args.seconds))
            resting = asyncio.run(rest_orders(base, resting_key, args.resting))
            recorders = start_profiles(args.py_spy, proc, args.seconds, Path(args.profile_dir)) if args.py_spy else []
            loaded, loaded_errors = asyncio.run(phase(base, resting_key, args.clients, args.seconds))
            for recorder in recorders:
                recorder.wait(timeout=60)
        finally:
            print(f"platform {stop_platform(proc)}")
    a, b = summary(market), summary(loaded)
    total_a, total_b = sum(n for n, _, _ in a.values()), sum(n for n, _, _ in b.values())
    print(f"\n{'endpoint':<13} {'A: market only':>28}   {'B: ' + str(resting) + ' resting':>28}")
    print(f"{'':<13} {'count':>8} {'p50 ms':>9} {'p99 ms':>9}   {'count':>8} {'p50 ms':>9} {'p99 ms':>9}")
    for label in sorted(set(a) | set(b)):
        na, pa, qa = a.get(label, (0, 0.0, 0.0))
        nb, pb, qb = b.get(label, (0, 0.0, 0.0))
        print(f"{label:<13} {na:>8} {pa:>9.1f} {qa:>9.1f}   {nb:>8} {pb:>9.1f} {qb:>9.1f}")
    ratio = total_b / total_a if total_a else 0.0
    place_p50 = b.get("placeorder", (0, 0.0, 0.0))[1]
    slowest = max((label for label in READS if label in b), key=lambda label: b[label][1])
    read_ratio = b[slowest][1] / place_p50 if place_p50 else float("inf")
    worst = max(b, key=lambda label: b[label][2] / b[label][1] if b[label][1] else float("inf"))
    tail = b[worst][2] / b[worst][1] if b[worst][1] else float("inf")
    tail_a = max(q / p for _, p, q in a.values() if p)
    goals = [(ratio >= 0.8, f"B/A requests {ratio:.2f} (A {total_a}, B {total_b}), goal >= 0.80"),
             (read_ratio <= 2, f"slowest read p50 in B ({slowest} {b[slowest][1]:.1f} ms) / placeorder p50 "
                               f"({place_p50:.1f} ms) = {read_ratio:.2f}, goal <= 2"),
             (tail <= 5, f"worst p99/p50 in B ({worst} {b[worst][2]:.1f}/{b[worst][1]:.1f} ms) = {tail:.1f}, "
                         f"goal <= 5 (A's worst, the reference: {tail_a:.1f})")]
    print()
    for met, line in goals:
        print(f"{'PASS' if met else 'FAIL'}  {line}")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    errors = market_errors + loaded_errors
    if errors:
        print(f"{len(errors)} errors, e.g. {errors[:3]}")
    return 0 if all(met for met, _ in goals) and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
