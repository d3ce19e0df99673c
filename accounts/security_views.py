"""The Security section's pages: login activity, active sessions ("Sign out everywhere"),
and the forgotten-password reset (by authenticator code, or by e-mail when SMTP is set)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit, sessions
from accounts.access import setup_first
from accounts.forms import TotpPasswordResetForm
from accounts.models import AuditEvent
from accounts.otp import verified_login_required
from accounts.views import LOGIN_LIMITED, _over_limit, _posted, _value_key

ACTIVITY_LIMIT = 200
# What the Login activity page shows of the audit trail, and how it reads each action.
ACTIVITY = {
    "login": ("Signed in", True),
    "logout": ("Signed out", True),
    "login_failed": ("Sign-in failed: wrong username or password", False),
    "login_2fa_failed": ("Sign-in failed: wrong verification code", False),
    "two_factor_enabled": ("Two-factor authentication turned on", True),
    "two_factor_disabled": ("Two-factor authentication turned off", True),
    "api_key_issued": ("API key generated", True),
    "api_key_revoked": ("API key revoked", True),
    "password_changed": ("Password changed", True),
    "password_reset": ("Password reset", True),
    "password_reset_failed": ("Password reset refused", False),
    "sessions_ended": ("Sessions signed out", True),
}
SIGNED_OUT_ELSEWHERE = "You were signed out from another session."


def _selected_activity(username: str) -> list[dict]:
    rows = (AuditEvent.objects.filter(actor=username, action__in=list(ACTIVITY))
            .order_by("-pk").values("at", "action", "ip", "detail")[:ACTIVITY_LIMIT])
    events = []
    for row in rows:
        label, ok = ACTIVITY[row["action"]]
        events.append({**row, "label": label, "ok": ok})
    return events


@never_cache
@require_http_methods(["GET"])
@verified_login_required
def activity(request):
    return render(request, "accounts/activity.html",
                  {"events": _selected_activity(request.user.get_username()), "limit": ACTIVITY_LIMIT})


@never_cache
@require_http_methods(["GET"])
@verified_login_required
def sessions_page(request):
    current = request.session.session_key
    rows = sessions.active(request.user)
    return render(request, "accounts/sessions.html", {
        "rows": [{"row": row, "current": row.session_key == current} for row in rows],
        "others": sum(1 for row in rows if row.session_key != current),
    })


@require_POST
@verified_login_required
def sessions_end_others(request):
    ended = sessions.end_sessions(request.user, keep=request.session.session_key, message=SIGNED_OUT_ELSEWHERE,
                                  reason="sign out everywhere", ip=audit.client_ip(request))
    messages.success(request, f"Signed out everywhere else: {ended} other session{'s' if ended != 1 else ''} ended. "
                              "This one stays signed in.")
    return redirect("accounts:sessions")


@require_POST
@verified_login_required
def session_end(request, pk: int):
    if not sessions.end_one(request.user, pk, current=request.session.session_key, ip=audit.client_ip(request)):
        raise Http404("No such session")
    messages.success(request, "That session was signed out.")
    return redirect("accounts:sessions")


# --- Forgotten password ---------------------------------------------------------------------

def email_reset_enabled() -> bool:
    return bool(getattr(settings, "EMAIL_HOST", ""))


@sensitive_post_parameters("code", "new_password1", "new_password2")
@never_cache
@require_http_methods(["GET", "POST"])
@setup_first
def password_reset(request):
    form = TotpPasswordResetForm(_posted(request))
    context = {"form": form, "email_reset": email_reset_enabled()}
    if request.method != "POST":
        return render(request, "accounts/password_reset.html", context)
    username = request.POST.get("username", "").strip()[:150]
    keys = ["ip", _value_key(f"username:{username.lower()}")] if username else ["ip"]
    if _over_limit(request, "accounts.password-reset", keys):
        context.update(form=TotpPasswordResetForm(initial={"username": username}), error=LOGIN_LIMITED)
        return render(request, "accounts/password_reset.html", context, status=429)
    if not form.is_valid():
        if username and any(error.code == "invalid_reset" for error in form.non_field_errors().as_data()):
            audit.record("password_reset_failed", actor=username, ip=audit.client_ip(request))
        return render(request, "accounts/password_reset.html", context, status=400)
    user = form.user
    assert user is not None
    user.set_password(form.cleaned_data["new_password1"])
    user.save(update_fields=["password"])
    sessions.end_sessions(user, message="Your password was reset. Please sign in again.", reason="password reset",
                          ip=audit.client_ip(request))
    audit.record("password_reset", actor=user.get_username(), ip=audit.client_ip(request),
                 detail={"by": type(form.device).__name__})
    messages.success(request, "Your password was reset. Sign in with the new one.")
    return redirect("accounts:login")


def _email_only(view):
    def wrapper(request, *args, **kwargs):
        if not email_reset_enabled():
            raise Http404("Password reset by e-mail is not configured")
        return view(request, *args, **kwargs)

    return wrapper


class EmailPasswordResetView(auth_views.PasswordResetView):
    """Django's own reset by e-mail link, throttled like the login. It answers the same
    whether or not an account has that address."""

    template_name = "accounts/password_reset_email.html"
    email_template_name = "accounts/password_reset_email_body.txt"
    subject_template_name = "accounts/password_reset_email_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_email_sent")

    def post(self, request, *args, **kwargs):
        email = request.POST.get("email", "").strip().lower()[:254]
        keys = ["ip", _value_key(f"email:{email}")] if email else ["ip"]
        if _over_limit(request, "accounts.password-reset", keys):
            return render(request, self.template_name, {"form": self.form_class(), "error": LOGIN_LIMITED},
                          status=429)
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def form_valid(self, form):
        audit.record("password_reset_email", actor="", ip=audit.client_ip(self.request))
        return super().form_valid(form)


class EmailPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:login")

    def form_invalid(self, form):
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.user
        sessions.end_sessions(user, message="Your password was reset. Please sign in again.",
                              reason="password reset", ip=audit.client_ip(self.request))
        audit.record("password_reset", actor=user.get_username(), ip=audit.client_ip(self.request),
                     detail={"by": "email"})
        messages.success(self.request, "Your password was reset. Sign in with the new one.")
        return response


email_reset = _email_only(method_decorator(never_cache, name="dispatch")(EmailPasswordResetView).as_view())
email_reset_sent = _email_only(auth_views.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_email_sent.html"))
email_reset_confirm = _email_only(EmailPasswordResetConfirmView.as_view())
