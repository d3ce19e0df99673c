"""The audit trail: events from logins, keys, credentials and orders, hash-chained and
append-only; verifyaudit finds any edit."""

from __future__ import annotations

import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from accounts.audit import verify
from accounts.models import AuditEvent
from accounts.services import create_api_key, revoke_api_key, store_broker_session

PASSWORD = "correct-horse-battery-9"


def actions() -> list[str]:
    """Actions in order, repeats collapsed (saving a credential may take two writes)."""
    seen: list[str] = []
    for action in AuditEvent.objects.values_list("action", flat=True):
        if not seen or seen[-1] != action:
            seen.append(action)
    return seen


def test_logins_keys_credentials_and_orders_are_recorded(client, user, post_json, market):
    client.post("/login/", {"username": "trader", "password": "wrong"})
    client.post("/login/", {"username": "trader", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    key = create_api_key(user=user)
    post_json("/api/v1/placeorder", {"apikey": key, "strategy": "a", "symbol": "SBIN", "exchange": "NSE",
                                     "action": "BUY", "quantity": "1"})
    store_broker_session(user=user, broker="zerodha", access_token="secret-token-xyz")
    revoke_api_key(user=user)
    assert actions() == ["login_failed", "login", "api_key_issued", "order_complete", "broker_credential_saved",
                         "api_key_revoked"]
    login = AuditEvent.objects.get(action="login")
    assert (login.actor, login.ip) == ("trader", "203.0.113.7")
    order = AuditEvent.objects.get(action="order_complete")
    assert order.subject == "NSE:SBIN" and order.detail["quantity"] == "1"
    assert "secret-token-xyz" not in str(list(AuditEvent.objects.values_list("detail", flat=True)))
    assert "wrong" not in str(list(AuditEvent.objects.values()))


def test_modifications_and_cancellations_are_recorded(user, api_call, market):
    order = {"strategy": "a", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": "2",
             "pricetype": "LIMIT", "price": "1", "product": "MIS", "trigger_price": "0",
             "disclosed_quantity": "0"}  # far below the market: it rests
    status, placed = api_call("placeorder", **order)
    assert status == 200, placed
    orderid = placed["orderid"]
    status, body = api_call("modifyorder", **{**order, "quantity": "3", "price": "2"}, orderid=orderid)
    assert status == 200, body
    assert api_call("cancelorder", strategy="a", orderid=orderid)[0] == 200
    assert actions()[-3:] == ["order_open", "order_modified", "order_cancelled"]
    modified = AuditEvent.objects.get(action="order_modified")
    assert (modified.actor, modified.detail["orderid"], modified.detail["quantity"]) == ("trader", orderid, "3")
    assert AuditEvent.objects.get(action="order_cancelled").detail["ledger_id"]


def test_the_chain_verifies_and_an_edit_breaks_it(user, capsys):
    for n in range(5):
        create_api_key(user=user)
    assert verify() == (5, None)
    call_command("verifyaudit")
    assert "intact: 5 events" in capsys.readouterr().out
    third = AuditEvent.objects.all()[2]
    AuditEvent.objects.filter(pk=third.pk).update(actor="someone-else")  # tampering behind the model's back
    checked, broken = verify()
    assert (checked, broken.pk) == (2, third.pk)
    with pytest.raises(CommandError, match=f"broken at event {third.pk}"):
        call_command("verifyaudit")


def test_events_cannot_be_changed_or_deleted_through_the_model_or_the_admin(user, admin_client):
    create_api_key(user=user)
    event = AuditEvent.objects.get(action="api_key_issued")
    event.actor = "x"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    page = admin_client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    assert page.status_code == 200 and b'name="actor"' not in page.content
    assert admin_client.post(f"/admin/accounts/auditevent/{event.pk}/delete/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_from_many_sessions_keep_one_unbroken_chain(monkeypatch):
    from accounts import audit

    original_digest = audit.digest

    def slow_digest(*args):  # widens the gap between reading the chain's head and appending
        time.sleep(0.01)
        return original_digest(*args)

    monkeypatch.setattr(audit, "digest", slow_digest)
    start = threading.Barrier(6)

    def append() -> None:
        try:
            start.wait(10)
            for n in range(5):
                audit.record("probe", actor=threading.current_thread().name, detail={"n": n})
        finally:
            connection.close()

    threads = [threading.Thread(target=append) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert verify() == (30, None)
    assert len(set(AuditEvent.objects.values_list("prev_hash", flat=True))) == 30  # no fork


@pytest.mark.django_db(transaction=True)
def test_an_append_inside_a_longer_transaction_holds_the_chain_until_that_commits():
    from accounts import audit

    appended, release = threading.Event(), threading.Event()

    def outer() -> None:
        try:
            with transaction.atomic():
                audit.record("first")
                appended.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            audit.record("second")
        finally:
            connection.close()

    first_thread, second_thread = threading.Thread(target=outer), threading.Thread(target=second)
    first_thread.start()
    assert appended.wait(10)
    second_thread.start()
    second_thread.join(0.7)
    assert second_thread.is_alive(), "the second append must wait for the first one's transaction"
    release.set()
    first_thread.join(10)
    second_thread.join(30)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["first", "second"]
    assert verify() == (2, None)
