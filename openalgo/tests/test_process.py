"""openalgo.process: the Procfile's commands run in-process (how Windows runs the platform).
The Windows adaptations are checked by forcing the platform check; the five processes (the
worker and the feed server with the Windows commands) are started for real on this machine."""

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


SERVER_FLAGS = ["--lifespan", "off", "--no-access-log", "--no-proxy-headers", "--no-server-header",
                "--ws-max-size", "1048576", "--ws-per-message-deflate", "false", "--ws-ping-interval", "20",
                "--ws-ping-timeout", "20"]


def test_commands_are_the_procfiles_with_defaults_expanded():
    env: dict[str, str] = {}
    assert process.command_for("web", env=env, windows=False) == [
        "python", "-m", "uvicorn", "openalgo.asgi:application", "--host", "127.0.0.1", "--port", "5000",
        "--workers", "1", *SERVER_FLAGS, "--timeout-graceful-shutdown", "10", "--timeout-worker-healthcheck", "20"]
    assert process.command_for("ws", env=env, windows=False) == [
        "python", "-m", "uvicorn", "openalgo.feed_asgi:application", "--host", "127.0.0.1", "--port", "8765",
        "--workers", "1", *SERVER_FLAGS, "--timeout-graceful-shutdown", "5", "--timeout-worker-healthcheck", "20"]
    assert process.command_for("feed", env=env, windows=False) == ["python", "manage.py", "runfeed"]
    assert process.command_for("worker", env=env, windows=False) == [
        "celery", "-A", "openalgo", "worker", "--loglevel=INFO", "--pool=threads", "--concurrency=4"]
    assert process.command_for("beat", env=env, windows=False) == ["celery", "-A", "openalgo", "beat",
                                                                  "--loglevel=INFO"]
    assert set(process.procfile()) == {"web", "ws", "feed", "worker", "beat"}


def _option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_environment_values_win_over_defaults():
    env = {"PORT": "7000", "WS_PORT": "7001", "HOST": "0.0.0.0", "WORKER_CONCURRENCY": "5",
           "WEB_CONCURRENCY": "3", "FEED_PROCESSES": "2"}
    web, ws = process.command_for("web", env=env, windows=False), process.command_for("ws", env=env, windows=False)
    assert (_option(web, "--host"), _option(web, "--port"), _option(web, "--workers")) == ("0.0.0.0", "7000", "3")
    assert (_option(ws, "--host"), _option(ws, "--port"), _option(ws, "--workers")) == ("0.0.0.0", "7001", "2")
    assert "--concurrency=5" in process.command_for("worker", env=env, windows=False)


def test_windows_worker_gets_the_threads_pool_and_keeps_its_concurrency():
    argv = process.command_for("worker", env={"WORKER_CONCURRENCY": "3"}, windows=True)
    assert argv == ["celery", "-A", "openalgo", "worker", "--loglevel=INFO", "--pool=threads", "--concurrency=3"]
    # A Procfile worker that names no pool gets the threads pool on Windows (prefork cannot run there).
    unnamed = {"worker": "celery -A openalgo worker --loglevel=INFO --concurrency=3"}
    assert process.command_for("worker", env={}, windows=True, processes=unnamed) == [
        "celery", "-A", "openalgo", "worker", "--pool=threads", "--loglevel=INFO", "--concurrency=3"]
    # A pool the Procfile names is kept; beat and the others are unchanged.
    named = {"worker": "celery -A openalgo worker --pool=solo"}
    assert process.command_for("worker", env={}, windows=True, processes=named).count("--pool=solo") == 1
    assert process.command_for("beat", env={}, windows=True) == process.command_for("beat", env={}, windows=False)
    assert process.command_for("feed", env={}, windows=True) == process.command_for("feed", env={}, windows=False)


@pytest.mark.parametrize("name", ["web", "ws"])
def test_windows_uvicorn_runs_on_a_selector_loop_and_keeps_its_flags(name):
    linux, windows = process.command_for(name, env={}, windows=False), process.command_for(name, env={}, windows=True)
    assert windows == [*linux[:3], "--loop", "openalgo.process:selector_event_loop", *linux[3:]]
    # A loop the Procfile names is kept.
    named = {name: "python -m uvicorn app:app --loop asyncio"}
    assert process.command_for(name, env={}, windows=True, processes=named).count("--loop") == 1


