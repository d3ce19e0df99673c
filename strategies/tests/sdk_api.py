"""Any method of the official SDK's ``api`` client (openalgo 1.0.47), called for real in the
strategies' interpreter, from a folder of its own (its package is named like our project):
``sdk_call(host, key, "telegram", username=..., message=...)`` returns what it returned."""

from __future__ import annotations

import json
import subprocess
import tempfile

from strategies.tests.sdk import interpreter

CALL = """
import json, sys
from openalgo import api
host, key, method, kwargs = json.loads(sys.argv[1])
client = api(api_key=key, host=host)
print(json.dumps(getattr(client, method)(**kwargs)))
"""


def sdk_call(host: str, key: str, method: str, **kwargs) -> dict:
    arguments = json.dumps([host, key, method, kwargs])
    with tempfile.TemporaryDirectory(prefix="openalgo-sdk-") as folder:
        done = subprocess.run([interpreter(), "-I", "-c", CALL, arguments], cwd=folder, capture_output=True,
                              text=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise AssertionError(done.stderr[-2000:])
    return json.loads(done.stdout.splitlines()[-1])
