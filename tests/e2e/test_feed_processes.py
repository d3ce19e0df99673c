"""`make run`'s process set with two feed-server processes (FEED_PROCESSES=2) and two HTTP
processes (WEB_CONCURRENCY=2), under honcho: the kernel spreads the connections of one port
over both processes (seen by the OS: the process holding each accepted socket), and every
feed client, whichever process it landed on, gets its ticks and its own user's order
updates, and no one else's."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections import defaultdict

import httpx
import pytest

from tests.e2e.procs import ROOT, honcho, parent_pid, platform_env, serving_pid

pytestmark = pytest.mark.e2e

USERS = ("alice", "bob")
MAX_CONNECTIONS = 40  # both processes are seen long before this (each accept is a coin toss)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("feedprocs")
    env = platform_env(tmp, suffix="feedprocs", servers=2)
    env.update(WORKER_CONCURRENCY="1", SIM_TICKS_PER_SECOND="10")
    assert (env["WEB_CONCURRENCY"], env["FEED_PROCESSES"]) == ("2", "2")
    manage = [sys.executable, "manage.py"]
    create = "; ".join(f"User.objects.create_user({name!r})" for name in USERS)
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"],
                    ["shell", "-c", f"from accounts.models import User; {create}"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    keys = {name: subprocess.run([*manage, "apikey", name], cwd=ROOT, env=env, check=True, capture_output=True,
                                 text=True, timeout=120).stdout.splitlines()[-1] for name in USERS}
    base = f"http://127.0.0.1:{env['PORT']}"

    def up() -> bool:
        try:
            if httpx.post(base + "/api/v1/ping", json={"apikey": keys["alice"]}, timeout=2).status_code != 200:
                return False
            return httpx.get(f"http://127.0.0.1:{env['WS_PORT']}/", timeout=2).status_code == 426
        except httpx.TransportError:
            return False

    with honcho(env, tmp / "honcho.log", ready=up):
        yield {"env": env, "base": base, "keys": keys, "log": tmp / "honcho.log"}


def _pid_of(port: int, sock) -> int:
    deadline = time.monotonic() + 5
    while (pid := serving_pid(port, sock)) is None:
        assert time.monotonic() < deadline, "no process holds the accepted socket"
        time.sleep(0.05)
    return pid


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode()


def _recv(ws, timeout: float = 10.0) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def _until(ws, wanted, timeout: float) -> list[dict]:
    """Frames read until one satisfies ``wanted`` (which is the last), within ``timeout``."""
    deadline, frames = time.monotonic() + timeout, []
    while not frames or not wanted(frames[-1]):
        left = deadline - time.monotonic()
        assert left > 0, f"not within {timeout} s: {frames[-5:]}"
        frames.append(_recv(ws, left))
    return frames


def test_feed_clients_spread_over_both_feed_processes_and_each_gets_ticks_and_its_order_updates(platform):
    from websockets.sync.client import connect

    port = int(platform["env"]["WS_PORT"])
    clients: list[tuple[str, object, int]] = []  # (user, socket, serving pid)
    try:
        while len(clients) < 8 or len({pid for _, _, pid in clients}) < 2:
            assert len(clients) < MAX_CONNECTIONS, f"{MAX_CONNECTIONS} connections, all on one process"
            user = USERS[len(clients) % len(USERS)]
            ws = connect(f"ws://127.0.0.1:{port}/", open_timeout=10)
            clients.append((user, ws, _pid_of(port, ws.socket)))
            ws.send(json.dumps({"action": "authenticate", "api_key": platform["keys"][user]}))
            assert _recv(ws)["status"] == "success"
            ws.send(json.dumps({"action": "subscribe_orders"}))
            assert _recv(ws)["type"] == "subscribe_orders"
            ws.send(json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1}))

        # Two worker processes of one feed server (uvicorn's supervisor), none of them the web's.
        pids = {pid for _, _, pid in clients}
        assert len(pids) == 2
        [supervisor] = {parent_pid(pid) for pid in pids}
        assert "openalgo.feed_asgi:application" in _cmdline(supervisor)
        assert all("multiprocessing" in _cmdline(pid) for pid in pids)

        for user, ws, pid in clients:
            ticks = _until(ws, lambda f: f.get("type") == "market_data", timeout=15)
            assert (ticks[-1]["symbol"], ticks[-1]["exchange"], ticks[-1]["mode"]) == ("SBIN", "NSE", 1), pid

        orderids = {}
        for user in USERS:
            response = httpx.post(platform["base"] + "/api/v1/placeorder", timeout=10, json={
                "apikey": platform["keys"][user], "strategy": "e2e", "symbol": "SBIN", "exchange": "NSE",
                "action": "BUY", "product": "MIS", "pricetype": "MARKET", "quantity": "1"})
            assert response.status_code == 200, response.text
            orderids[user] = response.json()["orderid"]

        for user, ws, pid in clients:
            frames = _until(ws, lambda f, u=user: f.get("type") == "order_update" and f["orderid"] == orderids[u]
                            and f["order_status"] == "complete", timeout=15)
            others = [f["orderid"] for f in frames
                      if f.get("type") == "order_update" and f["orderid"] != orderids[user]]
            assert not others, f"{user}'s client on {pid} got another user's order updates: {others}"
    finally:
        for _, ws, _ in clients:
            ws.close()
    assert "Traceback" not in platform["log"].read_text()


def test_http_connections_spread_over_both_web_processes(platform):
    port = int(platform["env"]["PORT"])
    by_pid: dict[int, int] = defaultdict(int)
    connections = []
    try:
        while len(by_pid) < 2:
            assert len(connections) < MAX_CONNECTIONS, f"{MAX_CONNECTIONS} connections, all on one process"
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/v1/ping", body=json.dumps({"apikey": platform["keys"]["bob"]}),
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            assert (response.status, json.loads(response.read())["data"]["message"]) == (200, "pong")
            connections.append(conn)  # kept open (keep-alive): its server socket stays to be found
            by_pid[_pid_of(port, conn.sock)] += 1
    finally:
        for conn in connections:
            conn.close()
    [supervisor] = {parent_pid(pid) for pid in by_pid}
    assert "openalgo.asgi:application" in _cmdline(supervisor) and "--workers 2" in _cmdline(supervisor)
