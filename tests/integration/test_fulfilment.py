"""The fulfilment network (R3, R8, R9): split shipments, carrier exceptions and their remedies."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from config.settings import Settings
from store.models import NotificationOutboxRow, PaymentRow
from tests.conftest import CLIENT, eventually
from tests.integration.helpers import (
    carrier_event,
    confirm_pick,
    flagged,
    get_order,
    new_sku,
    order_body,
    order_once,
    ship_to_carrier,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)


def two_line_body(first: str, second: str) -> dict[str, Any]:
    body = order_body(first)
    body["lines"].append({"sku": second, "quantity": 1, "unit_price": "99.00"})
    return body


async def label_all(api: httpx.AsyncClient, order_id: str, parcels: int) -> list[dict[str, Any]]:
    shipments = []
    for index in range(parcels):
        shipment = await wait_for_shipment(api, order_id, "picking", index)
        await confirm_pick(api, shipment["shipment_id"])
        shipments.append(await wait_for_shipment(api, order_id, "label_created", index))
    return shipments


def outbox(sessions: sessionmaker[Session], order_id: str) -> list[NotificationOutboxRow]:
    with sessions() as session:
        return list(session.scalars(select(NotificationOutboxRow).where(NotificationOutboxRow.order_id == order_id)))


async def test_lines_in_two_warehouses_ship_as_two_parcels(api: httpx.AsyncClient) -> None:
    east_only = await new_sku(api, {"WH-EAST": 5})
    west_only = await new_sku(api, {"WH-WEST": 5})
    order = await submit(api, two_line_body(east_only, west_only))
    first, second = await label_all(api, order["order_id"], 2)
    assert {first["warehouse"], second["warehouse"]} == {"WH-EAST", "WH-WEST"}

    await carrier_event(api, first["carrier"], first["tracking_number"], "in_transit")
    await wait_for_status(api, order["order_id"], "partially_shipped")
    await carrier_event(api, second["carrier"], second["tracking_number"], "in_transit")
    await wait_for_status(api, order["order_id"], "shipped")
    await carrier_event(api, first["carrier"], first["tracking_number"], "delivered")
    await wait_for_status(api, order["order_id"], "partially_delivered")
    await carrier_event(api, second["carrier"], second["tracking_number"], "delivered")
    await wait_for_status(api, order["order_id"], "delivered")


async def test_lost_parcel_is_reshipped_with_stock_reserved_again(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku, quantity=2))
    (lost,) = await label_all(api, order["order_id"], 1)
    await carrier_event(api, lost["carrier"], lost["tracking_number"], "in_transit")
    await carrier_event(api, lost["carrier"], lost["tracking_number"], "exception", "lost")

    replacement = await wait_for_shipment(api, order["order_id"], "picking", 1)
    current = await order_once(api, order["order_id"], lambda o: o["shipments"][0]["outcome"] is not None)
    assert current["shipments"][0]["outcome"] == f"reshipped as {replacement['shipment_id']}"
    assert current["needs_attention"] is False
    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"]) == (3, 2), "the replacement's stock is reserved"

    await confirm_pick(api, replacement["shipment_id"])
    labelled = await wait_for_shipment(api, order["order_id"], "label_created", 1)
    await carrier_event(api, labelled["carrier"], labelled["tracking_number"], "in_transit")
    await carrier_event(api, labelled["carrier"], labelled["tracking_number"], "delivered")
    delivered = await wait_for_status(api, order["order_id"], "delivered")
    assert delivered["payment"]["status"] == "captured"
    assert (await stock_of(api, sku))["on_hand"] == 1


async def test_a_lost_parcel_refuses_other_exceptions(api: httpx.AsyncClient) -> None:
    """Fuzzer finding (OMS_FUZZ_SEED=20261201, order 5): a failed attempt reported for a parcel
    already lost answered 202 and changed nothing (the parcel no longer tracks). Only a repeat of
    its end (exception/lost) is accepted now; any other exception is a 409."""
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    (lost,) = await label_all(api, order["order_id"], 1)
    await carrier_event(api, lost["carrier"], lost["tracking_number"], "in_transit")
    await carrier_event(api, lost["carrier"], lost["tracking_number"], "exception", "lost")
    await order_once(api, order["order_id"], lambda o: o["shipments"][0].get("delivery_issue") == "lost")

    for detail in ("failed_attempt", "delayed", "damaged"):
        late = await carrier_event(api, lost["carrier"], lost["tracking_number"], "exception", detail)
        assert late.status_code == 409, (detail, late.text)
        assert "is lost" in late.json()["detail"]
    again = await carrier_event(api, lost["carrier"], lost["tracking_number"], "exception", "lost")
    assert again.status_code == 202, again.text


async def test_lost_parcel_without_stock_is_refunded(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 1})
    other = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, two_line_body(sku, other))
    (parcel,) = await label_all(api, order["order_id"], 1)
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "exception", "lost")

    async def refunded() -> dict[str, Any] | None:
        current = await get_order(api, order["order_id"])
        return current if current["payment"]["status"] in ("refunded", "partially_refunded") else None

    current = await eventually(refunded)
    # Only SKU `sku` was short; the parcel held both lines, and both are sent again or refunded.
    assert current["shipments"][0]["outcome"].startswith("refunded")
    assert current["totals"]["refunded"] == "198.00"
    assert current["payment"]["status"] == "partially_refunded", "shipping is not refunded for a lost parcel"
    with sessions() as session:
        refunds = session.scalars(
            select(PaymentRow.amount).where(PaymentRow.order_id == order["order_id"], PaymentRow.operation == "refund")
        ).all()
        assert [str(amount) for amount in refunds] == ["198.00"]
    await wait_for_status(api, order["order_id"], "closed")
    await eventually(lambda: "refunded" in [row.kind for row in outbox(sessions, order["order_id"])])


async def test_damaged_parcel_refunded_under_the_refund_policy(
    api: httpx.AsyncClient, settings: Settings, client: Client, sessions: sessionmaker[Session]
) -> None:
    refunding = Settings(task_queue=settings.task_queue, damaged_policy="refund")
    app = create_app(refunding, client=client, sessions=sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://refund.test", timeout=60) as refund_api:
        sku = await new_sku(refund_api, {"WH-EAST": 5})
        order = await submit(refund_api, order_body(sku))
    (parcel,) = await label_all(api, order["order_id"], 1)
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "exception", "damaged")
    closed = await wait_for_status(api, order["order_id"], "closed")
    assert closed["totals"]["refunded"] == "99.00"
    assert len(closed["shipments"]) == 1, "no replacement under the refund policy"


async def test_three_failed_attempts_return_the_parcel_to_sender(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    parcel = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    for attempt in (1, 2):
        await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "out_for_delivery")
        await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "exception", "failed_attempt")

        async def attempted(count: int = attempt) -> dict[str, Any] | None:
            shipment = (await get_order(api, order["order_id"]))["shipments"][0]
            return shipment if shipment["failed_attempts"] == count else None

        shipment = await eventually(attempted)
        assert shipment["status"] == "exception"
        assert (await get_order(api, order["order_id"]))["needs_attention"] is False
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "exception", "failed_attempt")
    await wait_for_shipment(api, order["order_id"], "returned_to_sender")
    current = await eventually(lambda: flagged(api, order["order_id"]))
    assert "3 failed delivery attempts" in current["attention_reason"]



async def test_delay_tells_the_customer_the_new_date(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    parcel = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    from tests.integration.helpers import signed

    body, headers = signed(
        parcel["carrier"],
        {"tracking_number": parcel["tracking_number"], "status": "exception", "detail": "delayed",
         "at": "2026-11-27T08:00:00Z", "promised_by": "2026-12-09"},
    )
    assert (await api.post(f"/webhooks/carriers/{parcel['carrier']}", content=body, headers=headers)).status_code == 202

    async def told() -> NotificationOutboxRow | None:
        return next((row for row in outbox(sessions, order["order_id"]) if row.kind == "delayed"), None)

    message = await eventually(told)
    assert "2026-12-09" in message.body
    current = await get_order(api, order["order_id"])
    assert current["shipments"][0]["promised_by"] == "2026-12-09"
    assert current["shipments"][0]["status"] == "in_transit"


async def test_cancel_after_the_label_puts_the_stock_back(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku, quantity=3))
    await ship_to_carrier(api, order["order_id"])
    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"]) == (1, 0)
    response = await api.post(f"/orders/{order['order_id']}/cancel", headers=CLIENT, json={})
    assert response.status_code == 200
    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"], level["available"]) == (4, 0, 4)


async def test_a_lost_webhook_is_found_by_polling_the_carrier(
    api: httpx.AsyncClient, sessions: sessionmaker[Session], client: Client, temporal_env: WorkflowEnvironment
) -> None:
    from datetime import UTC, datetime, timedelta

    from domain.enums import TrackingStatus
    from domain.models import TrackingEvent
    from store.tracking import record_tracking_event

    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    parcel = await ship_to_carrier(api, order["order_id"])
    # The carrier knows the parcel is in transit, but its webhook never reached us.
    record_tracking_event(
        sessions,
        parcel["carrier"],
        TrackingEvent(tracking_number=parcel["tracking_number"], status=TrackingStatus.IN_TRANSIT, at=datetime.now(UTC)),
    )
    handle = client.get_workflow_handle(f"shipment-{parcel['shipment_id']}")
    forward = asyncio.create_task(temporal_env.fast_forward(handle, timedelta(hours=13)))
    try:
        await wait_for_shipment(api, order["order_id"], "in_transit")
    finally:
        forward.cancel()
    shipped = await wait_for_status(api, order["order_id"], "shipped")
    assert [e["event"] for e in shipped["timeline"]].count("shipment.in_transit") == 1
