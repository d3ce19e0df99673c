"""Scoped API keys: keys the platform issues to a user's own processes (hosted strategies),
besides the one key the user holds. Each acts as its user, is replaced and revoked on its own,
and neither kind touches the other."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from accounts import apikeys
from accounts.models import ApiKey
from accounts.services import (
    active_api_key,
    create_api_key,
    issue_scoped_api_key,
    revoke_api_key,
    revoke_scoped_api_key,
)


def test_a_scoped_key_acts_as_its_user_and_leaves_the_users_own_key_alone(user, api_key):
    scoped = issue_scoped_api_key(user=user, scope="hosted:1")
    assert apikeys.user_for_key(scoped) == user and apikeys.user_for_key(api_key) == user
    assert active_api_key(user=user).scope == ""  # the page shows the user's own key, not a strategy's


def test_regenerating_or_revoking_the_users_key_keeps_the_scoped_keys(user, api_key):
    scoped = issue_scoped_api_key(user=user, scope="hosted:1")
    new_key = create_api_key(user=user)
    revoke_api_key(user=user)
    apikeys.verified_keys.clear()
    assert apikeys.user_for_key(new_key) is None and apikeys.user_for_key(api_key) is None
    assert apikeys.user_for_key(scoped) == user


def test_a_new_scoped_key_replaces_the_scopes_previous_one_only(user):
    first = issue_scoped_api_key(user=user, scope="hosted:1")
    other = issue_scoped_api_key(user=user, scope="hosted:2")
    second = issue_scoped_api_key(user=user, scope="hosted:1")
    apikeys.verified_keys.clear()
    assert apikeys.user_for_key(first) is None
    assert apikeys.user_for_key(second) == user and apikeys.user_for_key(other) == user
    assert revoke_scoped_api_key(user_id=user.pk, scope="hosted:1") == 1
    apikeys.verified_keys.clear()
    assert apikeys.user_for_key(second) is None and apikeys.user_for_key(other) == user


def test_a_user_still_has_one_own_key_at_most(user, api_key):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(user=user, digest="d" * 64, key_hash="x")


def test_a_scope_is_required(user):
    with pytest.raises(ValueError):
        issue_scoped_api_key(user=user, scope="")
    with pytest.raises(ValueError):
        revoke_scoped_api_key(user_id=user.pk, scope="")

