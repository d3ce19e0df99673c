"""The trading pages' forms: place, modify, a basket's legs, an options order. Each one
validates what the page shows, then hands the API's own leg schema (orders/serializers.py
``LegFields``) the same fields, so a web order is exactly the request the API would have
accepted, typed the same way (enums and Decimals), with the same messages."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from django import forms

from brokers.enums import Action, Exchange, OptionType, PriceType, Product
from orders.serializers import LegFields

WEB_STRATEGY = "web"  # the strategy tag of every order placed from these pages
MAX_BASKET_LEGS = 50
OFFSETS = ["ATM", *(f"ITM{n}" for n in range(1, 21)), *(f"OTM{n}" for n in range(1, 21))]
LEG_FIELDS = ("symbol", "exchange", "action", "quantity", "pricetype", "product", "price", "trigger_price",
              "disclosed_quantity")


def _choices(enum) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum]


def new_request_key() -> str:
    """A fresh idempotency key for one rendering of a form: submitting it twice (a double
    click, a reload of the POST) gets the first answer, never a second order."""
    return uuid.uuid4().hex


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [text for value in detail.values() for text in _flatten(value)]
    if isinstance(detail, (list, tuple)):
        return [text for value in detail for text in _flatten(value)]
    return [str(detail)]


def check_leg(raw: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    """One order's fields through the API's schema and the page's extra rules: (the typed
    leg, None) or (None, {field: [messages]})."""
    serializer = LegFields(data={k: v for k, v in raw.items() if k in LEG_FIELDS})
    if not serializer.is_valid():
        return None, {str(field): _flatten(detail) for field, detail in serializer.errors.items()}
    leg = dict(serializer.validated_data)
    errors: dict[str, list[str]] = {}
    if leg["pricetype"] in (PriceType.LIMIT, PriceType.SL) and leg["price"] <= 0:
        errors["price"] = [f"A {leg['pricetype']} order needs a price above zero."]
    if leg["pricetype"] in (PriceType.SL, PriceType.SL_M) and leg["trigger_price"] <= 0:
        errors["trigger_price"] = [f"A {leg['pricetype']} order needs a trigger price above zero."]
    if leg["disclosed_quantity"] > leg["quantity"]:
        errors["disclosed_quantity"] = ["Disclosed quantity cannot be more than the quantity."]
    return (None, errors) if errors else (leg, {})


class LegForm(forms.Form):
    """The fields of one order, as the place-order page shows them."""

    symbol = forms.CharField(label="Symbol", max_length=64, widget=forms.TextInput(attrs={
        "autocomplete": "off", "placeholder": "Type to search, e.g. SBIN", "class": "input w-full",
        "spellcheck": "false"}))
    exchange = forms.ChoiceField(label="Exchange", choices=_choices(Exchange), initial=Exchange.NSE.value,
                                 widget=forms.Select(attrs={"class": "select w-full"}))
    action = forms.ChoiceField(label="Action", choices=_choices(Action), initial=Action.BUY.value,
                               widget=forms.Select(attrs={"class": "select w-full"}))
    quantity = forms.DecimalField(label="Quantity", min_value=0, max_digits=24, decimal_places=8,
                                  widget=forms.NumberInput(attrs={"class": "input w-full", "step": "any", "min": "0",
                                                                  "inputmode": "decimal"}))
    pricetype = forms.ChoiceField(label="Price type", choices=_choices(PriceType), initial=PriceType.MARKET.value,
                                  widget=forms.Select(attrs={"class": "select w-full"}))
    product = forms.ChoiceField(label="Product", choices=_choices(Product), initial=Product.MIS.value,
                                widget=forms.Select(attrs={"class": "select w-full"}))
    price = forms.DecimalField(label="Price", min_value=0, max_digits=20, decimal_places=4, required=False,
                               initial=0, widget=forms.NumberInput(attrs={"class": "input w-full", "step": "any",
                                                                          "min": "0", "inputmode": "decimal"}))
    trigger_price = forms.DecimalField(label="Trigger price", min_value=0, max_digits=20, decimal_places=4,
                                       required=False, initial=0, widget=forms.NumberInput(
                                           attrs={"class": "input w-full", "step": "any", "min": "0",
                                                  "inputmode": "decimal"}))
    disclosed_quantity = forms.IntegerField(label="Disclosed qty", min_value=0, required=False, initial=0,
                                            widget=forms.NumberInput(attrs={"class": "input w-full", "min": "0"}))

    leg: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        raw = {name: str(data[name]) if name in ("quantity", "price", "trigger_price") else data[name]
               for name in LEG_FIELDS if data.get(name) is not None}
        raw["symbol"] = str(raw.get("symbol", "")).strip().upper()
        raw["disclosed_quantity"] = int(data.get("disclosed_quantity") or 0)
        raw.setdefault("price", "0")
        raw.setdefault("trigger_price", "0")
        leg, errors = check_leg(raw)
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        self.leg = leg
        return data


class PlaceOrderForm(LegForm):
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def order_data(self) -> dict[str, Any]:
        """The validated placeorder request, as the API's view hands it to the service."""
        assert self.leg is not None
        return {"strategy": WEB_STRATEGY, **self.leg}


