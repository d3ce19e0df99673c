"""Webhook strategies (issue 11): how fast an alert is accepted, and how long from the
alert to its sandbox fill. The platform runs as `make run` starts it (honcho: web, feed,
worker, beat) on PostgreSQL + Redis (--postgres, --redis) or the embedded defaults.

  1. Accept latency: sequential POSTs of TradingView-style alerts to
     /strategy/webhook/<id>, each interleaved with a POST /api/v1/ping (the reference: DRF,
     API-key check, no write) in the same run. Goals: webhook p50 <= 10 ms, p99 <= 50 ms.
     The worker places every accepted alert meanwhile, as it would in production.
  2. Alert to fill: once the worker has drained phase 1, alerts sent --interval apart; for
     each, the time from the alert's row (written before the 200) to the ledger's "complete"
     event of its sandbox order, both stamped by the platform's processes. Goal: p99 <=
     250 ms with the Redis-backed worker. The reference: the same orders sent straight to
     /api/v1/placeorder and placesmartorder at the same pace (answered after the fill).
Not a test.

    .venv/bin/python bench/webhook.py [--requests 500] [--alerts 100] [--interval 0.25]
        [--postgres postgres://postgres@127.0.0.1:5432/postgres --redis redis://127.0.0.1:6379/13]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.load import BIN, HIGH_LIMIT, flush_redis, start_platform, stop_platform, wait_ready
from bench.ping import ROOT, free_port, fresh_database, percentile, prepare

CREATE_STRATEGY = """
from strategies.models import Strategy
from accounts.models import User
strategy = Strategy.objects.create(owner=User.objects.get(username="bench"), name="Bench", kind="positional")
strategy.symbols.create(symbol="SBIN", exchange="NSE", quantity=1, product="MIS")
print("WEBHOOK", strategy.webhook_id)
"""
# Alert row -> the ledger's move to complete of each order it placed, in milliseconds.
FILL_TIMES = """
import json
from orders.models import OrderEvent
from strategies.models import Alert
out = {"states": {}, "ms": [], "queued_ms": []}
for alert in Alert.objects.filter(pk__gt=%d).order_by("pk"):
    out["states"][alert.state] = out["states"].get(alert.state, 0) + 1
    if alert.started_at is not None:
        out["queued_ms"].append((alert.started_at - alert.received_at).total_seconds() * 1000)
    for orderid in alert.order_ids:
        event = OrderEvent.objects.filter(order__broker_order_id=orderid, to_status="complete").first()
        if event is not None:
            out["ms"].append((event.at - alert.received_at).total_seconds() * 1000)
