"""Two-factor authentication: TOTP enrolment, single-use recovery codes, second-factor
checks, and the decorator that keeps unverified sessions out of the dashboard."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps

import django_otp
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
_TOTP_CODE = re.compile(r"^\d{6}$")
_SVG_SIZE = re.compile(r'\s(?:width|height)="[^"]*"')


def has_two_factor(user) -> bool:
    """True once the user has confirmed an authenticator app."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_totp_device(user) -> TOTPDevice | None:
    """The authenticator being enrolled (created, not yet confirmed with a code)."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()


def begin_totp_enrolment(*, user) -> TOTPDevice:
    """Start over with a fresh secret: any half-finished enrolment is discarded."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def confirm_totp_enrolment(*, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm ``device`` if ``code`` is right; return the new recovery codes (shown once)."""
    if not _TOTP_CODE.match(normalise_code(code)):
        return None
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=device.pk, confirmed=False).first()
        if device is None or not device.verify_token(normalise_code(code)):
            return None
        # One authenticator per user: a re-enrolment replaces the old one.
        TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return replace_recovery_codes(user=device.user)


def replace_recovery_codes(*, user) -> list[str]:
    """Issue RECOVERY_CODE_COUNT fresh single-use codes; the previous ones stop working."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
        codes: set[str] = set()
        while len(codes) < RECOVERY_CODE_COUNT:
            codes.add(StaticToken.random_token())
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return sorted(codes)


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def disable_two_factor(*, user) -> None:
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()


def normalise_code(code: str) -> str:
    """Codes are typed by hand: ignore spaces and dashes, and the case of recovery codes."""
    return re.sub(r"[\s-]", "", code or "").lower()


def verify_second_factor(user, code: str) -> Device | None:
    """The device that accepts ``code`` (a 6-digit TOTP code or a recovery code), or None.

    A six-digit code only goes to the authenticator and anything else only to the
    recovery codes, so a typo never spends another device's failure budget. Each check
    locks its device row (django_otp.verify_token), so a recovery code cannot be spent
    twice by concurrent requests and a TOTP code cannot be replayed."""
    code = normalise_code(code)
    if not code or len(code) > 16:
        return None
    model = TOTPDevice if _TOTP_CODE.match(code) else StaticDevice
    for device in model.objects.filter(user=user, confirmed=True):
        verified = django_otp.verify_token(user, device.persistent_id, code)
        if verified is not None:
            return verified
    return None


def qr_code_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG (path data only: no user text inside)."""
    import qrcode  # only the enrolment page draws a QR code: not loaded in every process
    import qrcode.image.svg

    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = image.to_string(encoding="unicode")
    return _SVG_SIZE.sub("", svg, count=2).replace("<svg ", '<svg class="qr" role="img" aria-label="QR code" ', 1)


def base32_secret(device: TOTPDevice) -> str:
    """The secret for manual entry, in groups of four as authenticator apps show it."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def needs_verification(request) -> bool:
    """A signed-in user with 2FA whose session has not passed the second factor."""
    user = request.user
    return user.is_authenticated and not user.is_verified() and has_two_factor(user)


def verified_login_required(view: Callable) -> Callable:
    """login_required, plus the second factor for users who enabled it. A session that
    is signed in but unverified (2FA enabled elsewhere, or a login that skipped our
    form) is ended and sent back through the full login."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if needs_verification(request):
            logout(request)
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def session_verified(user, session) -> bool:
    """For a connection that carries a session but no request (the browser channel): the
    user is signed in and, with 2FA on, the session passed the second factor."""
    if user is None or not user.is_authenticated:
        return False
    return not has_two_factor(user) or bool(session and session.get(django_otp.DEVICE_ID_SESSION_KEY))
