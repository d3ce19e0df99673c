"""`manage.py prepare`: what `make run` does before the platform's processes start, in one
process, skipping what is already done (a second start has nothing to do and takes the
time of one `django.setup()`):

- the metrics folder emptied (no process of the platform runs yet);
- migrations applied when the plan is not empty (reading the plan costs ~0.1 s; `migrate`
  with nothing to do costs a second more: its system checks import every URL and view);
- static files collected when the files the finders see (names, sizes, modification times)
  differ from those of the last collection, or its manifest is gone;
- the sandbox's instruments for today loaded when this database has not had them for today
  with this code. That one runs in a child process while the platform starts (`--wait`
  waits for it): it only adds rows (the day's new expiries), nothing but a search or an
  order in a new contract waits for them, and the daily beat task does the same.

The database is always migrated before this command returns: nothing serves an unmigrated
database. `--force` does every step again."""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor

from brokers.models import Instrument
from brokers.sandbox import contracts, expiries, listing
from brokers.sandbox.clock import now, session_date
from core.metrics import clear_directory

log = logging.getLogger(__name__)

STAMP_NAME = "prepared.json"  # in OPENALGO_VAR_DIR: what was done, for which inputs
STATIC_IGNORE = ["CVS", ".*", "*~"]  # collectstatic's default ignore patterns


def _digest(*parts: object) -> str:
    return hashlib.sha256("\0".join(str(part) for part in parts).encode()).hexdigest()


def static_fingerprint() -> str:
    """The files collectstatic would copy: source names, sizes and modification times."""
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(STATIC_IGNORE):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return _digest(settings.STORAGES["staticfiles"]["BACKEND"], settings.STATIC_ROOT, *sorted(entries))


def database_identity() -> str:
    db = connection.settings_dict
    return _digest(db["ENGINE"], db["NAME"], db.get("HOST", ""), db.get("PORT", ""))


def universe_key() -> str:
    """Today's session, this database and the code that lists the sandbox's instruments."""
    code = b"".join(Path(module.__file__ or "").read_bytes() for module in (contracts, expiries, listing))
    return _digest(database_identity(), session_date(now()).isoformat(), hashlib.sha256(code).hexdigest())


def sandbox_rows() -> int:
    return Instrument.objects.filter(broker=contracts.BROKER).count()


class Stamp:
    """prepared.json: each step's inputs when it last completed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.values: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.values = {}

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def set(self, name: str, value: Any) -> None:
        # Re-read first: the universe child and this process may each write one key.
        current = Stamp(self.path).values
        current[name] = value
        self.values = current
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(current, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)

    def forget(self, name: str) -> None:
        if name in Stamp(self.path).values:
            current = Stamp(self.path).values
            current.pop(name)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(current, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)
            self.values = current


class Command(BaseCommand):
    help = "Prepare the platform to start: migrations, static files, the sandbox's instruments (only what changed)."
    verbosity = 1
    requires_system_checks: list[str] = []  # `migrate` runs them when there is something to migrate

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="Do every step, even those already done.")
        parser.add_argument("--wait", action="store_true",
                            help="Load the sandbox's instruments in this process, not while the platform starts.")

    def handle(self, *args: Any, force: bool = False, wait: bool = False, verbosity: int = 1, **options: Any) -> None:
        self.verbosity = verbosity
        stamp = Stamp(settings.VAR_DIR / STAMP_NAME)
        clear_directory()
        migrated = self.migrate(force=force)
        if migrated:
            stamp.forget("universe")  # a new or changed database: its instruments are checked again
        self.collect_static(stamp, force=force)
        self.load_universe(stamp, force=force, wait=wait)
        # The interpreter's last collections walk every object Django and the apps created:
        # ~0.3 s of exit on a quiet machine, 1.7 s on a loaded one, before `make run` goes on.
        # Nothing here needs collecting any more.
        connections.close_all()
        gc.freeze()

    def say(self, message: str) -> None:
        if self.verbosity:
            self.stdout.write(f"prepare: {message}")

    def migrate(self, *, force: bool) -> bool:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan and not force:
            self.say("database up to date")
            return False
        self.say(f"applying {len(plan)} migration(s)")
        call_command("migrate", interactive=False, verbosity=max(0, self.verbosity - 1))
        return True

    def collect_static(self, stamp: Stamp, *, force: bool) -> None:
        fingerprint = static_fingerprint()
        manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
        if not force and stamp.get("static") == fingerprint and manifest.is_file():
            self.say("static files unchanged")
            return
        self.say("collecting static files")
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.set("static", fingerprint)

    def load_universe(self, stamp: Stamp, *, force: bool, wait: bool) -> None:
        key = universe_key()
        done = stamp.get("universe")
        if not force and isinstance(done, dict) and done.get("key") == key and done.get("rows") == sandbox_rows():
            self.say("sandbox instruments loaded for today")
            return
        if wait or not hasattr(os, "fork"):
            self._load_universe(stamp, key)
            return
        self.say("loading the sandbox's instruments for today while the platform starts")
        # The child opens its own connections; a PostgreSQL pool's threads would not survive the
        # fork, so the pool goes too (the child makes a new one).
        for database in connections.all():
            database.close()
            if hasattr(database, "close_pool"):
                database.close_pool()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:  # pragma: no cover - the child, in a process of its own
            code = 0
            try:
                self._load_universe(stamp, key)
            except BaseException:
                log.exception("Loading the sandbox's instruments failed; the next start tries again")
                code = 1
            finally:
                connections.close_all()
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)

    def _load_universe(self, stamp: Stamp, key: str) -> None:
        added = contracts.load_sandbox_universe()
        stamp.set("universe", {"key": key, "rows": sandbox_rows()})
        self.say(f"sandbox instruments for today: {added} added")
