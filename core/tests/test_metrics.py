"""/metrics: the token gate, our metrics in a real scrape (multiprocess files), the feed's
counters over a real ZeroMQ bus, Celery queue depth in the embedded transport and in Redis."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import zmq
from django.conf import settings
from django.db import connection
from django.test import override_settings
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from marketdata.bus import Forwarder
from marketdata.stream import codec
from marketdata.stream.feeds import FeedSupervisor
from marketdata.stream.hub import Hub, Outbox

TOKEN = "scrape-token-for-tests-0123456789"
BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


@pytest.fixture
def scrape(client, token):
    """GET /metrics with the token: {(sample name, sorted labels): value}."""

    def get() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return get


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- the gate -------------------------------------------------------------------------------------


def test_metrics_is_not_found_while_no_token_is_configured(client, settings, db):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", TOKEN])
def test_metrics_refuses_a_missing_or_wrong_token(client, token, db, header):
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"openalgo_" not in response.content


def test_metrics_answers_the_scraper_with_every_metric_of_ours(client, token, db):
    metrics.observe_order("sandbox", 0.004, "success")
    metrics.count_reject("risk_max_quantity")
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    for name in ("openalgo_order_latency_seconds_bucket", "openalgo_order_rejects_total", "openalgo_feed_ticks_total",
                 "openalgo_feed_dropped_frames_total", "openalgo_celery_queue_depth", "openalgo_celery_broker_up",
                 "django_db_execute_total", "django_db_query_duration_seconds", "django_migrations_applied_total",
                 "django_migrations_unapplied_total"):
        assert f"\n{name}" in body, name


def test_metrics_counts_in_a_folder_of_the_test_run_not_the_platforms():
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(settings.METRICS_DIR)
    assert settings.METRICS_DIR.is_dir()
    assert not settings.METRICS_DIR.is_relative_to(settings.VAR_DIR)


# --- order metrics --------------------------------------------------------------------------------


def test_order_latency_and_rejects_show_up_in_the_scrape(scrape, db):
    before = scrape()
    metrics.observe_order("sandbox", 0.004, "success")
    metrics.observe_order("sandbox", 0.2, "success")
    metrics.observe_order("Sandbox", 3.0, "Rejected")
    metrics.count_reject("risk_max_quantity")
    metrics.count_reject("risk_max_quantity")
    metrics.count_reject("broker_rejected")
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    success = {"broker": "sandbox", "outcome": "success"}
    assert delta("openalgo_order_latency_seconds_count", **success) == 2
    assert delta("openalgo_order_latency_seconds_bucket", le="0.005", **success) == 1
    assert delta("openalgo_order_latency_seconds_bucket", le="0.25", **success) == 2
    assert delta("openalgo_order_latency_seconds_sum", **success) == pytest.approx(0.204)
    assert delta("openalgo_order_latency_seconds_count", broker="sandbox", outcome="rejected") == 1
    assert delta("openalgo_order_rejects_total", reason="risk_max_quantity") == 2
    assert delta("openalgo_order_rejects_total", reason="broker_rejected") == 1


def test_reject_reasons_are_bounded_labels(scrape, db, monkeypatch):
    before = scrape()
    metrics.count_reject("Order rejected: insufficient funds for SBIN qty 100")  # a message, not a code
    metrics.count_reject("")
    after = scrape()
    assert value(after, "openalgo_order_rejects_total", reason="unknown") - value(
        before, "openalgo_order_rejects_total", reason="unknown") == 2
    assert not any(labels and "SBIN" in str(labels) for _, labels in after)

    label = f"test_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(metrics, "MAX_LABEL_VALUES", 2)
    assert [metrics.bounded(label, v) for v in ("a_one", "b_two", "c_three", "a_one")] == [
        "a_one", "b_two", "other", "a_one"]


def test_another_process_counts_into_the_same_scrape(scrape, db):
    """The worker and the feed are other processes: their files are summed by the web's scrape."""
    before = scrape()
    env = {**os.environ, "METRICS_DIR": str(settings.METRICS_DIR), "DJANGO_SETTINGS_MODULE": "openalgo.settings"}
    code = ("import django; django.setup(); from core import metrics; "
            "metrics.count_reject('risk_max_order_value'); metrics.observe_order('sandbox', 0.01, 'error')")
    subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, env=env, check=True, timeout=120)
    after = scrape()
    assert value(after, "openalgo_order_rejects_total", reason="risk_max_order_value") - value(
        before, "openalgo_order_rejects_total", reason="risk_max_order_value") == 1
    assert value(after, "openalgo_order_latency_seconds_count", broker="sandbox", outcome="error") - value(
        before, "openalgo_order_latency_seconds_count", broker="sandbox", outcome="error") == 1


