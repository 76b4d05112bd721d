"""Cancellation before hand-over at every stage an order waits in, with its compensations checked
in the database: stock released, payment voided or refunded, label voided, each exactly once."""

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from store.models import CarrierLabelRow, PaymentRow, ReservationRow
from tests.conftest import CLIENT
from tests.integration.helpers import (
    carrier_event,
    confirm_pick,
    new_sku,
    order_body,
    ship_to_carrier,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)


def payments_of(sessions: sessionmaker[Session], order_id: str) -> dict[str, str]:
    with sessions() as session:
        rows = session.scalars(select(PaymentRow).where(PaymentRow.order_id == order_id)).all()
        operations = [row.operation for row in rows]
        assert len(operations) == len(set(operations)), f"an operation ran twice: {operations}"
        return {row.operation: row.status for row in rows}


def reservations_of(sessions: sessionmaker[Session], order_id: str) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(ReservationRow.status).where(ReservationRow.order_id == order_id)).all())


async def cancel(api: httpx.AsyncClient, order_id: str, reason: str = "changed my mind") -> httpx.Response:
    return await api.post(f"/orders/{order_id}/cancel", headers=CLIENT, json={"reason": reason})


async def test_cancel_while_waiting_for_the_pick_refunds_and_releases(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 10})
    order = await submit(api, order_body(sku, quantity=3))
    await wait_for_shipment(api, order["order_id"], "picking")
    assert (await stock_of(api, sku))["reserved"] == 3

    response = await cancel(api, order["order_id"])
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["payment"]["status"] == "refunded"
    assert cancelled["totals"]["refunded"] == cancelled["totals"]["grand_total"]
    assert cancelled["shipments"][0]["status"] == "cancelled"

    level = await stock_of(api, sku)
    assert (level["on_hand"], level["reserved"]) == (10, 0)
    assert reservations_of(sessions, order["order_id"]) == ["released"]
    assert payments_of(sessions, order["order_id"]) == {
        "authorize": "authorized", "capture": "captured", "refund": "refunded"
    }
    event = next(e for e in cancelled["timeline"] if e["event"] == "order.cancelled")
    assert event["actor"] == "dev-client"
    assert event["detail"]["reason"] == "changed my mind"

    # Cancelling again is harmless: same answer, no second refund.
    again = await cancel(api, order["order_id"])
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert payments_of(sessions, order["order_id"])["refund"] == "refunded"


async def test_cancel_after_the_label_voids_it(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])

    response = await cancel(api, order["order_id"])
    assert response.status_code == 200, response.text
    with sessions() as session:
        label = session.scalars(
            select(CarrierLabelRow).where(CarrierLabelRow.shipment_id == shipment["shipment_id"])
        ).one()
        assert label.status == "cancelled"
    assert (await stock_of(api, sku))["reserved"] == 0
    assert payments_of(sessions, order["order_id"])["refund"] == "refunded"
    # The carrier no longer moves a cancelled parcel.
    await carrier_event(api, "economy", shipment["tracking_number"], "in_transit")
    assert (await stock_of(api, sku))["on_hand"] == 4


async def test_cancel_after_hand_over_is_refused(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, "economy", shipment["tracking_number"], "in_transit")
    await wait_for_status(api, order["order_id"], "shipped")

    response = await cancel(api, order["order_id"])
    assert response.status_code == 409
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "return" in problem["detail"]
    assert payments_of(sessions, order["order_id"]) == {"authorize": "authorized", "capture": "captured"}


async def test_cancel_while_the_label_is_refused(api: httpx.AsyncClient, sessions: sessionmaker[Session]) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    body = order_body(sku)
    body["shipping_address"]["postal_code"] = "000000"
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "exception")

    response = await cancel(api, order["order_id"])
    assert response.status_code == 200, response.text
    assert response.json()["needs_attention"] is False
    assert (await stock_of(api, sku))["reserved"] == 0


async def test_cancelling_the_workflow_itself_runs_the_same_compensations(
    api: httpx.AsyncClient, sessions: sessionmaker[Session], client: Client
) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku, quantity=2))
    await wait_for_shipment(api, order["order_id"], "picking")

    await client.get_workflow_handle(f"order-{order['order_id']}").cancel()
    cancelled = await wait_for_status(api, order["order_id"], "cancelled")
    assert cancelled["payment"]["status"] == "refunded"
    assert (await stock_of(api, sku))["reserved"] == 0
    assert payments_of(sessions, order["order_id"])["refund"] == "refunded"


async def test_declined_payment_releases_stock_and_cancels(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku, quantity=2, payment={"method": "card", "token": "tok_decline"}))
    cancelled = await wait_for_status(api, order["order_id"], "cancelled")
    assert cancelled["payment"]["status"] == "declined"
    assert cancelled["cancellation_reason"] == "payment declined"
    assert (await stock_of(api, sku))["reserved"] == 0
    assert reservations_of(sessions, order["order_id"]) == ["released"]
    assert "capture" not in payments_of(sessions, order["order_id"])
    assert cancelled["shipments"] == []


async def test_flaky_payment_is_retried_and_charged_once(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 4})
    order = await submit(api, order_body(sku, payment={"method": "card", "token": "tok_flaky"}))
    await wait_for_shipment(api, order["order_id"], "picking")
    assert payments_of(sessions, order["order_id"]) == {"authorize": "authorized", "capture": "captured"}
