"""Facts from outside that can no longer apply are a 409, never a 202 that changes nothing
(domain/facts.py); repeats of what a parcel knows stay an idempotent 202 (issue 16)."""

from datetime import date, timedelta
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from activities.carriers import CarrierActivities
from adapters.carriers.builtin import BuiltinCarriers
from domain import ids
from domain.enums import ShippingSpeed
from domain.models import Address, LabelRequest, RateQuote
from store.models import StockAdjustmentRow
from tests.conftest import CLIENT, WAREHOUSE, eventually
from tests.integration.helpers import (
    carrier_event,
    confirm_pick,
    flagged,
    get_order,
    new_sku,
    order_body,
    ship_to_carrier,
    stock_of,
    submit,
    wait_for_shipment,
    wait_for_status,
)


async def pick(api: httpx.AsyncClient, shipment_id: str) -> httpx.Response:
    return await api.post(f"/warehouse/shipments/{shipment_id}/picked", headers=WAREHOUSE, json={"picker": "li"})


async def test_a_second_pick_of_a_picked_parcel_is_409(api: httpx.AsyncClient) -> None:
    order = await submit(api, order_body(await new_sku(api, {"WH-EAST": 5})))
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    await confirm_pick(api, shipment["shipment_id"])
    await wait_for_shipment(api, order["order_id"], "label_created")

    again = await pick(api, shipment["shipment_id"])
    assert again.status_code == 409, again.text
    assert "already picked" in again.json()["detail"]


async def test_a_pick_or_tracking_for_a_cancelled_parcel_is_409(api: httpx.AsyncClient) -> None:
    order = await submit(api, order_body(await new_sku(api, {"WH-EAST": 5})))
    shipment = await ship_to_carrier(api, order["order_id"])
    cancelled = await api.post(f"/orders/{order['order_id']}/cancel", headers=CLIENT, json={"reason": "changed my mind"})
    assert cancelled.status_code == 200, cancelled.text
    await wait_for_shipment(api, order["order_id"], "cancelled")

    late_scan = await carrier_event(api, shipment["carrier"], shipment["tracking_number"], "in_transit")
    assert late_scan.status_code == 409, late_scan.text
    assert "cancelled" in late_scan.json()["detail"]
    late_pick = await pick(api, shipment["shipment_id"])
    assert late_pick.status_code == 409, late_pick.text


async def test_a_delivered_parcel_takes_a_repeat_but_never_moves_back(api: httpx.AsyncClient) -> None:
    order = await submit(api, order_body(await new_sku(api, {"WH-EAST": 5})))
    shipment = await ship_to_carrier(api, order["order_id"])
    carrier, number = shipment["carrier"], shipment["tracking_number"]
    assert (await carrier_event(api, carrier, number, "in_transit")).status_code == 202
    assert (await carrier_event(api, carrier, number, "delivered")).status_code == 202
    await wait_for_status(api, order["order_id"], "delivered")
    await wait_for_shipment(api, order["order_id"], "delivered")

    repeat = await carrier_event(api, carrier, number, "delivered")
    assert repeat.status_code == 202, repeat.text
    backwards = await carrier_event(api, carrier, number, "in_transit")
    assert backwards.status_code == 409, backwards.text
    assert "delivered" in backwards.json()["detail"]


async def test_a_tracking_event_before_the_parcels_row_is_kept_and_applied(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    """The label exists, the parcel's row does not say so yet: the carrier's first scan is kept
    and applied once the parcel is labelled. Made deterministic by buying the parcel's label
    (under the key the parcel itself will use) while the parcel still waits for its pick."""
    order = await submit(api, order_body(await new_sku(api, {"WH-EAST": 5})))
    shipment = await wait_for_shipment(api, order["order_id"], "picking")
    known = await get_order(api, order["order_id"])
    label = CarrierActivities(BuiltinCarriers(sessions), sessions).buy_label(
        LabelRequest(
            shipment_id=shipment["shipment_id"],
            idempotency_key=ids.label_key(shipment["shipment_id"]),
            quote=RateQuote(
                carrier="economy", service=ShippingSpeed.STANDARD, price=Decimal("4.90"), transit_days=3,
                promised_by=date.today() + timedelta(days=3),
            ),
            origin_region=shipment["warehouse"],
            destination=Address.model_validate(known["shipping_address"]),
            weight_grams=500,
        )
    )

    early = await carrier_event(api, label.carrier, label.tracking_number, "in_transit")
    assert early.status_code == 202, early.text
    await confirm_pick(api, shipment["shipment_id"])
    moved = await wait_for_shipment(api, order["order_id"], "in_transit")
    assert moved["tracking_number"] == label.tracking_number

    unknown = await carrier_event(api, "economy", "EC-NO-SUCH-NUMBER", "in_transit")
    assert unknown.status_code == 404, unknown.text


async def test_a_parcel_returned_to_sender_comes_back_on_hand_once(
    api: httpx.AsyncClient, sessions: sessionmaker[Session]
) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku, quantity=2))
    shipment = await ship_to_carrier(api, order["order_id"])
    carrier, number = shipment["carrier"], shipment["tracking_number"]
    await carrier_event(api, carrier, number, "in_transit")
    await carrier_event(api, carrier, number, "returned_to_sender", "refused by recipient")
    await wait_for_shipment(api, order["order_id"], "returned_to_sender")
    await eventually(lambda: flagged(api, order["order_id"]))  # the order has taken the news in
    before = (await stock_of(api, sku))["on_hand"]

    receipt = {"lines": [{"sku": sku, "quantity": 2, "condition": "resellable"}]}
    url = f"/warehouse/shipments/{shipment['shipment_id']}/returned"
    first = await api.post(url, headers=WAREHOUSE, json=receipt)
    assert first.status_code == 202, first.text
    assert (await stock_of(api, sku))["on_hand"] == before + 2
    with sessions() as session:
        audit = session.scalars(
            select(StockAdjustmentRow).where(StockAdjustmentRow.sku == sku, StockAdjustmentRow.reason == "return_restock")
        ).all()
    assert [(row.delta_on_hand, row.detail["rma_id"]) for row in audit] == [
        (2, f"parcel-back:{order['order_id']}:{shipment['shipment_id']}:resellable")
    ]

    repeat = await api.post(url, headers=WAREHOUSE, json=receipt)
    assert repeat.status_code == 202, repeat.text
    assert (await stock_of(api, sku))["on_hand"] == before + 2
    other = await api.post(url, headers=WAREHOUSE, json={"lines": [{"sku": sku, "quantity": 2, "condition": "damaged"}]})
    assert other.status_code == 409, other.text
    shown = await get_order(api, order["order_id"])
    assert shown["shipments"][0]["received_back"] == receipt["lines"]
    assert "parcel.received_back" in [entry["event"] for entry in shown["timeline"]]


async def test_a_delivered_parcel_cannot_be_received_back(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    order = await submit(api, order_body(sku))
    shipment = await ship_to_carrier(api, order["order_id"])
    await carrier_event(api, shipment["carrier"], shipment["tracking_number"], "delivered")
    await wait_for_status(api, order["order_id"], "delivered")

    response = await api.post(
        f"/warehouse/shipments/{shipment['shipment_id']}/returned",
        headers=WAREHOUSE,
        json={"lines": [{"sku": sku, "quantity": 1, "condition": "resellable"}]},
    )
    assert response.status_code == 409, response.text
    assert "not returned_to_sender" in response.json()["detail"]
