"""A local fake of the Telegram Bot HTTP API (https://core.telegram.org/bots/api) over respx:
getMe, sendMessage, setWebhook, deleteWebhook and getUpdates answer as the Bot API
documents (``{"ok": true, "result": ...}``, or ``{"ok": false, "error_code", "description",
"parameters"}``), and every call is recorded."""

from __future__ import annotations

import itertools
import json
import time
from urllib.parse import parse_qsl

import httpx
import respx

TOKEN = "123456789:AAHfakeTokenForTestsOnly_abcdefghij"
BOT_ID = 123456789
BOT_USERNAME = "openalgo_test_bot"
API = "https://api.telegram.org"


def _params(request: httpx.Request) -> dict:
    """The method's parameters, posted as a form (python-telegram-bot) or as JSON."""
    body = request.content.decode()
    if request.headers.get("content-type", "").startswith("application/json"):
        return json.loads(body or "{}")
    params: dict = {}
    for name, value in parse_qsl(body):
        try:
            params[name] = value if name == "text" else json.loads(value)
        except ValueError:
            params[name] = value
    return params


def user_update(update_id: int, text: str, *, user_id: int = 555000111, username: str = "trader_tg",
                chat_id: int | None = None) -> dict:
    """An Update with a private-chat Message, as Telegram posts it."""
    chat = chat_id or user_id
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id * 10, "date": int(time.time()), "text": text,
            "from": {"id": user_id, "is_bot": False, "first_name": "Asha", "username": username,
                     "language_code": "en"},
            "chat": {"id": chat, "type": "private", "first_name": "Asha", "username": username},
            **({"entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}
               if text.startswith("/") else {}),
        },
    }


class FakeTelegram:
    def __init__(self, router: respx.MockRouter, token: str = TOKEN) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.sent: list[dict] = []
        self.updates: list[dict] = []
        self.webhook: dict = {}
        # Answers to give to the next sendMessage calls before succeeding: (HTTP status, body).
        self.send_failures: list[tuple[int, dict]] = []
        self.poll_failures: list[tuple[int, dict]] = []  # the same, for getUpdates
        self._ids = itertools.count(1)
        base = f"{API}/bot{token}"
        for method in ("getMe", "sendMessage", "setWebhook", "deleteWebhook", "getUpdates"):
            router.post(f"{base}/{method}").mock(side_effect=getattr(self, f"_{method}"))

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m["text"] for m in self.sent if chat_id is None or m["chat_id"] == chat_id]

    def methods(self) -> list[str]:
        return [name for name, _ in self.calls]

    @staticmethod
    def ok(result) -> httpx.Response:
        return httpx.Response(200, json={"ok": True, "result": result})

    def _record(self, name: str, request: httpx.Request) -> dict:
        params = _params(request)
        self.calls.append((name, params))
        return params

    def _getMe(self, request: httpx.Request) -> httpx.Response:
        self._record("getMe", request)
        return self.ok({"id": BOT_ID, "is_bot": True, "first_name": "OpenAlgo", "username": BOT_USERNAME,
                        "can_join_groups": True, "can_read_all_group_messages": False,
                        "supports_inline_queries": False})

    def _sendMessage(self, request: httpx.Request) -> httpx.Response:
        params = self._record("sendMessage", request)
        if self.send_failures:
            status, body = self.send_failures.pop(0)
            return httpx.Response(status, json=body)
        if params.get("parse_mode") == "Markdown" and params["text"].count("*") % 2:
            return httpx.Response(400, json={"ok": False, "error_code": 400, "description":
                                             "Bad Request: can't parse entities: Can't find end of the entity"})
        chat_id = int(params["chat_id"])
        self.sent.append({"chat_id": chat_id, "text": params["text"], "parse_mode": params.get("parse_mode")})
        return self.ok({"message_id": next(self._ids), "date": int(time.time()), "text": params["text"],
                        "chat": {"id": chat_id, "type": "private"},
                        "from": {"id": BOT_ID, "is_bot": True, "first_name": "OpenAlgo", "username": BOT_USERNAME}})

    def _setWebhook(self, request: httpx.Request) -> httpx.Response:
        self.webhook = self._record("setWebhook", request)
        return httpx.Response(200, json={"ok": True, "result": True, "description": "Webhook was set"})

    def _deleteWebhook(self, request: httpx.Request) -> httpx.Response:
        self._record("deleteWebhook", request)
        self.webhook = {}
        return httpx.Response(200, json={"ok": True, "result": True, "description": "Webhook was deleted"})

    def _getUpdates(self, request: httpx.Request) -> httpx.Response:
        params = self._record("getUpdates", request)
        if self.poll_failures:
            status, body = self.poll_failures.pop(0)
            return httpx.Response(status, json=body)
        offset = int(params.get("offset") or 0)
        pending = [u for u in self.updates if u["update_id"] >= offset]
        return self.ok(pending)


def too_many_requests(retry_after: int) -> tuple[int, dict]:
    return 429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry_after}",
                 "parameters": {"retry_after": retry_after}}


def blocked() -> tuple[int, dict]:
    return 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
