"""Django's SQLite backend, with the writers of a process taking turns in arrival order.

SQLite has one writer at a time. A writer that finds the database locked does not queue:
its busy handler sleeps and retries, 1, 2, 5 ... then 100 ms at a time, and whoever asks
just after a commit gets the lock, however long others have waited. With the web process's
sync threads all writing (ledger rows, paper fills, the request log), a placeorder that
loses a few rounds waits seconds: the API's p99 was 5-10x its p50 on the embedded defaults.

Here every write transaction (``BEGIN``, which ``transaction_mode=IMMEDIATE`` makes a write
lock) and every write statement outside one first takes this process's turn: a FIFO queue
of threads, woken one by one, and then, between processes, an advisory ``flock`` on a file
beside the database, so a process whose turn it is rarely meets SQLite's busy handler at
all. The turn is given back at COMMIT, ROLLBACK or close. Waiting for it is bounded by the
database's ``timeout`` (20 s in settings), past which the caller gets SQLite's own
"database is locked", as it would have from the busy handler. Reads never wait."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from django.db.backends.sqlite3 import base

try:
    import fcntl
except ImportError:  # Windows: turns within a process only
    fcntl = None  # type: ignore[assignment]

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC", "CREATE", "DROP", "ALTER")


class FairLock:
    """A lock granted in arrival order (threading.Lock lets a late comer barge in)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._guard:
            if not self._held:
                self._held = True
                return True
            waiter = threading.Lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(timeout=timeout):
            return True  # handed over by release()
        with self._guard:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                return True  # handed over just as the wait ran out: it is ours
            return False

    def release(self) -> None:
        with self._guard:
            if self._waiters:
                self._waiters.popleft().release()  # straight to the next in line; still held
            else:
                self._held = False


class WriteTurns:
    """One per database file in a process: the FIFO lock, then the file lock between processes."""

    def __init__(self, path: str) -> None:
        self.lock = FairLock()
        self.path = path
        self._fd: int | None = None

    def _file(self) -> int | None:
        if fcntl is None or not self.path:
            return None
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def take(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if not self.lock.acquire(timeout):
            raise base.Database.OperationalError("database is locked")
        try:
            fd = self._file()
            if fd is None:
                return
            pause = 0.0002
            while True:  # one thread per process gets here: a short poll, no 100 ms sleeps
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise base.Database.OperationalError("database is locked") from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except BaseException:
            self.lock.release()
            raise

    def give_back(self) -> None:
        fd = self._fd
        if fd is not None and fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self.lock.release()


_turns: dict[str, WriteTurns] = {}
_turns_guard = threading.Lock()


def turns_for(name: str) -> WriteTurns:
    """The turns of database file ``name`` in this process (none of its own for in-memory ones)."""
    path = "" if not name or name == ":memory:" or name.startswith("file:") else f"{name}.write-turn"
    with _turns_guard:
        return _turns.setdefault(str(name), WriteTurns(path))


def is_write(query: str) -> bool:
    return query.lstrip()[:6].upper().startswith(WRITES)


class TurnCursorWrapper(base.SQLiteCursorWrapper):
    """A write statement outside a transaction takes the turn for its own duration."""

    turns: WriteTurns
    timeout: float

    def execute(self, query: str, params: Any = None) -> Any:
        if self.connection.in_transaction or not is_write(query):
            return super().execute(query, params)
        self.turns.take(self.timeout)
        try:
            return super().execute(query, params)
        finally:
            self.turns.give_back()

    def executemany(self, query: str, param_list: Any) -> Any:
        if self.connection.in_transaction or not is_write(query):
            return super().executemany(query, param_list)
        self.turns.take(self.timeout)
        try:
            return super().executemany(query, param_list)
        finally:
            self.turns.give_back()


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.holds_turn = False
        self._cursor_class: type[TurnCursorWrapper] | None = None

    @property
    def turns(self) -> WriteTurns:
        return self._cursor_class.turns if self._cursor_class else turns_for(str(self.settings_dict["NAME"]))

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        # The file's turns, known only now: the test runner renames the database after __init__.
        timeout = float(conn_params.get("timeout", 5))
        self._cursor_class = type("TurnCursor", (TurnCursorWrapper,), {
            "turns": turns_for(str(conn_params["database"])), "timeout": timeout})
        return super().get_new_connection(conn_params)

    @property
    def turn_timeout(self) -> float:
        return self._cursor_class.timeout if self._cursor_class else 5.0

    def create_cursor(self, name: str | None = None) -> Any:
        return self.connection.cursor(factory=self._cursor_class)

    def _give_back_turn(self) -> None:
        if self.holds_turn:
            self.holds_turn = False
            self.turns.give_back()

    def _start_transaction_under_autocommit(self) -> None:
        if not self.holds_turn:
            self.turns.take(self.turn_timeout)
            self.holds_turn = True
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._give_back_turn()
            raise

    def _commit(self) -> Any:
        try:
            return super()._commit()
        finally:
            if self.connection is None or not self.connection.in_transaction:
                self._give_back_turn()

    def _rollback(self) -> Any:
        try:
            return super()._rollback()
        finally:
            self._give_back_turn()

    def _close(self) -> Any:
        try:
            return super()._close()
        finally:
            self._give_back_turn()
