"""The Broker page, live: a session that opens, ends or expires is pushed to the user's tabs
(``broker_session``) and only theirs; a master-contract download shows its progress
(``master_contract_progress``) and end (``cache_loaded``); "Download now" queues a fresh
download, also after one failed, against the FakeLive broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import broker_views, live_events, services
from accounts.models import AuditEvent, BrokerCredential
from accounts.services import store_broker_app_credentials, store_broker_session
from accounts.tasks import refresh_master_contract
from brokers.base import BrokerError
from brokers.contracts import LoadAlreadyRunning
from brokers.fakelive import testing as fakelive
from brokers.models import ContractLoad, Instrument


@pytest.fixture
def published(monkeypatch):
    """Every browser event published, as (user id, event, data)."""
    sent: list[tuple[int, str, dict]] = []
    monkeypatch.setattr(live_events.uievents, "publish", lambda user_id, event, data=None: sent.append(
        (user_id, event, data or {})))
    return sent


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def queued(monkeypatch):
    """Downloads queued by "Download now" (the Celery call), as (broker, requested_by)."""
    calls: list[tuple[str, int | None]] = []
    monkeypatch.setattr(broker_views.refresh_master_contract, "delay",
                        lambda broker, requested_by=None: calls.append((broker, requested_by)))
    return calls


def _events(sent, name):
    return [(user_id, data) for user_id, event, data in sent if event == name]


# --- broker_session ------------------------------------------------------------------------------


def test_a_stored_session_is_announced_to_its_user_once_it_commits(user, published,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        credential = store_broker_session(user=user, broker="fakelive", access_token="tok")
    assert _events(published, "broker_session") == [
        (user.pk, {"broker": "fakelive", "live": True, "expires_at": credential.token_expires_at.isoformat()})]


def test_nothing_is_announced_when_the_change_rolls_back(user, published, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        store_broker_session(user=user, broker="fakelive", access_token="tok")
    assert published == [] and len(callbacks) == 1  # sent only by the commit, never before it


def test_the_oauth_login_and_the_logout_are_announced(signed_in, user, fake_exchange, published,
                                                      django_capture_on_commit_callbacks):
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)
    state = signed_in.get("/broker/fakelive/login/")["Location"].split("state=")[1].split("&")[0]
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.get("/fakelive/callback", {"code": fakelive.CODE, "state": state})
        signed_in.post("/broker/fakelive/logout/")
    sessions = _events(published, "broker_session")
    assert [(data["broker"], data["live"]) for _, data in sessions] == [("fakelive", True), ("fakelive", False)]
    assert {user_id for user_id, _ in sessions} == {user.pk}
    assert sessions[1][1]["expires_at"] is None


def test_the_daily_expiry_tells_each_user_whose_session_ended_and_no_one_else(
        user, make_user, published, django_capture_on_commit_callbacks):
    other, idle = make_user("other"), make_user("idle")
    store_broker_session(user=user, broker="fakelive", access_token="mine")
    store_broker_session(user=other, broker="fakelive", access_token="theirs")
    store_broker_app_credentials(user=idle, broker="fakelive", api_key="k", api_secret="s")
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        result = services.expire_sessions(now=timezone.now() + timedelta(days=1))
    assert result["broker_tokens"] == 2
    ended = _events(published, "broker_session")
    assert sorted(user_id for user_id, _ in ended) == sorted([user.pk, other.pk])
    assert all(data == {"broker": "fakelive", "live": False, "expires_at": None} for _, data in ended)
    assert not BrokerCredential.objects.get(user=user).has_secret("access_token")


def test_the_page_refetches_its_sessions_on_the_event_and_offers_a_reconnect(signed_in, user):
    store_broker_app_credentials(user=user, broker="fakelive", api_key="k", api_secret="s")
    page = signed_in.get("/broker/").content.decode()
    assert 'hx-trigger="oa:broker_session from:document"' in page and 'data-testid="reconnect-prompt"' in page
    assert "js/brokers.js" in page
    panel = signed_in.get("/broker/partials/sessions/")
    assert panel.status_code == 200 and 'data-broker="fakelive"' in panel.content.decode()
    assert "<html" not in panel.content.decode()  # a fragment, not a page
    store_broker_session(user=user, broker="fakelive", access_token="tok")
    assert "LIVE</span> until" in signed_in.get("/broker/partials/sessions/").content.decode()


def test_the_fragments_need_a_signed_in_user(client):
    assert client.get("/broker/partials/sessions/")["Location"].startswith("/login/")
    assert client.get("/broker/partials/contracts/")["Location"].startswith("/login/")


# --- master contract -----------------------------------------------------------------------------


def test_a_download_reports_its_progress_and_its_end_to_everyone_with_that_broker(
        user, make_user, fake_exchange, published, django_capture_on_commit_callbacks):
    stranger = make_user("stranger")
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)
    store_broker_session(user=user, broker="fakelive", access_token=fakelive.TOKEN)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert refresh_master_contract("fakelive") == {"rows": 5, "skipped": 0}
    progress = _events(published, "master_contract_progress")
    assert {user_id for user_id, _ in progress} == {user.pk}  # not the stranger
    assert progress[0][1]["status"] == "running" and progress[-1][1]["status"] == "live"
    assert progress[-1][1]["rows"] == 5 and progress[-1][1]["broker"] == "fakelive"
    assert _events(published, "cache_loaded") == [
        (user.pk, {"status": "success", "broker": "fakelive", "total_symbols": 5})]
    assert stranger.pk not in {user_id for user_id, _, _ in published}


def test_a_failed_download_says_so_then_download_now_loads_it(signed_in, user, fake_exchange, published, queued,
                                                              django_capture_on_commit_callbacks):
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)
    store_broker_session(user=user, broker="fakelive", access_token=fakelive.TOKEN)
    fake_exchange.fail_next("malformed")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(BrokerError):
        refresh_master_contract("fakelive", requested_by=user.pk)
    assert ContractLoad.objects.get(broker="fakelive").state == "failed"
    failed = _events(published, "cache_loaded")
    assert failed[-1][0] == user.pk and failed[-1][1]["status"] == "error" and failed[-1][1]["message"]
    page = signed_in.get("/broker/").content.decode()
    row = page.split('data-contract="fakelive"')[1].split("</tr>")[0]
    assert "failed" in row and "Download now" in row

    response = signed_in.post("/broker/fakelive/contract/download/")
    assert response.status_code == 302 and response["Location"] == "/broker/"
    assert queued == [("fakelive", user.pk)]
    assert AuditEvent.objects.filter(action="contract_download", actor=user.username, subject="fakelive").exists()
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs what was queued
        refresh_master_contract(*queued[0])
    assert Instrument.objects.filter(broker="fakelive").count() == 5
    row = signed_in.get("/broker/partials/contracts/").content.decode().split('data-contract="fakelive"')[1]
    assert 'data-status="live"' in row.split(">")[0] and "loaded" in row.split("</tr>")[0]


def test_download_now_waits_for_a_running_load_but_not_for_an_abandoned_one(signed_in, user, queued):
    running = ContractLoad.objects.create(broker="fakelive")
    response = signed_in.post("/broker/fakelive/contract/download/", follow=True)
    assert queued == [] and "downloading already" in response.content.decode()
    panel = signed_in.get("/broker/partials/contracts/").content.decode()
    assert "every 2s" in panel and "downloading" in panel  # polls while it runs
    ContractLoad.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(hours=3))
    signed_in.post("/broker/fakelive/contract/download/")
    assert queued == [("fakelive", user.pk)]


def test_download_now_is_a_csrf_protected_post_for_an_installed_broker(user, signed_in, queued):
    assert signed_in.get("/broker/fakelive/contract/download/").status_code == 405
    assert signed_in.post("/broker/nosuch/contract/download/").status_code == 404
    assert signed_in.post("/broker/sandbox/contract/download/").status_code == 404
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/broker/fakelive/contract/download/").status_code == 403
    assert queued == []


def test_a_second_load_while_one_runs_reports_nothing_as_finished(user, fake_exchange, published,
                                                                  django_capture_on_commit_callbacks):
    ContractLoad.objects.create(broker="fakelive")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(LoadAlreadyRunning):
        refresh_master_contract("fakelive", requested_by=user.pk)
    assert _events(published, "cache_loaded") == []


def test_the_contract_table_shows_symbols_and_the_last_successful_download(signed_in, user, fake_exchange):
    store_broker_app_credentials(user=user, broker="fakelive", api_key=fakelive.API_KEY,
                                 api_secret=fakelive.API_SECRET)
    store_broker_session(user=user, broker="fakelive", access_token=fakelive.TOKEN)
    page = signed_in.get("/broker/").content.decode()
    row = page.split('data-contract="fakelive"')[1].split("</tr>")[0]
    assert "never" in row and "not downloaded" in row
    refresh_master_contract("fakelive")
    row = signed_in.get("/broker/").content.decode().split('data-contract="fakelive"')[1].split("</tr>")[0]
    assert "never" not in row and ">5<" in row.replace(" ", "")
