"""API keys: issued once, stored only as hashes, one active per user, revocation honoured."""

from __future__ import annotations

import re
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import apikeys
from accounts.models import ApiKey
from accounts.services import create_api_key, revoke_api_key


def test_a_new_key_is_64_lowercase_hex_characters(user):
    assert re.fullmatch(r"[0-9a-f]{64}", create_api_key(user=user))


def test_the_database_holds_no_plaintext_key_only_a_digest_and_an_argon2id_hash(user):
    key = create_api_key(user=user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apikey")
        rows = cursor.fetchall()
    dumped = repr(rows)
    assert key not in dumped
    assert key[:16] not in dumped and key[-16:] not in dumped
    row = ApiKey.objects.get(user=user)
    assert row.key_hash.startswith("$argon2id$")
    assert row.digest == apikeys.lookup_digest(key) != key


def test_the_hash_is_peppered_so_it_does_not_verify_without_the_pepper(user, settings):
    key = create_api_key(user=user)
    row = ApiKey.objects.get(user=user)
    assert apikeys.verify_key(key, row.key_hash)
    settings.API_KEY_PEPPER = "another-pepper"
    assert not apikeys.verify_key(key, row.key_hash)


def test_issuing_a_key_revokes_the_previous_one(user):
    first = create_api_key(user=user)
    second = create_api_key(user=user)
    assert apikeys.user_for_key(first) is None
    assert apikeys.user_for_key(second) == user
    assert ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    assert ApiKey.objects.filter(user=user).count() == 2


def test_the_database_refuses_two_active_keys_for_one_user(user):
    create_api_key(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(user=user, digest="0" * 64, key_hash="x")


def test_keys_of_different_users_resolve_to_their_own_user(make_user):
    alice, bob = make_user("alice"), make_user("bob")
    alice_key, bob_key = create_api_key(user=alice), create_api_key(user=bob)
    assert apikeys.user_for_key(alice_key) == alice
    assert apikeys.user_for_key(bob_key) == bob


@pytest.mark.parametrize("presented", [None, "", 123, "x" * 257, "a" * 64, ["list"]])
def test_malformed_or_unknown_keys_resolve_to_no_user(api_key, presented):
    assert apikeys.user_for_key(presented) is None


def test_a_deactivated_user_is_refused_even_with_a_cached_key(user, api_key, settings):
    settings.API_KEY_RECHECK_SECONDS = 0
    assert apikeys.user_for_key(api_key) == user
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert apikeys.user_for_key(api_key) is None


def test_a_cached_key_is_checked_without_any_query_inside_the_recheck_window(
    api_key, user, django_assert_num_queries, settings
):
    settings.API_KEY_RECHECK_SECONDS = 60
    assert apikeys.user_for_key(api_key) == user
    with django_assert_num_queries(0):
        for _ in range(100):
            assert apikeys.user_for_key(api_key) == user


def test_a_cached_key_costs_one_small_query_per_recheck_and_no_argon2(api_key, user, settings, monkeypatch):
    settings.API_KEY_RECHECK_SECONDS = 0
    assert apikeys.user_for_key(api_key) == user
    monkeypatch.setattr(apikeys, "verify_key", lambda *a: pytest.fail("Argon2 ran again"))
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert apikeys.user_for_key(api_key) == user
    assert len(queries) == 1


def test_a_revocation_by_another_process_stops_the_key_here_within_one_second(api_key, user):
    assert apikeys.user_for_key(api_key) == user  # cached as verified in this process
    # Another web process revokes: it writes the row and cannot touch our memory.
    ApiKey.objects.filter(user=user).update(revoked_at=timezone.now())
    deadline = time.monotonic() + 1.0
    while apikeys.user_for_key(api_key) is not None:
        assert time.monotonic() < deadline, "revoked key still accepted after one second"
        time.sleep(0.05)


def test_revoking_in_this_process_evicts_the_key_at_once(api_key, user, settings):
    settings.API_KEY_RECHECK_SECONDS = 3600
    assert apikeys.user_for_key(api_key) == user
    assert revoke_api_key(user=user) == 1
    assert apikeys.user_for_key(api_key) is None


def test_the_verified_key_cache_is_bounded():
    cache = apikeys.VerifiedKeyCache(capacity=3)
    for n in range(5):
        cache.put(str(n), apikeys._Verified(n, object(), 0, 0))
    assert cache.get("0") is None and cache.get("1") is None
    assert cache.get("4") is not None
