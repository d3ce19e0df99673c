"""Pytest plugin: no known secret may appear in anything the test session logged.

Every log record of the session (a handler on the root logger, kept attached for every
test) and every warning goes to ``$OPENALGO_VAR_DIR/test-logs/session-<pid>.log``, formatted
plainly (no MaskingFormatter: masking at record creation, openalgo/logging.py, must suffice
on its own). Meanwhile the plugin collects the secrets the session hands out:

* API keys, as ``accounts.apikeys.generate_key`` issues them;
* passwords, as Django's password hashers receive them;
* broker secrets (app keys, secrets, access and feed tokens), as ``BrokerCredential.store``
  encrypts them;
* TOTP secrets (hex and the base32 shown to users) of every saved TOTP device, and
  recovery codes as ``StaticToken.random_token`` makes them;
* ``SECRET_KEY``, ``API_KEY_PEPPER``, each of ``FERNET_KEYS``, ``METRICS_TOKEN``.

At the end of the session the log file is searched for each; any hit fails the run
(exit status 1) with the secret's kind and the offending line, the secret itself masked.
Loaded by the root conftest.py; ``-p no:tests.secretscan`` turns it off.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import threading
from pathlib import Path

import pytest

MIN_LENGTH = 10  # shorter "secrets" (test passwords like "x", "password") would match anywhere
MASK = "********"


class SecretRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.secrets: dict[str, str] = {}  # value -> kind

    def add(self, kind: str, value) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            return
        with self._lock:
            self.secrets.setdefault(value, kind)

    def find(self, line: str) -> list[tuple[str, str]]:
        with self._lock:
            items = list(self.secrets.items())
        return [(kind, value) for value, kind in items if value in line]


registry = SecretRegistry()


class SessionLogHandler(logging.Handler):
    """Appends every record, traceback included, to the session's log file."""

    def __init__(self, path: Path) -> None:
        super().__init__(level=logging.NOTSET)
        self.path = path
        self.stream = path.open("a", encoding="utf-8")
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot be formatted is still written, raw
            line = f"{record.levelname} {record.name}: {record.msg!r} {record.args!r}"
        self.write(line)

    def write(self, text: str) -> None:
        with self.lock:
            if self.stream.closed:  # only finish() ends the file for good
                self.stream = self.path.open("a", encoding="utf-8")
            self.stream.write(text.replace("\n", "\n    ") + "\n")
            self.stream.flush()

    def close(self) -> None:
        """logging.config.dictConfig (any django.setup() in a test) closes every handler it
        drops; the file is simply reopened on the next record."""
        with self.lock:
            if not self.stream.closed:
                self.stream.close()
        super().close()

    def finish(self) -> None:
        self.close()
        self.write = lambda text: None  # late records (atexit, threads) are no longer kept


def _wrap_sources() -> None:
    """Record secrets where the code under test creates or receives them."""
    from django.conf import settings
    from django.db.models.signals import post_save
    from django_otp.plugins.otp_static.models import StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts import apikeys
    from accounts.models import BrokerCredential

    registry.add("SECRET_KEY", settings.SECRET_KEY)
    registry.add("API_KEY_PEPPER", settings.API_KEY_PEPPER)
    for key in settings.FERNET_KEYS:
        registry.add("FERNET_KEYS", key)
    registry.add("METRICS_TOKEN", getattr(settings, "METRICS_TOKEN", ""))

    generate_key = apikeys.generate_key

    def recording_generate_key() -> str:
        key = generate_key()
        registry.add("API key", key)
        return key

    apikeys.generate_key = recording_generate_key

    # Every password Django hashes (make_password, set_password, create_user, check_password).
    from django.contrib.auth.hashers import MD5PasswordHasher, get_hashers

    for hasher_class in {type(hasher) for hasher in get_hashers()} | {MD5PasswordHasher}:
        encode = hasher_class.encode

        def recording_encode(self, password, salt, *args, _encode=encode, **kwargs):
            registry.add("password", password)
            return _encode(self, password, salt, *args, **kwargs)

        hasher_class.encode = recording_encode

    store = BrokerCredential.store

    def recording_store(self, **secrets):
        for name, value in secrets.items():
            registry.add(f"broker {name}", value)
        return store(self, **secrets)

    BrokerCredential.store = recording_store

    random_token = StaticToken.random_token

    def recording_random_token(*args, **kwargs):
        token = random_token(*args, **kwargs)
        registry.add("recovery code", token)
        return token

    StaticToken.random_token = staticmethod(recording_random_token)

    def totp_saved(sender, instance, **kwargs) -> None:
        registry.add("TOTP secret", instance.key)
        with contextlib.suppress(TypeError, ValueError):
            registry.add("TOTP secret", base64.b32encode(instance.bin_key).decode().rstrip("="))

    post_save.connect(totp_saved, sender=TOTPDevice, dispatch_uid="secretscan.totp", weak=False)


_handler: SessionLogHandler | None = None


def _attach() -> None:
    root = logging.getLogger()
    if _handler is not None and _handler not in root.handlers:
        root.addHandler(_handler)  # logging.config.dictConfig (django.setup) drops foreign handlers


def session_log_path(config) -> Path:
    from django.conf import settings

    folder = Path(getattr(settings, "VAR_DIR", os.environ.get("OPENALGO_VAR_DIR", "var"))) / "test-logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"session-{os.getpid()}.log"


def pytest_sessionstart(session) -> None:
    global _handler
    path = session_log_path(session.config)
    path.write_text("", encoding="utf-8")
    _handler = SessionLogHandler(path)
    session.config._secretscan_path = path
    _wrap_sources()
    _attach()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item) -> None:
    _attach()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item) -> None:
    _attach()


def pytest_warning_recorded(warning_message, when, nodeid, location) -> None:
    if _handler is not None:
        _handler.write(f"WARNING warnings: {nodeid} {warning_message.category.__name__}: {warning_message.message}")


def pytest_runtest_logreport(report) -> None:
    """Output the tests' subprocesses and stray prints left on stderr is scanned too."""
    if _handler is None:
        return
    for title, content in report.sections:
        if "stderr" in title and content:
            _handler.write(f"STDERR {report.nodeid} ({title}):\n{content}")


def mask(line: str, value: str) -> str:
    return line.replace(value, MASK)


def scan(path: Path) -> list[str]:
    """Findings as printable lines, the secret masked: ``<kind>: <line>``."""
    findings = []
    if not path.exists():
        return findings
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            for kind, value in registry.find(line):
                findings.append(f"{kind} in {path.name}:{number}: {mask(line.rstrip(), value)[:300]}")
    return findings


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    path = getattr(session.config, "_secretscan_path", None)
    if path is None or _handler is None:
        return
    logging.getLogger().removeHandler(_handler)
    _handler.finish()
    findings = scan(path)
    session.config._secretscan_findings = findings
    if findings:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    findings = getattr(config, "_secretscan_findings", None)
    path = getattr(config, "_secretscan_path", None)
    if findings:
        terminalreporter.section("secrets in the session's logs", sep="=", red=True, bold=True)
        for finding in findings:
            terminalreporter.write_line(finding)
        terminalreporter.write_line(f"{len(findings)} secret(s) logged; full log: {path}")
    elif path is not None:
        terminalreporter.write_line(f"secretscan: no known secret ({len(registry.secrets)} tracked) in {path}")
