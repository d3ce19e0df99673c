"""Strategies: webhook strategies and hosted Python strategies."""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models
from django.utils import timezone

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
