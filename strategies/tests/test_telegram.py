"""Telegram against a local fake of the Bot HTTP API (respx): the /link flow, each
command's reply, order alerts from the one order event (one per (orderid, status, filled
quantity), none while paused), the notify API's every answer (and the official SDK calling
it), Telegram's 429 retry_after, the webhook's secret, long polling, and the page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import respx
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from core import uievents
from orders import events
from orders.models import Order
from strategies.models import TelegramAlert, TelegramBot, TelegramLink, TelegramLinkCode
from strategies.telegram import commands, consumer, services, tasks
from strategies.tests.telegram_fake import (
    API,
    BOT_USERNAME,
    TOKEN,
    FakeTelegram,
    blocked,
    too_many_requests,
    user_update,
)

CHAT = 555000111
SECRET = "s3cret-webhook-token-for-tests"
BUY = {"strategy": "Signals", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "4",
       "pricetype": "MARKET", "product": "MIS"}


@pytest.fixture
def eager(monkeypatch):
    """Celery runs each task at once, in the caller (a real worker is tested elsewhere)."""
    from openalgo.celery import app

    monkeypatch.setattr(app.conf, "CELERY_TASK_ALWAYS_EAGER", True)


@pytest.fixture
def telegram_api(settings, eager):
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    settings.TELEGRAM_API_URL = API
    settings.TELEGRAM_WEBHOOK_URL = ""
    with respx.mock(assert_all_called=False) as router:
        yield FakeTelegram(router)


@pytest.fixture
def bot(db, telegram_api) -> FakeTelegram:
    """The bot configured and running."""
    TelegramBot.objects.update_or_create(pk=1, defaults={"running": True, "webhook_secret": SECRET})
    return telegram_api


@pytest.fixture
def linked(bot, user) -> TelegramLink:
    return TelegramLink.objects.create(user=user, telegram_user_id=CHAT, chat_id=CHAT, telegram_username="trader_tg")


_update_ids = iter(range(1000, 100000))


def say(text: str, **who) -> None:
    """The user sends ``text`` to the bot; the update is processed as a worker would."""
    tasks.process_update.delay(user_update(next(_update_ids), text, **who))


def last_reply(bot: FakeTelegram) -> str:
    return bot.texts(CHAT)[-1]


# --- /link ---------------------------------------------------------------------------------------

def test_link_with_the_one_time_code_from_the_page(bot, user, client):
    client.force_login(user)
    page = client.post("/telegram/link-code/")
    assert page.status_code == 200
    code = page.context["code"]
    assert f"/link {code}" in page.content.decode()
    assert not TelegramLinkCode.objects.filter(code_hash=code).exists()  # only its digest is stored

    say("/start")
    assert "/link <code>" in last_reply(bot)
    say(f"/link {code.lower()}")
    link = TelegramLink.objects.get(user=user)
    assert (link.telegram_user_id, link.chat_id, link.telegram_username) == (CHAT, CHAT, "trader_tg")
    assert last_reply(bot).startswith("✅ Linked to OpenAlgo account trader")
    assert AuditEvent.objects.filter(action="telegram_link", subject="trader").exists()

    # One time only: another Telegram user cannot reuse it.
    say(f"/link {code}", user_id=777, username="intruder")
    assert bot.texts(777) == [commands.BAD_CODE]
    assert TelegramLink.objects.get(user=user).telegram_user_id == CHAT
    page = client.get("/telegram/")
    assert "@trader_tg" in page.content.decode()


def test_an_expired_or_unknown_code_links_nothing(bot, user):
    code, _ = services.new_link_code(user=user)
    TelegramLinkCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    say(f"/link {code}")
    say("/link NOPE1234")
    say("/link")
    assert bot.texts(CHAT)[:2] == [commands.BAD_CODE, commands.BAD_CODE]
    assert "Send /link <code>" in last_reply(bot)
    assert not TelegramLink.objects.exists()


def test_commands_of_an_unlinked_chat_ask_to_link_first(bot, user):
    for command in ("/orderbook", "/positions", "/funds", "/pnl", "/pause", "/mode analyze"):
        say(command)
    assert bot.texts(CHAT) == [commands.NOT_LINKED] * 6
    user.refresh_from_db()
    assert user.analyze_mode is False


# --- Commands ------------------------------------------------------------------------------------

def test_book_commands_answer_from_the_same_books_as_the_api(linked, market, api_call, bot):
    status, body = api_call("placeorder", **BUY)
    assert status == 200, body
    orderid = body["orderid"]
    _, book = api_call("orderbook")
    row = book["data"]["orders"][0]

    say("/orderbook")
    reply = last_reply(bot)
    assert reply.startswith("📒 Order book")
    assert f"BUY 4 SBIN (NSE) MARKET - {row['order_status']} [{orderid}]" in reply
    assert "Total: 1 · completed 1 · open 0 · rejected 0" in reply

    say("/positions")
    _, positions = api_call("positionbook")
    p = positions["data"][0]
    assert f"SBIN (NSE) MIS: 4 @ {p['average_price']}" in last_reply(bot)

    say("/funds")
    _, funds = api_call("funds")
    assert f"Available cash: {funds['data']['availablecash']}" in last_reply(bot)

    market.set("NSE:SBIN", "810")
    say("/pnl")
    _, positions = api_call("positionbook")
    total = sum(row["pnl"] for row in positions["data"])
    assert total > 0
    assert last_reply(bot).startswith(f"📈 Today's P&L: {total:,.2f}")
    assert f"SBIN (NSE): {total:,.2f}" in last_reply(bot)


def test_empty_books(linked, market, bot):
    say("/orderbook")
    assert "No orders today." in last_reply(bot)
    say("/positions")
    assert "No open positions." in last_reply(bot)


def test_pause_and_resume(linked, bot):
    say("/pause")
    assert last_reply(bot).startswith("⏸ Order alerts paused")
    assert TelegramLink.objects.get(pk=linked.pk).paused is True
    say("/resume")
    assert last_reply(bot) == "▶️ Order alerts resumed."
    assert TelegramLink.objects.get(pk=linked.pk).paused is False


def test_mode_shows_and_switches_analyze_mode_through_the_account_service(linked, user, bot, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    published = []
    monkeypatch.setattr(uievents, "publish", lambda user_id, event, data: published.append((user_id, event, data)))
    say("/mode")
    assert last_reply(bot).startswith("Mode: LIVE")
    with django_capture_on_commit_callbacks(execute=True):
        say("/mode analyze")
    assert last_reply(bot) == "Switched. Mode: PAPER (analyze mode on)"
    user.refresh_from_db()
    assert user.analyze_mode is True
    assert published == [(user.pk, "app_mode_changed", {"analyze_mode": True})]  # the web banner follows
    assert AuditEvent.objects.filter(action="analyze_mode", actor="trader (telegram)").exists()
    say("/mode sideways")
    assert last_reply(bot) == "Use /mode analyze (paper trading) or /mode live."
    type(user).objects.filter(pk=user.pk).update(order_mode="semi_auto")
    say("/mode live")
    assert "Semi-auto" in last_reply(bot)
    user.refresh_from_db()
    assert user.analyze_mode is True


def test_unknown_command_and_plain_text(linked, bot):
    say("hello")
    assert bot.texts(CHAT) == []
    say("/dance")
    assert last_reply(bot).startswith("Unknown command /dance.")
    say(f"/funds@{BOT_USERNAME}")  # group-style command addressed to the bot
    assert "Funds" in last_reply(bot) or "Could not read" in last_reply(bot)


# --- Order alerts ----------------------------------------------------------------------------------

def _event(order: Order) -> dict:
    return events.order_update_message(order.user.username, events.ledger_update_payload(order))


def test_an_order_event_makes_exactly_one_alert(linked, market, api_call, user, bot):
    _, body = api_call("placeorder", **BUY)
    order = Order.objects.get(broker_order_id=body["orderid"])
    message = _event(order)
    assert message["order_status"] == "complete"
    one, another = consumer.AlertConsumer(tasks.send_order_alert.delay), consumer.AlertConsumer(
        tasks.send_order_alert.delay)
    assert one.handle(user.pk, message) is True
    assert one.handle(user.pk, message) is False  # the same event again, same worker
    another.handle(user.pk, dict(message))  # the same event heard by a second worker
    assert bot.texts(CHAT) == [
        f"✅ Order filled\nBUY 4 SBIN (NSE) MIS\nFilled 4/4 at avg {message['average_price']:.2f}\n"
        f"Order {body['orderid']} · LIVE (sandbox)" if message["mode"] == "live" else
        f"✅ Order filled\nBUY 4 SBIN (NSE) MIS\nFilled 4/4 at avg {message['average_price']:.2f}\n"
        f"Order {body['orderid']} · PAPER (analyze)"]
    assert TelegramAlert.objects.filter(user=user, orderid=body["orderid"]).count() == 1


def test_sent_alert_records_are_purged_after_the_keep_days(user, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.TELEGRAM_ALERT_KEEP_DAYS = 7
    now = timezone.now()
    old = TelegramAlert.objects.create(user=user, orderid="1", order_status="complete", filled_quantity="1",
                                       created_at=now - timedelta(days=8))
    recent = TelegramAlert.objects.create(user=user, orderid="2", order_status="complete", filled_quantity="1",
                                          created_at=now - timedelta(days=6))
    TelegramLinkCode.objects.create(user=user, code_hash="a" * 64, expires_at=now - timedelta(days=2))
    TelegramLinkCode.objects.create(user=user, code_hash="b" * 64, expires_at=now + timedelta(minutes=5))
    assert tasks.purge_alerts() == 1
    assert list(TelegramAlert.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not TelegramAlert.objects.filter(pk=old.pk).exists()
    assert list(TelegramLinkCode.objects.values_list("code_hash", flat=True)) == ["b" * 64]


def test_a_rejected_order_alert_says_why(linked, user, bot):
    message = {"type": "order_update", "user_id": "trader", "orderid": "26113000000042", "symbol": "SBIN",
               "exchange": "NSE", "action": "SELL", "quantity": 10, "price": 0.0, "pricetype": "MARKET",
               "product": "CNC", "order_status": "rejected", "filled_quantity": 0, "average_price": 0.0,
               "rejection_reason": "Insufficient holdings", "mode": "analyze", "broker": "sandbox"}
    tasks.send_order_alert.delay(user.pk, message)
    assert bot.texts(CHAT) == ["❌ Order rejected\nSELL 10 SBIN (NSE) CNC\nReason: Insufficient holdings\n"
                               "Order 26113000000042 · PAPER (analyze)"]


def test_placed_partly_filled_and_filled_are_three_alerts(linked, user, bot):
    base = {"orderid": "X1", "symbol": "RELIANCE", "exchange": "NSE", "action": "BUY", "quantity": 10,
            "price": 1500.0, "pricetype": "LIMIT", "product": "MIS", "average_price": 0.0, "mode": "live",
            "broker": "fakelive"}
    for status, filled, average in (("submitting", 0, 0), ("open", 0, 0), ("open", 4, 1499.5),
                                    ("open", 4, 1499.5), ("complete", 10, 1499.8)):
        tasks.send_order_alert.delay(user.pk, {**base, "order_status": status, "filled_quantity": filled,
                                               "average_price": average})
    texts = bot.texts(CHAT)
    assert [t.splitlines()[0] for t in texts] == ["📝 Order placed", "🔸 Order partly filled", "✅ Order filled"]
    assert "LIMIT 1500.00" in texts[0] and "Filled 4/10 at avg 1499.50" in texts[1]
    assert texts[2].endswith("Order X1 · LIVE (fakelive)")


def test_paused_user_or_switched_off_kind_gets_no_alert(linked, user, bot):
    message = {"orderid": "P1", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1,
               "order_status": "complete", "filled_quantity": 1, "average_price": 800.0, "mode": "live",
               "broker": "sandbox"}
    say("/pause")
    assert consumer.AlertConsumer(tasks.send_order_alert.delay).handle(user.pk, message) is False
    tasks.send_order_alert.delay(user.pk, message)
    assert bot.texts(CHAT) == [last_reply(bot)] and "paused" in last_reply(bot)
    TelegramLink.objects.filter(pk=linked.pk).update(paused=False, alert_fills=False)
    tasks.send_order_alert.delay(user.pk, message)
    tasks.send_order_alert.delay(user.pk, {**message, "orderid": "P2", "order_status": "rejected"})
    assert last_reply(bot).startswith("❌ Order rejected")
    assert len(bot.texts(CHAT)) == 2


def test_no_alert_when_the_bot_is_stopped_or_for_another_users_order(linked, user, make_user, bot):
    message = {"orderid": "S1", "order_status": "complete", "filled_quantity": 1, "quantity": 1}
    other = make_user("other")
    tasks.send_order_alert.delay(other.pk, message)
    TelegramBot.objects.update(running=False)
    tasks.send_order_alert.delay(user.pk, message)
    assert bot.texts() == []


@pytest.mark.django_db(transaction=True)
def test_an_order_placed_through_the_api_reaches_telegram_over_the_process_bus(
        telegram_api, make_user, market, order_event_bus):
    """The whole path: the API places an order, the ledger publishes the order event on the
    bus after commit, the worker's consumer hears it and the alert task sends it."""
    import threading
    import time

    from accounts.services import create_api_key

    trader = make_user("trader")
    key = create_api_key(user=trader)
    TelegramBot.objects.update_or_create(pk=1, defaults={"running": True, "webhook_secret": SECRET})
    TelegramLink.objects.create(user=trader, telegram_user_id=CHAT, chat_id=CHAT)
    heard = threading.Event()
    started = consumer.start(lambda user_id, message: (tasks.send_order_alert.delay(user_id, message), heard.set()))
    assert started is not None and started.joined.wait(10)
    try:
        answer = Client().post("/api/v1/placeorder", data=json.dumps({"apikey": key, **BUY}),
                               content_type="application/json").json()
        assert answer["status"] == "success", answer
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(answer["orderid"] in t for t in telegram_api.texts(CHAT)):
            time.sleep(0.05)
        texts = telegram_api.texts(CHAT)
        assert [t.splitlines()[0] for t in texts if answer["orderid"] in t][-1] == "✅ Order filled"
        assert len(texts) == len(set(texts))
    finally:
        consumer.stop()