def test_the_windows_loop_factory_gives_a_selector_loop_uvicorn_can_import():
    from uvicorn.config import Config

    factory = Config("openalgo.feed_asgi:application", loop=process.WINDOWS_UVICORN_LOOP).get_loop_factory()
    loop = factory()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
    finally:
        loop.close()


def test_env_file_is_read_under_the_real_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nPORT=6100\nWS_PORT=6101\nWORKER_CONCURRENCY=4\n")
    monkeypatch.setenv("OPENALGO_ENV_FILE", str(env_file))
    monkeypatch.setenv("WS_PORT", "6200")
    monkeypatch.delenv("PORT", raising=False)
    assert _option(process.command_for("web", windows=False), "--port") == "6100"  # from .env
    assert _option(process.command_for("ws", windows=False), "--port") == "6200"  # the real environment wins


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
               PORT=str(_free_port()), WS_PORT=str(_free_port()), RECONCILE_ON_STARTUP="false", FEED_PROCESSES="2",
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
def test_the_five_processes_run_in_process_and_work_together(tmp_path):
    """What run.ps1 and the Windows services start, started here: web, feed and beat by
    `python -m openalgo.process NAME`, the worker and the feed server (two processes) with
    the Windows commands (threads pool; uvicorn on the selector loop factory).
    /health/ready answers 200 only when the database, the cache, a round trip through the
    feed's bus and a heartbeat the worker ran on beat's schedule all check out; the feed
    server answers a WebSocket client."""
    env = _env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    windows_worker = process.command_for("worker", env={"WORKER_CONCURRENCY": "2"}, windows=True)
    windows_ws = process.command_for("ws", env=env, windows=True)
    commands = {
        "feed": [sys.executable, "-m", "openalgo.process", "feed"],
        "web": [sys.executable, "-m", "openalgo.process", "web"],
        "ws": [sys.executable, "-c", f"from openalgo.process import run; run({json.dumps(windows_ws)})"],
        "worker": [sys.executable, "-c", f"from openalgo.process import run; run({json.dumps(windows_worker)})"],
        "beat": [sys.executable, "-m", "openalgo.process", "beat"],
    }
    logs = {name: tmp_path / f"{name}.log" for name in commands}
    procs: dict[str, subprocess.Popen] = {}
    try:
        for name, argv in commands.items():
            with logs[name].open("w") as log:
                procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        ready, deadline = None, time.monotonic() + 150
        while time.monotonic() < deadline and all(p.poll() is None for p in procs.values()):
            try:
                ready = httpx.get(f"http://127.0.0.1:{env['PORT']}/health/ready", timeout=5)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        report = "\n".join(f"--- {name}\n{logs[name].read_text()[-1500:]}" for name in commands)
        assert all(p.poll() is None for p in procs.values()), report
        assert ready is not None and ready.status_code == 200, (ready and ready.text, report)
        assert "concurrency: 2 (thread)" in logs["worker"].read_text()
        assert "Feed bus up" in logs["feed"].read_text()
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{env['WS_PORT']}/", open_timeout=30) as ws:
            ws.send(json.dumps({"action": "ping", "_pingId": 7}))
            assert json.loads(ws.recv(timeout=10))["_pingId"] == 7
        assert logs["ws"].read_text().count("Started server process") == 2, report
    finally:
        codes = {name: _stop(proc) for name, proc in procs.items()}  # Ctrl+C, as on the console
    # Each stopped by itself on Ctrl+C, none had to be killed. (Celery's worker ends its warm
    # shutdown with status 1 after a Ctrl+C, in-process or not: the plain `celery` command does too.)
    assert {name: code for name, code in codes.items() if name != "worker"} == {"feed": 0, "web": 0, "ws": 0, "beat": 0}
    assert codes["worker"] in (0, 1), codes
