"""The supervisor: makes each hosted strategy's process match what should run now (enabled by
its trader, inside its schedule). It starts what should run, stops what should not, notices a
crash (the runner's state file says why) and restarts it after a backoff that doubles per
crash up to a cap, and adopts a process that outlived a restart of the platform. Runs in a
Celery worker (beat every HOSTED_SUPERVISE_SECONDS, and at once after a start or stop);
each strategy is decided under its row lock, so two workers never start one twice."""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.services import issue_scoped_api_key, revoke_scoped_api_key
from core import uievents
from strategies.hosted import process
from strategies.hosted.schedule import Schedule
from strategies.models import HostedStrategy

log = logging.getLogger(__name__)
HOSTNAME = socket.gethostname()
Status = HostedStrategy.Status
# Ends that are no fault of the script: start again without a backoff.
NOT_A_CRASH = {"stopped", "supervisor_gone"}


def key_scope(strategy_id: int) -> str:
    return f"hosted:{strategy_id}"


def schedule_of(strategy: HostedStrategy) -> Schedule:
    return Schedule(always_on=strategy.always_on, days=frozenset(strategy.weekdays),
                    start=strategy.window_start, end=strategy.window_end)


def backoff(crashes: int) -> float:
    """Seconds before restart number ``crashes``: base, doubled per crash, capped."""
    return float(min(settings.HOSTED_BACKOFF_SECONDS * 2 ** max(0, crashes - 1), settings.HOSTED_BACKOFF_MAX_SECONDS))


def supervise_all(now: datetime | None = None) -> None:
    ids = HostedStrategy.objects.filter(Q(enabled=True) | Q(pid__isnull=False)).values_list("pk", flat=True)
    for strategy_id in list(ids):
        try:
            reconcile(strategy_id, now)
        except Exception:
            log.exception("Hosted strategy %s could not be supervised", strategy_id)


def reconcile(strategy_id: int, now: datetime | None = None) -> None:
    now = now or timezone.now()
    with transaction.atomic():
        strategy = HostedStrategy.objects.select_for_update(skip_locked=True).filter(pk=strategy_id).first()
        if strategy is None:
            return
        if strategy.pid and strategy.host and strategy.host != HOSTNAME:
            return  # started on another host: only that host can see its process
        before = (strategy.status, strategy.last_exit, strategy.notice)
        _decide(strategy, now)
        strategy.save()
        if (strategy.status, strategy.last_exit, strategy.notice) != before:
            data = {"id": strategy.pk, "status": strategy.status, "last_exit": strategy.last_exit,
                    "notice": strategy.notice}
            user_id = strategy.user_id
            transaction.on_commit(lambda: uievents.publish(user_id, "hosted_strategy", data))


def _decide(strategy: HostedStrategy, now: datetime) -> None:
    folders = process.folders_for(strategy.pk)
    alive = process.is_alive(strategy.pid, strategy.pid_start)
    schedule = schedule_of(strategy)
    should_run = strategy.enabled and schedule.is_open(now)
    if alive:
        process.touch_lease(folders)
        if should_run:
            strategy.status = Status.RUNNING
            strategy.notice = str(process.read_state(folders).get("notice", ""))[:255]
            if strategy.restarts and strategy.started_at and (now - strategy.started_at).total_seconds() >= \
                    settings.HOSTED_STABLE_SECONDS:
                strategy.restarts = 0
            return
        process.stop(strategy.pid, strategy.pid_start, folders, grace=settings.HOSTED_STOP_GRACE_SECONDS)
        _record_exit(strategy, now, default="stopped")
        strategy.status = Status.WAITING if strategy.enabled else Status.STOPPED
        if strategy.enabled:
            strategy.last_exit = "stopped: outside its schedule"
        return
    if strategy.pid:
        _record_exit(strategy, now, default="crash")
    if not should_run:
        strategy.next_start_at = None
        strategy.status = Status.WAITING if strategy.enabled else (
            Status.FINISHED if strategy.last_exit_kind == "finished" else Status.STOPPED)
        return
    opened = schedule.opened_at(now)
    if strategy.last_exit_kind == "finished" and strategy.stopped_at and opened and strategy.stopped_at >= opened:
        strategy.status = Status.FINISHED  # ran to its end in this window: the next window starts it again
        return
    if strategy.next_start_at and now < strategy.next_start_at:
        strategy.status = Status.BACKOFF
        return
    _start(strategy, now, folders)


