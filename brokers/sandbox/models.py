"""The paper exchange's state, per user, in the database: a restart loses nothing and
resting orders keep working after it. Money and quantities are Decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, TypeAlias, TypedDict

from django.conf import settings
from django.db import models
from django.utils import timezone

from brokers.enums import Action, OrderStatus, PriceType, Product

if TYPE_CHECKING:
    from django.contrib.auth.models import _User

    # The trader whose books these are: django-stubs expands ``_User`` to settings.AUTH_USER_MODEL,
    # so the sandbox names it without importing accounts (which sits above brokers).
    User: TypeAlias = _User

STARTING_CAPITAL = Decimal("10000000")  # ₹1,00,00,000 (spec §2.9)


class _DecimalOptions(TypedDict):
    """The keyword arguments of a money or quantity ``DecimalField``, typed for django-stubs."""

    max_digits: int
    decimal_places: int
    default: Decimal


_money: _DecimalOptions = {"max_digits": 20, "decimal_places": 4, "default": Decimal(0)}
_qty: _DecimalOptions = {"max_digits": 24, "decimal_places": 8, "default": Decimal(0)}


class Account(models.Model):
    """Funds of one user's paper account. ``cash + used_margin + cost of holdings`` always
    equals ``starting_capital + realized_pnl`` (the accounting invariant the tests check)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_account")
    starting_capital = models.DecimalField(max_digits=20, decimal_places=4, default=STARTING_CAPITAL)
    cash = models.DecimalField(max_digits=20, decimal_places=4, default=STARTING_CAPITAL)
    used_margin = models.DecimalField(**_money)
    realized_pnl = models.DecimalField(**_money)
    today_realized_pnl = models.DecimalField(**_money)
    session_date = models.DateField(help_text="The trading session (IST) the account was last rolled to")
    last_reset = models.DateTimeField(default=timezone.now)
    reset_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"sandbox account of {self.user}"


class SandboxOrder(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_orders")
    orderid = models.CharField(max_length=14, unique=True)
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    action = models.CharField(max_length=4, choices=[(a.value, a.value) for a in Action])
    quantity = models.DecimalField(**_qty)
    pricetype = models.CharField(max_length=6, choices=[(p.value, p.value) for p in PriceType])
    product = models.CharField(max_length=4, choices=[(p.value, p.value) for p in Product])
    price = models.DecimalField(**_money)
    trigger_price = models.DecimalField(**_money)
    disclosed_quantity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=[(s.value, s.value) for s in OrderStatus])
    filled_quantity = models.DecimalField(**_qty)
    average_price = models.DecimalField(**_money)
    rejection_reason = models.TextField(blank=True)
    strategy = models.CharField(max_length=255, blank=True)
    tag = models.CharField(max_length=20, blank=True, help_text="The client's order tag (our ledger reference)")
    blocked_margin = models.DecimalField(**_money)
    session_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["user", "session_date", "-created_at"], name="sbx_order_book"),
            models.Index(fields=["status", "exchange", "symbol"], name="sbx_order_resting"),
        ]

    def __str__(self) -> str:
        return f"{self.orderid} {self.action} {self.quantity} {self.exchange}:{self.symbol} {self.status}"

    @property
    def is_resting(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.TRIGGER_PENDING)


