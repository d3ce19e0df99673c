"""Where a request presents its OpenAlgo API key."""

from __future__ import annotations


def key_from_request(request) -> object:
    """The presented key: body field first (the SDK's way), then query, then header."""
    data = request.data if request.method not in ("GET", "HEAD") else {}
    if isinstance(data, dict) and "apikey" in data:
        return data["apikey"]
    if "apikey" in request.query_params:
        return request.query_params["apikey"]
    return request.headers.get("X-API-KEY")
