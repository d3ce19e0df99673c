"""The supervisor with real processes: it starts what should run with a key of its own, stops
what should not, restarts a crashed strategy after a capped backoff, follows the schedule, and
after a restart of the platform finds what was running (or starts it again), never twice."""

from __future__ import annotations

import os
import signal
import time
from datetime import time as clock
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.apikeys import user_for_key, verified_keys
from accounts.models import ApiKey
from strategies.hosted import process, supervisor
from strategies.hosted.schedule import IST
from strategies.models import HostedFile, HostedStrategy

SLEEPER = ("import os, time\nopen('key.txt', 'w').write(os.environ['OPENALGO_API_KEY'])\n"
           "print('up', flush=True)\ntime.sleep(600)\n")
Status = HostedStrategy.Status


@pytest.fixture
def hosted(settings, tmp_path, user):
    settings.HOSTED_DIR = tmp_path / "hosted"
    settings.HOSTED_BACKOFF_SECONDS, settings.HOSTED_BACKOFF_MAX_SECONDS = 5, 300
    settings.HOSTED_STOP_GRACE_SECONDS = 1
    made: list[HostedStrategy] = []

    def make(source: str = SLEEPER, **fields) -> HostedStrategy:
        strategy = HostedStrategy.objects.create(user=user, name=f"s{len(made)}", enabled=True, **fields)
        HostedFile.objects.create(strategy=strategy, path="main.py", content=source)
        made.append(strategy)
        return strategy

    yield make
    for strategy in made:
        strategy.refresh_from_db()
        process.stop(strategy.pid, strategy.pid_start, process.folders_for(strategy.pk), grace=0)


def fresh(strategy: HostedStrategy) -> HostedStrategy:
    return HostedStrategy.objects.get(pk=strategy.pk)


