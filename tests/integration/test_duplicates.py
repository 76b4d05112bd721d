"""Issue 6.4, the fast half: duplicates end as one. Twenty identical submissions at once make one
workflow and one answer; a carrier webhook delivered twice, byte for byte, changes nothing the
second time."""

import asyncio
import secrets
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from store.models import (
    CarrierTrackingEventRow,
    NotificationOutboxRow,
    OrderEventRow,
    PaymentRow,
    ReservationRow,
)
from tests.conftest import CLIENT, eventually
from tests.integration.helpers import (
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    signed,
    stock_of,
    wait_for_shipment,
    wait_for_status,
)

DUPLICATES = 20


def _count(sessions: sessionmaker[Session], model: Any, *where: Any) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_twenty_concurrent_duplicates_make_one_workflow_and_one_answer(
    api: httpx.AsyncClient, client: Client, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    order_id = body["order_id"]
    responses = await asyncio.gather(
        *(api.post("/orders", headers=CLIENT, json=body) for _ in range(DUPLICATES))
    )
    assert sorted(r.status_code for r in responses) == [200] * (DUPLICATES - 1) + [201]
    assert len({r.text for r in responses}) == 1, "every duplicate gets the first answer, byte for byte"

    await wait_for_status(api, order_id, "fulfilling")

    # One workflow run (visibility may lag, hence eventually); the rows below are the harder proof:
    # only one run could have reserved, authorized and recorded the order's first event.
    async def one_run() -> bool:
        return (await client.count_workflows(f"WorkflowId = 'order-{order_id}'")).count == 1

    await eventually(one_run)
    assert _count(sessions, ReservationRow, ReservationRow.order_id == order_id) == 1
    assert (
        _count(sessions, PaymentRow, PaymentRow.order_id == order_id, PaymentRow.operation == "authorize")
        == 1
    )
    received = _count(
        sessions, OrderEventRow, OrderEventRow.order_id == order_id, OrderEventRow.event == "order.received"
    )
    assert received == 1
    assert (await stock_of(api, sku))["reserved"] == 1


async def test_twenty_concurrent_submissions_under_one_idempotency_key_make_one_order(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    body = order_body(sku)
    del body["order_id"]  # the server names the order; the key alone must make the repeats one
    headers = {**CLIENT, "Idempotency-Key": secrets.token_hex(8)}
    responses = await asyncio.gather(
        *(api.post("/orders", headers=headers, json=body) for _ in range(DUPLICATES))
    )
    assert sorted(r.status_code for r in responses) == [200] * (DUPLICATES - 1) + [201]
    assert len({r.json()["order_id"] for r in responses}) == 1
    await wait_for_status(api, responses[0].json()["order_id"], "fulfilling")
    assert (await stock_of(api, sku))["reserved"] == 1


async def test_a_carrier_webhook_delivered_twice_changes_nothing_the_second_time(
    api: httpx.AsyncClient, client: Client, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await api.post("/orders", headers=CLIENT, json=order_body(sku))
    order_id = order.json()["order_id"]
    shipment = await ship_to_carrier(api, order_id)
    tracking = shipment["tracking_number"]

    def event(status: str, at: str) -> tuple[bytes, dict[str, str]]:
        return signed("economy", {"tracking_number": tracking, "status": status, "detail": None, "at": at})

    def snapshot() -> tuple[int, int, int]:
        return (
            _count(sessions, CarrierTrackingEventRow, CarrierTrackingEventRow.tracking_number == tracking),
            _count(sessions, OrderEventRow, OrderEventRow.order_id == order_id),
            _count(sessions, NotificationOutboxRow, NotificationOutboxRow.order_id == order_id),
        )

    async def post(body: bytes, headers: dict[str, str]) -> None:
        response = await api.post("/webhooks/carriers/economy", content=body, headers=headers)
        assert response.status_code == 202, response.text

    # While the parcel is moving: the same in_transit report twice.
    in_transit = event("in_transit", "2026-11-26T08:00:00Z")
    await post(*in_transit)
    await wait_for_shipment(api, order_id, "in_transit")
    before = snapshot()
    await post(*in_transit)
    # Signals are handled in order: once the next report shows, the replay has been handled.
    await post(*event("out_for_delivery", "2026-11-26T09:00:00Z"))
    await wait_for_shipment(api, order_id, "out_for_delivery")
    timeline = (await get_order(api, order_id))["timeline"]
    assert [e["event"] for e in timeline].count("shipment.in_transit") == 1, "the replay added no event"
    assert snapshot()[0] == before[0] + 1, "only the out_for_delivery report was stored"

    # After delivery: the same delivered report twice.
    delivered = event("delivered", "2026-11-26T10:00:00Z")
    await post(*delivered)
    await wait_for_status(api, order_id, "delivered")

    async def settled() -> dict[str, Any] | None:
        current = await get_order(api, order_id)
        kinds = [e["event"] for e in current["timeline"]]
        return current if "shipment.delivered" in kinds else None

    first = await eventually(settled)
    # The parcel's workflow has ended, so nothing can still be acting on the replay after it is answered.
    await client.get_workflow_handle(f"shipment-{shipment['shipment_id']}").result()
    after_first = snapshot()
    await post(*delivered)
    second = await get_order(api, order_id)
    assert snapshot() == after_first, "no tracking row, order event or notification added"
    assert second["timeline"] == first["timeline"]
    assert second["shipments"] == first["shipments"]
    assert second["payment"] == first["payment"] and second["totals"] == first["totals"]
    assert (await stock_of(api, sku))["on_hand"] == 4, "stock shipped once"
