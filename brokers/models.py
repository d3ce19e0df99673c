"""The master contract: one row per instrument per exchange per broker (spec §4.2)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from brokers.enums import Exchange


class Instrument(models.Model):
    """A tradable or quotable instrument as one broker lists it. ``symbol`` is the OpenAlgo
    symbol (§4.1); ``brsymbol``/``brexchange``/``token`` are the broker's own names."""

    broker = models.SlugField(max_length=32, help_text="Whose master contract this row is from")
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16, choices=[(e.value, e.value) for e in Exchange])
    brsymbol = models.CharField(max_length=96)
    brexchange = models.CharField(max_length=32)
    token = models.CharField(max_length=64)
    name = models.CharField(max_length=96, help_text="Underlying / company name (<BASE> of derivatives)")
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    option_type = models.CharField(max_length=2, blank=True, help_text="CE, PE or empty")
    lotsize = models.PositiveIntegerField(default=1)
    tick_size = models.DecimalField(max_digits=12, decimal_places=4, default="0.05")
    instrumenttype = models.CharField(max_length=16, blank=True)
    freeze_qty = models.PositiveIntegerField(default=1)
    underlying_exchange = models.CharField(max_length=16, blank=True, help_text="Where the <BASE> is quoted")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broker", "exchange", "symbol"], name="one_instrument_per_symbol"),
        ]
        indexes = [
            # Option chains and expiry lists: every contract of an underlying by expiry.
            models.Index(fields=["broker", "exchange", "name", "expiry"], name="instrument_chain"),
            models.Index(fields=["broker", "symbol"], name="instrument_symbol"),
            models.Index(fields=["broker", "exchange", "token"], name="instrument_token"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol}"

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.symbol}"


class ContractLoad(models.Model):
    """One download of a broker's master contract: its progress for the dashboard, and the
    rows it staged until it swaps them in (brokers/contracts.py)."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        LIVE = "live", "Live"
        FAILED = "failed", "Failed"

    broker = models.SlugField(max_length=32)
    state = models.CharField(max_length=8, choices=State.choices, default=State.RUNNING)
    rows = models.PositiveIntegerField(default=0, help_text="Rows staged so far")
    skipped = models.PositiveIntegerField(default=0, help_text="Rows that could not be read, or repeated a symbol")
    percent = models.PositiveSmallIntegerField(default=0)
    samples = models.JSONField(default=list, blank=True, help_text="A few skipped rows and why")
    message = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["broker"], condition=Q(state="running"),
                                    name="one_running_load_per_broker"),
        ]
        indexes = [models.Index(fields=["broker", "-started_at"], name="contract_load_recent")]

    def __str__(self) -> str:
        return f"{self.broker} master contract {self.state} ({self.rows} rows, {self.percent}%)"


class StagedInstrument(models.Model):
    """An instrument row of a load in progress; copied into Instrument when the load completes."""

    load = models.ForeignKey(ContractLoad, on_delete=models.CASCADE, related_name="staged")
    symbol = models.CharField(max_length=64)
    exchange = models.CharField(max_length=16)
    brsymbol = models.CharField(max_length=96)
    brexchange = models.CharField(max_length=32)
    token = models.CharField(max_length=64)
    name = models.CharField(max_length=96)
    expiry = models.DateField(null=True, blank=True)
    strike = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    option_type = models.CharField(max_length=2, blank=True)
    lotsize = models.PositiveIntegerField(default=1)
    tick_size = models.DecimalField(max_digits=12, decimal_places=4, default="0.05")
    instrumenttype = models.CharField(max_length=16, blank=True)
    freeze_qty = models.PositiveIntegerField(default=1)
    underlying_exchange = models.CharField(max_length=16, blank=True)

    def __str__(self) -> str:
        return f"staged {self.exchange}:{self.symbol}"
