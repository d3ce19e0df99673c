"""`make run`'s process set for real (honcho: web, ws, feed, worker, beat, with two web and
two feed-server processes): a resting paper LIMIT order placed over HTTP and filled by the
simulated market in the FEED process reaches a subscribe_orders WebSocket client connected
to the feed server (ws), as complete.

The simulated price is a pure function of time (brokers/sandbox/simulator.py), so the
test reads the paths ahead and prices the order where the market will come to it: a BUY
below every price until it is placed, at a low of the seconds after (or a SELL above, at
a high), on the first of a few liquid symbols whose path offers one."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.procs import ROOT, honcho, platform_env

pytestmark = pytest.mark.e2e

SYMBOLS = ("SBIN", "RELIANCE", "INFY", "TCS", "HDFCBANK", "ITC")
# Printed by the platform's own Django: each symbol's LTP for each of the next 90 seconds.
PATHS_AHEAD = f"""
import json, time
from datetime import datetime, UTC
from brokers.sandbox import prices
from brokers.selectors import find_instrument
start = int(time.time())
paths = {{}}
for symbol in {SYMBOLS!r}:
    info = find_instrument(broker="sandbox", exchange="NSE", symbol=symbol)
    paths[symbol] = [[start + s, str(prices.quote(info, datetime.fromtimestamp(start + s, UTC)).ltp)]
                     for s in range(90)]
print(json.dumps(paths))
"""


def limit_order_ahead(paths: dict[str, list], placed_within: int, fills_after: int) -> tuple[str, str, str, int]:
    """A LIMIT order no price reaches until ``placed_within`` seconds from the paths' start,
    and that some second after ``fills_after`` seconds reaches: (symbol, action, price,
    that second). A BUY waits for a new low, a SELL for a new high."""
    for symbol, path in paths.items():
        start = path[0][0]
        before = [float(ltp) for at, ltp in path if at < start + placed_within]
        for offset in range(fills_after, len(path)):
            price = float(path[offset][1])
            if all(ltp > price for ltp in before):
                return symbol, "BUY", path[offset][1], path[offset][0]
            if all(ltp < price for ltp in before):
                return symbol, "SELL", path[offset][1], path[offset][0]
    raise AssertionError(f"none of {SYMBOLS} makes a new low or high in the next 90 s")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("events")
    env = platform_env(tmp, suffix="events", servers=2)
    env.update(WORKER_CONCURRENCY="1", SIM_TICKS_PER_SECOND="10")
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"],
                    ["shell", "-c", "from accounts.models import User; User.objects.create_user('fills')"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    key = subprocess.run([*manage, "apikey", "fills"], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True, timeout=120).stdout.splitlines()[-1]
    base = f"http://127.0.0.1:{env['PORT']}"

    def answers_ping() -> bool:
        try:
            return httpx.post(base + "/api/v1/ping", json={"apikey": key}, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    with honcho(env, tmp / "honcho.log", ready=answers_ping):
        yield {"env": env, "base": base, "key": key, "manage": manage, "log": tmp / "honcho.log"}


def test_a_resting_paper_order_filled_in_the_feed_process_reaches_a_websocket_client_of_the_feed_server(platform):
    from websockets.sync.client import connect

    paths = json.loads(subprocess.run([*platform["manage"], "shell", "-c", PATHS_AHEAD], cwd=ROOT,
                                      env=platform["env"], check=True, capture_output=True, text=True,
                                      timeout=120).stdout.splitlines()[-1])
    start = next(iter(paths.values()))[0][0]
    with connect(f"ws://127.0.0.1:{platform['env']['WS_PORT']}/", open_timeout=10) as ws:
        ws.send(json.dumps({"action": "authenticate", "api_key": platform["key"]}))
        assert json.loads(ws.recv(timeout=10))["status"] == "success"
        ws.send(json.dumps({"action": "subscribe_orders"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribe_orders"
        symbol, action, price, fills_at = limit_order_ahead(paths, placed_within=int(time.time()) - start + 8,
                                                            fills_after=int(time.time()) - start + 10)
        response = httpx.post(platform["base"] + "/api/v1/placeorder", timeout=10, json={
            "apikey": platform["key"], "strategy": "e2e", "symbol": symbol, "exchange": "NSE", "action": action,
            "product": "MIS", "pricetype": "LIMIT", "quantity": "1", "price": price})
        assert response.status_code == 200, response.text
        orderid = response.json()["orderid"]
        updates = []
        deadline = time.time() + max(0, fills_at - time.time()) + 15
        while not any(u["order_status"] == "complete" for u in updates):
            assert time.time() < deadline, f"no fill announced by {fills_at}: {updates}"
            message = json.loads(ws.recv(timeout=max(0.1, deadline - time.time())))
            if message.get("type") == "order_update":
                updates.append(message)
    assert [(u["orderid"], u["order_status"]) for u in updates] == [(orderid, "open"), (orderid, "complete")]
    assert updates[-1]["filled_quantity"] == 1 and updates[-1]["average_price"] == float(price)
    assert (updates[-1]["mode"], updates[-1]["broker"]) == ("analyze", "sandbox")
    assert "Traceback" not in platform["log"].read_text()
