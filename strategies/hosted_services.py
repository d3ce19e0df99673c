"""Writes of hosted Python strategies: create, change code and schedule, start, stop, delete.
The process itself is never touched here (the web process starts nothing): a start or stop
sets what the trader wants and asks a worker to reconcile it at once, after the commit."""

from __future__ import annotations

from datetime import time

from django.db import transaction

from accounts import audit
from accounts.services import revoke_scoped_api_key
from strategies import tasks_hosted
from strategies.models import HostedFile, HostedStrategy


def _reconcile_after_commit(strategy_id: int) -> None:
    transaction.on_commit(lambda: tasks_hosted.hosted_reconcile.delay(strategy_id))


def create_strategy(*, user, name: str, files: dict[str, str], entry_point: str) -> HostedStrategy:
    with transaction.atomic():
        strategy = HostedStrategy.objects.create(user=user, name=name, entry_point=entry_point)
        HostedFile.objects.bulk_create(HostedFile(strategy=strategy, path=path, content=content)
                                       for path, content in files.items())
    audit.record("hosted_strategy_created", actor=user.username, subject=name,
                 detail={"id": strategy.pk, "files": sorted(files), "entry_point": entry_point})
    return strategy


def replace_code(*, strategy: HostedStrategy, files: dict[str, str], entry_point: str) -> None:
    """New code (an upload replaces every file); a running strategy gets it at its next start."""
    with transaction.atomic():
        strategy.files.all().delete()
        HostedFile.objects.bulk_create(HostedFile(strategy=strategy, path=path, content=content)
                                       for path, content in files.items())
        strategy.entry_point = entry_point
        strategy.save(update_fields=["entry_point", "updated_at"])
    audit.record("hosted_strategy_code_changed", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk, "files": sorted(files), "entry_point": entry_point})


def save_file(*, strategy: HostedStrategy, path: str, content: str, entry: bool) -> None:
    with transaction.atomic():
        HostedFile.objects.update_or_create(strategy=strategy, path=path, defaults={"content": content})
        if entry:
            strategy.entry_point = path
            strategy.save(update_fields=["entry_point", "updated_at"])
    audit.record("hosted_strategy_code_changed", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk, "file": path, "entry_point": strategy.entry_point})


def set_schedule(*, strategy: HostedStrategy, always_on: bool, days: list[int], window_start: time,
                 window_end: time) -> None:
    strategy.always_on = always_on
    strategy.days = ",".join(str(day) for day in sorted(set(days)))
    strategy.window_start, strategy.window_end = window_start, window_end
    with transaction.atomic():
        strategy.save(update_fields=["always_on", "days", "window_start", "window_end", "updated_at"])
        _reconcile_after_commit(strategy.pk)
    audit.record("hosted_strategy_schedule_changed", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk, "always_on": always_on, "days": strategy.days,
                         "window": f"{window_start:%H:%M}-{window_end:%H:%M}"})


def start_strategy(*, strategy: HostedStrategy) -> None:
    """Run it (now if its schedule is open, else when it opens); a fresh start forgets crashes."""
    with transaction.atomic():
        HostedStrategy.objects.filter(pk=strategy.pk).update(enabled=True, restarts=0, next_start_at=None,
                                                             last_exit_kind="")
        _reconcile_after_commit(strategy.pk)
    audit.record("hosted_strategy_start_requested", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk})


def stop_strategy(*, strategy: HostedStrategy) -> None:
    with transaction.atomic():
        HostedStrategy.objects.filter(pk=strategy.pk).update(enabled=False, next_start_at=None)
        _reconcile_after_commit(strategy.pk)
    audit.record("hosted_strategy_stop_requested", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk})


def delete_strategy(*, strategy: HostedStrategy) -> None:
    """Gone from the database now; a worker stops its process and removes its folder."""
    strategy_id, pid, pid_start = strategy.pk, strategy.pid, strategy.pid_start
    with transaction.atomic():
        strategy.delete()
        revoke_scoped_api_key(user_id=strategy.user_id, scope=f"hosted:{strategy_id}")
        transaction.on_commit(lambda: tasks_hosted.hosted_remove.delay(strategy_id, pid, pid_start))
    audit.record("hosted_strategy_deleted", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy_id})
