"""Account pages of the dashboard: first-run setup, login with an optional second factor,
logout, the dashboard, API key, two-factor settings and password change."""

from __future__ import annotations

import time

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_ratelimit.core import get_usage

from accounts import audit, otp, sessions
from accounts.access import setup_first
from accounts.forms import INVALID_CODE, CodeForm, DisableTwoFactorForm, LoginForm, SetupForm
from accounts.models import User
from accounts.otp import verified_login_required
from accounts.services import active_api_key, create_api_key, next_session_expiry, revoke_api_key
from core.api.ratelimit import parse_limits

LOGIN_LIMITED = "Too many login attempts. Please wait a minute and try again."
CODE_LIMITED = "Too many verification attempts. Please wait a minute and try again."
PENDING_2FA = "accounts.pending_2fa"  # session key: password accepted, code still due
PENDING_2FA_SECONDS = 300
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# --- Helpers ------------------------------------------------------------------------------

def _over_limit(request, group: str, keys: list) -> bool:
    """Count one attempt against every login limit, for each key; True if any is exceeded."""
    rates = parse_limits(settings.LOGIN_RATE_LIMIT_MIN) + parse_limits(settings.LOGIN_RATE_LIMIT_HOUR)
    limited = False
    for key in keys:
        for rate in rates:
            usage = get_usage(request, group=group, key=key, rate=rate, increment=True)
            limited = limited or bool(usage and usage["should_limit"])
    return limited


def _posted(request):
    """The form data of a POST (even an empty one), None for a GET: bound vs unbound forms."""
    return request.POST if request.method == "POST" else None


def _value_key(value: str):
    return lambda group, request: value


def _safe_next(request, candidate: str | None = None) -> str:
    candidate = candidate or request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _complete_login(request, user: User, *, backend: str, device=None) -> None:
    auth_login(request, user, backend=backend)
    if device is not None:
        django_otp.login(request, device)
    # UI sessions end at the daily boundary (03:00 IST), like the brokers' tokens.
    request.session.set_expiry(next_session_expiry())


# --- Setup, login, logout --------------------------------------------------------------------

@sensitive_post_parameters("password", "confirm")
@never_cache
@require_http_methods(["GET", "POST"])
def setup(request):
    if User.objects.exists():
        return redirect("accounts:login")
    form = SetupForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        admin = form.save()
        if admin is None:  # someone else finished setup first
            return redirect("accounts:login")
        _complete_login(request, admin, backend=MODEL_BACKEND)
        messages.success(request, f"Welcome, {admin.username}. Your administrator account is ready.")
        return redirect("orders:dashboard")
    return render(request, "accounts/setup.html", {"form": form})


@sensitive_post_parameters("password")
@never_cache
@require_http_methods(["GET", "POST"])
@setup_first
def login_view(request):
    next_url = _safe_next(request)
    if request.user.is_authenticated and not otp.needs_verification(request):
        return redirect(next_url)
    form = LoginForm(request, data=_posted(request))
    context = {"form": form, "next": request.POST.get("next") or request.GET.get("next", "")}
    if request.method == "POST":
        username = request.POST.get("username", "").strip().lower()[:254]
        keys = ["ip", _value_key(f"username:{username}")] if username else ["ip"]
        if _over_limit(request, "accounts.login", keys):
            context.update(form=LoginForm(request, initial={"username": request.POST.get("username", "")}),
                           error=LOGIN_LIMITED)
            return render(request, "accounts/login.html", context, status=429)
        if form.is_valid():
            user = form.user
            if otp.has_two_factor(user):
                request.session.cycle_key()
                request.session[PENDING_2FA] = {
                    "user_id": user.pk, "backend": user.backend, "next": next_url, "at": time.time(),
                }
                return redirect("accounts:login_verify")
            _complete_login(request, user, backend=user.backend)
            return redirect(next_url)
    return render(request, "accounts/login.html", context)


def _pending_user(request) -> tuple[User | None, dict]:
    pending = request.session.get(PENDING_2FA) or {}
    if not pending or time.time() - pending.get("at", 0) > PENDING_2FA_SECONDS:
        request.session.pop(PENDING_2FA, None)
        return None, {}
    return User.objects.filter(pk=pending["user_id"], is_active=True).first(), pending


@sensitive_post_parameters("code")
@never_cache
@require_http_methods(["GET", "POST"])
def login_verify(request):
    user, pending = _pending_user(request)
    if user is None:
        return redirect("accounts:login")
    form = CodeForm(_posted(request))
    if request.method == "POST":
        if _over_limit(request, "accounts.login-2fa", [_value_key(f"user:{user.pk}")]):
            return render(request, "accounts/login_verify.html", {"form": CodeForm(), "error": CODE_LIMITED},
                          status=429)
        if form.is_valid():
            device = otp.verify_second_factor(user, form.cleaned_data["code"])
            if device is not None:
                del request.session[PENDING_2FA]
                _complete_login(request, user, backend=pending["backend"], device=device)
                if isinstance(device, StaticDevice):
                    left = otp.recovery_codes_left(user)
                    messages.warning(request, f"You signed in with a recovery code. {left} recovery codes left.")
                return redirect(_safe_next(request, pending["next"]))
            audit.record("login_2fa_failed", actor=user.get_username(), ip=audit.client_ip(request))
            form.add_error("code", INVALID_CODE)
    return render(request, "accounts/login_verify.html", {"form": form})


