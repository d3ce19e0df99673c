"""The order ledger: every order the platform sends to any broker, written before the
broker call and completed after it, with its status history as event rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from brokers.enums import Action, PriceType, Product


class LedgerStatus(models.TextChoices):
    """Our side of an order's life. The broker-facing statuses use the contract's
    spelling; SUBMITTING and UNKNOWN exist only in the ledger."""

    SUBMITTING = "submitting", "Submitting"  # row written, broker not yet answered
    OPEN = "open", "Open"
    TRIGGER_PENDING = "trigger pending", "Trigger pending"
    COMPLETE = "complete", "Complete"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"  # never reached the broker (network error before sending)
    UNKNOWN = "unknown", "Unknown"  # the broker's answer was lost: reconcile against its book


TERMINAL = frozenset({LedgerStatus.COMPLETE, LedgerStatus.REJECTED, LedgerStatus.CANCELLED, LedgerStatus.FAILED})

# Allowed moves (django-oscar style): anything else is a bug and raises.
TRANSITIONS: dict[str, frozenset[str]] = {
    LedgerStatus.SUBMITTING: frozenset(
        {LedgerStatus.OPEN, LedgerStatus.TRIGGER_PENDING, LedgerStatus.COMPLETE, LedgerStatus.REJECTED,
         LedgerStatus.CANCELLED, LedgerStatus.FAILED, LedgerStatus.UNKNOWN}
    ),
    LedgerStatus.UNKNOWN: frozenset(
        {LedgerStatus.OPEN, LedgerStatus.TRIGGER_PENDING, LedgerStatus.COMPLETE, LedgerStatus.REJECTED,
         LedgerStatus.CANCELLED, LedgerStatus.FAILED}
    ),
    LedgerStatus.TRIGGER_PENDING: frozenset(
        {LedgerStatus.OPEN, LedgerStatus.COMPLETE, LedgerStatus.CANCELLED, LedgerStatus.REJECTED}
    ),
    LedgerStatus.OPEN: frozenset({LedgerStatus.COMPLETE, LedgerStatus.CANCELLED, LedgerStatus.REJECTED}),
    LedgerStatus.COMPLETE: frozenset(),
    LedgerStatus.REJECTED: frozenset(),
    LedgerStatus.CANCELLED: frozenset(),
    LedgerStatus.FAILED: frozenset(),
}


class IllegalTransition(Exception):
    pass


class Order(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    broker = models.SlugField(max_length=32)
    analyze = models.BooleanField(default=False, help_text="Sent to the paper engine in analyze mode")
    strategy = models.CharField(max_length=255, blank=True)
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    action = models.CharField(max_length=4, choices=[(a.value, a.value) for a in Action])
    quantity = models.DecimalField(max_digits=24, decimal_places=8)
    product = models.CharField(max_length=4, choices=[(p.value, p.value) for p in Product])
    pricetype = models.CharField(max_length=6, choices=[(p.value, p.value) for p in PriceType])
    price = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    trigger_price = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    disclosed_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=LedgerStatus.choices, default=LedgerStatus.SUBMITTING)
    broker_order_id = models.CharField(max_length=64, blank=True, db_index=True)
    filled_quantity = models.DecimalField(max_digits=24, decimal_places=8, default=0)
    average_price = models.DecimalField(max_digits=20, decimal_places=4, default=0)
    message = models.TextField(blank=True, help_text="Broker's rejection or our failure reason")
    source = models.CharField(max_length=32, default="api", help_text="api, webhook, strategy, squareoff, …")
    owner = models.CharField(max_length=80, blank=True,
                             help_text="host:pid:start of the process that sent it (orders/owners.py)")
    # The Idempotency-Key request that placed it, written with the row (orders/idempotency.py):
    # a request whose process died gets its answer rebuilt from these rows (orders/answers.py).
    idempotency = models.ForeignKey("IdempotencyRecord", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="orders")
    request_item = models.PositiveSmallIntegerField(
        default=0, help_text="Which order of its request: basket item or split part from 1, 0 for a single order")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "-created_at"], name="order_user_recent"),
            models.Index(fields=["user", "status"], name="order_user_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["broker", "broker_order_id"], condition=~models.Q(broker_order_id=""),
                name="one_ledger_row_per_broker_order",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.quantity} {self.exchange}:{self.symbol} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def move_to(self, status: str, *, detail: dict | None = None, source: str = "broker") -> OrderEvent:
        """Change status through the transition table and record the move. Caller saves
        the order in the same transaction."""
        if status != self.status and status not in TRANSITIONS[self.status]:
            raise IllegalTransition(f"order {self.pk}: {self.status} -> {status} is not allowed")
        event = OrderEvent(order=self, from_status=self.status, to_status=status, detail=detail or {}, source=source)
        self.status = status
        return event


class OrderEvent(models.Model):
    """Append-only history of an order: every status move, with what caused it."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16)
    source = models.CharField(max_length=32)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} -> {self.to_status}"


