"""The local candle store: history fetched from a broker (or the simulator) is kept, so
``/history`` with ``source: db`` answers without the broker (spec §7.4)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class StoredCandle(models.Model):
    exchange = models.CharField(max_length=16)
    symbol = models.CharField(max_length=64)
    interval = models.CharField(max_length=4)
    timestamp = models.BigIntegerField(help_text="Epoch seconds, as /history returns it")
    open = models.DecimalField(max_digits=20, decimal_places=4)
    high = models.DecimalField(max_digits=20, decimal_places=4)
    low = models.DecimalField(max_digits=20, decimal_places=4)
    close = models.DecimalField(max_digits=20, decimal_places=4)
    volume = models.BigIntegerField(default=0)
    oi = models.BigIntegerField(default=0)
    source = models.SlugField(max_length=32, help_text="The broker it came from")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["exchange", "symbol", "interval", "timestamp"], name="one_candle"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.symbol} {self.interval} @ {self.timestamp}"


class ChartPreference(models.Model):
    """One chart-UI setting of a trader (interval, chart type, drawings...), any JSON value,
    shared by the API's /chart and the quote page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chart_preferences")
    key = models.CharField(max_length=50)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_chart_preference_per_key")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"
