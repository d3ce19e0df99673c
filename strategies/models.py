"""Webhook strategies: who owns one, how its alerts become orders, and the log of every
alert it received (accepted alerts are rows before the sender gets its 200). Then hosted Python
strategies: a trader's script and its files, and the state of its process."""

from __future__ import annotations

import uuid
from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone

from brokers.enums import Exchange, Product


class Strategy(models.Model):
    class Mode(models.TextChoices):
        AUTO = "auto", "Auto: orders are placed at once"
        SEMI_AUTO = "semi_auto", "Semi-auto: orders wait in the Action Center"

    class Direction(models.TextChoices):
        LONG = "LONG", "Long only"
        SHORT = "SHORT", "Short only"
        BOTH = "BOTH", "Long and short"

    class Kind(models.TextChoices):
        INTRADAY = "intraday", "Intraday"
        POSITIONAL = "positional", "Positional"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_strategies")
    name = models.CharField(max_length=100, help_text="Tag of every order it places")
    # The unguessable part of its URL: whoever knows it can trade through the strategy.
    webhook_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.AUTO)
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.LONG)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INTRADAY)
    # Trading window of an intraday strategy, IST: entries from start to end, exits until square-off.
    start_time = models.TimeField(default=time(9, 15))
    end_time = models.TimeField(default=time(15, 0))
    squareoff_time = models.TimeField(default=time(15, 15))
    enabled = models.BooleanField(default=True)
    secret = models.CharField(max_length=128, blank=True,
                              help_text="Optional: sent as X-Webhook-Secret, or the key of an HMAC-SHA256 "
                                        "of the body in X-Signature")
    # The IST day whose square-off has run (claimed with a conditional UPDATE, once a day).
    squared_off_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "strategies"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="one_strategy_name_per_owner")]

    def __str__(self) -> str:
        return self.name

    @property
    def intraday(self) -> bool:
        return self.kind == self.Kind.INTRADAY


class SymbolMapping(models.Model):
    """What an alert's symbol trades: exchange, quantity per entry and product."""

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="symbols")
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16, choices=[(e.value, e.value) for e in Exchange if e.is_tradable])
    quantity = models.DecimalField(max_digits=24, decimal_places=8)
    product = models.CharField(max_length=4, choices=[(p.value, p.value) for p in Product], default=Product.MIS)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["strategy", "symbol"], name="one_mapping_per_symbol")]
        ordering = ["symbol"]

    def __str__(self) -> str:
        return f"{self.symbol} → {self.exchange} {self.quantity} {self.product}"


class Alert(models.Model):
    """One alert as it arrived and what became of it. ``orders`` is the plan decided when
    it was accepted (the order requests, in the API's shape); the worker runs exactly that."""

    class State(models.TextChoices):
        RECEIVED = "received", "Received"  # accepted, waiting for a worker
        RUNNING = "running", "Running"  # a worker took it
        EXECUTED = "executed", "Executed"
        FAILED = "failed", "Failed"
        REFUSED = "refused", "Refused"  # answered 4xx: no order
        DUPLICATE = "duplicate", "Duplicate"  # a retry of an accepted alert: no second order

    class Source(models.TextChoices):
        STRATEGY = "strategy", "TradingView / SDK"
        CHARTINK = "chartink", "ChartInk"
        TEST = "test", "Test button"

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="alerts")
    source = models.CharField(max_length=10, choices=Source.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECEIVED)
    reason = models.TextField(blank=True, help_text="Why it was refused or failed")
    body = models.JSONField(default=dict, blank=True)
    body_hash = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=128, blank=True)
    orders = models.JSONField(default=list, blank=True)
    order_ids = models.JSONField(default=list, blank=True)
    results = models.JSONField(default=list, blank=True)
    duplicate_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["strategy", "-received_at"], name="alert_strategy_recent"),
            models.Index(fields=["strategy", "body_hash"], name="alert_strategy_body"),
            # Recovery looks for accepted alerts not finished yet: only those.
            models.Index(fields=["received_at"], condition=models.Q(state__in=["received", "running"]),
                         name="alert_unfinished"),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} of {self.strategy_id} ({self.state})"


# --- Hosted Python strategies ---