class PendingOrder(models.Model):
    """Action Center (spec §2.10): an order request of a semi-auto user waiting for the
    account holder's approval. The payload is the validated request without the API key."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        DELETED = "deleted", "Deleted"  # taken off the list unplaced; the row stays as the record

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_orders")
    endpoint = models.CharField(max_length=32, help_text="placeorder, placesmartorder, basketorder, …")
    strategy = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    analyze = models.BooleanField(default=False, help_text="Queued in analyze mode: never goes live on approval")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=150, blank=True, help_text="Who approved, rejected or deleted it")

    class Meta:
        indexes = [models.Index(fields=["user", "state", "-created_at"], name="pending_user_state")]

    def __str__(self) -> str:
        return f"{self.endpoint} #{self.pk} ({self.state})"


class AnalyzerLog(models.Model):
    """Requests answered in analyze mode (spec §10.2 ``total_logs``), key stripped."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="analyzer_logs")
    endpoint = models.CharField(max_length=32)
    request = models.JSONField(default=dict)
    response = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "-created_at"], name="analyzer_user_recent")]

    def __str__(self) -> str:
        return f"{self.endpoint} at {self.created_at:%Y-%m-%d %H:%M:%S}"



class IdempotencyRecord(models.Model):
    """The first answer to a request carrying an ``Idempotency-Key`` (or ``client_order_id``).
    The unique constraint, not a process lock, makes a retry across any web process get
    that answer instead of a second order."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    endpoint = models.CharField(max_length=32)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty while in progress")
    response = models.JSONField(null=True, blank=True)
    # Who answers it while in progress: host:pid:start (orders/owners.py), or "abandoned" when its
    # process gave up waiting for the broker; empty on records older than this field (never settled).
    owner = models.CharField(max_length=80, blank=True)
    request = models.JSONField(null=True, blank=True, help_text="The validated request, to rebuild its answer")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_answer_per_idempotency_key")]
        # Reconciliation looks for unanswered records every run: a small index, only those.
        indexes = [models.Index(fields=["created_at"], condition=models.Q(status_code__isnull=True),
                                name="idempotency_in_progress")]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.key}"


class RiskLimits(models.Model):
    """A user's pre-trade limits (orders/risk.py), edited on the Risk page. An empty limit
    is off. They apply to every order the user sends, to a live broker or the sandbox."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_limits")
    max_order_quantity = models.DecimalField(max_digits=24, decimal_places=8, null=True, blank=True,
                                             help_text="Largest quantity (units) in one order")
    max_order_value = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True,
                                          help_text="Largest value (₹, quantity times price or LTP) of one order")
    max_open_orders = models.PositiveIntegerField(null=True, blank=True,
                                                  help_text="Working orders (open or trigger pending) at once")
    max_position_value = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True,
                                             help_text="Largest position value (₹) in one symbol after the order")
    allowed_exchanges = models.JSONField(default=list, blank=True, help_text="Empty: every exchange")
    allowed_products = models.JSONField(default=list, blank=True, help_text="Empty: every product")
    price_band_percent = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True,
                                             help_text="Reject prices further than this % from LTP")
    max_orders_per_second = models.PositiveIntegerField(null=True, blank=True)
    daily_loss_limit = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True,
                                           help_text="Loss (₹, realised + unrealised) that trips the kill switch")
    square_off_on_kill = models.BooleanField(default=True, help_text="Kill switch also squares off positions")
    kill_switch_engaged = models.BooleanField(default=False)
    kill_switch_at = models.DateTimeField(null=True, blank=True)
    kill_switch_reason = models.TextField(blank=True)
    # A reset acknowledges the loss so far: the limit counts from there for the rest of the day.
    loss_baseline = models.DecimalField(max_digits=20, decimal_places=2, default=0)
    loss_baseline_date = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "risk limits"

    def __str__(self) -> str:
        return f"risk limits of {self.user_id}"


class Reconciliation(models.Model):
    """One comparison of our ledger and positions with a broker's books (orders/reconcile.py).
    ``differences`` lists what did not match; ``fixed`` what the run corrected in the ledger."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reconciliations")
    broker = models.SlugField(max_length=32)
    at = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=16, help_text="beat, startup, manual")
    checked_orders = models.PositiveIntegerField(default=0)
    fixed = models.JSONField(default=list, blank=True)
    differences = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-at"], name="recon_user_recent")]

    def __str__(self) -> str:
        return f"{self.broker} reconciliation of {self.user_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class OrderPoll(models.Model):
    """When one account's order book at a polled broker is next due to be read, and the
    lease on reading it (orders/order_updates.py). A process claims a due row with one
    conditional UPDATE that pushes ``due_at`` past the read, so however many processes
    poll, one reads; it then sets ``due_at`` to the next poll, or later after a failure."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="order_polls")
    broker = models.SlugField(max_length=32)
    due_at = models.DateTimeField(default=timezone.now)
    holder = models.CharField(max_length=80, blank=True, help_text="the process that claimed it last")
    failures = models.PositiveIntegerField(default=0, help_text="consecutive failed reads (backoff)")
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "broker"], name="one_order_poll_per_account")]

    def __str__(self) -> str:
        return f"{self.broker} order poll of {self.user_id}"


class PnlSample(models.Model):
    """The account's day P&L at one moment: the dashboard's intraday curve (orders/pnl.py).
    Written at most once a minute per account, kept a few days."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pnl_samples")
    at = models.DateTimeField(default=timezone.now)
    pnl = models.DecimalField(max_digits=20, decimal_places=4)

    class Meta:
        indexes = [models.Index(fields=["user", "at"], name="pnl_sample_user_at")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.at:%H:%M} {self.pnl}"
