"""Alerts run by a REAL Celery worker against Redis (a subprocess on the test database),
driven by the SDK's ``Strategy`` class against the live test server: the alert is filled
in the sandbox; a worker killed (SIGKILL) after the broker took the order and started
again finishes the alert without a second order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from brokers.sandbox.models import SandboxOrder
from orders.models import Order
from strategies.models import Alert, Strategy
from strategies.tests.sdk import Strategy as SdkStrategy

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis")]

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """``celery -A openalgo worker`` (solo pool: the task runs in the worker's own process,
    so a fault kills the whole worker) on the test database and the test's Redis."""

    def __init__(self, tmp: Path, **extra_env: str) -> None:
        db = connection.settings_dict
        scheme, port = ("mysql", 3306) if connection.vendor == "mysql" else ("postgres", 5432)
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        url = f"{scheme}://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or port}/{db['NAME']}"
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "OPENALGO_FAULT")}
        env.update(DATABASE_URL=url, REDIS_URL=settings.REDIS_URL, OPENALGO_VAR_DIR=str(tmp / "var"),
                   PYTHONUNBUFFERED="1", **extra_env)
        self.log_path = tmp / f"worker-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "openalgo", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def fresh_queue():
    """The test's own Redis database, emptied: no message of an earlier run is delivered."""
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    yield


@pytest.fixture
def workers(tmp_path, fresh_queue):
    started: list[Worker] = []

    def start(**extra_env: str) -> Worker:
        worker = Worker(tmp_path, **extra_env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(check, what: str, worker: Worker, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen in {timeout} s:\n{worker.output()[-4000:]}"
        time.sleep(0.2)


@pytest.fixture
def strategy(transactional_db, user, market) -> Strategy:
    strategy = Strategy.objects.create(owner=user, name="SDK", kind=Strategy.Kind.POSITIONAL)
    strategy.symbols.create(symbol="SBIN", exchange="NSE", quantity=5, product="MIS")
    return strategy


def finished(alert_id: int) -> Alert | None:
    alert = Alert.objects.get(pk=alert_id)
    return alert if alert.state in (Alert.State.EXECUTED, Alert.State.FAILED) else None


def test_the_sdk_drives_the_webhook_and_a_real_worker_fills_the_alert_in_the_sandbox(live_server, strategy,
                                                                                      workers):
    worker = workers()
    answer = SdkStrategy(live_server.url, str(strategy.webhook_id)).strategyorder("SBIN", "buy", 5)
    assert answer == {"message": "Order queued successfully for SBIN"}
    alert = Alert.objects.get()
    done = wait_for(lambda: finished(alert.pk), "the alert", worker)
    assert done.state == Alert.State.EXECUTED, done.reason
    order = Order.objects.get()
    assert (order.strategy, order.source, order.status, order.filled_quantity) == ("SDK", "webhook", "complete", 5)
    assert done.order_ids == [order.broker_order_id]
    fill = SandboxOrder.objects.get(orderid=order.broker_order_id)
    assert (fill.status, fill.quantity) == ("complete", 5)
    # An unknown symbol is refused by the SDK's call (it raises on a non-2xx answer).
    with pytest.raises(Exception, match="400"):
        SdkStrategy(live_server.url, str(strategy.webhook_id)).strategyorder("TCS", "BUY")


def test_a_worker_killed_mid_task_and_started_again_places_no_duplicate(live_server, strategy, workers):
    doomed = workers(OPENALGO_FAULT="after_broker:kill")
    SdkStrategy(live_server.url, str(strategy.webhook_id)).strategyorder("SBIN", "BUY")
    alert = Alert.objects.get()
    assert doomed.proc.wait(timeout=60) == -signal.SIGKILL, doomed.output()[-4000:]
    # The broker has the order; our ledger row and the alert were left unfinished.
    assert SandboxOrder.objects.count() == 1
    assert Order.objects.get().status == "submitting"
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.RUNNING
    worker = workers()  # queues unfinished alerts when ready; the message also stays in Redis
    done = wait_for(lambda: finished(alert.pk), "the restarted worker's run", worker)
    assert done.state == Alert.State.EXECUTED, done.reason
    [sandbox_order] = SandboxOrder.objects.all()
    [order] = Order.objects.all()
    assert order.status == "complete" and order.broker_order_id == sandbox_order.orderid
    assert done.order_ids == [sandbox_order.orderid] and done.attempts >= 2
    # The webhook's retry of the same alert is a duplicate: still one order.
    SdkStrategy(live_server.url, str(strategy.webhook_id)).strategyorder("SBIN", "BUY")
    assert Alert.objects.latest("pk").state == Alert.State.DUPLICATE
    time.sleep(1)
    assert SandboxOrder.objects.count() == 1