def wait_until(condition, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def exited(strategy: HostedStrategy) -> bool:
    return "exit" in process.read_state(process.folders_for(strategy.pk))


def test_an_enabled_strategy_runs_with_a_key_of_its_own_and_stops_with_it_revoked(hosted, user, api_key):
    strategy = hosted()
    supervisor.reconcile(strategy.pk)
    strategy = fresh(strategy)
    assert strategy.status == Status.RUNNING and process.is_alive(strategy.pid, strategy.pid_start)
    key_file = process.folders_for(strategy.pk).work / "key.txt"
    wait_until(key_file.exists, what="the script did not start")
    key = key_file.read_text()
    assert key != api_key and user_for_key(key) == user
    assert ApiKey.objects.get(user=user, scope=f"hosted:{strategy.pk}", revoked_at__isnull=True)

    HostedStrategy.objects.filter(pk=strategy.pk).update(enabled=False)
    supervisor.reconcile(strategy.pk)
    stopped = fresh(strategy)
    assert stopped.status == Status.STOPPED and stopped.pid is None
    assert not process.is_alive(strategy.pid, strategy.pid_start)
    assert stopped.last_exit_kind == "stopped"
    verified_keys.clear()
    assert user_for_key(key) is None and user_for_key(api_key) == user  # the trader's own key lives on


def test_a_crashed_strategy_is_restarted_after_a_backoff_that_doubles_and_is_capped(hosted):
    strategy = hosted("print('about to fail', flush=True)\nraise SystemExit(2)\n")
    supervisor.reconcile(strategy.pk)
    wait_until(lambda: exited(strategy))
    crashed_at = timezone.now()
    supervisor.reconcile(strategy.pk, crashed_at)
    strategy = fresh(strategy)
    assert strategy.status == Status.BACKOFF and strategy.restarts == 1
    assert strategy.last_exit == "crashed: exit code 2"
    assert strategy.next_start_at == crashed_at + timedelta(seconds=5)

    supervisor.reconcile(strategy.pk, crashed_at + timedelta(seconds=3))
    assert fresh(strategy).status == Status.BACKOFF and fresh(strategy).pid is None  # still waiting

    supervisor.reconcile(strategy.pk, crashed_at + timedelta(seconds=6))
    assert fresh(strategy).pid is not None  # restarted
    wait_until(lambda: exited(strategy))
    supervisor.reconcile(strategy.pk, crashed_at + timedelta(seconds=7))
    strategy = fresh(strategy)
    assert strategy.restarts == 2 and strategy.next_start_at == crashed_at + timedelta(seconds=7 + 10)

    HostedStrategy.objects.filter(pk=strategy.pk).update(restarts=30, next_start_at=None)
    supervisor.reconcile(strategy.pk, crashed_at + timedelta(seconds=30))
    wait_until(lambda: exited(strategy))
    supervisor.reconcile(strategy.pk, crashed_at + timedelta(seconds=40))
    assert fresh(strategy).next_start_at == crashed_at + timedelta(seconds=40 + 300)
    log = "\n".join(process.tail(process.folders_for(strategy.pk)))
    assert log.count("about to fail") == 3 and "[platform] crashed: exit code 2" in log


def test_after_a_platform_restart_a_surviving_strategy_is_adopted_and_never_started_twice(hosted):
    strategy = hosted()
    supervisor.reconcile(strategy.pk)
    running = fresh(strategy)
    # The new supervisor finds the process it recorded still there: it keeps it.
    supervisor.reconcile(strategy.pk)
    assert (fresh(strategy).pid, fresh(strategy).status) == (running.pid, Status.RUNNING)
    # Even a record lost in the crash: the runner's own state names it, so it is adopted, not doubled.
    HostedStrategy.objects.filter(pk=strategy.pk).update(pid=None, pid_start=None, status=Status.STOPPED)
    supervisor.reconcile(strategy.pk)
    assert fresh(strategy).pid == running.pid and fresh(strategy).status == Status.RUNNING
    assert len([line for line in process.tail(process.folders_for(strategy.pk)) if "starting main.py" in line]) == 1


def test_after_a_reboot_a_strategy_that_was_running_is_started_again(hosted):
    strategy = hosted()
    supervisor.reconcile(strategy.pk)
    before = fresh(strategy)
    wait_until(lambda: "child_pid" in process.read_state(process.folders_for(strategy.pk)))
    child = process.read_state(process.folders_for(strategy.pk))["child_pid"]
    os.kill(before.pid, signal.SIGKILL)  # the machine went down: runner and script gone, no word left
    os.killpg(child, signal.SIGKILL)
    wait_until(lambda: not process.is_alive(before.pid, before.pid_start))
    now = timezone.now()
    supervisor.reconcile(strategy.pk, now)
    assert fresh(strategy).status == Status.BACKOFF
    assert fresh(strategy).last_exit == "the process disappeared"
    supervisor.reconcile(strategy.pk, now + timedelta(seconds=6))
    after = fresh(strategy)
    assert after.status == Status.RUNNING and after.pid != before.pid
    assert process.is_alive(after.pid, after.pid_start)


def test_a_scheduled_strategy_runs_inside_its_window_only(hosted):
    strategy = hosted(always_on=False, days="0,1,2,3,4", window_start=clock(9, 15), window_end=clock(15, 30))
    monday = timezone.datetime(2026, 11, 2, tzinfo=IST)
    supervisor.reconcile(strategy.pk, monday.replace(hour=8))
    assert fresh(strategy).status == Status.WAITING and fresh(strategy).pid is None
    supervisor.reconcile(strategy.pk, monday.replace(hour=10))
    running = fresh(strategy)
    assert running.status == Status.RUNNING and process.is_alive(running.pid, running.pid_start)
    supervisor.reconcile(strategy.pk, monday.replace(hour=15, minute=31))
    closed = fresh(strategy)
    assert closed.status == Status.WAITING and closed.pid is None
    assert closed.last_exit == "stopped: outside its schedule"
    assert not process.is_alive(running.pid, running.pid_start)


def test_a_strategy_that_finishes_waits_for_its_next_window(hosted):
    strategy = hosted("print('done')\n", always_on=False, days="0,1,2,3,4", window_start=clock(9, 15),
                      window_end=clock(15, 30))
    monday = timezone.datetime(2026, 11, 2, 10, tzinfo=IST)
    supervisor.reconcile(strategy.pk, monday)
    wait_until(lambda: exited(strategy))
    supervisor.reconcile(strategy.pk, monday + timedelta(minutes=1))
    assert fresh(strategy).status == Status.FINISHED and fresh(strategy).restarts == 0
    supervisor.reconcile(strategy.pk, monday + timedelta(minutes=2))
    assert fresh(strategy).pid is None  # not again in this window
    supervisor.reconcile(strategy.pk, monday + timedelta(days=1))
    assert fresh(strategy).pid is not None  # Tuesday's window


def test_a_strategy_without_its_entry_point_is_not_started_and_says_why(hosted):
    strategy = hosted(entry_point="missing.py")
    supervisor.reconcile(strategy.pk)
    strategy = fresh(strategy)
    assert (strategy.status, strategy.enabled, strategy.pid) == (Status.STOPPED, False, None)
    assert strategy.last_exit == "no file missing.py to run"


def test_the_supervisor_round_covers_every_enabled_strategy(hosted):
    first, second = hosted(), hosted()
    supervisor.supervise_all()
    assert fresh(first).status == fresh(second).status == Status.RUNNING
    assert fresh(first).pid != fresh(second).pid


def test_beat_runs_the_hosted_strategies_supervisor():
    from openalgo.celery import app

    app.finalize()
    app.loader.import_default_modules()  # what a worker does when it starts: autodiscovery
    register = app.conf.beat_schedule["strategies-hosted-supervise"]
    assert register["task"] == "strategies.hosted_supervise"
    assert "strategies.hosted_supervise" in app.tasks and "strategies.hosted_reconcile" in app.tasks
