"""The API key page: the key is shown once, then only its status; it works, then it's revoked."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import ApiKey

KEY = re.compile(r'data-testid="new-api-key">([0-9a-f]{64})<')


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def generate(client) -> str:
    """Press "Generate new key" on a freshly loaded page."""
    current = re.search(r'name="current" value="(\d*)"', client.get("/account/apikey/").content.decode()).group(1)
    response = client.post("/account/apikey/", {"action": "generate", "current": current})
    assert response.status_code == 200
    match = KEY.search(response.content.decode())
    assert match, "the new key is on the page"
    return match.group(1)


def test_the_page_needs_a_signed_in_user(client, user):
    assert client.get("/account/apikey/").url == "/login/?next=/account/apikey/"
    assert client.post("/account/apikey/", {"action": "generate"}).url == "/login/?next=/account/apikey/"
    assert not ApiKey.objects.exists()


def test_at_first_the_page_says_there_is_no_active_key(signed_in):
    page = signed_in.get("/account/apikey/").content.decode()
    assert "No active key" in page
    assert "Generate new key" in page and 'value="revoke"' not in page


def test_a_generated_key_is_shown_once_and_then_answers_ping(signed_in, user, post_json):
    key = generate(signed_in)
    assert post_json("/api/v1/ping", {"apikey": key}).json()["data"]["message"] == "pong"
    later = signed_in.get("/account/apikey/").content.decode()
    assert key not in later
    assert "Active" in later and "created" in later
    assert 'value="revoke"' in later


def test_the_key_is_kept_neither_in_the_session_nor_in_messages(signed_in):
    key = generate(signed_in)
    assert key not in repr(dict(signed_in.session.items()))
    assert key not in signed_in.cookies.output()


def test_the_page_showing_the_key_must_not_be_cached(signed_in):
    response = signed_in.post("/account/apikey/", {"action": "generate", "current": ""})
    assert "no-store" in response["Cache-Control"]


def test_generating_again_replaces_the_old_key(signed_in, post_json):
    old = generate(signed_in)
    new = generate(signed_in)
    assert old != new
    assert post_json("/api/v1/ping", {"apikey": old}).status_code == 403
    assert post_json("/api/v1/ping", {"apikey": new}).status_code == 200


def test_a_resubmitted_generate_form_keeps_the_key_just_shown(signed_in, post_json):
    key = generate(signed_in)
    again = signed_in.post("/account/apikey/", {"action": "generate", "current": ""})  # browser reload
    assert again.url == "/account/apikey/"
    assert "no new key was generated" in signed_in.get("/account/apikey/").content.decode()
    assert ApiKey.objects.count() == 1
    assert post_json("/api/v1/ping", {"apikey": key}).status_code == 200


def test_revoking_makes_ping_refuse_the_key_with_403(signed_in, user, post_json):
    key = generate(signed_in)
    assert post_json("/api/v1/ping", {"apikey": key}).status_code == 200
    response = signed_in.post("/account/apikey/", {"action": "revoke"})
    assert response.url == "/account/apikey/"
    refused = post_json("/api/v1/ping", {"apikey": key})
    assert (refused.status_code, refused.json()) == (403, {"status": "error", "message": "Invalid openalgo apikey"})
    page = signed_in.get("/account/apikey/").content.decode()
    assert "Your API key was revoked." in page and "No active key" in page


def test_generating_without_a_csrf_token_is_refused_and_makes_no_key(user):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert strict.post("/account/apikey/", {"action": "generate"}).status_code == 403
    assert not ApiKey.objects.exists()


def test_an_unknown_action_changes_nothing(signed_in, api_key, post_json):
    assert signed_in.post("/account/apikey/", {"action": "explode"}).url == "/account/apikey/"
    assert post_json("/api/v1/ping", {"apikey": api_key}).status_code == 200