# --- 429 and retries ---------------------------------------------------------------------------------

def test_telegram_429_retry_after_is_honoured(linked, bot, monkeypatch):
    waits = []
    original = tasks.send_message.retry

    def spy(*args, **kwargs):
        waits.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(tasks.send_message, "retry", spy)
    bot.send_failures = [too_many_requests(7)]
    result = tasks.send_message.delay(CHAT, "hello")
    assert result.get() is True
    assert waits == [7.0]
    assert bot.methods().count("sendMessage") == 2
    assert bot.texts(CHAT) == ["hello"]


def test_a_user_who_blocked_the_bot_is_not_retried(linked, bot):
    bot.send_failures = [blocked()]
    result = tasks.send_message.delay(CHAT, "hello")
    with pytest.raises(tasks.NotSent, match="blocked"):
        result.get()
    assert bot.methods().count("sendMessage") == 1


# --- POST /api/v1/telegram/notify ------------------------------------------------------------------------

def notify(post_json, **body):
    response = post_json("/api/v1/telegram/notify", body)
    return response.status_code, response.json()


def test_notify_queues_a_message_for_the_linked_user(linked, api_key, post_json, bot):
    status, body = notify(post_json, apikey=api_key, username="trader", message="*NIFTY* crossed 26000",
                          priority=9)
    assert (status, body) == (200, {"status": "success", "message": "Notification queued for delivery"})
    assert bot.sent == [{"chat_id": CHAT, "text": "*NIFTY* crossed 26000", "parse_mode": "Markdown"}]


