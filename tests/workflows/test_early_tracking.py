"""Carrier events kept before the parcel is labelled apply in the order the carrier saw them
(issue 16, patch shipment-tracking-in-event-order-20261201)."""

from datetime import UTC, datetime, timedelta

from domain import ids
from domain.enums import ShipmentStatus, TrackingStatus
from domain.models import PickConfirmation, TrackingEvent
from tests.workflows.driver import Orders, order_request
from workflows.shipment import ShipmentWorkflow


async def test_early_events_arriving_out_of_order_apply_in_the_carriers_order(orders: Orders) -> None:
    orders.stubs.add_item("LAMP", WH_EAST=3)
    order = await orders.submit(order_request(("LAMP", 1, "99.00")))
    parcel = ids.shipment_id(order.order_id, 1)
    await orders.wait_parcel(parcel, ShipmentStatus.PICKING)
    scanned = datetime.now(UTC)
    handle = orders.parcel(parcel)
    # The later event reaches us first, both before the label's row: both are kept.
    for status, at in ((TrackingStatus.OUT_FOR_DELIVERY, scanned + timedelta(hours=5)), (TrackingStatus.IN_TRANSIT, scanned)):
        await handle.signal(ShipmentWorkflow.tracking_event, TrackingEvent(tracking_number="early", status=status, at=at))
    await handle.signal(ShipmentWorkflow.pick_confirmed, PickConfirmation(picker="picker-7"))

    await orders.wait_parcel(parcel, ShipmentStatus.OUT_FOR_DELIVERY)
    view = await orders.parcel_state(parcel)
    assert view.handed_over_at == scanned, "the in_transit scan was applied, not swallowed"
    await orders.sent(order.order_id, "shipped")
