"""Under ASGI an API answer is rendered on the thread that ran its view: Django's async
handler would otherwise render a DRF Response in a thread round trip of its own."""

from __future__ import annotations

import collections
import json

import pytest
from asgiref import sync

from core.tests.asgi import asgi_request


def _call(app, path: str, body: dict) -> tuple[int, dict[str, str], bytes]:
    return asgi_request(app, "POST", path, json.dumps(body).encode(), host="127.0.0.1")


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
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "success", "data": {"message": "pong", "broker": "sandbox"}}
    assert not [name for name in hops if "render" in name], hops  # no round trip just to render
    assert sum(hops.values()) == 3, hops  # request started, the view, request finished

    status, _, body = _call(app, "/api/v1/ping", {"apikey": "not-a-key"})  # an error answer too
    assert status == 403
    assert json.loads(body)["status"] == "error"
