"""User B can neither read nor act on user A's orders, positions, trades, holdings, pending
Action Center orders, analyzer logs, keys or limits: through every /api/v1 endpoint (taken
from the URL resolver, so a new endpoint is covered without editing this file), every
page of the dashboard and the admin (taken from the URL patterns too), and the WebSocket
order stream."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from openalgo.api_urls import urlpatterns as api_urlpatterns

A_STRATEGY = "alpha-book-7731"  # appears only in A's requests
A_QUANTITY = 37  # A's orders' quantity; B only ever uses 1
A_NAME = "alice7731"
B_NAME = "bob4402"
PASSWORD = "correct-horse-battery-9"

BUY = {"symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": str(A_QUANTITY), "product": "CNC",
       "pricetype": "MARKET"}
LIMIT_SELL = {**BUY, "action": "SELL", "pricetype": "LIMIT", "price": "950", "product": "MIS"}


# --- A's world ---------------------------------------------------------------------------------


@pytest.fixture
def world(settings, market, make_user, client):
    """A with filled and open orders, a position, trades, a pending Action Center order and
    analyzer logs; B with a key of its own and nothing else."""
    from accounts.services import create_api_key

    settings.RATELIMIT_ENABLE = False
    alice = make_user(username=A_NAME, password=PASSWORD)
    bob = make_user(username=B_NAME, password=PASSWORD)
    a_key, b_key = create_api_key(user=alice), create_api_key(user=bob)

    def a_call(endpoint: str, **fields):
        response = client.post(f"/api/v1/{endpoint}", data=json.dumps({"apikey": a_key, **fields}),
                               content_type="application/json")
        return response.json()

    filled = a_call("placeorder", strategy=A_STRATEGY, **BUY)
    also_filled = a_call("placeorder", strategy=A_STRATEGY, **{**BUY, "product": "MIS"})
    resting = a_call("placeorder", strategy=A_STRATEGY, **LIMIT_SELL)
    resting_too = a_call("placeorder", strategy=A_STRATEGY, **{**LIMIT_SELL, "price": "960"})
    assert all(r["status"] == "success" for r in (filled, also_filled, resting, resting_too)), (filled, resting)
    alice.order_mode = alice.OrderMode.SEMI_AUTO
    alice.save(update_fields=["order_mode"])
    queued = a_call("placeorder", strategy=A_STRATEGY, **BUY)
    assert queued["mode"] == "semi_auto", queued
    alice.order_mode = alice.OrderMode.AUTO
    alice.analyze_mode = True  # requests are now recorded in A's analyzer log
    alice.save(update_fields=["order_mode", "analyze_mode"])
    analyzed = a_call("placeorder", strategy=A_STRATEGY, **LIMIT_SELL)
    assert analyzed["status"] == "success" and analyzed["mode"] == "analyze", analyzed
    alice.analyze_mode = False  # A's own reads below are not logged
    alice.save(update_fields=["analyze_mode"])
    from orders.models import AnalyzerLog, PendingOrder

    assert PendingOrder.objects.filter(user=alice, state="pending").count() == 1
    a_positions = a_call("positionbook")
    return {
        "alice": alice, "bob": bob, "a_key": a_key, "b_key": b_key, "a_call": a_call,
        "a_orderids": {filled["orderid"], also_filled["orderid"], resting["orderid"], resting_too["orderid"],
                       analyzed["orderid"]},
        "open_orderid": resting["orderid"], "pending_id": queued["pending_order_id"],
        "a_positions": a_positions, "a_logs": AnalyzerLog.objects.filter(user=alice).count(),
    }


def snapshot(world) -> dict:
    """Everything of A's that B might change."""
    from accounts.models import ApiKey
    from orders.models import AnalyzerLog, Order, PendingOrder

    alice = world["alice"]
    alice.refresh_from_db()
    return {
        "orders": sorted(Order.objects.filter(user=alice).values_list(
            "pk", "status", "quantity", "price", "trigger_price", "pricetype", "filled_quantity", "broker_order_id")),
        "pending": sorted(PendingOrder.objects.filter(user=alice).values_list("pk", "state", "payload")),
        "logs": AnalyzerLog.objects.filter(user=alice).count(),
        "keys": sorted(ApiKey.objects.filter(user=alice).values_list("pk", "revoked_at")),
        "modes": (alice.analyze_mode, alice.order_mode, alice.is_active),
        "positions": world["a_call"]("positionbook")["data"],
        "orderbook": [(o["orderid"], o["order_status"], o["quantity"], o["price"])
                      for o in world["a_call"]("orderbook")["data"]["orders"]],
        "tradebook": world["a_call"]("tradebook")["data"],
        "holdings": world["a_call"]("holdings")["data"],
    }


