"""``python -m openalgo.process NAME``: run the Procfile's process NAME (web, ws, feed,
worker, beat) inside this Python process. It is how Windows runs the platform
(deploy/windows/run.ps1 and the WinSW services), where no POSIX shell expands the Procfile's
``${VAR:-default}`` and a service manager must supervise the process itself, not a shell
around it. It works the same on Linux (the tests run it there).

The command is the Procfile's line, ``${NAME:-default}`` and ``${NAME}`` expanded from the
environment, then from the local .env (as honcho does for ``make run``), split with POSIX
rules, and run in this interpreter: ``python -m MODULE ...`` and ``python SCRIPT ...`` as
``python`` would run them, ``celery ...`` as the ``celery`` command. On Windows two things
change, because they must:

- web and ws (uvicorn): pyzmq's asyncio sockets need a selector event loop, and uvicorn would
  make a Proactor loop on Windows (there is no uvloop there), so they get
  ``--loop openalgo.process:selector_event_loop`` unless the Procfile names a loop; the
  selector loop policy is also set before anything runs (daphne's Twisted reactor, should
  a command use it, refuses the Proactor loop too);
- worker: Celery's prefork pool does not run on Windows, so the worker gets
  ``--pool=threads`` (same ``--concurrency``) unless the Procfile names a pool.

``--print`` shows the command that would run (as JSON) instead of running it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import runpy
import shlex
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PROCFILE = BASE_DIR / "Procfile"
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# The pool Celery workers use where prefork cannot run (Windows).
WINDOWS_WORKER_POOL = "threads"
# The event loop uvicorn runs on Windows (it imports this in every worker process it spawns).
WINDOWS_UVICORN_LOOP = "openalgo.process:selector_event_loop"


def on_windows() -> bool:
    return sys.platform == "win32"


def procfile(path: Path = PROCFILE) -> dict[str, str]:
    processes = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line):
            processes[match.group(1)] = match.group(2).strip()
    return processes


def dotenv(path: Path) -> dict[str, str]:
    """NAME=value lines of an env file (the plain form .env.example describes)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, _, value = line.partition("=")
            values[name.removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def environment() -> dict[str, str]:
    """The real environment over the env file settings.py reads."""
    env_file = Path(os.environ.get("OPENALGO_ENV_FILE", BASE_DIR / ".env"))
    return {**dotenv(env_file), **os.environ}


def expand(command: str, env: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = env.get(name, "")
        if found:
            return found
        if default is None:
            raise SystemExit(f"Procfile uses ${{{name}}}, which is not set")
        return default

    expanded = _VARIABLE.sub(value, command)
    if "$" in expanded:
        raise SystemExit(f"Procfile command uses a shell expansion this launcher does not do: {command}")
    return expanded


def command_for(name: str, *, env: Mapping[str, str] | None = None, windows: bool | None = None,
                processes: Mapping[str, str] | None = None) -> list[str]:
    """The argv of process ``name``, adapted to the system it will run on."""
    processes = procfile() if processes is None else processes
    if name not in processes:
        raise SystemExit(f"no process {name!r} in the Procfile (it has {', '.join(processes)})")
    argv = shlex.split(expand(processes[name], environment() if env is None else env))
    windows = on_windows() if windows is None else windows
    names_pool = any(arg == "--pool" or arg.startswith(("--pool=", "-P")) for arg in argv)
    if windows and argv[:1] == ["celery"] and "worker" in argv and not names_pool:
        argv.insert(argv.index("worker") + 1, f"--pool={WINDOWS_WORKER_POOL}")
    names_loop = any(arg == "--loop" or arg.startswith("--loop=") for arg in argv)
    if windows and argv[1:3] == ["-m", "uvicorn"] and not names_loop:
        argv[3:3] = ["--loop", WINDOWS_UVICORN_LOOP]
    return argv


def selector_event_loop() -> asyncio.AbstractEventLoop:
    """uvicorn's loop factory on Windows: a selector loop, which pyzmq's asyncio sockets need
    (uvicorn's own choice there is the Proactor loop for a single process)."""
    return asyncio.SelectorEventLoop()


def use_selector_event_loop() -> None:
    """Windows: the selector loop Twisted's asyncio reactor (daphne) and pyzmq need."""
    policy: Callable[[], asyncio.AbstractEventLoopPolicy] | None = getattr(
        asyncio, "WindowsSelectorEventLoopPolicy", None)
    if policy is not None:
        asyncio.set_event_loop_policy(policy())


def run(argv: list[str]) -> None:
    """Run ``argv`` in this interpreter, as the command it names would."""
    os.chdir(BASE_DIR)
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))
    program, args = Path(argv[0]).name.lower().removesuffix(".exe"), argv[1:]
    if on_windows():
        use_selector_event_loop()  # before anything imports daphne.server or Twisted
    if program in ("python", "python3") and args[:1] == ["-m"] and len(args) > 1:
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif program in ("python", "python3") and args:
        sys.argv = args
        runpy.run_path(str(BASE_DIR / args[0]), run_name="__main__")
    elif program == "celery":
        sys.argv = ["celery", *args]
        runpy.run_module("celery", run_name="__main__", alter_sys=True)
    else:
        raise SystemExit(f"cannot run {argv[0]!r} in-process: the Procfile's commands start with python or celery")


def main(arguments: list[str] | None = None) -> None:
    arguments = sys.argv[1:] if arguments is None else arguments
    show = "--print" in arguments
    names = [arg for arg in arguments if arg != "--print"]
    if len(names) != 1:
        raise SystemExit("usage: python -m openalgo.process [--print] web|ws|feed|worker|beat")
    argv = command_for(names[0])
    if show:
        print(json.dumps(argv))
        return
    run(argv)


if __name__ == "__main__":
    main()
