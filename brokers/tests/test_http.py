"""The shared broker HTTP path against a real local HTTP server: the egress address it
binds, how it classifies what every broker means the same way, and that it never resends."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from brokers.base import BrokerRateLimited, BrokerUnavailable
from brokers.http import BrokerHTTP, check_status, json_of


class Server:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []  # (path, client address)
        self.answers: dict[str, tuple[int, dict[str, str], bytes]] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.seen.append((self.path, self.client_address[0]))
                if self.path == "/slow":
                    time.sleep(1.0)
                if self.path == "/drop":
                    self.connection.close()
                    return
                status, headers, body = outer.answers.get(self.path, (200, {}, b'{"ok": true}'))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # the client gave up on /slow: the write fails, as expected

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.httpd.shutdown()


def classify(response: httpx.Response) -> object:
    check_status(response, "Test")
    return json_of(response, "Test")


def make(server: Server, settings, **change) -> BrokerHTTP:
    settings.TESTBROKER_BASE_URL = server.url
    return BrokerHTTP("Test", base_url_setting="TESTBROKER_BASE_URL", default_base_url="https://x.invalid", **change)


def test_calls_leave_from_the_configured_egress_address(server, settings):
    settings.BROKER_EGRESS_IP = "127.0.0.2"  # any 127/8 address is local on Linux
    http = make(server, settings)
    assert http.request("GET", "/a", classify=classify) == {"ok": True}
    settings.BROKER_EGRESS_IP = ""
    http.close()
    http.request("GET", "/b", classify=classify)
    assert server.seen == [("/a", "127.0.0.2"), ("/b", "127.0.0.1")]


def test_one_pooled_client_per_broker_is_reused(server, settings):
    http = make(server, settings)
    first = http.client()
    http.request("GET", "/a", classify=classify)
    assert http.client() is first
    http.close()
    assert http.client() is not first


def test_429_and_5xx_and_bad_json_are_classified(server, settings):
    http = make(server, settings)
    server.answers["/busy"] = (429, {"Retry-After": "7"}, b"{}")
    server.answers["/down"] = (503, {}, b"<html>")
    server.answers["/junk"] = (200, {}, b'{"data": [')
    with pytest.raises(BrokerRateLimited) as limited:
        http.request("GET", "/busy", classify=classify)
    assert limited.value.retry_after == 7.0
    with pytest.raises(BrokerUnavailable, match="HTTP 503"):
        http.request("GET", "/down", classify=classify)
    with pytest.raises(BrokerUnavailable, match="unreadable JSON"):
        http.request("GET", "/junk", classify=classify)


def test_a_timeout_is_unavailable_and_a_dropped_connection_is_not_resent(server, settings):
    http = make(server, settings, timeout=httpx.Timeout(0.2))
    with pytest.raises(BrokerUnavailable, match="did not answer GET /slow in time"):
        http.request("GET", "/slow", classify=classify)
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        http.request("GET", "/drop", classify=classify)
    assert [path for path, _ in server.seen].count("/drop") == 1


def test_a_token_in_a_query_string_never_reaches_the_logs(server, settings, caplog):
    """Kite's logout sends the access token in the query: httpx's INFO line would log it."""
    caplog.set_level(logging.DEBUG)
    http = make(server, settings)
    http.request("GET", "/a", classify=classify, params={"access_token": "tok-SECRET-123"})
    assert server.seen[-1][0] == "/a?access_token=tok-SECRET-123"
    assert "tok-SECRET-123" not in caplog.text
