"""A trading day in miniature: the platform of `make run` (web, feed, a worker running beat's
schedule) on the embedded defaults, 50 feed clients that subscribe, read and reconnect, and
2 order clients placing MARKET orders, for --duration seconds (default 30 minutes). Prints
the RSS of each process after the warm-up and at the end, and its growth (goal < 5%).
Not a test. A reference in the same run: the RSS of a bare django.setup() interpreter.

Usage: python bench/soak.py [--duration SECONDS] [--warmup SECONDS] [--clients N]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from ping import ROOT, free_port, prepare, stop_group
from startup import load_average, platform_processes

GOAL_GROWTH = 0.05
SYMBOLS = ["RELIANCE", "SBIN", "INFY", "TCS", "HDFCBANK", "ICICIBANK", "ITC", "LT", "AXISBANK", "KOTAKBANK"]
ORDER = {"strategy": "soak", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
         "pricetype": "MARKET", "product": "MIS"}


async def feed_client(url: str, key: str, stop: threading.Event, counts: dict) -> None:
    """Connect, subscribe to a few symbols, read for 5-30 s, leave; again until stopped."""
    import websockets

    while not stop.is_set():
        try:
            async with websockets.connect(url, max_size=None, open_timeout=30, ping_interval=None) as ws:
                await ws.send(json.dumps({"action": "authenticate", "api_key": key}))
                await ws.recv()
                for name in random.sample(SYMBOLS, 3):
                    await ws.send(json.dumps({"action": "subscribe", "symbol": name, "exchange": "NSE",
                                              "mode": random.choice((1, 2))}))
                end = time.monotonic() + random.uniform(5, 30)
                while time.monotonic() < end and not stop.is_set():
                    try:
                        await asyncio.wait_for(ws.recv(), timeout=1)
                        counts["frames"] += 1
                    except TimeoutError:
                        pass
                counts["sessions"] += 1
        except Exception:  # a refused or dropped connection: count it, come back
            counts["errors"] += 1
            await asyncio.sleep(1)


def feed_clients(url: str, key: str, clients: int, stop: threading.Event, counts: dict) -> None:
    async def main() -> None:
        await asyncio.gather(*(feed_client(url, key, stop, counts) for _ in range(clients)))

    asyncio.run(main())


def order_client(url: str, key: str, stop: threading.Event, counts: dict) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.post(url, json={"apikey": key, **ORDER,
                                                  "action": random.choice(("BUY", "SELL"))})
                counts["orders" if response.status_code == 200 else "order_errors"] += 1
            except httpx.HTTPError:
                counts["order_errors"] += 1
            stop.wait(1.0)


def bare_setup_mb(env: dict) -> float:
    code = ("import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'openalgo.settings'); "
            "django.setup(); print([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=1800, help="seconds of traffic after the warm-up")
    parser.add_argument("--warmup", type=float, default=120, help="seconds of traffic before the first reading")
    parser.add_argument("--clients", type=int, default=50, help="feed clients")
    parser.add_argument("--every", type=float, default=60, help="seconds between two readings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-soak-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
        port, ws_port = free_port(), free_port()
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", PORT=str(port),
                   WEB_PORT=str(port), WS_PORT=str(ws_port), ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                   ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", API_RATE_LIMIT="1000 per second",
                   ORDER_RATE_LIMIT="100 per second", WORKER_BEAT="true")
        key = prepare(env, sandbox=True)
        subprocess.run([sys.executable, "manage.py", "prepare", "--wait", "-v0"], cwd=ROOT, env=env, check=True)
        log = open(Path(tmp) / "run.log", "w")  # noqa: SIM115 - lives as long as the platform
        # What `make run` starts: the Procfile without its beat process (the worker runs beat), and on
        # one feed-server process without ws (the feed process serves the feed). honcho reads its .env
        # over the environment: this run's, whose secrets made the API key.
        from bench.load import honcho_skip, make_run_counts

        env.update(make_run_counts(env))
        honcho = Path(sys.executable).parent / "honcho"
        path = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        skip = honcho_skip(env)
        platform = subprocess.Popen([str(honcho), "start", "-f", "Procfile", "-e", env["OPENALGO_ENV_FILE"],
                                     "-c", skip], cwd=ROOT, env={**env, "PATH": path}, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        stop = threading.Event()
        counts = {"frames": 0, "sessions": 0, "errors": 0, "orders": 0, "order_errors": 0}
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.post(f"http://127.0.0.1:{port}/api/v1/ping", json={"apikey": key}, timeout=2).is_success:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or platform.poll() is not None:
                    print((Path(tmp) / "run.log").read_text()[-3000:], file=sys.stderr)
                    return 1
                time.sleep(0.5)
            threads = [threading.Thread(target=feed_clients, args=(f"ws://127.0.0.1:{ws_port}/", key, args.clients,
                                                                   stop, counts), daemon=True)]
            threads += [threading.Thread(target=order_client, args=(f"http://127.0.0.1:{port}/api/v1/placeorder",
                                                                    key, stop, counts), daemon=True) for _ in range(2)]
            for thread in threads:
                thread.start()
            time.sleep(args.warmup)
            first = {f"{role} {pid}": mb for role, pid, mb in platform_processes(platform.pid)}
            print(f"after {args.warmup:.0f} s warm-up (load {load_average()}): "
                  + ", ".join(f"{role} {mb:.1f} MB" for role, mb in first.items()), flush=True)
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < args.duration:
                time.sleep(min(args.every, args.duration - elapsed))
                now = {f"{role} {pid}": mb for role, pid, mb in platform_processes(platform.pid)}
                print(f"  {time.monotonic() - started:5.0f} s: " + ", ".join(f"{r} {mb:.1f}" for r, mb in now.items())
                      + f"  ({counts['sessions']} feed sessions, {counts['frames']} frames, {counts['orders']} orders)",
                      flush=True)
            last = {f"{role} {pid}": mb for role, pid, mb in platform_processes(platform.pid)}
        finally:
            stop.set()
            stop_group(platform, timeout=30)
            log.close()
        reference = bare_setup_mb(env)
    minutes = args.duration / 60
    print(f"soak: {minutes:.0f} min after warm-up, {args.clients} feed clients reconnecting, 2 order clients "
          f"(load average {load_average()}): {counts['sessions']} feed sessions, {counts['frames']} frames, "
          f"{counts['orders']} orders, {counts['errors']} feed errors, {counts['order_errors']} order errors")
    worst = 0.0
    for role, before in first.items():
        after = last.get(role, 0.0)
        growth = (after - before) / before if before else 0.0
        worst = max(worst, growth)
        print(f"  {role:14s} {before:6.1f} -> {after:6.1f} MB  {growth * 100:+5.1f}%  "
              f"({(after - before) / minutes:+.2f} MB/min)")
    print(f"  worst growth {worst * 100:+.1f}% (goal < {GOAL_GROWTH * 100:.0f}%) "
          f"{'OK' if worst < GOAL_GROWTH else 'OVER GOAL'}; reference: a bare django.setup() holds {reference:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
