"""Forms of the account pages: first-run setup, login, second factor, 2FA management."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.forms import UsernameField

from accounts import otp
from accounts.models import User
from accounts.services import create_first_admin

INVALID_LOGIN = "Invalid username or password."
INVALID_CODE = "Invalid verification code."


class SetupForm(forms.Form):
    """The first administrator of a fresh install."""
    username = UsernameField(
        max_length=150,
        validators=User._meta.get_field("username").validators,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    confirm = forms.CharField(
        label="Confirm password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        password, confirm = data.get("password"), data.get("confirm")
        if password and confirm and password != confirm:
            self.add_error("confirm", "The two passwords do not match.")
        elif password:
            candidate = User(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(password, candidate)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return data

    def save(self) -> User | None:
        """Create the first admin, or None if someone finished setup first."""

        data = self.cleaned_data
        return create_first_admin(username=data["username"], email=data["email"], password=data["password"])


class LoginForm(forms.Form):
    username = UsernameField(max_length=254, widget=forms.TextInput(attrs={"autofocus": True,
                                                                           "autocomplete": "username"}))
    password = forms.CharField(strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user: User | None = None
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        username, password = data.get("username"), data.get("password")
        if username and password:
            # ModelBackend hashes even for unknown usernames, so timing reveals nothing either.
            self.user = authenticate(self.request, username=username, password=password)
            if self.user is None:
                raise forms.ValidationError(INVALID_LOGIN, code="invalid_login")
        return data


class CodeForm(forms.Form):
    """A code from the authenticator app, or (where allowed) a recovery code."""
    code = forms.CharField(
        label="Verification code",
        max_length=32,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "one-time-code", "inputmode": "text",
                                      "spellcheck": "false", "autocapitalize": "off"}),
    )


class DisableTwoFactorForm(forms.Form):
    password = forms.CharField(
        label="Current password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    code = forms.CharField(label="Authenticator or recovery code", max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}))

    def __init__(self, user: User, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        password, code = data.get("password"), data.get("code")
        if password is None or code is None:
            return data
        # The code is only tried (and a recovery code only spent) behind a right password.
        if not self.user.check_password(password):
            self.add_error("password", "Your password was entered incorrectly.")
        elif otp.verify_second_factor(self.user, code) is None:
            self.add_error("code", INVALID_CODE)
        return data


class BrokerTotpForm(forms.Form):
    """A TOTP broker's login: the broker password (or PIN) and the code of the day."""
    password = forms.CharField(label="Broker password or PIN", strip=False, max_length=128,
                               widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    totp = forms.RegexField(label="Authenticator code", regex=r"^[0-9]{6}$", max_length=6,
                            error_messages={"invalid": "Enter the 6-digit code."},
                            widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))


class BrokerTokenForm(forms.Form):
    """A token broker's login: the access token the broker issued today, pasted."""
    access_token = forms.CharField(label="Access token", strip=True, max_length=4096,
                                   widget=forms.PasswordInput(attrs={"autocomplete": "off"}))


class BrokerAppForm(forms.Form):
    """A broker app's credentials from its developer console. Secrets are never shown back:
    leaving one empty keeps the stored value."""

    client_id = forms.CharField(label="Client ID", max_length=64, required=False,
                                widget=forms.TextInput(attrs={"autocomplete": "off"}),
                                help_text="Your trading account's client code at the broker.")
    api_key = forms.CharField(label="API key", max_length=256, required=False, strip=True,
                              widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
    api_secret = forms.CharField(label="API secret", max_length=256, required=False, strip=True,
                                 widget=forms.PasswordInput(attrs={"autocomplete": "off"}))

    def __init__(self, *args, has_keys: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_keys = has_keys
        if has_keys:
            for name in ("api_key", "api_secret"):
                self.fields[name].help_text = "Saved. Leave empty to keep it."

    def clean(self):
        data = super().clean()
        if not self.has_keys and not data.get("api_key"):
            self.add_error("api_key", "Enter the API key of your app at the broker.")
        for name in ("client_id", "api_key", "api_secret"):
            value = data.get(name, "")
            if value and any(ch.isspace() for ch in value):
                self.add_error(name, "No spaces, please: paste the value exactly as the broker shows it.")
        return data


INVALID_RESET = "Invalid username or code."


class TotpPasswordResetForm(forms.Form):
    """Forgotten password: the username, a code from the authenticator app (or a recovery
    code), and the new password. Whether the username exists is never told: an unknown
    user, a user without two-factor and a wrong code get the same answer."""

    username = UsernameField(max_length=150, widget=forms.TextInput(attrs={"autofocus": True,
                                                                           "autocomplete": "username"}))
    code = forms.CharField(label="Authenticator or recovery code", max_length=32,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "spellcheck": "false",
                                                         "autocapitalize": "off"}))
    new_password1 = forms.CharField(label="New password", strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                                    help_text=password_validation.password_validators_help_text_html())
    new_password2 = forms.CharField(label="Confirm new password", strip=False,
                                    widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args, **kwargs):
        self.user: User | None = None
        self.device = None
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        password, confirm = data.get("new_password1"), data.get("new_password2")
        if password and confirm and password != confirm:
            self.add_error("new_password2", "The two passwords do not match.")
            return data
        if password:
            try:  # the rules that need no user first, so a weak password never spends a code
                password_validation.validate_password(password)
            except forms.ValidationError as error:
                self.add_error("new_password1", error)
        if self.errors or not data.get("username") or not data.get("code"):
            return data
        user = User.objects.filter(username=data["username"], is_active=True).first()
        device = otp.verify_second_factor(user, data["code"]) if user is not None else None
        if device is None:
            raise forms.ValidationError(INVALID_RESET, code="invalid_reset")
        try:
            password_validation.validate_password(password, user)
        except forms.ValidationError as error:
            self.add_error("new_password1", error)
            return data
        self.user, self.device = user, device
        return data