class ModifyOrderForm(forms.Form):
    """What a working order may change: quantity, price type, prices, disclosed quantity."""

    quantity = LegForm.base_fields["quantity"]
    pricetype = LegForm.base_fields["pricetype"]
    price = LegForm.base_fields["price"]
    trigger_price = LegForm.base_fields["trigger_price"]
    disclosed_quantity = LegForm.base_fields["disclosed_quantity"]

    def __init__(self, *args, order: Any, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.leg: dict[str, Any] | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        order = self.order
        raw = {"symbol": order.symbol, "exchange": order.exchange, "action": order.action,
               "product": order.product, "quantity": str(data["quantity"]), "pricetype": data["pricetype"],
               "price": str(data.get("price") or 0), "trigger_price": str(data.get("trigger_price") or 0),
               "disclosed_quantity": int(data.get("disclosed_quantity") or 0)}
        leg, errors = check_leg(raw)
        for field, messages in errors.items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        self.leg = leg
        return data

    def modify_data(self, orderid: str) -> dict[str, Any]:
        """The validated modifyorder request (every field, as the SDK sends them)."""
        assert self.leg is not None
        return {"strategy": WEB_STRATEGY, "orderid": orderid, **self.leg}


class BasketForm(forms.Form):
    """The legs the basket builder (static/js/basket.js) sends as one JSON list."""

    legs = forms.CharField(widget=forms.HiddenInput, required=False)
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def clean_legs(self) -> list[dict[str, Any]]:
        text = self.cleaned_data.get("legs") or ""
        try:
            raw = json.loads(text) if text.strip() else []
        except ValueError:
            raise forms.ValidationError("The basket could not be read; add the legs again.") from None
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            raise forms.ValidationError("The basket could not be read; add the legs again.")
        if not raw:
            raise forms.ValidationError("Add at least one leg to the basket.")
        if len(raw) > MAX_BASKET_LEGS:
            raise forms.ValidationError(f"A basket holds at most {MAX_BASKET_LEGS} legs.")
        legs, problems = [], []
        for number, item in enumerate(raw, start=1):
            item = {k: (str(v).strip().upper() if k == "symbol" else v) for k, v in item.items()}
            for name in ("price", "trigger_price"):
                if item.get(name) in (None, ""):
                    item[name] = "0"
            if item.get("disclosed_quantity") in (None, ""):
                item["disclosed_quantity"] = 0
            for name in ("quantity", "price", "trigger_price"):
                if isinstance(item.get(name), (int, float)):
                    item[name] = str(item[name])
            leg, errors = check_leg(item)
            if leg is None:
                label = item.get("symbol") or "?"
                problems.extend(f"Leg {number} ({label}): {field.replace('_', ' ')}: {message}"
                                for field, messages in errors.items() for message in messages)
            else:
                legs.append(leg)
        if problems:
            raise forms.ValidationError(problems)
        return legs

    def basket_data(self) -> dict[str, Any]:
        return {"strategy": WEB_STRATEGY, "orders": self.cleaned_data["legs"]}


class OptionsOrderForm(forms.Form):
    """One option contract picked by underlying, expiry and offset from ATM; quantity in lots."""

    underlying = forms.ChoiceField(label="Underlying", widget=forms.Select(attrs={"class": "select w-full"}))
    expiry = forms.ChoiceField(label="Expiry", widget=forms.Select(attrs={"class": "select w-full"}))
    offset = forms.ChoiceField(label="Strike", choices=[(o, o) for o in OFFSETS], initial="ATM",
                               widget=forms.Select(attrs={"class": "select w-full"}))
    option_type = forms.ChoiceField(label="Option type", choices=_choices(OptionType), initial="CE",
                                    widget=forms.Select(attrs={"class": "select w-full"}))
    action = forms.ChoiceField(label="Action", choices=_choices(Action), initial=Action.BUY.value,
                               widget=forms.Select(attrs={"class": "select w-full"}))
    lots = forms.IntegerField(label="Lots", min_value=1, max_value=10_000, initial=1,
                              widget=forms.NumberInput(attrs={"class": "input w-full", "min": "1"}))
    product = forms.ChoiceField(label="Product", choices=[("MIS", "MIS"), ("NRML", "NRML")], initial="MIS",
                                widget=forms.Select(attrs={"class": "select w-full"}))
    pricetype = LegForm.base_fields["pricetype"]
    price = LegForm.base_fields["price"]
    trigger_price = LegForm.base_fields["trigger_price"]
    request_key = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)

    def __init__(self, *args, underlyings: list[tuple[str, str]], expiries: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["underlying"].choices = underlyings
        self.fields["expiry"].choices = expiries

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        pricetype = data.get("pricetype")
        if pricetype in (PriceType.LIMIT, PriceType.SL) and not data.get("price"):
            self.add_error("price", f"A {pricetype} order needs a price above zero.")
        if pricetype in (PriceType.SL, PriceType.SL_M) and not data.get("trigger_price"):
            self.add_error("trigger_price", f"A {pricetype} order needs a trigger price above zero.")
        return data

    def options_data(self, lotsize: int) -> dict[str, Any]:
        """The validated optionsorder request: the quantity is lots times the contract's lot size."""
        data = self.cleaned_data
        exchange, name = data["underlying"].split(":", 1)
        return {"strategy": WEB_STRATEGY, "underlying": name, "exchange": Exchange(exchange),
                "expiry_date": data["expiry"], "strike_int": None, "offset": data["offset"],
                "option_type": OptionType(data["option_type"]), "action": Action(data["action"]),
                "quantity": int(data["lots"]) * lotsize, "splitsize": 0,
                "pricetype": PriceType(data["pricetype"]), "product": Product(data["product"]),
                "price": data.get("price") or Decimal(0), "trigger_price": data.get("trigger_price") or Decimal(0),
                "disclosed_quantity": 0}
