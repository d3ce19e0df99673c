"""GET|POST /api/v1/chart (spec §10.9): a key's user's chart preferences, every limit and
error text, and isolation between users."""

from __future__ import annotations

import json

import pytest

from accounts.services import create_api_key
from marketdata.models import ChartPreference


@pytest.fixture
def get_chart(client):
    def get(**params):
        response = client.get("/api/v1/chart", params)
        return response.status_code, response.json()

    return get


def test_preferences_round_trip_through_post_and_get(api_call, get_chart, api_key, user):
    assert get_chart(apikey=api_key) == (200, {"status": "success", "data": {}})
    status, body = api_call("chart", interval="5m", drawings=[{"type": "line", "points": [1, 2]}], dark=True)
    assert status == 200 and body["status"] == "success"
    assert get_chart(apikey=api_key) == (200, {"status": "success", "data": {
        "dark": True, "drawings": [{"type": "line", "points": [1, 2]}], "interval": "5m"}})
    api_call("chart", interval="D")  # an upsert: one row per key, the new value wins
    assert ChartPreference.objects.filter(user=user, key="interval").count() == 1
    assert get_chart(apikey=api_key)[1]["data"]["interval"] == "D"


def test_the_key_may_come_in_the_header(client, api_key):
    response = client.get("/api/v1/chart/", HTTP_X_API_KEY=api_key)
    assert (response.status_code, response.json()) == (200, {"status": "success", "data": {}})


def test_a_get_without_apikey_is_400(get_chart, db):
    assert get_chart() == (400, {"status": "error", "message": "Missing apikey parameter"})


def test_a_post_without_apikey_is_400(post_json, db):
    response = post_json("/api/v1/chart", {"interval": "1m"})
    assert (response.status_code, response.json()) == (400, {"status": "error", "message": "Missing apikey parameter"})


def test_an_invalid_key_is_403_and_stores_nothing(get_chart, post_json, db):
    assert get_chart(apikey="not-a-key") == (403, {"status": "error", "message": "Invalid openalgo apikey"})
    response = post_json("/api/v1/chart", {"apikey": "not-a-key", "interval": "1m"})
    assert (response.status_code, response.json()["message"]) == (403, "Invalid openalgo apikey")
    assert not ChartPreference.objects.exists()


def test_a_post_with_no_preference_is_400(api_call):
    assert api_call("chart") == (400, {"status": "error", "message": "No preferences provided to update"})


def test_at_most_50_keys_per_update(api_call, user):
    assert api_call("chart", **{f"k{n}": n for n in range(50)})[0] == 200
    status, body = api_call("chart", **{f"x{n}": n for n in range(51)})
    assert (status, body) == (400, {"status": "error", "message": "Too many preferences: at most 50 keys per update"})
    assert ChartPreference.objects.filter(user=user).count() == 50  # none of the 51 stored


def test_a_key_longer_than_50_characters_is_refused_and_nothing_is_stored(api_call, user):
    assert api_call("chart", **{"k" * 50: 1})[0] == 200
    status, body = api_call("chart", interval="1m", **{"k" * 51: 1})
    assert status == 400 and body["message"] == f"Preference key '{'k' * 50}...' is longer than 50 characters"
    assert set(ChartPreference.objects.filter(user=user).values_list("key", flat=True)) == {"k" * 50}


def test_a_value_larger_than_1_mib_is_refused(api_call, user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024
    limit = 1024 * 1024
    fits = "x" * (limit - 2)  # with its quotes, exactly 1 MiB serialised
    assert len(json.dumps(fits)) == limit
    assert api_call("chart", layout=fits)[0] == 200
    status, body = api_call("chart", layout=fits + "x")
    assert (status, body) == (400, {"status": "error", "message": "Preference 'layout' is larger than 1 MiB"})
    assert len(ChartPreference.objects.get(user=user, key="layout").value) == limit - 2


def test_a_body_that_is_not_an_object_is_400(post_json, api_key):
    response = post_json(f"/api/v1/chart?apikey={api_key}", [1, 2])
    assert response.status_code == 400 and response.json()["status"] == "error"


def test_each_user_sees_only_their_own_preferences(api_call, get_chart, make_user):
    api_call("chart", interval="15m")
    other_key = create_api_key(user=make_user("other"))
    assert get_chart(apikey=other_key) == (200, {"status": "success", "data": {}})


def test_the_endpoint_is_rate_limited(api_call, settings):
    settings.API_RATE_LIMIT = "2 per minute"
    assert api_call("chart", a=1)[0] == 200
    assert api_call("chart", a=2)[0] == 200
    status, body = api_call("chart", a=3)
    assert status == 429 and body["message"] == "Rate limit exceeded. Please slow down your requests."


def test_the_endpoint_is_in_the_openapi_schema_with_both_methods(tmp_path):
    import yaml
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--fail-on-warn", "--file", str(out))
    schema = yaml.safe_load(out.read_text())
    operations = schema["paths"]["/api/v1/chart/"]
    assert {"get", "post"} <= set(operations)
    assert [p["name"] for p in operations["get"]["parameters"]] == ["apikey"]
    assert operations["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ChartInput"}
    assert "apikey" in schema["components"]["schemas"]["ChartInput"]["properties"]
