"""Which process owns a piece of unfinished order work (a ``submitting`` ledger row, an
idempotency record in progress), and whether that process is gone.

It sits below both orders.reconcile and orders.idempotency, which each need it.
An identity is ``host:pid:start`` where start is the process's start time (clock ticks since
boot from /proc on Linux, the creation time from GetProcessTimes on Windows), so a pid reused
by a later process does not pass for the old owner.

Where neither exists (another system, or the Windows call unavailable) the start is empty:
that is logged once, and such an owner is treated like another host's (its work is settled
after RECONCILE_GRACE_SECONDS instead of as soon as the process is seen gone)."""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# Answer of _start_ticks for a process that exists but whose start time may not be read
# (Windows: another account's process). Never equal to a recorded start, never "gone".
UNREADABLE = "?"

# Windows API constants (winnt.h, winerror.h).
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_ERROR_ACCESS_DENIED = 5
_STILL_ACTIVE = 259


def _linux_start_ticks(pid: int | str) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


class _FileTime(ctypes.Structure):
    _fields_ = [("low", ctypes.c_uint32), ("high", ctypes.c_uint32)]


@functools.cache
def _kernel32() -> Any:
    """kernel32 with the argument types used here; None where there is no such library."""
    windll = getattr(ctypes, "WinDLL", None)
    if windll is None:
        return None
    kernel32 = windll("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = ctypes.c_void_p
    kernel32.OpenProcess.argtypes = [ctypes.c_uint32, ctypes.c_int, ctypes.c_uint32]
    kernel32.GetProcessTimes.restype = ctypes.c_int
    kernel32.GetProcessTimes.argtypes = [ctypes.c_void_p] + [ctypes.POINTER(_FileTime)] * 4
    kernel32.GetExitCodeProcess.restype = ctypes.c_int
    kernel32.GetExitCodeProcess.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)]
    kernel32.CloseHandle.argtypes = [ctypes.c_void_p]
    return kernel32


def _last_error() -> int:
    """GetLastError of this thread's last call through a use_last_error library (Windows)."""
    get_last_error = getattr(ctypes, "get_last_error", None)
    return get_last_error() if get_last_error is not None else 0


def _windows_start_time(pid: int | str, kernel32: Any = None) -> str:
    """The process's creation time (100 ns units since 1601), '' when there is no such
    process, UNREADABLE when it exists but may not be queried."""
    kernel32 = kernel32 if kernel32 is not None else _kernel32()
    if kernel32 is None:
        return ""
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, int(pid))
    if not handle:
        # ERROR_INVALID_PARAMETER: no such process. ERROR_ACCESS_DENIED: it runs, as someone else.
        return UNREADABLE if _last_error() == _ERROR_ACCESS_DENIED else ""
    try:
        # A process that has exited can still be opened while someone holds a handle to it.
        code = ctypes.c_uint32()
        if kernel32.GetExitCodeProcess(handle, ctypes.byref(code)) and code.value != _STILL_ACTIVE:
            return ""
        created, exited, kernel, user = _FileTime(), _FileTime(), _FileTime(), _FileTime()
        if not kernel32.GetProcessTimes(handle, ctypes.byref(created), ctypes.byref(exited), ctypes.byref(kernel),
                                        ctypes.byref(user)):
            return UNREADABLE
        return str((created.high << 32) | created.low)
    finally:
        kernel32.CloseHandle(handle)


def _start_ticks(pid: int | str) -> str:
    """The process's start time, '' where there is no such process (or no way to tell)."""
    if sys.platform == "win32":
        return _windows_start_time(os.getpid() if pid == "self" else pid)
    return _linux_start_ticks(pid)


def _process_identity() -> str:
    started = _start_ticks("self")
    if not started or started == UNREADABLE:
        started = ""
        log.warning("Cannot read process start times on this system (%s): orders and idempotency keys a crashed "
                    "process of this host left are settled after RECONCILE_GRACE_SECONDS, not at once",
                    sys.platform)
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{started}"


PROCESS = _process_identity()
_HOST = PROCESS.split(":", 1)[0]
_identity_pid = os.getpid()


def this_process() -> str:
    """This process's identity, as owners are written. A child forked after this module was
    imported (Celery's prefork pool, gunicorn workers) gets one of its own: otherwise every
    child would write its parent's identity, and an order or idempotency key of a child
    killed mid-call would look owned by a live process until the parent exits."""
    global PROCESS, _identity_pid
    if _identity_pid != os.getpid():
        PROCESS, _identity_pid = _process_identity(), os.getpid()
    return PROCESS


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=this_process)


def on_this_host(owner: str) -> bool:
    """Owned by a process of this host whose liveness can be checked (it has a start time);
    an owner without one is handled like another host's, by the grace period."""
    host, _, rest = owner.partition(":")
    return host == _HOST and bool(rest.partition(":")[2])


def owner_is_gone(owner: str) -> bool:
    """True when ``owner`` was a process on this host that no longer runs (or whose pid now
    belongs to another process). Unknown hosts and unknown start times are never 'gone'."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != _HOST or not pid.isdigit() or not started:
        return False
    now = _start_ticks(pid)
    return now != UNREADABLE and now != started
