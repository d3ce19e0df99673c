"""The Bot API through python-telegram-bot, for synchronous callers (Celery tasks): each
call runs on a loop of its own with its own HTTP client, closed afterwards, so nothing
outlives the task. The Bot API's base address is TELEGRAM_API_URL (tests: a respx fake)."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from telegram import Bot
from telegram.error import RetryAfter
from telegram.request import HTTPXRequest

T = TypeVar("T")

CONNECT_SECONDS = 5.0
READ_SECONDS = 15.0


def retry_seconds(error: RetryAfter) -> float:
    """Telegram's retry_after (an int, or a timedelta in newer PTB modes)."""
    with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta: both are read
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def call(token: str, action: Callable[[Bot], Awaitable[T]], *, read_seconds: float = READ_SECONDS) -> T:
    """Run ``action(bot)`` and return its result; Telegram's errors (telegram.error.*) propagate."""

    async def run() -> T:
        request = HTTPXRequest(connect_timeout=CONNECT_SECONDS, read_timeout=read_seconds)
        updates_request = HTTPXRequest(connect_timeout=CONNECT_SECONDS, read_timeout=read_seconds)
        bot = Bot(token, base_url=f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot", request=request,
                  get_updates_request=updates_request)
        try:
            return await action(bot)
        finally:
            await request.shutdown()
            await updates_request.shutdown()

    return asyncio.run(run())
