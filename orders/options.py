"""Options orders (spec §9.2, §9.3): resolve each contract from the underlying and the
offset (brokers/options.py, on the live data source), then place it exactly as
placeorder would, or as splitorder when the leg is split."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from brokers import options
from brokers.base import BrokerError, OrderRequest
from brokers.enums import Action, Exchange, OptionType, PriceType, Product
from brokers.selectors import InstrumentInfo
from orders.baskets import check_split, place_split
from orders.placement import place_order
from orders.presenters import money
from orders.requests import Data, number
from orders.routing import data_adapter_for
from orders.sending import PLACE_FAILED

if TYPE_CHECKING:
    from accounts.models import User

Body = dict[str, Any]


def _place_leg(user: User, info: InstrumentInfo, leg: Data, strategy: str) -> Body:
    """Place one resolved leg exactly as placeorder would (or as splitorder, when split)."""
    request = OrderRequest(symbol=info.symbol, exchange=Exchange(info.exchange), action=Action(leg["action"]),
                           quantity=Decimal(int(leg["quantity"])), product=Product(leg["product"]),
                           pricetype=PriceType(leg["pricetype"]), price=number(leg["price"]),
                           trigger_price=number(leg["trigger_price"]),
                           disclosed_quantity=int(leg["disclosed_quantity"]), strategy=strategy)
    size = int(leg.get("splitsize") or 0)
    if size:
        check_split(int(leg["quantity"]), size)
        return {"total_quantity": int(leg["quantity"]), "split_size": size,
                "results": place_split(user=user, request=request, splitsize=size)}
    return {"orderid": place_order(user=user, request=request, source="options").orderid}


def place_options_order(*, user: User, data: Data) -> Body:
    """One option contract ``offset`` away from ATM. Raises ResolutionError or BrokerError."""
    adapter = data_adapter_for(user)
    underlying = options.parse_underlying(data["underlying"], Exchange(data["exchange"]), data.get("expiry_date"))
    ltp, _ = options.underlying_ltp(adapter, underlying, timezone.localdate())
    info = options.resolve(adapter, underlying, data["offset"], data["option_type"], ltp, data.get("strike_int"))
    placed = _place_leg(user, info, data, data["strategy"])
    return {"status": "success", **placed, "symbol": info.symbol, "exchange": info.exchange,
            "underlying": data["underlying"], "underlying_ltp": money(ltp), "offset": data["offset"],
            "option_type": str(OptionType(data["option_type"]))}


def place_options_multi_order(*, user: User, data: Data) -> Body:
    """Legs resolved on one LTP, BUY legs before SELL legs, each independent; the results
    come back in request order. Raises ResolutionError when the LTP cannot be read."""
    adapter = data_adapter_for(user)
    exchange = Exchange(data["exchange"])
    first = options.parse_underlying(data["underlying"], exchange,
                                     data["legs"][0].get("expiry_date") or data.get("expiry_date"))
    ltp, _ = options.underlying_ltp(adapter, first, timezone.localdate())
    numbered = list(enumerate(data["legs"], start=1))
    ordered = [x for x in numbered if x[1]["action"] == Action.BUY] + \
              [x for x in numbered if x[1]["action"] == Action.SELL]
    results: list[Body] = []
    for number_, leg in ordered:
        head: Body = {"leg": number_, "offset": leg["offset"], "option_type": str(OptionType(leg["option_type"])),
                      "action": str(Action(leg["action"]))}
        try:
            underlying = options.parse_underlying(data["underlying"], exchange,
                                                  leg.get("expiry_date") or data.get("expiry_date"))
            info = options.resolve(adapter, underlying, leg["offset"], leg["option_type"], ltp,
                                   data.get("strike_int"))
        except options.ResolutionError as exc:
            results.append({**head, "status": "error", "message": exc.message})
            continue
        head.update({"symbol": info.symbol, "exchange": info.exchange, "product": str(leg["product"])})
        try:
            placed = _place_leg(user, info, leg, data["strategy"])
        except BrokerError as exc:
            message = exc.message if exc.http_status < 500 else PLACE_FAILED
            results.append({**head, "status": "error", "message": message})
            continue
        if "results" in placed:
            placed = {"total_quantity": placed["total_quantity"], "split_size": placed["split_size"],
                      "split_results": placed["results"]}
        results.append({**head, "status": "success", **placed})
    results.sort(key=lambda row: row["leg"])
    return {"status": "success", "underlying": data["underlying"], "underlying_ltp": money(ltp),
            "results": results}
