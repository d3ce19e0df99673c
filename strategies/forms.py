"""The strategy form: its settings, and its symbol map as one line per symbol."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms

from brokers.enums import Exchange, Product
from strategies.models import Strategy

TRADABLE = [e.value for e in Exchange if e.is_tradable]
PRODUCTS = [p.value for p in Product]


def parse_symbol_map(text: str) -> list[dict]:
    """``SYMBOL,EXCHANGE,QUANTITY[,PRODUCT]`` per line (product MIS when omitted)."""
    rows, seen = [], set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split(",")]
        if len(parts) not in (3, 4):
            raise forms.ValidationError(f"Line {number}: write SYMBOL,EXCHANGE,QUANTITY,PRODUCT "
                                        f"(for example SBIN,NSE,10,MIS).")
        symbol, exchange, quantity_text = parts[0].upper(), parts[1].upper(), parts[2]
        product = parts[3].upper() if len(parts) == 4 else Product.MIS.value
        if not symbol or len(symbol) > 64:
            raise forms.ValidationError(f"Line {number}: the symbol is missing or too long.")
        if exchange not in TRADABLE:
            raise forms.ValidationError(f"Line {number}: exchange must be one of {', '.join(TRADABLE)}.")
        if product not in PRODUCTS:
            raise forms.ValidationError(f"Line {number}: product must be one of {', '.join(PRODUCTS)}.")
        try:
            quantity = Decimal(quantity_text)
        except InvalidOperation:
            raise forms.ValidationError(f"Line {number}: quantity must be a number.") from None
        if not quantity.is_finite() or quantity <= 0 or quantity >= Decimal("1e15"):
            raise forms.ValidationError(f"Line {number}: quantity must be a positive number.")
        if exchange != Exchange.CRYPTO and quantity != quantity.to_integral_value():
            raise forms.ValidationError(f"Line {number}: quantity must be a whole number on {exchange}.")
        if symbol in seen:
            raise forms.ValidationError(f"Line {number}: {symbol} is mapped twice.")
        seen.add(symbol)
        rows.append({"symbol": symbol, "exchange": exchange, "quantity": quantity, "product": product})
    return rows


def symbol_map_text(strategy: Strategy) -> str:
    return "\n".join(f"{row.symbol},{row.exchange},{row.quantity.normalize():f},{row.product}"
                     for row in strategy.symbols.all())


class StrategyForm(forms.ModelForm):
    symbol_map = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6, "class": "textarea textarea-bordered w-full font-mono",
                                     "placeholder": "SBIN,NSE,10,MIS\nRELIANCE,NSE,5,MIS"}),
        help_text="One symbol per line: SYMBOL,EXCHANGE,QUANTITY,PRODUCT", required=True)

    class Meta:
        model = Strategy
        fields = ["name", "mode", "direction", "kind", "start_time", "end_time", "squareoff_time", "enabled",
                  "secret"]
        labels = {"direction": "Trades", "kind": "Type", "start_time": "Entries from (IST)",
                  "end_time": "Entries until (IST)", "squareoff_time": "Square-off at (IST)",
                  "secret": "Webhook secret (optional)"}
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "squareoff_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "secret": forms.TextInput(attrs={"autocomplete": "off"}),
        }

    def __init__(self, *args, owner, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        if self.instance.pk and not self.is_bound:
            self.initial["symbol_map"] = symbol_map_text(self.instance)
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "checkbox")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "select select-bordered w-full")
            elif name != "symbol_map":
                widget.attrs.setdefault("class", "input input-bordered w-full")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the strategy a name.")
        taken = Strategy.objects.filter(owner=self.owner, name=name).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError("You already have a strategy with this name.")
        return name

    def clean_symbol_map(self) -> list[dict]:
        rows = parse_symbol_map(self.cleaned_data["symbol_map"])
        if not rows:
            raise forms.ValidationError("Map at least one symbol.")
        return rows

    def clean(self):
        data = super().clean()
        start, end, squareoff = data.get("start_time"), data.get("end_time"), data.get("squareoff_time")
        if data.get("kind") == Strategy.Kind.INTRADAY and start and end and squareoff:
            if not start < end:
                self.add_error("end_time", "Entries must end after they start.")
            elif not end <= squareoff:
                self.add_error("squareoff_time", "Square-off must come at or after the end of entries.")
        return data
