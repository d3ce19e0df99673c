"""Broker credentials are Fernet-encrypted at rest and decrypted only when revealed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.utils import timezone

from accounts import brokers as routing
from accounts import crypto
from accounts.brokers import active_broker_name
from accounts.models import BrokerCredential
from accounts.services import store_broker_app_credentials, store_broker_session

SECRETS = {"api_key": "kite-app-key-123", "api_secret": "kite-app-secret-456"}


def _raw_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_brokercredential")
        return repr(cursor.fetchall())


def test_no_broker_secret_is_stored_in_plaintext(user):
    store_broker_app_credentials(user=user, broker="zerodha", **SECRETS)
    store_broker_session(user=user, broker="zerodha", access_token="access-789", feed_token="feed-000")
    raw = _raw_rows()
    for plaintext in [*SECRETS.values(), "access-789", "feed-000"]:
        assert plaintext not in raw


def test_secrets_decrypt_back_when_revealed(user):
    store_broker_app_credentials(user=user, broker="zerodha", **SECRETS)
    credential = BrokerCredential.objects.get(user=user, broker="zerodha")
    assert credential.reveal("api_key") == SECRETS["api_key"]
    assert credential.reveal("api_secret") == SECRETS["api_secret"]
    assert credential.reveal("access_token") == ""


def test_a_rotated_fernet_key_still_reads_old_secrets_and_rotation_rewrites_them(user, settings):
    store_broker_app_credentials(user=user, broker="dhan", **SECRETS)
    old_token = BrokerCredential.objects.get(user=user).api_key_encrypted
    settings.FERNET_KEYS = [Fernet.generate_key().decode(), *settings.FERNET_KEYS]
    assert crypto.decrypt(old_token) == SECRETS["api_key"]
    rotated = crypto.rotate(old_token)
    settings.FERNET_KEYS = settings.FERNET_KEYS[:1]
    assert crypto.decrypt(rotated) == SECRETS["api_key"]


def test_a_secret_under_an_unknown_key_is_a_clear_error_not_garbage(user, settings):
    store_broker_app_credentials(user=user, broker="dhan", **SECRETS)
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.SecretUnreadable):
        BrokerCredential.objects.get(user=user).reveal("api_key")


def test_unknown_secret_names_are_refused(user):
    credential = BrokerCredential(user=user, broker="x")
    with pytest.raises(ValueError):
        credential.store(password="nope")
    with pytest.raises(ValueError):
        credential.reveal("password")


def test_a_broker_session_expires_at_the_next_daily_boundary(user):
    now = timezone.now()
    credential = store_broker_session(user=user, broker="upstox", access_token="tok", now=now)
    assert now < credential.token_expires_at <= now + timedelta(days=1)
    assert credential.has_live_session(now)
    assert not credential.has_live_session(credential.token_expires_at)


def test_the_active_broker_is_the_sandbox_until_a_live_session_exists(user):
    assert active_broker_name(user) == "sandbox"
    store_broker_app_credentials(user=user, broker="zerodha", **SECRETS)
    assert active_broker_name(user) == "sandbox"  # app keys alone are not a login
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    assert active_broker_name(user) == "zerodha"
    BrokerCredential.objects.filter(user=user).update(token_expires_at=timezone.now() - timedelta(seconds=1))
    # A change made by another process is seen within LIVE_BROKER_TTL (one second).
    time.sleep(routing.LIVE_BROKER_TTL + 0.05)
    assert active_broker_name(user) == "sandbox"


def test_a_cached_live_session_is_never_served_past_its_expiry(user):
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    BrokerCredential.objects.filter(user=user).update(token_expires_at=timezone.now() + timedelta(seconds=0.3))
    routing.forget_live_broker(user.pk)
    assert active_broker_name(user) == "zerodha"
    time.sleep(0.35)
    assert active_broker_name(user) == "sandbox"


def test_one_users_broker_session_is_invisible_to_another(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    store_broker_session(user=alice, broker="zerodha", access_token="tok")
    assert active_broker_name(alice) == "zerodha"
    assert active_broker_name(bob) == "sandbox"


def test_the_admin_never_shows_a_secret(admin_client, user):
    store_broker_app_credentials(user=user, broker="zerodha", **SECRETS)
    store_broker_session(user=user, broker="zerodha", access_token="access-789")
    credential = BrokerCredential.objects.get(user=user)
    pages = [
        admin_client.get("/admin/accounts/brokercredential/"),
        admin_client.get(f"/admin/accounts/brokercredential/{credential.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        text = page.content.decode()
        for value in [*SECRETS.values(), "access-789", credential.api_key_encrypted, credential.access_token_encrypted]:
            assert value not in text
