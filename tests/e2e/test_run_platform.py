"""`make run`'s process set started for real with honcho (web, ws, feed, worker, beat) on
loopback: setup page, API key + ping over TCP, a Celery task through the worker, the
feed bus, the feed server, the beat schedule; Ctrl-C stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import zmq

from tests.e2e.procs import ROOT, honcho, platform_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("platform")
    env = platform_env(tmp, suffix="e2e")
    env["WORKER_CONCURRENCY"] = "1"
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True, timeout=180)
    base = f"http://127.0.0.1:{env['PORT']}"

    def answers() -> bool:
        try:
            urllib.request.urlopen(base + "/", timeout=2)
        except urllib.error.HTTPError:
            return True  # any HTTP answer: the web process is up
        except OSError:
            return False
        return True

    with honcho(env, tmp / "honcho.log", ready=answers) as proc:
        yield {"env": env, "base": base, "proc": proc, "log": tmp / "honcho.log", "manage": manage}


def _manage(platform, *args, timeout=120) -> str:
    result = subprocess.run(
        [*platform["manage"], *args], cwd=ROOT, env=platform["env"], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_fresh_install_opens_on_the_setup_page(platform):
    with urllib.request.urlopen(platform["base"] + "/", timeout=10) as response:
        assert response.status == 200
        assert response.url.endswith("/setup/")


def test_a_key_from_the_command_line_answers_ping_over_http_and_a_wrong_one_gets_403(platform):
    _manage(platform, "shell", "-c",
            "from accounts.models import User; User.objects.create_user('e2e', password='pw-e2e-123456')")
    key = _manage(platform, "apikey", "e2e").splitlines()[-1]
    assert _post(platform["base"] + "/api/v1/ping", {"apikey": key}) == (
        200, {"status": "success", "data": {"message": "pong", "broker": "sandbox"}})
    assert _post(platform["base"] + "/api/v1/ping/", {"apikey": "0" * 64}) == (
        403, {"status": "error", "message": "Invalid openalgo apikey"})
    # The feed port is the feed server's alone: plain HTTP there is told to upgrade.
    ws_port_base = platform["base"].rsplit(":", 1)[0] + ":" + platform["env"]["WS_PORT"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(ws_port_base + "/api/v1/ping", timeout=10)
    assert refused.value.code == 426 and refused.value.headers["Upgrade"] == "websocket"


def test_the_worker_runs_a_task_sent_from_another_process(platform):
    out = _manage(platform, "shell", "-c",
                  "from accounts.tasks import expire_sessions; print(expire_sessions.delay().get(timeout=60))")
    assert "'broker_tokens': 0" in out


def test_the_feed_process_forwards_ticks_on_the_bus(platform):
    ctx = zmq.Context()
    sub, pub = ctx.socket(zmq.SUB), ctx.socket(zmq.PUB)
    try:
        sub.setsockopt(zmq.SUBSCRIBE, b"NSE:SBIN")
        sub.connect(platform["env"]["ZMQ_XPUB_ADDRESS"])
        pub.connect(platform["env"]["ZMQ_XSUB_ADDRESS"])
        deadline = time.monotonic() + 10
        while not sub.poll(100):
            pub.send_multipart([b"NSE:SBIN|1", b'{"ltp": 801.5}'])
            assert time.monotonic() < deadline, "no tick crossed the feed process"
        assert sub.recv_multipart()[0] == b"NSE:SBIN|1"
    finally:
        sub.close(linger=0)
        pub.close(linger=0)
        ctx.term()


def test_beat_has_the_daily_expiry_in_its_database_schedule(platform):
    deadline = time.monotonic() + 30
    probe = ("from django_celery_beat.models import PeriodicTask; "
             "t = PeriodicTask.objects.filter(name='expire-sessions-and-broker-tokens').first(); "
             "print(t and (t.task, t.crontab.hour, t.crontab.minute, str(t.crontab.timezone)))")
    while "accounts.tasks.expire_sessions" not in (out := _manage(platform, "shell", "-c", probe)):
        assert time.monotonic() < deadline, f"beat never stored its schedule: {out}"
        time.sleep(1)
    assert "('accounts.tasks.expire_sessions', '3', '0', 'Asia/Kolkata')" in out


def _feed_tick(url: str, key: str) -> tuple[dict, float]:
    from websockets.sync.client import connect

    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "authenticate", "api_key": key}))
        auth = json.loads(ws.recv(timeout=5))
        assert auth["type"] == "auth" and auth["status"] == "success", auth
        ws.send(json.dumps({"action": "subscribe", "symbol": "SBIN", "exchange": "NSE", "mode": 2}))
        subscribed = time.monotonic()
        while True:
            message = json.loads(ws.recv(timeout=5))
            if message.get("type") == "market_data":
                return message, time.monotonic() - subscribed


def test_live_ticks_for_sbin_reach_a_websocket_client_within_two_seconds(platform):
    _manage(platform, "loadsandbox")
    _manage(platform, "shell", "-c", "from accounts.models import User; User.objects.get_or_create(username='feed')")
    key = _manage(platform, "apikey", "feed").splitlines()[-1]
    ws_port = platform["env"]["WS_PORT"]
    tick, waited = _feed_tick(f"ws://127.0.0.1:{ws_port}/", key)
    assert (tick["symbol"], tick["exchange"], tick["mode"]) == ("SBIN", "NSE", 2) and tick["data"]["ltp"] > 0
    assert waited < 2.0, f"first tick after {waited:.2f} s"
    tick, _ = _feed_tick(platform["base"].replace("http", "ws") + "/ws", key)  # /ws on the HTTP port
    assert tick["type"] == "market_data"


def test_ctrl_c_stops_every_process(platform):
    proc = platform["proc"]
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) is not None
    log = platform["log"].read_text()
    for name in ("web.1", "ws.1", "feed.1", "worker.1", "beat.1"):
        assert f"{name} stopped" in log or f"{name} | " in log
    assert "Traceback" not in log, log