class HostedStrategy(models.Model):
    """A trader's Python script that the platform runs in its own process (strategies/hosted/).
    ``enabled`` is what the trader asked for; the schedule says when; the supervisor makes the
    process (``pid``, ``pid_start``: its start time in clock ticks since boot, against pid reuse)
    match, and ``status`` says what it found."""

    class Status(models.TextChoices):
        STOPPED = "stopped", "Stopped"
        WAITING = "waiting", "Waiting for its schedule"
        RUNNING = "running", "Running"
        BACKOFF = "backoff", "Crashed: restarting soon"
        FINISHED = "finished", "Finished"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hosted_strategies")
    name = models.CharField(max_length=80)
    entry_point = models.CharField(max_length=200, default="main.py")
    enabled = models.BooleanField(default=False)
    # Schedule in IST: 24/7, or on these weekdays (0 = Monday) from window_start to window_end
    # (an end at or before the start runs overnight into the next day).
    always_on = models.BooleanField(default=True)
    days = models.CharField(max_length=13, default="0,1,2,3,4")
    window_start = models.TimeField(default=time(9, 15))
    window_end = models.TimeField(default=time(15, 30))

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STOPPED)
    host = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    pid_start = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    restarts = models.PositiveIntegerField(default=0)  # consecutive crashes, for the backoff
    next_start_at = models.DateTimeField(null=True, blank=True)
    last_exit_kind = models.CharField(max_length=24, blank=True, default="")
    last_exit = models.CharField(max_length=255, blank=True, default="")
    notice = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="one_hosted_strategy_name_per_user")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @property
    def weekdays(self) -> set[int]:
        return {int(day) for day in self.days.split(",") if day.strip().isdigit()}


class HostedFile(models.Model):
    """One file of a hosted strategy's code; the database holds the code, the worker writes it
    to the strategy's folder before each start."""

    strategy = models.ForeignKey(HostedStrategy, on_delete=models.CASCADE, related_name="files")
    path = models.CharField(max_length=200)
    content = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["strategy", "path"], name="one_hosted_file_per_path")]
        ordering = ["path"]

    def __str__(self) -> str:
        return self.path


# --- Telegram ---

class TelegramBot(models.Model):
    """The platform's one Telegram bot (a single row, pk 1): its token when it is not set in
    the environment (TELEGRAM_BOT_TOKEN), whether it runs, and the secret Telegram sends
    back on every webhook update."""

    token_encrypted = models.TextField(blank=True, help_text="Fernet (accounts.crypto)")
    running = models.BooleanField(default=False)
    webhook_secret = models.CharField(max_length=64, blank=True)
    bot_username = models.CharField(max_length=64, blank=True)
    bot_id = models.BigIntegerField(null=True, blank=True)
    # What the last getMe / setWebhook said ("" when all is well).
    last_error = models.TextField(blank=True)
    # Long polling: the next getUpdates offset.
    update_offset = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"@{self.bot_username}" if self.bot_username else "Telegram bot"


class TelegramLink(models.Model):
    """A platform user's Telegram chat, linked by the bot's /link with a one-time code."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link")
    telegram_user_id = models.BigIntegerField(unique=True)
    chat_id = models.BigIntegerField()
    telegram_username = models.CharField(max_length=64, blank=True)
    paused = models.BooleanField(default=False, help_text="/pause: no order alerts until /resume")
    alert_orders = models.BooleanField(default=True, help_text="Orders placed, cancelled")
    alert_fills = models.BooleanField(default=True, help_text="Fills, partial and complete")
    alert_rejections = models.BooleanField(default=True, help_text="Rejected orders")
    linked_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user_id} ↔ {self.telegram_user_id}"


class TelegramLinkCode(models.Model):
    """A one-time code shown on the Telegram page; the bot's ``/link <code>`` spends it.
    Only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link code of {self.user_id}"


class TelegramAlert(models.Model):
    """Each order event sent as an alert, once: the consumers of the order event deduplicate
    on (orderid, order_status, filled_quantity), here across every worker."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    orderid = models.CharField(max_length=64)
    order_status = models.CharField(max_length=32)
    filled_quantity = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "orderid", "order_status", "filled_quantity"],
                                               name="one_telegram_alert_per_order_state")]

    def __str__(self) -> str:
        return f"{self.orderid} {self.order_status} {self.filled_quantity}"
