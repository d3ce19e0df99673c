"""Options endpoints (spec §9.1-9.4, §9.7): option symbol, options orders, multi-leg
orders, option chain and synthetic future. Errors use the V-C style."""

from __future__ import annotations

from datetime import datetime, time
from decimal import Decimal

from django.utils import timezone
from rest_framework import serializers as drf
from rest_framework.response import Response

from brokers import options
from brokers.base import BrokerError, batch_quotes_adapter
from brokers.enums import Action, Exchange, OptionType, PriceType, Product
from brokers.selectors import find_instrument
from brokers.symbols import format_option
from core.api.errors import ErrorStyle
from core.api.serializers import (
    ApiKeyField,
    EnumField,
    IntegerField,
    LenientBooleanField,
    NumberField,
    StrictSerializer,
    StringField,
)
from core.api.views import OpenAlgoView
from marketdata.candles import IST
from marketdata.data_api import data_adapter
from marketdata.greeks import add_chain_greeks
from orders.api import AccountView
from orders.presenters import money
from orders.services import OrderPath

OPTION_PRODUCTS = [Product.MIS, Product.NRML]
EXPIRY_CUTOFF = {Exchange.NFO: time(15, 30), Exchange.BFO: time(15, 30), Exchange.CDS: time(12, 30),
                 Exchange.BCD: time(12, 30), Exchange.MCX: time(23, 30), Exchange.NCO: time(23, 30)}


