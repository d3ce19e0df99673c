"""Notes when a signed-in browser session was last used (the Sessions page's "last seen")."""

from __future__ import annotations

from accounts import sessions


class SessionActivityMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        key = getattr(session, "session_key", None)
        if key and user is not None and user.is_authenticated:
            sessions.touch(key)
        return response