def _record_exit(strategy: HostedStrategy, now: datetime, *, default: str) -> None:
    """The process is gone: what its runner said about the end, the key it held revoked, and
    the backoff if it crashed."""
    folders = process.folders_for(strategy.pk)
    ended = process.read_state(folders).get("exit") or {
        "kind": default, "reason": "stopped" if default == "stopped" else "the process disappeared"}
    revoke_scoped_api_key(user_id=strategy.user_id, scope=key_scope(strategy.pk))
    strategy.pid = strategy.pid_start = None
    strategy.stopped_at = now
    strategy.last_exit_kind = str(ended.get("kind", default))[:24]
    strategy.last_exit = str(ended.get("reason", ""))[:255]
    strategy.next_start_at = None
    if strategy.last_exit_kind not in NOT_A_CRASH | {"finished"}:
        strategy.restarts += 1
        strategy.next_start_at = now + timedelta(seconds=backoff(strategy.restarts))
        strategy.status = Status.BACKOFF
        log.warning("Hosted strategy %s ended: %s; restart %s in %.0f s", strategy.pk, strategy.last_exit,
                    strategy.restarts, backoff(strategy.restarts))
    audit.record("hosted_strategy_ended", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk, "kind": strategy.last_exit_kind, "reason": strategy.last_exit})


def _start(strategy: HostedStrategy, now: datetime, folders: process.Folders) -> None:
    adopted = process.running_runner(folders)
    if adopted is not None:  # the runner outlived our record of it: adopt, never start twice
        strategy.pid, strategy.pid_start = adopted
        strategy.host, strategy.status = HOSTNAME, Status.RUNNING
        return
    files = dict(strategy.files.values_list("path", "content"))
    if strategy.entry_point not in files:
        strategy.enabled = False
        strategy.status = Status.STOPPED
        strategy.last_exit_kind, strategy.last_exit = "start_failed", f"no file {strategy.entry_point} to run"
        return
    try:
        account = process.run_as()
        process.prepare(folders, files, account)
        key = issue_scoped_api_key(user=strategy.user, scope=key_scope(strategy.pk))
        pid, started = process.launch(process.runner_config(folders=folders, entry=strategy.entry_point,
                                                            api_key=key, account=account))
    except Exception as error:
        log.exception("Hosted strategy %s could not start", strategy.pk)
        strategy.restarts += 1
        strategy.next_start_at = now + timedelta(seconds=backoff(strategy.restarts))
        strategy.status = Status.BACKOFF
        strategy.last_exit_kind, strategy.last_exit = "start_failed", f"could not start: {error}"[:255]
        return
    strategy.pid, strategy.pid_start, strategy.host = pid, started, HOSTNAME
    strategy.started_at, strategy.next_start_at, strategy.notice = now, None, ""
    strategy.status = Status.RUNNING
    audit.record("hosted_strategy_started", actor=strategy.user.username, subject=strategy.name,
                 detail={"id": strategy.pk, "pid": pid, "restart": strategy.restarts})
    log.info("Hosted strategy %s started (runner pid %s)", strategy.pk, pid)


def stop_now(strategy_id: int) -> None:
    """Stop a strategy's process whatever its schedule says (deleting it)."""
    with transaction.atomic():
        strategy = HostedStrategy.objects.select_for_update().filter(pk=strategy_id).first()
        if strategy is None or not strategy.pid:
            return
        process.stop(strategy.pid, strategy.pid_start, process.folders_for(strategy.pk),
                     grace=settings.HOSTED_STOP_GRACE_SECONDS)
        _record_exit(strategy, timezone.now(), default="stopped")
        strategy.status = Status.STOPPED
        strategy.save()
