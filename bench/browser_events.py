"""Order event -> open browser tab, with the platform as `make run` starts it (honcho: web,
feed, worker, beat on the embedded defaults, and on Redis too when REDIS_URL is set).

A signed-in chromium tab (Debian's, headless) keeps the dashboard open; the script places
N paper MARKET orders through the API one after the other, and the tab notes the moment
each order's `order_update` (complete) reaches it over the browser channel (/ws/app).
Printed: from sending placeorder to the event in the browser, p50/p99 (goal p99 <= 100 ms),
beside placeorder's own round trip and /api/v1/ping measured in the same run.

Usage: python bench/browser_events.py [--orders 200]"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ping import ROOT, free_port, percentile, prepare, stop_group, wait_for_ping

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "bench-browser-passphrase-9"
GOAL_P99_MS = 100.0
LISTEN = """
window.__arrived = {};
document.addEventListener("oa:order_update", function (e) {
  var f = e.detail;
  if (f.order_status === "complete" && !(f.orderid in window.__arrived)) {
    window.__arrived[f.orderid] = performance.timeOrigin + performance.now();
  }
});
"""


def ms(samples: list[float]) -> str:
    return f"p50 {statistics.median(samples):.1f} ms, p99 {percentile(samples, 0.99):.1f} ms"


def run_platform(label: str, env: dict, orders: int) -> None:
    from playwright.sync_api import sync_playwright

    key = prepare(env, sandbox=True)
    subprocess.run([sys.executable, "manage.py", "shell", "-c",
                    f"from accounts.models import User; u = User.objects.get(username='bench'); "
                    f"u.set_password({PASSWORD!r}); u.save()"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(Path(env["OPENALGO_VAR_DIR"]).parent / f"honcho-{label}.log", "w+")  # noqa: SIM115
    honcho = [str(Path(sys.executable).parent / "honcho"), "start", "-f", "Procfile", "-e", env["OPENALGO_ENV_FILE"]]
    proc = subprocess.Popen(honcho, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_for_ping(int(env["PORT"]), key)
        with sync_playwright() as playwright, httpx.Client(timeout=10) as client:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.add_init_script(LISTEN)
            page.goto(base + "/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(base + "/")
            page.wait_for_function("() => document.getElementById('live-status').textContent === 'live'",
                                   timeout=30_000)
            ping = []
            for _ in range(200):
                started = time.perf_counter()
                client.post(base + "/api/v1/ping", json={"apikey": key})
                ping.append((time.perf_counter() - started) * 1000)
            sent: dict[str, float] = {}
            round_trip = []
            symbols = ("SBIN", "INFY", "TCS", "ITC", "RELIANCE")
            for n in range(orders):
                started_wall, started = time.time() * 1000, time.perf_counter()
                response = client.post(base + "/api/v1/placeorder", json={
                    "apikey": key, "strategy": "bench", "symbol": symbols[n % len(symbols)], "exchange": "NSE",
                    "action": "BUY" if n % 2 == 0 else "SELL", "product": "MIS", "pricetype": "MARKET",
                    "quantity": "1"})
                round_trip.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text
                sent[response.json()["orderid"]] = started_wall
            deadline = time.monotonic() + 10
            arrived: dict[str, float] = {}
            while time.monotonic() < deadline:
                arrived = page.evaluate("window.__arrived")
                if len(arrived) >= len(sent):
                    break
                time.sleep(0.2)
            browser.close()
        latencies = [arrived[o] - sent[o] for o in sent if o in arrived]
        verdict = "OK" if latencies and percentile(latencies, 0.99) <= GOAL_P99_MS else "OVER GOAL"
        print(f"{label}: {len(sent)} orders, {len(latencies)} announced in the browser; "
              f"placeorder sent -> event in the tab {ms(latencies)} (goal p99 <= {GOAL_P99_MS:.0f} ms) {verdict} | "
              f"reference: placeorder round trip {ms(round_trip)}, ping {ms(ping)}")
    except Exception:
        log.seek(0)
        print(log.read()[-5000:])
        raise
    finally:
        stop_group(proc)
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"browser_events: {CHROMIUM} is missing (apt-get install chromium)", file=sys.stderr)
        return 1
    transports = [("embedded (ZeroMQ bus)", "")]
    if os.environ.get("REDIS_URL"):
        transports.append(("Redis", os.environ["REDIS_URL"]))
    for label, redis_url in transports:
        with tempfile.TemporaryDirectory(prefix="openalgo-bench-browser-") as tmp:
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
            env.update(OPENALGO_VAR_DIR=f"{tmp}/var", OPENALGO_ENV_FILE=f"{tmp}/.env", HOST="127.0.0.1",
                       PORT=str(free_port()), WS_PORT=str(free_port()),
                       ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}",
                       ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{free_port()}", WORKER_CONCURRENCY="1",
                       API_RATE_LIMIT="100000 per second", ORDER_RATE_LIMIT="100000 per second",
                       PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
            if redis_url:
                env["REDIS_URL"] = redis_url
            run_platform(label, env, args.orders)
    return 0


if __name__ == "__main__":
    sys.exit(main())