# --- what "nothing of A's" means in a JSON answer ---------------------------------------------


def walk(value, key=""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, k)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item, key)
    else:
        yield key, value


def leaks(body, world) -> list[str]:
    found = []
    text = json.dumps(body) if not isinstance(body, str) else body
    for marker in (A_STRATEGY, A_NAME, world["a_key"]):
        if marker in text:
            found.append(marker)
    if isinstance(body, (dict, list)):
        for key, value in walk(body):
            if "orderid" in key.lower() and str(value) in world["a_orderids"]:
                found.append(f"{key}={value}")
            if key == "pending_order_id" and value == world["pending_id"]:
                found.append(f"{key}={value}")
            if "quantity" in key.lower() and value not in (None, "") and _number(value) in (A_QUANTITY, 2 * A_QUANTITY):
                found.append(f"{key}={value}")
    return found


def _number(value):
    try:
        return abs(Decimal(str(value)))
    except ArithmeticError:
        return None


# --- bodies: from the endpoint's request schema, aimed at A's objects --------------------------

# Field values B sends: A's order id wherever an order id goes, A's symbol everywhere.
FIELD_VALUES = {
    "strategy": "bee-strategy", "symbol": "SBIN", "exchange": "NSE", "action": "SELL", "quantity": "1",
    "product": "CNC", "pricetype": "MARKET", "price": "0", "trigger_price": "0", "disclosed_quantity": "0",
    "position_size": "0", "splitsize": "1", "interval": "D", "start_date": "2026-01-01", "end_date": "2026-01-05",
    "query": "SBIN", "instrumenttype": "futures", "underlying": "NIFTY", "expiry_date": "29DEC26",
    "offset": "ATM", "option_type": "CE", "strike_count": "2", "mode": "false", "year": "2026",
    "date": "2026-01-05", "interest_rate": "0", "underlying_symbol": "NIFTY", "underlying_exchange": "NSE_INDEX",
}


def _schema():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def body_for(schema, path: str, world) -> dict:
    """B's request: every property of the endpoint's request schema that FIELD_VALUES
    knows, and A's open order id for any order id."""
    operation = schema["paths"].get(path, {})
    post = operation.get("post") or operation.get("get") or {}
    content = post.get("requestBody", {}).get("content", {})
    properties = {}
    for media in content.values():
        properties.update(_resolve(schema, media.get("schema", {})).get("properties", {}))
    for parameter in post.get("parameters", []):
        properties.setdefault(parameter["name"], {})
    body = {}
    for name, spec in properties.items():
        if name == "apikey":
            continue
        if "orderid" in name:
            body[name] = world["open_orderid"]
        elif name in FIELD_VALUES:
            body[name] = FIELD_VALUES[name]
        elif _resolve(schema, spec).get("type") == "array":
            item = {k: v for k, v in FIELD_VALUES.items() if k in ("symbol", "exchange", "action", "quantity",
                                                                  "product", "pricetype", "offset", "option_type")}
            body[name] = [item]
    return body


def api_paths() -> list[str]:
    """Every /api/v1 route, as a concrete path (the ticker's argument filled in)."""
    paths = []
    for pattern in api_urlpatterns:
        route = pattern.pattern.regex.pattern.strip("^$").replace("/?", "")
        paths.append(re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "NSE:SBIN", route))
    return paths


def test_every_api_endpoint_is_covered():
    paths = api_paths()
    assert len(paths) == len(api_urlpatterns) and len(paths) >= 35
    assert {"placeorder", "cancelorder", "orderbook", "analyzer", "ticker/NSE:SBIN"} <= set(paths)


