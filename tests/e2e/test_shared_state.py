"""What every web process must agree on when several serve one platform (WEB_CONCURRENCY):
real daphne processes on one database, changes made through another real process.

- an API key replaced elsewhere is refused by every web process within
  API_KEY_RECHECK_SECONDS, and the new key works on all of them;
- an order goes where the database says the user's broker session is now: the first order
  after a login elsewhere is not placed in the sandbox, the first after a logout is;
- N processes enforce one rate limit together (Redis, or the counters file of the
  embedded defaults);
- web processes started together settle an orphaned order once: one status move, one
  event, one audit row.

Each runs on the suite's stores (PostgreSQL + Redis when set) and on the embedded defaults
(SQLite + the counters file)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.procs import ROOT, Web, deploy

pytestmark = pytest.mark.e2e

RECHECK = 0.5  # API_KEY_RECHECK_SECONDS of the web processes
LIVE_BROKER_TTL = 1.0  # accounts.brokers.LIVE_BROKER_TTL
SLACK = 1.5  # a loaded 2-core machine: scheduling, not caching

# A long-lived process of the deployment that makes changes on request (a login at the
# broker, a key replaced) and reads the database: quicker than a `manage.py` per change,
# so a change lands well inside the web processes' cache windows.
AGENT = r"""
import json, sys
from datetime import timedelta
from django.utils import timezone
from accounts.models import AuditEvent, BrokerCredential, User
from accounts.services import create_api_key
from orders.models import Order, OrderEvent, Reconciliation
from brokers.sandbox.models import SandboxOrder

user = User.objects.get(username=USERNAME)
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    command = json.loads(line)
    what = command["do"]
    if what == "login":
        credential, _ = BrokerCredential.objects.get_or_create(user=user, broker="zerodha")
        credential.store(access_token="a-live-token", api_key="k", api_secret="s")
        credential.token_expires_at = timezone.now() + timedelta(hours=8)
        credential.save()
        answer = {}
    elif what == "logout":
        credential = BrokerCredential.objects.get(user=user, broker="zerodha")
        credential.store(access_token="")
        credential.token_expires_at = None
        credential.save()
        answer = {}
    elif what == "new_key":
        answer = {"key": create_api_key(user=user)}
    elif what == "orphan":
        owner = command["owner"]
        rows = [Order.objects.create(user=user, broker="sandbox", symbol="SBIN", exchange="NSE", action="BUY",
                                     quantity=1, product="MIS", pricetype="MARKET", owner=owner).pk
                for _ in range(command["count"])]
        answer = {"ids": rows}
    elif what == "counts":
        ids = command.get("ids", [])
        answer = {
            "sandbox_orders": SandboxOrder.objects.count(),
            "ledger_by_broker": {b: Order.objects.filter(broker=b).count() for b in ("sandbox", "zerodha")},
            "statuses": {str(pk): status
                         for pk, status in Order.objects.filter(pk__in=ids).values_list("pk", "status")},
            "events": OrderEvent.objects.filter(order_id__in=ids, source="reconcile").count(),
            "audits": AuditEvent.objects.filter(action="order_reconciled").count(),
            "startup_runs": Reconciliation.objects.filter(trigger="startup").count(),
        }
    print(json.dumps(answer), flush=True)
"""


class Agent:
    def __init__(self, deployment: dict, username: str) -> None:
        script = AGENT.replace("USERNAME", repr(username))
        self.proc = subprocess.Popen([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=ROOT,
                                     env=deployment["env"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        assert json.loads(self._line())["ready"]

    def _line(self) -> str:
        while True:  # its answers are JSON lines; anything else is Django's chatter
            line = self.proc.stdout.readline()
            assert line, f"the agent exited ({self.proc.poll()})"
            if line.startswith("{"):
                return line

    def __call__(self, what: str, **args) -> dict:
        self.proc.stdin.write(json.dumps({"do": what, **args}) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _dead_owner(env: dict) -> str:
    """The identity of a process of this host that has exited (as orders.owners writes it)."""
    script = "from orders.owners import this_process; print(this_process())"
    return subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", script], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True, timeout=120).stdout.strip().splitlines()[-1]


STORES = ["suite", "embedded"]


@pytest.fixture(scope="module", params=STORES)
def deployment(request, tmp_path_factory):
    store = request.param
    if store == "suite" and not os.environ.get("DATABASE_URL"):
        pytest.skip("the suite runs on the embedded defaults: covered by the 'embedded' run")
    tmp = tmp_path_factory.mktemp(f"shared-{store}")
    extra = {"API_KEY_RECHECK_SECONDS": str(RECHECK), "API_RATE_LIMIT": "1000000 per second",
             "ORDER_RATE_LIMIT": "1000000 per second", "RECONCILE_GRACE_SECONDS": "3600"}
    if store == "embedded":
        extra.update(DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}", REDIS_URL="")
    elif os.environ.get("REDIS_URL"):
        extra["REDIS_URL"] = os.environ["REDIS_URL"]  # the suite's own Redis database
    found = deploy(tmp, suffix=f"shared_{store}", username="trader", **extra)
    found["store"] = store
    return found


@pytest.fixture(scope="module")
def webs(deployment):
    """Two web processes of the deployment, as WEB_CONCURRENCY=2 would run them."""
    started = [Web(deployment), Web(deployment)]
    yield started
    for web in started:
        web.stop()


@pytest.fixture(scope="module")
def agent(deployment):
    found = Agent(deployment, "trader")
    yield found
    found.stop()


def _new_key(deployment: dict, agent: Agent) -> str:
    """Replace the user's key (the old one is revoked); web processes started later wait for this one."""
    deployment["key"] = agent("new_key")["key"]
    return deployment["key"]


