"""Secrets never reach a log line: keys, tokens, passwords and one-time codes are masked."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from openalgo.logging import JsonFormatter, MaskingFormatter, mask_secrets

KEY = "3f" * 32


@pytest.mark.parametrize(
    "line, secret",
    [
        ('{"apikey": "' + KEY + '", "symbol": "SBIN"}', KEY),
        ("{'password': 'hunter2-long', 'username': 'a'}", "hunter2-long"),
        ("POST /api/v1/ping?apikey=shortkey&x=1", "shortkey"),
        ("access_token=eyJhbGciOiJIUzI1NiJ9.payload.sig refreshed", "eyJhbGciOiJIUzI1NiJ9.payload.sig"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ('{"api_secret": "s3cr3t-value"}', "s3cr3t-value"),
        ("feed_token: ft-99887766", "ft-99887766"),
        ("otp_token=482913", "482913"),
        ("user entered TOTP code 482913", "482913"),
        (f"a bare key {KEY} in text", KEY),
        ('{"apikey": "with \\" quote"}', 'with \\" quote'),
    ],
)
def test_secrets_are_masked_wherever_they_stand(line, secret):
    masked = mask_secrets(line)
    assert secret not in masked
    assert "***" in masked


def test_ordinary_trading_fields_are_left_alone():
    line = '{"symbol": "NIFTY28NOV2524000CE", "quantity": "75", "orderid": "25112412345678"}'
    assert mask_secrets(line) == line


def test_every_logger_masks_secrets_in_arguments_and_request_bodies(caplog):
    logger = logging.getLogger("orders.services")
    body = {"apikey": KEY, "symbol": "SBIN", "password": "pw-123456"}
    with caplog.at_level(logging.INFO):
        logger.info("placeorder body=%s", json.dumps(body))
        logger.warning("login failed for %s with password=%s", "alice", "pw-123456")
    text = caplog.text
    assert KEY not in text and "pw-123456" not in text
    assert "SBIN" in text and "alice" in text


def test_exception_text_in_the_formatted_line_is_masked_too():
    try:
        raise RuntimeError(f"broker said: bad access_token=tok-{KEY}")
    except RuntimeError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    for formatter in (MaskingFormatter("%(message)s"), JsonFormatter()):
        assert KEY not in formatter.format(record)


def test_json_logs_are_one_json_object_per_line():
    record = logging.getLogger("x").makeRecord("core.api", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    payload = json.loads(JsonFormatter().format(record))
    assert payload["message"] == "hello world" and payload["level"] == "INFO" and payload["logger"] == "core.api"


def test_a_failing_api_request_logs_no_secret_from_its_body(post_json, api_key, caplog, monkeypatch):
    import accounts.api

    def explode(user):
        raise RuntimeError(f"failed while handling apikey={api_key}")

    monkeypatch.setattr(accounts.api, "active_broker_name", explode)
    with caplog.at_level(logging.INFO):
        assert post_json("/api/v1/ping", {"apikey": api_key}).status_code == 500
    assert "Unhandled error" in caplog.text
    assert api_key not in caplog.text
    for record in caplog.records:
        if record.exc_info:
            assert api_key not in MaskingFormatter("%(message)s").format(record)