def test_b_gets_nothing_of_a_from_any_endpoint_and_changes_nothing_of_a(world, client):
    schema = _schema()
    before = snapshot(world)
    b_key = world["b_key"]
    answered = {}
    for path in api_paths():
        schema_path = "/api/v1/" + re.sub(r"ticker/.*", "ticker/{ticker}", path)
        body = body_for(schema, schema_path, world)
        if schema_path.endswith("{ticker}") or path == "instruments":
            response = client.get(f"/api/v1/{path}", {"apikey": b_key, **body, "from": "2026-01-01",
                                                      "to": "2026-01-05"})
        else:
            response = client.post(f"/api/v1/{path}", data=json.dumps({"apikey": b_key, **body}),
                                   content_type="application/json")
        content_type = response.get("Content-Type", "")
        payload = response.json() if content_type.startswith("application/json") else response.content.decode()
        answered[path] = response.status_code
        assert response.status_code != 500, (path, payload)
        assert not leaks(payload, world), (path, leaks(payload, world), payload)
        # The same endpoint aimed at A's pending Action Center order and A's other orders.
        if any("orderid" in name for name in body):
            for orderid in world["a_orderids"]:
                retry = {**body, **{name: orderid for name in body if "orderid" in name}}
                response = client.post(f"/api/v1/{path}", data=json.dumps({"apikey": b_key, **retry}),
                                       content_type="application/json")
                refused = response.json()
                assert response.status_code in (400, 403, 404), (path, orderid, refused)
                assert set(refused) == {"status", "message"} and refused["status"] == "error", refused
                assert not leaks(refused, world), (path, refused)
    assert set(answered) == set(api_paths())
    assert snapshot(world) == before


@pytest.mark.parametrize("endpoint", ["modifyorder", "cancelorder", "orderstatus"])
def test_a_s_order_id_with_b_s_key_is_an_error_in_the_spec_shape(world, client, endpoint):
    body = {"apikey": world["b_key"], "strategy": "bee", "orderid": world["open_orderid"]}
    if endpoint == "modifyorder":
        body.update({k: v for k, v in LIMIT_SELL.items() if k != "quantity"}, quantity="1", price="990",
                    disclosed_quantity="0", trigger_price="0")
    before = snapshot(world)
    response = client.post(f"/api/v1/{endpoint}", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": f"Order {world['open_orderid']} not found"}
    assert snapshot(world) == before


def test_cancelall_and_closeposition_with_b_s_key_touch_only_b(world, client):
    before = snapshot(world)
    for endpoint in ("cancelallorder", "closeposition"):
        response = client.post(f"/api/v1/{endpoint}", data=json.dumps({"apikey": world["b_key"], "strategy": "b"}),
                               content_type="application/json")
        assert response.status_code == 200, response.json()
        assert not leaks(response.json(), world)
    assert snapshot(world) == before
    open_ids = {o[0] for o in before["orderbook"] if o[1] == "open"}
    assert world["open_orderid"] in open_ids


def test_b_s_reads_are_empty_while_a_has_orders_trades_and_positions(world, client):
    assert world["a_positions"]["data"], "A must have a position for this test to mean anything"

    def b_call(endpoint, **fields):
        response = client.post(f"/api/v1/{endpoint}", data=json.dumps({"apikey": world["b_key"], **fields}),
                               content_type="application/json")
        return response.json()

    assert b_call("orderbook")["data"]["orders"] == []
    assert b_call("tradebook")["data"] == []
    assert b_call("positionbook")["data"] == []
    holdings = b_call("holdings")["data"]
    assert holdings.get("holdings", []) == [] if isinstance(holdings, dict) else holdings == []
    assert b_call("openposition", strategy="x", symbol="SBIN", exchange="NSE", product="CNC")["quantity"] in (0, "0")
    assert b_call("analyzer")["data"]["total_logs"] == 0
    assert world["a_call"]("analyzer")["data"]["total_logs"] == world["a_logs"] > 0


def test_revoked_key_of_a_in_b_s_hands_is_refused(world, client):
    from accounts.services import create_api_key

    old_key = world["a_key"]
    create_api_key(user=world["alice"])  # rotation: the old key is revoked
    response = client.post("/api/v1/orderbook", data=json.dumps({"apikey": old_key}), content_type="application/json")
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "Invalid openalgo apikey"}


