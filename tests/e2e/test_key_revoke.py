"""`make run`'s process set for real (two web and two feed-server processes): a socket of the
feed server (ws), streaming ticks from the FEED process, is closed within a second when its
API key is replaced from ANOTHER process (`manage.py apikey`), while a socket on another
user's key keeps streaming."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.procs import ROOT, honcho, platform_env

pytestmark = pytest.mark.e2e

CLOSE_WITHIN = 1.0


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("keyrevoke")
    env = platform_env(tmp, suffix="keyrevoke", servers=2)
    env.update(WORKER_CONCURRENCY="1", SIM_TICKS_PER_SECOND="10")
    manage = [sys.executable, "manage.py"]
    create = "from accounts.models import User; User.objects.create_user('alice'); User.objects.create_user('bob')"
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"], ["shell", "-c", create]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)

    def new_key(username: str) -> str:
        return subprocess.run([*manage, "apikey", username], cwd=ROOT, env=env, check=True, capture_output=True,
                              text=True, timeout=120).stdout.splitlines()[-1]

    keys = {"alice": new_key("alice"), "bob": new_key("bob")}
    base = f"http://127.0.0.1:{env['PORT']}"

    def answers_ping() -> bool:
        try:
            return httpx.post(base + "/api/v1/ping", json={"apikey": keys["alice"]}, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    with honcho(env, tmp / "honcho.log", ready=answers_ping):
        yield {"env": env, "base": base, "keys": keys, "manage": manage, "log": tmp / "honcho.log"}


def _streaming(platform, key: str):
    from websockets.sync.client import connect

    ws = connect(f"ws://127.0.0.1:{platform['env']['WS_PORT']}/", open_timeout=10)
    ws.send(json.dumps({"action": "authenticate", "api_key": key}))
    assert json.loads(ws.recv(timeout=10))["status"] == "success"
    ws.send(json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1}))
    _ticks(ws, 1, timeout=20)
    return ws


def _ticks(ws, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < count:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        seen += frame.get("type") == "market_data"


def test_replacing_a_key_in_another_process_closes_its_feed_sockets_within_a_second(platform):
    from websockets.exceptions import ConnectionClosed

    alice, bob = _streaming(platform, platform["keys"]["alice"]), _streaming(platform, platform["keys"]["bob"])
    try:
        # Another process replaces the key; meanwhile the client keeps reading, as a live one does.
        replacing = subprocess.Popen([*platform["manage"], "apikey", "alice"], cwd=ROOT, env=platform["env"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        frames, closed, replaced_at = [], None, None
        while closed is None:
            if replaced_at is None and replacing.poll() is not None:
                replaced_at = time.monotonic()  # the change is committed and published by now
            if replaced_at is not None and time.monotonic() > replaced_at + CLOSE_WITHIN:
                pytest.fail(f"the socket of the replaced key still streams {CLOSE_WITHIN} s later")
            try:
                frames.append(json.loads(alice.recv(timeout=0.1)))
            except ConnectionClosed as close:
                closed = close
            except TimeoutError:
                continue
        assert replacing.wait(timeout=60) == 0
        assert closed.rcvd is not None and closed.rcvd.code == 4401
        assert {"status": "error", "code": "AUTHENTICATION_ERROR", "message": "API key revoked"} in frames
        old = httpx.post(platform["base"] + "/api/v1/ping", json={"apikey": platform["keys"]["alice"]}, timeout=5)
        assert old.status_code == 403
        _ticks(bob, 5)  # another key's socket keeps streaming
    finally:
        alice.close()
        bob.close()
    assert "Traceback" not in platform["log"].read_text()
