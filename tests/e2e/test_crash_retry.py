"""A retry after a crash always learns what happened to its order (issue 10): clients send
MARKET orders, each with its own Idempotency-Key, to two web processes; one is SIGKILLed in
the middle of the burst and started again; every key is then retried until it gets a final
answer. Each key must end with exactly one order id, the sandbox's book must hold exactly
one order per key, and nothing may stay "still being processed".

Then each kill point on its own, with the fault hook: after the key is claimed (no ledger
row yet), after the ledger row (broker not called), after the broker accepted (no answer).

Run with ``-s`` to see the figures."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.procs import ROOT, Web, deploy

pytestmark = pytest.mark.e2e

KEYS = 40
CLIENTS = 8
SETTLE_DEADLINE = 60.0
ORDER = {"strategy": "Retry", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "1",
         "pricetype": "MARKET", "product": "MIS"}
STATE = """
import json
from brokers.sandbox.models import SandboxOrder
from orders.models import IdempotencyRecord, Order, Reconciliation
print(json.dumps({
    "book": [dict(orderid=o.orderid, tag=o.tag) for o in SandboxOrder.objects.order_by("pk")],
    "ledger": [dict(id=o.pk, status=o.status, orderid=o.broker_order_id,
                    key=o.idempotency.key if o.idempotency else None) for o in Order.objects.order_by("pk")],
    "unanswered": list(IdempotencyRecord.objects.filter(status_code__isnull=True).values_list("key", flat=True)),
    "runs": [r.trigger for r in Reconciliation.objects.order_by("pk")],
}))
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    # Orders from every client come from one IP: lift the per-IP order rate limit. The
    # platform gets the suite's own Redis database, not the one every checkout's e2e shares.
    extra = {"ORDER_RATE_LIMIT": "100000 per second"}
    if os.environ.get("REDIS_URL"):
        extra["REDIS_URL"] = os.environ["REDIS_URL"]
    return deploy(tmp_path_factory.mktemp("crashretry"), suffix="crashretry", username="retry", **extra)


def start(deployment, *faults: str) -> list[Web]:
    """Web processes started side by side (each with OPENALGO_FAULT=fault, '' for none). They
    skip the startup sweep: one of them still sweeping when another dies would settle what
    the dead one left before the test looks at it; only the restarted process sweeps."""
    def web(fault: str) -> Web:
        return Web(deployment, RECONCILE_ON_STARTUP="false", **({"OPENALGO_FAULT": fault} if fault else {}))

    with ThreadPoolExecutor(len(faults)) as starting:
        return list(starting.map(web, faults))


def state(deployment) -> dict:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", STATE], cwd=ROOT, env=deployment["env"],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    return json.loads(out.strip().splitlines()[-1])


def place(web: Web, apikey: str, key: str) -> tuple[int, dict, str | None] | None:
    """One placeorder with ``key``: (status, body, Retry-After), or None without an answer."""
    try:
        response = httpx.post(web.url + "placeorder", json={"apikey": apikey, **ORDER},
                              headers={"Idempotency-Key": key}, timeout=30)
    except httpx.TransportError:
        return None
    return response.status_code, response.json(), response.headers.get("retry-after")


def final_answer(webs: list[Web], apikey: str, key: str) -> tuple[tuple[int, dict] | None, int, float]:
    """Retry ``key`` on ``webs`` in turn until it is not 409 (every 409 must carry Retry-After):
    (the answer, or None if still 409 at the deadline; how many 409s; when it came)."""
    deadline = time.monotonic() + SETTLE_DEADLINE
    for conflicts in itertools.count():
        answer = place(webs[conflicts % len(webs)], apikey, key)
        assert answer is not None, f"{key}: a running web process did not answer"
        status, body, retry_after = answer
        if status != 409:
            return (status, body), conflicts, time.monotonic()
        assert retry_after is not None and int(retry_after) >= 1, (key, body)
        if time.monotonic() > deadline:
            return None, conflicts + 1, time.monotonic()
        time.sleep(0.2)  # shorter than Retry-After: this measures when the answer is there
    raise AssertionError("unreachable")