def test_a_switch_to_semi_auto_takes_effect_at_once(market, api_call, user):
    assert api_call("placeorder", strategy="s", **BUY)[1]["status"] == "success"  # the key is now cached
    from accounts.models import User

    fresh = User.objects.get(pk=user.pk)  # e.g. the admin or the dashboard, another object
    fresh.order_mode = User.OrderMode.SEMI_AUTO
    fresh.save(update_fields=["order_mode"])
    _status, body = api_call("placeorder", strategy="s", **BUY)
    assert body.get("mode") == "semi_auto", body


def test_a_switch_made_by_another_process_holds_after_the_recheck_interval(market, api_call, user, settings):
    settings.API_KEY_RECHECK_SECONDS = 0
    assert api_call("placeorder", strategy="s", **BUY)[1]["status"] == "success"  # the key is now cached
    from accounts.models import User

    User.objects.filter(pk=user.pk).update(order_mode=User.OrderMode.SEMI_AUTO)  # no signal in this process
    _status, body = api_call("placeorder", strategy="s", **BUY)
    assert body.get("mode") == "semi_auto", body


# --- pages ------------------------------------------------------------------------------------


def page_patterns() -> list[tuple[str, URLPattern]]:
    """Every non-API URL pattern of the site (dashboard apps and the admin), with its
    route as a string (converters left in)."""
    found = []

    def visit(patterns, prefix=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                visit(entry.url_patterns, route)
            elif isinstance(entry, URLPattern):
                found.append((route, entry))

    visit(get_resolver().url_patterns)
    return [(route, p) for route, p in found if not route.startswith(("api/", "^api/"))]


PUBLIC = {"login/", "login/verify/", "setup/", "health/live", "health/ready", "logout/", "admin/logout/",
          "password/reset/"}  # the forgotten-password form (its e-mail pages 404 without SMTP)


def concrete(route: str, ids: dict) -> str | None:
    """A path for ``route`` with A's object ids in its arguments; None for regex routes."""
    if route.startswith("^") or "(?P" in route:
        route = route.lstrip("^").replace("\\", "")
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(ids.get(m.group(1), ids["pk"])), route)
        route = route.replace("$", "").replace("?", "")
    route = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), ids["pk"])), route)
    return "/" + route


def test_every_page_route_is_enumerated():
    routes = {route for route, _ in page_patterns()}
    assert {"", "login/", "account/apikey/", "risk/", "reconciliation/", "admin/"} <= routes
    assert any(route.startswith("admin/accounts/apikey/") for route in routes)


def test_anonymous_users_are_sent_to_login_from_every_page(world, client):
    ids = {"pk": world["pending_id"], "object_id": world["alice"].pk}
    for route, _pattern in page_patterns():
        path = concrete(route, ids)
        if route in PUBLIC or path is None:
            continue
        response = client.get(path)
        assert response.status_code in (302, 404, 405), (path, response.status_code)  # 405: POST-only
        if response.status_code == 302:
            assert "/login/" in response.url, (path, response.url)
        response = client.post(path)
        assert response.status_code in (302, 403, 404, 405), (path, response.status_code)
        if response.status_code == 302:
            assert "/login/" in response.url, (path, response.url)


def test_a_non_staff_user_gets_no_admin_page(world, client):
    client.force_login(world["bob"])
    ids = {"pk": world["alice"].pk, "object_id": world["alice"].pk}
    for route, _pattern in page_patterns():
        if not route.startswith("admin/"):
            continue
        path = concrete(route, ids)
        if route in ("admin/logout/",):
            continue
        response = client.get(path)
        assert response.status_code in (302, 403, 404), (path, response.status_code)
        assert response.status_code != 302 or "/login/" in response.url, (path, response.url)
        assert A_NAME not in response.content.decode()