def test_notify_waiting_for_delivery(linked, api_key, post_json, bot):
    status, body = notify(post_json, apikey=api_key, username="trader", message="done", wait_for_delivery=True)
    assert (status, body) == (200, {"status": "success", "message": "Notification sent successfully"})
    bot.send_failures = [blocked()]
    status, body = notify(post_json, apikey=api_key, username="trader", message="again", wait_for_delivery="true")
    assert (status, body) == (500, {"status": "error", "message": "Failed to send notification"})


def test_notify_markdown_telegram_cannot_parse_goes_as_plain_text(linked, api_key, post_json, bot):
    notify(post_json, apikey=api_key, username="trader", message="odd *star")
    assert bot.sent == [{"chat_id": CHAT, "text": "odd *star", "parse_mode": None}]


def test_notify_error_answers(linked, api_key, post_json, client, bot, make_user, settings):
    from accounts.services import create_api_key

    def expect(status, text, **body):
        assert notify(post_json, **body) == (status, {"status": "error", "message": text})

    expect(401, "Invalid or missing API key", username="trader", message="hi")
    expect(401, "Invalid or missing API key", apikey="f" * 64, username="trader", message="hi")
    expect(400, "Username and message are required", apikey=api_key, message="hi")
    expect(400, "Username and message are required", apikey=api_key, username="trader", message="")
    expect(400, "Username and message are required", apikey=api_key, username="trader")
    expect(400, "Message must be at most 4096 characters", apikey=api_key, username="trader", message="x" * 4097)
    expect(404, "User not found or not linked to Telegram", apikey=api_key, username="nobody", message="hi")
    other = make_user("other")
    expect(404, "User not found or not linked to Telegram", apikey=create_api_key(user=other), username="trader",
           message="a key speaks for its own account")
    expect(404, "User not found or not linked to Telegram", apikey=create_api_key(user=other), username="other",
           message="not linked")
    TelegramBot.objects.update(running=False)
    expect(409, "Telegram bot is stopped. Start the bot to send notifications.", apikey=api_key, username="trader",
           message="hi")
    TelegramBot.objects.update(running=True)
    settings.TELEGRAM_BOT_TOKEN = ""
    expect(409, "Telegram bot is stopped. Start the bot to send notifications.", apikey=api_key, username="trader",
           message="hi")
    assert bot.sent == []
    # The key may come in the X-API-KEY header; priority out of range falls back to 5.
    settings.TELEGRAM_BOT_TOKEN = TOKEN
    response = post_json("/api/v1/telegram/notify/", {"username": "trader", "message": "hdr", "priority": 99},
                         HTTP_X_API_KEY=api_key)
    assert response.json() == {"status": "success", "message": "Notification queued for delivery"}
    assert client.get("/api/v1/telegram/notify").status_code == 405


