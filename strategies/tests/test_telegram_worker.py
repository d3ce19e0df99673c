"""Telegram with a REAL Celery worker against Redis: the worker hears the order event of
an order placed through the API (over the Redis bus) and sends exactly one alert; the
official SDK's notification is queued by the live server and sent by the worker; the
worker's poller long-polls getUpdates and runs the command. Telegram is a local HTTP fake
(the worker is another process, so respx cannot reach it): the same FakeTelegram answers."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import respx
from django.test import Client

from accounts.services import create_api_key
from strategies.models import TelegramBot, TelegramLink
from strategies.tests.sdk_api import sdk_call
from strategies.tests.telegram_fake import TOKEN, FakeTelegram, user_update
from strategies.tests.test_worker import fresh_queue, wait_for, workers  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis")]

CHAT = 555000111
BUY = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "3", "pricetype": "MARKET",
       "product": "MIS", "strategy": "TG"}


class FakeServer:
    """FakeTelegram served over HTTP on a free loopback port."""

    def __init__(self) -> None:
        self.router = respx.MockRouter(assert_all_called=False, base_url="http://fake")
        self.fake = FakeTelegram(self.router)
        router, lock = self.router, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = httpx.Request("POST", f"https://api.telegram.org{self.path}",
                                        headers={"content-type": self.headers.get("Content-Type", "")}, content=body)
                with lock:
                    response = router.handler(request)
                payload = response.read()
                self.send_response(response.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def telegram_server():
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def world(transactional_db, settings, telegram_server, make_user, market):
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = telegram_server.url
    settings.TELEGRAM_WEBHOOK_URL = ""
    trader = make_user("trader")
    TelegramBot.objects.create(pk=1, running=True, webhook_secret="worker-test-secret")
    TelegramLink.objects.create(user=trader, telegram_user_id=CHAT, chat_id=CHAT, telegram_username="trader_tg")
    return trader, create_api_key(user=trader)


def test_a_real_worker_alerts_once_sends_notifications_and_long_polls(world, workers, telegram_server,  # noqa: F811
                                                                      live_server):
    trader, key = world
    fake = telegram_server.fake
    worker = workers(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=telegram_server.url, TELEGRAM_WEBHOOK_URL="")
    wait_for(lambda: "Telegram alerts: subscribed to order events" in worker.output(), "the worker's subscription",
             worker)

    answer = Client().post("/api/v1/placeorder", data=json.dumps({"apikey": key, **BUY}),
                           content_type="application/json").json()
    assert answer["status"] == "success", answer
    wait_for(lambda: any(answer["orderid"] in t and t.startswith("✅ Order filled") for t in fake.texts(CHAT)),
             "the fill alert", worker)

    notified = sdk_call(live_server.url, key, "telegram", username="trader", message="*Target* hit", priority=7)
    assert notified == {"status": "success", "message": "Notification queued for delivery"}
    wait_for(lambda: "*Target* hit" in fake.texts(CHAT), "the SDK's notification", worker)

    fake.updates.append(user_update(7001, "/pause"))
    wait_for(lambda: TelegramLink.objects.get(user=trader).paused, "the polled /pause", worker)
    wait_for(lambda: any(t.startswith("⏸") for t in fake.texts(CHAT)), "the /pause reply", worker)

    time.sleep(1.0)  # anything late or doubled would have arrived by now
    alerts = [t for t in fake.texts(CHAT) if answer["orderid"] in t]
    assert len(alerts) == len(set(alerts)) and sum(t.startswith("✅ Order filled") for t in alerts) == 1