def test_sigkill_in_the_middle_of_a_burst_every_retry_learns_its_order(deployment):
    apikey = deployment["key"]
    keys = [f"burst-{n:03d}" for n in range(KEYS)]
    # The victim is SIGKILLed as its 6th order is accepted by the broker: others are in flight at every stage.
    survivor, victim = start(deployment, "", f"after_broker:kill@{KEYS // 6}")
    before = state(deployment)
    first: dict[str, tuple[int, dict]] = {}

    def send(index: int) -> None:
        answer = place(victim if index % 2 else survivor, apikey, keys[index])
        if answer is not None:
            first[keys[index]] = answer[:2]

    with ThreadPoolExecutor(CLIENTS) as clients:
        list(clients.map(send, range(KEYS)))
    assert victim.proc.wait(timeout=10) == -signal.SIGKILL
    victim.stop()
    lost = [k for k in keys if k not in first]
    assert all(status == 200 for status, _ in first.values()), first
    at_kill = state(deployment)  # what the killed process left, per key that lost its answer
    rows_at_kill = {r["key"]: r for r in at_kill["ledger"] if r not in before["ledger"] and r["key"] in lost}
    claimed_only = [k for k in lost if k in at_kill["unanswered"] and k not in rows_at_kill]
    mid_order = {k: r for k, r in rows_at_kill.items() if r["status"] == "submitting"}
    sent_mid_order = [k for k, r in mid_order.items() if f"oa{r['id']}" in {o["tag"] for o in at_kill["book"]}]
    assert sent_mid_order  # at least the order whose broker call the kill followed

    # Every key is retried at once, on the surviving process while the killed one restarts, then
    # on both. Only the restarted process's startup sweep looks the orphaned orders up at the broker.
    webs = [survivor]
    retrying = time.monotonic()
    try:
        with ThreadPoolExecutor(CLIENTS) as clients:
            futures = {k: clients.submit(final_answer, webs, apikey, k) for k in keys}
            webs.append(Web(deployment))
            up = time.monotonic()
            finals = {k: f.result() for k, f in futures.items()}
        again = {k: place(webs[1], apikey, k) for k in keys}  # a second retry answers the same
    finally:
        for web in webs:
            web.stop()
    now = state(deployment)

    stuck = [k for k, (answer, _, _) in finals.items() if answer is None]
    orderids = {k: answer[1].get("orderid") for k, (answer, _, _) in finals.items() if answer is not None}
    waited = {k: conflicts for k, (_, conflicts, _) in finals.items() if conflicts}
    last = max(at for _, _, at in finals.values())
    new_book = [o for o in now["book"] if o not in before["book"]]
    rows = [r for r in now["ledger"] if r not in before["ledger"]]
    runs = now["runs"][len(before["runs"]):]
    print(f"\nburst: {KEYS} keys from {CLIENTS} clients over 2 web processes, one SIGKILLed mid-burst: "
          f"{len(first)} answered before the kill, {len(lost)} lost their answer: {len(claimed_only)} claimed "
          f"without a ledger row, {len(mid_order)} with a ledger row still submitting ({len(sent_mid_order)} of "
          f"them at the broker), the rest never reached the server. Retried: {len(orderids)} keys with an order "
          f"id, {len(new_book)} orders in the sandbox book, {len(stuck)} stuck keys, {len(waited)} keys answered "
          f"409 + Retry-After ({sum(waited.values())} times) until settled; every key final "
          f"{last - retrying:.1f} s after the retries began, {max(0.0, last - up):.1f} s after the restarted "
          f"process answered; reconciliation runs: {runs}")

    assert stuck == []
    assert all(answer[0] == 200 and answer[1]["status"] == "success" for answer, _, _ in finals.values()), finals
    assert len(new_book) == len(orderids) == KEYS == len(set(orderids.values()))
    assert {o["orderid"] for o in new_book} == set(orderids.values())
    for key, (status, body) in first.items():  # no key answered two different order ids
        assert (status, body.get("orderid")) == (200, orderids[key]), key
    assert all(again[k][:2] == finals[k][0] for k in keys)
    assert now["unanswered"] == [] and not [r for r in rows if r["status"] in ("submitting", "unknown")]
    # A key whose order was mid-flight waits (409 + Retry-After) for the restart's one startup run
    # (no beat here), then gets its answer within seconds: the order the killed process placed, if any.
    assert set(mid_order) <= set(waited) and runs == ["startup"] and last - up < 15
    for key in sent_mid_order:
        assert orderids[key] == next(r["orderid"] for r in rows if r["id"] == mid_order[key]["id"]), key


POINTS = ("after_claim", "after_ledger", "after_broker")


def test_a_kill_at_each_point_leaves_one_order_and_its_answer(deployment):
    apikey = deployment["key"]
    keys = {point: f"point-{point}" for point in POINTS}
    before = state(deployment)
    doomed = dict(zip(POINTS, start(deployment, *(f"{point}:kill" for point in POINTS)), strict=True))
    try:
        for point, web in doomed.items():
            assert place(web, apikey, keys[point]) is None  # the client never gets an answer
            assert web.proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        for web in doomed.values():
            web.stop()
    left = state(deployment)
    sent = [o for o in left["book"] if o not in before["book"]]
    [left_row] = [r for r in left["ledger"] if r["key"] == keys["after_broker"]]
    assert [o["tag"] for o in sent] == [f"oa{left_row['id']}"]  # only the order killed after the broker call

    web = Web(deployment)
    up = time.monotonic()
    try:
        finals = {point: final_answer([web], apikey, keys[point]) for point in POINTS}
        for point in POINTS:
            assert place(web, apikey, keys[point])[:2] == finals[point][0]  # and the same again
    finally:
        web.stop()
    now = state(deployment)
    book = [o for o in now["book"] if o not in before["book"]]
    rows = [r for r in now["ledger"] if r not in before["ledger"]]
    for point, ((status, body), conflicts, at) in finals.items():
        linked = [r["status"] for r in rows if r["key"] == keys[point]]
        print(f"\n{point}: final answer {at - up:.1f} s after the restarted process answered ({conflicts} x 409 "
              f"+ Retry-After), its ledger rows {linked}")
        assert (status, body["status"], linked) == (200, "success", ["complete"]), (point, body)
    orderids = {point: finals[point][0][1]["orderid"] for point in POINTS}
    print(f"kill points: {len(POINTS)} keys, {len(book)} orders in the book, ledger {[r['status'] for r in rows]}")
    # One order per key: placed by the retry after_claim and after_ledger, found after_broker.
    assert sorted(o["orderid"] for o in book) == sorted(orderids.values()) and len(set(orderids.values())) == 3
    assert orderids["after_broker"] == sent[0]["orderid"]
    # The row written before the kill after_ledger never reached the broker: failed, its key released.
    assert [r for r in rows if r["key"] is None] == [
        {"id": r["id"], "status": "failed", "orderid": "", "key": None}
        for r in left["ledger"] if r["key"] == keys["after_ledger"]]
    assert now["unanswered"] == []
