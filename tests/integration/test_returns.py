"""Returns, exchanges and refunds (R10): restock, write-off, refund per line, never more than paid."""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from store.models import NotificationOutboxRow, PaymentRow, StockAdjustmentRow
from tests.conftest import CLIENT, OPS, WAREHOUSE, eventually
from tests.integration.helpers import (
    carrier_event,
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


async def delivered_order(api: httpx.AsyncClient, sku: str, quantity: int = 2, **overrides: Any) -> dict[str, Any]:
    order = await submit(api, order_body(sku, quantity=quantity, **overrides))
    parcel = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "in_transit")
    await carrier_event(api, parcel["carrier"], parcel["tracking_number"], "delivered")
    return await wait_for_status(api, order["order_id"], "delivered")


async def open_return(api: httpx.AsyncClient, order_id: str, **body: Any) -> httpx.Response:
    return await api.post(f"/orders/{order_id}/returns", headers=CLIENT, json=body)


async def wait_for_return(api: httpx.AsyncClient, order_id: str, rma_id: str, status: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        order = await get_order(api, order_id)
        found = next((r for r in order["returns"] if r["rma_id"] == rma_id), None)
        return found if found and found["status"] == status else None

    # 90 s, not the default 30: a return's refund follows its receipt through two workflows and the
    # payment adapter, and on a loaded 2-core CI machine that once took longer than 30 s.
    return await eventually(check, timeout=90)


async def receive(api: httpx.AsyncClient, rma_id: str, sku: str, quantity: int, condition: str) -> None:
    response = await api.post(
        f"/returns/{rma_id}/received",
        headers=WAREHOUSE,
        json={"lines": [{"sku": sku, "quantity": quantity, "condition": condition}]},
    )
    assert response.status_code == 202, response.text


def refunds(sessions: sessionmaker[Session], order_id: str) -> list[str]:
    """The order's refunds in the ledger, in the order they were made (without ORDER BY,
    PostgreSQL may return rows in any order: a full `make test` saw them swapped)."""
    with sessions() as session:
        return [
            str(amount)
            for amount in session.scalars(
                select(PaymentRow.amount)
                .where(PaymentRow.order_id == order_id, PaymentRow.operation == "refund")
                .order_by(PaymentRow.id)
            )
        ]


async def test_resellable_return_is_refunded_and_restocked(
    api: httpx.AsyncClient, sessions: sessionmaker[Session], client: Client, temporal_env: WorkflowEnvironment
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await delivered_order(api, sku)
    assert (await stock_of(api, sku))["on_hand"] == 3

    response = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="no_longer_needed")
    assert response.status_code == 201, response.text
    rma = response.json()["rma_id"]
    assert rma == f"{order['order_id']}-R1"
    await wait_for_status(api, order["order_id"], "returning")
    returned = await wait_for_return(api, order["order_id"], rma, "in_transit")
    assert returned["tracking_number"], "a return label was bought"

    await receive(api, rma, sku, 1, "resellable")
    done = await wait_for_return(api, order["order_id"], rma, "refunded")
    assert done["refund_amount"] == "99.00", "the customer's own reason: no shipping refund"
    settled = await wait_for_status(api, order["order_id"], "delivered")
    assert settled["payment"]["status"] == "partially_refunded"
    assert settled["totals"]["refunded"] == "99.00"
    assert (await stock_of(api, sku))["on_hand"] == 4, "the resellable unit is back in stock"
    assert refunds(sessions, order["order_id"]) == ["99.00"]

    # The order still closes when the window is over and nothing is open.
    handle = client.get_workflow_handle(order["workflow_id"])
    forward = asyncio.create_task(temporal_env.fast_forward(handle, timedelta(days=31)))
    try:
        await wait_for_status(api, order["order_id"], "closed")
    finally:
        forward.cancel()


async def test_damaged_unit_is_written_off_and_shipping_refunded(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await delivered_order(api, sku)
    response = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="damaged")
    rma = response.json()["rma_id"]
    await wait_for_return(api, order["order_id"], rma, "in_transit")
    await receive(api, rma, sku, 1, "damaged")
    done = await wait_for_return(api, order["order_id"], rma, "refunded")
    assert done["refund_amount"] == "111.00", "our fault: the unit and the 12.00 shipping"
    assert (await stock_of(api, sku))["on_hand"] == 3, "a damaged unit does not go back on sale"
    with sessions() as session:
        reasons = session.scalars(
            select(StockAdjustmentRow.reason).where(StockAdjustmentRow.sku == sku)
        ).all()
        assert "return_write_off" in reasons


async def test_exchange_ships_a_replacement(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await delivered_order(api, sku, quantity=1)
    response = await open_return(
        api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="wrong_item", resolution="exchange"
    )
    rma = response.json()["rma_id"]
    await wait_for_return(api, order["order_id"], rma, "in_transit")
    await receive(api, rma, sku, 1, "resellable")
    replacement = await wait_for_shipment(api, order["order_id"], "picking", 1)
    current = await order_once(api, order["order_id"], lambda o: o["returns"][0]["exchange_shipment_id"] is not None)
    assert current["returns"][0]["exchange_shipment_id"] == replacement["shipment_id"]
    assert current["status"] == "returning", "open while the replacement is on its way"
    assert refunds(sessions, order["order_id"]) == [], "an exchange refunds nothing"
    labelled = await ship_to_carrier_index(api, order["order_id"], replacement["shipment_id"])
    await carrier_event(api, labelled["carrier"], labelled["tracking_number"], "in_transit")
    await carrier_event(api, labelled["carrier"], labelled["tracking_number"], "delivered")
    await wait_for_status(api, order["order_id"], "delivered")


async def ship_to_carrier_index(api: httpx.AsyncClient, order_id: str, shipment_id: str) -> dict[str, Any]:
    from tests.integration.helpers import confirm_pick

    await confirm_pick(api, shipment_id)
    return await wait_for_shipment(api, order_id, "label_created", 1)


async def test_refunds_never_exceed_what_was_paid(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await delivered_order(api, sku, quantity=2)
    first = (await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="damaged")).json()
    second = (await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="not_as_described")).json()
    third = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="damaged")
    assert third.status_code == 409, "both units are already in returns"
    for rma in (first["rma_id"], second["rma_id"]):
        await wait_for_return(api, order["order_id"], rma, "in_transit")
        await receive(api, rma, sku, 1, "damaged")
        await wait_for_return(api, order["order_id"], rma, "refunded")
    settled = await wait_for_status(api, order["order_id"], "delivered")
    assert settled["totals"]["refunded"] == settled["totals"]["grand_total"] == "210.00"
    assert settled["payment"]["status"] == "refunded"
    assert sorted(refunds(sessions, order["order_id"])) == ["111.00", "99.00"], "shipping refunded once"


