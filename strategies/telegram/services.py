"""Telegram's state: the bot (token, running), links between users and chats, alert
preferences, and which order events become alerts. Nothing here talks to Telegram: the
tasks do (strategies/telegram/tasks.py)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.crypto import SecretUnreadable, decrypt, encrypt
from accounts.models import User
from strategies.models import TelegramAlert, TelegramBot, TelegramLink, TelegramLinkCode

log = logging.getLogger(__name__)

MAX_MESSAGE = 4096
NOT_CONFIGURED = ("Telegram is off: no bot token is configured. Set TELEGRAM_BOT_TOKEN, or store a token "
                  "on the Telegram page.")
# Link codes: 8 characters of an alphabet without look-alikes (0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def bot_row() -> TelegramBot:
    """The bot's row, or an unsaved one with the defaults (reading never writes)."""
    return TelegramBot.objects.filter(pk=1).first() or TelegramBot(pk=1)


def _saved_bot_row() -> TelegramBot:
    row, _ = TelegramBot.objects.get_or_create(pk=1)
    return row


def token(row: TelegramBot | None = None) -> str:
    """The bot token: TELEGRAM_BOT_TOKEN, else the one stored from the page ("" = none)."""
    if settings.TELEGRAM_BOT_TOKEN:
        return settings.TELEGRAM_BOT_TOKEN
    row = row or bot_row()
    if not row.token_encrypted:
        return ""
    try:
        return decrypt(row.token_encrypted)
    except SecretUnreadable:
        log.error("The stored Telegram bot token cannot be decrypted with FERNET_KEYS")
        return ""


def token_source(row: TelegramBot) -> str:
    if settings.TELEGRAM_BOT_TOKEN:
        return "environment"
    return "stored" if row.token_encrypted else ""


def active() -> bool:
    """A token and the bot started: alerts and notifications go out."""
    row = bot_row()
    return row.running and bool(token(row))


def uses_webhook() -> bool:
    return bool(settings.TELEGRAM_WEBHOOK_URL)


@dataclass(frozen=True)
class Status:
    configured: bool
    running: bool
    source: str
    bot_username: str
    last_error: str
    webhook_url: str

    @property
    def mode(self) -> str:
        return "webhook" if self.webhook_url else "long polling"


def status() -> Status:
    row = bot_row()
    return Status(configured=bool(token(row)), running=row.running, source=token_source(row),
                  bot_username=row.bot_username, last_error=row.last_error,
                  webhook_url=settings.TELEGRAM_WEBHOOK_URL)


def looks_like_token(value: str) -> bool:
    """The Bot API's token shape: <bot id>:<secret>."""
    bot_id, _, rest = value.partition(":")
    return bot_id.isdigit() and len(rest) >= 20 and all(c.isalnum() or c in "-_" for c in rest)


def save_token(*, value: str, actor: str, ip: str = "") -> None:
    row = _saved_bot_row()
    row.token_encrypted = encrypt(value)
    row.bot_username, row.bot_id, row.last_error = "", None, ""
    row.webhook_secret = secrets.token_urlsafe(32)
    row.save()
    audit.record("telegram_token", actor=actor, subject="telegram", detail={"stored": True}, ip=ip)


def set_running(*, on: bool, actor: str, ip: str = "") -> TelegramBot:
    row = _saved_bot_row()
    row.running = on
    if on and not row.webhook_secret:
        row.webhook_secret = secrets.token_urlsafe(32)
    row.save(update_fields=["running", "webhook_secret", "updated_at"])
    audit.record("telegram_bot", actor=actor, subject="telegram", detail={"running": on}, ip=ip)
    return row


def record_bot_identity(*, username: str, bot_id: int | None, error: str = "") -> None:
    TelegramBot.objects.filter(pk=1).update(bot_username=username, bot_id=bot_id, last_error=error)


def record_error(error: str) -> None:
    TelegramBot.objects.filter(pk=1).update(last_error=error[:2000])


def save_offset(offset: int) -> None:
    TelegramBot.objects.filter(pk=1).update(update_offset=offset)


def webhook_secret() -> str:
    return bot_row().webhook_secret


# --- Links ---------------------------------------------------------------------------------------

