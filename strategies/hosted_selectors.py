"""Reads of hosted Python strategies, always within one trader's own."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from strategies.hosted import process
from strategies.hosted.schedule import Schedule
from strategies.models import HostedStrategy


def strategies_of(user) -> QuerySet[HostedStrategy]:
    return HostedStrategy.objects.filter(user=user).prefetch_related("files")


def strategy_of(user, strategy_id: int) -> HostedStrategy:
    """The trader's own strategy, or 404 (another trader's id looks like no strategy)."""
    return get_object_or_404(HostedStrategy, user=user, pk=strategy_id)


def schedule_text(strategy: HostedStrategy) -> str:
    return Schedule(always_on=strategy.always_on, days=frozenset(strategy.weekdays), start=strategy.window_start,
                    end=strategy.window_end).describe()


def log_lines(strategy: HostedStrategy, max_lines: int = 200) -> list[str]:
    return process.tail(process.folders_for(strategy.pk), max_lines=max_lines)
