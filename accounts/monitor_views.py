"""The monitoring pages: the API request log (filterable, secrets masked), latency and
traffic charts over it and /metrics, and the readiness checks refreshed live. A trader sees
their own calls; staff may switch to everyone's."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts import monitoring
from accounts.otp import verified_login_required
from core.values import IST

PAGE_SIZE = 50
WINDOW_CHOICES = [(1, "Last hour"), (6, "Last 6 hours"), (24, "Last 24 hours"), (168, "Last 7 days")]


class RequestFilter(forms.Form):
    endpoint = forms.RegexField(required=False, max_length=64, regex=r"^[A-Za-z0-9_/.\-]*$",
                                error_messages={"invalid": "An endpoint name has letters, digits, _ / . - only."},
                                widget=forms.TextInput(attrs={"class": "input input-sm", "placeholder": "placeorder"}))
    status = forms.ChoiceField(required=False,
                               choices=[("", "Any status"), *((code, code) for code in monitoring.STATUS_CLASSES)],
                               widget=forms.Select(attrs={"class": "select select-sm"}))
    day = forms.DateField(required=False, label="Date", input_formats=["%Y-%m-%d"],
                          error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
                          widget=forms.DateInput(attrs={"class": "input input-sm", "type": "date"}))
    everyone = forms.BooleanField(required=False, label="All users")
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000,
                              error_messages={"invalid": "The page is a whole number."})


class WindowFilter(forms.Form):
    hours = forms.TypedChoiceField(required=False, coerce=int, empty_value=1, choices=WINDOW_CHOICES,
                                   error_messages={"invalid_choice": "Choose one of the listed periods."},
                                   widget=forms.Select(attrs={"class": "select select-sm"}))
    everyone = forms.BooleanField(required=False, label="All users")


def _everyone(request: HttpRequest, form: forms.Form) -> bool:
    return bool(request.user.is_staff and form.is_valid() and form.cleaned_data.get("everyone"))


@never_cache
@require_GET
@verified_login_required
def requests_page(request: HttpRequest) -> HttpResponse:
    form = RequestFilter(request.GET or None)
    valid = form.is_valid() if request.GET else True
    data = form.cleaned_data if request.GET and valid else {}
    rows = monitoring.visible_requests(request.user, everyone=_everyone(request, form))
    endpoints = monitoring.endpoints_seen(rows)
    if valid:
        rows = monitoring.filtered(rows, endpoint=data.get("endpoint") or "", status_class=data.get("status") or "",
                                   day=data.get("day"))
    else:
        rows = rows.none()
    paginator = Paginator(rows.select_related("user") if _everyone(request, form) else rows, PAGE_SIZE)
    page = paginator.get_page(data.get("page") or 1)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "endpoints": endpoints, "query": query.urlencode(),
               "everyone": _everyone(request, form)}
    return render(request, "accounts/monitor_requests.html", context, status=200 if valid else 400)


def _window(request: HttpRequest) -> tuple[WindowFilter, int, bool]:
    form = WindowFilter(request.GET or None)
    if request.GET and not form.is_valid():
        return form, 0, False
    hours = (form.cleaned_data.get("hours") if request.GET else None) or 1
    return form, hours, _everyone(request, form)


def _window_page(request: HttpRequest, template: str, data_url: str, extra: dict | None = None) -> HttpResponse:
    form, hours, everyone = _window(request)
    context = {"form": form, "hours": hours, "data_url": data_url, "everyone": everyone, **(extra or {})}
    if not hours:
        return render(request, template, context, status=400)
    points = monitoring.samples(monitoring.visible_requests(request.user, everyone=everyone), hours=hours)
    context["points"] = len(points)
    context["by_endpoint"] = monitoring.latency_summary(points, key="endpoint")
    context["by_broker"] = monitoring.latency_summary(points, key="broker")
    return render(request, template, context)


@never_cache
@require_GET
@verified_login_required
def latency_page(request: HttpRequest) -> HttpResponse:
    return _window_page(request, "accounts/monitor_latency.html", "accounts:monitor_latency_data",
                        {"order_latency": monitoring.order_latency_by_broker()})


@never_cache
@require_GET
@verified_login_required
def latency_data(request: HttpRequest) -> JsonResponse:
    _, hours, everyone = _window(request)
    if not hours:
        return JsonResponse({"error": "Choose one of the listed periods."}, status=400)
    width = monitoring.WINDOWS[hours]
    points = monitoring.samples(monitoring.visible_requests(request.user, everyone=everyone), hours=hours)
    return JsonResponse({"bucket_seconds": width,
                         "endpoints": monitoring.latency_series(points, width=width, key="endpoint"),
                         "brokers": monitoring.latency_series(points, width=width, key="broker")})


@never_cache
@require_GET
@verified_login_required
def traffic_page(request: HttpRequest) -> HttpResponse:
    form, hours, everyone = _window(request)
    context = {"form": form, "hours": hours, "data_url": "accounts:monitor_traffic_data", "everyone": everyone}
    if not hours:
        return render(request, "accounts/monitor_traffic.html", context, status=400)
    width = monitoring.WINDOWS[hours]
    points = monitoring.samples(monitoring.visible_requests(request.user, everyone=everyone), hours=hours)
    series = monitoring.traffic_series(points, width=width)
    rows = [{**row, "at": datetime.fromtimestamp(row["time"] - monitoring.IST_SHIFT, tz=IST)}
            for row in reversed(series[-60:])]
    context.update(rows=rows, bucket_minutes=width // 60, points=len(points),
                   errors=sum(row["client_errors"] + row["server_errors"] for row in series))
    return render(request, "accounts/monitor_traffic.html", context)


@never_cache
@require_GET
@verified_login_required
def traffic_data(request: HttpRequest) -> JsonResponse:
    _, hours, everyone = _window(request)
    if not hours:
        return JsonResponse({"error": "Choose one of the listed periods."}, status=400)
    width = monitoring.WINDOWS[hours]
    points = monitoring.samples(monitoring.visible_requests(request.user, everyone=everyone), hours=hours)
    return JsonResponse({"bucket_seconds": width, "traffic": monitoring.traffic_series(points, width=width)})


@never_cache
@require_GET
@verified_login_required
def health_page(request: HttpRequest) -> HttpResponse:
    """The page frame; its panel (openalgo/health.py's ``ready_panel``) refreshes itself."""
    return render(request, "accounts/monitor_health.html")