def test_notify_rate_limit(linked, api_key, post_json, settings):
    settings.TELEGRAM_RATE_LIMIT = "2 per minute"
    assert notify(post_json, apikey=api_key, username="trader", message="1")[0] == 200
    assert notify(post_json, apikey=api_key, username="trader", message="2")[0] == 200
    status, body = notify(post_json, apikey=api_key, username="trader", message="3")
    assert status == 429 and body["status"] == "error"


@pytest.mark.django_db(transaction=True)
def test_the_official_sdk_sends_a_notification(live_server, telegram_api, make_user):
    from accounts.services import create_api_key
    from strategies.tests.sdk_api import sdk_call

    trader = make_user("trader")
    key = create_api_key(user=trader)
    TelegramBot.objects.update_or_create(pk=1, defaults={"running": True, "webhook_secret": SECRET})
    TelegramLink.objects.create(user=trader, telegram_user_id=CHAT, chat_id=CHAT)
    answer = sdk_call(live_server.url, key, "telegram", username="trader", message="From the SDK 🚀", priority=8)
    assert answer == {"status": "success", "message": "Notification queued for delivery"}
    assert telegram_api.texts(CHAT) == ["From the SDK 🚀"]
    answer = sdk_call(live_server.url, key, "telegram", username="nobody", message="x")
    assert answer["status"] == "error" and answer["code"] == 404
    assert "User not found or not linked to Telegram" in answer["message"]


