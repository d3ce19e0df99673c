"""Celery tasks of the Telegram bot: every call to Telegram runs here, never in a request.

- send_message: one message, retried on network errors with backoff and after Telegram's
  own retry_after on a 429 (flood control);
- send_order_alert: an order event of a linked user, claimed once per (orderid,
  order_status, filled_quantity) across every worker, then sent;
- process_update: one update from Telegram (webhook or long polling): a command's reply;
- configure_bot: getMe, then setWebhook (TELEGRAM_WEBHOOK_URL) or long polling;
- poll_once: long polling, one getUpdates at a time (a cache lock), run in a loop by a
  thread of the worker's main process while the bot runs without a webhook.

The order events reach send_order_alert through the consumer the worker starts
(strategies/telegram/consumer.py)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import caches
from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from strategies.telegram import bot, commands, consumer, services

log = logging.getLogger(__name__)

MAX_RETRIES = 5
POLL_SECONDS = 20  # getUpdates' long-poll timeout
POLL_LOCK = "telegram:poll"
IDLE_SECONDS = 5.0  # between checks while the bot is stopped, on a webhook, or after an error


class NotSent(Exception):
    """The message could not be delivered (a permanent error, or retries exhausted)."""


@shared_task(name="telegram.send_message", bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_message(self: Any, chat_id: int, text: str, markdown: bool = False) -> bool:
    """Send ``text`` to ``chat_id``. Returns True once Telegram accepted it; raises NotSent
    when it never will (blocked by the user, bad chat, no token, retries spent)."""
    token = services.token()
    if not token:
        raise NotSent(services.NOT_CONFIGURED)
    parse_mode = ParseMode.MARKDOWN if markdown else None
    try:
        try:
            bot.call(token, lambda b: b.send_message(chat_id=chat_id, text=text[:services.MAX_MESSAGE],
                                                     parse_mode=parse_mode))
        except BadRequest as exc:
            if not markdown or "parse" not in str(exc).lower():
                raise
            # Markdown Telegram cannot parse: the words still matter more than the styling.
            bot.call(token, lambda b: b.send_message(chat_id=chat_id, text=text[:services.MAX_MESSAGE]))
    except RetryAfter as exc:
        wait = bot.retry_seconds(exc)
        log.warning("Telegram flood control: retrying chat %s in %.0f s", chat_id, wait)
        if self.request.retries >= self.max_retries:
            raise NotSent(f"Flood control: retry after {wait:.0f} s") from exc
        raise self.retry(countdown=wait, exc=exc) from exc
    except (Forbidden, BadRequest, InvalidToken) as exc:
        log.warning("Telegram refused a message to chat %s: %s", chat_id, exc)
        raise NotSent(str(exc)) from exc
    except (NetworkError, TelegramError) as exc:
        if self.request.retries >= self.max_retries:
            raise NotSent(str(exc)) from exc
        raise self.retry(countdown=min(60, 2 ** self.request.retries), exc=exc) from exc
    return True


@shared_task(name="telegram.send_order_alert", acks_late=True, ignore_result=True)
def send_order_alert(user_id: int, message: dict) -> bool:
    """One order event of ``user_id``: an alert unless the user is not linked, paused or
    does not want this kind, or it was already sent (a duplicate event)."""
    link = services.alert_target(user_id, message)
    if link is None or not services.claim_alert(user_id, message):
        return False
    send_message.apply_async((link.chat_id, services.alert_text(message)), ignore_result=True)
    return True


@shared_task(name="telegram.process_update", acks_late=True, ignore_result=True)
def process_update(data: dict) -> str | None:
    """A Telegram update: the reply to its command, sent through send_message. A stopped
    bot answers nothing."""
    if not services.active():
        return None
    update = Update.de_json(data, None)
    message = update.effective_message
    sender = update.effective_user
    if message is None or sender is None or not message.text:
        return None
    reply = commands.answer(text=message.text, telegram_user_id=sender.id, chat_id=message.chat_id,
                            telegram_username=sender.username or "")
    if reply:
        send_message.apply_async((message.chat_id, reply), ignore_result=True)
    return reply


@shared_task(name="telegram.purge_alerts", ignore_result=True)
def purge_alerts() -> int:
    """Beat, daily: sent-alert records past their use (services.purge_alerts)."""
    return services.purge_alerts()


@shared_task(name="telegram.configure_bot", ignore_result=True)
def configure_bot() -> str:
    """Who the bot is (getMe), and how updates come: setWebhook with our secret when
    TELEGRAM_WEBHOOK_URL is set, else long polling (deleteWebhook, then poll_updates)."""
    token = services.token()
    if not token:
        return "off"
    try:
        me = bot.call(token, lambda b: b.get_me())
        services.record_bot_identity(username=me.username or "", bot_id=me.id)
        if not services.bot_row().running:
            return "stopped"
        if services.uses_webhook():
            url, secret = settings.TELEGRAM_WEBHOOK_URL, services.webhook_secret()
            bot.call(token, lambda b: b.set_webhook(url=url, secret_token=secret,
                                                    allowed_updates=["message", "edited_message"]))
            return "webhook"
        bot.call(token, lambda b: b.delete_webhook())
    except TelegramError as exc:
        log.warning("Telegram bot configuration failed: %s", exc)
        services.record_error(str(exc))
        return "error"
    return "polling"  # the worker's poller thread picks it up


def poll_once() -> float:
    """Long polling, one round: getUpdates (waiting up to POLL_SECONDS for one), each update
    handed to process_update, the offset saved. One poller at a time (a cache lock):
    Telegram refuses two. Returns how long to wait before the next round."""
    row = services.bot_row()
    token = services.token(row)
    if not token or not row.running or services.uses_webhook():
        return IDLE_SECONDS
    cache = caches["counters"]  # every worker process of the host sees the one flag
    if not cache.add(POLL_LOCK, 1, timeout=POLL_SECONDS + 30):
        return IDLE_SECONDS
    try:
        offset = row.update_offset or None
        updates = bot.call(token, lambda b: b.get_updates(offset=offset, timeout=POLL_SECONDS,
                                                          allowed_updates=["message"]),
                           read_seconds=POLL_SECONDS + 10)
    except RetryAfter as exc:
        return bot.retry_seconds(exc)
    except TelegramError as exc:
        log.warning("Telegram getUpdates failed: %s", exc)
        services.record_error(str(exc))
        return IDLE_SECONDS
    finally:
        cache.delete(POLL_LOCK)
    for update in updates:
        process_update.delay(update.to_dict())
        row.update_offset = update.update_id + 1
    if updates:
        services.save_offset(row.update_offset)
    return 0.0


@worker_ready.connect
def start_on_worker(**_: object) -> None:
    """A worker that starts listens to the order events (the alerts) and long-polls Telegram
    while the bot runs without a webhook: two threads of its main process, so neither holds
    a pool slot that strategies' tasks need."""
    try:
        consumer.start(lambda user_id, message: send_order_alert.delay(user_id, message))
        consumer.start_poller(poll_once)
    except Exception:
        log.exception("Telegram could not start in this worker")
