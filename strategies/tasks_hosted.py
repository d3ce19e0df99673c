"""Celery tasks of hosted Python strategies: the supervisor's round (beat), one strategy's
reconciliation right after its trader starts or stops it, and a deletion's clean-up."""

from __future__ import annotations

from celery import shared_task

from strategies.hosted import process, supervisor


@shared_task(name="strategies.hosted_supervise", ignore_result=True)
def hosted_supervise() -> None:
    supervisor.supervise_all()


@shared_task(name="strategies.hosted_reconcile", ignore_result=True)
def hosted_reconcile(strategy_id: int) -> None:
    supervisor.reconcile(strategy_id)


@shared_task(name="strategies.hosted_remove", ignore_result=True)
def hosted_remove(strategy_id: int, pid: int | None, pid_start: int | None) -> None:
    """The strategy's row is gone: stop a process it may have left and remove its folder."""
    folders = process.folders_for(strategy_id)
    process.stop(pid, pid_start, folders, grace=5)
    process.remove(folders)