def test_database_statements_are_counted(scrape, db):
    vendor = connection.vendor
    before = scrape()
    for _ in range(5):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    after = scrape()
    executed = value(after, "django_db_execute_total", alias="default", vendor=vendor) - value(
        before, "django_db_execute_total", alias="default", vendor=vendor)
    assert executed >= 5  # and whatever the scrape itself asked (migrations)


def test_clear_directory_empties_the_folder(tmp_path):
    (tmp_path / "counter_1.db").write_bytes(b"x")
    (tmp_path / "histogram_2.db").write_bytes(b"x")
    metrics.clear_directory(tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- the feed ------------------------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_published_ticks_are_counted(scrape, transactional_db, market):
    xsub, xpub = f"tcp://127.0.0.1:{_port()}", f"tcp://127.0.0.1:{_port()}"
    forwarder = Forwarder(xsub, xpub)
    bus = threading.Thread(target=forwarder.run, daemon=True)
    bus.start()
    assert forwarder.wait_ready()
    before = scrape()
    stop = threading.Event()
    supervisor = FeedSupervisor(address=xsub)
    with override_settings(SIM_TICKS_PER_SECOND=50):
        supervisor.start_shared()  # the simulator reads its rate as it is built
    feed = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    feed.start()
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    received = 0
    try:
        subscriber.setsockopt(zmq.LINGER, 0)
        subscriber.setsockopt(zmq.SUBSCRIBE, codec.encode_topic("sandbox", "NSE", "SBIN"))
        subscriber.connect(xpub)
        deadline = time.monotonic() + 15
        while received < 5 and time.monotonic() < deadline:
            if subscriber.poll(200):
                _topic, payload = subscriber.recv_multipart()
                assert json.loads(payload)["ltp"] == 800.0
                received += 1
    finally:
        stop.set()
        feed.join(5)
        subscriber.close(linger=0)
        forwarder.stop()
        bus.join(5)
    assert received == 5
    ticks = value(scrape(), "openalgo_feed_ticks_total") - value(before, "openalgo_feed_ticks_total")
    assert ticks >= received


def test_frames_overwritten_for_a_slow_client_are_counted_as_dropped(scrape, db):
    hub = Hub("inproc://unused")
    slow, other = Outbox(), Outbox()
    hub.routes[("u1", "NSE", "SBIN")][slow] = (1, 5, "sandbox")
    hub.routes[("u1", "NSE", "SBIN")][other] = (2, 5, "sandbox")
    before = scrape()
    for price in range(10):
        hub.dispatch(codec.encode_topic("u1", "NSE", "SBIN"), json.dumps({"ltp": float(price), "depth": {}}).encode())
    other.take()  # this one keeps up after the first tick; the slow one never does
    hub.dispatch(codec.encode_topic("u1", "NSE", "SBIN"), json.dumps({"ltp": 10.0, "depth": {}}).encode())
    name = "openalgo_feed_dropped_frames_total"
    dropped = value(scrape(), name) - value(before, name)
    assert slow.dropped == 10 and other.dropped == 9
    assert dropped == 19
    assert len(slow.take()) == 1


# --- Celery's queue --------------------------------------------------------------------------------


def test_queue_depth_counts_the_messages_waiting_in_the_embedded_transport(scrape, db, settings, tmp_path):
    folder = tmp_path / "celery-queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "processed_folder": str(tmp_path / "processed"), "control_folder": str(tmp_path / "control"),
               "store_processed": False}
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    assert value(scrape(), "openalgo_celery_queue_depth", queue="celery") == 0

    with Connection("filesystem://", transport_options=options) as broker:
        queue = broker.SimpleQueue("celery")
        for number in range(3):
            queue.put({"task": "accounts.tasks.worker_heartbeat", "n": number})
        samples = scrape()
        assert value(samples, "openalgo_celery_queue_depth", queue="celery") == 3
        assert value(samples, "openalgo_celery_broker_up") == 1
        queue.get(timeout=1).ack()
        assert value(scrape(), "openalgo_celery_queue_depth", queue="celery") == 2
        queue.close()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_queue_depth_is_the_length_of_the_queue_in_redis(scrape, db, settings):
    name = f"metrics-test-{uuid.uuid4().hex}"
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    with Connection(os.environ["REDIS_URL"]) as broker:
        queue = broker.SimpleQueue(name)
        try:
            for number in range(4):
                queue.put({"n": number})
            samples = scrape()
            assert value(samples, "openalgo_celery_queue_depth", queue=name) == 4
            assert value(samples, "openalgo_celery_broker_up") == 1
        finally:
            queue.clear()
            queue.close()


def test_an_unreachable_broker_is_reported_not_fatal_to_the_scrape(scrape, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    samples = scrape()
    assert value(samples, "openalgo_celery_broker_up") == 0
    assert not any(name == "openalgo_celery_queue_depth" for name, _ in samples)
