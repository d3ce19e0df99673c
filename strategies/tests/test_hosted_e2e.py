"""Hosted Python strategies under `make run`'s process set for real (honcho: web, feed, worker,
beat; the worker and beat on Redis): a strategy started from the services runs in a process a
Celery worker started, uses the official `openalgo` client against the platform's real URL to
place a sandbox order, streams ticks over the client's WebSocket (threads) under the limits,
sees none of the server's secrets, survives a restart of the platform (adopted, not doubled),
is started again when it dies, and stops with its whole process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.procs import ROOT, deploy, honcho

pytestmark = pytest.mark.e2e

STRATEGY = r'''
import json, os, threading, time
from openalgo import api

print("ENV " + json.dumps({k: v for k, v in os.environ.items() if k != "OPENALGO_API_KEY"}), flush=True)
client = api(api_key=os.environ["OPENALGO_API_KEY"], host=os.environ["OPENALGO_HOST"],
             ws_url=os.environ["OPENALGO_WS_URL"])
if not os.path.exists("ordered"):  # its own memory across restarts: one order, ever
    answer = client.placeorder(strategy="hosted-e2e", symbol="SBIN", action="BUY", exchange="NSE",
                               price_type="MARKET", product="MIS", quantity=1)
    print("ORDER " + json.dumps(answer), flush=True)
    if answer.get("status") == "success":
        open("ordered", "w").write(answer["orderid"])
ticks = []
client.connect()
client.subscribe_ltp([{"exchange": "NSE", "symbol": "SBIN"}], on_data_received=ticks.append)
deadline = time.time() + 60
while len(ticks) < 3 and time.time() < deadline:
    time.sleep(0.2)
print(f"TICKS {len(ticks)} threads={threading.active_count()} last={json.dumps(ticks[-1:], default=str)}", flush=True)
beat = 0
while True:
    beat += 1
    print(f"alive {beat}", flush=True)
    time.sleep(1)
'''


def manage(env: dict, code: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


def row(env: dict, strategy_id: int) -> dict:
    return json.loads(manage(env, (
        "import json; from strategies.models import HostedStrategy as H; "
        f"s = H.objects.get(pk={strategy_id}); "
        "print(json.dumps({'status': s.status, 'pid': s.pid, 'pid_start': s.pid_start, 'last_exit': s.last_exit}))")))


def alive(pid: int | None, started: int | None) -> bool:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, TypeError):
        return False
    fields = text[text.rindex(")") + 2:].split()
    return fields[0] not in ("Z", "X") and int(fields[19]) == started


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, what() if callable(what) else what
        time.sleep(0.5)


@pytest.fixture
def deployment(tmp_path):
    redis = os.environ.get("REDIS_URL")
    if not redis:
        pytest.skip("needs Redis (REDIS_URL): the worker and beat of this test run on it")
    deployment = deploy(tmp_path, suffix="hosted", username="hoster", REDIS_URL=redis, WORKER_CONCURRENCY="2",
                  HOSTED_SUPERVISE_SECONDS="2", HOSTED_BACKOFF_SECONDS="1", SIM_TICKS_PER_SECOND="5",
                        HOSTED_MEMORY_MB="1024", HOSTED_CPU_SECONDS="600")
    # As `make run` does: honcho gives the worker a PORT of its own, WEB_PORT is the web's.
    deployment["env"]["WEB_PORT"] = deployment["env"]["PORT"]
    return deployment


def test_a_hosted_strategy_trades_and_streams_with_the_official_client_and_survives_restarts(deployment):
    env, key, tmp = deployment["env"], deployment["key"], deployment["tmp"]
    base = f"http://127.0.0.1:{env['PORT']}"
    hosted_dir = Path(env["OPENALGO_VAR_DIR"]) / "hosted"

    def answers_ping() -> bool:
        try:
            return httpx.post(base + "/api/v1/ping", json={"apikey": key}, timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def log(strategy_id: int) -> str:
        path = hosted_dir / str(strategy_id) / "logs" / "strategy.log"
        return path.read_text() if path.exists() else ""

    with honcho(env, tmp / "honcho-1.log", ready=answers_ping):
        strategy_id = int(manage(env, (
            "from accounts.models import User; from strategies import hosted_services as s; "
            f"st = s.create_strategy(user=User.objects.get(username='hoster'), name='sdk', "
            f"files={{'main.py': {STRATEGY!r}}}, entry_point='main.py'); "
            "s.start_strategy(strategy=st); print(st.pk)")))
        wait_for(lambda: "TICKS" in log(strategy_id), 120,
                 lambda: log(strategy_id) + (tmp / "honcho-1.log").read_text()[-3000:])
        text = log(strategy_id)
        order = json.loads(text.split("ORDER ", 1)[1].splitlines()[0])
        assert order["status"] == "success", text
        ticks = int(text.split("TICKS ", 1)[1].split()[0])
        assert ticks >= 3, text  # the client's WebSocket threads work under the limits
        seen_env = json.loads(text.split("ENV ", 1)[1].splitlines()[0])
        assert seen_env["OPENALGO_HOST"] == base and seen_env["OPENALGO_WS_URL"] == f"ws://127.0.0.1:{env['WS_PORT']}"
        env_file = Path(env["OPENALGO_ENV_FILE"])
        secrets = [env[name] for name in ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL")
                   if env.get(name)]
        if env_file.exists():
            secrets += [line.split("=", 1)[1] for line in env_file.read_text().splitlines() if "=" in line]
        assert secrets and not any(secret and secret in json.dumps(seen_env) for secret in secrets)
        assert not {"SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL"} & set(seen_env)
        orders = httpx.post(base + "/api/v1/orderbook", json={"apikey": key}, timeout=10).json()["data"]["orders"]
        assert [o["orderid"] for o in orders if o["strategy"] == "hosted-e2e"] == [order["orderid"]]
        first = row(env, strategy_id)
        assert first["status"] == "running" and alive(first["pid"], first["pid_start"])

    # `make run` stopped: the strategy outlives it (the runner is in a session of its own)...
    assert alive(first["pid"], first["pid_start"])
    beats_before = log(strategy_id).count("alive ")
    with honcho(env, tmp / "honcho-2.log", ready=answers_ping):
        # ...and the restarted platform adopts it: same process, still running, never a second one.
        wait_for(lambda: log(strategy_id).count("alive ") > beats_before + 5, 60, "no beat after the restart")
        again = row(env, strategy_id)
        assert (again["pid"], again["status"]) == (first["pid"], "running")
        assert log(strategy_id).count("[platform] starting main.py") == 1

        # It dies (as in a reboot): the supervisor starts it again, and its one order stays one.
        child = json.loads((hosted_dir / str(strategy_id) / "run" / "state.json").read_text())["child_pid"]
        os.kill(first["pid"], signal.SIGKILL)
        os.killpg(child, signal.SIGKILL)
        restarted = wait_for(lambda: (r := row(env, strategy_id))["pid"] not in (None, first["pid"])
                             and r["status"] == "running" and r, 60, lambda: log(strategy_id)[-2000:])
        wait_for(lambda: log(strategy_id).count("TICKS") == 2, 90, lambda: log(strategy_id)[-2000:])
        orders = httpx.post(base + "/api/v1/orderbook", json={"apikey": key}, timeout=10).json()["data"]["orders"]
        assert len([o for o in orders if o["strategy"] == "hosted-e2e"]) == 1

        # Stop from the services: the worker ends its whole process group.
        manage(env, "from strategies.models import HostedStrategy as H; from strategies import hosted_services as s; "
                    f"s.stop_strategy(strategy=H.objects.get(pk={strategy_id}))")
        wait_for(lambda: row(env, strategy_id)["status"] == "stopped", 60, "not stopped")
        assert not alive(restarted["pid"], restarted["pid_start"])
        state = json.loads((hosted_dir / str(strategy_id) / "run" / "state.json").read_text())
        assert state["exit"]["kind"] == "stopped"
        assert not alive(state["child_pid"], state["child_start"])
    assert "Traceback" not in (tmp / "honcho-2.log").read_text()
