"""A hosted strategy's process for real: the runner started as a worker starts it, a real
Python child under the limits. What a script sees (a minimal environment, its own folder, the
official client), and what happens to scripts that misbehave: each ends with a clear reason in
its log and its state, and nothing of it is left running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from strategies.hosted import process

SECRET_NAMES = ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL", "ZERODHA_API_SECRET",
                "DJANGO_SETTINGS_MODULE", "PYTHONPATH")


@pytest.fixture
def hosted_dir(settings, tmp_path):
    settings.HOSTED_DIR = tmp_path / "hosted"
    return settings.HOSTED_DIR


def launch(source: str, *, number: int = 1, files: dict[str, str] | None = None, **overrides):
    folders = process.folders_for(number)
    process.prepare(folders, {"main.py": source, **(files or {})}, None)
    config = process.runner_config(folders=folders, entry="main.py", api_key="k" * 64, account=None, **overrides)
    pid, started = process.launch(config)
    return folders, pid, started


def wait_for_exit(folders, pid, started, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while process.is_alive(pid, started) or "exit" not in process.read_state(folders):
        assert time.monotonic() < deadline, "\n".join(process.tail(folders))
        time.sleep(0.1)
    return process.read_state(folders)


def log_text(folders) -> str:
    return "\n".join(process.tail(folders, max_lines=10_000, max_bytes=2**20))


def group_members(pgid: int) -> list[int]:
    members = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                text = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            fields = text[text.rindex(")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(name))
    return members


def test_a_script_gets_a_minimal_environment_without_the_servers_secrets(hosted_dir, settings, monkeypatch):
    planted = {name: f"planted-{name.lower()}-value" for name in SECRET_NAMES}
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    source = ("import json, os, sys\n"
              "env = dict(os.environ); env['OPENALGO_API_KEY'] = len(env['OPENALGO_API_KEY'])\n"
              "import openalgo\n"
              "print(json.dumps({'env': env, 'cwd': os.getcwd(), 'path': sys.path,\n"
              "                  'sdk': hasattr(openalgo, 'api')}))\n")
    folders, pid, started = launch(source)
    state = wait_for_exit(folders, pid, started)
    assert state["exit"]["kind"] == "finished", log_text(folders)
    line = next(line for line in process.tail(folders) if '"env"' in line)
    seen = json.loads(line.split(" | ", 1)[1])
    assert set(seen["env"]) == {"PATH", "HOME", "LANG", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "TZ",
                                "MALLOC_ARENA_MAX", "OPENBLAS_NUM_THREADS", "OPENALGO_HOST", "OPENALGO_WS_URL",
                                "OPENALGO_API_KEY"}
    assert seen["env"]["OPENALGO_HOST"] == settings.HOSTED_PLATFORM_URL
    assert seen["env"]["OPENALGO_WS_URL"] == settings.HOSTED_WS_URL and seen["env"]["OPENALGO_API_KEY"] == 64
    dumped = json.dumps(seen)
    for secret in [*planted.values(), settings.SECRET_KEY, settings.API_KEY_PEPPER, *settings.FERNET_KEYS]:
        assert secret not in dumped
    assert seen["cwd"] == seen["env"]["HOME"] == str(folders.work)
    repo = str(Path(__file__).resolve().parents[2])
    assert repo not in seen["path"] and "" not in seen["path"]
    assert seen["sdk"] is True  # the official client, not the platform's own package of that name


def test_a_strategy_of_several_files_imports_its_own_modules(hosted_dir):
    folders, pid, started = launch("from helpers import signal_for\nprint('signal', signal_for(3))\n",
                                   files={"helpers.py": "def signal_for(x):\n    return 'BUY' if x > 2 else 'SELL'\n"})
    assert wait_for_exit(folders, pid, started)["exit"]["kind"] == "finished"
    assert "signal BUY" in log_text(folders)


def test_a_script_that_raises_on_import_ends_with_its_traceback_in_the_log(hosted_dir):
    folders, pid, started = launch("import strategy_helpers_that_do_not_exist\n")
    state = wait_for_exit(folders, pid, started)
    assert state["exit"]["kind"] == "crash" and state["exit"]["code"] == 1
    log = log_text(folders)
    assert "ModuleNotFoundError: No module named 'strategy_helpers_that_do_not_exist'" in log
    assert "[platform] crashed: exit code 1" in log


def test_an_endless_loop_is_killed_by_the_cpu_limit(hosted_dir):
    folders, pid, started = launch("while True:\n    pass\n", limits={"cpu_seconds": 1})
    state = wait_for_exit(folders, pid, started, timeout=30)
    assert state["exit"]["kind"] == "cpu", log_text(folders)
    assert "[platform] killed: CPU time limit of 1 s reached" in log_text(folders)
    assert not group_members(state["child_pid"])


def test_a_script_that_allocates_10_gb_fails_on_the_memory_limit(hosted_dir):
    folders, pid, started = launch("block = bytearray(10 * 2**30)\nprint('allocated')\n",
                                   limits={"memory_bytes": 512 * 2**20})
    state = wait_for_exit(folders, pid, started)
    log = log_text(folders)
    assert state["exit"]["kind"] == "memory", log
    assert "MemoryError" in log and "[platform] failed: memory limit of 512 MB reached" in log
    assert "allocated" not in log


def test_a_fork_bomb_is_contained_and_its_whole_group_killed(hosted_dir):
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    folders, pid, started = launch(bomb, max_processes=16)
    state = wait_for_exit(folders, pid, started, timeout=30)
    assert state["exit"]["kind"] == "processes", log_text(folders)
    assert "[platform] killed: more than 16 processes" in log_text(folders)
    time.sleep(0.5)
    assert not group_members(state["child_pid"])


def test_gigabytes_of_output_leave_a_bounded_rotated_log(hosted_dir):
    # 1 GB as fast as it can be written; the runner keeps 200 KB a minute in logs of 64 KB.
    source = "import sys\nline = 'x' * 1023 + '\\n'\nfor _ in range(1024 * 1024):\n    sys.stdout.write(line)\n"
    folders, pid, started = launch(source, output_bytes_per_minute=200 * 1024, log_max_bytes=64 * 1024,
                                   log_backups=2)
    state = wait_for_exit(folders, pid, started, timeout=120)
    assert state["exit"]["kind"] == "finished"
    sizes = {path.name: path.stat().st_size for path in folders.logs.iterdir()}
    assert set(sizes) == {"strategy.log", "strategy.log.1", "strategy.log.2"}
    assert all(size <= 64 * 1024 + 17 * 1024 for size in sizes.values()), sizes
    assert state["dropped_bytes"] > 900 * 2**20
    assert "output limit: the strategy wrote more than 204800 bytes this minute" in log_text(folders)
    assert "output was dropped" in state["notice"]


def test_a_script_may_not_write_a_file_over_the_size_limit(hosted_dir):
    source = "with open('big.bin', 'wb') as f:\n    f.write(b'0' * (3 * 2**20))\n"
    folders, pid, started = launch(source, limits={"file_bytes": 2**20})
    state = wait_for_exit(folders, pid, started)
    assert state["exit"]["kind"] == "file_size", log_text(folders)
    assert (folders.work / "big.bin").stat().st_size <= 2**20


def test_stopping_kills_the_whole_process_group(hosted_dir):
    source = ("import subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
              "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
              "print('spawned', flush=True)\ntime.sleep(600)\n")
    folders, pid, started = launch(source, stop_grace=1)
    deadline = time.monotonic() + 30
    while "spawned" not in log_text(folders):
        assert time.monotonic() < deadline, log_text(folders)
        time.sleep(0.1)
    child = process.read_state(folders)["child_pid"]
    assert len(group_members(child)) == 2  # the script and its own child, which ignores SIGTERM
    process.stop(pid, started, folders, grace=1)
    assert not process.is_alive(pid, started)
    assert not group_members(child)
    assert process.read_state(folders)["exit"]["kind"] == "stopped"
    assert "stop requested" in log_text(folders)


def test_a_recorded_pid_reused_by_another_process_is_not_ours(hosted_dir):
    assert process.is_alive(os.getpid(), process.start_ticks(os.getpid()))
    assert not process.is_alive(os.getpid(), (process.start_ticks(os.getpid()) or 0) + 1)
    assert not process.is_alive(None, None)


def test_a_runner_stops_its_strategy_when_the_supervisor_falls_silent(hosted_dir):
    folders, pid, started = launch("import time\ntime.sleep(600)\n", lease_seconds=1)
    os.utime(folders.lease, (time.time() - 60, time.time() - 60))
    state = wait_for_exit(folders, pid, started, timeout=30)
    assert state["exit"]["kind"] == "supervisor_gone"
    assert "no word from the platform's supervisor" in log_text(folders)


@pytest.fixture(autouse=True)
def _no_leftovers(hosted_dir):
    yield
    for state_file in Path(hosted_dir).glob("*/run/state.json"):
        state = json.loads(state_file.read_text())
        for key in ("child_pid",):
            if state.get(key):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(state[key], signal.SIGKILL)
