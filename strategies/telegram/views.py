"""The Telegram page: the bot's state, its token and start/stop (administrators), the
user's link code, linked chat and alert preferences. Telegram itself is only ever called
from a worker (strategies/telegram/tasks.py)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import audit
from accounts.access import setup_first
from accounts.otp import verified_login_required
from strategies.telegram import services, tasks
from strategies.telegram.forms import BotForm, PreferencesForm, TokenForm

ADMIN_ONLY = "Only an administrator can configure the Telegram bot."


def _page(request: HttpRequest, *, status: int = 200, token_form: TokenForm | None = None,
          preferences_form: PreferencesForm | None = None, code: str = "", minutes: int = 0,
          error: str = "") -> HttpResponse:
    link = services.link_of(request.user)
    if preferences_form is None and link is not None:
        preferences_form = PreferencesForm(initial={
            "alert_orders": link.alert_orders, "alert_fills": link.alert_fills,
            "alert_rejections": link.alert_rejections, "paused": link.paused})
    return render(request, "strategies/telegram.html", {
        "status": services.status(), "link": link, "is_admin": request.user.is_staff,
        "token_form": token_form or TokenForm(), "preferences_form": preferences_form,
        "code": code, "minutes": minutes, "error": error,
        "not_configured": services.NOT_CONFIGURED,
    }, status=status)


@never_cache
@setup_first
@verified_login_required
def telegram_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@require_POST
@verified_login_required
def save_token(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        return _page(request, status=403, error=ADMIN_ONLY)
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, token_form=form)
    services.save_token(value=form.cleaned_data["token"], actor=request.user.username, ip=audit.client_ip(request))
    transaction.on_commit(tasks.configure_bot.delay)
    messages.success(request, "Bot token stored (encrypted). Checking it with Telegram…")
    return redirect("strategies:telegram")


@never_cache
@require_POST
@verified_login_required
def bot_action(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        return _page(request, status=403, error=ADMIN_ONLY)
    form = BotForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, error="Choose start or stop.")
    start = form.cleaned_data["action"] == "start"
    if start and not services.status().configured:
        return _page(request, status=400, error=services.NOT_CONFIGURED)
    services.set_running(on=start, actor=request.user.username, ip=audit.client_ip(request))
    if start:
        transaction.on_commit(tasks.configure_bot.delay)
    messages.success(request, "Telegram bot started." if start else "Telegram bot stopped: no alerts or notifications.")
    return redirect("strategies:telegram")


@never_cache
@require_POST
@verified_login_required
def link_code(request: HttpRequest) -> HttpResponse:
    code, minutes = services.new_link_code(user=request.user)
    audit.record("telegram_link_code", actor=request.user.username, subject=request.user.username,
                 ip=audit.client_ip(request))
    return _page(request, code=code, minutes=minutes)


@never_cache
@require_POST
@verified_login_required
def unlink(request: HttpRequest) -> HttpResponse:
    if services.unlink(user=request.user, ip=audit.client_ip(request)):
        messages.success(request, "Telegram unlinked.")
    return redirect("strategies:telegram")


@never_cache
@require_POST
@verified_login_required
def preferences(request: HttpRequest) -> HttpResponse:
    if services.link_of(request.user) is None:
        return _page(request, status=400, error="Link your Telegram account first.")
    form = PreferencesForm(request.POST)
    if not form.is_valid():
        return _page(request, status=400, preferences_form=form)
    data = form.cleaned_data
    services.set_preferences(user=request.user, paused=data["paused"], orders=data["alert_orders"],
                             fills=data["alert_fills"], rejections=data["alert_rejections"])
    messages.success(request, "Alert preferences saved.")
    return redirect("strategies:telegram")
