"""Resolving what went wrong by hand: the ops actions `refund` and `reship` (API.md "Resolving
what goes wrong").

Both run in the ops_action update, beside the run loop: the validator (domain/resolution.py)
has already said that the action applies. A reship replaces an undeliverable parcel (returned to
the sender, lost, damaged) with a new one, stock reserved under a reservation key of its own; a
refund pays back an amount or lines, optionally resolving such a parcel. The run loop waits for
`state.resolving` to be 0 before it closes the order, so an action half done never races the close.
"""

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from domain import events, ids
    from domain.models import OpsAction
    from domain.news import status_after_parcel_news
    from domain.refunds import priced
    from domain.resolution import refund_request, reship_request
    from workflows.order.door import Door
    from workflows.order.fulfilment import Fulfilment
    from workflows.order.ops import Ops
    from workflows.order.payment import Payment
    from workflows.order.state import OrderState
    from workflows.order.stock import Stock


class Resolution:
    def __init__(
        self, state: OrderState, door: Door, ops: Ops, stock: Stock, payment: Payment, fulfilment: Fulfilment
    ) -> None:
        self._state = state
        self._door = door
        self._ops = ops
        self._stock = stock
        self._payment = payment
        self._fulfilment = fulfilment
        self._refunds = 0  # ops refunds so far: each one's idempotency key carries its number

    async def refund(self, action: OpsAction) -> None:
        state = self._state
        order = state.order
        amount, parcel = refund_request(order, action.params)
        self._refunds += 1
        number = self._refunds
        state.resolving += 1
        try:
            refunded = await self._payment.refund(amount, f"ops-{number}")
            detail = {"amount": str(refunded), "note": action.note or "", "number": number}
            if parcel is not None:
                self._door.set_outcome(parcel.shipment_id, f"refunded {refunded}")
                self._door.unflag(f"parcel:{parcel.shipment_id}")
                detail["shipment_id"] = parcel.shipment_id
                self._door.move(
                    status_after_parcel_news(order), events.ORDER_REFUNDED, actor=action.actor, detail=detail
                )
            else:
                self._door.record(events.ORDER_REFUNDED, actor=action.actor, detail=detail)
            await self._ops.notify(
                "refunded", reason=action.note or "refund", scope=f"ops-refund-{number}", amount=refunded
            )
        finally:
            state.resolving -= 1

    async def reship(self, action: OpsAction) -> None:
        state = self._state
        order = state.order
        parcel, lines, address = reship_request(order, action.params)
        state.resolving += 1
        try:
            key = self._fulfilment.next_reship_key()
            allocation = await self._stock.reserve_extra(
                key, priced(order.lines, lines), f"reserve stock to reship {parcel.shipment_id}"
            )
            if allocation is None:
                self._door.record(
                    events.PARCEL_RESHIP_REFUSED,
                    actor=action.actor,
                    detail={"shipment_id": parcel.shipment_id, "reason": "out of stock"},
                )
                raise ApplicationError(
                    f"no stock to reship {parcel.shipment_id}: refund it instead", type="ActionNotApplicable"
                )
            first_new = ids.shipment_id(order.order_id, len(order.shipments) + 1)
            # The replacement is on the order before the old parcel counts as resolved, so the
            # order never looks as if nothing were left to deliver in between.
            await self._fulfilment.start_parcels(allocation, key, destination=address)
            self._door.set_outcome(parcel.shipment_id, f"reshipped as {first_new}")
            self._door.unflag(f"parcel:{parcel.shipment_id}")
            self._door.move(
                status_after_parcel_news(order),
                events.PARCEL_RESHIPPED,
                actor=action.actor,
                detail={"shipment_id": parcel.shipment_id, "reservation": key, "by": "ops", "new": first_new},
            )
            await self._ops.notify(
                "reshipped",
                reason=parcel.delivery_issue or parcel.status.value,
                scope=f"ops-{key}",
                tracking_number=parcel.tracking_number,
            )
        finally:
            state.resolving -= 1
