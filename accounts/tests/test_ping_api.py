"""POST /api/v1/ping through HTTP: the API plumbing and every documented error shape."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.services import create_api_key, revoke_api_key, store_broker_session

INVALID = {"status": "error", "message": "Invalid openalgo apikey"}
PONG = {"status": "success", "data": {"message": "pong", "broker": "sandbox"}}


@pytest.mark.parametrize("path", ["/api/v1/ping", "/api/v1/ping/"])
def test_ping_answers_pong_with_and_without_the_trailing_slash(post_json, api_key, path):
    response = post_json(path, {"apikey": api_key})
    assert response.status_code == 200
    assert response.json() == PONG


def test_ping_names_the_live_broker_once_the_user_is_logged_in_to_one(post_json, api_key, user):
    store_broker_session(user=user, broker="zerodha", access_token="tok")
    assert post_json("/api/v1/ping", {"apikey": api_key}).json()["data"]["broker"] == "zerodha"


def test_a_wrong_key_gets_403_with_the_exact_spec_body(post_json, api_key):
    response = post_json("/api/v1/ping", {"apikey": "f" * 64})
    assert response.status_code == 403
    assert response.json() == INVALID


def test_a_revoked_key_gets_403(post_json, api_key, user):
    revoke_api_key(user=user)
    response = post_json("/api/v1/ping", {"apikey": api_key})
    assert (response.status_code, response.json()) == (403, INVALID)


def test_a_replaced_key_gets_403_and_the_new_one_works(post_json, api_key, user):
    new_key = create_api_key(user=user)
    assert post_json("/api/v1/ping", {"apikey": api_key}).status_code == 403
    assert post_json("/api/v1/ping", {"apikey": new_key}).status_code == 200


def test_a_missing_body_names_the_missing_field_in_the_v_b_style(client):
    response = client.post("/api/v1/ping", data="", content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": {"apikey": ["Missing data for required field."]}}


def test_a_body_that_is_not_json_is_a_400_not_a_500(post_json):
    response = post_json("/api/v1/ping", "{apikey: nope")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": "Invalid JSON body"}


def test_a_json_body_that_is_not_an_object_is_a_400(post_json):
    response = post_json("/api/v1/ping", "[1, 2]")
    assert response.status_code == 400
    assert response.json()["status"] == "error"


def test_json_sent_as_text_plain_is_accepted_like_tradingview_sends_it(client, api_key):
    response = client.post("/api/v1/ping", data=json.dumps({"apikey": api_key}), content_type="text/plain")
    assert response.status_code == 200


def test_an_unknown_field_is_refused_before_the_key_is_checked(post_json):
    response = post_json("/api/v1/ping", {"apikey": "not-a-key", "price_type": "LIMIT"})
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": {"price_type": ["Unknown field."]}}


@pytest.mark.parametrize(
    "apikey, message",
    [
        (None, "Field may not be null."),
        ("", "Missing data for required field."),
        (12345, "Not a valid string."),
        ("k" * 257, "Length must be between 1 and 256."),
    ],
)
def test_a_malformed_key_field_is_a_validation_error(post_json, apikey, message):
    response = post_json("/api/v1/ping", {"apikey": apikey})
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": {"apikey": [message]}}


def test_the_key_may_come_from_the_query_string(client, api_key):
    response = client.post(f"/api/v1/ping?apikey={api_key}", data="", content_type="application/json")
    assert response.status_code == 200


def test_the_x_api_key_header_is_accepted_as_a_fallback(post_json, api_key):
    assert post_json("/api/v1/ping", {}, HTTP_X_API_KEY=api_key).status_code == 200


def test_the_body_key_wins_over_the_header(post_json, api_key):
    response = post_json("/api/v1/ping", {"apikey": "wrong"}, HTTP_X_API_KEY=api_key)
    assert (response.status_code, response.json()) == (403, INVALID)


def test_a_body_over_the_cap_is_refused_with_413(post_json, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = post_json("/api/v1/ping", {"apikey": "a" * 2000})
    assert response.status_code == 413
    assert response.json() == {"status": "error", "message": "Request body too large"}


def test_a_get_is_405_with_the_reference_body(client):
    response = client.get("/api/v1/ping")
    assert response.status_code == 405
    assert response.json() == {"message": "The method is not allowed for the requested URL."}


def test_an_unknown_api_path_is_a_json_404(client):
    response = client.post("/api/v1/no-such-endpoint")
    assert response.status_code == 404
    assert response.json()["status"] == "error"


def test_the_api_needs_no_csrf_token_or_session(api_key):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/api/v1/ping", data=json.dumps({"apikey": api_key}), content_type="application/json")
    assert response.status_code == 200


def test_going_over_the_rate_limit_answers_429_with_retry_after(post_json, api_key, settings):
    settings.API_RATE_LIMIT = "3 per minute"
    codes = [post_json("/api/v1/ping", {"apikey": api_key}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    body = post_json("/api/v1/ping", {"apikey": api_key}).json()
    assert body["status"] == "error"
    assert body["message"] == "Rate limit exceeded. Please slow down your requests."
    assert 1 <= body["retry_after"] <= 60


def test_rate_limits_count_per_client_ip(post_json, api_key, settings):
    settings.API_RATE_LIMIT = "1 per minute"
    assert post_json("/api/v1/ping", {"apikey": api_key}, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert post_json("/api/v1/ping", {"apikey": api_key}, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert post_json("/api/v1/ping", {"apikey": api_key}, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_a_cached_ping_does_no_database_query_beyond_the_broker_lookup(
    post_json, api_key, django_assert_max_num_queries, settings
):
    settings.API_KEY_RECHECK_SECONDS = 60
    post_json("/api/v1/ping", {"apikey": api_key})
    with django_assert_max_num_queries(1):
        assert post_json("/api/v1/ping", {"apikey": api_key}).status_code == 200


def test_an_unexpected_error_is_a_json_500_without_a_stack_trace(post_json, api_key, monkeypatch):
    import accounts.api

    def explode(user):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(accounts.api, "active_broker_name", explode)
    response = post_json("/api/v1/ping", {"apikey": api_key})
    assert response.status_code == 500
    assert response.json() == {"status": "error", "message": "An unexpected error occurred"}
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
