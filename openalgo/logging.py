"""Secret masking for every log record, and an optional JSON log formatter."""

from __future__ import annotations

import json
import logging
import re

MASK = "***"

# Names whose values are secrets wherever they appear: JSON bodies, query strings,
# form posts, reprs of dicts and keyword arguments.
_SECRET_NAMES = (
    r"api[_-]?key|apikey|x-api-key|api[_-]?secret|secret[_a-z]*|password[0-9]?|passwd|pin"
    r"|(?:access|refresh|auth|feed|request|session|csrf)?[_-]?token|otp[_a-z]*|totp[_a-z]*"
    r"|authorization|pepper|fernet[_a-z]*"
)
_QUOTED_VALUE = re.compile(
    r"""(?P<key>["']?(?:""" + _SECRET_NAMES + r""")["']?\s*[:=]\s*)(?P<q>["'])(?P<value>(?:\\.|(?!(?P=q)).)*)(?P=q)""",
    re.IGNORECASE,
)
_BARE_VALUE = re.compile(
    r"""(?P<key>(?<![\w-])(?:""" + _SECRET_NAMES + r""")\s*[:=]\s*)(?P<value>(?!["'\s])[^\s&,;)}\]]+)""",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<key>\b(?:Bearer|token)\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
# One-time codes written loosely ("totp code: 123456", "OTP 123456").
_OTP_CODE = re.compile(r"(?P<key>\b(?:t?otp|2fa|mfa)\b[^0-9\n]{0,16})(?P<value>\d{6,8})\b", re.IGNORECASE)
# Anything shaped like an OpenAlgo key or a long hex token, wherever it stands.
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def mask_secrets(text: str) -> str:
    """Return ``text`` with every recognisable secret value replaced by ``***``."""
    if not text:
        return text
    text = _BEARER.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _QUOTED_VALUE.sub(lambda m: f"{m['key']}{m['q']}{MASK}{m['q']}", text)
    text = _BARE_VALUE.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _OTP_CODE.sub(lambda m: f"{m['key']}{MASK}", text)
    return _LONG_HEX.sub(MASK, text)


_installed = False
_traceback_formatter = logging.Formatter()


def install_secret_masking() -> None:
    """Mask every record at creation, so all handlers (files, consoles, test capture) agree."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def masking_factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = mask_secrets(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters reuse a cached exc_text, so the masked traceback is what every
            # handler prints (exception messages can quote tokens and URLs).
            record.exc_text = mask_secrets(_traceback_formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(masking_factory)
    _installed = True


class MaskingFormatter(logging.Formatter):
    """Masks the final line too: tracebacks and exception texts can carry secrets."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


class JsonFormatter(MaskingFormatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(payload, default=str))


class QuietConnections(logging.Filter):
    """Drops uvicorn's two INFO lines per accepted WebSocket ("... "WebSocket /" [accepted]",
    "connection open"; and "connection closed"): a feed server takes thousands of them a
    day, daphne's were off too. Startup, worker restarts, refused handshakes and errors
    still show."""

    _ACCEPTED = re.compile(r' - "WebSocket [^"]*" \[accepted\]$')

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return message not in ("connection open", "connection closed") and not self._ACCEPTED.search(message)
