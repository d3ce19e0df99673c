"""`manage.py runfeed`: the feed process. Runs the ZeroMQ forwarder that carries ticks
to every web process, then what each broker package declares for the feed process: its
services (the sandbox's fill engine) and its market streams (one shared stream, or one per
logged-in session), publishing on the bus; and the order-book poller that hears the fills
of live brokers whose order updates come by polling (beat runs it too, under the same
per-account lease, for deployments without a feed process). With FEED_SERVES_WS it also
serves the WebSocket feed on WS_PORT (marketdata/stream/server.py)."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from marketdata.bus import Forwarder
from marketdata.stream import server
from marketdata.stream.feeds import FeedSupervisor, start_services
from orders.order_updates import start_polling


class Command(BaseCommand):
    help = "Run the market-data feed process (ZeroMQ XSUB/XPUB forwarder, broker streams and feed services)."

    def handle(self, *args, **options) -> None:
        forwarder = Forwarder()
        thread = threading.Thread(target=forwarder.run, name="feed-forwarder", daemon=True)
        thread.start()
        if not forwarder.wait_ready():
            raise SystemExit("feed bus did not start")
        stopping = threading.Event()

        def request_stop(signum, frame) -> None:
            stopping.set()

        supervisor = FeedSupervisor()
        threads = [threading.Thread(target=supervisor.run, args=(stopping,), name="feed-streams", daemon=True)]
        threads[0].start()
        threads += start_services(stopping)
        threads.append(start_polling(stopping))
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        feed_server = server.start(stopping) if settings.FEED_SERVES_WS else None
        if feed_server is not None:
            threads.append(feed_server)
        self.stdout.write(f"Feed bus up: publish to {forwarder.xsub_address}, subscribe at {forwarder.xpub_address}")
        if feed_server is not None:
            self.stdout.write(f"Feed server in this process: ws://{settings.HOST}:{settings.WS_PORT}/")
        while not stopping.wait(0.5):
            if not thread.is_alive():
                raise SystemExit("feed bus stopped unexpectedly")
            if feed_server is not None and not feed_server.is_alive():
                stopping.set()
                for worker in threads:
                    worker.join(timeout=5)
                raise SystemExit("feed server stopped unexpectedly")
        for worker in threads:
            worker.join(timeout=5)
        forwarder.stop()
        thread.join(timeout=5)
