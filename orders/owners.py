"""Which process owns a piece of unfinished order work (a ``submitting`` ledger row, an
idempotency record in progress), and whether that process is gone.

It sits below both orders.reconcile and orders.idempotency, which each need it.
An identity is ``host:pid:start`` where start is the process's start time in clock
ticks since boot, so a pid reused by a later process does not pass for the old owner."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def _start_ticks(pid: int | str) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _process_identity() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{_start_ticks('self')}"


PROCESS = _process_identity()
_HOST = PROCESS.split(":", 1)[0]


def on_this_host(owner: str) -> bool:
    return owner.partition(":")[0] == _HOST


def owner_is_gone(owner: str) -> bool:
    """True when ``owner`` was a process on this host that no longer runs (or whose pid now
    belongs to another process). Unknown hosts and unknown start times are never 'gone'."""
    host, _, rest = owner.partition(":")
    pid, _, started = rest.partition(":")
    if host != _HOST or not pid.isdigit() or not started:
        return False
    return _start_ticks(pid) != started
