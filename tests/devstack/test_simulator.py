"""The simulator's pure parts: webhook signing and what to do next with a shipment."""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import httpx
import pytest

from config.settings import Settings
from devstack.simulator import (
    Action,
    ShipmentState,
    Simulator,
    carrier_webhook_body,
    decide,
    next_carrier_status,
    pick_body,
    sign,
    step_seconds,
)

STEP = 60.0


def shipment(
    status: str, tracking: str | None = "SW1", carrier: str | None = "swift"
) -> dict[str, object]:
    return {
        "shipment_id": "SHP-1",
        "status": status,
        "tracking_number": tracking,
        "carrier": carrier,
        "lines": [{"sku": "SKU-RED-M", "quantity": 2, "name": "Red M"}],
    }


def test_signature_is_hex_hmac_sha256_of_raw_body() -> None:
    body = b'{"tracking_number":"SW1","status":"delivered"}'
    expected = hmac.new(b"dev-swift-secret", body, hashlib.sha256).hexdigest()
    assert sign(body, "dev-swift-secret") == f"sha256={expected}"
    assert sign(body, "other") != sign(body, "dev-swift-secret")


def test_webhook_body_shape() -> None:
    at = datetime(2026, 11, 26, 8, 30, tzinfo=UTC)
    payload = json.loads(carrier_webhook_body("SW1", "in_transit", at))
    assert payload == {
        "tracking_number": "SW1",
        "status": "in_transit",
        "detail": None,
        "at": "2026-11-26T08:30:00Z",
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("label_created", "in_transit"),
        ("in_transit", "out_for_delivery"),
        ("out_for_delivery", "delivered"),
        ("delivered", None),
        ("exception", None),
        ("picking", None),
    ],
)
def test_next_carrier_status(status: str, expected: str | None) -> None:
    assert next_carrier_status(status) == expected


def test_step_is_a_simulated_hour_compressed_by_speed() -> None:
    assert step_seconds(60) == 60.0
    assert step_seconds(3600) == 1.0
    with pytest.raises(ValueError):
        step_seconds(0)


def test_pick_waits_one_step_then_acts_once_per_step() -> None:
    state, action = decide(
        shipment("picking", tracking=None, carrier=None), None, now=0.0, step=STEP
    )
    assert action is None and state == ShipmentState("picking", since=0.0)

    state, action = decide(shipment("picking"), state, now=59.0, step=STEP)
    assert action is None

    state, action = decide(shipment("picking"), state, now=60.0, step=STEP)
    assert action == Action(kind="pick", shipment_id="SHP-1")
    assert state.acted_at == 60.0

    # Status did not move yet: no repeat until another step has passed.
    state, action = decide(shipment("picking"), state, now=100.0, step=STEP)
    assert action is None
    state, action = decide(shipment("picking"), state, now=120.0, step=STEP)
    assert action is not None and action.kind == "pick"


def test_carrier_walks_label_to_delivered() -> None:
    state = None
    now = 0.0
    reported = []
    for status in ("label_created", "in_transit", "out_for_delivery", "delivered"):
        state, action = decide(shipment(status), state, now=now, step=STEP)
        assert action is None  # a new status waits one step
        now += STEP
        state, action = decide(shipment(status), state, now=now, step=STEP)
        if action is not None:
            assert (
                action.kind == "carrier"
                and action.carrier == "swift"
                and action.tracking_number == "SW1"
            )
            reported.append(action.status)
    assert reported == ["in_transit", "out_for_delivery", "delivered"]


@pytest.mark.parametrize(
    "status",
    ["pending", "packed", "delivered", "exception", "cancelled", "returned_to_sender"],
)
def test_nothing_to_do(status: str) -> None:
    _, action = decide(
        shipment(status), ShipmentState(status, since=0.0), now=1e6, step=STEP
    )
    assert action is None


def test_no_tracking_number_means_no_webhook() -> None:
    state = ShipmentState("label_created", since=0.0)
    _, action = decide(
        shipment("label_created", tracking=None), state, now=1e6, step=STEP
    )
    assert action is None


def test_status_change_resets_the_clock() -> None:
    state = ShipmentState("in_transit", since=0.0, acted_at=60.0)
    state, action = decide(shipment("out_for_delivery"), state, now=61.0, step=STEP)
    assert action is None and state == ShipmentState("out_for_delivery", since=61.0)


def test_pick_body_keeps_sku_and_quantity() -> None:
    assert pick_body(shipment("picking")) == {
        "lines": [{"sku": "SKU-RED-M", "quantity": 2}],
        "picker": "simulator",
    }


