"""The counters cache (core/counters.py): Django's cache semantics for integers, and one
count shared by real processes of this machine (what rate limits on the embedded
defaults rely on with several web processes)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.counters import CountersCache

ROOT = Path(__file__).resolve().parents[2]


def _cache(path: Path, entries: int = 1024) -> CountersCache:
    return CountersCache(str(path), {"OPTIONS": {"MAX_ENTRIES": entries}})


def test_add_incr_get_delete_behave_as_djangos_caches_do(tmp_path):
    cache = _cache(tmp_path / "counters.bin")
    assert cache.get("hits") is None and cache.get("hits", 7) == 7
    with pytest.raises(ValueError):
        cache.incr("hits")
    assert cache.add("hits", 0, 60) is True
    assert cache.add("hits", 5, 60) is False  # already there: untouched
    assert [cache.incr("hits") for _ in range(3)] == [1, 2, 3]
    assert cache.incr("hits", 10) == 13 and cache.get("hits") == 13
    cache.set("other", 4)
    assert cache.get("other") == 4 and cache.get("hits") == 13
    assert cache.delete("hits") is True and cache.delete("hits") is False
    assert cache.get("hits") is None and cache.add("hits", 1) is True
    cache.clear()
    assert cache.get("other") is None and cache.get("hits") is None


def test_an_entry_expires_with_its_timeout(tmp_path):
    cache = _cache(tmp_path / "counters.bin")
    cache.add("brief", 1, 0.2)
    cache.add("long", 1, 60)
    assert cache.get("brief") == 1
    time.sleep(0.3)
    assert cache.get("brief") is None and cache.get("long") == 1
    assert cache.add("brief", 2, 60) is True and cache.get("brief") == 2  # its slot is reused
    assert cache.touch("long", 0.2) is True
    time.sleep(0.3)
    assert cache.get("long") is None


def test_only_integers_are_stored(tmp_path):
    cache = _cache(tmp_path / "counters.bin")
    for value in ("1", 1.5, True, None, {"a": 1}):
        with pytest.raises(TypeError):
            cache.set("key", value)
    assert cache.get("key") is None


def test_a_full_table_drops_the_entry_expiring_soonest_and_keeps_counting(tmp_path):
    cache = _cache(tmp_path / "counters.bin", entries=8)
    for i in range(8):
        cache.set(f"k{i}", i, 100 + i)
    cache.set("newcomer", 99, 1000)  # every slot alive: k0, expiring first, makes room
    assert cache.get("newcomer") == 99 and cache.get("k0") is None
    assert [cache.get(f"k{i}") for i in range(1, 8)] == list(range(1, 8))


_WORKER = """
import sys
from core.counters import CountersCache
cache = CountersCache(sys.argv[1], {"OPTIONS": {"MAX_ENTRIES": 1024}})
won = cache.add("race", 0, 60)
for _ in range(int(sys.argv[2])):
    cache.add("count", 0, 60)
    cache.incr("count")
print("won" if won else "lost")
"""


def test_processes_of_one_machine_share_one_count_and_one_add_wins(tmp_path):
    path, processes, each = tmp_path / "counters.bin", 4, 400
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER, str(path), str(each)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    answers = [worker.communicate(timeout=120)[0].strip() for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert sorted(answers) == ["lost"] * (processes - 1) + ["won"]  # add() is atomic across processes
    assert _cache(path).get("count") == processes * each  # no increment lost


def test_a_forked_child_locks_against_its_parent(tmp_path):
    """A flock belongs to the open file, which a forked child shares: the cache reopens it."""
    import os

    cache = _cache(tmp_path / "counters.bin")
    cache.add("count", 0, 60)
    children = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:  # the child: count, then leave without running the parent's cleanup
            try:
                for _ in range(5000):
                    cache.incr("count")
            finally:
                os._exit(0)
        children.append(pid)
    for _ in range(5000):
        cache.incr("count")
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    assert cache.get("count") == 20000
