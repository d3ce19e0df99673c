"""Under ASGI an API answer is rendered on the thread that ran its view: Django's async
handler would otherwise render a DRF Response in a thread round trip of its own."""

from __future__ import annotations

import asyncio
import collections
import json

import pytest
from asgiref import sync
from asgiref.sync import async_to_sync


def _call(app, path: str, body: dict) -> tuple[int, dict, bytes]:
    raw = json.dumps(body).encode()
    messages = [{"type": "http.request", "body": raw, "more_body": False}]
    sent: list[dict] = []

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)  # the client never disconnects

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(raw)).encode())],
             "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 5000)}
    async_to_sync(app)(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"]), b"".join(m.get("body", b"") for m in sent
                                                             if m["type"] == "http.response.body")


@pytest.mark.django_db(transaction=True)
def test_an_api_answer_is_rendered_on_the_view_thread(api_key, monkeypatch):
    from openalgo.threads import PooledSyncThreads, api_application

    hops: collections.Counter = collections.Counter()
    original = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops[getattr(self.func, "__qualname__", repr(self.func))] += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    app = PooledSyncThreads(api_application(), 2)
    status, headers, body = _call(app, "/api/v1/ping", {"apikey": api_key})
    assert status == 200
    assert headers[b"Content-Type"] == b"application/json"
    assert json.loads(body) == {"status": "success", "data": {"message": "pong", "broker": "sandbox"}}
    assert not [name for name in hops if "render" in name], hops  # no round trip just to render
    assert sum(hops.values()) == 3, hops  # request started, the view, request finished

    status, _, body = _call(app, "/api/v1/ping", {"apikey": "not-a-key"})  # an error answer too
    assert status == 403
    assert json.loads(body)["status"] == "error"
