"""GTT services (spec §5.9): place, modify, cancel and list good-till-triggered orders at
the broker serving the user now (the sandbox in analyze mode).

A GTT lives at the broker and fires there; the order it places reaches us as any order the
broker reports (the sandbox announces it on the order stream). Brokers that do not offer
GTT say so in their capabilities, and the caller gets CapabilityMissing (501)."""

from __future__ import annotations

from accounts import audit
from brokers.gtt import GttAdapter, GttRequest, GttTrigger, gtt_adapter
from core.values import json_safe
from orders import gtt_serializers, services


def gtt_request(data: dict) -> GttRequest:
    """The request from an endpoint's validated data."""
    return GttRequest(
        trigger_type=data["trigger_type"], symbol=data["symbol"], exchange=data["exchange"], action=data["action"],
        product=data["product"], quantity=data["quantity"], pricetype=data["pricetype"], price=data["price"],
        triggerprice_sl=data["triggerprice_sl"], triggerprice_tg=data["triggerprice_tg"],
        stoploss=data["stoploss"], target=data["target"], expires_at=data["expires_at"],
        strategy=data["strategy"],
    )


def _adapter(user) -> GttAdapter:
    return gtt_adapter(services.adapter_for(user))


def _detail(adapter, trigger_id: str, request: GttRequest | None = None) -> dict:
    shown = {"broker": adapter.name, "trigger_id": trigger_id}
    if request is not None:
        shown.update(json_safe({
            "trigger_type": request.trigger_type, "action": request.action, "quantity": request.quantity,
            "product": request.product, "pricetype": request.pricetype, "price": request.price,
            "trigger_prices": request.trigger_prices, "stoploss": request.stoploss, "target": request.target,
            "strategy": request.strategy,
        }))
    return shown


def place_gtt(*, user, request: GttRequest) -> str:
    adapter = _adapter(user)
    trigger_id = adapter.place_gtt(request)
    audit.record("gtt_placed", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                 detail=_detail(adapter, trigger_id, request))
    return trigger_id


def modify_gtt(*, user, trigger_id: str, request: GttRequest) -> str:
    adapter = _adapter(user)
    modified = adapter.modify_gtt(trigger_id, request)
    audit.record("gtt_modified", actor=user.username, subject=f"{request.exchange}:{request.symbol}",
                 detail=_detail(adapter, modified, request))
    return modified


def cancel_gtt(*, user, trigger_id: str) -> str:
    adapter = _adapter(user)
    cancelled = adapter.cancel_gtt(trigger_id)
    audit.record("gtt_cancelled", actor=user.username, subject=cancelled, detail=_detail(adapter, cancelled))
    return cancelled


def gtt_book(*, user) -> list[GttTrigger]:
    return _adapter(user).gtt_book()


def replay_place(*, user, payload: dict) -> dict:
    """An approved Action Center GTT (queued in semi-auto mode): validated again from its
    stored payload, then placed. Returns the answer the API would have given."""
    serializer = gtt_serializers.PlaceGttInput(data={**payload, "apikey": "action-center"})
    if not serializer.is_valid():
        return {"status": "error", "message": repr(json_safe(serializer.errors))}
    return {"status": "success", "trigger_id": place_gtt(user=user, request=gtt_request(serializer.validated_data))}
