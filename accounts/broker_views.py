"""The broker login pages, one set for every broker, driven by its package's login kind:
OAuth (redirect out, ``/<broker>/callback`` back), a TOTP form, or a pasted token."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.broker_login import authorize_url, log_in_at_broker, log_out_of_broker, login_kind
from accounts.brokers import brokers_to_log_into
from accounts.forms import BrokerAppForm, BrokerTokenForm, BrokerTotpForm
from accounts.models import BrokerCredential
from accounts.otp import verified_login_required
from accounts.selectors import broker_states, contract_running, contract_states
from accounts.services import store_broker_app_credentials
from accounts.tasks import refresh_master_contract
from brokers.base import BrokerError, BrokerNotAvailable, LoginKind

OAUTH_STATE = "accounts.broker_oauth_state"  # session key: {"broker": ..., "state": ...}
FORMS = {LoginKind.TOTP: BrokerTotpForm, LoginKind.TOKEN: BrokerTokenForm}


def _kind(broker: str) -> LoginKind:
    try:
        return login_kind(broker)
    except BrokerNotAvailable:
        raise Http404(f"No broker {broker!r} here") from None


def _callback_url(request: HttpRequest, broker: str) -> str:
    """This platform's OAuth redirect URL for ``broker``, as the trader registers it there."""
    return request.build_absolute_uri(reverse("accounts:broker_callback", args=[broker]))


def _session_rows(request: HttpRequest) -> list[dict]:
    states = broker_states(request.user, brokers_to_log_into())
    return [{"state": state, "callback": _callback_url(request, state.name)} for state in states]


@never_cache
@require_GET
@verified_login_required
def brokers_page(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/brokers.html",
                  {"rows": _session_rows(request), "contracts": contract_states(brokers_to_log_into())})


@never_cache
@require_GET
@verified_login_required
def broker_sessions_panel(request: HttpRequest) -> HttpResponse:
    """The sessions table alone: the page re-fetches it when a session opens, ends or expires."""
    return render(request, "accounts/_broker_sessions.html", {"rows": _session_rows(request)})


@never_cache
@require_GET
@verified_login_required
def contracts_panel(request: HttpRequest) -> HttpResponse:
    """The master-contract table alone: re-fetched while a download runs and when one ends."""
    return render(request, "accounts/_broker_contracts.html", {"contracts": contract_states(brokers_to_log_into())})


@require_POST
@verified_login_required
def download_contract(request: HttpRequest, broker: str) -> HttpResponse:
    """"Download now": queue a fresh master-contract download (also after a failed one)."""
    if broker not in brokers_to_log_into():
        raise Http404(f"No broker {broker!r} here")
    if contract_running(broker):
        messages.info(request, f"{broker}'s master contract is downloading already.")
    else:
        refresh_master_contract.delay(broker, requested_by=request.user.pk)
        audit.record("contract_download", actor=request.user.username, subject=broker, ip=audit.client_ip(request))
        messages.success(request, f"Download of {broker}'s master contract queued; its progress shows below.")
    return redirect("accounts:brokers")


@sensitive_post_parameters("api_key", "api_secret")
@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def broker_credentials(request: HttpRequest, broker: str) -> HttpResponse:
    _kind(broker)
    current = BrokerCredential.objects.filter(user=request.user, broker=broker).first()
    has_keys = bool(current and current.has_secret("api_key"))
    initial = {"client_id": current.client_id if current else ""}
    form = BrokerAppForm(request.POST if request.method == "POST" else None, initial=initial, has_keys=has_keys)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        store_broker_app_credentials(user=request.user, broker=broker, api_key=data["api_key"],
                                     api_secret=data["api_secret"], client_id=data["client_id"], keep_blank=True)
        messages.success(request, f"{broker} credentials saved (encrypted). You can log in at {broker} now.")
        return redirect("accounts:brokers")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/broker_credentials.html",
                  {"form": form, "broker": broker, "callback": _callback_url(request, broker),
                   "kind": str(_kind(broker))}, status=status)


def _logged_in(request: HttpRequest, broker: str) -> HttpResponse:
    messages.success(request, f"Logged in at {broker}. Orders and data now go through {broker}.")
    return redirect("orders:dashboard")


@sensitive_post_parameters("password", "totp", "access_token")
@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def broker_login(request: HttpRequest, broker: str) -> HttpResponse:
    kind = _kind(broker)
    if kind is LoginKind.OAUTH:
        state = secrets.token_urlsafe(24)
        request.session[OAUTH_STATE] = {"broker": broker, "state": state}
        try:
            return redirect(authorize_url(user=request.user, broker=broker, state=state,
                                          redirect_uri=_callback_url(request, broker)))
        except BrokerError as refusal:
            messages.error(request, refusal.message)
            return redirect("accounts:brokers")
    if kind not in FORMS:
        raise Http404(f"{broker} needs no login")
    form = FORMS[kind](request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            log_in_at_broker(user=request.user, broker=broker, params=form.cleaned_data)
        except BrokerError as refusal:
            form.add_error(None, refusal.message)
            status = 400
        else:
            return _logged_in(request, broker)
    return render(request, "accounts/broker_login.html", {"form": form, "broker": broker}, status=status)


@never_cache
@require_GET
@verified_login_required
def broker_callback(request: HttpRequest, broker: str) -> HttpResponse:
    """The OAuth broker sends the trader back here; ``state`` proves this session asked for it."""
    _kind(broker)
    pending = request.session.pop(OAUTH_STATE, None) or {}
    state = request.GET.get("state", "")
    if pending.get("broker") != broker or not state or not secrets.compare_digest(pending.get("state", ""), state):
        return HttpResponseBadRequest("This broker login was not started from this session. Please log in again.")
    try:
        log_in_at_broker(user=request.user, broker=broker, params=request.GET.dict(),
                         redirect_uri=_callback_url(request, broker))
    except BrokerError as refusal:
        messages.error(request, f"{broker} refused the login: {refusal.message}")
        return redirect("accounts:brokers")
    return _logged_in(request, broker)


@require_POST
@verified_login_required
def broker_logout(request: HttpRequest, broker: str) -> HttpResponse:
    _kind(broker)
    log_out_of_broker(user=request.user, broker=broker)
    messages.info(request, f"Logged out of {broker}. The sandbox serves you until you log in again.")
    return redirect("accounts:brokers")