# --- Updates: webhook and long polling ------------------------------------------------------------------

def test_webhook_needs_the_secret_and_answers_an_empty_200(linked, post_json, bot):
    update = user_update(5001, "/pause")
    assert post_json("/api/v1/telegram/webhook", update).status_code == 401
    assert post_json("/api/v1/telegram/webhook", update,
                     HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="wrong").status_code == 403
    assert not TelegramLink.objects.get(pk=linked.pk).paused
    response = post_json("/api/v1/telegram/webhook", update, HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=SECRET)
    assert (response.status_code, response.content) == (200, b"")
    assert TelegramLink.objects.get(pk=linked.pk).paused  # processed by the (eager) worker
    assert last_reply(bot).startswith("⏸")


def test_webhook_is_refused_while_no_bot_secret_exists(db, post_json, telegram_api):
    response = post_json("/api/v1/telegram/webhook", user_update(5002, "/start"),
                         HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN="anything")
    assert response.status_code == 403


def test_configure_sets_the_webhook_with_our_secret(bot, settings):
    settings.TELEGRAM_WEBHOOK_URL = "https://trade.example.com/api/v1/telegram/webhook"
    assert tasks.configure_bot() == "webhook"
    row = TelegramBot.objects.get(pk=1)
    assert row.bot_username == BOT_USERNAME
    assert bot.webhook["url"] == settings.TELEGRAM_WEBHOOK_URL
    assert bot.webhook["secret_token"] == SECRET


def test_long_polling_processes_updates_and_moves_the_offset(linked, bot):
    bot.updates = [user_update(9001, "/pause"), user_update(9002, "/resume")]
    assert tasks.poll_once() == 0.0
    assert TelegramBot.objects.get(pk=1).update_offset == 9003
    assert bot.texts(CHAT)[-2:] == ["⏸ Order alerts paused. Send /resume to get them again.",
                                    "▶️ Order alerts resumed."]
    tasks.poll_once()
    assert bot.calls[-1] == ("getUpdates", {"offset": 9003, "timeout": 20, "allowed_updates": ["message"]})
    assert len(bot.sent) == 2  # the same updates are not processed twice


