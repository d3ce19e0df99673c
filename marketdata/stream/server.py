"""The feed server inside the feed process, for a host that runs one feed-server process
(``FEED_SERVES_WS``; `make run` sets it when FEED_PROCESSES is 1): the app of the
Procfile's ``ws`` line (openalgo/feed_asgi.py) under uvicorn, with the same options, on
WS_PORT, in a thread of the feed process. One Django process fewer (about 85 MB and a
second of start-up on two cores); a client sees no difference. With FEED_PROCESSES > 1 the
``ws`` processes serve it instead, spreading the fan-out over cores."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

log = logging.getLogger(__name__)


def config():
    import uvicorn

    # The Procfile's ws line, option for option (tests/test_feed_server.py holds them together).
    return uvicorn.Config(
        "openalgo.feed_asgi:application", host=settings.HOST, port=settings.WS_PORT, lifespan="off",
        access_log=False, proxy_headers=False, server_header=False, ws_max_size=1048576,
        ws_per_message_deflate=False, ws_ping_interval=20, ws_ping_timeout=20, timeout_graceful_shutdown=5,
        log_config=None)


def start(stopping: threading.Event) -> threading.Thread:
    """Serve the feed until ``stopping`` is set; the returned thread ends when the server
    does (also when it could not start: the port is taken)."""
    import uvicorn

    server = uvicorn.Server(config())

    def stop_when_asked() -> None:
        stopping.wait()
        server.should_exit = True

    def run() -> None:
        try:
            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind its port
            log.error("Feed server could not start on %s:%s", settings.HOST, settings.WS_PORT)
        except Exception:
            log.exception("Feed server failed")

    threading.Thread(target=stop_when_asked, name="feed-server-stop", daemon=True).start()
    thread = threading.Thread(target=run, name="feed-server", daemon=True)
    thread.start()
    return thread
