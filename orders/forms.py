"""The Risk page's form: a user's pre-trade limits (orders/risk.py). Empty means off."""

from __future__ import annotations

from django import forms

from brokers.enums import Exchange, Product
from orders.models import RiskLimits


class RiskLimitsForm(forms.ModelForm):
    allowed_exchanges = forms.MultipleChoiceField(
        choices=[(e.value, e.value) for e in Exchange], required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every exchange")
    allowed_products = forms.MultipleChoiceField(
        choices=[(p.value, p.value) for p in Product], required=False, widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every product")

    class Meta:
        model = RiskLimits
        fields = ["max_order_quantity", "max_order_value", "max_open_orders", "max_position_value",
                  "price_band_percent", "max_orders_per_second", "daily_loss_limit", "square_off_on_kill",
                  "allowed_exchanges", "allowed_products"]
        labels = {
            "max_order_quantity": "Max quantity per order",
            "max_order_value": "Max value per order (₹)",
            "max_open_orders": "Max working orders",
            "max_position_value": "Max position value per symbol (₹)",
            "price_band_percent": "Price band around LTP (%)",
            "max_orders_per_second": "Max orders per second",
            "daily_loss_limit": "Daily loss limit (₹)",
            "square_off_on_kill": "Kill switch also squares off positions",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # DaisyUI's look for each kind of input
            widget = field.widget
            if isinstance(widget, forms.CheckboxSelectMultiple):
                widget.attrs["class"] = "checkbox checkbox-sm"
            elif isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "toggle toggle-sm toggle-primary"
            else:
                widget.attrs["class"] = "input input-sm w-full"

    def clean(self):
        data = super().clean()
        for name in ("max_order_quantity", "max_order_value", "max_position_value", "price_band_percent",
                     "daily_loss_limit", "max_open_orders", "max_orders_per_second"):
            value = data.get(name)
            if value is not None and value <= 0:
                self.add_error(name, "Must be greater than zero, or empty for no limit.")
        return data

    def changes(self) -> dict:
        """What this save changed, for the audit trail: {field: [before, after]}."""
        return {name: [str(self.initial.get(name)), str(self.cleaned_data.get(name))] for name in self.changed_data}
