"""The feed server inside the feed process (FEED_SERVES_WS, marketdata/stream/server.py) runs
with the options of the Procfile's ``ws`` line: a new option there must be given here too."""

from __future__ import annotations

import shlex
from pathlib import Path

from marketdata.stream import server

ROOT = Path(__file__).resolve().parents[1]

# Procfile option -> (uvicorn.Config attribute, the value it means)
FLAGS = {
    "--lifespan": ("lifespan", str),
    "--ws-max-size": ("ws_max_size", int),
    "--ws-per-message-deflate": ("ws_per_message_deflate", lambda value: value == "true"),
    "--ws-ping-interval": ("ws_ping_interval", float),
    "--ws-ping-timeout": ("ws_ping_timeout", float),
    "--timeout-graceful-shutdown": ("timeout_graceful_shutdown", int),
}
SWITCHES = {"--no-access-log": ("access_log", False), "--no-proxy-headers": ("proxy_headers", False),
            "--no-server-header": ("server_header", False)}
# Options that concern a process of its own, not a server in a thread of the feed process.
NOT_IN_PROCESS = {"--workers", "--timeout-worker-healthcheck"}


def _ws_line() -> list[str]:
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("ws:"))
    return shlex.split(line.split(":", 1)[1])


def test_the_in_process_feed_server_has_the_ws_lines_options(settings):
    settings.HOST, settings.WS_PORT = "127.0.0.2", 18765
    words = _ws_line()
    assert words[:3] == ["python", "-m", "uvicorn"] and words[3] == "openalgo.feed_asgi:application"
    config = server.config()
    assert (config.app, config.host, config.port) == ("openalgo.feed_asgi:application", "127.0.0.2", 18765)
    rest = words[4:]
    checked = set()
    while rest:
        option = rest.pop(0)
        if option in SWITCHES:
            attribute, value = SWITCHES[option]
            assert getattr(config, attribute) == value, option
        elif option in FLAGS:
            attribute, convert = FLAGS[option]
            assert getattr(config, attribute) == convert(rest.pop(0)), option
        elif option in ("--host", "--port") or option in NOT_IN_PROCESS:
            rest.pop(0)
        else:
            raise AssertionError(f"the Procfile's ws line has {option}: give the in-process server the same")
        checked.add(option)
    assert set(SWITCHES) | set(FLAGS) <= checked


def _make_run(**variables: str) -> str:
    import subprocess

    # (under `make test` the outer make's flags ask for "Entering directory" lines: not here)
    args = ["make", "-n", "--no-print-directory", "-o", "install", "run",
            *(f"{name}={value}" for name, value in variables.items())]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return next(line for line in out.splitlines() if "honcho start" in line)


def test_make_run_lets_the_feed_process_serve_the_feed_only_with_one_feed_server_process():
    one = _make_run(FEED_PROCESSES="1")
    assert "FEED_SERVES_WS=true" in one and one.endswith("honcho start -f Procfile -c beat=0,ws=0")
    two = _make_run(FEED_PROCESSES="2")
    assert "FEED_SERVES_WS=false" in two and two.endswith("honcho start -f Procfile -c beat=0")