@require_POST
def logout_view(request):
    auth_logout(request)
    messages.info(request, "You have been signed out.")
    return redirect("accounts:login")


def admin_login(request, extra_context=None):
    """Stand-in for the admin's own login form, so /admin/ signs in through the throttled,
    2FA-aware login above (wire it with ``admin.site.login = admin_login``)."""
    if request.user.is_authenticated and not otp.needs_verification(request):
        if not request.user.is_staff:
            raise PermissionDenied
        return redirect(_safe_next(request, request.GET.get("next")))
    return redirect_to_login(request.GET.get("next") or resolve_url("admin:index"))


# --- Signed-in pages ---------------------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def apikey(request):
    new_key = None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "generate":
            current = active_api_key(user=request.user)
            if request.POST.get("current", "") != (str(current.pk) if current else ""):
                # A reloaded result page re-sends its form, or another tab changed the key:
                # replacing the key the user just copied would be a nasty surprise.
                messages.info(request, "Your API key changed since that page was loaded, so no new key was "
                                       "generated. The key shown before stays active.")
                return redirect("accounts:apikey")
            # Rendered in this response only: never stored in the session or a message.
            new_key = create_api_key(user=request.user)
        elif action == "revoke":
            if revoke_api_key(user=request.user):
                messages.success(request, "Your API key was revoked. Clients using it are refused from now on.")
            return redirect("accounts:apikey")
        else:
            return redirect("accounts:apikey")
    return render(request, "accounts/apikey.html", {"key": active_api_key(user=request.user), "new_key": new_key})


def _security_page(request, *, status: int = 200, **forms):
    user = request.user
    enabled = otp.has_two_factor(user)
    device = None if enabled else otp.pending_totp_device(user)
    context = {
        "enabled": enabled,
        "codes_left": otp.recovery_codes_left(user) if enabled else 0,
        "device": device,
        "qr_svg": otp.qr_code_svg(device) if device else "",
        "secret": otp.base32_secret(device) if device else "",
        "confirm_form": forms.get("confirm_form") or CodeForm(),
        "disable_form": forms.get("disable_form") or DisableTwoFactorForm(user),
        "error": forms.get("error"),
    }
    return render(request, "accounts/security.html", context, status=status)


@never_cache
@verified_login_required
def security(request):
    return _security_page(request)


@require_POST
@verified_login_required
def totp_begin(request):
    if otp.has_two_factor(request.user):
        messages.info(request, "Two-factor authentication is already on.")
    else:
        otp.begin_totp_enrolment(user=request.user)
    return redirect("accounts:security")


@sensitive_post_parameters("code")
@never_cache
@require_POST
@verified_login_required
def totp_confirm(request):
    device = otp.pending_totp_device(request.user)
    if device is None:
        return redirect("accounts:security")
    if _over_limit(request, "accounts.otp-manage", [_value_key(f"user:{request.user.pk}")]):
        return _security_page(request, status=429, error=CODE_LIMITED)
    form = CodeForm(request.POST)
    codes = otp.confirm_totp_enrolment(device=device, code=form.cleaned_data["code"]) if form.is_valid() else None
    if codes is None:
        form.add_error("code", INVALID_CODE)
        return _security_page(request, confirm_form=form)
    device.refresh_from_db()
    django_otp.login(request, device)  # this session has just proved the second factor
    audit.record("two_factor_enabled", actor=request.user.get_username(), ip=audit.client_ip(request))
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@sensitive_post_parameters("password", "code")
@require_POST
@verified_login_required
def totp_disable(request):
    if _over_limit(request, "accounts.otp-manage", [_value_key(f"user:{request.user.pk}")]):
        return _security_page(request, status=429, error=CODE_LIMITED)
    form = DisableTwoFactorForm(request.user, request.POST)
    if not form.is_valid():
        return _security_page(request, disable_form=form)
    otp.disable_two_factor(user=request.user)
    request.session.pop(django_otp.DEVICE_ID_SESSION_KEY, None)
    audit.record("two_factor_disabled", actor=request.user.get_username(), ip=audit.client_ip(request))
    messages.success(request, "Two-factor authentication is off.")
    return redirect("accounts:security")


@sensitive_post_parameters()
@never_cache
@require_http_methods(["GET", "POST"])
@verified_login_required
def password_change(request):
    form = PasswordChangeForm(request.user, _posted(request))
    if request.method == "POST" and form.is_valid():
        user = form.save()
        old_key = request.session.session_key
        update_session_auth_hash(request, user)  # this session stays (under a new key); the others end
        sessions.renamed(old_key, request.session.session_key)
        sessions.end_sessions(user, keep=request.session.session_key, reason="password change",
                              message="Your password was changed in another session. Please sign in again.",
                              ip=audit.client_ip(request))
        audit.record("password_changed", actor=user.get_username(), ip=audit.client_ip(request))
        messages.success(request, "Your password was changed.")
        return redirect("accounts:password_change")
    return render(request, "accounts/password_change.html", {"form": form})
