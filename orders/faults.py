"""Fault injection for the crash tests: ``OPENALGO_FAULT=<point>:<action>`` in a process's
environment makes it fail at that point of an order's life. Unset (always, outside the
tests) it costs one dictionary lookup.

Points: ``after_claim`` (an Idempotency-Key claimed, no ledger row written yet),
``after_ledger`` (ledger row committed, broker not called yet) and ``after_broker`` (the
broker accepted the order, our ledger row not completed yet).
Actions: ``kill`` (SIGKILL this process, TerminateProcess on Windows, which has no SIGKILL:
nothing after it runs, like a power cut) and
``raise`` (an exception, for in-process tests). ``<action>@<n>`` fails only the nth time
this process passes the point (``after_broker:kill@7``: in the middle of a burst, with
other requests in flight at every stage)."""

from __future__ import annotations

import os
import signal
import threading

from django.conf import settings


class FaultInjected(RuntimeError):
    """Raised at a fault point by the ``raise`` action."""


_passes: dict[str, int] = {}
_passes_lock = threading.Lock()


def hit(point: str) -> None:
    spec: str = settings.OPENALGO_FAULT
    if not spec:
        return
    name, _, action = spec.partition(":")
    if name != point:
        return
    action, _, nth = action.partition("@")
    if nth:
        with _passes_lock:  # web threads pass the point concurrently
            _passes[point] = _passes.get(point, 0) + 1
            if _passes[point] != int(nth):
                return
    if action == "raise":
        raise FaultInjected(f"fault injected at {point}")
    # Windows has no SIGKILL; os.kill with any other signal is TerminateProcess there.
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
