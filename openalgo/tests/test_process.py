"""openalgo.process: the Procfile's commands run in-process (how Windows runs the platform).
The Windows adaptations are checked by forcing the platform check; the web process and a
worker on the Windows pool are started for real on this machine."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from openalgo import process

ROOT = Path(__file__).resolve().parents[2]


def test_commands_are_the_procfiles_with_defaults_expanded():
    env: dict[str, str] = {}
    assert process.command_for("web", env=env, windows=False) == [
        "python", "-m", "daphne", "-e", "tcp:port=5000:interface=127.0.0.1",
        "-e", "tcp:port=8765:interface=127.0.0.1", "openalgo.asgi:application"]
    assert process.command_for("feed", env=env, windows=False) == ["python", "manage.py", "runfeed"]
    assert process.command_for("worker", env=env, windows=False) == [
        "celery", "-A", "openalgo", "worker", "--loglevel=INFO", "--concurrency=2"]
    assert process.command_for("beat", env=env, windows=False) == ["celery", "-A", "openalgo", "beat",
                                                                  "--loglevel=INFO"]
    assert set(process.procfile()) == {"web", "feed", "worker", "beat"}


def test_environment_values_win_over_defaults():
    env = {"PORT": "7000", "WS_PORT": "7001", "HOST": "0.0.0.0", "WORKER_CONCURRENCY": "5"}
    web = process.command_for("web", env=env, windows=False)
    assert "tcp:port=7000:interface=0.0.0.0" in web and "tcp:port=7001:interface=0.0.0.0" in web
    assert "--concurrency=5" in process.command_for("worker", env=env, windows=False)


def test_windows_worker_gets_the_threads_pool_and_keeps_its_concurrency():
    argv = process.command_for("worker", env={"WORKER_CONCURRENCY": "3"}, windows=True)
    assert argv == ["celery", "-A", "openalgo", "worker", "--pool=threads", "--loglevel=INFO", "--concurrency=3"]
    # A pool the Procfile names is kept; beat and the others are unchanged.
    named = {"worker": "celery -A openalgo worker --pool=solo"}
    assert process.command_for("worker", env={}, windows=True, processes=named).count("--pool=solo") == 1
    assert process.command_for("beat", env={}, windows=True) == process.command_for("beat", env={}, windows=False)
    assert process.command_for("web", env={}, windows=True) == process.command_for("web", env={}, windows=False)


def test_env_file_is_read_under_the_real_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPORT=6100\nWS_PORT=6101\nWORKER_CONCURRENCY=4\n")
    monkeypatch.setenv("OPENALGO_ENV_FILE", str(env_file))
    monkeypatch.setenv("WS_PORT", "6200")
    monkeypatch.delenv("PORT", raising=False)
    web = process.command_for("web", windows=False)
    assert "tcp:port=6100:interface=127.0.0.1" in web  # from .env
    assert "tcp:port=6200:interface=127.0.0.1" in web  # the real environment wins


def test_unknown_process_and_unsupported_expansions_are_refused():
    with pytest.raises(SystemExit, match="no process 'nope'"):
        process.command_for("nope", env={})
    with pytest.raises(SystemExit, match="not set"):
        process.command_for("x", env={}, processes={"x": "python -m thing ${REQUIRED}"})
    with pytest.raises(SystemExit, match="shell expansion"):
        process.command_for("x", env={}, processes={"x": "python -m thing $(whoami)"})


def test_on_windows_the_selector_loop_policy_is_set_before_the_module_runs(tmp_path, monkeypatch):
    class SelectorPolicy(asyncio.DefaultEventLoopPolicy):
        pass

    probe = tmp_path / "policy_probe.py"
    probe.write_text("import asyncio, sys\nsys.modules[__name__].seen = type(asyncio.get_event_loop_policy())\n"
                     "import builtins\nbuiltins._policy_probe_seen = type(asyncio.get_event_loop_policy())\n"
                     "builtins._policy_probe_argv = list(sys.argv)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(process, "on_windows", lambda: True)
    monkeypatch.setattr(asyncio, "WindowsSelectorEventLoopPolicy", SelectorPolicy, raising=False)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.chdir(tmp_path)
    import builtins

    try:
        process.run(["python", "-m", "policy_probe", "--flag"])
        assert builtins._policy_probe_seen is SelectorPolicy  # type: ignore[attr-defined]
        assert builtins._policy_probe_argv[1:] == ["--flag"]  # type: ignore[attr-defined]
    finally:
        asyncio.set_event_loop_policy(None)
        for name in ("_policy_probe_seen", "_policy_probe_argv"):
            if hasattr(builtins, name):
                delattr(builtins, name)
        sys.modules.pop("policy_probe", None)


def test_only_python_and_celery_commands_run_in_process():
    with pytest.raises(SystemExit, match="cannot run 'gunicorn'"):
        process.run(["gunicorn", "app"])


# --- real processes --------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(OPENALGO_VAR_DIR=str(tmp_path / "var"), OPENALGO_ENV_FILE=str(tmp_path / ".env"),
               PORT=str(_free_port()), WS_PORT=str(_free_port()), RECONCILE_ON_STARTUP="false",
               ZMQ_XSUB_ADDRESS=f"tcp://127.0.0.1:{_free_port()}", ZMQ_XPUB_ADDRESS=f"tcp://127.0.0.1:{_free_port()}",
               PYTHONUNBUFFERED="1")
    return env


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


@pytest.mark.e2e
def test_web_runs_in_process_and_answers(tmp_path):
    env = _env(tmp_path)
    log = (tmp_path / "web.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "openalgo.process", "web"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline, answer = time.monotonic() + 90, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{env['PORT']}/health/live", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert answer is not None, (tmp_path / "web.log").read_text()[-3000:]
        assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    finally:
        _stop(proc)
        log.close()


@pytest.mark.e2e
def test_the_windows_worker_command_starts_a_threads_pool_worker(tmp_path):
    env = _env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    argv = process.command_for("worker", env={"WORKER_CONCURRENCY": "2"}, windows=True)
    code = f"from openalgo.process import run; run({json.dumps(argv)})"
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and proc.poll() is None and " ready." not in log_path.read_text():
                time.sleep(0.3)
            text = log_path.read_text()
            assert " ready." in text, text[-3000:]
        finally:
            _stop(proc)
    text = log_path.read_text()
    assert "concurrency: 2 (thread)" in text, text[-3000:]
