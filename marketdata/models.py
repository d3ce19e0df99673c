"""The local candle store: history fetched from a broker (or the simulator) is kept, so
``/history`` with ``source: db`` answers without the broker (spec §7.4)."""

from __future__ import annotations

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
