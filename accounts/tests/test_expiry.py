"""Daily expiry of UI sessions and broker tokens at SESSION_EXPIRY_TIME (03:00 IST)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session

from accounts.models import BrokerCredential
from accounts.services import expire_sessions, next_session_expiry, store_broker_session
from accounts.tasks import expire_sessions as expire_sessions_task

IST = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize(
    "now, expected",
    [
        (datetime(2026, 11, 24, 2, 59, tzinfo=IST), datetime(2026, 11, 24, 3, 0, tzinfo=IST)),
        (datetime(2026, 11, 24, 3, 0, tzinfo=IST), datetime(2026, 11, 25, 3, 0, tzinfo=IST)),
        (datetime(2026, 11, 24, 15, 30, tzinfo=IST), datetime(2026, 11, 25, 3, 0, tzinfo=IST)),
        (datetime(2026, 12, 31, 23, 0, tzinfo=IST), datetime(2027, 1, 1, 3, 0, tzinfo=IST)),
    ],
)
def test_the_next_expiry_is_the_next_three_am_ist(now, expected):
    assert next_session_expiry(now) == expected


def test_the_expiry_clock_is_configurable(settings):
    settings.SESSION_EXPIRY_TIME = "05:30"
    now = datetime(2026, 11, 24, 4, 0, tzinfo=IST)
    assert next_session_expiry(now) == datetime(2026, 11, 24, 5, 30, tzinfo=IST)


def test_a_utc_clock_gives_the_same_ist_boundary():
    utc_now = datetime(2026, 11, 23, 22, 0, tzinfo=ZoneInfo("UTC"))  # 03:30 IST on the 24th
    assert next_session_expiry(utc_now) == datetime(2026, 11, 25, 3, 0, tzinfo=IST)


def _session(expires):
    store = SessionStore()
    store["k"] = "v"
    store.set_expiry(expires)
    store.create()
    return store.session_key


def test_the_daily_job_ends_sessions_and_tokens_due_now_and_keeps_newer_ones(user, make_user):
    boundary = datetime(2026, 11, 25, 3, 0, tzinfo=IST)
    before = boundary - timedelta(hours=5)
    old_session = _session(boundary)
    new_session = _session(boundary + timedelta(days=1))
    store_broker_session(user=user, broker="zerodha", access_token="old", now=before)
    later = make_user("later")
    store_broker_session(user=later, broker="zerodha", access_token="new", now=boundary + timedelta(minutes=40))

    result = expire_sessions(now=boundary)

    assert result == {"sessions": 1, "broker_tokens": 1}
    assert not Session.objects.filter(session_key=old_session).exists()
    assert Session.objects.filter(session_key=new_session).exists()
    assert not BrokerCredential.objects.get(user=user).has_secret("access_token")
    assert BrokerCredential.objects.get(user=later).reveal("access_token") == "new"


def test_the_job_fired_a_little_early_still_ends_the_sessions_due(user):
    boundary = datetime(2026, 11, 25, 3, 0, tzinfo=IST)
    due = _session(boundary)
    assert expire_sessions(now=boundary - timedelta(seconds=20))["sessions"] == 1
    assert not Session.objects.filter(session_key=due).exists()


def test_the_celery_task_runs_the_same_expiry(user, settings):
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    BrokerCredential.objects.update(token_expires_at=None)  # a token stored with no expiry is due
    assert expire_sessions_task.apply().get() == {"sessions": 0, "broker_tokens": 1}


def test_the_beat_schedule_fires_at_the_configured_ist_time():
    from openalgo.celery import app

    app.finalize()
    entry = app.conf.beat_schedule["expire-sessions-and-broker-tokens"]
    assert entry["task"] == "accounts.tasks.expire_sessions"
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {0}
    assert str(app.conf.timezone) == "Asia/Kolkata"
