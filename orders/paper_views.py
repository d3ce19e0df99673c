"""The Sandbox pages: analyze mode, paper settings and a funds reset (Sandbox), the analyzer
log of analyze-mode requests (Analyzer log), and paper P&L per symbol and per day (My P&L)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.access import setup_first
from accounts.otp import verified_login_required
from orders import analyzer, paper
from orders.paper_forms import AnalyzerFilterForm, PaperSettingsForm

LOG_PAGE_SIZE = 50


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _sandbox_context(request, form: PaperSettingsForm | None = None) -> dict:
    user = request.user
    return {
        "analyze_mode": bool(user.analyze_mode),
        "form": form or PaperSettingsForm(initial=paper.paper_settings(user)),
        "funds": paper.paper_funds(user),
    }


@never_cache
@require_GET
@setup_first
@verified_login_required
def sandbox_page(request):
    return render(request, "orders/sandbox.html", _sandbox_context(request))


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def analyze_toggle(request):
    """POST turns analyze mode on (``analyze_mode`` ticked) or off; GET answers the toggle's
    fragment, which re-reads itself when the mode changes in another tab or by the API."""
    if request.method == "POST":
        on = request.POST.get("analyze_mode") in ("on", "true", "1")
        user = paper.set_analyze_mode(user=request.user, on=on, ip=audit.client_ip(request))
        if not _is_htmx(request):
            messages.success(request, "Analyze mode is on: orders go to the sandbox." if on
                             else "Analyze mode is off: orders go to your broker when you have a session.")
            return redirect("orders:sandbox")
        response = render(request, "orders/partials/analyze_toggle.html", {"analyze_mode": user.analyze_mode})
        # This tab's banner re-reads itself at once, even before the live channel says so.
        response["HX-Trigger"] = json.dumps({"oa:app_mode_changed": {"analyze_mode": user.analyze_mode}})
        return response
    return render(request, "orders/partials/analyze_toggle.html", {"analyze_mode": bool(request.user.analyze_mode)})


@require_POST
@verified_login_required
def sandbox_settings(request):
    form = PaperSettingsForm(request.POST)
    if form.is_valid():
        try:
            changes = paper.save_paper_settings(user=request.user, values=form.cleaned_data,
                                                ip=audit.client_ip(request))
        except paper.InvalidSettings as exc:
            for name, message in exc.errors.items():
                form.add_error(name if name in form.fields else None, message)
        else:
            messages.success(request, "Sandbox settings saved." if changes else "Nothing changed.")
            return redirect("orders:sandbox")
    return render(request, "orders/sandbox.html", _sandbox_context(request, form), status=400)


@require_POST
@verified_login_required
def sandbox_reset(request):
    if request.POST.get("confirm") != "reset":
        messages.error(request, "Confirm the reset to start your paper account over.")
        return render(request, "orders/sandbox.html", _sandbox_context(request), status=400)
    try:
        cash = paper.reset_funds(user=request.user, ip=audit.client_ip(request))
    except paper.ResetRefused as exc:
        messages.error(request, str(exc))
        return render(request, "orders/sandbox.html", _sandbox_context(request), status=400)
    messages.success(request, f"Paper funds reset: ₹{cash:,.2f} available, no orders, trades or positions.")
    return redirect("orders:sandbox")


def _log_row(row) -> dict:
    request_data = analyzer.without_secrets(row.request)
    response_data = analyzer.without_secrets(row.response)
    message = response_data.get("message") if isinstance(response_data, dict) else ""
    return {
        "pk": row.pk, "at": row.created_at, "api_type": row.endpoint,
        "symbol": request_data.get("symbol", "") if isinstance(request_data, dict) else "",
        "action": request_data.get("action", "") if isinstance(request_data, dict) else "",
        "status": response_data.get("status", "") if isinstance(response_data, dict) else "",
        "orderid": response_data.get("orderid", "") if isinstance(response_data, dict) else "",
        "message": message if isinstance(message, str) else json.dumps(message),
        "request_json": json.dumps(request_data, indent=2, sort_keys=True),
        "response_json": json.dumps(response_data, indent=2, sort_keys=True),
    }


@never_cache
@require_GET
@setup_first
@verified_login_required
def analyzer_page(request):
    form = AnalyzerFilterForm(request.GET or None, api_types=analyzer.analyzer_api_types(request.user))
    valid = form.is_valid() if form.is_bound else True
    where = form.log_filter() if form.is_bound and valid else analyzer.LogFilter()
    rows = analyzer.analyzer_logs(request.user, where)
    pages = Paginator(rows if valid else rows.none(), LOG_PAGE_SIZE)
    page = pages.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": [_log_row(row) for row in page.object_list],
               "query": query.urlencode(), "live": page.number == 1}
    template = "orders/partials/analyzer_table.html" if _is_htmx(request) else "orders/analyzer.html"
    return render(request, template, context, status=200 if valid else 400)


@never_cache
@require_GET
@setup_first
@verified_login_required
def mypnl_page(request):
    figures = paper.paper_pnl(request.user)
    template = "orders/partials/mypnl_body.html" if _is_htmx(request) else "orders/mypnl.html"
    return render(request, template, {"pnl": figures})
