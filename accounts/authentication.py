"""DRF authentication by OpenAlgo API key: JSON body or query `apikey`, or X-API-KEY."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts.apikeys import user_for_key

INVALID_KEY_MESSAGE = "Invalid openalgo apikey"


def key_from_request(request) -> object:
    """The presented key: body field first (the SDK's way), then query, then header."""
    data = request.data if request.method not in ("GET", "HEAD") else {}
    if isinstance(data, dict) and "apikey" in data:
        return data["apikey"]
    if "apikey" in request.query_params:
        return request.query_params["apikey"]
    return request.headers.get("X-API-KEY")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        user = user_for_key(key_from_request(request))
        if user is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
        return user, None

    def authenticate_header(self, request) -> str:
        # A header makes DRF answer 401; the contract says 403 for a bad key.
        return ""
