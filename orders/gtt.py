"""GTT services (spec §5.9): place, modify, cancel and list good-till-triggered orders at
the broker serving the user now (the sandbox in analyze mode).

A GTT lives at the broker and fires there; the order it places reaches us as any order the
broker reports (the sandbox announces it on the order stream). Brokers that do not offer
GTT say so in their capabilities, and the caller gets CapabilityMissing (501)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from accounts import audit
from brokers.enums import Action, Exchange, PriceType, Product
from brokers.gtt import GttAdapter, GttRequest, GttTrigger, GttType, gtt_adapter
from core.values import json_safe
from orders.requests import Data, number
from orders.routing import adapter_for

if TYPE_CHECKING:
    from accounts.models import User


def _optional_number(value: Any) -> Decimal | None:
    return None if value is None else number(value)


def _moment(value: Any) -> datetime | None:
    """A validated expiry, or the ISO text the Action Center stored it as."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def gtt_request(data: Data) -> GttRequest:
    """The request from an endpoint's validated data, or the same data stored as JSON by the
    Action Center while it waited for approval."""
    return GttRequest(
        trigger_type=GttType(data["trigger_type"]), symbol=str(data["symbol"]), exchange=Exchange(data["exchange"]),
        action=Action(data["action"]), product=Product(data["product"]), quantity=number(data["quantity"]),
        pricetype=PriceType(data["pricetype"]), price=number(data["price"]),
        triggerprice_sl=number(data["triggerprice_sl"]), triggerprice_tg=number(data["triggerprice_tg"]),
        stoploss=_optional_number(data["stoploss"]), target=_optional_number(data["target"]),
        expires_at=_moment(data["expires_at"]), strategy=str(data["strategy"]),
    )


def _adapter(user: User) -> GttAdapter:
    return gtt_adapter(adapter_for(user))


def _detail(adapter: GttAdapter, trigger_id: str, request: GttRequest | None = None) -> dict[str, object]:
    shown: dict[str, object] = {"broker": adapter.name, "trigger_id": trigger_id}
    if request is not None:
        shown.update(json_safe({
            "trigger_type": request.trigger_type, "action": request.action, "quantity": request.quantity,
            "product": request.product, "pricetype": request.pricetype, "price": request.price,
            "trigger_prices": request.trigger_prices, "stoploss": request.stoploss, "target": request.target,
            "strategy": request.strategy,
        }))
    return shown


def place_gtt(*, user: User, request: GttRequest) -> str:
    adapter = _adapter(user)
    trigger_id = adapter.place_gtt(request)
    audit.record("gtt_placed", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                 detail=_detail(adapter, trigger_id, request))
    return trigger_id


def modify_gtt(*, user: User, trigger_id: str, request: GttRequest) -> str:
    adapter = _adapter(user)
    modified = adapter.modify_gtt(trigger_id, request)
    audit.record("gtt_modified", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                 detail=_detail(adapter, modified, request))
    return modified


def cancel_gtt(*, user: User, trigger_id: str) -> str:
    adapter = _adapter(user)
    cancelled = adapter.cancel_gtt(trigger_id)
    audit.record("gtt_cancelled", actor=user.username, subject=cancelled, detail=_detail(adapter, cancelled))
    return cancelled


def gtt_book(*, user: User) -> list[GttTrigger]:
    return _adapter(user).gtt_book()
