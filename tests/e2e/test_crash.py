"""Crash safety (issue 5 §2): a web process killed with SIGKILL between "ledger row
written" and "broker answered" loses no order and doubles none. When the web process
starts again it finds the orphaned row, looks it up in the broker's order book by the tag
sent with it, marks its true state and tells the user (audit trail, order update)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.procs import ROOT, free_port, platform_env

pytestmark = pytest.mark.e2e

ORDER = {"strategy": "Crash", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "3",
         "pricetype": "MARKET", "product": "MIS"}
STATE = """
import json
from accounts.models import AuditEvent
from brokers.sandbox.models import SandboxOrder
from orders.models import Order
print(json.dumps({
    "ledger": [dict(id=o.pk, status=o.status, orderid=o.broker_order_id, owner=o.owner,
                    events=[e.source for e in o.events.all()]) for o in Order.objects.order_by("pk")],
    "sandbox": [dict(orderid=o.orderid, tag=o.tag, status=o.status) for o in SandboxOrder.objects.order_by("pk")],
    "reconciled": [e.detail for e in AuditEvent.objects.filter(action="order_reconciled").order_by("pk")],
}))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("crash")
    env = platform_env(tmp, suffix="crash")
    manage = [sys.executable, "manage.py"]
    for command in (["migrate", "--noinput", "-v0"], ["loadsandbox"],
                    ["shell", "-c", "from accounts.models import User; User.objects.create_user('crash')"]):
        subprocess.run([*manage, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    key = subprocess.run([*manage, "apikey", "crash"], cwd=ROOT, env=env, check=True, capture_output=True,
                         text=True, timeout=120).stdout.splitlines()[-1]
    return {"env": env, "key": key, "tmp": tmp}


def state(deployment) -> dict:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", STATE], cwd=ROOT, env=deployment["env"],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


class Web:
    """One daphne process, as the Procfile starts it, on a free port."""

    def __init__(self, deployment, **extra_env) -> None:
        self.port = free_port()
        self.log = open(deployment["tmp"] / f"web-{self.port}.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "openalgo.asgi:application"],
            cwd=ROOT, env={**deployment["env"], **extra_env}, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/api/v1/"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.post(self.url + "ping", json={"apikey": deployment["key"]}, timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, "daphne did not answer ping in 60 s"
            time.sleep(0.2)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        self.log.close()


def crash_placing_an_order(deployment, point: str) -> dict:
    """Send one order to a web process told to die at ``point``; return the row it left."""
    web = Web(deployment, OPENALGO_FAULT=f"{point}:kill")
    try:
        before = {row["id"] for row in state(deployment)["ledger"]}
        with pytest.raises(httpx.TransportError):  # the client never gets an answer
            httpx.post(web.url + "placeorder", json={"apikey": deployment["key"], **ORDER}, timeout=30)
        assert web.proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        web.stop()
    [row] = [row for row in state(deployment)["ledger"] if row["id"] not in before]
    assert (row["status"], row["orderid"]) == ("submitting", "")  # exactly what the crash left
    return row


def settled(deployment, ledger_id: int) -> tuple[dict, dict]:
    """Start a fresh web process; wait for its startup sweep to settle the row."""
    web = Web(deployment)
    try:
        deadline = time.monotonic() + 30
        while True:
            now = state(deployment)
            row = next(r for r in now["ledger"] if r["id"] == ledger_id)
            if row["status"] != "submitting":
                return row, now
            assert time.monotonic() < deadline, "the restarted web process never reconciled:\n" + web.output()
            time.sleep(0.5)
    finally:
        web.stop()


def test_killed_after_the_broker_accepted_the_order_is_found_by_its_tag(deployment):
    row = crash_placing_an_order(deployment, "after_broker")
    [sent] = [o for o in state(deployment)["sandbox"] if o["tag"] == f"oa{row['id']}"]
    assert sent["status"] == "complete"  # the broker has it; our ledger does not know yet

    row, now = settled(deployment, row["id"])
    assert (row["status"], row["orderid"]) == ("complete", sent["orderid"])
    assert row["events"] == ["api", "reconcile"]
    assert [d["ledger_id"] for d in now["reconciled"]] == [row["id"]]
    assert now["reconciled"][0]["to"] == "complete" and now["reconciled"][0]["user"] == "crash"
    # Nothing doubled: one broker order for this ledger row.
    assert [o["tag"] for o in now["sandbox"]].count(f"oa{row['id']}") == 1


def test_killed_before_the_broker_call_is_marked_failed_not_left_pending(deployment):
    row = crash_placing_an_order(deployment, "after_ledger")
    assert not [o for o in state(deployment)["sandbox"] if o["tag"] == f"oa{row['id']}"]

    row, now = settled(deployment, row["id"])
    assert (row["status"], row["orderid"]) == ("failed", "")
    assert row["id"] in [d["ledger_id"] for d in now["reconciled"]]
    # The sandbox never saw it, so there is nothing to double; the account trades on.
    web = Web(deployment)
    try:
        response = httpx.post(web.url + "placeorder", json={"apikey": deployment["key"], **ORDER}, timeout=30)
        assert response.status_code == 200 and response.json()["status"] == "success"
    finally:
        web.stop()
    assert not [r for r in state(deployment)["ledger"] if r["status"] == "submitting"]
