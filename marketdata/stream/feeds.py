"""What the feed process runs, read from the broker packages' declarations: each one's
feed services (the sandbox's fill engine), its shared market stream, one market stream
per logged-in session at a broker with a per-session feed, and one order-update socket per
logged-in session at a broker that pushes order changes, the sets refreshed as traders log
in and out. No broker is known here by name."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection

from django.db import close_old_connections

from accounts.brokers import live_sessions
from brokers import registry
from brokers.base import BrokerCredentials
from brokers.order_stream import order_stream_runner
from brokers.streaming import StreamRunner
from marketdata.stream import codec
from marketdata.stream.publisher import BusFeed

log = logging.getLogger(__name__)

SessionSource = Callable[[Collection[str]], list[tuple[int, BrokerCredentials]]]


def start_services(stop: threading.Event) -> list[threading.Thread]:
    """Every registered broker's declared feed services, each in a thread until ``stop``."""
    threads = []
    for name in registry.registered():
        for service in registry.feed_for(name).services():
            thread = threading.Thread(target=service.run, args=(stop,), name=service.name, daemon=True)
            thread.start()
            threads.append(thread)
    return threads


class FeedSupervisor:
    """Keeps the declared market streams running on the bus: one per broker whose stream is
    shared, one per live session at the others."""

    def __init__(self, *, address: str | None = None, sessions: SessionSource = live_sessions,
                 refresh_seconds: float = 30.0, sync_seconds: float = 0.05, runner_options: dict | None = None) -> None:
        self.address = address
        self.sessions = sessions
        self.refresh_seconds = refresh_seconds
        self.sync_seconds = sync_seconds
        self.runner_options = runner_options
        # (broker, owner) -> the running feed, and the credentials a session's feed was built with
        self.feeds: dict[tuple[str, str], BusFeed] = {}
        self._credentials: dict[tuple[str, str], BrokerCredentials] = {}
        # (broker, user id) -> the session's order-update socket runner, and its credentials
        self.order_streams: dict[tuple[str, int], StreamRunner] = {}
        self._order_credentials: dict[tuple[str, int], BrokerCredentials] = {}

    def _start(self, broker: str, owner: str, credentials: BrokerCredentials | None) -> None:
        factory = registry.feed_for(broker).stream
        if factory is None:
            return
        try:
            feed = BusFeed(broker=broker, owner=owner, stream=factory(credentials), address=self.address,
                           runner_options=self.runner_options)
        except Exception:
            log.exception("Could not build the market stream of %s for %s", broker, owner)
            return
        feed.start()
        self.feeds[(broker, owner)] = feed
        if credentials is not None:
            self._credentials[(broker, owner)] = credentials
        log.info("Market stream of %s for %s started", broker, owner)

    def _stop(self, key: tuple[str, str]) -> None:
        feed = self.feeds.pop(key)
        self._credentials.pop(key, None)
        feed.stop()
        log.info("Market stream of %s for %s stopped", *key)

    def start_shared(self) -> None:
        for name in registry.registered():
            spec = registry.feed_for(name)
            if spec.stream is not None and spec.shared and (name, name) not in self.feeds:
                self._start(name, codec.owner_for(name, 0, shared=True), None)

    def refresh_sessions(self) -> None:
        """Start a stream for each new live session, stop those whose session ended (or whose
        tokens changed: a fresh login gets a fresh stream)."""
        per_session = [name for name in registry.registered()
                       if registry.feed_for(name).stream is not None and not registry.feed_for(name).shared]
        try:
            sessions = self.sessions(per_session) if per_session else []
        finally:
            close_old_connections()
        wanted = {(credentials.broker, codec.owner_for(credentials.broker, user_id, shared=False)): credentials
                  for user_id, credentials in sessions}
        for key, credentials in self._credentials.copy().items():
            if wanted.get(key) != credentials:
                self._stop(key)
        for key, credentials in wanted.items():
            if key not in self.feeds:
                self._start(key[0], key[1], credentials)

    def refresh_order_streams(self) -> None:
        """One order-update socket per live session at a broker that pushes order changes;
        a session that ended (or logged in afresh) loses (or replaces) its socket."""
        pushing = [name for name in registry.registered() if registry.order_stream_for(name) is not None]
        try:
            sessions = self.sessions(pushing) if pushing else []
        finally:
            close_old_connections()
        wanted = {(credentials.broker, user_id): credentials for user_id, credentials in sessions}
        for key, credentials in self._order_credentials.copy().items():
            if wanted.get(key) != credentials:
                self._stop_orders(key)
        for key, credentials in wanted.items():
            if key in self.order_streams:
                continue
            factory = registry.order_stream_for(key[0])
            if factory is None:
                continue
            try:
                runner = order_stream_runner(factory(credentials), broker=key[0], user_id=key[1],
                                             **(self.runner_options or {}))
            except Exception:
                log.exception("Could not build the order-update socket of %s for user %s", *key)
                continue
            runner.start()
            self.order_streams[key], self._order_credentials[key] = runner, credentials
            log.info("Order-update socket of %s for user %s started", *key)

    def _stop_orders(self, key: tuple[str, int]) -> None:
        runner = self.order_streams.pop(key)
        self._order_credentials.pop(key, None)
        runner.stop()
        log.info("Order-update socket of %s for user %s stopped", *key)

    def sync(self) -> None:
        for feed in list(self.feeds.values()):
            try:
                feed.sync()
            except Exception:
                log.exception("Subscriptions of the %s:%s stream failed to sync", feed.broker, feed.owner)

    def run(self, stop: threading.Event) -> None:
        refreshed_at = float("-inf")
        try:
            self.start_shared()
            while not stop.is_set():
                if time.monotonic() - refreshed_at >= self.refresh_seconds:
                    try:
                        self.refresh_sessions()
                    except Exception:
                        log.exception("Refreshing the live sessions' streams failed")
                    try:
                        self.refresh_order_streams()
                    except Exception:
                        log.exception("Refreshing the live sessions' order-update sockets failed")
                    refreshed_at = time.monotonic()
                self.sync()
                stop.wait(self.sync_seconds)
        finally:
            for key in list(self.feeds):
                self._stop(key)
            for order_key in list(self.order_streams):
                self._stop_orders(order_key)
