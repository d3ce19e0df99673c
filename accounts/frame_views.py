"""Fragments of the page frame that pages refresh live (htmx)."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.otp import verified_login_required


@never_cache
@require_GET
@verified_login_required
def mode_banner(request):
    return render(request, "partials/mode_banner.html")