class OffsetField(StringField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip().upper()
        if not options.OFFSET.match(value):
            raise drf.ValidationError(options.OFFSET_MESSAGE)
        return value


class ResolveFields(StrictSerializer):
    apikey = ApiKeyField()
    underlying = StringField(min_length=1)
    exchange = EnumField(Exchange)
    expiry_date = StringField(required=False)
    strike_int = IntegerField(min_value=1, min_message="Strike interval must be a positive integer.",
                              required=False, allow_null=True)


class OptionSymbolInput(ResolveFields):
    offset = OffsetField()
    option_type = EnumField(OptionType, fold_case=True)
    strategy = StringField(required=False, allow_null=True)


def resolve_request(user, data: dict):
    """§9.0 for one request: the option contract ``offset`` away from ATM, and the LTP used."""
    adapter = data_adapter(user)
    u = options.parse_underlying(data["underlying"], data["exchange"], data.get("expiry_date"))
    ltp, _ = options.underlying_ltp(adapter, u, timezone.localdate())
    return options.resolve(adapter, u, data["offset"], data["option_type"], ltp, data.get("strike_int")), ltp


def _resolution_error(exc: options.ResolutionError, extra: dict | None = None) -> Response:
    return Response({"status": "error", "message": exc.message, **(extra or {})}, status=exc.status)


# Spec §2.6: no strikes for that expiry, or the option contract is not in the master contract.
NOT_FOUND = {404: "No strikes, or the option contract was not found"}


class OptionSymbolView(OpenAlgoView):
    endpoint = "optionsymbol"
    input_serializer = OptionSymbolInput
    error_style = ErrorStyle.OPTIONS
    error_statuses = NOT_FOUND

    def handle(self, request, user, data) -> Response:
        try:
            info, ltp = resolve_request(user, data)
        except options.ResolutionError as exc:
            return _resolution_error(exc)
        return Response({"status": "success", "symbol": info.symbol, "exchange": info.exchange,
                         "lotsize": info.lotsize, "tick_size": float(info.tick_size), "freeze_qty": info.freeze_qty,
                         "underlying_ltp": money(ltp)})


class LegFields(StrictSerializer):
    offset = OffsetField()
    option_type = EnumField(OptionType, fold_case=True)
    action = EnumField(Action, fold_case=True)
    quantity = IntegerField(min_value=1, min_message="Quantity must be a positive integer.")
    splitsize = IntegerField(min_value=0, min_message="Split size must be a non-negative integer.", default=0,
                             allow_null=True)
    pricetype = EnumField(PriceType, default=PriceType.MARKET)
    product = EnumField(Product, choices=OPTION_PRODUCTS, default=Product.MIS)
    price = NumberField(min_value=0, min_message="Price must be a non-negative number.", default=Decimal(0))
    trigger_price = NumberField(min_value=0, min_message="Trigger price must be a non-negative number.",
                                default=Decimal(0))
    disclosed_quantity = IntegerField(min_value=0, min_message="Disclosed quantity must be a non-negative integer.",
                                      default=0)


class OptionsOrderInput(ResolveFields, LegFields):
    strategy = StringField()
    client_order_id = StringField(required=False, min_length=1, max_length=128)


class OptionsOrderView(AccountView):
    endpoint = "optionsorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = OptionsOrderInput
    error_style = ErrorStyle.OPTIONS
    error_statuses = {**AccountView.error_statuses, **NOT_FOUND}
    order_path = OrderPath.OPTIONS
    idempotent = True


class MultiLegInput(LegFields):
    expiry_date = StringField(required=False)


class OptionsMultiOrderInput(ResolveFields):
    strategy = StringField()
    client_order_id = StringField(required=False, min_length=1, max_length=128)
    legs = drf.ListField(child=MultiLegInput(), error_messages={
        "required": "Missing data for required field.", "null": "Field may not be null.",
        "not_a_list": "Not a valid list."})

    def validate_legs(self, value):
        if not 1 <= len(value) <= 20:
            raise drf.ValidationError("Legs must contain 1 to 20 items.")
        return value


class OptionsMultiOrderView(AccountView):
    endpoint = "optionsmultiorder"
    rate_limit = "ORDER_RATE_LIMIT"
    input_serializer = OptionsMultiOrderInput
    error_style = ErrorStyle.OPTIONS
    error_statuses = {**AccountView.error_statuses, **NOT_FOUND}
    order_path = OrderPath.OPTIONS_MULTI
    idempotent = True


class OptionChainInput(StrictSerializer):
    apikey = ApiKeyField()
    underlying = StringField(min_length=1)
    exchange = EnumField(Exchange)
    expiry_date = StringField(min_length=1)
    strike_count = IntegerField(min_value=1, min_message="Strike count must be between 1 and 100.",
                                required=False, allow_null=True)
    with_greeks = LenientBooleanField(default=False)
    interest_rate = NumberField(min_value=0, min_message="Interest rate must be between 0 and 100.",
                                required=False, allow_null=True)

    def validate(self, attrs):
        if (attrs.get("strike_count") or 0) > 100:
            raise drf.ValidationError({"strike_count": ["Strike count must be between 1 and 100."]})
        if (attrs.get("interest_rate") or 0) > 100:
            raise drf.ValidationError({"interest_rate": ["Interest rate must be between 0 and 100."]})
        return attrs


def expiry_ts(exchange: Exchange, expiry) -> int | None:
    cutoff = EXPIRY_CUTOFF.get(exchange)
    if cutoff is None:
        return None
    return int(datetime.combine(expiry, cutoff, IST).timestamp())


def _leg_quote(info, lbl: str, quote) -> dict:
    row = {"symbol": info.symbol, "label": lbl}
    fields = ("ltp", "bid", "ask", "open", "high", "low", "prev_close")
    row.update({name: money(getattr(quote, name)) if quote else 0 for name in fields})
    row.update({"bid_qty": 0, "ask_qty": 0, "volume": int(quote.volume) if quote else 0,
                "oi": int(quote.oi) if quote else 0, "lotsize": info.lotsize, "tick_size": float(info.tick_size)})
    return row


def _leg_quotes(adapter, legs: list) -> dict:
    """(symbol, exchange) -> Quote for each listed leg the source answers for: in the broker's
    batch calls when it has them (a chain is tens of legs, and the page re-reads it every few
    seconds), else one call per leg. A leg without a quote is simply absent."""
    wanted = [(info.symbol, Exchange(info.exchange)) for info in legs]
    batch = batch_quotes_adapter(adapter)
    found: dict = {}
    if batch is not None:
        size = adapter.capabilities.batch_quotes
        for start in range(0, len(wanted), size):
            try:
                found.update(batch.quotes(wanted[start:start + size]))
            except BrokerError:
                continue
        return found
    for item in wanted:
        try:
            found[item] = adapter.quote(*item)
        except BrokerError:
            continue
    return found


def option_chain(user, *, underlying: str, exchange: Exchange, expiry_date: str, strike_count: int | None = None,
                 with_greeks: bool = False, interest_rate=None) -> dict:
    """The chain body of §9.4 (``strike_count`` strikes each side of ATM, all when None),
    for the API and the option-chain page; raises ``options.ResolutionError``."""
    adapter = data_adapter(user)
    u = options.parse_underlying(underlying, exchange, expiry_date, embedded_wins=True)
    ltp, prev_close = options.underlying_ltp(adapter, u, timezone.localdate())
    listed = sorted(set(options.strikes(adapter.name, u, "CE")) | set(options.strikes_or_empty(
        adapter.name, u, "PE")))
    atm = options.atm_index(listed, ltp)
    window = (range(max(0, atm - strike_count), min(len(listed), atm + strike_count + 1)) if strike_count
              else range(len(listed)))
    legs = {(position, option_type): find_instrument(
                broker=adapter.name, exchange=str(u.options_exchange),
                symbol=format_option(u.base, u.expiry, listed[position], option_type))
            for position in window for option_type in ("CE", "PE")}
    quotes = _leg_quotes(adapter, [info for info in legs.values() if info is not None])
    chain = []
    for position in window:
        row: dict = {"strike": float(listed[position])}
        for option_type in ("CE", "PE"):
            info = legs[position, option_type]
            row[option_type.lower()] = None if info is None else _leg_quote(
                info, options.label(position, atm, option_type), quotes.get((info.symbol, Exchange(info.exchange))))
        chain.append(row)
    forward = None
    if with_greeks:
        forward = add_chain_greeks(chain, listed[atm], ltp, u, interest_rate or 0)
    return {
        "status": "success", "underlying": u.base, "underlying_symbol": u.quote_symbol,
        "underlying_exchange": str(u.quote_exchange), "underlying_ltp": money(ltp),
        "underlying_prev_close": money(prev_close), "expiry_date": u.expiry_text,
        "expiry_ts": expiry_ts(u.options_exchange, u.expiry), "server_ts": int(timezone.now().timestamp()),
        "atm_strike": float(listed[atm]), "quotes_included": True, "greeks_included": with_greeks,
        "forward_price": forward, "chain": chain,
    }


class OptionChainView(OpenAlgoView):
    endpoint = "optionchain"
    input_serializer = OptionChainInput
    error_style = ErrorStyle.OPTIONS
    error_statuses = NOT_FOUND

    def handle(self, request, user, data) -> Response:
        try:
            return Response(option_chain(
                user, underlying=data["underlying"], exchange=data["exchange"], expiry_date=data["expiry_date"],
                strike_count=data.get("strike_count"), with_greeks=bool(data.get("with_greeks")),
                interest_rate=data.get("interest_rate")))
        except options.ResolutionError as exc:
            return _resolution_error(exc)


class SyntheticFutureInput(StrictSerializer):
    apikey = ApiKeyField()
    underlying = StringField(min_length=1)
    exchange = EnumField(Exchange)
    expiry_date = StringField(min_length=1)


class SyntheticFutureView(OpenAlgoView):
    endpoint = "syntheticfuture"
    input_serializer = SyntheticFutureInput
    error_style = ErrorStyle.OPTIONS
    error_statuses = NOT_FOUND

    def handle(self, request, user, data) -> Response:
        adapter = data_adapter(user)
        try:
            u = options.parse_underlying(data["underlying"], data["exchange"], data["expiry_date"])
            ltp, _ = options.underlying_ltp(adapter, u, timezone.localdate())
            strike, synthetic = options.synthetic_future(adapter, u, ltp)
        except options.ResolutionError as exc:
            return _resolution_error(exc)
        return Response({"status": "success", "underlying": u.base, "underlying_ltp": money(ltp),
                         "expiry": u.expiry_text, "atm_strike": float(strike),
                         "synthetic_future_price": money(synthetic)})
