"""Dashboard pages of the orders app: the dashboard itself, risk limits with the kill switch,
and reconciliation."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit, otp
from accounts.access import setup_first
from accounts.brokers import active_broker_name, brokers_to_log_into
from accounts.otp import verified_login_required
from accounts.services import active_api_key
from brokers.base import BrokerError
from core.errors import ServiceError
from orders import pnl, presenters, reconcile, risk, services
from orders.forms import RiskLimitsForm
from orders.models import TERMINAL, Order, Reconciliation, RiskLimits
from orders.selectors import order_safety
from orders.services import adapter_for

# Open positions listed on the dashboard, at most (the Positions page has them all).
DASHBOARD_POSITIONS = 8


def trading_summary(user) -> dict:
    """Funds, the day's P&L (kept as a sample for the intraday curve) and open positions,
    from the user's adapter as the API reads them; a broker failure is a message, not a 500."""
    try:
        adapter = adapter_for(user)
        funds = presenters.funds(adapter.funds())
        positions = adapter.positions()
    except ServiceError as exc:
        text = exc.message if exc.http_status < 500 else "the broker did not answer"
        return {"trading_error": f"Your account could not be read: {text}.", "samples": pnl.today(user)}
    day = pnl.day_pnl(positions)
    pnl.record(user, day)
    rows, _ = presenters.position_book(positions, adapter.capabilities.paper)
    open_rows = [row for row in rows if row["quantity"]]
    return {"funds": funds, "day_pnl": presenters.money(day), "open_positions": open_rows[:DASHBOARD_POSITIONS],
            "open_count": len(open_rows), "samples": pnl.today(user)}


@never_cache
@setup_first
@verified_login_required
def dashboard(request):
    user = request.user
    if request.headers.get("HX-Request"):
        return render(request, "accounts/_dashboard_trading.html", trading_summary(user))
    context = {
        "broker": active_broker_name(user),
        "live_brokers": brokers_to_log_into(),
        "api_key": active_api_key(user=user),
        "two_factor": otp.has_two_factor(user),
        **order_safety(user),
        **trading_summary(user),
    }
    return render(request, "accounts/dashboard.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def risk_page(request):
    limits, _ = RiskLimits.objects.get_or_create(user=request.user)
    form = RiskLimitsForm(request.POST or None, instance=limits)
    if request.method == "POST" and form.is_valid():
        changes = form.changes()
        with transaction.atomic():
            form.save()
        if changes:
            audit.record("risk_limits_changed", actor=request.user.username, subject=request.user.username,
                         detail=changes, ip=audit.client_ip(request))
        messages.success(request, "Risk limits saved." if changes else "Nothing changed.")
        return redirect("orders:risk")
    try:
        pnl = risk.day_pnl(adapter_for(request.user))
    except BrokerError:
        pnl = None
    rejections = Order.objects.filter(user=request.user, events__source="risk").order_by("-pk")[:20]
    return render(request, "orders/risk.html", {"form": form, "limits": limits, "pnl": pnl,
                                                "rejections": rejections}, status=400 if form.is_bound else 200)


@require_POST
@verified_login_required
def kill_switch(request):
    if request.POST.get("action") == "reset":
        if services.reset_kill_switch(request.user, actor=request.user.username, ip=audit.client_ip(request)):
            messages.success(request, "Kill switch reset: orders are accepted again.")
        else:
            messages.info(request, "The kill switch was not on.")
    else:
        outcome = services.engage_kill_switch(request.user, reason="engaged by hand", actor=request.user.username,
                              ip=audit.client_ip(request))
        if outcome is None:
            messages.info(request, "The kill switch is already on.")
        else:
            done = f"{outcome.get('cancelled', 0)} order(s) cancelled"
            if "squared_off" in outcome:
                done += f", {outcome['squared_off']} position(s) squared off"
            messages.warning(request, f"Kill switch on: {done}. New orders are refused until you reset it.")
    return redirect("orders:risk")


@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def reconciliation_page(request):
    if request.method == "POST":
        brokers = {adapter_for(request.user).name}
        brokers |= set(Order.objects.filter(user=request.user).exclude(status__in=TERMINAL)
                       .values_list("broker", flat=True))
        for broker in sorted(brokers):
            run = reconcile.reconcile(request.user, broker, trigger="manual")
            if run.error:
                messages.error(request, f"{broker}: the broker could not be read ({run.error}).")
            else:
                messages.success(request, f"{broker}: {run.checked_orders} unresolved order(s) checked, "
                                          f"{len(run.fixed)} corrected, {len(run.differences)} difference(s).")
        return redirect("orders:reconciliation")
    runs = Reconciliation.objects.filter(user=request.user).order_by("-at", "-pk")[:20]
    unresolved = Order.objects.filter(user=request.user, status__in=("submitting", "unknown")).order_by("-pk")
    return render(request, "orders/reconciliation.html", {"runs": runs, "unresolved": unresolved})
