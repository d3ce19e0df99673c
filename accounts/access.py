"""Who may enter the dashboard's pages before anyone has signed up."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import User


def setup_first(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """On a fresh install (no user at all) every entry page leads to the setup page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated and not User.objects.exists():
            return redirect("accounts:setup")
        return view(request, *args, **kwargs)

    return wrapper
