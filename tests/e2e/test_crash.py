"""Crash safety (issue 5 §2): a web process killed with SIGKILL between "ledger row
written" and "broker answered" loses no order and doubles none. When the web process
starts again it finds the orphaned row, looks it up in the broker's order book by the tag
sent with it, marks its true state and tells the user (audit trail, order update)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.procs import ROOT, Web, deploy

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
    return deploy(tmp_path_factory.mktemp("crash"), suffix="crash", username="crash")


def state(deployment) -> dict:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", STATE], cwd=ROOT, env=deployment["env"],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


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
