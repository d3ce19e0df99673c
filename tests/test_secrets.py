"""Secrets never reach error pages, the admin, API responses or logs. The session-wide log
scan is tests/secretscan.py; here it is proven to fail a run that logs a secret."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import secretscan

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Tr0ub4dor-and-3-more-words"
ACCESS_TOKEN = "eyJhbGciOi.broker-access-token-5521"
FEED_TOKEN = "feed-token-88c1f0e2-77"
APP_SECRET = "app-secret-6b7e2a19dd"
APP_KEY = "app-key-0d9c3e11aa"


@pytest.fixture
def owner(make_user):
    from accounts.services import create_api_key, store_broker_app_credentials, store_broker_session

    user = make_user(username="carol", password=PASSWORD)
    key = create_api_key(user=user)
    store_broker_app_credentials(user=user, broker="zerodha", api_key=APP_KEY, api_secret=APP_SECRET)
    credential = store_broker_session(user=user, broker="zerodha", access_token=ACCESS_TOKEN, feed_token=FEED_TOKEN)
    return user, key, credential


def secrets_of(key: str, credential=None) -> list[str]:
    from django.conf import settings

    values = [key, PASSWORD, ACCESS_TOKEN, FEED_TOKEN, APP_SECRET, APP_KEY, settings.SECRET_KEY,
              settings.API_KEY_PEPPER, *settings.FERNET_KEYS]
    if credential is not None:
        values += [credential.api_key_encrypted, credential.api_secret_encrypted, credential.access_token_encrypted]
    return values


def assert_clean(text: str, values: list[str], where: str) -> None:
    for value in values:
        assert value not in text, f"a secret ({value[:4]}…) in {where}"


# --- the plugin ---------------------------------------------------------------------------------


def test_the_plugin_tracks_the_secrets_the_fixtures_hand_out(owner):
    _user, key, _credential = owner
    from django.conf import settings

    tracked = secretscan.registry.secrets
    assert tracked.get(key) == "API key"
    assert tracked.get(PASSWORD) == "password"
    assert tracked.get(ACCESS_TOKEN) == "broker access_token"
    assert tracked.get(APP_SECRET) == "broker api_secret"
    assert tracked.get(settings.API_KEY_PEPPER) == "API_KEY_PEPPER"
    assert tracked.get(settings.SECRET_KEY) == "SECRET_KEY"


def test_the_plugin_tracks_totp_secrets_and_recovery_codes(user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import otp

    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    assert secretscan.registry.secrets.get(device.key) == "TOTP secret"
    codes = otp.issue_recovery_codes(user) if hasattr(otp, "issue_recovery_codes") else []
    for code in codes:
        assert secretscan.registry.secrets.get(code) == "recovery code"


def test_scan_names_the_kind_and_masks_the_secret(tmp_path):
    secretscan.registry.add("broker access_token", "zz-planted-token-123456")
    log = tmp_path / "session.log"
    log.write_text("INFO a: fine\nERROR b: retry with zz-planted-token-123456 failed\n")
    (finding,) = secretscan.scan(log)
    assert finding.startswith("broker access_token in session.log:2:")
    assert "zz-planted-token-123456" not in finding and secretscan.MASK in finding


def test_a_session_that_logs_a_secret_fails(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_ADDOPTS")}
    env.update(OPENALGO_VAR_DIR=str(tmp_path / "var"))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/planted_leak.py", "-q", "-p", "no:randomly"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    output = result.stdout + result.stderr
    assert "1 passed" in output, output  # the test itself passes: only the scan fails the run
    assert result.returncode == 1, output
    assert "password in session-" in output and "API key in session-" in output, output
    assert "planted-Horse-91-battery" not in output  # reported masked
    log = next((tmp_path / "var" / "test-logs").glob("session-*.log")).read_text()
    assert "planted-Horse-91-battery" in log  # the file itself keeps the evidence


# --- error pages ---------------------------------------------------------------------------------


def test_404_pages_do_not_echo_a_secret_in_the_address(client, owner, settings):
    settings.DEBUG = False
    _user, key, credential = owner
    for path in (f"/nowhere/{key}/", f"/account/?apikey={key}&token={ACCESS_TOKEN}", f"/api/v1/nowhere?apikey={key}",
                 f"/api/v1/nowhere/{key}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_clean(response.content.decode(), secrets_of(key, credential), path)


def test_a_500_page_shows_nothing_of_the_exception(client, owner, settings, monkeypatch, caplog):
    settings.DEBUG = False
    user, key, credential = owner

    def explode(**kwargs):
        raise RuntimeError(f"upstream refused apikey={key} access_token={ACCESS_TOKEN} Bearer {FEED_TOKEN}")

    monkeypatch.setattr("accounts.views.active_api_key", explode)
    client.force_login(user)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = client.get("/account/apikey/")
    assert response.status_code == 500
    assert_clean(response.content.decode(), secrets_of(key, credential), "the 500 page")
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "upstream refused" in logged  # the error is logged, its secrets masked
    assert_clean(logged, secrets_of(key, credential), "the error log")


def test_an_api_500_answers_the_generic_envelope(client, owner, monkeypatch, caplog):
    _user, key, credential = owner

    def explode(user):
        raise RuntimeError(f"broker session broke: token={ACCESS_TOKEN} key {key}")

    monkeypatch.setattr("accounts.api.active_broker_name", explode)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = client.post("/api/v1/ping", data=json.dumps({"apikey": key}), content_type="application/json")
    assert response.status_code == 500
    assert response.json() == {"status": "error", "message": "An unexpected error occurred"}
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert_clean(logged, secrets_of(key, credential), "the API error log")


# --- the admin ----------------------------------------------------------------------------------


def test_admin_pages_never_show_a_key_a_token_or_its_ciphertext(admin_client, owner):
    from accounts.models import ApiKey

    user, key, credential = owner
    api_key = ApiKey.objects.get(user=user, revoked_at__isnull=True)
    values = secrets_of(key, credential)
    for path in ("/admin/accounts/apikey/", f"/admin/accounts/apikey/{api_key.pk}/change/",
                 "/admin/accounts/brokercredential/", f"/admin/accounts/brokercredential/{credential.pk}/change/",
                 f"/admin/accounts/user/{user.pk}/change/", "/admin/accounts/auditevent/",
                 f"/admin/accounts/brokercredential/{credential.pk}/history/"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert_clean(response.content.decode(), values, path)


def test_the_broker_credential_change_form_cannot_set_or_reveal_secrets(admin_client, owner):
    _user, _key, credential = owner
    response = admin_client.get(f"/admin/accounts/brokercredential/{credential.pk}/change/")
    text = response.content.decode()
    for field in ("api_key_encrypted", "api_secret_encrypted", "access_token_encrypted", "feed_token_encrypted"):
        assert f'name="{field}"' not in text


# --- API responses --------------------------------------------------------------------------------


def test_no_api_response_contains_the_key_or_a_server_secret(client, owner, market, settings):
    from tests.test_authorization import _schema, api_paths, body_for

    settings.RATELIMIT_ENABLE = False
    _user, key, credential = owner
    from accounts.models import BrokerCredential

    BrokerCredential.objects.filter(pk=credential.pk).update(access_token_encrypted="")  # sandbox serves
    values = secrets_of(key, credential)
    schema = _schema()
    world = {"open_orderid": "1"}
    for path in api_paths():
        schema_path = "/api/v1/" + ("ticker/{ticker}" if path.startswith("ticker/") else path)
        body = body_for(schema, schema_path, world)
        if path.startswith("ticker/") or path == "instruments":
            response = client.get(f"/api/v1/{path}", {"apikey": key, **body, "from": "2026-01-01", "to": "2026-01-05"})
        else:
            response = client.post(f"/api/v1/{path}", data=json.dumps({"apikey": key, **body}),
                                   content_type="application/json")
        assert_clean(response.content.decode(), values, path)
        # A wrong key, or a body refused by validation, is not echoed either.
        bogus = "f" * 63 + "0"
        response = client.post(f"/api/v1/{path}", data=json.dumps({"apikey": bogus, "quantity": key}),
                               content_type="application/json")
        assert_clean(response.content.decode(), [*values, bogus], f"{path} (refused)")
