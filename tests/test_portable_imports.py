"""Nothing that the web, feed or worker process imports needs a POSIX-only module: the
platform must start on Windows, where fcntl, resource, pwd, grp and termios do not exist.

A child interpreter makes those five unimportable for our modules (as on Windows: every
``import`` statement and ``importlib.import_module`` call made by a module of our packages
is refused, whether or not the module is already loaded), sets Django up with the project
settings, then imports every module of our packages, found with pkgutil: accounts,
brokers, core, marketdata, orders, strategies, openalgo, including migrations and every
management command (none of ours is POSIX-only tooling). Left out, and why:
  - tests/ packages and conftest modules: the test suite, not the platform;
  - ``*.testing`` modules (brokers/sandbox/testing.py, brokers/fakelive/testing.py): fixtures
    for the test suite that import test-only packages (respx, pytest);
  - brokers/scaffold/: templates (``*.py-tpl``) that ``startbroker`` copies, not modules.
A module may use a POSIX-only module behind a platform check or a guarded import (that is
what core.filelock does); what it may not do is import one unconditionally.

Third-party libraries are not held to the block: they choose their branch by sys.platform
(billiard, under Celery, imports fcntl on Linux and not on Windows), so on this Linux machine
they rightly take their POSIX branch. That they support Windows is their promise (Celery,
Twisted/daphne, pyzmq, psycopg ship for it), not something this machine can show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSIX_ONLY = ("fcntl", "resource", "pwd", "grp", "termios")
PACKAGES = ("accounts", "brokers", "core", "marketdata", "orders", "strategies", "openalgo")

CHECKER = r"""
import builtins, importlib, json, pkgutil, sys, traceback

BLOCKED = set(sys.argv[1].split(","))
PACKAGES = sys.argv[2].split(",")
PLANTS = [arg.split("=", 1) for arg in sys.argv[3:]]  # PACKAGE=DIR: extra module folder of a package


def ours(module_globals):
    return (module_globals or {}).get("__name__", "").partition(".")[0] in PACKAGES


def refuse(name):
    if name.partition(".")[0] in BLOCKED:
        raise ModuleNotFoundError(f"No module named {name!r} (POSIX-only: absent on Windows)", name=name)


real_import, real_import_module = builtins.__import__, importlib.import_module


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and ours(globals):
        refuse(name)
    return real_import(name, globals, locals, fromlist, level)


def guarded_import_module(name, package=None):
    if ours(sys._getframe(1).f_globals):
        refuse(name)
    return real_import_module(name, package)


builtins.__import__ = guarded_import
importlib.import_module = guarded_import_module

failures, imported = {}, []


def record(name):
    failures[name] = traceback.format_exc(limit=-3)


try:
    import django
    django.setup()
except Exception:
    record("django.setup()")
else:
    for package, folder in PLANTS:
        real_import_module(package).__path__.append(folder)

    def skipped(name):
        parts = name.split(".")
        return "tests" in parts or parts[-1] in ("testing", "conftest")

    for package in PACKAGES:
        try:
            root = real_import_module(package)
        except Exception:
            record(package)
            continue
        imported.append(package)
        for info in pkgutil.walk_packages(root.__path__, package + ".", onerror=record):
            if skipped(info.name):
                continue
            try:
                real_import_module(info.name)
                imported.append(info.name)
            except Exception:
                record(info.name)

# The block itself, as one of our modules sees it.
probe = {"__name__": "orders.probe"}
still_blocked = []
for name in sorted(BLOCKED):
    try:
        guarded_import(name, probe)
    except ImportError:
        still_blocked.append(name)
print(json.dumps({"failures": failures, "imported": imported, "still_blocked": still_blocked}))
"""


def run_checker(*plants: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "openalgo.settings",
        # Importing openalgo.asgi must not reconcile against the database.
        "RECONCILE_ON_STARTUP": "false",
        # The secrets come from the environment, so nothing is generated into a file here
        # (core.filelock's Windows branch has its own tests).
        "SECRET_KEY": "portable-imports-not-secret",
        "API_KEY_PEPPER": "portable-imports-not-secret",
        "FERNET_KEYS": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    }
    result = subprocess.run(
        [sys.executable, "-c", CHECKER, ",".join(POSIX_ONLY), ",".join(PACKAGES), *plants],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_web_feed_and_worker_modules_import_without_posix_only_modules():
    report = run_checker()
    assert report["still_blocked"] == sorted(POSIX_ONLY)
    assert not report["failures"], "\n".join(f"{name}:\n{error}" for name, error in report["failures"].items())
    imported = set(report["imported"])
    # The entry points of the four processes and the modules that used to import fcntl.
    assert {"openalgo.asgi", "openalgo.celery", "openalgo.settings", "openalgo.localenv", "orders.locks",
            "orders.owners", "core.filelock", "marketdata.management.commands.runfeed",
            "brokers.sandbox.management.commands.loadsandbox", "orders.tasks"} <= imported
    assert len(imported) > 150, f"only {len(imported)} modules found: is discovery broken?"
    assert not any(".tests" in name or name.endswith(".testing") for name in imported)


def test_the_check_catches_a_posix_only_import_in_an_app(tmp_path):
    # A module of the orders package (its folder added to orders.__path__) importing fcntl
    # at the top, as someone might add to orders/: the check must name it.
    (tmp_path / "posix_lock.py").write_text("import fcntl\n\nLOCK = fcntl.LOCK_EX\n")
    (tmp_path / "guarded_lock.py").write_text(
        "try:\n    import fcntl\nexcept ImportError:\n    fcntl = None\n"
    )
    report = run_checker(f"orders={tmp_path}")
    assert set(report["failures"]) == {"orders.posix_lock"}
    assert "fcntl" in report["failures"]["orders.posix_lock"]
    assert "orders.guarded_lock" in report["imported"]