def test_b_never_sees_a_s_data_on_any_page_and_changes_nothing(world, client):
    from orders.models import RiskLimits

    RiskLimits.objects.update_or_create(user=world["alice"], defaults={"max_order_quantity": Decimal("7731")})
    before = snapshot(world)
    client.force_login(world["bob"])
    ids = {"pk": world["pending_id"], "object_id": world["alice"].pk, "id": world["pending_id"],
           "orderid": world["open_orderid"]}
    seen = 0
    for route, _pattern in page_patterns():
        if route.startswith("admin/") or route in ("logout/",):
            continue
        path = concrete(route, ids)
        response = client.get(path, follow=True)
        text = response.content.decode()
        for marker in (A_NAME, A_STRATEGY, world["a_key"], "7731"):
            assert marker not in text, (path, marker)
        for orderid in world["a_orderids"]:
            assert not re.search(rf"(?<![\w.-]){re.escape(orderid)}(?![\w.-])", text), (path, orderid)
        seen += 1
        # Every action a page offers, aimed at A's objects: nothing of A's may change.
        response = client.post(path, {"pending_id": world["pending_id"], "orderid": world["open_orderid"],
                                      "user": world["alice"].pk, "action": "engage", "reason": "b was here"})
        assert response.status_code != 500, path
    assert seen >= 5
    after = snapshot(world)
    assert after == before
    assert RiskLimits.objects.get(user=world["alice"]).max_order_quantity == Decimal("7731")


# --- the WebSocket order stream ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_order_stream_never_delivers_a_s_updates_to_b(market, make_user, order_event_bus):
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from accounts.services import create_api_key
    from brokers.base import OrderRequest
    from brokers.enums import Action, Exchange
    from marketdata.stream.consumer import FeedConsumer
    from orders import services

    alice, bob = make_user(username=A_NAME), make_user(username=B_NAME)
    a_key, b_key = create_api_key(user=alice), create_api_key(user=bob)

    async def connect(key):
        communicator = WebsocketCommunicator(FeedConsumer.as_asgi(), "/")
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"action": "authenticate", "api_key": key})
        assert (await communicator.receive_json_from(timeout=5))["status"] == "success"
        await communicator.send_json_to({"action": "subscribe_orders"})
        assert (await communicator.receive_json_from(timeout=5))["status"] == "success"
        return communicator

    async def scenario():
        a_socket, b_socket = await connect(a_key), await connect(b_key)
        placed = await database_sync_to_async(services.place_order)(
            user=alice, request=OrderRequest(symbol="SBIN", exchange=Exchange.NSE, action=Action.BUY, quantity=1))
        a_update = await a_socket.receive_json_from(timeout=5)
        b_nothing = await b_socket.receive_nothing(timeout=1)
        # B re-authenticating with A's revoked... no: with its own key again, still nothing of A's.
        await a_socket.disconnect()
        await b_socket.disconnect()
        return placed, a_update, b_nothing

    placed, a_update, b_nothing = async_to_sync(scenario)()
    assert a_update["orderid"] == placed.orderid and a_update["user_id"] == A_NAME
    assert b_nothing is True


def test_a_s_gtt_trigger_is_out_of_b_s_reach(world, client):
    """GTT triggers are found by id alone in a request: B naming A's trigger gets the
    not-found answer, and A's trigger is untouched and absent from B's book."""
    from brokers.sandbox.models import SandboxGtt

    gtt = {"strategy": A_STRATEGY, "trigger_type": "SINGLE", "symbol": "SBIN", "exchange": "NSE", "action": "BUY",
           "product": "CNC", "quantity": str(A_QUANTITY), "price": "701", "triggerprice_sl": "700"}
    placed = world["a_call"]("placegttorder", **gtt)
    assert placed["status"] == "success", placed
    trigger_id = placed["trigger_id"]
    before = list(SandboxGtt.objects.values_list("status", "quantity", "triggerprice_sl", "updated_at"))

    def b_call(endpoint, **fields):
        response = client.post(f"/api/v1/{endpoint}", data=json.dumps({"apikey": world["b_key"], **fields}),
                               content_type="application/json")
        return response.status_code, response.json()

    not_found = (404, {"status": "error", "message": f"Trigger {trigger_id} not found"})
    assert b_call("modifygttorder", **{**gtt, "strategy": "b", "quantity": "1", "trigger_id": trigger_id}) == not_found
    assert b_call("cancelgttorder", strategy="b", trigger_id=trigger_id) == not_found
    assert b_call("gttorderbook") == (200, {"status": "success", "data": []})
    assert list(SandboxGtt.objects.values_list("status", "quantity", "triggerprice_sl", "updated_at")) == before
    assert [t["trigger_id"] for t in world["a_call"]("gttorderbook")["data"]] == [trigger_id]
