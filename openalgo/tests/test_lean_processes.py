"""Processes that serve no HTTP carry no server: the feed, the worker and manage.py commands
import neither daphne nor Twisted, and the worker no URLconf; `runserver` is still daphne's.
Beat runs once per host: a second one on the same var/ stops. Real interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from core.filelock import try_lock

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(OPENALGO_VAR_DIR=str(tmp_path / "var"), RECONCILE_ON_STARTUP="false")
    return env


def _modules_after(code: str, tmp_path: Path) -> dict[str, bool]:
    probe = (
        "import os, sys, json; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'openalgo.settings')\n"
        "import django; django.setup()\n" + code + "\n"
        "print(json.dumps({name: name in sys.modules for name in "
        "('daphne', 'twisted', 'autobahn', 'drf_spectacular.views', 'openalgo.urls')}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_worker_and_feed_load_no_server_and_no_urlconf(tmp_path):
    worker = _modules_after("from openalgo.celery import app; app.loader.import_default_modules()", tmp_path)
    assert worker == dict.fromkeys(worker, False), worker
    feed = _modules_after("import marketdata.management.commands.runfeed", tmp_path)
    assert not feed["daphne"] and not feed["twisted"], feed


def test_runserver_is_still_daphnes(tmp_path):
    done = subprocess.run([sys.executable, "manage.py", "runserver", "--help"], cwd=ROOT, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120, check=True)
    assert "--noasgi" in done.stdout  # an option only daphne's runserver has


def test_try_lock_refuses_while_another_process_holds_the_lock(tmp_path):
    path = tmp_path / "beat.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, sys.argv[1]); from core.filelock import lock\n"
        "handle = open(sys.argv[2], 'a+'); lock(handle); print('held', flush=True); time.sleep(60)"),
        str(ROOT), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with open(path, "a+") as handle:
            assert not try_lock(handle)
    finally:
        holder.kill()
        holder.wait()
    with open(path, "a+") as handle:
        assert try_lock(handle)
