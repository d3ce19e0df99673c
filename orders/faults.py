"""Fault injection for the crash tests: ``OPENALGO_FAULT=<point>:<action>`` in a process's
environment makes it fail at that point of an order's life. Unset (always, outside the
tests) it costs one dictionary lookup.

Points: ``after_ledger`` (ledger row committed, broker not called yet) and
``after_broker`` (the broker accepted the order, our ledger row not completed yet).
Actions: ``kill`` (SIGKILL this process: nothing after it runs, like a power cut) and
``raise`` (an exception, for in-process tests)."""

from __future__ import annotations

import os
import signal

from django.conf import settings


class FaultInjected(RuntimeError):
    """Raised at a fault point by the ``raise`` action."""


def hit(point: str) -> None:
    spec = settings.OPENALGO_FAULT
    if not spec:
        return
    name, _, action = spec.partition(":")
    if name != point:
        return
    if action == "raise":
        raise FaultInjected(f"fault injected at {point}")
    os.kill(os.getpid(), signal.SIGKILL)
