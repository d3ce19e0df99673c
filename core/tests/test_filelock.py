"""core.filelock: a real cross-process flock on this (POSIX) machine, and the Windows branch
(msvcrt.locking) driven through a stand-in msvcrt that keeps byte-range locks like Windows."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core import filelock

ROOT = Path(__file__).resolve().parents[2]


def test_posix_lock_excludes_another_process(tmp_path):
    path = tmp_path / "x.lock"
    child = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from core import filelock\n"
        f"with open({str(path)!r}, 'a+') as h:\n"
        "    t = time.monotonic(); filelock.lock(h); print(round(time.monotonic() - t, 3)); filelock.unlock(h)\n"
    )
    with open(path, "a+") as handle, filelock.locked(handle):
        proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
        time.sleep(0.6)
        assert proc.poll() is None, "the other process got the lock while it was held"
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert float(out) >= 0.5  # it waited for the release


class FakeMsvcrt:
    """Byte-range locks per (file, offset), owned by a file descriptor, as Windows keeps them."""

    LK_UNLCK, LK_LOCK, LK_NBLCK, LK_RLCK, LK_NBRLCK = 0, 1, 2, 3, 4

    def __init__(self):
        self.held: dict[tuple[int, int], int] = {}
        self.calls: list[tuple[int, int, int]] = []
        self.guard = threading.Lock()

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        key = (os.fstat(fd).st_ino, offset)
        self.calls.append((mode, offset, nbytes))
        with self.guard:
            if mode == self.LK_NBLCK:
                if key in self.held:
                    raise OSError(errno.EACCES, "Permission denied")
                self.held[key] = fd
            elif mode == self.LK_UNLCK:
                if self.held.get(key) != fd:
                    raise OSError(errno.EACCES, "not locked by this handle")
                del self.held[key]
            else:
                raise AssertionError(f"unexpected mode {mode}")


@pytest.fixture
def windows(monkeypatch):
    fake = FakeMsvcrt()
    monkeypatch.setattr(filelock, "_fcntl", None)
    monkeypatch.setattr(filelock, "_msvcrt", fake)
    return fake


def test_windows_branch_locks_one_byte_far_past_the_content(windows, tmp_path):
    path = tmp_path / "x.lock"
    path.write_text("CONTENT")
    with open(path, "r+") as handle:
        handle.read(3)
        position = os.lseek(handle.fileno(), 0, os.SEEK_CUR)
        with filelock.locked(handle):
            assert windows.held, "no lock taken"
            assert os.lseek(handle.fileno(), 0, os.SEEK_CUR) == position, "file position not restored"
            assert path.read_text() == "CONTENT"
        assert not windows.held, "lock not released"
    assert windows.calls == [(FakeMsvcrt.LK_NBLCK, filelock.WINDOWS_LOCK_OFFSET, 1),
                             (FakeMsvcrt.LK_UNLCK, filelock.WINDOWS_LOCK_OFFSET, 1)]


def test_windows_branch_waits_for_the_holder(windows, tmp_path):
    path = tmp_path / "x.lock"
    order: list[str] = []
    with open(path, "a+") as first, open(path, "a+") as second:
        filelock.lock(first)

        def contender():
            filelock.lock(second)
            order.append("second locked")
            filelock.unlock(second)

        thread = threading.Thread(target=contender)
        thread.start()
        time.sleep(0.3)
        order.append("first unlocks")
        filelock.unlock(first)
        thread.join(5)
    assert order == ["first unlocks", "second locked"]
    tries = [call for call in windows.calls if call[0] == FakeMsvcrt.LK_NBLCK]
    assert len(tries) > 2, "the waiting side should have polled"


def test_without_either_module_it_says_so(monkeypatch, tmp_path):
    monkeypatch.setattr(filelock, "_fcntl", None)
    monkeypatch.setattr(filelock, "_msvcrt", None)
    with open(tmp_path / "x.lock", "a+") as handle, pytest.raises(filelock.FileLockUnavailable):
        filelock.lock(handle)


def test_orders_named_lock_uses_the_windows_branch_on_sqlite(windows, settings, tmp_path):
    from orders import locks

    settings.VAR_DIR = tmp_path

    class SQLite:
        vendor = "sqlite"

    original = locks.connection
    locks.connection = SQLite()  # type: ignore[assignment]
    try:
        with locks.named_lock("user:1"):
            assert len(windows.held) == 1
        assert not windows.held
    finally:
        locks.connection = original
    assert list((tmp_path / "locks").glob("*.lock"))


def test_localenv_uses_the_windows_branch(windows, tmp_path, monkeypatch):
    from openalgo.localenv import ensure_local_secrets

    for name in ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS"):
        monkeypatch.delenv(name, raising=False)
    target = tmp_path / ".env"
    assert ensure_local_secrets(target) == ["SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS"]
    assert not windows.held
    assert [call[0] for call in windows.calls] == [FakeMsvcrt.LK_NBLCK, FakeMsvcrt.LK_UNLCK]
    assert ensure_local_secrets(target) == []
    assert target.read_text().count("SECRET_KEY=") == 1
