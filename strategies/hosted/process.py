"""The worker's side of a hosted strategy's process: its folders, the runner's settings (limits
and the minimal environment), starting the runner, telling whether a recorded process is still
the one we started, and stopping its whole process group. No Django models here."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

try:
    import pwd  # POSIX only: hosted strategies need Linux; the platform itself starts on Windows too
except ImportError:  # pragma: no cover  (Windows)
    pwd = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
RUNNER = Path(__file__).with_name("runner.py")
LOG_NAME = "strategy.log"


@dataclass(frozen=True)
class Folders:
    """work/: the strategy's working directory and HOME (its code is written there, it may
    write there); logs/ and run/ belong to the platform (the runner's log and state)."""

    root: Path

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.logs / LOG_NAME

    @property
    def state(self) -> Path:
        return self.run / "state.json"

    @property
    def lease(self) -> Path:
        return self.run / "lease"


def folders_for(strategy_id: int) -> Folders:
    return Folders(Path(settings.HOSTED_DIR) / str(strategy_id))


_usable_accounts: dict[str, bool] = {}


def run_as() -> tuple[int, int] | None:
    """(uid, gid) strategies run as, or None for the worker's own account: HOSTED_RUN_AS, else
    "nobody" when the worker is root and that account can run this Python and the client."""
    if pwd is None:
        raise RuntimeError("hosted Python strategies need Linux (process groups, resource limits, /proc)")
    name = settings.HOSTED_RUN_AS or ("nobody" if os.geteuid() == 0 else "")
    if not name or name == pwd.getpwuid(os.geteuid()).pw_name:
        return None
    account = pwd.getpwnam(name)
    if name not in _usable_accounts:
        try:
            check = subprocess.run([settings.STRATEGY_PYTHON, "-c", "import openalgo"], user=account.pw_uid,
                                   group=account.pw_gid, extra_groups=[], cwd="/", env={"PATH": "/usr/bin:/bin"},
                                   capture_output=True, timeout=60, check=False)
            problem = check.stderr.decode(errors="replace").strip()[-200:] if check.returncode else ""
        except OSError as error:
            problem = str(error)
        _usable_accounts[name] = not problem
        if problem:
            log.warning("Hosted strategies run as the worker's own account: %s cannot run %s (%s)", name,
                        settings.STRATEGY_PYTHON, problem)
    if not _usable_accounts[name]:
        if settings.HOSTED_RUN_AS:
            raise RuntimeError(f"the account {name} (HOSTED_RUN_AS) cannot run {settings.STRATEGY_PYTHON}")
        return None
    return account.pw_uid, account.pw_gid


def prepare(folders: Folders, files: dict[str, str], account: tuple[int, int] | None) -> None:
    """Write the code into work/ (files removed from the code are removed there too, data the
    script wrote stays); logs/ and run/ readable by the platform only."""
    for folder in (folders.root, folders.work, folders.logs, folders.run):
        folder.mkdir(parents=True, exist_ok=True)
    folders.root.chmod(0o711)
    folders.logs.chmod(0o700)
    folders.run.chmod(0o700)
    manifest = folders.run / "files.json"
    previous = json.loads(manifest.read_text()) if manifest.exists() else []
    for stale in set(previous) - set(files):
        (folders.work / stale).unlink(missing_ok=True)
    for relative, content in files.items():
        target = folders.work / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
    manifest.write_text(json.dumps(sorted(files)))
    if account is not None:
        for path in [folders.work, *folders.work.rglob("*")]:
            os.chown(path, *account, follow_symlinks=False)
    folders.state.unlink(missing_ok=True)
    folders.lease.touch()


def child_environment(*, api_key: str, workdir: Path) -> dict[str, str]:
    """All a strategy gets: nothing of the server's own environment."""
    return {
        "PATH": f"{Path(settings.STRATEGY_PYTHON).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        # Few malloc arenas and BLAS threads: the address-space limit is for data, not reservations.
        "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "1",
        "TZ": "Asia/Kolkata",
        "OPENALGO_HOST": settings.HOSTED_PLATFORM_URL,
        "OPENALGO_WS_URL": settings.HOSTED_WS_URL,
        "OPENALGO_API_KEY": api_key,
    }


def runner_config(*, folders: Folders, entry: str, api_key: str, account: tuple[int, int] | None,
                  **overrides: object) -> dict:
    config: dict = {
        # The strategies' own interpreter (requirements-strategies.txt: the official client), not
        # the platform's; the runner itself is the platform's Python, standard library only.
        "python": settings.STRATEGY_PYTHON,
        "entry": entry,
        "workdir": str(folders.work),
        "logdir": str(folders.logs),
        "statefile": str(folders.state),
        "leasefile": str(folders.lease),
        "lease_seconds": settings.HOSTED_LEASE_SECONDS,
        "env": child_environment(api_key=api_key, workdir=folders.work),
        "uid": account[0] if account else None,
        "gid": account[1] if account else None,
        "limits": {
            "cpu_seconds": settings.HOSTED_CPU_SECONDS,
            "memory_bytes": settings.HOSTED_MEMORY_MB * 2**20,
            "open_files": settings.HOSTED_OPEN_FILES,
            "tasks": settings.HOSTED_MAX_TASKS,
            "file_bytes": settings.HOSTED_FILE_MB * 2**20,
        },
        "max_processes": settings.HOSTED_MAX_PROCESSES,
        "log_max_bytes": settings.HOSTED_LOG_MAX_BYTES,
        "log_backups": settings.HOSTED_LOG_BACKUPS,
        "output_bytes_per_minute": settings.HOSTED_OUTPUT_BYTES_PER_MINUTE,
        "stop_grace": settings.HOSTED_STOP_GRACE_SECONDS,
    }
    limits = overrides.pop("limits", None)
    if isinstance(limits, dict):
        config["limits"].update(limits)
    config.update(overrides)
    return config


def launch(config: dict) -> tuple[int, int]:
    """Start the runner (detached: its own session, reparented away from this worker) and
    return its pid and start time. The settings, API key included, travel on its stdin."""
    done = subprocess.run([sys.executable, "-I", str(RUNNER)], input=json.dumps(config), capture_output=True,
                          text=True, timeout=30, cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                          check=False)
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise RuntimeError(f"the runner did not start: {done.stderr.strip()[-500:] or done.returncode}")
    pid = int(done.stdout.strip())
    started = start_ticks(pid)
    if started is None:  # gone already: it wrote why in its state file
        return pid, 0
    return pid, started


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def start_ticks(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if fields else None


def is_alive(pid: int | None, started: int | None) -> bool:
    """The process we started is still there: the pid exists, is no zombie, and started when
    ours did (a reused pid started later)."""
    if not pid or started is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat(pid)
    return bool(fields) and fields[0] not in ("Z", "X") and int(fields[19]) == started


def read_state(folders: Folders) -> dict:
    try:
        return json.loads(folders.state.read_text())
    except (OSError, ValueError):
        return {}


def stop(pid: int | None, started: int | None, folders: Folders, *, grace: float) -> None:
    """SIGTERM to the runner (it passes it to the strategy's process group and kills the group
    after ``grace``), then SIGKILL to whatever of both is left."""
    state = read_state(folders)
    if is_alive(pid, started):
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace + 3
        while is_alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_alive(pid, started):
            os.kill(pid, signal.SIGKILL)
    child, child_start = state.get("child_pid"), state.get("child_start")
    # The strategy's group: its leader still ours, or gone while members are left (a group id
    # stays taken while the group has members, so it cannot be someone else's).
    if child and (is_alive(child, child_start) or (_stat(child) is None and _group_exists(child))):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child, signal.SIGKILL)


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_runner(folders: Folders) -> tuple[int, int] | None:
    """The runner its state file names, if it still runs (adopted rather than started twice)."""
    state = read_state(folders)
    pid, started = state.get("runner_pid"), state.get("runner_start")
    if "exit" not in state and is_alive(pid, started):
        return int(pid), int(started)
    return None


def touch_lease(folders: Folders) -> None:
    with contextlib.suppress(OSError):
        folders.lease.touch()


def remove(folders: Folders) -> None:
    shutil.rmtree(folders.root, ignore_errors=True)


def tail(folders: Folders, max_lines: int = 200, max_bytes: int = 64 * 1024) -> list[str]:
    """The last lines of the current log (and of the previous one when it is short)."""
    chunks = b""
    for path in (folders.log, folders.logs / f"{LOG_NAME}.1"):
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - (max_bytes - len(chunks))))
                chunks = handle.read() + chunks
        except OSError:
            continue
        if len(chunks) >= max_bytes or chunks.count(b"\n") > max_lines:
            break
    lines = chunks.decode("utf-8", "replace").splitlines()
    return lines[-max_lines:]
