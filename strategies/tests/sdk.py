"""The official SDK's ``Strategy`` class (openalgo 1.0.47), driven for real: it runs in the
interpreter hosted strategies get (settings.STRATEGY_PYTHON, requirements-strategies.txt),
in a folder of its own, because its top-level package is named ``openalgo`` like our
Django project. ``Strategy(host, id).strategyorder(...)`` here runs the SDK's own method
in that interpreter and hands back what it returned, or raises what it raised."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

CALL = """
import json, sys
from openalgo import Strategy
host, webhook_id, symbol, action, size = json.loads(sys.argv[1])
try:
    answer = Strategy(host, webhook_id).strategyorder(symbol, action, size)
except Exception as error:
    print(json.dumps({"raised": f"{type(error).__name__}: {error}"}))
else:
    print(json.dumps({"answer": answer}))
"""


class SdkError(Exception):
    """What the SDK's call raised (its text names the HTTP status)."""


def interpreter() -> str:
    python = Path(settings.STRATEGY_PYTHON)
    if not python.exists():
        raise AssertionError(f"{python} is missing: `make install` builds the strategies' environment")
    return str(python)


class Strategy:
    def __init__(self, host_url: str, webhook_id: str) -> None:
        self.host_url, self.webhook_id = host_url, webhook_id

    def strategyorder(self, symbol: str, action: str, position_size: Any = None) -> dict:
        arguments = json.dumps([self.host_url, self.webhook_id, symbol, action, position_size])
        with tempfile.TemporaryDirectory(prefix="openalgo-sdk-") as folder:
            done = subprocess.run([interpreter(), "-I", "-c", CALL, arguments], cwd=folder, capture_output=True,
                                  text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
        if done.returncode != 0:
            raise AssertionError(done.stderr[-2000:])
        outcome = json.loads(done.stdout.splitlines()[-1])
        if "raised" in outcome:
            raise SdkError(outcome["raised"])
        return outcome["answer"]
