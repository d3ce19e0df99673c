"""orders.owners and orders.faults away from Linux: the Windows branch (GetProcessTimes
through a stand-in kernel32), and what happens where no start time can be read."""

from __future__ import annotations

import ctypes
import logging
import os
import signal

import pytest

from orders import faults, owners


class FakeKernel32:
    """OpenProcess/GetProcessTimes/CloseHandle over a table of pid -> creation time."""

    def __init__(self, processes: dict[int, int], denied: frozenset[int] = frozenset(),
                 exited: frozenset[int] = frozenset()):
        self.processes, self.denied, self.exited = processes, denied, exited
        self.open_handles: set[int] = set()
        self.last_error = 0

    def OpenProcess(self, access, inherit, pid):  # the Windows API names
        assert access == owners._PROCESS_QUERY_LIMITED_INFORMATION
        if pid in self.denied:
            self.last_error = owners._ERROR_ACCESS_DENIED
            return None
        if pid not in self.processes:
            self.last_error = 87  # ERROR_INVALID_PARAMETER
            return None
        self.open_handles.add(pid)
        return pid

    def GetProcessTimes(self, handle, created, exited, kernel, user):
        value = self.processes[handle]
        created._obj.low, created._obj.high = value & 0xFFFFFFFF, value >> 32
        return 1

    def GetExitCodeProcess(self, handle, code):
        code._obj.value = 0 if handle in self.exited else owners._STILL_ACTIVE
        return 1

    def CloseHandle(self, handle):
        self.open_handles.discard(handle)
        return 1


@pytest.fixture
def on_windows(monkeypatch):
    kernel32 = FakeKernel32({os.getpid(): 133_900_000_000_000_123, 4242: 133_900_000_000_000_777,
                             77: 133_900_000_000_000_555}, denied=frozenset({8}), exited=frozenset({77}))
    monkeypatch.setattr(owners.sys, "platform", "win32")
    monkeypatch.setattr(owners, "_kernel32", lambda: kernel32)
    monkeypatch.setattr(owners, "_last_error", lambda: kernel32.last_error)
    return kernel32


def test_windows_start_time_is_the_creation_time(on_windows):
    assert owners._start_ticks("self") == "133900000000000123"
    assert owners._start_ticks(4242) == "133900000000000777"
    assert owners._start_ticks(99999) == ""  # no such process
    assert owners._start_ticks(8) == owners.UNREADABLE  # runs, as another account
    assert owners._start_ticks(77) == ""  # exited, though a handle keeps it openable
    assert not on_windows.open_handles, "a process handle was left open"


def test_windows_owner_is_gone(on_windows, monkeypatch):
    monkeypatch.setattr(owners, "_HOST", "winhost")
    assert not owners.owner_is_gone("winhost:4242:133900000000000777")
    assert owners.owner_is_gone("winhost:4242:133900000000000001")  # pid reused by a later process
    assert owners.owner_is_gone("winhost:99999:133900000000000001")  # exited
    assert owners.owner_is_gone("winhost:77:133900000000000555")  # exited, its handle still held
    assert not owners.owner_is_gone("winhost:8:1")  # cannot be read: never taken for gone
    assert owners.on_this_host("winhost:4242:133900000000000777")


def test_identity_without_start_times_logs_and_falls_back_to_the_grace_period(monkeypatch, caplog):
    monkeypatch.setattr(owners, "_start_ticks", lambda pid: "")
    with caplog.at_level(logging.WARNING, logger="orders.owners"):
        identity = owners._process_identity()
    assert identity.endswith(f":{os.getpid()}:")
    assert "RECONCILE_GRACE_SECONDS" in caplog.text
    # Such an owner is not checked as one of this host's (that check could never say gone):
    # idempotency and reconciliation settle it after the grace period, like another host's.
    monkeypatch.setattr(owners, "_HOST", identity.split(":", 1)[0])
    assert not owners.on_this_host(identity)
    assert not owners.owner_is_gone(identity)


def test_no_windll_means_no_start_time(monkeypatch):
    monkeypatch.delattr(ctypes, "WinDLL", raising=False)
    assert owners._kernel32() is None
    assert owners._windows_start_time(1) == ""


def test_fault_kill_uses_sigterm_where_there_is_no_sigkill(monkeypatch, settings):
    settings.OPENALGO_FAULT = "after_ledger:kill"
    sent = []
    monkeypatch.delattr(signal, "SIGKILL")
    monkeypatch.setattr(faults.os, "kill", lambda pid, sig: sent.append((pid, sig)))
    faults.hit("after_ledger")
    assert sent == [(os.getpid(), signal.SIGTERM)]
