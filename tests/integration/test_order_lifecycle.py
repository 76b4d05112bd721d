"""One order's whole life on the real stack: submit, pick, label, track, deliver, close."""

from datetime import timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from store.models import CarrierLabelRow, NotificationOutboxRow, PaymentRow
from tests.conftest import CLIENT, eventually
from tests.integration.helpers import (
    carrier_event,
    flagged,
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    signed,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)


async def test_order_goes_from_submission_to_closed(
    api: httpx.AsyncClient, sessions: sessionmaker[Session], client: Client, temporal_env: WorkflowEnvironment
) -> None:
    sku = await new_sku(api, {"WH-EAST": 10})
    order = await submit(api, order_body(sku, quantity=2))
    order_id = order["order_id"]

    # The answer is the verified outcome, in one round trip.
    assert order["status"] == "allocating"
    assert order["totals"] == {
        "items": "198.00", "discounts": "0.00", "shipping": "12.00", "refunded": "0.00", "grand_total": "210.00"
    }
    assert order["workflow_id"] == f"order-{order_id}"

    shipment = await ship_to_carrier(api, order_id)
    assert shipment["carrier"] == "economy", "a standard order takes the cheapest carrier keeping the promise"
    assert shipment["tracking_number"].startswith("EC")
    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"]) == (8, 0), "stock moves from reserved to shipped at the label"

    for status in ("in_transit", "out_for_delivery"):
        response = await carrier_event(api, "economy", shipment["tracking_number"], status)
        assert response.status_code == 202, response.text
    await wait_for_status(api, order_id, "shipped")

    await carrier_event(api, "economy", shipment["tracking_number"], "delivered")
    delivered = await wait_for_status(api, order_id, "delivered")
    assert delivered["payment"]["status"] == "captured"

    # The return window passes in virtual time.
    handle = client.get_workflow_handle(f"order-{order_id}")
    await temporal_env.fast_forward(handle, timedelta(days=31))
    closed = await wait_for_status(api, order_id, "closed")

    events = [entry["event"] for entry in closed["timeline"]]
    for expected in ("order.received", "order.verifying", "order.accepted", "stock.reserved",
                     "payment.captured", "fulfilment.started", "shipment.label_created",
                     "shipment.delivered", "order.closed"):
        assert expected in events
    # The parcel told the order only of its label and its hand-over (and ended delivered); its
    # other steps come into the order's timeline from the parcel's own log, at their own time.
    parcel_steps = [e["event"] for e in closed["timeline"] if e["event"].startswith("shipment.")]
    assert parcel_steps == ["shipment.picking", "shipment.packed", "shipment.label_created",
                            "shipment.in_transit", "shipment.out_for_delivery", "shipment.delivered"]
    history = await handle.fetch_history()
    told = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED]
    assert len(told) == 2, "label bought, handed over"
    statuses = [entry["status"] for entry in closed["timeline"]]
    assert statuses.index("verifying") < statuses.index("payment_pending") < statuses.index("shipped")

    with sessions() as session:
        operations = session.scalars(select(PaymentRow.operation).where(PaymentRow.order_id == order_id)).all()
        assert sorted(operations) == ["authorize", "capture"], "exactly one authorization and one capture"
        kinds = set(session.scalars(
            select(NotificationOutboxRow.kind).where(NotificationOutboxRow.order_id == order_id)
        ).all())
        assert {"accepted", "shipped", "delivered"} <= kinds

    # Ops find it in Temporal's visibility by our search attributes.
    async def listed() -> bool:
        customer = order["customer"]["id"]
        query = f"OrderStatus = 'closed' AND CustomerId = '{customer}' AND WorkflowId = 'order-{order_id}'"
        return [wf.id async for wf in client.list_workflows(query)] == [f"order-{order_id}"]

    await eventually(listed)


async def test_express_order_goes_with_the_fast_carrier(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku, shipping_speed="express"))
    shipment = await ship_to_carrier(api, order["order_id"])
    assert shipment["carrier"] == "swift"
    assert shipment["service"] == "express"
    assert [q["carrier"] for q in shipment["quotes"]], "the quotes are recorded with the decision"


async def test_tracking_webhooks_are_signed_and_replays_change_nothing(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])
    tracking = shipment["tracking_number"]

    body, headers = signed(
        "economy", {"tracking_number": tracking, "status": "in_transit", "at": "2026-11-26T00:00:00Z"},
        secret="wrong-secret",
    )
    response = await api.post("/webhooks/carriers/economy", content=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    unsigned = await api.post("/webhooks/carriers/economy", content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    unknown = await carrier_event(api, "economy", "EC0000000000", "in_transit")
    assert unknown.status_code == 404
    assert (await get_order(api, order["order_id"]))["shipments"][0]["status"] == "label_created"

    scanned, scan_headers = signed(
        "economy", {"tracking_number": tracking, "status": "in_transit", "at": "2026-11-26T00:00:00Z"}
    )
    assert (await api.post("/webhooks/carriers/economy", content=scanned, headers=scan_headers)).status_code == 202
    await wait_for_shipment(api, order["order_id"], "in_transit")
    timeline_before = (await api.get(f"/orders/{order['order_id']}/timeline", headers=CLIENT)).json()
    assert (await carrier_event(api, "economy", tracking, "in_transit")).status_code == 202
    await carrier_event(api, "economy", tracking, "delivered")
    delivered = await wait_for_status(api, order["order_id"], "delivered")
    # The carrier replays its first scan: it repeats what the parcel knows (202, nothing changes);
    # a new in_transit report for a delivered parcel cannot apply (409, domain/facts.py).
    replay = await api.post("/webhooks/carriers/economy", content=scanned, headers=scan_headers)
    assert replay.status_code == 202
    assert (await carrier_event(api, "economy", tracking, "in_transit")).status_code == 409
    after = await get_order(api, order["order_id"])
    assert after["shipments"][0]["status"] == "delivered"
    in_transit_events = [e for e in after["timeline"] if e["event"] == "shipment.in_transit"]
    assert len(in_transit_events) == 1, "a replayed webhook adds nothing"
    assert len(timeline_before) < len(delivered["timeline"])
    level = await stock_of(api, sku)
    assert level["on_hand"] == 4, "stock shipped once despite the replays"


async def test_label_for_undeliverable_postal_code_needs_attention(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    body["shipping_address"]["postal_code"] = "000000"
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    from tests.integration.helpers import confirm_pick

    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "exception")
    stuck = await eventually(lambda: flagged(api, order["order_id"]))
    assert "undeliverable" in stuck["attention_reason"].lower() or "000000" in stuck["attention_reason"]
    with sessions() as session:
        labels = session.scalars(select(CarrierLabelRow).where(CarrierLabelRow.shipment_id == shipment["shipment_id"])).all()
        assert labels == []


async def test_parcel_returned_to_sender_keeps_the_order_open_and_flagged(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, "economy", shipment["tracking_number"], "in_transit")
    await carrier_event(api, "economy", shipment["tracking_number"], "returned_to_sender", "refused by recipient")
    await wait_for_shipment(api, order["order_id"], "returned_to_sender")

    current = await eventually(lambda: flagged(api, order["order_id"]))
    assert current["status"] == "shipped"
    assert "refused by recipient" in current["attention_reason"]
    listed = await api.get("/orders?needs_attention=true&limit=200", headers=CLIENT)
    assert order["order_id"] in [item["order_id"] for item in listed.json()["items"]]
