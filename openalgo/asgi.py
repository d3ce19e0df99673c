"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels routes."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openalgo.settings")

from channels.routing import ProtocolTypeRouter, URLRouter
from django.conf import settings
from django.core.asgi import get_asgi_application

from openalgo.threads import PathDispatch, PooledSyncThreads, api_application

site = get_asgi_application()  # sets Django up first
django_asgi_app = PooledSyncThreads(PathDispatch(api=api_application(), site=site), settings.WEB_THREADS)

from openalgo.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

if settings.RECONCILE_ON_STARTUP:
    from orders.reconcile import sweep_after_start

    sweep_after_start()  # orders a previous process of this host left unanswered (kill -9, crash)