def _start_together(deployment: dict, count: int, **env: str) -> list[Web]:
    """``count`` web processes started at the same moment (as a process manager starts them)."""
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: Web(deployment, **env), range(count)))


def _ping(web: Web, key: str) -> httpx.Response:
    return httpx.post(web.url + "ping", json={"apikey": key}, timeout=10)


def test_a_key_replaced_elsewhere_is_refused_by_every_web_process_within_the_recheck_bound(
        deployment, webs, agent):
    old = _new_key(deployment, agent)
    for web in webs:  # both have verified and cached it
        for _ in range(3):
            assert _ping(web, old).status_code == 200
    new = _new_key(deployment, agent)  # committed when the agent answers
    replaced_at = time.monotonic()
    refused_after = {}
    while len(refused_after) < len(webs):
        elapsed = time.monotonic() - replaced_at
        assert elapsed < RECHECK + SLACK, f"old key still accepted after {elapsed:.2f} s by some process"
        for index, web in enumerate(webs):
            if index not in refused_after and _ping(web, old).status_code == 403:
                refused_after[index] = elapsed
        time.sleep(0.02)
    assert all(_ping(web, new).status_code == 200 for web in webs)
    assert all(_ping(web, old).status_code == 403 for web in webs)  # and it stays refused


def test_an_order_goes_where_the_session_is_now_whatever_process_changed_it(deployment, webs, agent):
    key = _new_key(deployment, agent)
    web = webs[1]
    order = {"apikey": key, "strategy": "e2e", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
             "quantity": "1", "product": "MIS", "pricetype": "MARKET"}
    assert _ping(web, key).json()["data"]["broker"] == "sandbox"  # this process now caches "no session"
    before = agent("counts")

    agent("login")  # the user logs in at a live broker through another process
    placed = httpx.post(web.url + "placeorder", json=order, timeout=30)
    after = agent("counts")
    # Zerodha is not reachable from here (and has no contract loaded): refused, not paper.
    assert placed.status_code != 500 and placed.json().get("status") != "success", placed.text
    assert after["sandbox_orders"] == before["sandbox_orders"]
    assert after["ledger_by_broker"]["sandbox"] == before["ledger_by_broker"]["sandbox"]
    # Reads follow within the cache's bound.
    deadline = time.monotonic() + LIVE_BROKER_TTL + SLACK
    while _ping(web, key).json()["data"]["broker"] != "zerodha":
        assert time.monotonic() < deadline, "the ping still names the sandbox after the login"
        time.sleep(0.05)

    agent("logout")  # and logs out elsewhere: the very next order is the sandbox's again
    placed = httpx.post(web.url + "placeorder", json=order, timeout=30)
    assert placed.status_code == 200 and placed.json()["status"] == "success", placed.text
    assert agent("counts")["sandbox_orders"] == before["sandbox_orders"] + 1


def test_several_web_processes_enforce_one_rate_limit_together(deployment):
    # A count of its own per run: the limit's key in a shared Redis is fresh every time.
    limit = 20 + secrets.randbelow(20)
    pair = _start_together(deployment, 2, GREEKS_RATE_LIMIT=f"{limit} per day")
    try:
        statuses = [httpx.post(pair[i % 2].url + "optiongreeks", json={}, timeout=10).status_code
                    for i in range(2 * limit + 4)]
    finally:
        for web in pair:
            web.stop()
    # Validation answers 400 until the limit is reached; from then on both processes say 429.
    assert statuses.count(429) == limit + 4, statuses
    assert statuses[:limit] == [400] * limit and set(statuses[limit:]) == {429}


def test_web_processes_starting_together_settle_an_orphan_once(deployment, agent):
    owner = _dead_owner(deployment["env"])
    ids = agent("orphan", owner=owner, count=3)["ids"]
    before = agent("counts", ids=ids)
    assert set(before["statuses"].values()) == {"submitting"}
    starting = _start_together(deployment, 3, RECONCILE_ON_STARTUP="true")
    try:
        deadline = time.monotonic() + 60
        while set((now := agent("counts", ids=ids))["statuses"].values()) != {"failed"}:
            assert time.monotonic() < deadline, now
            time.sleep(0.3)
        time.sleep(2)  # the other processes' sweeps (1 s after their start) are over too
        after = agent("counts", ids=ids)
    finally:
        for web in starting:
            web.stop()
    assert after["events"] == len(ids)  # one move per row, not one per process
    assert after["audits"] - before["audits"] == len(ids)
    assert after["startup_runs"] - before["startup_runs"] == 1  # one sweep found the account