class SandboxTrade(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_trades")
    order = models.ForeignKey(SandboxOrder, on_delete=models.CASCADE, related_name="trades")
    tradeid = models.CharField(max_length=20, unique=True)
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    action = models.CharField(max_length=4)
    product = models.CharField(max_length=4)
    quantity = models.DecimalField(**_qty)
    price = models.DecimalField(**_money)
    strategy = models.CharField(max_length=255, blank=True)
    session_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    # What this fill realised (closing part of a position or selling holdings): the per-symbol
    # and per-day paper P&L are sums of it (brokers/sandbox/pnl.py).
    realized_pnl = models.DecimalField(**_money)

    class Meta:
        indexes = [models.Index(fields=["user", "session_date", "-created_at"], name="sbx_trade_book")]

    def __str__(self) -> str:
        return f"{self.tradeid} {self.action} {self.quantity} {self.exchange}:{self.symbol} @ {self.price}"


class SandboxPosition(models.Model):
    """Net position per (symbol, exchange, product). ``margin`` is what it holds blocked;
    ``today_realized_pnl`` resets when the session rolls."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_positions")
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    product = models.CharField(max_length=4)
    quantity = models.DecimalField(**_qty)
    average_price = models.DecimalField(**_money)
    margin = models.DecimalField(**_money)
    today_realized_pnl = models.DecimalField(**_money)
    lot_size = models.PositiveIntegerField(default=1)
    session_date = models.DateField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "symbol", "exchange", "product"], name="sbx_one_position"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.exchange}:{self.symbol} {self.product}"


class SandboxHolding(models.Model):
    """Delivery holdings: CNC buys settle here T+1."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_holdings")
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    quantity = models.DecimalField(**_qty)
    average_price = models.DecimalField(**_money)
    settlement_date = models.DateField()
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "symbol", "exchange"], name="sbx_one_holding"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.exchange}:{self.symbol} (settles {self.settlement_date})"


class SandboxGtt(models.Model):
    """A good-till-triggered order of the paper exchange (brokers/sandbox/gtt.py). It lives
    here, not in memory, so a trigger survives a restart of the process that fires it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_gtts")
    trigger_id = models.CharField(max_length=14, unique=True)
    trigger_type = models.CharField(max_length=6, choices=[("SINGLE", "SINGLE"), ("OCO", "OCO")])
    status = models.CharField(max_length=10, default="active")
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    action = models.CharField(max_length=4, choices=[(a.value, a.value) for a in Action])
    product = models.CharField(max_length=4, choices=[(p.value, p.value) for p in Product])
    quantity = models.DecimalField(**_qty)
    pricetype = models.CharField(max_length=6, choices=[(p.value, p.value) for p in PriceType])
    price = models.DecimalField(**_money)
    triggerprice_sl = models.DecimalField(**_money)
    triggerprice_tg = models.DecimalField(**_money)
    stoploss = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    target = models.DecimalField(max_digits=20, decimal_places=4, null=True, blank=True)
    last_price = models.DecimalField(**_money)
    strategy = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(null=True, blank=True)
    # What firing did: the leg it placed ("sl" or "tg"), that order's id, or the refusal.
    fired_leg = models.CharField(max_length=2, blank=True)
    orderid = models.CharField(max_length=14, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "exchange", "symbol"], name="sbx_gtt_active"),
            models.Index(fields=["user", "status", "created_at"], name="sbx_gtt_book"),
        ]

    def __str__(self) -> str:
        return f"GTT {self.trigger_id} {self.trigger_type} {self.exchange}:{self.symbol} {self.status}"


class SandboxSettings(models.Model):
    """One trader's paper-trading settings: margin leverage per kind of product and the MIS
    square-off time per exchange group. No row means the installation's defaults
    (``SANDBOX_LEVERAGE``, spec §2.9 times); brokers/sandbox/config.py reads them."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sandbox_settings")
    leverage_equity_mis = models.DecimalField(max_digits=6, decimal_places=2)
    leverage_equity_cnc = models.DecimalField(max_digits=6, decimal_places=2)
    leverage_futures = models.DecimalField(max_digits=6, decimal_places=2)
    leverage_options = models.DecimalField(max_digits=6, decimal_places=2)
    square_off_equity = models.TimeField(help_text="NSE, BSE, NFO, BFO")
    square_off_currency = models.TimeField(help_text="CDS, BCD")
    square_off_commodity = models.TimeField(help_text="MCX, NCO")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"sandbox settings of {self.user}"
