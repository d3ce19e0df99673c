"""Forms of the Telegram page."""

from __future__ import annotations

from django import forms

from strategies.telegram import services

CHECKBOX = forms.CheckboxInput(attrs={"class": "checkbox"})


class TokenForm(forms.Form):
    token = forms.CharField(max_length=200, strip=True, widget=forms.PasswordInput(render_value=False, attrs={
                                "class": "input input-bordered w-full mono", "autocomplete": "off"}),
                            help_text="From @BotFather: <bot id>:<secret>")

    def clean_token(self) -> str:
        value = self.cleaned_data["token"]
        if not services.looks_like_token(value):
            raise forms.ValidationError("That is not a bot token: it looks like 123456789:AA… (from @BotFather).")
        return value


class PreferencesForm(forms.Form):
    alert_orders = forms.BooleanField(required=False, label="Orders placed and cancelled", widget=CHECKBOX)
    alert_fills = forms.BooleanField(required=False, label="Fills", widget=CHECKBOX)
    alert_rejections = forms.BooleanField(required=False, label="Rejections", widget=CHECKBOX)
    paused = forms.BooleanField(required=False, label="Pause all order alerts (/pause)", widget=CHECKBOX)


class BotForm(forms.Form):
    action = forms.ChoiceField(choices=[("start", "Start"), ("stop", "Stop")])
