"""The runner of one hosted strategy: a small daemon, standard library only, started by a
Celery worker task (strategies/hosted/process.py) with ``python -I`` and its settings as JSON
on stdin. It forks away from the worker (so it outlives the task and the worker), starts the
strategy in a process group of its own under resource limits and a minimal environment, and
writes everything the strategy prints to a bounded, rotated log. It watches for fork bombs
and for a silent supervisor, and records why the strategy ended in a state file that the
supervisor reads. It imports nothing of the platform: nothing of the server's secrets is here."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta, timezone

try:
    import resource  # POSIX only: the runner runs on Linux; this module is also imported (never run) on Windows
except ImportError:  # pragma: no cover  (Windows)
    resource = None  # type: ignore[assignment]

IST = timezone(timedelta(hours=5, minutes=30), "IST")
MAX_LINE = 16 * 1024  # a longer line is cut into pieces of this size


def now_text() -> str:
    return datetime.now(IST).strftime("%Y-%m-%d %H:%M:%S")


class RotatingLog:
    """strategy.log plus ``backups`` older files of at most ``max_bytes`` each."""

    def __init__(self, path: str, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115  (kept open for the run)

    def write_line(self, text: bytes) -> None:
        line = now_text().encode() + b" | " + text.rstrip(b"\r") + b"\n"
        if self.file.tell() + len(line) > self.max_bytes and self.file.tell() > 0:
            self.rotate()
        self.file.write(line)

    def platform(self, text: str) -> None:
        self.write_line(b"[platform] " + text.encode())

    def rotate(self) -> None:
        self.file.close()
        for index in range(self.backups, 0, -1):
            older = f"{self.path}.{index}"
            newer = f"{self.path}.{index - 1}" if index > 1 else self.path
            if os.path.exists(newer):
                os.replace(newer, older)
        if self.backups == 0:
            os.unlink(self.path)
        self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115


def write_state(path: str, state: dict) -> None:
    temporary = path + ".tmp"
    with open(temporary, "w") as handle:
        json.dump(state, handle)
    os.replace(temporary, path)


def proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def start_ticks(pid: int) -> int | None:
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def group_size(pgid: int) -> int:
    """Live processes in process group ``pgid`` (zombies left aside)."""
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = proc_stat(int(name))
            if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
                count += 1
    return count


def tasks_of(uid: int) -> int:
    """Processes and threads the account ``uid`` has now: what RLIMIT_NPROC counts."""
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid != uid:
                    continue
            except OSError:
                continue
            fields = proc_stat(int(name))
            count += int(fields[17]) if fields else 0
    return count


def kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def apply_limits(limits: dict) -> None:
    """In the strategy's process, between fork and exec (after the switch of user)."""
    def cap(which: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(which, (soft, soft if hard is None else hard))

    cap(resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 5)  # SIGXCPU, then SIGKILL
    cap(resource.RLIMIT_AS, limits["memory_bytes"])
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_NPROC, limits["tasks"])
    cap(resource.RLIMIT_FSIZE, limits["file_bytes"])
    cap(resource.RLIMIT_CORE, 0)
    os.nice(limits.get("nice", 5))


