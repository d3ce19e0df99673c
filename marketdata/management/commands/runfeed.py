"""`manage.py runfeed`: the feed process. Runs the ZeroMQ forwarder that carries ticks
from broker streams (and the sandbox simulator) to every web process."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from marketdata.bus import Forwarder


class Command(BaseCommand):
    help = "Run the market-data feed process (ZeroMQ XSUB/XPUB forwarder)."

    def handle(self, *args, **options) -> None:
        forwarder = Forwarder()
        thread = threading.Thread(target=forwarder.run, name="feed-forwarder", daemon=True)
        thread.start()
        if not forwarder.wait_ready():
            raise SystemExit("feed bus did not start")
        stopping = threading.Event()

        def request_stop(signum, frame) -> None:
            stopping.set()

        engine_threads = self._start_fill_engine(stopping)
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.stdout.write(f"Feed bus up: publish to {forwarder.xsub_address}, subscribe at {forwarder.xpub_address}")
        while not stopping.wait(0.5):
            if not thread.is_alive():
                raise SystemExit("feed bus stopped unexpectedly")
        forwarder.stop()
        thread.join(timeout=5)
        for engine_thread in engine_threads:
            engine_thread.join(timeout=5)

    def _start_fill_engine(self, stopping: threading.Event) -> list[threading.Thread]:
        """The sandbox's fill engine: resting paper orders checked on every simulated tick of
        their instrument, a poller behind it, and session settlement."""
        from brokers.sandbox.engine import FillEngine
        from marketdata.stream.publisher import run_simulated_feed

        engine = FillEngine()
        threads = [threading.Thread(target=run_simulated_feed, args=(stopping,), name="simulated-feed", daemon=True),
                   threading.Thread(target=engine.run_ticks, args=(stopping,), name="sandbox-ticks", daemon=True),
                   threading.Thread(target=engine.run, args=(stopping,), name="sandbox-poller", daemon=True)]
        for engine_thread in threads:
            engine_thread.start()
        return threads
