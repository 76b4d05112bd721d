"""Parcels the carrier returned to the sender, received back at the warehouse (issue 16).

The warehouse reports what came back and in what condition (POST /warehouse/shipments/{id}/
returned): resellable units go back on hand, damaged ones are written off, each with an audit row
(the inventory's take-back, as for an RMA, keyed to the order and the parcel so that a repeat
moves nothing). The parcel is marked received back and the order records the event. What the
order does about the customer (reship or refund) is not this module's job.
"""

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from domain import events, ids
    from domain.enums import ItemCondition
    from domain.facts import parcel_back_lines, parcel_back_refusal
    from domain.models import ParcelBack, ShipmentView, TakeBack
    from workflows.options import ACTIVITY_TIMEOUT
    from workflows.order.door import Door
    from workflows.order.state import OrderState


class ParcelsBack:
    def __init__(self, state: OrderState, door: Door) -> None:
        self._state = state
        self._door = door

    def parcel(self, shipment_id: str) -> ShipmentView | None:
        return next((p for p in self._state.order.shipments if p.shipment_id == shipment_id), None)

    def refusal(self, back: ParcelBack) -> str | None:
        return parcel_back_refusal(self.parcel(back.shipment_id), back.lines)

    async def receive(self, back: ParcelBack) -> ShipmentView:
        """Put the units back (or write them off), then mark the parcel; a repeat of the same
        receipt finds the parcel marked and changes nothing."""
        parcel = self.parcel(back.shipment_id)
        assert parcel is not None
        if parcel.received_back:
            return parcel
        order_id = self._state.order.order_id
        lines = parcel_back_lines(back.lines)
        await asyncio.gather(
            *(
                workflow.execute_activity_method(
                    InventoryActivities.take_back_stock,
                    TakeBack(
                        rma_id=ids.parcel_back_key(order_id, parcel.shipment_id, line.condition.value),
                        sku=line.sku,
                        warehouse=parcel.warehouse,
                        quantity=line.quantity,
                        resellable=line.condition is ItemCondition.RESELLABLE,
                    ),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    retry_policy=self._state.retry,
                    summary=f"parcel back, {line.condition.value}: {line.sku} x{line.quantity}",
                )
                for line in lines
            )
        )
        if parcel.received_back:  # a concurrent repeat got here first
            return parcel
        self._door.mark_received_back(parcel.shipment_id, lines)
        self._door.record(
            events.PARCEL_RECEIVED_BACK,
            actor=back.actor,
            detail={
                "shipment_id": parcel.shipment_id,
                "lines": [line.model_dump(mode="json") for line in lines],
            },
        )
        return parcel