OPS_KEY = "ops-key-at-least-24-characters"
CLIENT_KEY = f"client-key-{'x' * 24}"
WAREHOUSE_KEY = f"wh-key-{'x' * 24}"


def test_tick_against_a_fake_api() -> None:
    """The loop polls each open status, reads the parcels off the list pages, and posts signed
    webhooks; errors are tolerated."""
    posted: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/warehouses":
            return httpx.Response(200, json=[])  # nothing to pick here: tasks have their own test
        if request.method == "GET" and request.url.path == "/orders":
            # The carriers read what a storefront reads: an unbound client key, not the ops key.
            assert request.headers["X-API-Key"] == CLIENT_KEY
            status = request.url.params["status"]
            if status == "partially_shipped":
                return httpx.Response(500, json={"title": "boom"})
            # List items carry their parcels: no order is read one by one.
            items = [{"order_id": "O1", "shipments": [shipment("in_transit")]}] if status == "shipped" else []
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        assert request.method == "POST", f"unexpected {request.method} {request.url.path}"
        posted.append(request)
        return httpx.Response(202)

    settings = Settings(
        api_keys=f"c:client:client-key-{'x' * 24},o:ops:{OPS_KEY},w:warehouse:wh-key-{'x' * 24}",
        carrier_secrets="swift:sek",
        simulator_speed=3600,
    )
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://api")
    sim = Simulator(settings, client=client)
    assert sim.tick(now=0.0) == []
    actions = sim.tick(now=1.0)
    assert [a.status for a in actions] == ["out_for_delivery"]
    (request,) = posted
    assert request.url.path == "/webhooks/carriers/swift"
    assert request.headers["X-Signature"] == sign(request.content, "sek")
    assert json.loads(request.content)["status"] == "out_for_delivery"


def test_picks_come_from_the_work_queues_with_the_warehouse_key_alone() -> None:
    """A key table without an ops key (and without a client key): the simulator reads each active
    warehouse's work queue, page by page, and confirms those picks with the warehouse key; it reads
    no order and plays no carrier."""
    requests: list[httpx.Request] = []
    pages = {
        None: {"items": [{"shipment_id": "SHP-1", "order_id": "O1", "lines": [{"sku": "SKU-A", "quantity": 2}],
                          "priority": "expedited", "shipping_speed": "express", "since": "2026-12-01T00:00:00Z"}],
               "next_cursor": "page-2", "returns": []},
        "page-2": {"items": [{"shipment_id": "SHP-2", "order_id": "O2", "lines": [{"sku": "SKU-B", "quantity": 1}],
                              "priority": "normal", "shipping_speed": "standard", "since": "2026-12-01T01:00:00Z"}],
                   "next_cursor": None, "returns": []},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        assert request.headers["X-API-Key"] == WAREHOUSE_KEY
        if request.method == "GET" and request.url.path == "/warehouses":
            return httpx.Response(200, json=[{"code": "WH-A", "active": True}, {"code": "WH-OFF", "active": False}])
        if request.method == "GET" and request.url.path == "/warehouse/tasks":
            assert request.url.params["warehouse"] == "WH-A"
            return httpx.Response(200, json=pages[request.url.params.get("cursor")])
        assert request.method == "POST" and request.url.path.endswith("/picked"), request.url.path
        return httpx.Response(202)

    settings = Settings(api_keys=f"w:warehouse:{WAREHOUSE_KEY}", carrier_secrets="swift:sek", simulator_speed=3600)
    sim = Simulator(settings, client=httpx.Client(transport=httpx.MockTransport(handler), base_url="http://api"))
    assert sim.tick(now=0.0) == []
    assert sim.tick(now=1.0) == [Action(kind="pick", shipment_id="SHP-1"), Action(kind="pick", shipment_id="SHP-2")]
    posts = [r for r in requests if r.method == "POST"]
    assert [(r.url.path, json.loads(r.content)) for r in posts] == [
        ("/warehouse/shipments/SHP-1/picked", {"lines": [{"sku": "SKU-A", "quantity": 2}], "picker": "simulator"}),
        ("/warehouse/shipments/SHP-2/picked", {"lines": [{"sku": "SKU-B", "quantity": 1}], "picker": "simulator"}),
    ]
    assert {r.url.path for r in requests if r.method == "GET"} == {"/warehouses", "/warehouse/tasks"}


def test_the_simulator_needs_a_warehouse_key() -> None:
    with pytest.raises(ValueError, match="role warehouse"):
        Simulator(Settings(api_keys=f"o:ops:{OPS_KEY},c:client:{CLIENT_KEY}"))
