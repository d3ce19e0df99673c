"""Middleware of our own: WhiteNoise made async-capable.

WhiteNoise's middleware is sync-only; one sync-only middleware in the stack makes
Django hop between the event loop and threads several times per request under daphne.
Static lookups are a dict get, so only a static hit goes to a thread (to open the file)."""

from __future__ import annotations

from asgiref.sync import markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    sync_capable = False
    async_capable = True

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)