print("FILLS", json.dumps(out))
"""


def shell(env: dict, script: str, marker: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    return next(line.split(" ", 1)[1] for line in out.splitlines() if line.startswith(marker + " "))


def line(label: str, ms: list[float]) -> str:
    return (f"{label:<28} n={len(ms):>5}  p50 {statistics.median(ms):7.2f} ms  p95 {percentile(ms, 0.95):7.2f} ms  "
            f"p99 {percentile(ms, 0.99):7.2f} ms  max {max(ms):7.2f} ms")


def alert(n: int) -> dict:
    """A long strategy's alternating entry and exit (the exit flattens: a smart order to 0),
    each stamped as TradingView's {{timenow}} would stamp it: distinct bodies, so the platform's
    default duplicate window (WEBHOOK_DUPLICATE_SECONDS) stays on and is paid for."""
    return {"symbol": "SBIN", "action": "BUY" if n % 2 == 0 else "SELL", "position_size": "1" if n % 2 == 0 else "0",
            "time": f"{time.time():.6f}:{n}"}


def accept_latency(base: str, webhook: str, key: str, requests: int) -> tuple[list[float], list[float]]:
    hook, ping = [], []
    with httpx.Client(base_url=base, timeout=10) as client:
        for _ in range(50):  # warm-up: connections, caches
            client.post("/api/v1/ping", json={"apikey": key})
        for n in range(requests):
            t0 = time.perf_counter()
            response = client.post(f"/strategy/webhook/{webhook}", json=alert(n))
            hook.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
            t0 = time.perf_counter()
            response = client.post("/api/v1/ping", json={"apikey": key})
            ping.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, response.text
    return hook, ping


def paced_alerts(base: str, webhook: str, count: int, interval: float) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        for n in range(count):
            started = time.perf_counter()
            response = client.post(f"/strategy/webhook/{webhook}", json=alert(n))
            assert response.status_code == 200, response.text
            time.sleep(max(0.0, interval - (time.perf_counter() - started)))


def paced_placeorders(base: str, key: str, count: int, interval: float) -> list[float]:
    """The reference for alert -> fill: the same orders through POST /api/v1/placeorder and
    placesmartorder, answered once the sandbox filled them (no queue, no worker)."""
    latencies = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for n in range(count):
            body = {"apikey": key, "strategy": "Reference", "symbol": "SBIN", "exchange": "NSE", "product": "MIS",
                    "pricetype": "MARKET"}
            if n % 2 == 0:
                path, body = "/api/v1/placeorder", {**body, "action": "BUY", "quantity": "1"}
            else:
                path, body = "/api/v1/placesmartorder", {**body, "action": "SELL", "quantity": "0",
                                                         "position_size": "0"}
            started = time.perf_counter()
            response = client.post(path, json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
            time.sleep(max(0.0, interval - latencies[-1] / 1000))
    return latencies


def drain(env: dict, timeout: float = 600) -> None:
    """Until the worker has finished every alert (phase 1's backlog must not time phase 2)."""
    script = ("from strategies.models import Alert\n"
              "print('LEFT', Alert.objects.filter(state__in=('received', 'running')).count())")
    deadline = time.monotonic() + timeout
    while int(shell(env, script, "LEFT")) and time.monotonic() < deadline:
        time.sleep(2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--postgres", default="")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--keep", help="copy the platform's log (honcho) to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="openalgo-webhook-") as tmp:
        port, ws_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", LOG_LEVEL="WARNING",
                   HOST="127.0.0.1", PORT=str(port), WS_PORT=str(ws_port),
                   ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1",
                   API_RATE_LIMIT=HIGH_LIMIT, ORDER_RATE_LIMIT=HIGH_LIMIT, SMART_ORDER_RATE_LIMIT=HIGH_LIMIT,
                   WEBHOOK_RATE_LIMIT=HIGH_LIMIT)
        where = "embedded defaults (SQLite, filesystem Celery transport)"
        if args.postgres:
            flush_redis(args.redis)
            env.update(DATABASE_URL=fresh_database(args.postgres, "webhook"), REDIS_URL=args.redis)
            where = "PostgreSQL + Redis"
        # Not bench.load.create_users: its collectstatic is not needed by the API and the webhooks.
        key = prepare(env, sandbox=True)
        webhook = shell(env, CREATE_STRATEGY, "WEBHOOK")
        fills: dict = {"ms": [], "states": {}}
        reference: list[float] = []
        proc = start_platform(env, Path(tmp) / "honcho.log")
        try:
            wait_ready(proc, port, ws_port, key)
            base = f"http://127.0.0.1:{port}"
            print(f"bench/webhook.py: make run's processes on {where}, {os.cpu_count()} cores")
            hook, ping = accept_latency(base, webhook, key, args.requests)
            drain(env)
            last = int(shell(env, "from strategies.models import Alert\nprint('LAST', Alert.objects.order_by('-pk')"
                                  ".values_list('pk', flat=True).first() or 0)", "LAST"))
            paced_alerts(base, webhook, args.alerts, args.interval)
            drain(env)
            reference = paced_placeorders(base, key, args.alerts, args.interval)
            fills = json.loads(shell(env, FILL_TIMES % last, "FILLS"))
        finally:
            print(f"platform {stop_platform(proc)}")
            if args.keep:
                shutil.copy(Path(tmp) / "honcho.log", args.keep)
            if not fills["ms"]:
                print((Path(tmp) / "honcho.log").read_text()[-6000:])
    print(line("webhook accept", hook))
    print(line("reference: /api/v1/ping", ping))
    print(line(f"alert -> sandbox fill ({1 / args.interval:.0f}/s)", fills["ms"]) if fills["ms"] else "no fills")
    if fills.get("queued_ms"):
        print(line("  of which alert -> worker", fills["queued_ms"]))
    print(line("reference: placeorder API", reference))
    print(f"alert states: {fills['states']}")
    p50, p99 = statistics.median(hook), percentile(hook, 0.99)
    fill99 = percentile(fills["ms"], 0.99) if fills["ms"] else float("inf")
    print(f"goals: accept p50 {p50:.2f} <= 10 ms {'met' if p50 <= 10 else 'MISSED'}, "
          f"p99 {p99:.2f} <= 50 ms {'met' if p99 <= 50 else 'MISSED'}; "
          f"fill p99 {fill99:.1f} <= 250 ms {'met' if fill99 <= 250 else 'MISSED'}")
    return 0 if p50 <= 10 and p99 <= 50 and fill99 <= 250 else 1


if __name__ == "__main__":
    sys.exit(main())
