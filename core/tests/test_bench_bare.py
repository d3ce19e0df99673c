"""The benchmarks' bare view (BENCH_BARE_VIEW): off by default, and when on it answers
through the API's own handler and middleware (bench/hotpath.py's reference)."""

from __future__ import annotations

import asyncio
import importlib

import pytest
from asgiref.sync import async_to_sync
from django.test import override_settings
from django.urls import clear_url_caches

from openalgo import api_urls, urls


def test_no_bare_view_by_default(client):
    response = client.post("/api/v1/bench/bare", {}, content_type="application/json")
    assert response.status_code == 404


@pytest.fixture
def bare_view_on():
    with override_settings(BENCH_BARE_VIEW=True):
        importlib.reload(api_urls)
        importlib.reload(urls)
        clear_url_caches()
        yield
    importlib.reload(api_urls)
    importlib.reload(urls)
    clear_url_caches()


@pytest.mark.django_db
def test_bare_view_answers_through_the_api_stack(bare_view_on):
    from openalgo.threads import api_application

    handler = api_application()
    sent: list[dict] = []
    messages = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)  # the client never disconnects

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/v1/bench/bare", "raw_path": b"/api/v1/bench/bare", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 5000)}
    async_to_sync(handler)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 200
    headers = dict(start["headers"])
    assert headers[b"Content-Security-Policy"].startswith(b"default-src 'none'")  # the API middleware ran
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert body == b'{"status": "success", "data": {"message": "bare"}}'
