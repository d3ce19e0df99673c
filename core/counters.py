"""A Django cache of integer counters shared by every process of one machine: the
embedded defaults' store for rate-limit counters and a few cross-process flags (the
``counters`` cache alias; with Redis the alias is Redis, shared by every host).

LocMemCache is per process, so with several web processes (WEB_CONCURRENCY) each would
count its own share of a limit. This one is a fixed table of slots in a memory-mapped file
in the var directory, each slot a key digest, an expiry (wall clock) and an int64 value;
every operation holds an exclusive lock on the file (core/filelock.py) for a few
microseconds, so ``add`` and ``incr`` are atomic across processes.

Only integers are stored (the counters of django-ratelimit, orders/risk.py, flags set with
``add``). A key lives in one of PROBE slots after its digest's home slot; when all of them
hold live keys, the one expiring soonest is dropped (a limit then counts from zero again:
that is the table's only loss, and MAX_ENTRIES, 16,384 by default, keeps it far away)."""

from __future__ import annotations

import hashlib
import math
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache

from core import filelock

_SLOT = struct.Struct("<16sdq")  # key digest, expires at (time.time(); 0: empty), value
PROBE = 32
DEFAULT_ENTRIES = 16_384


class CountersCache(BaseCache):
    """``CACHES = {"counters": {"BACKEND": "core.counters.CountersCache", "LOCATION": "<file>"}}``."""

    def __init__(self, location: str, params: dict[str, Any]) -> None:
        super().__init__(params)
        self._path = Path(location)
        options = params.get("OPTIONS", {})
        self._slots = int(params.get("MAX_ENTRIES", options.get("MAX_ENTRIES", DEFAULT_ENTRIES)))
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._file: Any = None
        self._map: mmap.mmap | None = None

    # --- The table ------------------------------------------------------------------------

    def _open(self) -> mmap.mmap:
        """This process's mapping. Reopened in a forked child: a ``flock`` belongs to the open
        file, which a child shares with its parent, so they would not exclude each other."""
        if self._map is not None and self._pid == os.getpid():
            return self._map
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a+b")  # noqa: SIM115 - kept open with the mapping
        size = self._slots * _SLOT.size
        with filelock.locked(handle):
            if os.fstat(handle.fileno()).st_size < size:
                handle.truncate(size)  # new bytes are zeros: empty slots
        self._file, self._map, self._pid = handle, mmap.mmap(handle.fileno(), size), os.getpid()
        return self._map

    def _digest(self, key: str, version: int | None) -> bytes:
        made = self.make_and_validate_key(key, version=version)
        return hashlib.blake2b(made.encode(), digest_size=16).digest()

    def _probe(self, table: mmap.mmap, digest: bytes, now: float) -> tuple[int | None, int]:
        """(slot holding ``digest`` alive, or None; the slot a new entry would take)."""
        home = int.from_bytes(digest[:8], "little") % self._slots
        free = victim = None
        soonest = math.inf
        for step in range(min(PROBE, self._slots)):
            index = (home + step) % self._slots
            found, expires, _ = _SLOT.unpack_from(table, index * _SLOT.size)
            alive = expires > now
            if alive and found == digest:
                return index, index
            if not alive:
                if free is None:
                    free = index
            elif expires < soonest:
                soonest, victim = expires, index
        target = free if free is not None else victim
        assert target is not None
        return None, target

    @contextmanager
    def _locked(self) -> Iterator[mmap.mmap]:
        """The table, held by this thread against the others of this process, then by this
        process against the others (the file's lock)."""
        with self._lock:
            table = self._open()
            with filelock.locked(self._file):
                yield table

    @staticmethod
    def _int(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"the counters cache stores integers only, not {type(value).__name__}")
        return value

    def _expiry(self, timeout: Any) -> float:
        expires = self.get_backend_timeout(timeout)
        return math.inf if expires is None else float(expires)

    # --- Several keys in one atomic step ----------------------------------------------------

    @contextmanager
    def atomically(self, keys: list[str], timeout: float) -> Iterator[dict[str, int | None]]:
        """The values of ``keys`` (None: absent) as a dict to change in place; what it holds
        when the block ends is written back (with ``timeout``), all under one lock, so a
        read-modify-write of several counters is atomic across processes (a token bucket's
        level and stamp: brokers/ratelimit.py)."""
        digests = {key: self._digest(key, None) for key in keys}
        with self._locked() as table:
            now = time.time()
            values: dict[str, int | None] = {}
            for key, digest in digests.items():
                index, _ = self._probe(table, digest, now)
                values[key] = None if index is None else _SLOT.unpack_from(table, index * _SLOT.size)[2]
            yield values
            expires = now + timeout
            for key, digest in digests.items():
                value = values.get(key)
                if value is not None:
                    _, target = self._probe(table, digest, now)
                    _SLOT.pack_into(table, target * _SLOT.size, digest, expires, self._int(value))

    # --- Django's cache API ---------------------------------------------------------------

    def add(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        value, digest, expires = self._int(value), self._digest(key, version), self._expiry(timeout)
        with self._locked() as table:
            now = time.time()
            index, target = self._probe(table, digest, now)
            if index is not None:
                return False
            if expires > now:
                _SLOT.pack_into(table, target * _SLOT.size, digest, expires, value)
            return True

    def set(self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        value, digest, expires = self._int(value), self._digest(key, version), self._expiry(timeout)
        with self._locked() as table:
            _, target = self._probe(table, digest, time.time())
            _SLOT.pack_into(table, target * _SLOT.size, digest, expires, value)

    def get(self, key: str, default: Any = None, version: int | None = None) -> Any:
        digest = self._digest(key, version)
        with self._locked() as table:
            index, _ = self._probe(table, digest, time.time())
            if index is None:
                return default
            return _SLOT.unpack_from(table, index * _SLOT.size)[2]

    def incr(self, key: str, delta: int = 1, version: int | None = None) -> int:
        digest = self._digest(key, version)
        with self._locked() as table:
            index, _ = self._probe(table, digest, time.time())
            if index is None:
                raise ValueError(f"Key '{key}' not found")
            _, expires, value = _SLOT.unpack_from(table, index * _SLOT.size)
            value += delta
            _SLOT.pack_into(table, index * _SLOT.size, digest, expires, value)
            return value

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        digest, expires = self._digest(key, version), self._expiry(timeout)
        with self._locked() as table:
            index, _ = self._probe(table, digest, time.time())
            if index is None:
                return False
            value = _SLOT.unpack_from(table, index * _SLOT.size)[2]
            _SLOT.pack_into(table, index * _SLOT.size, digest, expires, value)
            return True

    def delete(self, key: str, version: int | None = None) -> bool:
        digest = self._digest(key, version)
        with self._locked() as table:
            index, _ = self._probe(table, digest, time.time())
            if index is None:
                return False
            _SLOT.pack_into(table, index * _SLOT.size, b"\0" * 16, 0.0, 0)
            return True

    def clear(self) -> None:
        with self._locked() as table:
            table[:] = bytes(len(table))

    def close(self, **kwargs: Any) -> None:
        """Kept open between requests (Django calls this at every request's end)."""