class Runner:
    def __init__(self, config: dict) -> None:
        self.config = config
        self.log = RotatingLog(os.path.join(config["logdir"], "strategy.log"), config["log_max_bytes"],
                               config["log_backups"])
        self.state: dict = {"runner_pid": os.getpid(), "runner_start": start_ticks(os.getpid()),
                            "started_at": datetime.now(UTC).isoformat(), "dropped_bytes": 0}
        self.stop_requested = False
        self.kill_reason: tuple[str, str] | None = None
        self.tail = b""  # the last output, to recognise a MemoryError
        self.pending = b""
        self.window_start = time.monotonic()
        self.window_bytes = 0
        self.window_dropped = 0

    def save(self) -> None:
        write_state(self.config["statefile"], self.state)

    def on_sigterm(self, *_: object) -> None:
        self.stop_requested = True

    def run(self) -> int:
        config, limits = self.config, self.config["limits"]
        signal.signal(signal.SIGTERM, self.on_sigterm)
        signal.signal(signal.SIGINT, self.on_sigterm)
        limits = dict(limits)
        if config.get("uid") is None:
            # RLIMIT_NPROC counts every task of the account, the platform's own included: give the
            # strategy its share on top of what the account runs now (root is never held to it).
            limits["tasks"] += tasks_of(os.getuid())
            account = f"the platform's own account (uid {os.getuid()})"
        else:
            account = f"uid {config['uid']}"
        self.log.platform(f"running as {account}; at most {limits['tasks']} tasks for that account")
        self.log.platform(f"starting {config['entry']} (CPU {limits['cpu_seconds']} s, memory "
                          f"{limits['memory_bytes'] // 2**20} MB, {limits['open_files']} open files, "
                          f"{config['max_processes']} processes)")
        self.save()
        read_end, write_end = os.pipe()
        try:
            child = subprocess.Popen(
                [config["python"], "-u", "-s", config["entry"]], cwd=config["workdir"], env=config["env"],
                stdin=subprocess.DEVNULL, stdout=write_end, stderr=write_end, close_fds=True,
                # A session of its own: its own process group to kill, and its own scheduling
                # group (autogroup), so a runaway shares one CPU share, not the runner's.
                start_new_session=True,
                user=config.get("uid"), group=config.get("gid"),
                extra_groups=[] if config.get("uid") is not None else None,
                preexec_fn=lambda: apply_limits(limits))
        except Exception as error:  # any reason the strategy could not start is its log's business
            os.close(write_end)
            self.finish("start_failed", f"could not start: {error}", None)
            return 1
        os.close(write_end)
        child.returncode = 0  # this runner reaps it with wait4, not Popen
        self.state.update(child_pid=child.pid, child_start=start_ticks(child.pid))
        self.save()
        status, usage = self.supervise(child.pid, read_end)
        self.classify(status, usage, limits)
        return 0

    def supervise(self, pid: int, read_end: int) -> tuple[int, resource.struct_rusage]:
        config = self.config
        open_pipe = True
        exited: tuple[int, resource.struct_rusage] | None = None
        exited_at = 0.0
        last_check = 0.0
        stop_sent_at: float | None = None
        while True:
            if open_pipe:
                try:
                    ready, _, _ = select.select([read_end], [], [], 0.1)
                except InterruptedError:
                    ready = []
                if ready:
                    chunk = os.read(read_end, 65536)
                    if chunk:
                        self.output(chunk)
                    else:
                        open_pipe = False
            else:
                time.sleep(0.1)
            if exited is None:
                waited, status, usage = os.wait4(pid, os.WNOHANG)
                if waited:
                    exited, exited_at = (status, usage), time.monotonic()
            if exited is not None and (not open_pipe or time.monotonic() - exited_at > 2):
                # Its descendants may hold the pipe: they go with it.
                kill_group(pid, signal.SIGKILL)
                self.flush_pending()
                return exited
            now = time.monotonic()
            if self.stop_requested and stop_sent_at is None:
                self.log.platform("stop requested: SIGTERM to the strategy's process group")
                kill_group(pid, signal.SIGTERM)
                stop_sent_at = now
            if stop_sent_at is not None and now - stop_sent_at > config["stop_grace"]:
                kill_group(pid, signal.SIGKILL)
            if now - last_check >= 0.1 and exited is None:
                last_check = now
                self.watch(pid, now)

    def watch(self, pid: int, now: float) -> None:
        config = self.config
        if self.kill_reason is None and group_size(pid) > config["max_processes"]:
            self.kill_reason = ("processes", f"killed: more than {config['max_processes']} processes "
                                             "(a fork bomb?)")
            self.log.platform(self.kill_reason[1])
            kill_group(pid, signal.SIGKILL)
        if self.kill_reason is not None:
            kill_group(pid, signal.SIGKILL)  # again: forks in flight
        try:
            silent = time.time() - os.stat(config["leasefile"]).st_mtime
        except OSError:
            silent = float("inf")
        if self.kill_reason is None and not self.stop_requested and silent > config["lease_seconds"]:
            self.kill_reason = ("supervisor_gone", f"stopped: no word from the platform's supervisor for "
                                                   f"{config['lease_seconds']} s (is the platform down?)")
            self.log.platform(self.kill_reason[1])
            self.stop_requested = True
        if now - self.window_start >= 60:
            if self.window_dropped:
                self.log.platform(f"output limit: dropped {self.window_dropped} bytes in the last minute (at most "
                                  f"{config['output_bytes_per_minute']} bytes a minute are kept)")
            self.window_start, self.window_bytes, self.window_dropped = now, 0, 0

    def output(self, chunk: bytes) -> None:
        self.tail = (self.tail + chunk)[-4096:]
        budget = self.config["output_bytes_per_minute"]
        if self.window_bytes + len(chunk) > budget:
            if not self.window_dropped:
                self.flush_pending()
                self.log.platform(f"output limit: the strategy wrote more than {budget} bytes this minute; "
                                  "the rest of this minute's output is dropped")
                self.state["notice"] = f"output limit reached at {now_text()}: output was dropped"
            self.window_dropped += len(chunk)
            self.state["dropped_bytes"] += len(chunk)
            if self.state["dropped_bytes"] % (64 * 65536) < len(chunk):
                self.save()
            return
        self.window_bytes += len(chunk)
        data = self.pending + chunk
        *lines, self.pending = data.split(b"\n")
        for line in lines:
            for start in range(0, max(len(line), 1), MAX_LINE):
                self.log.write_line(line[start:start + MAX_LINE])
        while len(self.pending) >= MAX_LINE:
            self.log.write_line(self.pending[:MAX_LINE])
            self.pending = self.pending[MAX_LINE:]

    def flush_pending(self) -> None:
        if self.pending:
            self.log.write_line(self.pending)
            self.pending = b""

    def classify(self, status: int, usage: resource.struct_rusage, limits: dict) -> None:
        cpu = usage.ru_utime + usage.ru_stime
        code = os.waitstatus_to_exitcode(status)
        if self.kill_reason is not None:
            kind, text = self.kill_reason
        elif self.stop_requested:
            kind, text = "stopped", "stopped"
        elif code in (-signal.SIGXCPU, -signal.SIGKILL) and cpu >= limits["cpu_seconds"] - 0.5:
            kind, text = "cpu", f"killed: CPU time limit of {limits['cpu_seconds']} s reached (an endless loop?)"
        elif code == -signal.SIGXFSZ or (code > 0 and b"File too large" in self.tail):
            kind, text = "file_size", f"killed: wrote a file over the limit of {limits['file_bytes']} bytes"
        elif code == 0:
            kind, text = "finished", "finished (exit code 0)"
        elif code > 0 and b"MemoryError" in self.tail:
            kind, text = "memory", f"failed: memory limit of {limits['memory_bytes'] // 2**20} MB reached (MemoryError)"
        elif code > 0:
            kind, text = "crash", f"crashed: exit code {code}"
        else:
            kind, text = "crash", f"crashed: killed by signal {signal.Signals(-code).name}"
        self.finish(kind, text, code, cpu)

    def finish(self, kind: str, text: str, code: int | None, cpu: float = 0.0) -> None:
        self.log.platform(f"{text} (CPU used {cpu:.1f} s)")
        self.state["exit"] = {"kind": kind, "reason": text, "code": code, "cpu_seconds": round(cpu, 2),
                              "at": datetime.now(UTC).isoformat()}
        self.save()


def main() -> None:
    config = json.loads(sys.stdin.read())
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for descriptor in (0, 1, 2):
        os.dup2(devnull, descriptor)
    runner = None
    try:
        runner = Runner(config)
        code = runner.run()
    except BaseException:  # the log is the only place left to say it
        if runner is not None:
            runner.log.platform("runner failed: " + traceback.format_exc())
            runner.finish("crash", "the runner failed (see above)", None)
        code = 1
    os._exit(code)


if __name__ == "__main__":
    main()
