"""An exclusive lock on an open file, held across processes of one machine: ``flock`` on
POSIX, ``msvcrt.locking`` on Windows. Standard library only, and imports nothing of ours
(deploy/make-env.sh loads openalgo/localenv.py, which uses it, without Django).

``fcntl`` does not exist on Windows and ``msvcrt`` exists only there, so each is looked up
when this module loads and the branch is chosen by what is present; importing this module
never fails on either system.

On Windows the lock is a one-byte byte-range lock far past the end of the file: Windows
byte-range locks are mandatory, so locking real content would stop other processes from
reading the file while it is held (settings read ``.env`` at startup). ``msvcrt`` has no
blocking call that waits longer than ten seconds, so waiting is a poll with a short,
growing sleep."""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import IO, Any


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


_fcntl = _optional("fcntl")
_msvcrt = _optional("msvcrt")

# Offset of the byte locked on Windows (any offset works, a file need not be that long).
WINDOWS_LOCK_OFFSET = 0x7FFFFFFE
# Longest sleep between two attempts on Windows, in seconds.
WINDOWS_MAX_POLL = 0.05


class FileLockUnavailable(RuntimeError):
    """Neither fcntl nor msvcrt exists here: no way to lock a file between processes."""


def _fileno(handle: IO[Any] | int) -> int:
    return handle if isinstance(handle, int) else handle.fileno()


def _windows_lock(fd: int) -> None:
    assert _msvcrt is not None
    delay = 0.0005
    while True:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            _msvcrt.locking(fd, _msvcrt.LK_NBLCK, 1)
            return
        except OSError:
            pass  # another process holds it
        finally:
            os.lseek(fd, position, os.SEEK_SET)
        time.sleep(delay)
        delay = min(delay * 2, WINDOWS_MAX_POLL)


def _windows_unlock(fd: int) -> None:
    assert _msvcrt is not None
    position = os.lseek(fd, 0, os.SEEK_CUR)
    os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
    try:
        _msvcrt.locking(fd, _msvcrt.LK_UNLCK, 1)
    finally:
        os.lseek(fd, position, os.SEEK_SET)


def lock(handle: IO[Any] | int) -> None:
    """Wait for and take the exclusive lock of the open file ``handle`` (file object or fd)."""
    fd = _fileno(handle)
    if _fcntl is not None:
        _fcntl.flock(fd, _fcntl.LOCK_EX)
    elif _msvcrt is not None:
        _windows_lock(fd)
    else:
        raise FileLockUnavailable("this system has neither fcntl nor msvcrt: cannot lock files between processes")


def try_lock(handle: IO[Any] | int) -> bool:
    """Take the exclusive lock of ``handle`` if no other process holds it; False if one does."""
    fd = _fileno(handle)
    if _fcntl is not None:
        try:
            _fcntl.flock(fd, _fcntl.LOCK_EX | _fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    if _msvcrt is not None:
        position = os.lseek(fd, 0, os.SEEK_CUR)
        os.lseek(fd, WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            _msvcrt.locking(fd, _msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        finally:
            os.lseek(fd, position, os.SEEK_SET)
        return True
    raise FileLockUnavailable("this system has neither fcntl nor msvcrt: cannot lock files between processes")


def unlock(handle: IO[Any] | int) -> None:
    fd = _fileno(handle)
    if _fcntl is not None:
        _fcntl.flock(fd, _fcntl.LOCK_UN)
    elif _msvcrt is not None:
        _windows_unlock(fd)
    else:
        raise FileLockUnavailable("this system has neither fcntl nor msvcrt: cannot lock files between processes")


@contextmanager
def locked(handle: IO[Any] | int) -> Iterator[None]:
    """``with locked(handle):`` holds the exclusive lock for the block."""
    lock(handle)
    try:
        yield
    finally:
        unlock(handle)
