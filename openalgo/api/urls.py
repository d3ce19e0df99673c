"""/api/v1 routes. Every path is served with and without a trailing slash, no redirect."""

from __future__ import annotations

from django.urls import re_path

from accounts.api import PingView


def endpoint(path: str, view):
    return re_path(rf"^{path}/?$", view.as_view(), name=path.replace("/", "-"))


urlpatterns = [
    endpoint("ping", PingView),
]