def test_long_polling_waits_out_a_429_and_idles_while_stopped_or_on_a_webhook(linked, bot, settings):
    bot.updates = [user_update(9101, "/pause")]
    bot.poll_failures = [too_many_requests(11)]
    assert tasks.poll_once() == 11.0
    calls = len(bot.calls)
    settings.TELEGRAM_WEBHOOK_URL = "https://trade.example.com/api/v1/telegram/webhook"
    assert tasks.poll_once() == tasks.IDLE_SECONDS
    settings.TELEGRAM_WEBHOOK_URL = ""
    TelegramBot.objects.update(running=False)
    assert tasks.poll_once() == tasks.IDLE_SECONDS
    assert len(bot.calls) == calls and bot.sent == []


def test_configure_without_webhook_url_deletes_it_for_long_polling(bot):
    assert tasks.configure_bot() == "polling"
    assert bot.methods() == ["getMe", "deleteWebhook"]


# --- The page --------------------------------------------------------------------------------------------

@pytest.fixture
def admin(make_user):
    return make_user("boss", is_staff=True, is_superuser=True)


def test_without_a_token_the_page_says_telegram_is_off(db, user, client, settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    client.force_login(user)
    page = client.get("/telegram/")
    assert page.status_code == 200
    assert services.NOT_CONFIGURED in page.content.decode()
    assert 'data-testid="telegram-off"' in page.content.decode()


def test_admin_stores_the_token_encrypted_and_starts_the_bot(db, admin, client, settings, telegram_api):
    settings.TELEGRAM_BOT_TOKEN = ""
    client.force_login(admin)
    assert client.post("/telegram/token/", {"token": "not a token"}).status_code == 400
    assert client.post("/telegram/bot/", {"action": "start"}).status_code == 400  # no token yet
    response = client.post("/telegram/token/", {"token": TOKEN})
    assert response.status_code == 302
    row = TelegramBot.objects.get(pk=1)
    assert row.token_encrypted and TOKEN not in row.token_encrypted
    assert services.token() == TOKEN
    assert client.post("/telegram/bot/", {"action": "start"}).status_code == 302
    assert services.active()
    page = client.get("/telegram/").content.decode()
    assert "Running" in page and TOKEN not in page
    assert client.post("/telegram/bot/", {"action": "stop"}).status_code == 302
    assert not services.active()
    assert AuditEvent.objects.filter(action="telegram_bot").count() == 2


def test_only_an_admin_configures_the_bot(bot, user, client):
    client.force_login(user)
    assert client.post("/telegram/token/", {"token": TOKEN}).status_code == 403
    assert client.post("/telegram/bot/", {"action": "stop"}).status_code == 403
    assert TelegramBot.objects.get(pk=1).running


def test_preferences_and_unlink_touch_only_the_users_own_link(linked, user, make_user, client):
    other = make_user("other")
    theirs = TelegramLink.objects.create(user=other, telegram_user_id=42, chat_id=42)
    client.force_login(user)
    response = client.post("/telegram/preferences/", {"alert_fills": "on", "paused": "on"})
    assert response.status_code == 302
    mine = TelegramLink.objects.get(pk=linked.pk)
    assert (mine.paused, mine.alert_orders, mine.alert_fills, mine.alert_rejections) == (True, False, True, False)
    theirs.refresh_from_db()
    assert (theirs.paused, theirs.alert_orders) == (False, True)
    assert client.post("/telegram/unlink/").status_code == 302
    assert not TelegramLink.objects.filter(user=user).exists() and TelegramLink.objects.filter(user=other).exists()
    assert client.post("/telegram/preferences/", {"paused": "on"}).status_code == 400


def test_the_forms_need_csrf_and_a_signed_in_user(db, user):
    assert Client().get("/telegram/").status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/telegram/link-code/").status_code == 403
    assert strict.get("/telegram/link-code/").status_code == 405


def test_a_starting_worker_listens_to_order_events_and_long_polls(monkeypatch):
    started = []
    monkeypatch.setattr(consumer, "start", lambda enqueue: started.append(("alerts", enqueue)))
    monkeypatch.setattr(consumer, "start_poller", lambda poll: started.append(("poller", poll)))
    tasks.start_on_worker()
    assert [name for name, _ in started] == ["alerts", "poller"]
    assert started[1][1] is tasks.poll_once
