"""Forms of the Sandbox and Analyzer log pages: paper settings and the log's filters. The
ranges are the sandbox's own (brokers/sandbox/config.py); the service checks them again."""

from __future__ import annotations

from django import forms

from brokers.sandbox.config import LEVERAGE_LIMITS, SQUARE_OFF_WINDOWS
from brokers.sandbox.sessions import MAX_CAPITAL, MIN_CAPITAL
from orders.analyzer import LogFilter

LEVERAGE_LABELS = {"equity_mis": "Equity intraday (MIS)", "equity_cnc": "Equity delivery (CNC)",
                   "futures": "Futures (MIS and NRML)", "options": "Options (MIS and NRML)"}
SQUARE_OFF_LABELS = {"equity": "NSE, BSE, NFO, BFO", "currency": "CDS, BCD", "commodity": "MCX"}


class PaperSettingsForm(forms.Form):
    starting_capital = forms.DecimalField(
        label="Starting capital (₹)", min_value=MIN_CAPITAL, max_value=MAX_CAPITAL, max_digits=14, decimal_places=2,
        help_text="Changing it adds the difference to (or takes it from) your free cash now.")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind, (low, high) in LEVERAGE_LIMITS.items():
            self.fields[f"leverage_{kind}"] = forms.DecimalField(
                label=f"{LEVERAGE_LABELS[kind]} leverage (x)", min_value=low, max_value=high, max_digits=5,
                decimal_places=2, help_text=f"{low:f} to {high:f}")
        for group, (opens, closes) in SQUARE_OFF_WINDOWS.items():
            self.fields[f"square_off_{group}"] = forms.TimeField(
                label=f"MIS square-off, {SQUARE_OFF_LABELS[group]} (IST)", input_formats=["%H:%M", "%H:%M:%S"],
                widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
                help_text=f"{opens:%H:%M} to {closes:%H:%M}")
        for field in self.fields.values():
            field.widget.attrs.setdefault("class", "input input-bordered w-full")

    def clean(self):
        data = super().clean()
        for group, (opens, closes) in SQUARE_OFF_WINDOWS.items():
            value = data.get(f"square_off_{group}")
            if value is not None and not opens <= value <= closes:
                self.add_error(f"square_off_{group}",
                               f"Square-off time must be between {opens:%H:%M} and {closes:%H:%M} IST.")
        return data


STATUS_CHOICES = [("", "Any status"), ("success", "success"), ("error", "error")]


class AnalyzerFilterForm(forms.Form):
    api_type = forms.ChoiceField(label="API type", required=False)
    symbol = forms.CharField(label="Symbol", required=False, max_length=64)
    status = forms.ChoiceField(label="Status", required=False, choices=STATUS_CHOICES)
    day_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    day_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, api_types: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["api_type"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "Any API type")] + [(name, name) for name in api_types]
        for name, bound in self.fields.items():
            css = "select select-bordered select-sm" if name in ("api_type", "status") else \
                "input input-bordered input-sm"
            bound.widget.attrs.setdefault("class", css)

    def clean(self):
        data = super().clean()
        if data.get("day_from") and data.get("day_to") and data["day_from"] > data["day_to"]:
            self.add_error("day_to", "The end date must not be before the start date.")
        return data

    def log_filter(self) -> LogFilter:
        data = self.cleaned_data
        return LogFilter(api_type=data.get("api_type") or "", symbol=(data.get("symbol") or "").strip(),
                         status=data.get("status") or "", day_from=data.get("day_from"), day_to=data.get("day_to"))
