"""DRF authentication by OpenAlgo API key: JSON body or query `apikey`, or X-API-KEY."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from accounts.apikeys import user_for_key
from core.api.keys import key_from_request

INVALID_KEY_MESSAGE = "Invalid openalgo apikey"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        user = user_for_key(key_from_request(request))
        if user is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY_MESSAGE)
        return user, None

    def authenticate_header(self, request) -> str:
        # A header makes DRF answer 401; the contract says 403 for a bad key.
        return ""
