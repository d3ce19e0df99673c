"""`make run` on a host with one feed-server process: the feed process serves the WebSocket
feed itself (FEED_SERVES_WS) on WS_PORT: ticks reach a client, plain HTTP is told to
upgrade, Ctrl-C stops it, and a taken port stops the process instead of leaving it deaf."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.procs import ROOT, deploy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    return deploy(tmp_path_factory.mktemp("feedws"), suffix="feedws", username="feedws", FEED_SERVES_WS="true")


def _runfeed(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "runfeed"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def _first_tick(port: str, key: str, timeout: float = 60) -> dict:
    from websockets.sync.client import connect

    deadline = time.monotonic() + timeout
    while True:
        try:
            ws = connect(f"ws://127.0.0.1:{port}/", open_timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline, "the feed process never served the feed"
            time.sleep(0.3)
    with ws:
        ws.send(json.dumps({"action": "authenticate", "api_key": key}))
        assert json.loads(ws.recv(timeout=10))["status"] == "success"
        ws.send(json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 1}))
        while True:
            message = json.loads(ws.recv(timeout=10))
            if message.get("type") == "market_data":
                return message


def test_the_feed_process_serves_ticks_on_the_feed_port_and_stops_on_ctrl_c(deployment):
    env, key = deployment["env"], deployment["key"]
    log_path = deployment["tmp"] / "runfeed.log"
    with open(log_path, "w+") as log:
        proc = _runfeed(env, log)
        try:
            tick = _first_tick(env["WS_PORT"], key)
            assert (tick["symbol"], tick["exchange"], tick["mode"]) == ("SBIN", "NSE", 1) and tick["data"]["ltp"] > 0
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"http://127.0.0.1:{env['WS_PORT']}/", timeout=10)
            assert refused.value.code == 426
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "Traceback" not in log_path.read_text(), log_path.read_text()


def test_a_taken_feed_port_stops_the_feed_process(deployment):
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the last test's port may be in TIME_WAIT
        taken.bind(("127.0.0.1", int(deployment["env"]["WS_PORT"])))
        taken.listen()
        with open(deployment["tmp"] / "runfeed-taken.log", "w+") as log:
            proc = _runfeed(deployment["env"], log)
            try:
                assert proc.wait(timeout=60) != 0
            finally:
                if proc.poll() is None:
                    proc.kill()
            log.seek(0)
            assert "feed server stopped unexpectedly" in log.read()