def _digest(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def new_link_code(*, user: User) -> tuple[str, int]:
    """A fresh one-time code for ``user`` (an older one stops working); returns it and its
    validity in minutes."""
    TelegramLinkCode.objects.filter(user=user).delete()  # one code at a time; spent ones are not kept
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    minutes = settings.TELEGRAM_LINK_CODE_MINUTES
    TelegramLinkCode.objects.create(user=user, code_hash=_digest(code),
                                    expires_at=timezone.now() + timedelta(minutes=minutes))
    return code, minutes


def link(*, code: str, telegram_user_id: int, chat_id: int, telegram_username: str) -> User | None:
    """Spend ``code``: the Telegram user becomes the code owner's chat (replacing what either
    was linked to before). None when the code is unknown, used or expired."""
    with transaction.atomic():
        found = (TelegramLinkCode.objects.select_for_update().select_related("user")
                 .filter(code_hash=_digest(code), used_at__isnull=True, expires_at__gt=timezone.now()).first())
        if found is None:
            return None
        found.used_at = timezone.now()
        found.save(update_fields=["used_at"])
        user = found.user
        TelegramLink.objects.filter(telegram_user_id=telegram_user_id).exclude(user=user).delete()
        TelegramLink.objects.update_or_create(user=user, defaults={
            "telegram_user_id": telegram_user_id, "chat_id": chat_id,
            "telegram_username": telegram_username[:64], "linked_at": timezone.now()})
        audit.record("telegram_link", actor=user.username, subject=user.username,
                     detail={"telegram_user_id": telegram_user_id, "telegram_username": telegram_username})
    return user


def unlink(*, user: User, actor: str = "", ip: str = "") -> bool:
    deleted, _ = TelegramLink.objects.filter(user=user).delete()
    if deleted:
        audit.record("telegram_unlink", actor=actor or user.username, subject=user.username, ip=ip)
    return bool(deleted)


def link_of(user: User) -> TelegramLink | None:
    return TelegramLink.objects.filter(user=user).first()


def link_by_telegram_user(telegram_user_id: int) -> TelegramLink | None:
    return TelegramLink.objects.select_related("user").filter(telegram_user_id=telegram_user_id).first()


def link_by_username(username: str) -> TelegramLink | None:
    return TelegramLink.objects.select_related("user").filter(user__username=username, user__is_active=True).first()


def set_paused(*, link: TelegramLink, paused: bool) -> None:
    link.paused = paused
    link.save(update_fields=["paused"])


def set_preferences(*, user: User, paused: bool, orders: bool, fills: bool, rejections: bool) -> bool:
    return bool(TelegramLink.objects.filter(user=user).update(
        paused=paused, alert_orders=orders, alert_fills=fills, alert_rejections=rejections))


# --- Order alerts ----------------------------------------------------------------------------------

def alert_kind(message: dict) -> str | None:
    """Which preference an order update falls under: "orders", "fills", "rejections", or
    None for states nobody is told about (submitting)."""
    status = str(message.get("order_status") or "")
    filled = _number(message.get("filled_quantity"))
    if status == "rejected":
        return "rejections"
    if status == "complete" or (status == "open" and filled > 0):
        return "fills"
    if status in ("open", "trigger pending", "cancelled", "unknown"):
        return "orders"
    return None


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _qty(value: object) -> str:
    number = _number(value)
    return str(int(number)) if number == int(number) else f"{number:g}"


def alert_text(message: dict) -> str:
    """The alert for one order update (plain text: no Markdown to break on a symbol)."""
    status = str(message.get("order_status") or "")
    kind = alert_kind(message)
    action, symbol, exchange = message.get("action", ""), message.get("symbol", ""), message.get("exchange", "")
    quantity, filled = _qty(message.get("quantity")), _qty(message.get("filled_quantity"))
    if status == "rejected":
        title = "❌ Order rejected"
    elif status == "complete":
        title = "✅ Order filled"
    elif kind == "fills":
        title = "🔸 Order partly filled"
    elif status == "cancelled":
        title = "🚫 Order cancelled"
    elif status == "unknown":
        title = "⚠️ Order state unknown"
    else:
        title = "📝 Order placed"
    lines = [title, f"{action} {quantity} {symbol} ({exchange}) {message.get('product', '')}".rstrip()]
    if kind == "fills":
        lines.append(f"Filled {filled}/{quantity} at avg {_number(message.get('average_price')):.2f}")
    elif status in ("open", "trigger pending"):
        price = _number(message.get("price"))
        lines.append(f"{message.get('pricetype', '')} {price:.2f}" if price else str(message.get("pricetype", "")))
    if status == "rejected" and message.get("rejection_reason"):
        lines.append(f"Reason: {message['rejection_reason']}")
    mode = "PAPER (analyze)" if message.get("mode") == "analyze" else f"LIVE ({message.get('broker', '')})"
    lines.append(f"Order {message.get('orderid', '')} · {mode}")
    return "\n".join(lines)


def alert_target(user_id: int, message: dict) -> TelegramLink | None:
    """The chat an order update of ``user_id`` goes to, or None: not linked, paused, the
    kind is switched off, or the bot is off."""
    kind = alert_kind(message)
    if kind is None:
        return None
    link = TelegramLink.objects.filter(user_id=user_id, user__is_active=True).first()
    if link is None or link.paused or not getattr(link, f"alert_{kind}"):
        return None
    return link if active() else None


def claim_alert(user_id: int, message: dict) -> bool:
    """True the first time this (orderid, order_status, filled_quantity) of the user is
    seen, by any worker; False for a duplicate."""
    try:
        with transaction.atomic():
            TelegramAlert.objects.create(user_id=user_id, orderid=str(message.get("orderid") or ""),
                                         order_status=str(message.get("order_status") or ""),
                                         filled_quantity=_qty(message.get("filled_quantity")))
    except IntegrityError:
        return False
    return True


def purge_alerts(older_than_days: int | None = None) -> int:
    """Forget sent alerts older than TELEGRAM_ALERT_KEEP_DAYS (an order event is redelivered
    within minutes, never days later), and link codes past their validity; returns the
    number of alert rows deleted."""
    days = settings.TELEGRAM_ALERT_KEEP_DAYS if older_than_days is None else older_than_days
    now = timezone.now()
    deleted, _ = TelegramAlert.objects.filter(created_at__lt=now - timedelta(days=days)).delete()
    TelegramLinkCode.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    return deleted

