"""`manage.py runfeed`: the feed process. Runs the ZeroMQ forwarder that carries ticks
to every web process, then what each broker package declares for the feed process: its
services (the sandbox's fill engine) and its market streams (one shared stream, or one per
logged-in session), publishing on the bus; and the order-book poller that hears the fills
of live brokers whose order updates come by polling (beat runs it too, under the same
per-account lease, for deployments without a feed process)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from marketdata.bus import Forwarder
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
        self.stdout.write(f"Feed bus up: publish to {forwarder.xsub_address}, subscribe at {forwarder.xpub_address}")
        while not stopping.wait(0.5):
            if not thread.is_alive():
                raise SystemExit("feed bus stopped unexpectedly")
        for worker in threads:
            worker.join(timeout=5)
        forwarder.stop()
        thread.join(timeout=5)
