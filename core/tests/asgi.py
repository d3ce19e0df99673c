"""One HTTP request through an ASGI application in the test's own process, as a server
would make it (the tests of the API handler, its middleware and its threads)."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync


def asgi_request(app, method: str, path: str, body: bytes = b"", *, scheme: str = "http", query: str = "",
                 host: str = "testserver") -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of ``method path`` sent to ``app``."""

    async def run() -> tuple[int, dict[str, str], bytes]:
        sent: list[dict] = []
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive():
            if messages:
                return messages.pop(0)
            await asyncio.Event().wait()  # the client stays connected (Django cancels on disconnect)

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": scheme, "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                 "root_path": "", "headers": [(b"host", host.encode()), (b"content-type", b"application/json"),
                                              (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 5555), "server": (host, 80)}
        await app(scope, receive, send)
        start = next((m for m in sent if m["type"] == "http.response.start"), None)
        assert start is not None, sent
        headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        return start["status"], headers, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    return async_to_sync(run)()