async def test_returns_outside_the_window_or_before_delivery_are_refused(
    api: httpx.AsyncClient, client: Client, temporal_env: WorkflowEnvironment
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    undelivered = await submit(api, order_body(sku))
    await wait_for_shipment(api, undelivered["order_id"], "picking")
    early = await open_return(api, undelivered["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="other")
    assert early.status_code == 409
    assert early.headers["content-type"].startswith("application/problem+json")

    order = await delivered_order(api, sku, quantity=1)
    wrong = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 2}], reason="other")
    assert wrong.status_code == 409, "more units than were delivered"
    await temporal_env.fast_forward(client.get_workflow_handle(order["workflow_id"]), timedelta(days=31))
    await wait_for_status(api, order["order_id"], "closed")
    late = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="damaged")
    assert late.status_code == 409
    bad = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 0}], reason="bored")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"lines[0].quantity", "reason"}


async def test_a_costly_return_waits_for_ops_approval(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="2500.00")
    order = await delivered_order(api, sku, quantity=1, price="2500.00")
    response = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="no_longer_needed")
    rma = response.json()["rma_id"]
    assert response.json()["awaiting_approval"] is True
    current = await eventually(lambda: flagged(api, order["order_id"]))
    assert "approve" in current["available_actions"]
    approved = await api.post(
        f"/ops/orders/{order['order_id']}/actions", headers=OPS, json={"action": "approve", "params": {"rma_id": rma}}
    )
    assert approved.status_code == 200, approved.text
    await wait_for_return(api, order["order_id"], rma, "in_transit")

    def told() -> bool:
        with sessions() as session:
            keys = session.scalars(
                select(NotificationOutboxRow.dedupe_key).where(NotificationOutboxRow.order_id == order["order_id"])
            ).all()
        return f"notify:{order['order_id']}:return_approved:{rma}" in keys

    await eventually(told)



async def test_a_receipt_sent_right_after_opening_the_return_is_kept_and_refunded(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    # The warehouse may scan the parcel before the return label is recorded: the receipt is kept
    # and applied once the label is, instead of a 202 that changes nothing.
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await delivered_order(api, sku)
    response = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="no_longer_needed")
    assert response.status_code == 201, response.text
    rma = response.json()["rma_id"]
    await receive(api, rma, sku, 1, "resellable")

    done = await wait_for_return(api, order["order_id"], rma, "refunded")
    assert done["refund_amount"] == "99.00"
    assert refunds(sessions, order["order_id"]) == ["99.00"]
    assert (await stock_of(api, sku))["on_hand"] == 4

    # Received once, the return takes no second receipt: 409, not a 202 that changes nothing.
    again = await api.post(
        f"/returns/{rma}/received",
        headers=WAREHOUSE,
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
    )
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith("application/problem+json")
    assert refunds(sessions, order["order_id"]) == ["99.00"]


async def test_a_rejected_return_refuses_a_receipt(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 5}, price="2500.00")
    order = await delivered_order(api, sku, quantity=1, price="2500.00")
    response = await open_return(api, order["order_id"], lines=[{"sku": sku, "quantity": 1}], reason="no_longer_needed")
    rma = response.json()["rma_id"]
    await eventually(lambda: flagged(api, order["order_id"]))
    rejected = await api.post(
        f"/ops/orders/{order['order_id']}/actions", headers=OPS, json={"action": "reject", "params": {"rma_id": rma}}
    )
    assert rejected.status_code == 200, rejected.text
    await wait_for_return(api, order["order_id"], rma, "rejected")

    late = await api.post(
        f"/returns/{rma}/received",
        headers=WAREHOUSE,
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
    )
    assert late.status_code == 409, late.text
    assert "rejected" in late.json()["detail"]
    assert refunds(sessions, order["order_id"]) == []
