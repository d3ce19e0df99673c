"""The ZeroMQ tick bus: one XSUB/XPUB forwarder that every publisher and subscriber
connects to (design.md). Only the feed process binds."""

from __future__ import annotations

import logging
import threading

import zmq
from django.conf import settings

log = logging.getLogger(__name__)


class Forwarder:
    """XSUB (publishers connect) <-> XPUB (subscribers connect), steerable so it can stop.

    Subscription messages travel XPUB -> XSUB, so publishers learn what is wanted.
    """

    def __init__(self, xsub_address: str | None = None, xpub_address: str | None = None,
                 context: zmq.Context | None = None) -> None:
        self.xsub_address = xsub_address or settings.ZMQ_XSUB_BIND
        self.xpub_address = xpub_address or settings.ZMQ_XPUB_BIND
        self._context = context or zmq.Context.instance()
        self._control_address = f"inproc://forwarder-control-{id(self)}"
        self._ready = threading.Event()

    def run(self) -> None:
        """Bind and forward until ``stop`` is called (blocks)."""
        ctx = self._context
        frontend = ctx.socket(zmq.XSUB)
        backend = ctx.socket(zmq.XPUB)
        control = ctx.socket(zmq.REP)
        try:
            backend.setsockopt(zmq.XPUB_VERBOSE, 1)  # pass every subscribe upstream, not only the first
            for sock in (frontend, backend):
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.SNDHWM, 100_000)
                sock.setsockopt(zmq.RCVHWM, 100_000)
            frontend.bind(self.xsub_address)
            backend.bind(self.xpub_address)
            control.bind(self._control_address)
            log.info("Feed bus: publishers -> %s, subscribers -> %s", self.xsub_address, self.xpub_address)
            self._ready.set()
            zmq.proxy_steerable(frontend, backend, None, control)
        finally:
            self._ready.set()
            for sock in (frontend, backend, control):
                sock.close(linger=0)

    def wait_ready(self, timeout: float = 5.0) -> bool:
        return self._ready.wait(timeout)

    def stop(self) -> None:
        control = self._context.socket(zmq.REQ)
        try:
            control.connect(self._control_address)
            control.send(b"TERMINATE")
        finally:
            control.close(linger=0)
