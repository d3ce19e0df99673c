"""Races for the concurrency tests: one call run by several threads released at the same
instant, each on its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def race(call: Callable[[], object], *, threads: int = 4) -> list:
    """What ``call()`` returned in each thread, or the exception it raised there."""
    start = threading.Barrier(threads)
    outcomes: list = []

    def racer() -> None:
        try:
            start.wait(10)
            outcomes.append(call())
        except Exception as exc:  # returned to the test, which asserts on it
            outcomes.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=racer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return outcomes
